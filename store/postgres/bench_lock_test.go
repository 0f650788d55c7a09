package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/postgres"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/webhook"
)

// BenchmarkCustomerLock measures what the per-customer advisory lock
// (customerlock.go) costs on the two shapes of transaction it touches:
//
//   - post: the ledger post of BenchmarkLedgerPost (Balance, a lock by the
//     customer id, then entry, balance and event);
//   - charge: the engine's two charge transactions: Subscription (a lock
//     found through the row's customer_id), PaymentByKey, Balance,
//     InsertPayment; then Payment (found the same way), UpdatePayment,
//     Subscription, UpdateSubscription, InsertEvent.
//
// Two stores on one schema and one set of wallets run the same work, one
// with the lock and one without, alternating in rounds; the benchmark
// reports both throughputs and locked/unlocked (%), the median of the
// per-round ratios. Only one use case runs at a time, so the unlocked store
// does not deadlock here.
//
//	COFFER_POSTGRES_DSN=... go test -run '^$' -bench CustomerLock -benchtime 2000x ./store/postgres/
func BenchmarkCustomerLock(b *testing.B) {
	benchShapes(b, func(b *testing.B, d string, wallets int) {
		schema := newSchema(b, d)
		locked := openIn(b, d, schema, postgres.WithMaxConns(benchPoolSize))
		unlocked := postgres.WithoutCustomerLocks(openIn(b, d, schema, postgres.WithMaxConns(benchPoolSize)))
		benchSeed(b, locked, wallets)
		seedSubscriptions(b, locked, wallets)
		for _, path := range []string{"post", "charge"} {
			for _, writers := range []int{1, 32} {
				b.Run(fmt.Sprintf("%s/writers=%d", path, writers), func(b *testing.B) {
					op := func(s *postgres.Store) func(int64) error {
						if path == "post" {
							return func(i int64) error { return postCoffer(s, wallets, i) }
						}
						return func(i int64) error { return chargeTxs(s, wallets, i) }
					}
					runLockPaired(b, writers, op(locked), op(unlocked))
				})
			}
		}
	})
}

func benchSubscription(w int) string { return fmt.Sprintf("sub_%04d", w) }

func seedSubscriptions(b *testing.B, s *postgres.Store, wallets int) {
	err := s.Update(context.Background(), func(tx store.Tx) error {
		for w := range wallets {
			err := tx.InsertSubscription(subscription.Subscription{ID: benchSubscription(w), CustomerID: benchCustomer(w),
				Quantity: 1, Status: subscription.StatusActive, PaymentMethod: "pm_card_ok", Price: 100, Currency: "USD",
				MandateOnly: true, CreatedAt: t0, UpdatedAt: t0})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// chargeTxs runs the store work of one charge on the processor path.
func chargeTxs(s *postgres.Store, wallets int, i int64) error {
	ctx := context.Background()
	n := seq.Add(1)
	w := int(i) % wallets
	key := fmt.Sprintf("ck_%d", n)
	pay := subscription.Payment{ID: fmt.Sprintf("pay_%d", n), CustomerID: benchCustomer(w),
		SubscriptionID: benchSubscription(w), Kind: subscription.KindSubscription, Amount: 100, Currency: "USD",
		ProcessorAmount: 100, Status: subscription.PaymentPending, PaymentMethod: "pm_card_ok",
		IdempotencyKey: key, CreatedAt: t0, UpdatedAt: t0}
	err := s.Update(ctx, func(tx store.Tx) error {
		sub, err := tx.Subscription(benchSubscription(w))
		if err != nil {
			return err
		}
		if _, err := tx.PaymentByKey(sub.CustomerID, key); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("payment by key: %v", err)
		}
		if _, err := tx.Balance(sub.CustomerID, "USD"); err != nil {
			return err
		}
		return tx.InsertPayment(pay)
	})
	if err != nil {
		return err
	}
	return s.Update(ctx, func(tx store.Tx) error {
		p, err := tx.Payment(pay.ID)
		if err != nil {
			return err
		}
		p.Status, p.ProcessorID, p.UpdatedAt = subscription.PaymentSucceeded, "ch_"+p.ID, time.Now()
		if err := tx.UpdatePayment(p); err != nil {
			return err
		}
		sub, err := tx.Subscription(p.SubscriptionID)
		if err != nil {
			return err
		}
		sub.LastPaymentAt, sub.UpdatedAt = p.UpdatedAt, p.UpdatedAt
		if err := tx.UpdateSubscription(sub); err != nil {
			return err
		}
		return tx.InsertEvent(webhook.Event{ID: fmt.Sprintf("evt_c%d", n), Type: "payment.succeeded",
			CustomerID: p.CustomerID, Data: benchEvent, CreatedAt: p.UpdatedAt})
	})
}

// runLockPaired is runPaired for the locked and unlocked stores.
func runLockPaired(b *testing.B, writers int, locked, unlocked func(i int64) error) {
	var spent [2]time.Duration
	ops := [2]func(int64) error{locked, unlocked}
	var ratios []float64
	done := [2]int{}
	b.ResetTimer()
	for r := range benchRounds {
		n := b.N*(r+1)/benchRounds - b.N*r/benchRounds
		if n == 0 {
			continue
		}
		var took [2]time.Duration
		for k := range 2 {
			c := (r + k) % 2
			start := time.Now()
			if err := runWriters(writers, n, ops[c]); err != nil {
				b.Fatal(err)
			}
			took[c] = time.Since(start)
			spent[c] += took[c]
			done[c] += n
		}
		ratios = append(ratios, took[1].Seconds()/took[0].Seconds())
	}
	b.StopTimer()
	for c, name := range []string{"locked-ops/s", "unlocked-ops/s"} {
		if spent[c] > 0 {
			b.ReportMetric(float64(done[c])/spent[c].Seconds(), name)
		}
	}
	b.ReportMetric(100*median(ratios), "locked/unlocked-%")
}
