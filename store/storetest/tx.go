package storetest

import (
	"errors"
	"maps"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/webhook"
)

var errBoom = errors.New("storetest: boom")

func testTransactions(t *testing.T, newStore newStoreFunc) {
	t.Run("Commit", func(t *testing.T) {
		s := newStore(t)
		fx := populate(t, s)
		m := newMutation(t, s, fx)
		update(t, s, func(tx store.Tx) { m.apply(t, tx, fx) })
		m.requireApplied(t, s, fx)
		require.NotEqual(t, fx.dump, dump(t, s, fx))
	})
	t.Run("RollbackOnError", func(t *testing.T) {
		s := newStore(t)
		fx := populate(t, s)
		m := newMutation(t, s, fx)
		err := s.Update(ctx, func(tx store.Tx) error {
			m.apply(t, tx, fx)
			return errBoom
		})
		require.ErrorIs(t, err, errBoom, "Update returns fn's error")
		require.Equal(t, fx.dump, dump(t, s, fx), "a failed transaction leaves no trace")
		requireAbsent(t, s, m)
		// Every unique key the failed transaction took is free again.
		update(t, s, func(tx store.Tx) { m.apply(t, tx, fx) })
		m.requireApplied(t, s, fx)
	})
	t.Run("RollbackOnPanic", func(t *testing.T) {
		s := newStore(t)
		fx := populate(t, s)
		m := newMutation(t, s, fx)
		require.PanicsWithValue(t, "storetest: panic in fn", func() {
			_ = s.Update(ctx, func(tx store.Tx) error {
				m.apply(t, tx, fx)
				panic("storetest: panic in fn")
			})
		})
		require.Equal(t, fx.dump, dump(t, s, fx))
		requireAbsent(t, s, m)
		update(t, s, func(tx store.Tx) { m.apply(t, tx, fx) })
		m.requireApplied(t, s, fx)
	})
	t.Run("ErrorFromStoreRollsBack", func(t *testing.T) {
		s := newStore(t)
		fx := populate(t, s)
		c := newCustomer(5)
		err := s.Update(ctx, func(tx store.Tx) error {
			require.NoError(t, tx.InsertCustomer(c))
			require.NoError(t, tx.PutBalance(newBalance(c.ID, "USD", 1)))
			return tx.InsertEntry(newEntry(fx.c1, "USD", "k1")) // duplicate key
		})
		require.ErrorIs(t, err, store.ErrDuplicate)
		require.Equal(t, fx.dump, dump(t, s, fx))
		view(t, s, func(tx store.Tx) {
			_, err := tx.Customer(c.ID)
			require.ErrorIs(t, err, store.ErrNotFound)
		})
	})
	t.Run("ReadOnly", func(t *testing.T) {
		s := newStore(t)
		fx := populate(t, s)
		m := newMutation(t, s, fx)
		writes := map[string]func(tx store.Tx) error{
			"InsertCustomer":      func(tx store.Tx) error { return tx.InsertCustomer(m.customer) },
			"UpdateCustomer":      func(tx store.Tx) error { return tx.UpdateCustomer(m.c1) },
			"PutBalance":          func(tx store.Tx) error { return tx.PutBalance(newBalance(fx.c1, "EUR", 1)) },
			"InsertEntry":         func(tx store.Tx) error { return tx.InsertEntry(m.entry) },
			"PutHold":             func(tx store.Tx) error { return tx.PutHold(m.hold) },
			"PutProduct":          func(tx store.Tx) error { return tx.PutProduct(m.product) },
			"InsertSubscription":  func(tx store.Tx) error { return tx.InsertSubscription(m.sub) },
			"UpdateSubscription":  func(tx store.Tx) error { return updateSub(tx, fx.s1) },
			"InsertPayment":       func(tx store.Tx) error { return tx.InsertPayment(m.payment) },
			"UpdatePayment":       func(tx store.Tx) error { return updatePayment(tx, fx.pay1) },
			"InsertRefund":        func(tx store.Tx) error { return tx.InsertRefund(m.refund) },
			"UpdateRefund":        func(tx store.Tx) error { return updateRefund(tx, fx.r1) },
			"InsertEvent":         func(tx store.Tx) error { return tx.InsertEvent(m.event) },
			"MarkEventDispatched": func(tx store.Tx) error { return tx.MarkEventDispatched(fx.ev1) },
			"PutAttempt":          func(tx store.Tx) error { return tx.PutAttempt(m.attempt) },
			"PutEndpoint":         func(tx store.Tx) error { return tx.PutEndpoint(m.endpoint) },
			"DeleteEndpoint":      func(tx store.Tx) error { return tx.DeleteEndpoint(fx.ep1) },
			"PutDelivery":         func(tx store.Tx) error { return tx.PutDelivery(m.delivery) },
		}
		for name, write := range writes {
			t.Run(name, func(t *testing.T) {
				require.ErrorIs(t, s.View(ctx, write), store.ErrReadOnly)
			})
		}
		require.Equal(t, fx.dump, dump(t, s, fx), "writes in a View change nothing")
	})
	t.Run("Closed", func(t *testing.T) {
		s := newStore(t)
		populate(t, s)
		require.NoError(t, s.Close())
		require.ErrorIs(t, s.Update(ctx, func(store.Tx) error { return nil }), store.ErrClosed)
		require.ErrorIs(t, s.View(ctx, func(store.Tx) error { return nil }), store.ErrClosed)
	})
}

