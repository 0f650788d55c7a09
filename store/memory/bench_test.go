package memory_test

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/memory"
	"github.com/cofferhq/coffer/wallet"
	"github.com/cofferhq/coffer/webhook"
)

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var benchNow = time.Date(2025, 3, 14, 13, 10, 0, 0, time.UTC)

// setupWallets returns a store with n customers holding a USD balance.
func setupWallets(b *testing.B, n int) (*memory.Store, []string) {
	b.Helper()
	s := memory.New()
	ids := make([]string, n)
	err := s.Update(context.Background(), func(tx store.Tx) error {
		for i := range ids {
			ids[i] = "cus_" + strconv.Itoa(i)
			if err := tx.PutBalance(wallet.Balance{CustomerID: ids[i], Currency: "USD", UpdatedAt: benchNow}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return s, ids
}

var eventData = json.RawMessage(`{"object":"wallet_entry","amount":100,"currency":"USD"}`)

// post is one ledger posting as the engine makes it: read the balance,
// insert the entry (with an idempotency key), write the balance and,
// optionally, the outbox event, in one transaction.
func post(s *memory.Store, cus string, n int64, event bool) error {
	id := "le_" + strconv.FormatInt(n, 36)
	return s.Update(context.Background(), func(tx store.Tx) error {
		bal, err := tx.Balance(cus, "USD")
		if err != nil {
			return err
		}
		e := ledger.Entry{ID: id, CustomerID: cus, Currency: "USD", Type: ledger.Credit, Amount: 100,
			BalanceBefore: bal.Amount, BalanceAfter: bal.Amount + 100, Reason: "top-up", IdempotencyKey: id,
			Reference: ledger.Reference{Type: ledger.RefManual}, CreatedAt: benchNow}
		if err := tx.InsertEntry(e); err != nil {
			return err
		}
		bal.Amount, bal.UpdatedAt = e.BalanceAfter, benchNow
		if err := tx.PutBalance(bal); err != nil {
			return err
		}
		if event {
			return tx.InsertEvent(webhook.Event{ID: "evt_" + id, Type: "wallet.credited", CustomerID: cus,
				Data: eventData, CreatedAt: benchNow})
		}
		return nil
	})
}

// BenchmarkUpdateEntry measures ledger postings per second: the target is
// at least 1,000,000 entries/s with parallel writers on two cores.
func BenchmarkUpdateEntry(b *testing.B) {
	for _, bc := range []struct {
		name     string
		parallel bool
		event    bool
	}{
		{"single", false, false},
		{"parallel", true, false},
		{"single+event", false, true},
		{"parallel+event", true, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, customers := setupWallets(b, 1000)
			var seq atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			if bc.parallel {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						n := seq.Add(1)
						if err := post(s, customers[n%int64(len(customers))], n, bc.event); err != nil {
							b.Error(err)
							return
						}
					}
				})
			} else {
				for i := 0; i < b.N; i++ {
					n := seq.Add(1)
					if err := post(s, customers[n%int64(len(customers))], n, bc.event); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
			// On a shared machine wall time overstates the cost; CPU time
			// (every thread, GC included) per posting does not.
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkDueAttempts queries (DueNotices) the 100 due attempts among 10,000 and
// among 1,000,000 scheduled ones: through the RunAt index the cost follows
// the number returned, not the number stored.
func BenchmarkDueAttempts(b *testing.B) {
	for _, total := range []int{10_000, 1_000_000} {
		b.Run(strconv.Itoa(total), func(b *testing.B) {
			s := dueStore(b, total)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				err := s.View(context.Background(), func(tx store.Tx) error {
					list, err := tx.DueNotices(benchNow, 1000)
					if err == nil && len(list) != dueAttempts {
						b.Fatalf("got %d due attempts, want %d", len(list), dueAttempts)
					}
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

const dueAttempts = 100

var dueStores sync.Map // total -> *memory.Store, built once per process

// dueStore holds total scheduled attempts, dueAttempts of them due at
// benchNow, spread through the insertion order.
func dueStore(b *testing.B, total int) *memory.Store {
	if s, ok := dueStores.Load(total); ok {
		return s.(*memory.Store)
	}
	s := memory.New()
	err := s.Update(context.Background(), func(tx store.Tx) error {
		for i := 0; i < total; i++ {
			runAt := benchNow.Add(time.Duration(1+i) * time.Second) // future
			if i%(total/dueAttempts) == 0 {
				runAt = benchNow.Add(-time.Duration(i) * time.Millisecond) // due
			}
			a := retry.Attempt{ID: "att_" + strconv.Itoa(i), SubscriptionID: "sub_" + strconv.Itoa(i),
				CustomerID: "cus_" + strconv.Itoa(i%1000), Number: 2, Status: retry.AttemptScheduled,
				DueAt: runAt, RunAt: runAt}
			if err := tx.PutAttempt(a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	dueStores.Store(total, s)
	return s
}
