package dashboard_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/dashboard"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/bolt"
	"github.com/cofferhq/coffer/store/postgres"
	"github.com/cofferhq/coffer/subscription"
)

// BenchmarkRender measures the server time of the customers page and the
// customer page (issue 14 item 9: <= 50 ms with 1M customers), through the
// handler with a signed-in session cookie, on bbolt and on PostgreSQL.
//
// The fixture has COFFER_BENCH_CUSTOMERS customers (default 1,000,000)
// plus one "rich" customer with payments and ledger entries. Building it
// takes minutes, so it is kept:
//
//   - bbolt: the file COFFER_BENCH_1M_BOLT (built there when missing;
//     unset: a temporary file, built every run);
//   - PostgreSQL (COFFER_POSTGRES_DSN; skipped when unset): the schema
//     bench_dashboard_<count>, reused when it holds a complete fixture.
//
// Each sub-benchmark reports ns/op and the p50-ms and p99-ms of its
// requests:
//
//	COFFER_BENCH_1M_BOLT=/tmp/coffer-bench-1m.db \
//	COFFER_POSTGRES_DSN='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' \
//	  go test -run '^$' -bench BenchmarkRender -benchtime 200x ./dashboard/
func BenchmarkRender(b *testing.B) {
	n := 1_000_000
	if s := os.Getenv("COFFER_BENCH_CUSTOMERS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1000 {
			b.Fatalf("COFFER_BENCH_CUSTOMERS=%q: want a number >= 1000", s)
		}
		n = v
	}
	b.Run("store=bolt", func(b *testing.B) {
		path := os.Getenv("COFFER_BENCH_1M_BOLT")
		if path == "" {
			path = filepath.Join(b.TempDir(), "bench.db")
		}
		st, err := bolt.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		if !hasMarker(st, n) { // missing or incomplete: start afresh
			_ = st.Close()
			if err := os.Remove(path); err != nil {
				b.Fatal(err)
			}
			if st, err = bolt.Open(path); err != nil {
				b.Fatal(err)
			}
		}
		b.Cleanup(func() { _ = st.Close() })
		renderBench(b, st, n, func(ctx context.Context) error { return boltFixture(ctx, st, n) })
	})
	b.Run("store=postgres", func(b *testing.B) {
		dsn := os.Getenv("COFFER_POSTGRES_DSN")
		if dsn == "" {
			b.Skip("COFFER_POSTGRES_DSN is not set")
		}
		ctx := context.Background()
		schema := fmt.Sprintf("bench_dashboard_%d", n)
		st, err := postgres.Open(ctx, dsn, postgres.WithSchema(schema))
		if err != nil {
			b.Fatal(err)
		}
		if !hasMarker(st, n) { // missing or incomplete: start afresh
			st.Close()
			if err := pgExec(ctx, dsn, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
				b.Fatal(err)
			}
			if st, err = postgres.Open(ctx, dsn, postgres.WithSchema(schema)); err != nil {
				b.Fatal(err)
			}
		}
		b.Cleanup(func() { _ = st.Close() })
		renderBench(b, st, n, func(ctx context.Context) error { return pgFixture(ctx, dsn, schema, n) })
	})
}

// Fixture customers are cus_bench<index>, inserted in index order (so the
// newest, listed first, is the last index); the rich customer and then
// the marker come after them.
const (
	richID = "cus_benchrich"
	benchT = "2026-01-01T00:00:00Z"
)

// hasMarker reports whether st holds a complete fixture of n customers.
func hasMarker(st store.Store, n int) bool {
	err := st.View(context.Background(), func(tx store.Tx) error {
		_, err := tx.Customer(markerID(n))
		return err
	})
	return err == nil
}

