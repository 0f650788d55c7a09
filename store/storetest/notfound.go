package storetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

func testNotFound(t *testing.T, newStore newStoreFunc) {
	s := newStore(t)
	// One record of each kind exists, so "missing" means that id only.
	fx := populate(t, s)
	missing := newID("missing")
	reads := map[string]func(tx store.Tx) error{
		"Customer":      func(tx store.Tx) error { _, err := tx.Customer(missing); return err },
		"CustomerByDID": func(tx store.Tx) error { _, err := tx.CustomerByDID("did:" + missing); return err },
		"Balance":       func(tx store.Tx) error { _, err := tx.Balance(fx.c1, "EUR"); return err },
		"Entry":         func(tx store.Tx) error { _, err := tx.Entry(missing); return err },
		"EntryByKey":    func(tx store.Tx) error { _, err := tx.EntryByKey(fx.c1, missing); return err },
		"Hold":          func(tx store.Tx) error { _, err := tx.Hold(missing); return err },
		"Product":       func(tx store.Tx) error { _, err := tx.Product(missing); return err },
		"Subscription":  func(tx store.Tx) error { _, err := tx.Subscription(missing); return err },
		"Payment":       func(tx store.Tx) error { _, err := tx.Payment(missing); return err },
		"PaymentByKey":  func(tx store.Tx) error { _, err := tx.PaymentByKey(fx.c1, missing); return err },
		"Refund":        func(tx store.Tx) error { _, err := tx.Refund(missing); return err },
		"RefundByKey":   func(tx store.Tx) error { _, err := tx.RefundByKey(fx.pay1, missing); return err },
		"Event":         func(tx store.Tx) error { _, err := tx.Event(missing); return err },
		"Attempt":       func(tx store.Tx) error { _, err := tx.Attempt(missing); return err },
		"Endpoint":      func(tx store.Tx) error { _, err := tx.Endpoint(missing); return err },
		"Delivery":      func(tx store.Tx) error { _, err := tx.Delivery(missing); return err },
		"ListCustomers": func(tx store.Tx) error {
			_, _, err := tx.ListCustomers(store.CustomerQuery{Page: store.Page{StartingAfter: missing}})
			return err
		},
		"ListEntries": func(tx store.Tx) error {
			_, _, err := tx.ListEntries(store.EntryQuery{CustomerID: fx.c1, Page: store.Page{EndingBefore: missing}})
			return err
		},
		"ListSubscriptions": func(tx store.Tx) error {
			_, _, err := tx.ListSubscriptions(fx.c1, store.Page{StartingAfter: missing})
			return err
		},
		"ListPayments": func(tx store.Tx) error {
			_, _, err := tx.ListPayments(store.PaymentQuery{Page: store.Page{EndingBefore: missing}})
			return err
		},
		"ListDeliveries": func(tx store.Tx) error {
			_, _, err := tx.ListDeliveries(store.DeliveryQuery{Page: store.Page{StartingAfter: missing}})
			return err
		},
	}
	for name, read := range reads {
		t.Run(name, func(t *testing.T) {
			require.ErrorIs(t, s.View(ctx, read), store.ErrNotFound)
			require.ErrorIs(t, s.Update(ctx, read), store.ErrNotFound)
		})
	}
	writes := map[string]func(tx store.Tx) error{
		"UpdateCustomer": func(tx store.Tx) error { return tx.UpdateCustomer(newCustomer(1)) },
		"UpdateSubscription": func(tx store.Tx) error {
			return tx.UpdateSubscription(newSubscription(fx.c1))
		},
		"UpdatePayment": func(tx store.Tx) error {
			return tx.UpdatePayment(newPayment(fx.c1, "", subscription.PaymentPending))
		},
		"UpdateRefund": func(tx store.Tx) error {
			return tx.UpdateRefund(newRefund(fx.pay1, "", subscription.RefundPending))
		},
		"MarkEventDispatched": func(tx store.Tx) error { return tx.MarkEventDispatched(missing) },
		"DeleteEndpoint":      func(tx store.Tx) error { return tx.DeleteEndpoint(missing) },
	}
	for name, write := range writes {
		t.Run(name, func(t *testing.T) {
			require.ErrorIs(t, s.Update(ctx, write), store.ErrNotFound)
		})
	}
	require.Equal(t, fx.dump, dump(t, s, fx), "failed writes changed nothing")
}
