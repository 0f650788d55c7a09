package bolt

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/wallet"
	"github.com/cofferhq/coffer/webhook"
)

// randomID is shaped like the engine's ids: a prefix and 32 random hex
// digits, so id-index inserts land on random pages as they do in production.
func randomID(prefix string) string {
	return fmt.Sprintf("%s_%016x%016x", prefix, rand.Uint64(), rand.Uint64())
}

func walletID(i int) string { return fmt.Sprintf("cus_%032d", i) }

// posting is one ledger posting as the engine does it: read the balance,
// post a credit (with an idempotency key), insert the entry, store the
// balance, write the outbox event.
type postingIDs struct{ entry, event, key string }

func newPostingIDs() postingIDs {
	return postingIDs{entry: randomID("le"), event: randomID("evt"), key: randomID("idem")}
}

func posting(tx store.Tx, cust string, ids postingIDs, now time.Time) error {
	b, err := tx.Balance(cust, "USD")
	if err != nil {
		return err
	}
	e, nb, err := ledger.Post(b, ledger.Request{Amount: 100, Currency: "USD", Type: ledger.Credit, Reason: "top-up",
		IdempotencyKey: ids.key}, ids.entry, now)
	if err != nil {
		return err
	}
	if err := tx.InsertEntry(e); err != nil {
		return err
	}
	if err := tx.PutBalance(nb); err != nil {
		return err
	}
	data, _ := json.Marshal(map[string]any{"customer_id": cust, "entry_id": e.ID, "currency": "USD",
		"amount": e.Amount, "balance_after": e.BalanceAfter, "entry_type": e.Type})
	return tx.InsertEvent(webhook.Event{ID: ids.event, Type: "wallet.credited", CustomerID: cust, Data: data, CreatedAt: now})
}