func pgExec(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

func markerID(n int) string  { return fmt.Sprintf("cus_benchdone%d", n) }
func fixtureID(i int) string { return fmt.Sprintf("cus_bench%08d", i) }

var (
	firstNames = []string{"Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "John", "Margaret", "Ken",
		"Dennis", "Radia", "Niklaus", "Leslie", "Shafi", "Tim", "Whitfield", "Adele", "Butler", "Sophie"}
	lastNames = []string{"Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "McCarthy", "Hamilton",
		"Thompson", "Ritchie", "Perlman", "Wirth", "Lamport", "Goldwasser", "Berners-Lee", "Diffie", "Goldberg",
		"Lampson", "Wilson", "Backus", "Kay", "Cerf", "Kahn", "Hoare", "Milner", "Rivest", "Shamir", "Adleman", "Hellman"}
)

// fixtureCustomer is customer i of the fixture: 600 distinct names, a
// unique email, created one second apart.
func fixtureCustomer(i int) customer.Customer {
	t0, _ := time.Parse(time.RFC3339, benchT)
	first, last := firstNames[i%len(firstNames)], lastNames[(i/len(firstNames))%len(lastNames)]
	at := t0.Add(time.Duration(i) * time.Second)
	return customer.Customer{ID: fixtureID(i), Name: first + " " + last,
		Email: fmt.Sprintf("%s.%s.%d@example.com", strings.ToLower(first), strings.ToLower(last), i),
		Phone: fmt.Sprintf("+1555%07d", i), CreatedAt: at, UpdatedAt: at}
}

func boltFixture(ctx context.Context, st *bolt.Store, n int) error {
	const batch = 2_000 // small: bbolt splits pages only at commit, and the token index takes random-order keys
	for lo := 0; lo < n; lo += batch {
		err := st.Bulk(ctx, func(tx store.Tx) error {
			for i := lo; i < min(lo+batch, n); i++ {
				if err := tx.InsertCustomer(fixtureCustomer(i)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// pgFixture writes the fixture customers and their search tokens with COPY
// into the tables of migrations 0001 and 0006 (the columns the store's
// insertCustomer writes), with explicit seq values, then moves the
// sequence past them.
func pgFixture(ctx context.Context, dsn, schema string, n int) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return err
	}
	cfg.RuntimeParams["search_path"] = schema
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var base int64
	if err := conn.QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM customers`).Scan(&base); err != nil {
		return err
	}
	i := 0
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"customers"},
		[]string{"seq", "id", "name", "email", "email_fold", "phone", "search_text", "created_at", "updated_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == n {
				return nil, nil
			}
			c := fixtureCustomer(i)
			i++
			return []any{base + int64(i), c.ID, c.Name, c.Email, customer.Fold(c.Email), c.Phone, customer.SearchText(c),
				c.CreatedAt, c.UpdatedAt}, nil
		}))
	if err != nil {
		return fmt.Errorf("copy customers: %w", err)
	}
	i = 0
	var toks []string
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"customer_tokens"}, []string{"tok", "seq"},
		pgx.CopyFromFunc(func() ([]any, error) {
			for len(toks) == 0 {
				if i == n {
					return nil, nil
				}
				toks = customer.Tokens(fixtureCustomer(i))
				i++
			}
			t := toks[0]
			toks = toks[1:]
			return []any{[]byte(t), base + int64(i)}, nil
		}))
	if err != nil {
		return fmt.Errorf("copy tokens: %w", err)
	}
	if _, err := conn.Exec(ctx, `SELECT setval(pg_get_serial_sequence('customers', 'seq'), (SELECT MAX(seq) FROM customers))`); err != nil {
		return err
	}
	_, err = conn.Exec(ctx, `ANALYZE customers; ANALYZE customer_tokens`)
	return err
}

// renderBench builds the fixture when the store lacks its marker, then
// measures each page.
func renderBench(b *testing.B, st store.Store, n int, build func(context.Context) error) {
	ctx := context.Background()
	proc := processor.NewTest(nil)
	eng, err := coffer.New(st, coffer.WithProcessor(proc), coffer.WithCurrencies("USD", "EUR"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = eng.Close() })
	if !hasMarker(st, n) {
		start := time.Now()
		b.Logf("building the %d-customer fixture (kept for later runs)", n)
		if err := build(ctx); err != nil {
			b.Fatal(err)
		}
		if err := richCustomer(ctx, eng, st); err != nil {
			b.Fatal(err)
		}
		if err := st.Update(ctx, func(tx store.Tx) error {
			return tx.InsertCustomer(customer.Customer{ID: markerID(n), Name: "Fixture marker", CreatedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC()})
		}); err != nil {
			b.Fatal(err)
		}
		b.Logf("fixture built in %v", time.Since(start).Round(time.Second))
	}
	key, err := eng.CreateAPIKey(ctx, coffer.APIKeyParams{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	h, err := dashboard.New(eng, dashboard.Options{Secret: []byte(strings.Repeat("b", 32))})
	if err != nil {
		b.Fatal(err)
	}
	cookie := benchSignIn(b, h, key.Secret)
	deep := fixtureID(n / 2)
	hit := fixtureCustomer(n / 3)
	pages := []struct{ name, path, want string }{
		{"customers-first", "/dashboard/customers", fixtureID(n - 1)},
		{"customers-deep", "/dashboard/customers?limit=100&starting_after=" + deep, fixtureID(n/2 - 1)},
		{"customers-search", "/dashboard/customers?search=" + url.QueryEscape(hit.Email), hit.ID},
		{"customers-search-name", "/dashboard/customers?search=" + url.QueryEscape("grace hopper"), "Grace Hopper"},
		{"customer-payments", "/dashboard/customers/" + richID + "?tab=payments", "pay_"},
		{"customer-wallet", "/dashboard/customers/" + richID + "?tab=wallet", "Bench credit"},
		{"customer-subscriptions", "/dashboard/customers/" + richID + "?tab=subscriptions", "sub_"},
	}
	for _, pg := range pages {
		b.Run("page="+pg.name, func(b *testing.B) {
			get := func() (*httptest.ResponseRecorder, time.Duration) {
				r := httptest.NewRequest(http.MethodGet, pg.path, nil)
				r.AddCookie(cookie)
				w := httptest.NewRecorder()
				t := time.Now()
				h.ServeHTTP(w, r)
				return w, time.Since(t)
			}
			w, _ := get() // warm, and check the page is the right one
			if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), pg.want) {
				b.Fatalf("GET %s: %d, want %q in %.2000s", pg.path, w.Code, pg.want, w.Body.String())
			}
			times := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				_, d := get()
				times = append(times, d)
			}
			b.StopTimer()
			slices.Sort(times)
			q := func(p float64) float64 {
				return float64(times[min(len(times)-1, int(p*float64(len(times))))]) / float64(time.Millisecond)
			}
			b.ReportMetric(q(0.50), "p50-ms")
			b.ReportMetric(q(0.99), "p99-ms")
		})
	}
}

// richCustomer is a customer with 3 subscriptions, 60 payments (some
// refunded) and 100 ledger entries.
func richCustomer(ctx context.Context, eng *coffer.Engine, st store.Store) error {
	now := time.Now().UTC()
	if err := st.Update(ctx, func(tx store.Tx) error {
		return tx.InsertCustomer(customer.Customer{ID: richID, Name: "Rich Bench", Email: "rich@bench.example",
			Phone: "+15550199", CreatedAt: now, UpdatedAt: now})
	}); err != nil {
		return err
	}
	prod, err := eng.CreateProduct(ctx, coffer.ProductParams{Name: "Bench plan", Price: 1500, Currency: "USD"})
	if err != nil {
		return err
	}
	for s := range 3 {
		res, err := eng.CreateSubscription(ctx, coffer.SubscriptionParams{ProductID: prod.ID, Quantity: 1, CustomerID: richID,
			PaymentMethod: processor.CardOK, OnDemand: &coffer.OnDemand{MandateOnly: new(true)}})
		if err != nil {
			return err
		}
		for p := range 20 {
			pay, err := eng.Charge(ctx, res.Subscription.ID, coffer.ChargeParams{ProductPrice: new(int64(1000 + p)),
				ProductDescription: fmt.Sprintf("Usage %d/%d", s, p)})
			if err != nil {
				return err
			}
			if p%5 == 0 {
				if _, err := eng.Refund(ctx, pay.ID, coffer.RefundParams{Amount: 100, Destination: subscription.ToWallet, Reason: "bench",
					IdempotencyKey: "bench-refund-" + pay.ID}); err != nil {
					return err
				}
			}
		}
	}
	for i := range 100 {
		typ := ledger.Credit
		if i%3 == 2 {
			typ = ledger.Debit
		}
		if _, err := eng.CreateEntry(ctx, richID, coffer.EntryParams{Amount: 200, Currency: "USD", Type: typ,
			Reason: "Bench credit " + strconv.Itoa(i)}); err != nil {
			return err
		}
	}
	return nil
}

// benchSignIn signs in through the login form and returns the session
// cookie.
func benchSignIn(b *testing.B, h http.Handler, secret string) *http.Cookie {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/dashboard/login", nil))
	m := csrfRe.FindStringSubmatch(w.Body.String())
	if m == nil {
		b.Fatal("no csrf on the login page")
	}
	form := url.Values{"csrf": {m[1]}, "key": {secret}}
	r := httptest.NewRequest(http.MethodPost, "/dashboard/login", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range w.Result().Cookies() {
		r.AddCookie(c)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	for _, c := range w.Result().Cookies() {
		if c.Name == "coffer_dashboard" && c.Value != "" {
			return c
		}
	}
	b.Fatalf("sign-in failed: %d %s", w.Code, w.Body.String())
	return nil
}
