package bolt

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.etcd.io/bbolt"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
	"github.com/cofferhq/coffer/webhook"
)

var t0 = time.Date(2025, 3, 1, 13, 10, 0, 0, time.UTC)

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "coffer.db")
	s, err := Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s, path
}

func update(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	require.NoError(t, s.Update(context.Background(), fn))
}

func view(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	require.NoError(t, s.View(context.Background(), fn))
}

// checkFile runs bbolt's own consistency check over the whole file.
func checkFile(t *testing.T, s *Store) {
	t.Helper()
	require.NoError(t, s.db.View(func(btx *bbolt.Tx) error {
		var errs []error
		for err := range btx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	}))
}

// fixture is one record of every kind, with every index populated.
type fixture struct {
	cust       customer.Customer
	balances   []wallet.Balance
	entries    []ledger.Entry
	hold       ledger.Hold
	product    subscription.Product
	sub        subscription.Subscription
	payments   []subscription.Payment
	refund     subscription.Refund
	events     []webhook.Event
	attempts   []retry.Attempt
	endpoint   webhook.Endpoint
	deliveries []webhook.Delivery
}

func newFixture() fixture {
	f := fixture{}
	f.cust = customer.Customer{ID: "cus_1", Name: "Ada", Email: "Ada@Example.com", DID: "did:web:ada",
		Metadata: map[string]string{"k": "v"}, Address: &customer.Address{Country: "GB"}, CreatedAt: t0, UpdatedAt: t0}
	f.balances = []wallet.Balance{
		{CustomerID: "cus_1", Currency: "INR", Amount: 500, UpdatedAt: t0},
		{CustomerID: "cus_1", Currency: "USD", Amount: 1000, Held: 100, UpdatedAt: t0, LowThreshold: 50},
	}
	for i := range 5 {
		cur := "USD"
		if i%2 == 1 {
			cur = "INR"
		}
		f.entries = append(f.entries, ledger.Entry{ID: fmt.Sprintf("le_%d", i), CustomerID: "cus_1", Currency: cur,
			Type: ledger.Credit, Amount: int64(100 + i), BalanceAfter: int64(100 + i), IdempotencyKey: fmt.Sprintf("key-%d", i),
			Reference: ledger.Reference{Type: ledger.RefManual}, Fingerprint: fmt.Sprintf("fp%d", i), CreatedAt: t0.Add(time.Duration(i) * time.Second)})
	}
	f.hold = ledger.Hold{ID: "hold_1", CustomerID: "cus_1", Currency: "USD", Amount: 100, Status: ledger.HoldPending, CreatedAt: t0, UpdatedAt: t0}
	f.product = subscription.Product{ID: "prod_1", Name: "Plan", Price: 999, Currency: "USD", CreatedAt: t0}
	f.sub = subscription.Subscription{ID: "sub_1", CustomerID: "cus_1", ProductID: "prod_1", Quantity: 1,
		Status: subscription.StatusActive, PaymentMethod: "pm_card", Price: 999, Currency: "USD", CreatedAt: t0, UpdatedAt: t0}
	for i, st := range []subscription.PaymentStatus{subscription.PaymentSucceeded, subscription.PaymentFailed, subscription.PaymentPending} {
		f.payments = append(f.payments, subscription.Payment{ID: fmt.Sprintf("pay_%d", i), CustomerID: "cus_1", SubscriptionID: "sub_1",
			Kind: subscription.KindSubscription, Amount: 999, Currency: "USD", Status: st, IdempotencyKey: fmt.Sprintf("pk-%d", i),
			Fingerprint: "pfp", CreatedAt: t0, UpdatedAt: t0})
	}
	f.refund = subscription.Refund{ID: "re_1", PaymentID: "pay_0", CustomerID: "cus_1", Amount: 100, Currency: "USD",
		Destination: subscription.ToWallet, IdempotencyKey: "rk", Fingerprint: "rfp", Status: subscription.RefundPending, CreatedAt: t0}
	for i := range 3 {
		f.events = append(f.events, webhook.Event{ID: fmt.Sprintf("evt_%d", i), Type: "wallet.credited", CustomerID: "cus_1",
			Data: json.RawMessage(fmt.Sprintf(`{"n": %d}`, i)), CreatedAt: t0})
	}
	f.attempts = []retry.Attempt{
		{ID: "att_1", SubscriptionID: "sub_1", CustomerID: "cus_1", FirstPaymentID: "pay_1", Number: 3, Amount: 999, Currency: "USD",
			DueAt: t0.Add(time.Hour), RunAt: t0.Add(time.Hour), Status: retry.AttemptScheduled, CreatedAt: t0, UpdatedAt: t0},
		{ID: "att_2", SubscriptionID: "sub_1", CustomerID: "cus_1", FirstPaymentID: "pay_1", Number: 2, Amount: 999, Currency: "USD",
			DueAt: t0, RunAt: t0.Add(time.Minute), Status: retry.AttemptClaimed, LeaseOwner: "w1", LeaseUntil: t0.Add(time.Minute), CreatedAt: t0, UpdatedAt: t0},
	}
	f.endpoint = webhook.Endpoint{ID: "we_1", URL: "https://example.com/hook", Secret: "whsec_x", EventTypes: []string{"wallet.credited"}, CreatedAt: t0, UpdatedAt: t0}
	f.deliveries = []webhook.Delivery{
		{ID: "del_1", EventID: "evt_0", EndpointID: "we_1", Status: webhook.DeliveryPending, RunAt: t0, CreatedAt: t0, UpdatedAt: t0},
		{ID: "del_2", EventID: "evt_1", EndpointID: "we_1", Status: webhook.DeliverySucceeded, RunAt: t0, DeliveredAt: t0, CreatedAt: t0, UpdatedAt: t0},
	}
	return f
}

