package memory

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

// TestListsCostWhatTheyReturn: with thousands of records outside the
// page, each account-wide query visits about one index entry per record
// it returns.
func TestListsCostWhatTheyReturn(t *testing.T) {
	s := New()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 5000
	var mid string
	require.NoError(t, s.Update(ctx, func(tx store.Tx) error {
		for i := range n {
			c := customer.Customer{ID: fmt.Sprintf("cus_%05d", i), Name: fmt.Sprintf("Name %d", i), CreatedAt: t0.Add(time.Duration(i) * time.Second)}
			if err := tx.InsertCustomer(c); err != nil {
				return err
			}
			p := subscription.Payment{ID: fmt.Sprintf("pay_%05d", i), CustomerID: "cus_a", Status: subscription.PaymentSucceeded,
				CreatedAt: t0.Add(time.Duration(i) * time.Second)}
			if err := tx.InsertPayment(p); err != nil {
				return err
			}
		}
		mid = fmt.Sprintf("pay_%05d", n/2)
		if err := tx.InsertCustomer(customer.Customer{ID: "cus_zed", Name: "Zed", CreatedAt: t0}); err != nil {
			return err
		}
		for i := range 3 {
			p := subscription.Payment{ID: fmt.Sprintf("pay_b%d", i), CustomerID: "cus_b", Status: subscription.PaymentFailed,
				CreatedAt: t0.Add(-time.Hour + time.Duration(i)*time.Second)}
			if err := tx.InsertPayment(p); err != nil {
				return err
			}
		}
		return nil
	}))
	page := store.Page{Limit: 2}
	for _, c := range []struct {
		name string
		q    func(tx store.Tx) (int, error)
		want int
	}{
		{"status", func(tx store.Tx) (int, error) {
			l, _, err := tx.QueryPayments(store.PaymentListQuery{Statuses: []subscription.PaymentStatus{subscription.PaymentFailed}, Page: page})
			return len(l), err
		}, 2},
		{"customer", func(tx store.Tx) (int, error) {
			l, _, err := tx.QueryPayments(store.PaymentListQuery{CustomerID: "cus_b", Page: page})
			return len(l), err
		}, 2},
		{"customer+status", func(tx store.Tx) (int, error) {
			l, _, err := tx.QueryPayments(store.PaymentListQuery{CustomerID: "cus_a", Statuses: []subscription.PaymentStatus{subscription.PaymentFailed}, Page: page})
			return len(l), err
		}, 0},
		{"created range", func(tx store.Tx) (int, error) {
			l, _, err := tx.QueryPayments(store.PaymentListQuery{Created: store.TimeRange{From: t0.Add(100 * time.Second), To: t0.Add(103 * time.Second)}, Page: page})
			return len(l), err
		}, 2},
		{"cursor", func(tx store.Tx) (int, error) {
			l, _, err := tx.QueryPayments(store.PaymentListQuery{CustomerID: "cus_a", Page: store.Page{Limit: 2, StartingAfter: mid}})
			return len(l), err
		}, 2},
		{"name prefix", func(tx store.Tx) (int, error) {
			l, _, err := tx.QueryCustomers(store.CustomerListQuery{NamePrefix: "ZE", Page: page})
			return len(l), err
		}, 1},
	} {
		require.NoError(t, s.View(ctx, func(tx store.Tx) error {
			s.lists.walked.Store(0)
			got, err := c.q(tx)
			require.NoError(t, err)
			require.Equal(t, c.want, got, c.name)
			require.LessOrEqual(t, s.lists.walked.Load(), int64(page.Limit+1), c.name)
			return nil
		}))
	}
}
