package postgres_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/postgres"
	"github.com/cofferhq/coffer/subscription"
)

// TestListPlansUseIndexes: every list query (each filter alone and the
// documented combinations) is an index scan with no sort of the table and
// no sequential scan, on a table big enough for the planner to care.
func TestListPlansUseIndexes(t *testing.T) {
	d := dsn(t)
	schema := newSchema(t, d)
	s, err := openStore(d, schema)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 3000
	require.NoError(t, s.Update(ctx, func(tx store.Tx) error {
		for _, c := range []string{"cus_a", "cus_b"} {
			if err := tx.InsertCustomer(customer.Customer{ID: c, Name: "Zed " + c, Email: c + "@example.com", CreatedAt: t0}); err != nil {
				return err
			}
		}
		for i := range n {
			c := customer.Customer{ID: fmt.Sprintf("cus_%05d", i), Name: fmt.Sprintf("Name %d", i),
				Email: fmt.Sprintf("c%d@example.com", i), DID: fmt.Sprintf("did:%d", i), CreatedAt: t0}
			if err := tx.InsertCustomer(c); err != nil {
				return err
			}
			st := subscription.PaymentSucceeded
			if i%100 == 0 {
				st = subscription.PaymentFailed
			}
			p := subscription.Payment{ID: fmt.Sprintf("pay_%05d", i), CustomerID: "cus_a", SubscriptionID: fmt.Sprintf("sub_%d", i%50),
				Status: st, Kind: subscription.KindSubscription, Currency: "USD", Amount: 1, CreatedAt: t0.Add(time.Duration(i) * time.Second), UpdatedAt: t0}
			if err := tx.InsertPayment(p); err != nil {
				return err
			}
		}
		return nil
	}))
	conn, err := pgx.Connect(ctx, d)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "SET search_path TO "+schema)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "ANALYZE")
	require.NoError(t, err)

	var sqls []string
	var argss [][]any
	postgres.SetListSQLHook(func(sql string, args []any) { sqls, argss = append(sqls, sql), append(argss, args) })
	defer postgres.SetListSQLHook(nil)
	failed := []subscription.PaymentStatus{subscription.PaymentFailed}
	both := []subscription.PaymentStatus{subscription.PaymentFailed, subscription.PaymentPending}
	rng := store.TimeRange{From: t0.Add(time.Hour), To: t0.Add(2 * time.Hour)}
	page := store.Page{Limit: 10, StartingAfter: "pay_01500"}
	queries := []store.PaymentListQuery{
		{}, {CustomerID: "cus_a"}, {Statuses: failed}, {Statuses: both}, {SubscriptionID: "sub_7"},
		{CustomerID: "cus_a", Statuses: failed}, {SubscriptionID: "sub_7", Statuses: failed},
		{Created: rng}, {CustomerID: "cus_b", Created: rng}, {Page: page}, {Statuses: both, Page: page},
	}
	require.NoError(t, s.View(ctx, func(tx store.Tx) error {
		for _, q := range queries {
			if _, _, err := tx.QueryPayments(q); err != nil {
				return err
			}
		}
		for _, q := range []store.CustomerListQuery{{Email: "cus_a@example.com"}, {NamePrefix: "zed"}, {NamePrefix: "zed cus"}, {DID: "x"}} {
			if _, _, err := tx.QueryCustomers(q); err != nil {
				return err
			}
		}
		return nil
	}))
	require.NotEmpty(t, sqls)
	for i, sql := range sqls {
		rows, err := conn.Query(ctx, "EXPLAIN "+sql, argss[i]...)
		require.NoError(t, err)
		var plan []string
		for rows.Next() {
			var line string
			require.NoError(t, rows.Scan(&line))
			plan = append(plan, line)
		}
		require.NoError(t, rows.Err())
		text := strings.Join(plan, "\n")
		require.NotContains(t, text, "Seq Scan", "%s\n%s", sql, text)
		require.Contains(t, text, "Index", "%s\n%s", sql, text)
		// Only the page itself (at most limit+1 rows per branch) may be
		// sorted: never a sort of the rows an index scan produced. A Merge
		// Append (the branches of several statuses) merges, it does not sort.
		if strings.Contains(text, "customers_did_key") {
			continue // a unique index: at most one row to sort
		}
		for j, line := range plan {
			if k := strings.Index(line, "Sort Key: "); k >= 0 && !strings.Contains(plan[j-1], "Merge Append") {
				key := line[k+len("Sort Key: "):]
				require.True(t, strings.HasPrefix(key, "page.") || strings.HasPrefix(key, "u."), "%s\n%s", sql, text)
			}
		}
	}
}
