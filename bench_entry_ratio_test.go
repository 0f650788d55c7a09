package coffer

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/internal/eventjson"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/memory"
	"github.com/cofferhq/coffer/wallet"
	"github.com/cofferhq/coffer/webhook"
)

// BenchmarkEntryRatio runs Engine.CreateEntry on the memory store and the
// memory store alone doing the same storage work (read the balance, insert
// the entry with its idempotency key, write the balance, insert the outbox
// event with a precomputed payload) side by side: rounds alternate between
// the two contenders, each on its own store, and the benchmark reports each
// side's entries/s over its own rounds, their ratio (engine/store), and
// each side's allocations and CPU time per entry. The issue 13 target is
// engine/store >= 0.6.
//
//	go test -run '^$' -bench BenchmarkEntryRatio -benchtime 400000x -count 3 .
func BenchmarkEntryRatio(b *testing.B) {
	for _, writers := range []int{1, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			ctx := context.Background()
			const wallets = 1000
			eng, err := New(memory.New(), WithoutProcessor())
			if err != nil {
				b.Fatal(err)
			}
			ids := make([]string, wallets)
			for i := range ids {
				c, err := eng.CreateCustomer(ctx, customer.Params{Name: new("bench " + strconv.Itoa(i))})
				if err != nil {
					b.Fatal(err)
				}
				ids[i] = c.ID
			}
			alone := memory.New()
			// The store alone posts to wallets it seeded the way the
			// engine does (a customer and a zero USD balance).
			var eseq atomic.Int64
			if err := alone.Update(ctx, func(tx store.Tx) error {
				for _, id := range ids {
					if err := tx.InsertCustomer(customer.Customer{ID: id, Name: "bench", CreatedAt: benchEntryNow}); err != nil {
						return err
					}
					if err := tx.PutBalance(wallet.Balance{CustomerID: id, Currency: "USD", UpdatedAt: benchEntryNow}); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
			var kseq atomic.Int64
			engineOp := func() error {
				k := kseq.Add(1)
				_, err := eng.CreateEntry(ctx, ids[int(k)%wallets], EntryParams{Amount: 100, Currency: "USD",
					Type: ledger.Credit, Reason: "bench", IdempotencyKey: "k" + strconv.FormatInt(k, 10)})
				return err
			}
			storeOp := func() error {
				n := eseq.Add(1)
				return storeAlonePost(ctx, alone, ids[int(n)%wallets], n)
			}
			sides := [2]func() error{engineOp, storeOp}
			round := max(2000, 50*writers)
			var took, cpu [2]time.Duration
			var mallocs [2]uint64
			var ms runtime.MemStats
			b.ResetTimer()
			for done := 0; done < b.N; {
				k := min(round, b.N-done)
				for i, op := range sides {
					runtime.ReadMemStats(&ms)
					m0, c0, t0 := ms.Mallocs, procCPU(), time.Now()
					if err := runWriters(writers, k, op); err != nil {
						b.Fatal(err)
					}
					took[i] += time.Since(t0)
					cpu[i] += procCPU() - c0
					runtime.ReadMemStats(&ms)
					mallocs[i] += ms.Mallocs - m0
				}
				done += k
			}
			b.StopTimer()
			e, s := float64(b.N)/took[0].Seconds(), float64(b.N)/took[1].Seconds()
			b.ReportMetric(e, "engine_entries/s")
			b.ReportMetric(s, "store_entries/s")
			b.ReportMetric(e/s, "engine/store")
			b.ReportMetric(float64(cpu[1])/float64(cpu[0]), "engine/store_cpu")
			b.ReportMetric(float64(mallocs[0])/float64(b.N), "engine_allocs/entry")
			b.ReportMetric(float64(mallocs[1])/float64(b.N), "store_allocs/entry")
		})
	}
}

var benchEntryNow = time.Date(2025, 3, 14, 13, 10, 0, 0, time.UTC)

// benchEntryData is a wallet.balance_changed payload of the size the engine
// writes: the store alone stores the same bytes without encoding them.
var benchEntryData = eventjson.BalanceChanged(
	&ledger.Entry{ID: "le_" + strings.Repeat("0", 32), CustomerID: "cus_" + strings.Repeat("0", 32), Currency: "USD",
		Type: ledger.Credit, Amount: 100, BalanceBefore: 1000000, BalanceAfter: 1000100, Reason: "bench",
		IdempotencyKey: "k1000000", Reference: ledger.Reference{Type: ledger.RefManual}, CreatedAt: benchEntryNow},
	&wallet.Balance{CustomerID: "cus_" + strings.Repeat("0", 32), Currency: "USD", Amount: 1000100, UpdatedAt: benchEntryNow})

// storeAlonePost is one ledger posting as the engine makes it, without the
// engine's own work (validation, fingerprint, ids, clock, event encoding):
// the balance, the entry with its idempotency key, the balance write and
// the outbox event in one transaction.
func storeAlonePost(ctx context.Context, s store.Store, cus string, n int64) error {
	id := "le_" + strconv.FormatInt(n, 36)
	key := "k" + strconv.FormatInt(n, 10)
	now := benchEntryNow
	return s.Update(ctx, func(tx store.Tx) error {
		bal, err := tx.Balance(cus, "USD")
		if err != nil {
			return err
		}
		e := ledger.Entry{ID: id, CustomerID: cus, Currency: "USD", Type: ledger.Credit, Amount: 100,
			BalanceBefore: bal.Amount, BalanceAfter: bal.Amount + 100, Reason: "bench", IdempotencyKey: key,
			Reference: ledger.Reference{Type: ledger.RefManual}, Fingerprint: "0123456789abcdef0123456789abcdef", CreatedAt: now}
		if err := tx.InsertEntry(e); err != nil {
			return err
		}
		bal.Amount, bal.UpdatedAt = e.BalanceAfter, now
		if err := tx.PutBalance(bal); err != nil {
			return err
		}
		return tx.InsertEvent(webhook.Event{ID: "evt_" + id, Type: EventBalanceChanged, CustomerID: cus,
			Data: benchEntryData, CreatedAt: now})
	})
}

// runWriters runs n calls of op over writers goroutines.
func runWriters(writers, n int, op func() error) error {
	if writers == 1 {
		for i := 0; i < n; i++ {
			if err := op(); err != nil {
				return err
			}
		}
		return nil
	}
	var left atomic.Int64
	left.Store(int64(n))
	var wg sync.WaitGroup
	var first atomic.Value
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for left.Add(-1) >= 0 {
				if err := op(); err != nil {
					first.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := first.Load().(error); err != nil {
		return err
	}
	return nil
}

// procCPU is the process's user+system CPU time.
func procCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestBalanceChangedPooledBuffer: on the memory store the
// wallet.balance_changed payloads are encoded in reused buffers (the store
// copies them); every stored payload must still be its own entry's, equal
// to the unpooled encoding.
func TestBalanceChangedPooledBuffer(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	eng, err := New(s, WithoutProcessor())
	if err != nil {
		t.Fatal(err)
	}
	c, err := eng.CreateCustomer(ctx, customer.Params{Name: new("pool")})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make([]EntryResult, 200)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := eng.CreateEntry(ctx, c.ID, EntryParams{Amount: int64(i + 1), Currency: "USD", Type: ledger.Credit,
				Reason: strings.Repeat("r", i), IdempotencyKey: "pool-" + strconv.Itoa(i)})
			if err != nil {
				t.Error(err)
			}
			results[i] = res
		}()
	}
	wg.Wait()
	err = s.View(ctx, func(tx store.Tx) error {
		evs, err := tx.Events(0, 1000)
		if err != nil {
			return err
		}
		byEntry := map[string][]byte{}
		for _, ev := range evs {
			if ev.Type == EventBalanceChanged {
				var p struct {
					Entry struct{ ID string } `json:"entry"`
				}
				if err := json.Unmarshal(ev.Data, &p); err != nil {
					t.Fatalf("event %s: %v: %s", ev.ID, err, ev.Data)
				}
				byEntry[p.Entry.ID] = ev.Data
			}
		}
		for _, r := range results {
			want := eventjson.BalanceChanged(&r.Entry, &r.Balance)
			if got := byEntry[r.Entry.ID]; string(got) != string(want) {
				t.Errorf("entry %s: stored payload\n%s\nwant\n%s", r.Entry.ID, got, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
