package coffer

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/bolt"
	"github.com/cofferhq/coffer/store/memory"
)

// benchStores are the adapters the ledger benchmarks compare. The bolt
// store is durable: every acknowledged entry has been fsynced (group
// commit shares one fsync among concurrent writers).
var benchStores = []struct {
	name string
	open func(b *testing.B) store.Store
}{
	{"memory", func(b *testing.B) store.Store { return memory.New() }},
	{"bolt", func(b *testing.B) store.Store {
		s, err := bolt.Open(filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	}},
}

// BenchmarkLedgerEntry measures CreateEntry (idempotency check, balance
// read, entry, balance and outbox event in one transaction) by store,
// writers (1 or 64 concurrent goroutines) and wallet spread (one hot
// wallet, or 1,000 customers).
//
//	go test -run '^$' -bench BenchmarkLedgerEntry -benchtime 2s .
func BenchmarkLedgerEntry(b *testing.B) {
	for _, st := range benchStores {
		for _, writers := range []int{1, 64} {
			for _, wallets := range []int{1, 1000} {
				name := fmt.Sprintf("store=%s/writers=%d/wallets=%d", st.name, writers, wallets)
				b.Run(name, func(b *testing.B) { benchLedger(b, st.open(b), writers, wallets) })
			}
		}
	}
}

func benchLedger(b *testing.B, s store.Store, writers, wallets int) {
	ctx := context.Background()
	eng, err := New(s, WithoutProcessor())
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, wallets)
	for i := range ids {
		c, err := eng.CreateCustomer(ctx, customer.Params{Name: new(fmt.Sprint("bench ", i))})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = c.ID
	}
	var seq atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := procCPU()
	var wg sync.WaitGroup
	per := b.N / writers
	for w := 0; w < writers; w++ {
		n := per
		if w == 0 {
			n += b.N % writers
		}
		wg.Add(1)
		go func(n int) {
			defer wg.Done()
			for i := 0; i < n; i++ {
				k := seq.Add(1)
				req := EntryParams{Amount: 100, Currency: "USD", Type: ledger.Credit, Reason: "bench",
					IdempotencyKey: fmt.Sprint("k", k)}
				if _, err := eng.CreateEntry(ctx, ids[int(k)%wallets], req); err != nil {
					b.Error(err)
					return
				}
			}
		}(n)
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	b.ReportMetric(float64((procCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
}
