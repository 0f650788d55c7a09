package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
	"github.com/cofferhq/coffer/webhook"
)

// fixture is a store holding a few records of every kind, and the dump of
// everything readable about them.
type fixture struct {
	c1, c2, c3          string
	did1                string
	entries             []string
	hold, product       string
	s1, s2              string
	pay1, pay2, pay3    string
	r1, r2              string
	ev1, ev2, ev3       string
	a1, a2, a3          string
	ep1, ep2            string
	d1, d2, d3          string
	customers, payments []string
	dump                map[string]any
}

var far = t0.Add(365 * 24 * time.Hour)

// populate writes the fixture in several transactions.
func populate(t *testing.T, s store.Store) *fixture {
	t.Helper()
	fx := &fixture{}
	c1, c2, c3 := newCustomer(1), newCustomer(2), newCustomer(3)
	c3.DID = ""
	fx.c1, fx.c2, fx.c3, fx.did1 = c1.ID, c2.ID, c3.ID, c1.DID
	update(t, s, func(tx store.Tx) {
		for _, c := range []customer.Customer{c1, c2, c3} {
			require.NoError(t, tx.InsertCustomer(c))
		}
		for _, b := range []wallet.Balance{newBalance(c1.ID, "USD", 1000), newBalance(c1.ID, "INR", 50000),
			newBalance(c2.ID, "USD", 0)} {
			require.NoError(t, tx.PutBalance(b))
		}
		for _, e := range []ledger.Entry{newEntry(c1.ID, "USD", "k1"), newEntry(c1.ID, "INR", "k2"),
			newEntry(c1.ID, "USD", ""), newEntry(c2.ID, "USD", "k1")} {
			require.NoError(t, tx.InsertEntry(e))
			fx.entries = append(fx.entries, e.ID)
		}
		h, p := newHold(c1.ID), newProduct()
		fx.hold, fx.product = h.ID, p.ID
		require.NoError(t, tx.PutHold(h))
		require.NoError(t, tx.PutProduct(p))
	})
	update(t, s, func(tx store.Tx) {
		s1, s2 := newSubscription(c1.ID), newSubscription(c1.ID)
		s2.Status = subscription.StatusPending
		fx.s1, fx.s2 = s1.ID, s2.ID
		require.NoError(t, tx.InsertSubscription(s1))
		require.NoError(t, tx.InsertSubscription(s2))
		p1 := newPayment(c1.ID, "pk1", subscription.PaymentSucceeded)
		p2 := newPayment(c1.ID, "pk2", subscription.PaymentFailed)
		p3 := newPayment(c2.ID, "", subscription.PaymentPending)
		fx.pay1, fx.pay2, fx.pay3 = p1.ID, p2.ID, p3.ID
		for _, p := range []subscription.Payment{p1, p2, p3} {
			require.NoError(t, tx.InsertPayment(p))
		}
		r1, r2 := newRefund(p1.ID, "rk1", subscription.RefundPending), newRefund(p1.ID, "rk2", subscription.RefundSucceeded)
		fx.r1, fx.r2 = r1.ID, r2.ID
		require.NoError(t, tx.InsertRefund(r1))
		require.NoError(t, tx.InsertRefund(r2))
	})
	update(t, s, func(tx store.Tx) {
		e1, e2, e3 := newEvent("payment.succeeded", c1.ID), newEvent("payment.failed", c1.ID), newEvent("customer.created", "")
		fx.ev1, fx.ev2, fx.ev3 = e1.ID, e2.ID, e3.ID
		for _, e := range []webhook.Event{e1, e2, e3} {
			require.NoError(t, tx.InsertEvent(e))
		}
		a1 := newAttempt(fx.s1, c1.ID, 2, retry.AttemptScheduled, t0.Add(-time.Hour))
		a2 := newAttempt(fx.s1, c1.ID, 3, retry.AttemptClaimed, t0.Add(5*time.Minute))
		a2.LeaseOwner, a2.LeaseUntil = "runner-1", t0.Add(5*time.Minute)
		a3 := newAttempt(fx.s2, c1.ID, 2, retry.AttemptFailed, t0.Add(-2*time.Hour))
		fx.a1, fx.a2, fx.a3 = a1.ID, a2.ID, a3.ID
		for _, a := range []retry.Attempt{a1, a2, a3} {
			require.NoError(t, tx.PutAttempt(a))
		}
		ep1, ep2 := newEndpoint(), newEndpoint()
		fx.ep1, fx.ep2 = ep1.ID, ep2.ID
		require.NoError(t, tx.PutEndpoint(ep1))
		require.NoError(t, tx.PutEndpoint(ep2))
		d1 := newDelivery(e1.ID, ep1.ID, webhook.DeliveryPending, t0.Add(-time.Minute))
		d2 := newDelivery(e1.ID, ep2.ID, webhook.DeliverySucceeded, t0.Add(-time.Minute))
		d3 := newDelivery(e3.ID, ep1.ID, webhook.DeliveryClaimed, t0.Add(time.Minute))
		fx.d1, fx.d2, fx.d3 = d1.ID, d2.ID, d3.ID
		for _, d := range []webhook.Delivery{d1, d2, d3} {
			require.NoError(t, tx.PutDelivery(d))
		}
	})
	update(t, s, func(tx store.Tx) { require.NoError(t, tx.MarkEventDispatched(fx.ev2)) })
	fx.dump = dump(t, s, fx)
	return fx
}

