package memory

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/store"
)

func searchBenchCustomer(i int) customer.Customer {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Millisecond)
	return customer.Customer{ID: fmt.Sprintf("cus_%032x", uint64(i)*0x9e3779b97f4a7c15), Name: fmt.Sprintf("First%d Last%d", i%64, i%40),
		Email: fmt.Sprintf("first%d.last%d.%d@mail.example", i%64, i%40, i), Phone: fmt.Sprintf("+1 555 %07d", i*7919%10_000_000),
		CreatedAt: at, UpdatedAt: at}
}

// BenchmarkInsertCustomerSearch: the cost of an insert with its indexes
// (search tokens, email) on a store of 100k customers.
func BenchmarkInsertCustomerSearch(b *testing.B) {
	s := New()
	ctx := context.Background()
	const base = 100_000
	for i := 0; i < base; i += 5000 {
		_ = s.Update(ctx, func(tx store.Tx) error {
			for j := i; j < i+5000; j++ {
				if err := tx.InsertCustomer(searchBenchCustomer(j)); err != nil {
					return err
				}
			}
			return nil
		})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = s.Update(ctx, func(tx store.Tx) error { return tx.InsertCustomer(searchBenchCustomer(base + i)) })
	}
}

// BenchmarkSearchCustomers: a 1-match and a no-match term on 100k
// customers.
func BenchmarkSearchCustomers(b *testing.B) {
	s := New()
	ctx := context.Background()
	const n = 100_000
	for i := 0; i < n; i += 5000 {
		_ = s.Update(ctx, func(tx store.Tx) error {
			for j := i; j < i+5000; j++ {
				if err := tx.InsertCustomer(searchBenchCustomer(j)); err != nil {
					return err
				}
			}
			return nil
		})
	}
	for _, q := range []string{"first1.last1.4041@mail.example", "qzx123", "first7", "mail.example"} {
		sq, err := customer.ParseSearch(q)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(q, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				_ = s.View(ctx, func(tx store.Tx) error {
					_, err := tx.SearchCustomers(store.CustomerSearchQuery{Search: sq})
					return err
				})
			}
		})
	}
}