func (f fixture) write(tx store.Tx) error {
	errs := []error{tx.InsertCustomer(f.cust)}
	for _, b := range f.balances {
		errs = append(errs, tx.PutBalance(b))
	}
	for _, e := range f.entries {
		errs = append(errs, tx.InsertEntry(e))
	}
	errs = append(errs, tx.PutHold(f.hold), tx.PutProduct(f.product), tx.InsertSubscription(f.sub))
	for _, p := range f.payments {
		errs = append(errs, tx.InsertPayment(p))
	}
	errs = append(errs, tx.InsertRefund(f.refund))
	for _, e := range f.events {
		errs = append(errs, tx.InsertEvent(e))
	}
	errs = append(errs, tx.MarkEventDispatched(f.events[0].ID))
	for _, a := range f.attempts {
		errs = append(errs, tx.PutAttempt(a))
	}
	errs = append(errs, tx.PutEndpoint(f.endpoint))
	for _, d := range f.deliveries {
		errs = append(errs, tx.PutDelivery(d))
	}
	return errors.Join(errs...)
}

// verify checks every record and index of f through s.
func (f fixture) verify(t *testing.T, s store.Store) {
	t.Helper()
	view(t, s, func(tx store.Tx) error {
		c, err := tx.Customer("cus_1")
		require.NoError(t, err)
		require.Equal(t, f.cust, c)
		c, err = tx.CustomerByDID("did:web:ada")
		require.NoError(t, err)
		require.Equal(t, f.cust, c)
		list, more, err := tx.ListCustomers(store.CustomerQuery{Email: "ada@example.COM"})
		require.NoError(t, err)
		require.False(t, more)
		require.Equal(t, []customer.Customer{f.cust}, list)

		bs, err := tx.Balances("cus_1")
		require.NoError(t, err)
		require.Equal(t, f.balances, bs)

		for _, e := range f.entries {
			got, err := tx.Entry(e.ID)
			require.NoError(t, err)
			require.Equal(t, e, got)
			got, err = tx.EntryByKey("cus_1", e.IdempotencyKey)
			require.NoError(t, err)
			require.Equal(t, e, got)
		}
		es, more, err := tx.ListEntries(store.EntryQuery{CustomerID: "cus_1", Currency: "USD"})
		require.NoError(t, err)
		require.False(t, more)
		require.Equal(t, []ledger.Entry{f.entries[4], f.entries[2], f.entries[0]}, es)
		// Every currency: the per-currency lists merged newest first.
		es, more, err = tx.ListEntries(store.EntryQuery{CustomerID: "cus_1", Page: store.Page{Limit: 4}})
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, []ledger.Entry{f.entries[4], f.entries[3], f.entries[2], f.entries[1]}, es)
		es, more, err = tx.ListEntries(store.EntryQuery{CustomerID: "cus_1", Page: store.Page{EndingBefore: "le_1"}})
		require.NoError(t, err)
		require.False(t, more)
		require.Equal(t, []ledger.Entry{f.entries[4], f.entries[3], f.entries[2]}, es)

		h, err := tx.Hold("hold_1")
		require.NoError(t, err)
		require.Equal(t, f.hold, h)
		p, err := tx.Product("prod_1")
		require.NoError(t, err)
		require.Equal(t, f.product, p)
		sub, err := tx.Subscription("sub_1")
		require.NoError(t, err)
		require.Equal(t, f.sub, sub)

		pays, _, err := tx.ListPayments(store.PaymentQuery{CustomerID: "cus_1",
			Statuses: []subscription.PaymentStatus{subscription.PaymentFailed, subscription.PaymentSucceeded}})
		require.NoError(t, err)
		require.Equal(t, []subscription.Payment{f.payments[1], f.payments[0]}, pays)
		pay, err := tx.PaymentByKey("cus_1", "pk-2")
		require.NoError(t, err)
		require.Equal(t, f.payments[2], pay)

		r, err := tx.RefundByKey("pay_0", "rk")
		require.NoError(t, err)
		require.Equal(t, f.refund, r)
		pending, err := tx.PendingRefunds(0)
		require.NoError(t, err)
		require.Equal(t, []subscription.Refund{f.refund}, pending)

		evs, err := tx.Events(0, 10)
		require.NoError(t, err)
		require.Len(t, evs, 3)
		for i, e := range evs {
			want := f.events[i]
			want.Seq = int64(i + 1)
			want.Dispatched = i == 0
			require.Equal(t, want, e)
		}
		und, err := tx.UndispatchedEvents(10)
		require.NoError(t, err)
		require.Equal(t, []int64{2, 3}, []int64{und[0].Seq, und[1].Seq})

		due, err := tx.DueNotices(t0.Add(time.Minute), 10)
		require.NoError(t, err)
		require.Equal(t, []retry.Attempt{f.attempts[1]}, due)
		bySub, err := tx.AttemptsBySubscription("sub_1")
		require.NoError(t, err)
		require.Equal(t, []retry.Attempt{f.attempts[1], f.attempts[0]}, bySub)
		n, err := tx.(inFlighter).inFlight("cus_1", t0)
		require.NoError(t, err)
		require.Equal(t, 1, n)

		eps, err := tx.Endpoints()
		require.NoError(t, err)
		require.Equal(t, []webhook.Endpoint{f.endpoint}, eps)
		dd, err := tx.DueDeliveries(t0, 10)
		require.NoError(t, err)
		require.Equal(t, []webhook.Delivery{f.deliveries[0]}, dd)
		dl, _, err := tx.ListDeliveries(store.DeliveryQuery{EndpointID: "we_1"})
		require.NoError(t, err)
		require.Equal(t, []webhook.Delivery{f.deliveries[1], f.deliveries[0]}, dl)
		return nil
	})
}