// dump reads everything about the fixture through every read method. A
// record not found is recorded as such, so dumps after changes compare.
func dump(t *testing.T, s store.Store, fx *fixture) map[string]any {
	t.Helper()
	d := map[string]any{}
	put := func(name string, v any, err error) {
		t.Helper()
		if errors.Is(err, store.ErrNotFound) {
			d[name] = "not found"
			return
		}
		require.NoError(t, err, name)
		d[name] = v
	}
	view(t, s, func(tx store.Tx) {
		for _, id := range []string{fx.c1, fx.c2, fx.c3} {
			v, err := tx.Customer(id)
			put("customer "+id, v, err)
			b, err := tx.Balances(id)
			put("balances "+id, b, err)
			es, more, err := tx.ListEntries(store.EntryQuery{CustomerID: id, Page: store.Page{Limit: store.MaxLimit}})
			put("entries of "+id, []any{es, more}, err)
			ss, more, err := tx.ListSubscriptions(id, store.Page{Limit: store.MaxLimit})
			put("subscriptions of "+id, []any{ss, more}, err)
			ps, more, err := tx.ListPayments(store.PaymentQuery{CustomerID: id, Page: store.Page{Limit: store.MaxLimit}})
			put("payments of "+id, []any{ps, more}, err)
		}
		v, err := tx.CustomerByDID(fx.did1)
		put("did", v, err)
		b, err := tx.Balance(fx.c1, "USD")
		put("balance c1 USD", b, err)
		cs, more, err := tx.ListCustomers(store.CustomerQuery{Page: store.Page{Limit: store.MaxLimit}})
		put("customers", []any{cs, more}, err)
		for _, id := range fx.entries {
			e, err := tx.Entry(id)
			put("entry "+id, e, err)
		}
		for _, k := range [][2]string{{fx.c1, "k1"}, {fx.c1, "k2"}, {fx.c2, "k1"}} {
			e, err := tx.EntryByKey(k[0], k[1])
			put("entry key "+k[0]+k[1], e, err)
		}
		h, err := tx.Hold(fx.hold)
		put("hold", h, err)
		p, err := tx.Product(fx.product)
		put("product", p, err)
		for _, id := range []string{fx.s1, fx.s2} {
			s, err := tx.Subscription(id)
			put("subscription "+id, s, err)
			as, err := tx.AttemptsBySubscription(id)
			put("attempts of "+id, as, err)
		}
		for _, id := range []string{fx.pay1, fx.pay2, fx.pay3} {
			p, err := tx.Payment(id)
			put("payment "+id, p, err)
			rs, err := tx.ListRefunds(id)
			put("refunds of "+id, rs, err)
		}
		for _, k := range [][2]string{{fx.c1, "pk1"}, {fx.c1, "pk2"}} {
			p, err := tx.PaymentByKey(k[0], k[1])
			put("payment key "+k[1], p, err)
		}
		ps, more, err := tx.ListPayments(store.PaymentQuery{Page: store.Page{Limit: store.MaxLimit}})
		put("payments", []any{ps, more}, err)
		ps, more, err = tx.ListPayments(store.PaymentQuery{Statuses: []subscription.PaymentStatus{subscription.PaymentFailed}})
		put("failed payments", []any{ps, more}, err)
		for _, id := range []string{fx.r1, fx.r2} {
			r, err := tx.Refund(id)
			put("refund "+id, r, err)
		}
		for _, k := range []string{"rk1", "rk2"} {
			r, err := tx.RefundByKey(fx.pay1, k)
			put("refund key "+k, r, err)
		}
		rs, err := tx.PendingRefunds(100)
		put("pending refunds", rs, err)
		for _, id := range []string{fx.ev1, fx.ev2, fx.ev3} {
			e, err := tx.Event(id)
			put("event "+id, e, err)
		}
		evs, err := tx.Events(0, 100)
		put("events", evs, err)
		evs, err = tx.UndispatchedEvents(100)
		put("undispatched", evs, err)
		for _, id := range []string{fx.a1, fx.a2, fx.a3} {
			a, err := tx.Attempt(id)
			put("attempt "+id, a, err)
		}
		as, err := tx.DueNotices(far, 100)
		put("due notices", as, err)
		as, err = tx.DueNotices(t0, 100)
		put("due notices now", as, err)
		eps, err := tx.Endpoints()
		put("endpoints", eps, err)
		for _, id := range []string{fx.ep1, fx.ep2} {
			e, err := tx.Endpoint(id)
			put("endpoint "+id, e, err)
		}
		for _, id := range []string{fx.d1, fx.d2, fx.d3} {
			dl, err := tx.Delivery(id)
			put("delivery "+id, dl, err)
		}
		ds, err := tx.DueDeliveries(far, 100)
		put("due deliveries", ds, err)
		ds, err = tx.DueDeliveries(t0, 100)
		put("due deliveries now", ds, err)
		dl, more, err := tx.ListDeliveries(store.DeliveryQuery{Page: store.Page{Limit: store.MaxLimit}})
		put("deliveries", []any{dl, more}, err)
		dl, more, err = tx.ListDeliveries(store.DeliveryQuery{EventID: fx.ev1})
		put("deliveries of ev1", []any{dl, more}, err)
	})
	return d
}

