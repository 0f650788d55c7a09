package bolt_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.etcd.io/bbolt"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/bolt"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
	"github.com/cofferhq/coffer/webhook"
)

// testdata/layout-v1.db was written by the layout-1 adapter (commit
// 0f8b2ef) with writeUpgradeData:
//
//	COFFER_WRITE_V1_FIXTURE=1 go test -run TestWriteUpgradeFixture ./store/bolt
//
// (run at that commit; the current adapter writes layout 2). Its data is
// deterministic, so the checks below know every answer.

var upT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	upCustomers = 3
	upPayments  = 24
)

func upCustomerID(i int) string { return fmt.Sprintf("cus_up%02d", i) }
func upSubID(i int) string      { return fmt.Sprintf("sub_up%02d", i) }
func upPaymentID(i int) string  { return fmt.Sprintf("pay_up%03d", i) }
func upEmail(i int) string {
	if i == 2 {
		return "Shared@Example.com" // folds to customer 0's email
	}
	return fmt.Sprintf("user%d@example.com", i)
}

var upStatuses = []subscription.PaymentStatus{subscription.PaymentPending, subscription.PaymentSucceeded,
	subscription.PaymentFailed, subscription.PaymentRefunded}

// upPayment is payment i of the fixture: customers, statuses and keys in
// turn; every third payment has no subscription.
func upPayment(i int) subscription.Payment {
	c := i % upCustomers
	p := subscription.Payment{ID: upPaymentID(i), CustomerID: upCustomerID(c), Kind: subscription.KindSubscription,
		Amount: int64(100 + i), Currency: "USD", ProcessorAmount: int64(100 + i), Status: upStatuses[i%len(upStatuses)],
		PaymentMethod: "pm_card_visa", Description: "charge", CreatedAt: upT0.Add(time.Duration(i) * time.Minute),
		UpdatedAt: upT0.Add(time.Duration(i) * time.Minute)}
	if i%3 != 2 {
		p.SubscriptionID = upSubID(c)
	}
	if i%2 == 0 {
		p.IdempotencyKey = fmt.Sprintf("pk-%d", i)
		p.Fingerprint = "fp"
	}
	return p
}