func TestReopenKeepsEverything(t *testing.T) {
	s, path := openTemp(t)
	f := newFixture()
	update(t, s, f.write)
	f.verify(t, s)
	require.NoError(t, s.Close())

	s2, err := Open(path)
	require.NoError(t, err)
	defer s2.Close()
	f.verify(t, s2)
	checkFile(t, s2)

	// Sequences continue after reopen: a new record lists first, a new event
	// gets the next Seq.
	update(t, s2, func(tx store.Tx) error {
		return errors.Join(
			tx.InsertEntry(ledger.Entry{ID: "le_new", CustomerID: "cus_1", Currency: "USD", Type: ledger.Debit, Amount: 1, CreatedAt: t0}),
			tx.InsertEvent(webhook.Event{ID: "evt_new", Type: "x", CreatedAt: t0}))
	})
	view(t, s2, func(tx store.Tx) error {
		es, _, err := tx.ListEntries(store.EntryQuery{CustomerID: "cus_1", Page: store.Page{Limit: 1}})
		require.NoError(t, err)
		require.Equal(t, "le_new", es[0].ID)
		e, err := tx.Event("evt_new")
		require.NoError(t, err)
		require.Equal(t, int64(4), e.Seq)
		return nil
	})
}

func TestClosedAndReadOnly(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	err := s.View(ctx, func(tx store.Tx) error {
		require.ErrorIs(t, tx.InsertCustomer(customer.Customer{ID: "cus_x"}), store.ErrReadOnly)
		require.ErrorIs(t, tx.PutBalance(wallet.Balance{CustomerID: "c", Currency: "USD"}), store.ErrReadOnly)
		require.ErrorIs(t, tx.MarkEventDispatched("evt"), store.ErrReadOnly)
		require.ErrorIs(t, tx.DeleteEndpoint("we"), store.ErrReadOnly)
		require.ErrorIs(t, tx.PutAttempt(retry.Attempt{ID: "a"}), store.ErrReadOnly)
		return nil
	})
	require.NoError(t, err)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, s.Update(cancelled, func(store.Tx) error { return nil }), context.Canceled)

	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	require.ErrorIs(t, s.Update(ctx, func(store.Tx) error { return nil }), store.ErrClosed)
	require.ErrorIs(t, s.View(ctx, func(store.Tx) error { return nil }), store.ErrClosed)
}

func TestOpenRejectsForeignFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	db, err := bbolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(btx *bbolt.Tx) error {
		_, err := btx.CreateBucket([]byte("a"))
		if err == nil {
			_, err = btx.CreateBucket([]byte("b"))
		}
		return err
	}))
	require.NoError(t, db.Close())
	_, err = Open(path)
	require.ErrorIs(t, err, ErrIncompatible)
}

func TestFailedUpdateLeavesNoTrace(t *testing.T) {
	s, _ := openTemp(t)
	boom := errors.New("boom")
	err := s.Update(context.Background(), func(tx store.Tx) error {
		require.NoError(t, tx.InsertCustomer(customer.Customer{ID: "cus_1", DID: "did:1", Email: "a@b.co"}))
		require.NoError(t, tx.InsertEvent(webhook.Event{ID: "evt_1"}))
		return boom
	})
	require.ErrorIs(t, err, boom)
	view(t, s, func(tx store.Tx) error {
		_, err := tx.Customer("cus_1")
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = tx.CustomerByDID("did:1")
		require.ErrorIs(t, err, store.ErrNotFound)
		list, _, err := tx.ListCustomers(store.CustomerQuery{Email: "a@b.co"})
		require.NoError(t, err)
		require.Empty(t, list)
		return nil
	})
	// The rolled-back event's Seq is reused: sequences are part of the
	// rolled-back state.
	update(t, s, func(tx store.Tx) error { return tx.InsertEvent(webhook.Event{ID: "evt_2"}) })
	view(t, s, func(tx store.Tx) error {
		e, err := tx.Event("evt_2")
		require.NoError(t, err)
		require.Equal(t, int64(1), e.Seq)
		return nil
	})
}