// mutation is a transaction's worth of writes of every kind against a
// fixture: new records and changes to existing ones.
type mutation struct {
	customer    customer.Customer
	c1          customer.Customer
	entry       ledger.Entry
	hold        ledger.Hold
	product     subscription.Product
	sub         subscription.Subscription
	payment     subscription.Payment
	refund      subscription.Refund
	event       webhook.Event
	attempt     retry.Attempt
	endpoint    webhook.Endpoint
	delivery    webhook.Delivery
	newC1DID    string
	removedEp   string
	dispatched  string
	finishedAtt string
}

func newMutation(t *testing.T, s store.Store, fx *fixture) *mutation {
	m := &mutation{
		customer:    newCustomer(9),
		entry:       newEntry(fx.c1, "USD", "k-new"),
		hold:        newHold(fx.c1),
		product:     newProduct(),
		sub:         newSubscription(fx.c1),
		payment:     newPayment(fx.c1, "pk-new", subscription.PaymentPending),
		refund:      newRefund(fx.pay1, "rk-new", subscription.RefundPending),
		event:       newEvent("customer.created", ""),
		attempt:     newAttempt(fx.s1, fx.c1, 4, retry.AttemptScheduled, t0.Add(-3*time.Hour)),
		endpoint:    newEndpoint(),
		delivery:    newDelivery(fx.ev3, fx.ep1, webhook.DeliveryPending, t0.Add(-time.Hour)),
		newC1DID:    "did:example:changed:" + fx.c1,
		removedEp:   fx.ep2,
		dispatched:  fx.ev1,
		finishedAtt: fx.a2,
	}
	view(t, s, func(tx store.Tx) {
		var err error
		m.c1, err = tx.Customer(fx.c1)
		require.NoError(t, err)
	})
	m.c1.DID, m.c1.Name = m.newC1DID, "Changed"
	return m
}

