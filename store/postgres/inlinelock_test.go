package postgres_test

import (
	"context"
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

// TestInlineLockBeforeRowLock: a read of a record by its own id with the
// customer's lock folded in (customerlock.go, lockInline) takes the
// customer's lock before the row lock, and returns what the previous
// holder of the customer's lock committed.
//
// Plan: every inline read runs the lock as an InitPlan, the one-time
// filter of the Result node under LockRows (evaluated before the scan
// under it starts), with custom and generic plans alike.
//
// Behaviour: while transaction A holds the customer's lock, B's read of
// the customer's subscription waits on the advisory lock holding no row
// lock (a third session locks the row with NOWAIT meanwhile); A changes
// the subscription and commits; B then gets the changed subscription.
func TestInlineLockBeforeRowLock(t *testing.T) {
	s := newStore(t)
	inline := postgres.InlineLockSQL()
	require.Len(t, inline, 6, "customers by did, subscriptions, payments, holds, refunds, retry attempts")
	conn, err := s.Pool().Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
		_, err := conn.Exec(ctx, "SET plan_cache_mode = "+mode)
		require.NoError(t, err)
		for _, sql := range inline {
			rows, err := conn.Query(ctx, "EXPLAIN (COSTS OFF, VERBOSE) "+sql, "x", "prefix.")
			require.NoError(t, err)
			lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
			require.NoError(t, err)
			plan := strings.Join(lines, "\n")
			require.True(t, strings.HasPrefix(plan, "LockRows"), "%s:\n%s", mode, plan)
			i, j := strings.Index(plan, "InitPlan"), strings.Index(plan, "One-Time Filter")
			require.True(t, i > 0 && j > i, "%s: the lock must be the one-time filter under LockRows:\n%s", mode, plan)
			require.Contains(t, plan[i:j], "pg_advisory_xact_lock", plan)
		}
	}

	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	c := customer.Customer{ID: "cus_inline", Name: "Ada", CreatedAt: now, UpdatedAt: now}
	p := subscription.Product{ID: "prod_inline", Name: "p", Price: 100, Currency: "USD", CreatedAt: now}
	sub := subscription.Subscription{ID: "sub_inline", CustomerID: c.ID, ProductID: p.ID, Quantity: 1,
		Status: subscription.StatusActive, Price: 100, Currency: "USD", Description: "before", CreatedAt: now, UpdatedAt: now}
	require.NoError(t, s.Update(ctx, func(tx store.Tx) error {
		if err := tx.InsertCustomer(c); err != nil {
			return err
		}
		if err := tx.PutProduct(p); err != nil {
			return err
		}
		return tx.InsertSubscription(sub)
	}))

	locked, release := make(chan struct{}), make(chan struct{})
	aDone := make(chan error, 1)
	go func() {
		aDone <- s.Update(ctx, func(tx store.Tx) error {
			if _, err := tx.Customer(c.ID); err != nil { // takes the customer's lock
				return err
			}
			close(locked)
			<-release
			changed := sub
			changed.Description = "after"
			return tx.UpdateSubscription(changed)
		})
	}()
	<-locked
	type read struct {
		sub subscription.Subscription
		err error
	}
	bDone := make(chan read, 1)
	go func() {
		var r read
		r.err = s.Update(ctx, func(tx store.Tx) error {
			var err error
			r.sub, err = tx.Subscription(sub.ID)
			return err
		})
		bDone <- r
	}()
	// B waits on the advisory lock...
	require.Eventually(t, func() bool {
		var n int
		err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND wait_event = 'advisory' AND query LIKE '%FROM subscriptions l%'`).Scan(&n)
		return err == nil && n == 1
	}, 10*time.Second, 5*time.Millisecond)
	// ... holding no lock on the subscription's row.
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err = pgx.BeginFunc(cctx, s.Pool(), func(tx pgx.Tx) error {
		var id string
		return tx.QueryRow(cctx, `SELECT id FROM subscriptions WHERE id = $1 FOR NO KEY UPDATE NOWAIT`, sub.ID).Scan(&id)
	})
	require.NoError(t, err, "the row must be free while B waits for the customer's lock")
	close(release)
	require.NoError(t, <-aDone)
	r := <-bDone
	require.NoError(t, r.err)
	require.Equal(t, "after", r.sub.Description, "B reads what A committed")

	// A read by id that finds no row takes no lock and is not found.
	err = s.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Subscription("sub_missing")
		return err
	})
	require.ErrorIs(t, err, store.ErrNotFound)
}

// TestPrefetchedSubscription: reading a pending payment in an Update also
// locks and reads its subscription (one round trip for both); the
// subscription read that follows is served from it once, gives what a
// read from the database gives, and is never served after this
// transaction wrote the subscription. A payment no longer pending
// prefetches nothing.
func TestPrefetchedSubscription(t *testing.T) {
	s := newStore(t)
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	c := customer.Customer{ID: "cus_pf", Name: "Ada", CreatedAt: now, UpdatedAt: now}
	p := subscription.Product{ID: "prod_pf", Name: "p", Price: 100, Currency: "USD", CreatedAt: now}
	sub := subscription.Subscription{ID: "sub_pf", CustomerID: c.ID, ProductID: p.ID, Quantity: 1,
		Status: subscription.StatusActive, Price: 100, Currency: "USD", Description: "v1",
		Metadata: map[string]string{"k": "v"}, CreatedAt: now, UpdatedAt: now}
	pay := subscription.Payment{ID: "pay_pf", CustomerID: c.ID, SubscriptionID: sub.ID, Kind: subscription.KindSubscription,
		Amount: 100, Currency: "USD", ProcessorAmount: 100, Status: subscription.PaymentPending, CreatedAt: now, UpdatedAt: now}
	require.NoError(t, s.Update(ctx, func(tx store.Tx) error {
		if err := tx.InsertCustomer(c); err != nil {
			return err
		}
		if err := tx.PutProduct(p); err != nil {
			return err
		}
		if err := tx.InsertSubscription(sub); err != nil {
			return err
		}
		return tx.InsertPayment(pay)
	}))
	var fromDB subscription.Subscription
	require.NoError(t, s.View(ctx, func(tx store.Tx) (err error) { fromDB, err = tx.Subscription(sub.ID); return err }))

	rowLocked := func() bool {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		err := pgx.BeginFunc(cctx, s.Pool(), func(tx pgx.Tx) error {
			var id string
			return tx.QueryRow(cctx, `SELECT id FROM subscriptions WHERE id = $1 FOR NO KEY UPDATE NOWAIT`, sub.ID).Scan(&id)
		})
		return err != nil && strings.Contains(err.Error(), "55P03")
	}
	require.NoError(t, s.Update(ctx, func(tx store.Tx) error {
		before := s.Stats().RoundTrips
		got, err := tx.Payment(pay.ID)
		require.NoError(t, err)
		require.Equal(t, pay.ID, got.ID)
		require.True(t, rowLocked(), "the prefetch locks the subscription's row")
		sb, err := tx.Subscription(sub.ID)
		require.NoError(t, err)
		require.Equal(t, int64(1), s.Stats().RoundTrips-before, "payment and subscription in one round trip")
		require.Equal(t, fromDB, sb)
		sb.Description = "v2"
		require.NoError(t, tx.UpdateSubscription(sb))
		again, err := tx.Subscription(sub.ID)
		require.NoError(t, err)
		require.Equal(t, "v2", again.Description, "after a write, read from the database")
		pay.Status = subscription.PaymentSucceeded
		return tx.UpdatePayment(pay)
	}))
	require.NoError(t, s.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Payment(pay.ID); err != nil {
			return err
		}
		require.False(t, rowLocked(), "a succeeded payment prefetches nothing")
		sb, err := tx.Subscription(sub.ID)
		require.NoError(t, err)
		require.Equal(t, "v2", sb.Description)
		return nil
	}))
	err := s.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Payment("pay_missing")
		return err
	})
	require.ErrorIs(t, err, store.ErrNotFound)
}