// A failed insert (duplicate unique key) must not have written anything, so
// a transaction that goes on after the error stays consistent.
func TestDuplicateInsertWritesNothing(t *testing.T) {
	s, _ := openTemp(t)
	update(t, s, func(tx store.Tx) error {
		require.NoError(t, tx.InsertCustomer(customer.Customer{ID: "cus_1", DID: "did:1"}))
		require.ErrorIs(t, tx.InsertCustomer(customer.Customer{ID: "cus_1"}), store.ErrDuplicate)
		require.ErrorIs(t, tx.InsertCustomer(customer.Customer{ID: "cus_2", DID: "did:1", Email: "x@y.co"}), store.ErrDuplicate)
		require.NoError(t, tx.InsertCustomer(customer.Customer{ID: "cus_3", DID: "did:3"}))
		return nil
	})
	view(t, s, func(tx store.Tx) error {
		_, err := tx.Customer("cus_2")
		require.ErrorIs(t, err, store.ErrNotFound)
		list, _, err := tx.ListCustomers(store.CustomerQuery{})
		require.NoError(t, err)
		require.Len(t, list, 2)
		list, _, err = tx.ListCustomers(store.CustomerQuery{Email: "x@y.co"})
		require.NoError(t, err)
		require.Empty(t, list)
		return nil
	})
	checkFile(t, s)
}

func TestIndexesFollowUpdates(t *testing.T) {
	s, _ := openTemp(t)
	f := newFixture()
	update(t, s, f.write)
	update(t, s, func(tx store.Tx) error {
		// Customer: new email and DID; the old ones no longer find it.
		c := f.cust
		c.Email, c.DID = "new@example.com", "did:web:new"
		require.NoError(t, tx.UpdateCustomer(c))
		require.NoError(t, tx.InsertCustomer(customer.Customer{ID: "cus_2", DID: "did:web:other"}))
		c2 := customer.Customer{ID: "cus_2", DID: "did:web:new"}
		require.ErrorIs(t, tx.UpdateCustomer(c2), store.ErrDuplicate)
		require.ErrorIs(t, tx.UpdateCustomer(customer.Customer{ID: "cus_missing"}), store.ErrNotFound)

		// Payment moves from failed to succeeded.
		p := f.payments[1]
		p.Status = subscription.PaymentSucceeded
		require.NoError(t, tx.UpdatePayment(p))

		// Refund leaves pending.
		r := f.refund
		r.Status = subscription.RefundSucceeded
		require.NoError(t, tx.UpdateRefund(r))

		// Claimed attempt is re-scheduled later; the other finishes.
		a := f.attempts[1]
		a.Status, a.RunAt, a.LeaseUntil, a.LeaseOwner = retry.AttemptScheduled, t0.Add(2*time.Hour), time.Time{}, ""
		require.NoError(t, tx.PutAttempt(a))
		a0 := f.attempts[0]
		a0.Status = retry.AttemptCancelled
		require.NoError(t, tx.PutAttempt(a0))

		d := f.deliveries[0]
		d.Status = webhook.DeliveryFailed
		require.NoError(t, tx.PutDelivery(d))
		require.NoError(t, tx.DeleteEndpoint("we_1"))
		require.ErrorIs(t, tx.DeleteEndpoint("we_1"), store.ErrNotFound)
		return nil
	})
	view(t, s, func(tx store.Tx) error {
		_, err := tx.CustomerByDID("did:web:ada")
		require.ErrorIs(t, err, store.ErrNotFound)
		c, err := tx.CustomerByDID("did:web:new")
		require.NoError(t, err)
		require.Equal(t, "cus_1", c.ID)
		c, err = tx.CustomerByDID("did:web:other")
		require.NoError(t, err)
		require.Equal(t, "cus_2", c.ID)
		list, _, err := tx.ListCustomers(store.CustomerQuery{Email: "ada@example.com"})
		require.NoError(t, err)
		require.Empty(t, list)
		list, _, err = tx.ListCustomers(store.CustomerQuery{Email: "NEW@example.com"})
		require.NoError(t, err)
		require.Len(t, list, 1)

		failed, _, err := tx.ListPayments(store.PaymentQuery{Statuses: []subscription.PaymentStatus{subscription.PaymentFailed}})
		require.NoError(t, err)
		require.Empty(t, failed)
		ok, _, err := tx.ListPayments(store.PaymentQuery{CustomerID: "cus_1", Statuses: []subscription.PaymentStatus{subscription.PaymentSucceeded}})
		require.NoError(t, err)
		require.Equal(t, []string{"pay_1", "pay_0"}, []string{ok[0].ID, ok[1].ID})

		pending, err := tx.PendingRefunds(10)
		require.NoError(t, err)
		require.Empty(t, pending)

		due, err := tx.DueNotices(t0.Add(time.Hour), 10)
		require.NoError(t, err)
		require.Empty(t, due)
		due, err = tx.DueNotices(t0.Add(3*time.Hour), 10)
		require.NoError(t, err)
		require.Len(t, due, 1)
		require.Equal(t, "att_2", due[0].ID)
		n, err := tx.(inFlighter).inFlight("", t0)
		require.NoError(t, err)
		require.Zero(t, n)

		dd, err := tx.DueDeliveries(t0.Add(time.Hour), 10)
		require.NoError(t, err)
		require.Empty(t, dd)
		byStatus, _, err := tx.ListDeliveries(store.DeliveryQuery{Status: webhook.DeliveryFailed})
		require.NoError(t, err)
		require.Len(t, byStatus, 1)
		eps, err := tx.Endpoints()
		require.NoError(t, err)
		require.Empty(t, eps)
		return nil
	})
	checkFile(t, s)
}

