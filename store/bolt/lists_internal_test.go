package bolt

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.etcd.io/bbolt"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

// TestListsScanOnlyThePage: with thousands of records outside the page,
// each account-wide query visits about one key per record it returns.
func TestListsScanOnlyThePage(t *testing.T) {
	s, _ := openTemp(t)
	const n = 2000
	update(t, s, func(tx store.Tx) error {
		for i := range n {
			at := t0.Add(time.Duration(i) * time.Second)
			if err := tx.InsertCustomer(customer.Customer{ID: fmt.Sprintf("cus_%05d", i), Name: fmt.Sprintf("Name %d", i), CreatedAt: at}); err != nil {
				return err
			}
			p := subscription.Payment{ID: fmt.Sprintf("pay_%05d", i), CustomerID: "cus_a", Status: subscription.PaymentSucceeded, CreatedAt: at}
			if err := tx.InsertPayment(p); err != nil {
				return err
			}
		}
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
	})
	page := store.Page{Limit: 2}
	failed := []subscription.PaymentStatus{subscription.PaymentFailed}
	for _, c := range []struct {
		name string
		q    func(tx *tx) (int, error)
		want int
	}{
		{"status", func(tx *tx) (int, error) {
			l, _, err := tx.QueryPayments(store.PaymentListQuery{Statuses: failed, Page: page})
			return len(l), err
		}, 2},
		{"customer", func(tx *tx) (int, error) {
			l, _, err := tx.QueryPayments(store.PaymentListQuery{CustomerID: "cus_b", Page: page})
			return len(l), err
		}, 2},
		{"customer+status", func(tx *tx) (int, error) {
			l, _, err := tx.QueryPayments(store.PaymentListQuery{CustomerID: "cus_a", Statuses: failed, Page: page})
			return len(l), err
		}, 0},
		{"created range", func(tx *tx) (int, error) {
			l, _, err := tx.QueryPayments(store.PaymentListQuery{Created: store.TimeRange{From: t0.Add(100 * time.Second), To: t0.Add(103 * time.Second)}, Page: page})
			return len(l), err
		}, 2},
		{"cursor", func(tx *tx) (int, error) {
			l, _, err := tx.QueryPayments(store.PaymentListQuery{CustomerID: "cus_a", Page: store.Page{Limit: 2, StartingAfter: "pay_01000"}})
			return len(l), err
		}, 2},
		{"name prefix", func(tx *tx) (int, error) {
			l, _, err := tx.QueryCustomers(store.CustomerListQuery{NamePrefix: "ze", Page: page})
			return len(l), err
		}, 1},
	} {
		require.NoError(t, s.db.View(func(btx *bbolt.Tx) error {
			tx := &tx{btx: btx}
			got, err := c.q(tx)
			require.NoError(t, err)
			require.Equal(t, c.want, got, c.name)
			require.LessOrEqual(t, tx.listScanned, page.Limit+1, c.name)
			return nil
		}))
	}
}
