package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/webhook"
)

// The account-wide lists of store/query.go: order by (time, insertion),
// cursors both ways, every filter alone and in the documented combinations,
// index maintenance on update and rollback.

func testLists(t *testing.T, newStore newStoreFunc) {
	t.Run("Customers", func(t *testing.T) { testQueryCustomers(t, newStore) })
	t.Run("Payments", func(t *testing.T) { testQueryPayments(t, newStore) })
	t.Run("Subscriptions", func(t *testing.T) { testQuerySubscriptions(t, newStore) })
	t.Run("Products", func(t *testing.T) { testQueryProducts(t, newStore) })
	t.Run("Refunds", func(t *testing.T) { testQueryRefunds(t, newStore) })
	t.Run("Attempts", func(t *testing.T) { testQueryAttempts(t, newStore) })
	t.Run("Events", func(t *testing.T) { testQueryEvents(t, newStore) })
	t.Run("Endpoints", func(t *testing.T) { testQueryEndpoints(t, newStore) })
}

// queryIDs runs one query in a View and returns the ids it listed.
func queryIDs[T any](t *testing.T, s store.Store, q func(tx store.Tx) ([]T, bool, error), id func(T) string) []string {
	t.Helper()
	var out []string
	view(t, s, func(tx store.Tx) {
		list, _, err := q(tx)
		require.NoError(t, err)
		out = ids(list, id)
	})
	return out
}

func custID(c customer.Customer) string        { return c.ID }
func payID(p subscription.Payment) string      { return p.ID }
func subID(s subscription.Subscription) string { return s.ID }
func prodID(p subscription.Product) string     { return p.ID }
func refID(r subscription.Refund) string       { return r.ID }
func attID(a retry.Attempt) string             { return a.ID }
func evID(e webhook.Event) string              { return e.ID }
func epID(e webhook.Endpoint) string           { return e.ID }
func rng(from, to int) store.TimeRange         { return store.TimeRange{From: minutes(from), To: minutes(to)} }
func pick(all []string, idx ...int) (out []string) { // all is oldest first; out newest first
	for i := len(idx) - 1; i >= 0; i-- {
		out = append(out, all[idx[i]])
	}
	return out
}