func TestPagingBothWays(t *testing.T) {
	s, _ := openTemp(t)
	update(t, s, func(tx store.Tx) error {
		for i := range 7 {
			if err := tx.InsertCustomer(customer.Customer{ID: fmt.Sprintf("cus_%d", i), Name: fmt.Sprintf("n%d", i%2)}); err != nil {
				return err
			}
		}
		return nil
	})
	ids := func(cs []customer.Customer) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	view(t, s, func(tx store.Tx) error {
		p1, more, err := tx.ListCustomers(store.CustomerQuery{Page: store.Page{Limit: 3}})
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, []string{"cus_6", "cus_5", "cus_4"}, ids(p1))
		p2, more, err := tx.ListCustomers(store.CustomerQuery{Page: store.Page{Limit: 3, StartingAfter: "cus_4"}})
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, []string{"cus_3", "cus_2", "cus_1"}, ids(p2))
		p3, more, err := tx.ListCustomers(store.CustomerQuery{Page: store.Page{Limit: 3, StartingAfter: "cus_1"}})
		require.NoError(t, err)
		require.False(t, more)
		require.Equal(t, []string{"cus_0"}, ids(p3))
		back, more, err := tx.ListCustomers(store.CustomerQuery{Page: store.Page{Limit: 2, EndingBefore: "cus_2"}})
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, []string{"cus_4", "cus_3"}, ids(back))
		win, more, err := tx.ListCustomers(store.CustomerQuery{Page: store.Page{StartingAfter: "cus_5", EndingBefore: "cus_1"}})
		require.NoError(t, err)
		require.False(t, more)
		require.Equal(t, []string{"cus_4", "cus_3", "cus_2"}, ids(win))
		odd, err := tx.SearchCustomers(store.CustomerSearchQuery{Search: mustSearch(t, "n1"), Page: store.Page{StartingAfter: "cus_5"}})
		require.NoError(t, err)
		require.Equal(t, []string{"cus_3", "cus_1"}, ids(odd.Customers))
		_, _, err = tx.ListCustomers(store.CustomerQuery{Page: store.Page{StartingAfter: "cus_nope"}})
		require.ErrorIs(t, err, store.ErrNotFound)
		return nil
	})
}

// inFlighter is the bolt tx's in-flight count behind ClaimDueAttempts.
type inFlighter interface {
	inFlight(customerID string, now time.Time) (int, error)
}

