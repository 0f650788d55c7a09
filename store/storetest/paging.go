package storetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/webhook"
)

func ids[T any](list []T, id func(T) string) []string {
	out := make([]string, 0, len(list))
	for _, v := range list {
		out = append(out, id(v))
	}
	return out
}

// requireIDs compares id lists, nil and empty alike.
func requireIDs(t *testing.T, want, got []string, msgAndArgs ...any) {
	t.Helper()
	if len(want) == 0 && len(got) == 0 {
		return
	}
	require.Equal(t, want, got, msgAndArgs...)
}

// lister lists one page of a newest-first list, as ids.
type lister func(tx store.Tx, p store.Page) ([]string, bool, error)

// checkPaging walks a list forwards with StartingAfter and backwards with
// EndingBefore, limit records at a time, and checks every page against want
// (all ids of the list, newest first): each record is visited once, in
// order, and hasMore is true exactly while records remain in the walking
// direction.
func checkPaging(t *testing.T, s store.Store, want []string, limit int, list lister) {
	t.Helper()
	page := func(p store.Page) ([]string, bool) {
		t.Helper()
		var (
			got  []string
			more bool
		)
		view(t, s, func(tx store.Tx) {
			var err error
			got, more, err = list(tx, p)
			require.NoError(t, err)
		})
		return got, more
	}
	n := len(want)

	// Forwards from the newest.
	var seen []string
	p := store.Page{Limit: limit}
	for i := 0; ; i++ {
		got, more := page(p)
		lo, hi := i*limit, min((i+1)*limit, n)
		requireIDs(t, want[lo:hi], got, "forward page %d", i)
		require.Equal(t, hi < n, more, "forward page %d hasMore", i)
		seen = append(seen, got...)
		if !more {
			break
		}
		require.Less(t, i, n, "forward walk does not end")
		p.StartingAfter = got[len(got)-1]
	}
	requireIDs(t, want, seen, "forward walk")
	if n == 0 {
		return
	}

	// Backwards from the oldest: each page holds the records just newer than
	// the cursor, still newest first.
	rest := want[:n-1]
	var back [][]string
	p = store.Page{Limit: limit, EndingBefore: want[n-1]}
	for i := 0; ; i++ {
		got, more := page(p)
		hi := len(rest) - i*limit
		lo := max(0, hi-limit)
		requireIDs(t, rest[lo:hi], got, "backward page %d", i)
		require.Equal(t, lo > 0, more, "backward page %d hasMore", i)
		back = append([][]string{got}, back...)
		if !more {
			break
		}
		require.Less(t, i, n, "backward walk does not end")
		p.EndingBefore = got[0]
	}
	seen = nil
	for _, pg := range back {
		seen = append(seen, pg...)
	}
	require.Equal(t, want, append(seen, want[n-1]))

	// Past either end.
	got, more := page(store.Page{Limit: limit, StartingAfter: want[n-1]})
	require.Empty(t, got)
	require.False(t, more)
	got, more = page(store.Page{Limit: limit, EndingBefore: want[0]})
	require.Empty(t, got)
	require.False(t, more)
}