func updateSub(tx store.Tx, id string) error {
	s, err := tx.Subscription(id)
	if err != nil {
		return err
	}
	s.Quantity++
	return tx.UpdateSubscription(s)
}

func updatePayment(tx store.Tx, id string) error {
	p, err := tx.Payment(id)
	if err != nil {
		return err
	}
	p.RefundedAmount++
	return tx.UpdatePayment(p)
}

func updateRefund(tx store.Tx, id string) error {
	r, err := tx.Refund(id)
	if err != nil {
		return err
	}
	r.Status = subscription.RefundSucceeded
	return tx.UpdateRefund(r)
}

// requireAbsent checks that none of m's new records exist.
func requireAbsent(t *testing.T, s store.Store, m *mutation) {
	t.Helper()
	view(t, s, func(tx store.Tx) {
		for name, err := range map[string]error{
			"customer":     second(tx.Customer(m.customer.ID)),
			"customer did": second(tx.CustomerByDID(m.newC1DID)),
			"balance":      second(tx.Balance(m.customer.ID, "USD")),
			"entry":        second(tx.Entry(m.entry.ID)),
			"entry key":    second(tx.EntryByKey(m.entry.CustomerID, m.entry.IdempotencyKey)),
			"hold":         second(tx.Hold(m.hold.ID)),
			"product":      second(tx.Product(m.product.ID)),
			"subscription": second(tx.Subscription(m.sub.ID)),
			"payment":      second(tx.Payment(m.payment.ID)),
			"payment key":  second(tx.PaymentByKey(m.payment.CustomerID, m.payment.IdempotencyKey)),
			"refund":       second(tx.Refund(m.refund.ID)),
			"refund key":   second(tx.RefundByKey(m.refund.PaymentID, m.refund.IdempotencyKey)),
			"event":        second(tx.Event(m.event.ID)),
			"attempt":      second(tx.Attempt(m.attempt.ID)),
			"endpoint":     second(tx.Endpoint(m.endpoint.ID)),
			"delivery":     second(tx.Delivery(m.delivery.ID)),
		} {
			require.ErrorIs(t, err, store.ErrNotFound, name)
		}
	})
}

func second[T any](_ T, err error) error { return err }