// DueNotices and DueDeliveries read the index only up to now: with many
// attempts scheduled later, the keys visited are the ones returned (plus the
// first one past now).
func TestDueQueriesScanOnlyWhatIsDue(t *testing.T) {
	s, _ := openTemp(t)
	const future, ready = 3000, 7
	update(t, s, func(tx store.Tx) error {
		for i := range future + ready {
			runAt := t0.Add(time.Duration(i+1) * time.Hour) // future
			if i%(future/ready) == 0 && i/(future/ready) < ready {
				runAt = t0.Add(-time.Duration(i+1) * time.Second) // due
			}
			a := retry.Attempt{ID: fmt.Sprintf("att_%05d", i), SubscriptionID: "sub", CustomerID: "cus", Number: 2,
				RunAt: runAt, DueAt: runAt, Status: retry.AttemptScheduled}
			d := webhook.Delivery{ID: fmt.Sprintf("del_%05d", i), EventID: "evt", EndpointID: "we", Status: webhook.DeliveryPending, RunAt: runAt}
			if err := errors.Join(tx.PutAttempt(a), tx.PutDelivery(d)); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, s.db.View(func(btx *bbolt.Tx) error {
		tx := &tx{btx: btx}
		due, err := tx.DueNotices(t0, 100)
		require.NoError(t, err)
		require.Len(t, due, ready)
		for i := 1; i < len(due); i++ {
			require.False(t, due[i].RunAt.Before(due[i-1].RunAt), "ascending RunAt")
		}
		require.LessOrEqual(t, tx.dueScanned, ready+1)

		tx.dueScanned = 0
		dd, err := tx.DueDeliveries(t0, 3)
		require.NoError(t, err)
		require.Len(t, dd, 3)
		require.Equal(t, 3, tx.dueScanned)
		return nil
	}))
}

// Concurrent Updates share batches; a member that fails is rolled back on
// its own and the others commit once each.
func TestConcurrentBatchesWithFailures(t *testing.T) {
	s, _ := openTemp(t)
	update(t, s, func(tx store.Tx) error {
		return tx.PutBalance(wallet.Balance{CustomerID: "cus_1", Currency: "USD"})
	})
	const writers, per = 16, 20
	boom := errors.New("boom")
	var calls atomic.Int64
	var wg sync.WaitGroup
	var okCount atomic.Int64
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				fail := (w+i)%5 == 0
				err := s.Update(context.Background(), func(tx store.Tx) error {
					calls.Add(1)
					b, err := tx.Balance("cus_1", "USD")
					if err != nil {
						return err
					}
					e, nb, err := ledger.Post(b, ledger.Request{Amount: 1, Currency: "USD", Type: ledger.Credit,
						IdempotencyKey: fmt.Sprintf("%d-%d", w, i)}, fmt.Sprintf("le_%d_%d", w, i), t0)
					if err != nil {
						return err
					}
					if err := errors.Join(tx.InsertEntry(e), tx.PutBalance(nb)); err != nil {
						return err
					}
					if fail {
						return boom
					}
					return nil
				})
				if fail {
					require.ErrorIs(t, err, boom)
				} else {
					require.NoError(t, err)
					okCount.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	view(t, s, func(tx store.Tx) error {
		b, err := tx.Balance("cus_1", "USD")
		require.NoError(t, err)
		require.Equal(t, okCount.Load(), b.Amount)
		var n int64
		var page store.Page
		page.Limit = store.MaxLimit
		for {
			es, more, err := tx.ListEntries(store.EntryQuery{CustomerID: "cus_1", Page: page})
			require.NoError(t, err)
			n += int64(len(es))
			if !more {
				break
			}
			page.StartingAfter = es[len(es)-1].ID
		}
		require.Equal(t, okCount.Load(), n)
		return nil
	})
	require.GreaterOrEqual(t, calls.Load(), int64(writers*per))
	checkFile(t, s)
}

func TestRecordsDoNotAlias(t *testing.T) {
	s, _ := openTemp(t)
	update(t, s, func(tx store.Tx) error {
		return tx.InsertEvent(webhook.Event{ID: "evt_1", Data: json.RawMessage(`{"a":1}`)})
	})
	var e webhook.Event
	view(t, s, func(tx store.Tx) error {
		var err error
		e, err = tx.Event("evt_1")
		return err
	})
	// Grow the file (remapping it) after the transaction ended: the record
	// read earlier must still be intact, and changing it must not reach the
	// store.
	update(t, s, func(tx store.Tx) error {
		for i := range 2000 {
			if err := tx.InsertEvent(webhook.Event{ID: fmt.Sprintf("evt_x%d", i), Data: json.RawMessage(strings.Repeat("x", 500))}); err != nil {
				return err
			}
		}
		return nil
	})
	require.JSONEq(t, `{"a":1}`, string(e.Data))
	e.Data[2] = 'b'
	view(t, s, func(tx store.Tx) error {
		got, err := tx.Event("evt_1")
		require.NoError(t, err)
		require.Equal(t, `{"a":1}`, string(got.Data))
		return nil
	})
}

// TestCrashKeepsCommittedUpdates kills a writer process with SIGKILL while
// 16 goroutines post to wallets, then checks that every Update the child saw
// commit is in the file, that balances match their entries (entry and
// balance committed together), and that bbolt's page check passes.
func TestCrashKeepsCommittedUpdates(t *testing.T) {
	if path := os.Getenv("COFFER_BOLT_CRASH_CHILD"); path != "" {
		crashChild(path)
		return
	}
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashKeepsCommittedUpdates$")
	cmd.Env = append(os.Environ(), "COFFER_BOLT_CRASH_CHILD="+path)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var committed []string
	sc := bufio.NewScanner(out)
	for sc.Scan() && len(committed) < 400 {
		if id, ok := strings.CutPrefix(sc.Text(), "committed "); ok {
			committed = append(committed, id)
		}
	}
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	require.Len(t, committed, 400, "child did not report enough commits")

	s, err := Open(path)
	require.NoError(t, err)
	defer s.Close()
	checkFile(t, s)
	view(t, s, func(tx store.Tx) error {
		for _, id := range committed {
			_, err := tx.Entry(id)
			require.NoError(t, err, "committed entry %s lost", id)
		}
		for w := range 4 {
			cust := fmt.Sprintf("cus_%d", w)
			b, err := tx.Balance(cust, "USD")
			require.NoError(t, err)
			var sum int64
			page := store.Page{Limit: store.MaxLimit}
			for {
				es, more, err := tx.ListEntries(store.EntryQuery{CustomerID: cust, Page: page})
				require.NoError(t, err)
				for _, e := range es {
					sum += e.Signed()
				}
				if !more {
					break
				}
				page.StartingAfter = es[len(es)-1].ID
			}
			require.Equal(t, b.Amount, sum, "balance of %s", cust)
		}
		return nil
	})
}

func crashChild(path string) {
	s, err := Open(path)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	var seq atomic.Int64
	for w := range 16 {
		go func() {
			cust := fmt.Sprintf("cus_%d", w%4)
			for {
				id := fmt.Sprintf("le_%d", seq.Add(1))
				err := s.Update(context.Background(), func(tx store.Tx) error {
					b, err := tx.Balance(cust, "USD")
					if errors.Is(err, store.ErrNotFound) {
						b, err = wallet.Balance{CustomerID: cust, Currency: "USD"}, nil
					}
					if err != nil {
						return err
					}
					e, nb, err := ledger.Post(b, ledger.Request{Amount: 3, Currency: "USD", Type: ledger.Credit}, id, time.Now())
					if err != nil {
						return err
					}
					return errors.Join(tx.InsertEntry(e), tx.PutBalance(nb))
				})
				if err != nil {
					fmt.Println("update:", err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Println("committed", id)
				mu.Unlock()
			}
		}()
	}
	select {}
}

func mustSearch(t *testing.T, q string) customer.Search {
	t.Helper()
	s, err := customer.ParseSearch(q)
	require.NoError(t, err)
	return s
}
