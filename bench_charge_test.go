package coffer

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
)

// BenchmarkCharge measures Engine.Charge on a subscription by store, path
// and concurrency:
//
//   - path=wallet: the wallet covers the charge: one transaction (hold,
//     capture as a debit entry, payment, events), no processor call.
//   - path=processor: the wallet is empty: a transaction recording the
//     pending payment, the (in-memory test) processor call outside any
//     transaction, then the settling transaction.
//   - mode=sequential: one goroutine; mode=parallel: b.RunParallel
//     (GOMAXPROCS goroutines) over 64 customers.
//
// Run it with:
//
//	go test -run '^$' -bench BenchmarkCharge -benchtime 2s .
func BenchmarkCharge(b *testing.B) {
	for _, st := range benchStores {
		for _, path := range []string{"wallet", "processor"} {
			for _, mode := range []string{"sequential", "parallel"} {
				b.Run(fmt.Sprintf("store=%s/path=%s/mode=%s", st.name, path, mode), func(b *testing.B) {
					benchCharge(b, st.open(b), path == "wallet", mode == "parallel")
				})
			}
		}
	}
}

func benchCharge(b *testing.B, s store.Store, wallet, parallel bool) {
	ctx := context.Background()
	proc := processor.NewTest(nil)
	eng, err := New(s, WithProcessor(proc))
	if err != nil {
		b.Fatal(err)
	}
	prod, err := eng.CreateProduct(ctx, ProductParams{Name: "bench", Price: 1_00, Currency: "USD"})
	if err != nil {
		b.Fatal(err)
	}
	subs := make([]string, 64)
	for i := range subs {
		c, err := eng.CreateCustomer(ctx, customer.Params{Name: new(fmt.Sprint("bench ", i))})
		if err != nil {
			b.Fatal(err)
		}
		if wallet {
			_, err := eng.CreateEntry(ctx, c.ID, EntryParams{Amount: 1 << 50, Currency: "USD", Type: ledger.Credit, Reason: "bench"})
			if err != nil {
				b.Fatal(err)
			}
		}
		res, err := eng.CreateSubscription(ctx, SubscriptionParams{ProductID: prod.ID, Quantity: 1, CustomerID: c.ID,
			PaymentMethod: processor.CardOK, OnDemand: &OnDemand{MandateOnly: new(true)}})
		if err != nil {
			b.Fatal(err)
		}
		subs[i] = res.Subscription.ID
	}
	charge := func(i int64) {
		p, err := eng.Charge(ctx, subs[i%int64(len(subs))], ChargeParams{ProductPrice: new(int64(1_00))})
		if err != nil {
			b.Error(err)
			return
		}
		if p.Status != "succeeded" || (wallet && p.ProcessorAmount != 0) {
			b.Errorf("payment %s: %s, %d to the processor", p.ID, p.Status, p.ProcessorAmount)
		}
	}
	var seq atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := procCPU()
	if parallel {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				charge(seq.Add(1))
			}
		})
	} else {
		for i := 0; i < b.N; i++ {
			charge(int64(i))
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "charges/s")
	// CPU per charge (the process's, processor included) is steadier than
	// wall-clock throughput on a shared machine.
	b.ReportMetric(float64((procCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
	if !wallet && proc.ChargeCount() != b.N {
		b.Errorf("processor charged %d times for %d charges", proc.ChargeCount(), b.N)
	}
}