// cpuTime is the process's user+system CPU time: on a shared machine,
// CPU per operation is steadier than wall-clock throughput.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runWriters runs b.N operations spread over writers goroutines.
func runWriters(b *testing.B, writers int, op func(i int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	b.ResetTimer()
	cpu0 := cpuTime()
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				if err := op(int(i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	cpu := cpuTime() - cpu0
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
}

var benchShapes = []struct{ writers, wallets int }{{1, 1}, {1, 10000}, {64, 1}, {64, 10000}}

// BenchmarkUpdateEntry measures durable ledger postings per second: every
// Update is fsynced before it returns.
func BenchmarkUpdateEntry(b *testing.B) {
	for _, sh := range benchShapes {
		b.Run(fmt.Sprintf("writers=%d/wallets=%d", sh.writers, sh.wallets), func(b *testing.B) {
			s, err := Open(filepath.Join(b.TempDir(), "bench.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			err = s.Update(ctx, func(tx store.Tx) error {
				for i := range sh.wallets {
					if err := tx.PutBalance(wallet.Balance{CustomerID: walletID(i), Currency: "USD"}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			now := time.Now().UTC()
			runWriters(b, sh.writers, func(i int) error {
				cust, ids := walletID(rand.IntN(sh.wallets)), newPostingIDs()
				return s.Update(ctx, func(tx store.Tx) error { return posting(tx, cust, ids, now) })
			})
		})
	}
}

// BenchmarkCommitModes compares, with 64 writers, how concurrent Updates
// share commits: bbolt's DB.Batch (WithDBBatch), the committer goroutine
// of WithGroupCommit with the default batch delay, and the committer with
// no delay at all (group commit without a timer: a batch is whatever
// queued while the previous commit ran). Every Update is fsynced in each.
//
//	go test -run '^$' -bench 'CommitModes|RawBatchPut/writers=64' -benchtime 20000x -count 3 ./store/bolt
func BenchmarkCommitModes(b *testing.B) {
	modes := []struct {
		name string
		opts []Option
	}{
		{"batch", []Option{WithDBBatch()}},
		{"group", []Option{WithGroupCommit()}},
		{"group-notimer", []Option{WithGroupCommit(), WithMaxBatchDelay(0)}},
	}
	for _, wallets := range []int{1, 10000} {
		for _, m := range modes {
			b.Run(fmt.Sprintf("wallets=%d/commit=%s", wallets, m.name), func(b *testing.B) {
				s, err := Open(filepath.Join(b.TempDir(), "bench.db"), m.opts...)
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				ctx := context.Background()
				err = s.Update(ctx, func(tx store.Tx) error {
					for i := range wallets {
						if err := tx.PutBalance(wallet.Balance{CustomerID: walletID(i), Currency: "USD"}); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				now := time.Now().UTC()
				runWriters(b, 64, func(i int) error {
					cust, ids := walletID(rand.IntN(wallets)), newPostingIDs()
					return s.Update(ctx, func(tx store.Tx) error { return posting(tx, cust, ids, now) })
				})
			})
		}
	}
}

// BenchmarkRawBatchPut is the substrate: the same bytes a posting writes
// (an entry, a balance and an event, at their encoded sizes) put with bbolt
// DB.Batch under the same concurrency and batch settings, without indexes
// or any coffer code. coffer's entries/s over this is its overhead.
func BenchmarkRawBatchPut(b *testing.B) {
	sample := wallet.Balance{CustomerID: walletID(0), Currency: "USD", Amount: 1000, UpdatedAt: time.Now()}
	e, nb, _ := ledger.Post(sample, ledger.Request{Amount: 100, Currency: "USD", Type: ledger.Credit, Reason: "top-up",
		IdempotencyKey: randomID("idem")}, randomID("le"), time.Now())
	data, _ := json.Marshal(map[string]any{"customer_id": sample.CustomerID, "entry_id": e.ID, "currency": "USD",
		"amount": e.Amount, "balance_after": e.BalanceAfter, "entry_type": e.Type})
	entrySize := len(encodeEntry(e))
	balanceSize := len(encodeBalance(nb))
	eventSize := len(encodeEvent(webhook.Event{ID: randomID("evt"), Type: "wallet.credited", CustomerID: sample.CustomerID, Data: data, CreatedAt: time.Now()}))
	for _, sh := range benchShapes {
		b.Run(fmt.Sprintf("writers=%d/wallets=%d", sh.writers, sh.wallets), func(b *testing.B) {
			db, err := bbolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, &bbolt.Options{
				// The adapter's options (Open's defaults): the freelist synced.
				NoFreelistSync: false, FreelistType: bbolt.FreelistMapType, NoStatistics: true})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			db.MaxBatchSize, db.MaxBatchDelay = DefaultMaxBatchSize, DefaultMaxBatchDelay
			names := [][]byte{[]byte("entries"), []byte("balances"), []byte("events")}
			err = db.Update(func(tx *bbolt.Tx) error {
				for _, n := range names {
					if _, err := tx.CreateBucket(n); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			runWriters(b, sh.writers, func(i int) error {
				cust := []byte(walletID(rand.IntN(sh.wallets)))
				entryKey, eventKey := []byte(randomID("le")), []byte(randomID("evt"))
				return db.Batch(func(tx *bbolt.Tx) error {
					if err := tx.Bucket(names[0]).Put(entryKey, make([]byte, entrySize)); err != nil {
						return err
					}
					if err := tx.Bucket(names[1]).Put(cust, make([]byte, balanceSize)); err != nil {
						return err
					}
					return tx.Bucket(names[2]).Put(eventKey, make([]byte, eventSize))
				})
			})
		})
	}
}

// dueFixture is a store with many attempts scheduled in the future and 100
// due now, built once per process because a million attempts take a while.
type dueFixture struct {
	once sync.Once
	s    *Store
	dir  string
	err  error
}

var dueFixtures sync.Map // scheduled count -> *dueFixture

const dueNow = 100

func getDueFixture(b *testing.B, scheduled int) *Store {
	v, _ := dueFixtures.LoadOrStore(scheduled, &dueFixture{})
	f := v.(*dueFixture)
	f.once.Do(func() {
		f.dir, f.err = os.MkdirTemp("", "coffer-due-")
		if f.err != nil {
			return
		}
		f.s, f.err = Open(filepath.Join(f.dir, "due.db"))
		if f.err != nil {
			return
		}
		const chunk = 20000
		for start := 0; start < scheduled && f.err == nil; start += chunk {
			f.err = f.s.Update(context.Background(), func(tx store.Tx) error {
				for i := start; i < min(start+chunk, scheduled); i++ {
					runAt := t0.Add(time.Duration(1+rand.IntN(1_000_000)) * time.Minute)
					if i < dueNow {
						runAt = t0.Add(-time.Duration(i) * time.Second)
					}
					a := retry.Attempt{ID: randomID("att"), SubscriptionID: randomID("sub"), CustomerID: walletID(i % 5000),
						Number: 2, Amount: 999, Currency: "USD", DueAt: runAt, RunAt: runAt, Status: retry.AttemptScheduled}
					if err := tx.PutAttempt(a); err != nil {
						return err
					}
				}
				return nil
			})
		}
	})
	if f.err != nil {
		b.Fatal(f.err)
	}
	return f.s
}

// BenchmarkDueAttempts reads (DueNotices) the 100 due attempts out of many scheduled
// ones: the time per op must not grow with the number scheduled.
func BenchmarkDueAttempts(b *testing.B) {
	for _, scheduled := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("scheduled=%d/due=%d", scheduled, dueNow), func(b *testing.B) {
			s := getDueFixture(b, scheduled)
			ctx := context.Background()
			b.ResetTimer()
			for b.Loop() {
				err := s.View(ctx, func(tx store.Tx) error {
					due, err := tx.DueNotices(t0, 1000)
					if err == nil && len(due) != dueNow {
						err = fmt.Errorf("%d due, want %d", len(due), dueNow)
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

func TestMain(m *testing.M) {
	code := m.Run()
	dueFixtures.Range(func(_, v any) bool {
		f := v.(*dueFixture)
		if f.s != nil {
			_ = f.s.Close()
		}
		if f.dir != "" {
			_ = os.RemoveAll(f.dir)
		}
		return true
	})
	os.Exit(code)
}