// apply writes m; every write must succeed.
func (m *mutation) apply(t *testing.T, tx store.Tx, fx *fixture) {
	t.Helper()
	require.NoError(t, tx.InsertCustomer(m.customer))
	require.NoError(t, tx.UpdateCustomer(m.c1))
	got, err := tx.CustomerByDID(m.newC1DID)
	require.NoError(t, err, "a transaction reads its own writes")
	require.Equal(t, fx.c1, got.ID)

	require.NoError(t, tx.PutBalance(newBalance(fx.c1, "EUR", 10)))
	require.NoError(t, tx.PutBalance(newBalance(fx.c1, "USD", 1)))
	require.NoError(t, tx.PutBalance(newBalance(m.customer.ID, "USD", 7)))
	require.NoError(t, tx.InsertEntry(m.entry))
	require.NoError(t, tx.InsertEntry(newEntry(m.customer.ID, "USD", "k1")))

	h, err := tx.Hold(fx.hold)
	require.NoError(t, err)
	h.Status = ledger.HoldReleased
	require.NoError(t, tx.PutHold(h))
	require.NoError(t, tx.PutHold(m.hold))
	p, err := tx.Product(fx.product)
	require.NoError(t, err)
	p.Price++
	require.NoError(t, tx.PutProduct(p))
	require.NoError(t, tx.PutProduct(m.product))

	require.NoError(t, tx.InsertSubscription(m.sub))
	sub, err := tx.Subscription(fx.s1)
	require.NoError(t, err)
	sub.Status = subscription.StatusOnHold
	require.NoError(t, tx.UpdateSubscription(sub))

	require.NoError(t, tx.InsertPayment(m.payment))
	pay, err := tx.Payment(fx.pay2)
	require.NoError(t, err)
	pay.Status, pay.IdempotencyKey = subscription.PaymentSucceeded, "pk2-changed"
	require.NoError(t, tx.UpdatePayment(pay))

	require.NoError(t, tx.InsertRefund(m.refund))
	r, err := tx.Refund(fx.r1)
	require.NoError(t, err)
	r.Status = subscription.RefundFailed
	require.NoError(t, tx.UpdateRefund(r))

	require.NoError(t, tx.InsertEvent(m.event))
	require.NoError(t, tx.MarkEventDispatched(m.dispatched))

	require.NoError(t, tx.PutAttempt(m.attempt))
	a, err := tx.Attempt(fx.a1)
	require.NoError(t, err)
	a.Status = retry.AttemptCancelled
	require.NoError(t, tx.PutAttempt(a))
	a, err = tx.Attempt(m.finishedAtt)
	require.NoError(t, err)
	a.Status, a.LeaseOwner = retry.AttemptSucceeded, ""
	require.NoError(t, tx.PutAttempt(a))

	require.NoError(t, tx.PutEndpoint(m.endpoint))
	ep, err := tx.Endpoint(fx.ep1)
	require.NoError(t, err)
	ep.Disabled = true
	require.NoError(t, tx.PutEndpoint(ep))
	require.NoError(t, tx.DeleteEndpoint(m.removedEp))

	require.NoError(t, tx.PutDelivery(m.delivery))
	dl, err := tx.Delivery(fx.d1)
	require.NoError(t, err)
	dl.Status = webhook.DeliveryFailed
	require.NoError(t, tx.PutDelivery(dl))
	dl, err = tx.Delivery(fx.d3)
	require.NoError(t, err)
	dl.RunAt = t0.Add(-2 * time.Hour)
	require.NoError(t, tx.PutDelivery(dl))
}

// requireApplied checks that m's writes are visible.
func (m *mutation) requireApplied(t *testing.T, s store.Store, fx *fixture) {
	t.Helper()
	view(t, s, func(tx store.Tx) {
		_, err := tx.Customer(m.customer.ID)
		require.NoError(t, err)
		c, err := tx.CustomerByDID(m.newC1DID)
		require.NoError(t, err)
		require.Equal(t, fx.c1, c.ID)
		_, err = tx.CustomerByDID(fx.did1)
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = tx.EntryByKey(fx.c1, "k-new")
		require.NoError(t, err)
		_, err = tx.PaymentByKey(fx.c1, "pk2-changed")
		require.NoError(t, err)
		_, err = tx.PaymentByKey(fx.c1, "pk2")
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = tx.Endpoint(m.removedEp)
		require.ErrorIs(t, err, store.ErrNotFound)
		e, err := tx.Event(m.event.ID)
		require.NoError(t, err)
		old, err := tx.Event(fx.ev3)
		require.NoError(t, err)
		require.Greater(t, e.Seq, old.Seq)
	})
}