// testValues checks that records are values: neither what a caller passed
// in nor what it got back aliases what the store holds.
func testValues(t *testing.T, newStore newStoreFunc) {
	s := newStore(t)
	c := newCustomer(1)
	sub := newSubscription(c.ID)
	pay := newPayment(c.ID, "", subscription.PaymentPending)
	att := newAttempt(sub.ID, c.ID, 2, retry.AttemptScheduled, t0)
	ep := newEndpoint()
	ev := newEvent("payment.succeeded", c.ID)
	want := struct {
		c   customer.Customer
		sub subscription.Subscription
		pay subscription.Payment
		att retry.Attempt
		ep  webhook.Endpoint
		ev  webhook.Event
	}{copyCustomerForTest(c), newSubscriptionCopy(sub), pay, att, ep, ev}
	want.pay.Metadata = map[string]string{"order": "42"}
	want.att.Metadata = map[string]string{"retry": "yes"}
	want.ep.EventTypes = []string{"payment.succeeded", "payment.failed"}
	want.ev.Data = append([]byte(nil), ev.Data...)

	scribble := func(c customer.Customer, sub subscription.Subscription, pay subscription.Payment,
		att retry.Attempt, ep webhook.Endpoint, ev webhook.Event) {
		c.Metadata["tier"] = "scribbled"
		c.Metadata["extra"] = "x"
		c.Address.City = "scribbled"
		c.Shipping.Name = "scribbled"
		sub.Metadata["plan"] = "scribbled"
		sub.BillingAddress.Line1 = "scribbled"
		pay.Metadata["order"] = "scribbled"
		att.Metadata["retry"] = "scribbled"
		ep.EventTypes[0] = "scribbled"
		ev.Data[2] = 'X'
	}
	check := func(tx store.Tx) {
		gc, err := tx.Customer(c.ID)
		require.NoError(t, err)
		require.Equal(t, want.c, gc)
		gs, err := tx.Subscription(sub.ID)
		require.NoError(t, err)
		require.Equal(t, want.sub, gs)
		gp, err := tx.Payment(pay.ID)
		require.NoError(t, err)
		require.Equal(t, want.pay, gp)
		ga, err := tx.Attempt(att.ID)
		require.NoError(t, err)
		require.Equal(t, want.att, ga)
		ge, err := tx.Endpoint(ep.ID)
		require.NoError(t, err)
		require.Equal(t, want.ep, ge)
		gv, err := tx.Event(ev.ID)
		require.NoError(t, err)
		requireEvent(t, want.ev, gv)
	}
	update(t, s, func(tx store.Tx) {
		require.NoError(t, tx.InsertCustomer(c))
		require.NoError(t, tx.InsertSubscription(sub))
		require.NoError(t, tx.InsertPayment(pay))
		require.NoError(t, tx.PutAttempt(att))
		require.NoError(t, tx.PutEndpoint(ep))
		require.NoError(t, tx.InsertEvent(ev))
		// Scribbling on what was passed in changes nothing stored, even
		// within the same transaction.
		scribble(c, sub, pay, att, ep, ev)
		check(tx)
	})
	view(t, s, check)

	// Scribbling on what was read changes nothing stored either.
	update(t, s, func(tx store.Tx) {
		gc, _ := tx.Customer(c.ID)
		gs, _ := tx.Subscription(sub.ID)
		gp, _ := tx.Payment(pay.ID)
		ga, _ := tx.Attempt(att.ID)
		ge, _ := tx.Endpoint(ep.ID)
		gv, _ := tx.Event(ev.ID)
		scribble(gc, gs, gp, ga, ge, gv)
		check(tx)
		// And on what lists return.
		cs, _, err := tx.ListCustomers(store.CustomerQuery{})
		require.NoError(t, err)
		cs[0].Metadata["tier"] = "scribbled"
		cs[0].Address.City = "scribbled"
		ss, _, err := tx.ListSubscriptions(c.ID, store.Page{})
		require.NoError(t, err)
		ss[0].Metadata["plan"] = "scribbled"
		ss[0].BillingAddress.City = "scribbled"
		ps, _, err := tx.ListPayments(store.PaymentQuery{CustomerID: c.ID})
		require.NoError(t, err)
		ps[0].Metadata["order"] = "scribbled"
		ps, _, err = tx.ListPayments(store.PaymentQuery{})
		require.NoError(t, err)
		ps[0].Metadata["order"] = "scribbled"
		as, err := tx.AttemptsBySubscription(sub.ID)
		require.NoError(t, err)
		as[0].Metadata["retry"] = "scribbled"
		eps, err := tx.Endpoints()
		require.NoError(t, err)
		eps[0].EventTypes[1] = "scribbled"
		evs, err := tx.Events(0, 10)
		require.NoError(t, err)
		evs[0].Data[3] = 'Y'
		evs, err = tx.UndispatchedEvents(10)
		require.NoError(t, err)
		evs[0].Data[4] = 'Z'
		check(tx)
	})
	view(t, s, check)
}

func copyCustomerForTest(c customer.Customer) customer.Customer {
	a, sh := *c.Address, *c.Shipping
	c.Address, c.Shipping = &a, &sh
	c.Metadata = maps.Clone(c.Metadata)
	return c
}

func newSubscriptionCopy(s subscription.Subscription) subscription.Subscription {
	a := *s.BillingAddress
	s.BillingAddress = &a
	s.Metadata = map[string]string{"plan": "pro"}
	return s
}