func writeUpgradeData(t *testing.T, s store.Store) {
	ctx := context.Background()
	require.NoError(t, s.Update(ctx, func(tx store.Tx) error {
		for i := range upCustomers {
			c := customer.Customer{ID: upCustomerID(i), Name: fmt.Sprintf("Up Grade %d", i), Email: upEmail(i),
				DID: fmt.Sprintf("did:up:%d", i), CreatedAt: upT0.Add(time.Duration(i) * time.Second)}
			if i == 0 {
				c.Email = "shared@example.com"
			}
			if err := tx.InsertCustomer(c); err != nil {
				return err
			}
			if err := tx.PutBalance(wallet.Balance{CustomerID: c.ID, Currency: "USD", Amount: 500, UpdatedAt: upT0}); err != nil {
				return err
			}
			if err := tx.InsertEntry(ledger.Entry{ID: fmt.Sprintf("le_up%02d", i), CustomerID: c.ID, Currency: "USD",
				Type: ledger.Credit, Amount: 500, BalanceAfter: 500, IdempotencyKey: "ek", CreatedAt: upT0}); err != nil {
				return err
			}
			if err := tx.InsertSubscription(subscription.Subscription{ID: upSubID(i), CustomerID: c.ID, ProductID: "prod_up",
				Quantity: 1, Status: subscription.StatusActive, Price: 100, Currency: "USD", CreatedAt: upT0, UpdatedAt: upT0}); err != nil {
				return err
			}
		}
		return nil
	}))
	// Payments in several transactions, one of them updated (pending ->
	// succeeded) afterwards, as a settled charge is.
	for i := 0; i < upPayments; i += 5 {
		require.NoError(t, s.Update(ctx, func(tx store.Tx) error {
			for j := i; j < min(i+5, upPayments); j++ {
				if err := tx.InsertPayment(upPayment(j)); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	require.NoError(t, s.Update(ctx, func(tx store.Tx) error {
		p := upPayment(4) // pending
		p.Status = subscription.PaymentSucceeded
		return tx.UpdatePayment(p)
	}))
	// Events: upEvents of them, the odd ones dispatched.
	require.NoError(t, s.Update(ctx, func(tx store.Tx) error {
		for i := range upEvents {
			if err := tx.InsertEvent(webhook.Event{ID: upEventID(i), Type: "payment.succeeded", CustomerID: upCustomerID(0),
				Data: []byte(`{}`), CreatedAt: upT0.Add(time.Duration(i) * time.Second)}); err != nil {
				return err
			}
		}
		for i := 1; i < upEvents; i += 2 {
			if err := tx.MarkEventDispatched(upEventID(i)); err != nil {
				return err
			}
		}
		return nil
	}))
}

const upEvents = 7

func upEventID(i int) string { return fmt.Sprintf("evt_up%02d", i) }

func eventIDs(es []webhook.Event) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

// upExpected is payment i as stored after writeUpgradeData.
func upExpected(i int) subscription.Payment {
	p := upPayment(i)
	if i == 4 {
		p.Status = subscription.PaymentSucceeded
	}
	return p
}

// TestWriteUpgradeFixture (re)writes testdata/layout-v1.db; see above.
func TestWriteUpgradeFixture(t *testing.T) {
	if os.Getenv("COFFER_WRITE_V1_FIXTURE") == "" {
		t.Skip("COFFER_WRITE_V1_FIXTURE not set")
	}
	path := filepath.Join(t.TempDir(), "v1.db")
	s, err := bolt.Open(path)
	require.NoError(t, err)
	writeUpgradeData(t, s)
	require.NoError(t, s.Close())
	// Compact it: the fixture is committed.
	src, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	require.NoError(t, err)
	defer src.Close()
	out := filepath.Join("testdata", "layout-v1.db")
	require.NoError(t, os.MkdirAll("testdata", 0o755))
	_ = os.Remove(out)
	dst, err := bbolt.Open(out, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, bbolt.Compact(dst, src, 0))
	require.NoError(t, dst.Close())
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	require.NoError(t, err)
	defer in.Close()
	out, err := os.Create(to)
	require.NoError(t, err)
	_, err = io.Copy(out, in)
	require.NoError(t, err)
	require.NoError(t, out.Close())
}

func paymentIDs(ps []subscription.Payment) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return out
}

// upWant lists the fixture's payments matching keep, newest first.
func upWant(keep func(p subscription.Payment) bool) []string {
	var out []string
	for i := upPayments - 1; i >= 0; i-- {
		if p := upExpected(i); keep(p) {
			out = append(out, p.ID)
		}
	}
	return out
}

// checkUpgradeData checks every answer the layout change touches on a
// store holding writeUpgradeData's records.
func checkUpgradeData(t *testing.T, s store.Store) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, s.View(ctx, func(tx store.Tx) error {
		for i := range upPayments {
			p, err := tx.Payment(upPaymentID(i))
			require.NoError(t, err)
			require.Equal(t, upExpected(i), p)
			if k := upPayment(i).IdempotencyKey; k != "" {
				p, err := tx.PaymentByKey(upCustomerID(i%upCustomers), k)
				require.NoError(t, err)
				require.Equal(t, upPaymentID(i), p.ID)
				_, err = tx.PaymentByKey(upCustomerID((i+1)%upCustomers), k)
				require.ErrorIs(t, err, store.ErrNotFound)
			}
		}
		// ListPayments: every scope, paged by 2 through the whole list.
		type q struct {
			cust     string
			statuses []subscription.PaymentStatus
		}
		queries := []q{{}, {cust: upCustomerID(1)},
			{statuses: []subscription.PaymentStatus{subscription.PaymentFailed}},
			{statuses: []subscription.PaymentStatus{subscription.PaymentSucceeded, subscription.PaymentPending}},
			{cust: upCustomerID(0), statuses: []subscription.PaymentStatus{subscription.PaymentSucceeded}},
			{cust: upCustomerID(2), statuses: []subscription.PaymentStatus{subscription.PaymentRefunded, subscription.PaymentPending}}}
		for _, qq := range queries {
			want := upWant(func(p subscription.Payment) bool {
				return (qq.cust == "" || p.CustomerID == qq.cust) && (len(qq.statuses) == 0 || slices.Contains(qq.statuses, p.Status))
			})
			var got []string
			pq := store.PaymentQuery{CustomerID: qq.cust, Statuses: qq.statuses, Page: store.Page{Limit: 2}}
			for {
				list, more, err := tx.ListPayments(pq)
				require.NoError(t, err)
				got = append(got, paymentIDs(list)...)
				if !more {
					break
				}
				pq.StartingAfter = list[len(list)-1].ID
			}
			require.Equal(t, want, got, "ListPayments %+v", qq)
			// And backwards from the oldest.
			if len(want) > 1 {
				list, _, err := tx.ListPayments(store.PaymentQuery{CustomerID: qq.cust, Statuses: qq.statuses,
					Page: store.Page{EndingBefore: want[len(want)-1], Limit: 2}})
				require.NoError(t, err)
				require.Equal(t, want[max(0, len(want)-3):len(want)-1], paymentIDs(list))
			}
		}
		// The email filter folds case: customers 0 and 2 share one.
		cs, _, err := tx.ListCustomers(store.CustomerQuery{Email: "SHARED@example.com"})
		require.NoError(t, err)
		require.Len(t, cs, 2)
		require.Equal(t, []string{upCustomerID(2), upCustomerID(0)}, []string{cs[0].ID, cs[1].ID})
		// The DID filter, with its range and cursors.
		did := func(d string, p store.Page, r store.TimeRange) []string {
			cs, more, err := tx.QueryCustomers(store.CustomerListQuery{DID: d, Page: p, Created: r})
			require.NoError(t, err)
			require.False(t, more)
			var out []string
			for _, c := range cs {
				out = append(out, c.ID)
			}
			return out
		}
		c1 := []string{upCustomerID(1)}
		require.Equal(t, c1, did("did:up:1", store.Page{}, store.TimeRange{}))
		require.Empty(t, did("did:up:9", store.Page{}, store.TimeRange{}))
		require.Empty(t, did("did:up:1", store.Page{}, store.TimeRange{From: upT0.Add(2 * time.Second)}))
		require.Equal(t, c1, did("did:up:1", store.Page{}, store.TimeRange{From: upT0.Add(time.Second), To: upT0.Add(2 * time.Second)}))
		require.Empty(t, did("did:up:1", store.Page{StartingAfter: upCustomerID(1)}, store.TimeRange{}))
		require.Equal(t, c1, did("did:up:1", store.Page{StartingAfter: upCustomerID(2)}, store.TimeRange{}))
		require.Empty(t, did("did:up:1", store.Page{EndingBefore: upCustomerID(2)}, store.TimeRange{}))
		require.Equal(t, c1, did("did:up:1", store.Page{EndingBefore: upCustomerID(0)}, store.TimeRange{}))
		_, _, err = tx.QueryCustomers(store.CustomerListQuery{DID: "did:up:1", Page: store.Page{StartingAfter: "cus_nope"}})
		require.ErrorIs(t, err, store.ErrNotFound)
		// Undispatched events, oldest first, bounded by the limit.
		ev, err := tx.UndispatchedEvents(0)
		require.NoError(t, err)
		require.Equal(t, []string{upEventID(0), upEventID(2), upEventID(4), upEventID(6)}, eventIDs(ev))
		ev, err = tx.UndispatchedEvents(2)
		require.NoError(t, err)
		require.Equal(t, []string{upEventID(0), upEventID(2)}, eventIDs(ev))
		subs, _, err := tx.ListSubscriptions(upCustomerID(1), store.Page{})
		require.NoError(t, err)
		require.Len(t, subs, 1)
		require.Equal(t, upSubID(1), subs[0].ID)
		return nil
	}))
}

// TestUpgradeFromLayout1 opens a file written by the layout-1 adapter: it
// is migrated once, on open, and then reads and writes as a new file.
func TestUpgradeFromLayout1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	copyFile(t, filepath.Join("testdata", "layout-v1.db"), path)
	s, err := bolt.Open(path)
	require.NoError(t, err)
	require.NoError(t, bolt.RawDB(s).View(func(tx *bbolt.Tx) error {
		require.Equal(t, []byte{0, 0, 0, 0, 0, 0, 0, 2}, tx.Bucket([]byte("meta")).Get([]byte("version")))
		for _, name := range []string{"payments.customer", "payments.status", "payments.customer_status", "payments.key",
			"customers.email", "subscriptions.customer", "refunds.payment", "events.undispatched"} {
			require.Nil(t, tx.Bucket([]byte(name)), "layout-1 bucket %s", name)
		}
		k, _ := tx.Bucket([]byte("lists")).Cursor().Seek([]byte("\x07cus.did"))
		require.False(t, bytes.HasPrefix(k, []byte("\x07cus.did")), "a cus.did list key is left")
		return nil
	}))
	checkUpgradeData(t, s)
	// Writes after the migration keep the indexes right: a new payment
	// with a taken key is refused, a status change moves the payment.
	ctx := context.Background()
	require.NoError(t, s.Update(ctx, func(tx store.Tx) error {
		p := upPayment(0)
		p.ID = "pay_upnew"
		require.ErrorIs(t, tx.InsertPayment(p), store.ErrDuplicate)
		p.IdempotencyKey = "pk-new"
		p.CreatedAt = upT0.Add(time.Hour)
		require.NoError(t, tx.InsertPayment(p))
		p.Status = subscription.PaymentFailed
		require.NoError(t, tx.UpdatePayment(p))
		got, err := tx.PaymentByKey(p.CustomerID, "pk-new")
		require.NoError(t, err)
		require.Equal(t, p, got)
		list, _, err := tx.ListPayments(store.PaymentQuery{CustomerID: p.CustomerID,
			Statuses: []subscription.PaymentStatus{subscription.PaymentFailed}, Page: store.Page{Limit: 1}})
		require.NoError(t, err)
		require.Equal(t, []string{"pay_upnew"}, paymentIDs(list))
		list, _, err = tx.ListPayments(store.PaymentQuery{Statuses: []subscription.PaymentStatus{subscription.PaymentPending},
			Page: store.Page{Limit: 100}})
		require.NoError(t, err)
		require.NotContains(t, paymentIDs(list), "pay_upnew")
		// A migrated undispatched event leaves the list when dispatched.
		require.NoError(t, tx.MarkEventDispatched(upEventID(2)))
		ev, err := tx.UndispatchedEvents(0)
		require.NoError(t, err)
		require.Equal(t, []string{upEventID(0), upEventID(4), upEventID(6)}, eventIDs(ev))
		return nil
	}))
	require.NoError(t, s.Close())
	// Reopened, nothing is migrated again and everything still reads.
	s, err = bolt.Open(path)
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.View(ctx, func(tx store.Tx) error {
		p, err := tx.PaymentByKey(upCustomerID(0), "pk-new")
		require.NoError(t, err)
		require.Equal(t, subscription.PaymentFailed, p.Status)
		return nil
	}))
}

// TestFreshLayoutAnswersAlike writes the fixture's data with the current
// adapter and checks the same answers.
func TestFreshLayoutAnswersAlike(t *testing.T) {
	s, err := bolt.Open(filepath.Join(t.TempDir(), "new.db"))
	require.NoError(t, err)
	defer s.Close()
	writeUpgradeData(t, s)
	checkUpgradeData(t, s)
}
