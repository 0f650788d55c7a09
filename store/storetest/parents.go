package storetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

// Parents. A store may enforce what the billing code guarantees anyway:
// balances, entries, holds, subscriptions and payments belong to an existing
// customer, refunds to an existing payment, deliveries to an existing event
// (PostgreSQL does, with foreign keys). Every record the suite writes
// therefore has its parent written first, in a transaction of its own, so
// the test's own transactions, counts and lists are what they would be
// without it. Parents are minimal records that lists under test do not
// include: no test that counts customers, payments or events adds parents
// of that kind.

// addCustomers inserts a minimal customer for each id.
func addCustomers(t testing.TB, s store.Store, ids ...string) {
	t.Helper()
	update(t, s, func(tx store.Tx) {
		for _, id := range ids {
			require.NoError(t, tx.InsertCustomer(customer.Customer{ID: id, CreatedAt: t0, UpdatedAt: t0}))
		}
	})
}

// addPayments inserts a payment with each id, each of its own minimal
// customer, to hold refunds.
func addPayments(t testing.TB, s store.Store, ids ...string) {
	t.Helper()
	update(t, s, func(tx store.Tx) {
		for _, id := range ids {
			p := newPayment(newID("cus"), "", subscription.PaymentSucceeded)
			p.ID = id
			require.NoError(t, tx.InsertCustomer(customer.Customer{ID: p.CustomerID, CreatedAt: t0, UpdatedAt: t0}))
			require.NoError(t, tx.InsertPayment(p))
		}
	})
}

// addEvents inserts an event with each id, to hold deliveries.
func addEvents(t testing.TB, s store.Store, ids ...string) {
	t.Helper()
	update(t, s, func(tx store.Tx) {
		for _, id := range ids {
			e := newEvent("payment.succeeded", "")
			e.ID = id
			require.NoError(t, tx.InsertEvent(e))
		}
	})
}

// newCustomerID returns the id of a new customer inserted into s.
func newCustomerID(t testing.TB, s store.Store) string {
	t.Helper()
	id := newID("cus")
	addCustomers(t, s, id)
	return id
}