// checkLimits checks the default and maximum page sizes and unknown cursors
// on a list holding want (newest first, more than DefaultLimit records).
func checkLimits(t *testing.T, s store.Store, want []string, list lister) {
	t.Helper()
	require.Greater(t, len(want), store.DefaultLimit)
	view(t, s, func(tx store.Tx) {
		for _, limit := range []int{0, -1} {
			got, more, err := list(tx, store.Page{Limit: limit})
			require.NoError(t, err)
			require.Equal(t, want[:store.DefaultLimit], got, "limit %d", limit)
			require.True(t, more)
		}
		got, more, err := list(tx, store.Page{Limit: store.MaxLimit + 50})
		require.NoError(t, err)
		wantN := min(len(want), store.MaxLimit)
		require.Equal(t, want[:wantN], got)
		require.Equal(t, len(want) > store.MaxLimit, more)

		got, more, err = list(tx, store.Page{Limit: 1})
		require.NoError(t, err)
		require.Equal(t, want[:1], got)
		require.True(t, more)

		_, _, err = list(tx, store.Page{StartingAfter: newID("missing")})
		require.ErrorIs(t, err, store.ErrNotFound)
		_, _, err = list(tx, store.Page{EndingBefore: newID("missing")})
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}

// prepend builds a newest-first id list.
func prepend(list []string, id string) []string { return append([]string{id}, list...) }

func testPagination(t *testing.T, newStore newStoreFunc) {
	const n, limit = 45, 10
	// Records are inserted in three transactions, all with the same
	// CreatedAt, interleaved with records of another owner that must not
	// show up: order comes from the store's insertion sequence alone.
	batches := func(fn func(tx store.Tx, i int)) func(t *testing.T, s store.Store) {
		return func(t *testing.T, s store.Store) {
			for b := 0; b < 3; b++ {
				update(t, s, func(tx store.Tx) {
					for i := b * n / 3; i < (b+1)*n/3; i++ {
						fn(tx, i)
					}
				})
			}
		}
	}

	t.Run("Customers", func(t *testing.T) {
		s := newStore(t)
		var want []string
		batches(func(tx store.Tx, i int) {
			c := newCustomer(i)
			require.NoError(t, tx.InsertCustomer(c))
			want = prepend(want, c.ID)
		})(t, s)
		list := func(tx store.Tx, p store.Page) ([]string, bool, error) {
			got, more, err := tx.ListCustomers(store.CustomerQuery{Page: p})
			return ids(got, func(c customer.Customer) string { return c.ID }), more, err
		}
		checkPaging(t, s, want, limit, list)
		checkLimits(t, s, want, list)
		// Middle pages from either side.
		view(t, s, func(tx store.Tx) {
			got, more, err := list(tx, store.Page{Limit: limit, StartingAfter: want[9]})
			require.NoError(t, err)
			require.Equal(t, want[10:20], got)
			require.True(t, more)
			got, more, err = list(tx, store.Page{Limit: limit, EndingBefore: want[20]})
			require.NoError(t, err)
			require.Equal(t, want[10:20], got)
			require.True(t, more)
			got, more, err = list(tx, store.Page{Limit: limit, EndingBefore: want[5]})
			require.NoError(t, err)
			require.Equal(t, want[0:5], got)
			require.False(t, more)
		})
	})
	t.Run("MaxLimit", func(t *testing.T) {
		s := newStore(t)
		var want []string
		update(t, s, func(tx store.Tx) {
			for i := 0; i < store.MaxLimit+5; i++ {
				c := newCustomer(i)
				c.DID = ""
				require.NoError(t, tx.InsertCustomer(c))
				want = prepend(want, c.ID)
			}
		})
		checkLimits(t, s, want, func(tx store.Tx, p store.Page) ([]string, bool, error) {
			got, more, err := tx.ListCustomers(store.CustomerQuery{Page: p})
			return ids(got, func(c customer.Customer) string { return c.ID }), more, err
		})
	})
	t.Run("Entries", func(t *testing.T) {
		s := newStore(t)
		cus, other := newID("cus"), newID("cus")
		addCustomers(t, s, cus, other)
		var want, inr []string
		batches(func(tx store.Tx, i int) {
			cur := "USD"
			if i%3 == 0 {
				cur = "INR"
			}
			e := newEntry(cus, cur, "")
			require.NoError(t, tx.InsertEntry(e))
			require.NoError(t, tx.InsertEntry(newEntry(other, cur, "")))
			want = prepend(want, e.ID)
			if cur == "INR" {
				inr = prepend(inr, e.ID)
			}
		})(t, s)
		list := func(currency string) lister {
			return func(tx store.Tx, p store.Page) ([]string, bool, error) {
				got, more, err := tx.ListEntries(store.EntryQuery{CustomerID: cus, Currency: currency, Page: p})
				for _, e := range got {
					require.Equal(t, cus, e.CustomerID)
				}
				return ids(got, func(e ledger.Entry) string { return e.ID }), more, err
			}
		}
		checkPaging(t, s, want, limit, list(""))
		checkLimits(t, s, want, list(""))
		require.Len(t, inr, 15)
		checkPaging(t, s, inr, 4, list("INR"))
		checkPaging(t, s, nil, 4, list("EUR"))
		view(t, s, func(tx store.Tx) {
			got, more, err := tx.ListEntries(store.EntryQuery{CustomerID: newID("cus")})
			require.NoError(t, err)
			require.Empty(t, got)
			require.False(t, more)
		})
	})
	t.Run("Subscriptions", func(t *testing.T) {
		s := newStore(t)
		cus, other := newID("cus"), newID("cus")
		addCustomers(t, s, cus, other)
		var want []string
		batches(func(tx store.Tx, i int) {
			sub := newSubscription(cus)
			require.NoError(t, tx.InsertSubscription(sub))
			require.NoError(t, tx.InsertSubscription(newSubscription(other)))
			want = prepend(want, sub.ID)
		})(t, s)
		list := func(tx store.Tx, p store.Page) ([]string, bool, error) {
			got, more, err := tx.ListSubscriptions(cus, p)
			return ids(got, func(s subscription.Subscription) string { return s.ID }), more, err
		}
		checkPaging(t, s, want, limit, list)
		checkLimits(t, s, want, list)
		view(t, s, func(tx store.Tx) {
			got, more, err := tx.ListSubscriptions(newID("cus"), store.Page{})
			require.NoError(t, err)
			require.Empty(t, got)
			require.False(t, more)
		})
	})
	t.Run("Payments", func(t *testing.T) {
		s := newStore(t)
		cus, other := newID("cus"), newID("cus")
		addCustomers(t, s, cus, other)
		var want, all, failed, otherFailedOrPending []string
		statuses := []subscription.PaymentStatus{subscription.PaymentSucceeded, subscription.PaymentFailed,
			subscription.PaymentPending, subscription.PaymentRefunded, subscription.PaymentPartiallyRefunded}
		batches(func(tx store.Tx, i int) {
			p := newPayment(cus, "", statuses[i%len(statuses)])
			q := newPayment(other, "", statuses[(i+1)%len(statuses)])
			require.NoError(t, tx.InsertPayment(p))
			require.NoError(t, tx.InsertPayment(q))
			want = prepend(want, p.ID)
			all = prepend(prepend(all, p.ID), q.ID)
			if p.Status == subscription.PaymentFailed {
				failed = prepend(failed, p.ID)
			}
			for _, x := range []subscription.Payment{p, q} {
				if x.Status == subscription.PaymentFailed || x.Status == subscription.PaymentPending {
					otherFailedOrPending = prepend(otherFailedOrPending, x.ID)
				}
			}
		})(t, s)
		list := func(customerID string, st ...subscription.PaymentStatus) lister {
			return func(tx store.Tx, p store.Page) ([]string, bool, error) {
				got, more, err := tx.ListPayments(store.PaymentQuery{CustomerID: customerID, Statuses: st, Page: p})
				return ids(got, func(p subscription.Payment) string { return p.ID }), more, err
			}
		}
		checkPaging(t, s, want, limit, list(cus))
		checkLimits(t, s, want, list(cus))
		checkPaging(t, s, all, limit, list(""))
		checkLimits(t, s, all, list(""))
		checkPaging(t, s, failed, 4, list(cus, subscription.PaymentFailed))
		checkPaging(t, s, otherFailedOrPending, 7, list("", subscription.PaymentFailed, subscription.PaymentPending))
		checkPaging(t, s, nil, 3, list(newID("cus")))
	})
	t.Run("Deliveries", func(t *testing.T) {
		s := newStore(t)
		ep, otherEp := newID("we"), newID("we")
		evA, evB := newID("evt"), newID("evt")
		addEvents(t, s, evA, evB)
		var byEp, byEvA, pendingOnEp, all []string
		batches(func(tx store.Tx, i int) {
			ev := evA
			if i%2 == 1 {
				ev = evB
			}
			st := webhook.DeliveryPending
			if i%4 == 0 {
				st = webhook.DeliverySucceeded
			}
			d := newDelivery(ev, ep, st, t0)
			o := newDelivery(ev, otherEp, webhook.DeliveryPending, t0)
			require.NoError(t, tx.PutDelivery(d))
			require.NoError(t, tx.PutDelivery(o))
			byEp = prepend(byEp, d.ID)
			all = prepend(prepend(all, d.ID), o.ID)
			if ev == evA {
				byEvA = prepend(prepend(byEvA, d.ID), o.ID)
			}
			if st == webhook.DeliveryPending {
				pendingOnEp = prepend(pendingOnEp, d.ID)
			}
		})(t, s)
		list := func(q store.DeliveryQuery) lister {
			return func(tx store.Tx, p store.Page) ([]string, bool, error) {
				q.Page = p
				got, more, err := tx.ListDeliveries(q)
				return ids(got, func(d webhook.Delivery) string { return d.ID }), more, err
			}
		}
		checkPaging(t, s, byEp, limit, list(store.DeliveryQuery{EndpointID: ep}))
		checkLimits(t, s, byEp, list(store.DeliveryQuery{EndpointID: ep}))
		checkPaging(t, s, all, limit, list(store.DeliveryQuery{}))
		checkPaging(t, s, byEvA, limit, list(store.DeliveryQuery{EventID: evA}))
		checkPaging(t, s, pendingOnEp, 6, list(store.DeliveryQuery{EndpointID: ep, Status: webhook.DeliveryPending}))
		var succeededA []string
		view(t, s, func(tx store.Tx) {
			for _, id := range byEvA {
				d, err := tx.Delivery(id)
				require.NoError(t, err)
				if d.Status == webhook.DeliverySucceeded {
					succeededA = append(succeededA, id)
				}
			}
		})
		require.NotEmpty(t, succeededA)
		checkPaging(t, s, succeededA, 3, list(store.DeliveryQuery{EventID: evA, EndpointID: ep, Status: webhook.DeliverySucceeded}))
		checkPaging(t, s, nil, 3, list(store.DeliveryQuery{EventID: newID("evt")}))
	})
}
