package coffer_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/clock"
	"github.com/cofferhq/coffer/cmd/crashtest/crashkit"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/bolt"
	"github.com/cofferhq/coffer/store/memory"
	"github.com/cofferhq/coffer/store/postgres"
)

// The soak: 64 goroutines share one Engine and 16 customers and run a
// fixed number of mixed operations each (credits, debits, charges partly
// paid by the wallet or declined, refunds to the wallet and to the card,
// customer updates, list calls, and replays of recent idempotency keys
// racing their originals), on every store. Afterwards the store must pass
// every invariant of the crash test (crashkit.Check), and the heap, sampled
// all along, must stay under a generous bound. COFFER_SOAK=long runs 20x
// more operations.

const (
	soakGoroutines = 64
	soakCustomers  = 16
)

// soakSettings returns the operations per goroutine and the heap bound.
func soakSettings() (opsPer int, heapLimit uint64) {
	if os.Getenv("COFFER_SOAK") == "long" {
		return 500, 1 << 30
	}
	return 25, 256 << 20
}

// memPeak samples the heap until stopped.
type memPeak struct {
	heapInuse, sys, baseline uint64
	samples                  int
	stop                     chan struct{}
	done                     sync.WaitGroup
}

func startMemPeak(every time.Duration) *memPeak {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m := &memPeak{baseline: ms.HeapInuse, heapInuse: ms.HeapInuse, sys: ms.Sys, stop: make(chan struct{})}
	m.done.Add(1)
	go func() {
		defer m.done.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-tick.C:
				runtime.ReadMemStats(&ms)
				m.heapInuse = max(m.heapInuse, ms.HeapInuse)
				m.sys = max(m.sys, ms.Sys)
				m.samples++
			}
		}
	}()
	return m
}

func (m *memPeak) Stop() {
	close(m.stop)
	m.done.Wait()
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func TestSoak(t *testing.T) {
	opsPer, heapLimit := soakSettings()
	dsn := crashDSN(t)
	// Each store kind returns the stores of its application instances:
	// one for the embedded stores, two Stores (two pools, as two processes
	// would have) on one schema for PostgreSQL.
	stores := map[string]func(t *testing.T) []store.Store{
		"memory": func(t *testing.T) []store.Store { return []store.Store{memory.New()} },
		"bolt": func(t *testing.T) []store.Store {
			s, err := bolt.Open(filepath.Join(t.TempDir(), "soak.db"))
			require.NoError(t, err)
			t.Cleanup(func() { s.Close() })
			return []store.Store{s}
		},
		"postgres": func(t *testing.T) []store.Store {
			if dsn == "" {
				t.Skip("COFFER_POSTGRES_DSN not set")
			}
			schema := freshSchema(t, dsn, "coffer_soak_")
			var out []store.Store
			for range 2 {
				s, err := postgres.Open(context.Background(), dsn, postgres.WithSchema(schema))
				require.NoError(t, err)
				t.Cleanup(func() { s.Close() })
				out = append(out, s)
			}
			return out
		},
	}
	for _, kind := range []string{"memory", "bolt", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			ss := stores[kind](t)
			s := ss[0]
			proc, err := crashkit.OpenFileProcessor(filepath.Join(t.TempDir(), "proc.jsonl"), crashkit.NoSync())
			require.NoError(t, err)
			defer proc.Close()
			j, pool := &crashkit.MemJournal{}, &crashkit.Pool{}
			var runners []*crashkit.Runner
			for i, s := range ss {
				eng, err := coffer.New(s, coffer.WithProcessor(proc))
				require.NoError(t, err)
				r := &crashkit.Runner{Eng: eng, J: j, Pool: pool, Run: i + 1, Soak: true, Timeouts: 10}
				require.NoError(t, r.Setup(ctx))
				runners = append(runners, r)
			}
			for range soakCustomers {
				require.NoError(t, runners[0].NewCustomer(ctx))
			}

			mem := startMemPeak(20 * time.Millisecond)
			start := time.Now()
			var wg sync.WaitGroup
			errs := make(chan error, soakGoroutines)
			for g := range soakGoroutines {
				wg.Add(1)
				r := runners[g%len(runners)]
				go func() {
					defer wg.Done()
					rnd := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(g)))
					for range opsPer {
						if err := r.Step(ctx, rnd); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			mem.Stop()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}

			// Mid-run, with calls in flight, what must always hold holds.
			_, err = crashkit.Check(ctx, s, crashkit.CheckOptions{Ops: j.Ops(), Proc: proc})
			require.NoError(t, err)
			// The client retries what timed out, with the same keys; then
			// Reconcile (its clock past ReconcileAfter) settles what a cut
			// processor call left pending; then nothing may be in flight.
			retried, err := runners[0].RetryUnfinished(ctx, j.Ops())
			require.NoError(t, err)
			later, err := coffer.New(s, coffer.WithProcessor(proc),
				coffer.WithClock(clock.NewTest(time.Now().Add(coffer.ReconcileAfter+time.Minute))))
			require.NoError(t, err)
			rep, err := later.Reconcile(ctx)
			require.NoError(t, err)
			require.Zero(t, rep.Pending, "the processor answers: nothing stays unknown")
			st, err := crashkit.Check(ctx, s, crashkit.CheckOptions{Ops: j.Ops(), Proc: proc, Settled: true})
			require.NoError(t, err)

			var acks, nacks, replays, updates, lists, unknown, opaque, pending int64
			for _, r := range runners {
				c := &r.Counts
				acks, nacks, replays = acks+c.Acks.Load(), nacks+c.Nacks.Load(), replays+c.Replays.Load()
				updates, lists = updates+c.Updates.Load(), lists+c.Lists.Load()
				unknown, opaque, pending = unknown+c.Unknown.Load(), opaque+c.Opaque.Load(), pending+c.Pending.Load()
			}
			total := soakGoroutines * opsPer
			t.Logf("%d goroutines x %d ops on %d engine(s) in %s (%.0f ops/s): %d acked, %d refused, %d key replays, %d customer updates, %d list calls",
				soakGoroutines, opsPer, len(runners), elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(),
				acks, nacks, replays, updates, lists)
			t.Logf("deadlines: %d calls failed (%d with an error not wrapping the context's), %d retried after; %d charges/refunds acked pending; Reconcile settled %+v",
				unknown, opaque, retried, pending, rep)
			t.Logf("store: %s", st)
			t.Logf("memory: peak HeapInuse %s (baseline %s), peak Sys %s, %d samples",
				mib(mem.heapInuse), mib(mem.baseline), mib(mem.sys), mem.samples)
			require.Greater(t, acks, int64(total/3), "most operations must go through")
			require.Less(t, mem.heapInuse, heapLimit, "peak heap in use")
		})
	}
}

