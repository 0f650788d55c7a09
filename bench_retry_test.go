package coffer

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/cofferhq/coffer/clock"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/bolt"
	"github.com/cofferhq/coffer/store/memory"
)

// rtBenchNow is the scheduler's time in the retry benchmarks.
var rtBenchNow = time.Date(2026, 3, 2, 13, 10, 0, 0, time.UTC)

// rtFixture is a store holding many scheduled attempts, none of them due:
// the background a scheduler pass must not pay for.
type rtFixture struct {
	store     store.Store
	scheduled int
	build     time.Duration
}

// BenchmarkRunDue measures one scheduler pass over a store holding
// `scheduled` attempts of which `due` are due, by store and pass kind:
//
//   - pass=notice: RunDue, where the due attempts are at their notice time
//     (each pass writes the notice and moves the attempt to its due time:
//     one attempt update and one outbox event per due attempt);
//   - pass=claim: the claiming transaction of RunDue, where the due
//     attempts are at their due time (in-flight counts, lease, update),
//     without the processor calls that follow it.
//
// The due attempts are reset outside the timer after every pass. The work
// of a pass grows with `due` and not with `scheduled` (same allocations at
// 10,000 and 1,000,000), because due attempts are found through the RunAt
// index; on bolt a bigger B+tree only makes the commit write more pages.
//
//	go test -run '^$' -bench BenchmarkRunDue -benchtime 300x -timeout 60m .
func BenchmarkRunDue(b *testing.B) {
	stores := []struct {
		name string
		open func() store.Store
	}{
		{"memory", func() store.Store { return memory.New() }},
		{"bolt", func() store.Store {
			s, err := bolt.Open(filepath.Join(b.TempDir(), "retry-bench.db"))
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
	}
	for _, st := range stores {
		for _, scheduled := range []int{10_000, 1_000_000} {
			fx := &rtFixture{scheduled: scheduled}
			b.Cleanup(func() {
				if fx.store != nil {
					fx.store.Close()
				}
			})
			for _, pass := range []string{"notice", "claim"} {
				for _, due := range []int{10, 100} {
					name := fmt.Sprintf("store=%s/scheduled=%d/due=%d/pass=%s", st.name, scheduled, due, pass)
					b.Run(name, func(b *testing.B) {
						if fx.store == nil {
							fx.store = st.open()
							start := time.Now()
							rtFillScheduled(b, fx.store, scheduled)
							fx.build = time.Since(start)
						}
						rtBenchPass(b, fx.store, due, pass)
						// After the timed loop: ResetTimer drops metrics.
						b.ReportMetric(fx.build.Seconds(), "fixture-build-s")
					})
				}
			}
		}
	}
}

// rtFillScheduled stores n scheduled attempts due over the 12 days after
// rtBenchNow, in large transactions.
func rtFillScheduled(b *testing.B, s store.Store, n int) {
	b.Helper()
	const perTx = 50_000
	ctx := context.Background()
	for i := 0; i < n; i += perTx {
		err := s.Update(ctx, func(tx store.Tx) error {
			for j := i; j < min(i+perTx, n); j++ {
				at := rtBenchNow.Add(retry.Day + time.Duration(j)*time.Second)
				a := rtBenchAttempt(newID("att"), newID("cus"), at.Add(24*time.Hour))
				a.RunAt = at
				if err := tx.PutAttempt(a); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// rtBenchAttempt is a realistic scheduled attempt due at due.
func rtBenchAttempt(id, customerID string, due time.Time) retry.Attempt {
	return retry.Attempt{
		ID: id, SubscriptionID: newID("sub"), CustomerID: customerID, FirstPaymentID: newID("pay"),
		Number: 2, Amount: 25_00, Currency: "USD", Description: "Monthly plan",
		Metadata: map[string]string{"plan": "monthly"}, DueAt: due, RunAt: due.Add(-24 * time.Hour),
		Status: retry.AttemptScheduled, CreatedAt: rtBenchNow.Add(-3 * retry.Day), UpdatedAt: rtBenchNow.Add(-3 * retry.Day),
	}
}

// rtBenchPass adds `due` due attempts to s, times b.N passes of the given
// kind (resetting the due attempts between passes, untimed), then cancels
// them so that the next benchmark on the fixture starts from its
// background again.
func rtBenchPass(b *testing.B, s store.Store, due int, pass string) {
	ctx := context.Background()
	e, err := New(s, WithClock(clock.NewTest(rtBenchNow)),
		WithRetryOptions(RetryOptions{BatchSize: due, PerAccount: due, PerCustomer: 1, Owner: "bench"}))
	if err != nil {
		b.Fatal(err)
	}
	fresh := make([]retry.Attempt, due)
	for i := range fresh {
		a := rtBenchAttempt(newID("att"), newID("cus"), rtBenchNow.Add(24*time.Hour))
		if pass == "claim" {
			a.DueAt, a.Notified = rtBenchNow.Add(-time.Duration(i+1)*time.Second), true
		}
		a.RunAt = rtBenchNow.Add(-time.Duration(i+1) * time.Second)
		fresh[i] = a
	}
	put := func(status retry.AttemptStatus) {
		err := s.Update(ctx, func(tx store.Tx) error {
			for _, a := range fresh {
				a.Status = status
				if err := tx.PutAttempt(a); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	put(retry.AttemptScheduled)
	b.Cleanup(func() { put(retry.AttemptCancelled) })

	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var rep RunReport
		switch pass {
		case "notice":
			rep, err = e.RunDue(ctx)
			if err == nil && rep.Notified != due {
				err = fmt.Errorf("notified %d of %d", rep.Notified, due)
			}
		case "claim":
			var claimed []retry.Attempt
			claimed, err = e.claimAttempts(ctx, &rep)
			if err == nil && len(claimed) != due {
				err = fmt.Errorf("claimed %d of %d", len(claimed), due)
			}
		}
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		put(retry.AttemptScheduled)
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*due), "ns/due")
}