func testQueryCustomers(t *testing.T, newStore newStoreFunc) {
	s := newStore(t)
	names := []string{"Ada Lovelace", "Alan Turing", "bob", "ADA King", "Ålborg Ltd", "", "Alan Kay"}
	emails := []string{"ada@example.com", "alan@example.com", "Shared@Example.com", "shared@example.COM", "", "x@example.com", "alan@example.com"}
	var all []string // oldest first
	update(t, s, func(tx store.Tx) {
		for i := range names {
			c := newCustomer(i)
			c.Name, c.Email, c.CreatedAt = names[i], emails[i], minutes(i)
			if i == 5 {
				c.DID = ""
			}
			require.NoError(t, tx.InsertCustomer(c))
			all = append(all, c.ID)
		}
	})
	list := func(q store.CustomerListQuery) []string {
		return queryIDs(t, s, func(tx store.Tx) ([]customer.Customer, bool, error) { return tx.QueryCustomers(q) }, custID)
	}
	every := pick(all, 0, 1, 2, 3, 4, 5, 6)
	requireIDs(t, every, list(store.CustomerListQuery{}))
	checkPaging(t, s, every, 2, func(tx store.Tx, p store.Page) ([]string, bool, error) {
		l, more, err := tx.QueryCustomers(store.CustomerListQuery{Page: p})
		return ids(l, custID), more, err
	})
	requireIDs(t, pick(all, 2, 3), list(store.CustomerListQuery{Email: "SHARED@example.com"}))
	requireIDs(t, pick(all, 1, 6), list(store.CustomerListQuery{Email: "alan@example.com"}))
	requireIDs(t, nil, list(store.CustomerListQuery{Email: "nobody@example.com"}))
	c3 := all[3]
	var did string
	view(t, s, func(tx store.Tx) {
		c, err := tx.Customer(c3)
		require.NoError(t, err)
		did = c.DID
	})
	requireIDs(t, []string{c3}, list(store.CustomerListQuery{DID: did}))
	requireIDs(t, nil, list(store.CustomerListQuery{DID: did, Email: "ada@example.com"}))
	requireIDs(t, pick(all, 0, 1, 3, 6), list(store.CustomerListQuery{NamePrefix: "a"}))
	requireIDs(t, pick(all, 0, 3), list(store.CustomerListQuery{NamePrefix: "Ada"}))
	requireIDs(t, pick(all, 1, 6), list(store.CustomerListQuery{NamePrefix: "ALAN "}))    // longer than the key
	requireIDs(t, pick(all, 1), list(store.CustomerListQuery{NamePrefix: "alan turing"})) // checked past the key
	requireIDs(t, pick(all, 4), list(store.CustomerListQuery{NamePrefix: "ålb"}))
	requireIDs(t, pick(all, 6), list(store.CustomerListQuery{NamePrefix: "alan", Email: "alan@example.com", Created: rng(2, 10)}))
	requireIDs(t, pick(all, 2, 3, 4), list(store.CustomerListQuery{Created: rng(2, 5)}))
	requireIDs(t, pick(all, 2, 3, 4, 5, 6), list(store.CustomerListQuery{Created: store.TimeRange{From: minutes(2)}}))
	requireIDs(t, pick(all, 0, 1), list(store.CustomerListQuery{Created: store.TimeRange{To: minutes(2)}}))
	checkPaging(t, s, pick(all, 0, 1, 3, 6), 1, func(tx store.Tx, p store.Page) ([]string, bool, error) {
		l, more, err := tx.QueryCustomers(store.CustomerListQuery{NamePrefix: "a", Page: p})
		return ids(l, custID), more, err
	})

	// An update moves the customer between scopes; a rolled-back one does not.
	update(t, s, func(tx store.Tx) {
		c, err := tx.Customer(all[2])
		require.NoError(t, err)
		c.Name, c.Email = "Adaline", "ada@example.com"
		require.NoError(t, tx.UpdateCustomer(c))
	})
	requireIDs(t, pick(all, 3), list(store.CustomerListQuery{Email: "shared@example.com"}))
	requireIDs(t, pick(all, 0, 2), list(store.CustomerListQuery{Email: "ada@example.com"}))
	requireIDs(t, pick(all, 0, 2, 3), list(store.CustomerListQuery{NamePrefix: "ada"}))
	require.Error(t, s.Update(ctx, func(tx store.Tx) error {
		c, err := tx.Customer(all[3])
		require.NoError(t, err)
		c.Name, c.Email = "Zed", "zed@example.com"
		require.NoError(t, tx.UpdateCustomer(c))
		n := newCustomer(9)
		n.Name, n.Email = "Zed", "zed@example.com"
		require.NoError(t, tx.InsertCustomer(n))
		return errRollback
	}))
	requireIDs(t, nil, list(store.CustomerListQuery{Email: "zed@example.com"}))
	requireIDs(t, nil, list(store.CustomerListQuery{NamePrefix: "z"}))
	requireIDs(t, pick(all, 3), list(store.CustomerListQuery{Email: "shared@example.com"}))
	requireIDs(t, every, list(store.CustomerListQuery{}))

	view(t, s, func(tx store.Tx) {
		_, _, err := tx.QueryCustomers(store.CustomerListQuery{Page: store.Page{StartingAfter: newID("cus")}})
		require.ErrorIs(t, err, store.ErrNotFound)
		_, _, err = tx.QueryCustomers(store.CustomerListQuery{Page: store.Page{EndingBefore: newID("cus")}})
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}

// testQueryPayments also checks that lists are ordered by CreatedAt before
// insertion: a payment created earlier but inserted later lists below.
func testQueryPayments(t *testing.T, newStore newStoreFunc) {
	s := newStore(t)
	var ca, cb string
	update(t, s, func(tx store.Tx) {
		a, b := newCustomer(1), newCustomer(2)
		require.NoError(t, tx.InsertCustomer(a))
		require.NoError(t, tx.InsertCustomer(b))
		ca, cb = a.ID, b.ID
	})
	type spec struct {
		cust, sub string
		st        subscription.PaymentStatus
		at        int
	}
	P, S, F := subscription.PaymentPending, subscription.PaymentSucceeded, subscription.PaymentFailed
	specs := []spec{
		{ca, "sub_a1", S, 0}, {ca, "sub_a1", F, 1}, {cb, "sub_b1", S, 2}, {ca, "", P, 3},
		{cb, "sub_b1", F, 4}, {ca, "sub_a2", S, 5}, {cb, "", S, 6}, {ca, "sub_a1", S, 7},
	}
	all := make([]string, len(specs))
	// Insert in another order than CreatedAt: 7 first, then 0..6.
	update(t, s, func(tx store.Tx) {
		for _, i := range []int{7, 0, 1, 2, 3, 4, 5, 6} {
			sp := specs[i]
			p := newPayment(sp.cust, "", sp.st)
			p.SubscriptionID, p.CreatedAt = sp.sub, minutes(sp.at)
			require.NoError(t, tx.InsertPayment(p))
			all[i] = p.ID
		}
	})
	list := func(q store.PaymentListQuery) []string {
		return queryIDs(t, s, func(tx store.Tx) ([]subscription.Payment, bool, error) { return tx.QueryPayments(q) }, payID)
	}
	every := pick(all, 0, 1, 2, 3, 4, 5, 6, 7)
	requireIDs(t, every, list(store.PaymentListQuery{}))
	checkPaging(t, s, every, 3, func(tx store.Tx, p store.Page) ([]string, bool, error) {
		l, more, err := tx.QueryPayments(store.PaymentListQuery{Page: p})
		return ids(l, payID), more, err
	})
	st := func(s ...subscription.PaymentStatus) []subscription.PaymentStatus { return s }
	for _, c := range []struct {
		q    store.PaymentListQuery
		want []int
	}{
		{store.PaymentListQuery{CustomerID: ca}, []int{0, 1, 3, 5, 7}},
		{store.PaymentListQuery{CustomerID: cb}, []int{2, 4, 6}},
		{store.PaymentListQuery{CustomerID: newID("cus")}, nil},
		{store.PaymentListQuery{SubscriptionID: "sub_a1"}, []int{0, 1, 7}},
		{store.PaymentListQuery{Statuses: st(S)}, []int{0, 2, 5, 6, 7}},
		{store.PaymentListQuery{Statuses: st(F, P)}, []int{1, 3, 4}},
		{store.PaymentListQuery{Statuses: st(F, F)}, []int{1, 4}},
		{store.PaymentListQuery{CustomerID: ca, Statuses: st(S)}, []int{0, 5, 7}},
		{store.PaymentListQuery{CustomerID: ca, Statuses: st(S, P)}, []int{0, 3, 5, 7}},
		{store.PaymentListQuery{SubscriptionID: "sub_a1", Statuses: st(S)}, []int{0, 7}},
		{store.PaymentListQuery{SubscriptionID: "sub_a1", CustomerID: ca}, []int{0, 1, 7}},
		{store.PaymentListQuery{SubscriptionID: "sub_a1", CustomerID: cb}, nil},
		{store.PaymentListQuery{Created: rng(2, 6)}, []int{2, 3, 4, 5}},
		{store.PaymentListQuery{CustomerID: ca, Created: rng(1, 6)}, []int{1, 3, 5}},
		{store.PaymentListQuery{Statuses: st(S, F), Created: rng(1, 5)}, []int{1, 2, 4}},
		{store.PaymentListQuery{SubscriptionID: "sub_a1", Created: rng(1, 100)}, []int{1, 7}},
	} {
		var want []string
		if c.want != nil {
			want = pick(all, c.want...)
		}
		requireIDs(t, want, list(c.q), "%+v", c.q)
	}
	checkPaging(t, s, pick(all, 1, 3, 4), 1, func(tx store.Tx, p store.Page) ([]string, bool, error) {
		l, more, err := tx.QueryPayments(store.PaymentListQuery{Statuses: st(P, F), Page: p})
		return ids(l, payID), more, err
	})
	// A cursor outside the filter still positions the page.
	requireIDs(t, pick(all, 0, 1), list(store.PaymentListQuery{CustomerID: ca, Page: store.Page{StartingAfter: all[2]}}))

	// A status change moves the payment; a rolled-back one does not.
	update(t, s, func(tx store.Tx) {
		p, err := tx.Payment(all[1])
		require.NoError(t, err)
		p.Status = S
		require.NoError(t, tx.UpdatePayment(p))
	})
	requireIDs(t, pick(all, 4), list(store.PaymentListQuery{Statuses: st(F)}))
	requireIDs(t, pick(all, 0, 1, 5, 7), list(store.PaymentListQuery{CustomerID: ca, Statuses: st(S)}))
	require.Error(t, s.Update(ctx, func(tx store.Tx) error {
		p, err := tx.Payment(all[4])
		require.NoError(t, err)
		p.Status = subscription.PaymentRefunded
		require.NoError(t, tx.UpdatePayment(p))
		require.NoError(t, tx.InsertPayment(newPayment(ca, "", subscription.PaymentRefunded)))
		return errRollback
	}))
	requireIDs(t, pick(all, 4), list(store.PaymentListQuery{Statuses: st(F)}))
	requireIDs(t, nil, list(store.PaymentListQuery{Statuses: st(subscription.PaymentRefunded)}))
	requireIDs(t, every, list(store.PaymentListQuery{}))
}

func testQuerySubscriptions(t *testing.T, newStore newStoreFunc) {
	s := newStore(t)
	var ca, cb string
	var all []string
	update(t, s, func(tx store.Tx) {
		a, b := newCustomer(1), newCustomer(2)
		require.NoError(t, tx.InsertCustomer(a))
		require.NoError(t, tx.InsertCustomer(b))
		ca, cb = a.ID, b.ID
		for i, c := range []string{ca, cb, ca, cb, ca} {
			sub := newSubscription(c)
			sub.CreatedAt = minutes(i)
			if i%2 == 1 {
				sub.Status = subscription.StatusPending
			}
			require.NoError(t, tx.InsertSubscription(sub))
			all = append(all, sub.ID)
		}
	})
	list := func(q store.SubscriptionListQuery) []string {
		return queryIDs(t, s, func(tx store.Tx) ([]subscription.Subscription, bool, error) { return tx.QuerySubscriptions(q) }, subID)
	}
	requireIDs(t, pick(all, 0, 1, 2, 3, 4), list(store.SubscriptionListQuery{}))
	requireIDs(t, pick(all, 0, 2, 4), list(store.SubscriptionListQuery{CustomerID: ca}))
	requireIDs(t, pick(all, 1, 3), list(store.SubscriptionListQuery{Status: subscription.StatusPending}))
	requireIDs(t, pick(all, 3), list(store.SubscriptionListQuery{CustomerID: cb, Status: subscription.StatusPending, Created: rng(2, 9)}))
	checkPaging(t, s, pick(all, 0, 1, 2, 3, 4), 2, func(tx store.Tx, p store.Page) ([]string, bool, error) {
		l, more, err := tx.QuerySubscriptions(store.SubscriptionListQuery{Page: p})
		return ids(l, subID), more, err
	})
	update(t, s, func(tx store.Tx) {
		sub, err := tx.Subscription(all[1])
		require.NoError(t, err)
		sub.Status = subscription.StatusCancelled
		require.NoError(t, tx.UpdateSubscription(sub))
	})
	requireIDs(t, pick(all, 3), list(store.SubscriptionListQuery{Status: subscription.StatusPending}))
	requireIDs(t, pick(all, 1), list(store.SubscriptionListQuery{CustomerID: cb, Status: subscription.StatusCancelled}))
}

func testQueryProducts(t *testing.T, newStore newStoreFunc) {
	s := newStore(t)
	var all []string
	update(t, s, func(tx store.Tx) {
		for i := range 5 {
			p := newProduct()
			p.CreatedAt = minutes(i)
			if i == 2 {
				p.IdempotencyKey = "plan-pro"
			}
			require.NoError(t, tx.PutProduct(p))
			all = append(all, p.ID)
		}
	})
	checkPaging(t, s, pick(all, 0, 1, 2, 3, 4), 2, func(tx store.Tx, p store.Page) ([]string, bool, error) {
		l, more, err := tx.QueryProducts(store.ProductListQuery{Page: p})
		return ids(l, prodID), more, err
	})
	requireIDs(t, pick(all, 1, 2), queryIDs(t, s, func(tx store.Tx) ([]subscription.Product, bool, error) {
		return tx.QueryProducts(store.ProductListQuery{Created: rng(1, 3)})
	}, prodID))
	view(t, s, func(tx store.Tx) {
		p, err := tx.ProductByKey("plan-pro")
		require.NoError(t, err)
		require.Equal(t, all[2], p.ID)
		_, err = tx.ProductByKey("other")
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = tx.ProductByKey("")
		require.ErrorIs(t, err, store.ErrNotFound)
	})
	err := s.Update(ctx, func(tx store.Tx) error {
		p := newProduct()
		p.IdempotencyKey = "plan-pro"
		return tx.PutProduct(p)
	})
	require.ErrorIs(t, err, store.ErrDuplicate)
	// Rewriting the product that holds the key keeps it.
	update(t, s, func(tx store.Tx) {
		p, err := tx.Product(all[2])
		require.NoError(t, err)
		p.Name = "Renamed"
		require.NoError(t, tx.PutProduct(p))
	})
	view(t, s, func(tx store.Tx) {
		p, err := tx.ProductByKey("plan-pro")
		require.NoError(t, err)
		require.Equal(t, "Renamed", p.Name)
	})
	// A rolled-back product frees its key.
	require.Error(t, s.Update(ctx, func(tx store.Tx) error {
		p := newProduct()
		p.IdempotencyKey = "plan-max"
		require.NoError(t, tx.PutProduct(p))
		return errRollback
	}))
	view(t, s, func(tx store.Tx) {
		_, err := tx.ProductByKey("plan-max")
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}

func testQueryRefunds(t *testing.T, newStore newStoreFunc) {
	s := newStore(t)
	var all []string
	var p1, p2 string
	update(t, s, func(tx store.Tx) {
		c := newCustomer(1)
		require.NoError(t, tx.InsertCustomer(c))
		a, b := newPayment(c.ID, "a", subscription.PaymentSucceeded), newPayment(c.ID, "b", subscription.PaymentSucceeded)
		require.NoError(t, tx.InsertPayment(a))
		require.NoError(t, tx.InsertPayment(b))
		p1, p2 = a.ID, b.ID
		for i, p := range []string{p1, p2, p1, p1} {
			r := newRefund(p, "", subscription.RefundSucceeded)
			r.CreatedAt = minutes(i)
			require.NoError(t, tx.InsertRefund(r))
			all = append(all, r.ID)
		}
	})
	list := func(q store.RefundListQuery) []string {
		return queryIDs(t, s, func(tx store.Tx) ([]subscription.Refund, bool, error) { return tx.QueryRefunds(q) }, refID)
	}
	requireIDs(t, pick(all, 0, 1, 2, 3), list(store.RefundListQuery{}))
	requireIDs(t, pick(all, 0, 2, 3), list(store.RefundListQuery{PaymentID: p1}))
	requireIDs(t, pick(all, 1), list(store.RefundListQuery{PaymentID: p2}))
	requireIDs(t, pick(all, 2), list(store.RefundListQuery{PaymentID: p1, Created: rng(1, 3)}))
	checkPaging(t, s, pick(all, 0, 2, 3), 1, func(tx store.Tx, p store.Page) ([]string, bool, error) {
		l, more, err := tx.QueryRefunds(store.RefundListQuery{PaymentID: p1, Page: p})
		return ids(l, refID), more, err
	})
}

// testQueryAttempts: the dunning queue lists soonest RunAt first.
func testQueryAttempts(t *testing.T, newStore newStoreFunc) {
	s := newStore(t)
	var all []string // by RunAt
	runAt := []int{50, 10, 30, 20, 40}
	order := []int{1, 3, 2, 4, 0} // indexes of runAt, ascending
	ids5 := make([]string, 5)
	update(t, s, func(tx store.Tx) {
		for i, at := range runAt {
			sub := "sub_x"
			if i%2 == 1 {
				sub = "sub_y"
			}
			st := retry.AttemptScheduled
			if i == 4 {
				st = retry.AttemptFailed
			}
			a := newAttempt(sub, "cus_1", i+1, st, minutes(at))
			require.NoError(t, tx.PutAttempt(a))
			ids5[i] = a.ID
		}
	})
	for _, i := range order {
		all = append(all, ids5[i])
	}
	list := func(q store.AttemptListQuery) []string {
		return queryIDs(t, s, func(tx store.Tx) ([]retry.Attempt, bool, error) { return tx.QueryAttempts(q) }, attID)
	}
	requireIDs(t, all, list(store.AttemptListQuery{}))
	checkPaging(t, s, all, 2, func(tx store.Tx, p store.Page) ([]string, bool, error) {
		l, more, err := tx.QueryAttempts(store.AttemptListQuery{Page: p})
		return ids(l, attID), more, err
	})
	requireIDs(t, []string{ids5[1], ids5[3], ids5[2]}, list(store.AttemptListQuery{Due: store.TimeRange{To: minutes(31)}}))
	requireIDs(t, []string{ids5[1], ids5[3], ids5[2], ids5[0]}, list(store.AttemptListQuery{Status: retry.AttemptScheduled}))
	requireIDs(t, []string{ids5[4]}, list(store.AttemptListQuery{Status: retry.AttemptFailed}))
	requireIDs(t, []string{ids5[2], ids5[4], ids5[0]}, list(store.AttemptListQuery{SubscriptionID: "sub_x"}))
	requireIDs(t, []string{ids5[2], ids5[0]}, list(store.AttemptListQuery{SubscriptionID: "sub_x", Status: retry.AttemptScheduled}))
	requireIDs(t, []string{ids5[3], ids5[2]}, list(store.AttemptListQuery{Status: retry.AttemptScheduled, Due: rng(20, 50)}))
	// Rescheduling moves an attempt in the queue.
	update(t, s, func(tx store.Tx) {
		a, err := tx.Attempt(ids5[0])
		require.NoError(t, err)
		a.RunAt = minutes(5)
		require.NoError(t, tx.PutAttempt(a))
	})
	requireIDs(t, []string{ids5[0], ids5[1], ids5[3], ids5[2]}, list(store.AttemptListQuery{Status: retry.AttemptScheduled}))
}

func testQueryEvents(t *testing.T, newStore newStoreFunc) {
	s := newStore(t)
	var all []string
	types := []string{"payment.succeeded", "customer.created", "payment.succeeded", "payment.failed", "payment.succeeded"}
	update(t, s, func(tx store.Tx) {
		for i, typ := range types {
			e := newEvent(typ, "cus_1")
			e.CreatedAt = minutes(i)
			require.NoError(t, tx.InsertEvent(e))
			all = append(all, e.ID)
		}
	})
	list := func(q store.EventListQuery) []string {
		return queryIDs(t, s, func(tx store.Tx) ([]webhook.Event, bool, error) { return tx.QueryEvents(q) }, evID)
	}
	requireIDs(t, pick(all, 0, 1, 2, 3, 4), list(store.EventListQuery{}))
	requireIDs(t, pick(all, 0, 2, 4), list(store.EventListQuery{Type: "payment.succeeded"}))
	requireIDs(t, pick(all, 2), list(store.EventListQuery{Type: "payment.succeeded", Created: rng(1, 4)}))
	requireIDs(t, nil, list(store.EventListQuery{Type: "nothing.happened"}))
	checkPaging(t, s, pick(all, 0, 2, 4), 2, func(tx store.Tx, p store.Page) ([]string, bool, error) {
		l, more, err := tx.QueryEvents(store.EventListQuery{Type: "payment.succeeded", Page: p})
		return ids(l, evID), more, err
	})
	view(t, s, func(tx store.Tx) {
		l, _, err := tx.QueryEvents(store.EventListQuery{Page: store.Page{Limit: 1}})
		require.NoError(t, err)
		require.Len(t, l, 1)
		got, err := tx.Event(all[4])
		require.NoError(t, err)
		require.Equal(t, got.Seq, l[0].Seq)
		require.JSONEq(t, string(got.Data), string(l[0].Data))
	})
	require.Error(t, s.Update(ctx, func(tx store.Tx) error {
		require.NoError(t, tx.InsertEvent(newEvent("payment.failed", "cus_1")))
		return errRollback
	}))
	requireIDs(t, pick(all, 3), list(store.EventListQuery{Type: "payment.failed"}))
}

func testQueryEndpoints(t *testing.T, newStore newStoreFunc) {
	s := newStore(t)
	var all []string
	update(t, s, func(tx store.Tx) {
		for i := range 4 {
			e := newEndpoint()
			e.CreatedAt = t0.Add(time.Duration(i) * time.Minute)
			if i == 1 {
				e.IdempotencyKey = "main-hook"
			}
			require.NoError(t, tx.PutEndpoint(e))
			all = append(all, e.ID)
		}
	})
	checkPaging(t, s, pick(all, 0, 1, 2, 3), 3, func(tx store.Tx, p store.Page) ([]string, bool, error) {
		l, more, err := tx.QueryEndpoints(store.EndpointListQuery{Page: p})
		return ids(l, epID), more, err
	})
	view(t, s, func(tx store.Tx) {
		e, err := tx.EndpointByKey("main-hook")
		require.NoError(t, err)
		require.Equal(t, all[1], e.ID)
		require.Equal(t, "whsec_abc", e.Secret)
		_, err = tx.EndpointByKey("nope")
		require.ErrorIs(t, err, store.ErrNotFound)
	})
	err := s.Update(ctx, func(tx store.Tx) error {
		e := newEndpoint()
		e.IdempotencyKey = "main-hook"
		return tx.PutEndpoint(e)
	})
	require.ErrorIs(t, err, store.ErrDuplicate)
	update(t, s, func(tx store.Tx) { require.NoError(t, tx.DeleteEndpoint(all[1])) })
	view(t, s, func(tx store.Tx) {
		_, err := tx.EndpointByKey("main-hook")
		require.ErrorIs(t, err, store.ErrNotFound)
	})
	requireIDs(t, pick(all, 0, 2, 3), queryIDs(t, s, func(tx store.Tx) ([]webhook.Endpoint, bool, error) {
		return tx.QueryEndpoints(store.EndpointListQuery{})
	}, epID))
	// The key is free again once its endpoint is deleted.
	update(t, s, func(tx store.Tx) {
		e := newEndpoint()
		e.IdempotencyKey = "main-hook"
		require.NoError(t, tx.PutEndpoint(e))
	})
}

var errRollback = errors.New("storetest: roll back")