// TestSoakDunning is the soak with the retry scheduler running beside the
// workload: a test clock moves six hours at a time while RunDue passes
// charge the due retries of declined charges (wallet first), so retry
// chains settle, exhaust and put subscriptions on hold while credits,
// debits, charges and refunds go on. The same invariants must hold after,
// plus the dunning ones (one scheduled attempt per failed charge awaiting
// a retry, the delinquent flag matching the overdue charges).
func TestSoakDunning(t *testing.T) {
	opsPer, _ := soakSettings()
	for _, kind := range []string{"memory", "bolt"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			var s store.Store = memory.New()
			if kind == "bolt" {
				b, err := bolt.Open(filepath.Join(t.TempDir(), "soak.db"))
				require.NoError(t, err)
				defer b.Close()
				s = b
			}
			proc, err := crashkit.OpenFileProcessor(filepath.Join(t.TempDir(), "proc.jsonl"), crashkit.NoSync())
			require.NoError(t, err)
			defer proc.Close()
			clk := clock.NewTest(time.Now())
			eng, err := coffer.New(s, coffer.WithProcessor(proc), coffer.WithClock(clk))
			require.NoError(t, err)
			j := &crashkit.MemJournal{}
			r := &crashkit.Runner{Eng: eng, J: j, Pool: &crashkit.Pool{}, Run: 1, Soak: true}
			require.NoError(t, r.Setup(ctx))
			for range soakCustomers {
				require.NoError(t, r.NewCustomer(ctx))
			}
			const workers = 32
			var wg sync.WaitGroup
			errs := make(chan error, workers+1)
			done := make(chan struct{})
			var passes RunTotals
			go func() {
				defer close(errs)
				for {
					select {
					case <-done:
						// Run the schedule out: every retry comes due.
						for range 40 {
							clk.Advance(24 * time.Hour)
							if err := passes.add(eng.RunDue(ctx)); err != nil {
								errs <- err
								return
							}
						}
						return
					default:
					}
					clk.Advance(6 * time.Hour)
					if err := passes.add(eng.RunDue(ctx)); err != nil {
						errs <- err
						return
					}
				}
			}()
			for g := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rnd := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(g)))
					for range opsPer {
						if err := r.Step(ctx, rnd); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			close(done)
			for err := range errs {
				require.NoError(t, err)
			}
			st, err := crashkit.Check(ctx, s, crashkit.CheckOptions{Ops: j.Ops(), Proc: proc, Settled: true})
			require.NoError(t, err)
			t.Logf("RunDue: %+v", passes)
			t.Logf("store: %s", st)
		})
	}
}

// RunTotals sums RunDue reports.
type RunTotals struct {
	Passes, Attempted, Succeeded, Failed, Cancelled int
}

func (r *RunTotals) add(rep coffer.RunReport, err error) error {
	r.Passes++
	r.Attempted += rep.Attempted
	r.Succeeded += rep.Succeeded
	r.Failed += rep.Failed
	r.Cancelled += rep.Cancelled
	return err
}
