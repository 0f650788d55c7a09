package postgres_test

import (
	"encoding/json"
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

// t0 has whole microseconds, which PostgreSQL stores exactly.
var t0 = time.Date(2025, 3, 14, 13, 10, 0, 123456000, time.UTC)

func update(t testing.TB, s store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	require.NoError(t, s.Update(ctx, fn))
}

func view(t testing.TB, s store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	require.NoError(t, s.View(ctx, fn))
}

// addCustomer stores a customer with a balance in currency.
func addCustomer(t testing.TB, s store.Store, id, currency string, amount int64) {
	t.Helper()
	update(t, s, func(tx store.Tx) error {
		if err := tx.InsertCustomer(customer.Customer{ID: id, CreatedAt: t0, UpdatedAt: t0}); err != nil {
			return err
		}
		return tx.PutBalance(wallet.Balance{CustomerID: id, Currency: currency, Amount: amount, UpdatedAt: t0})
	})
}

// TestRoundTrip stores one fully populated record of every kind and reads
// it back unchanged: every column is mapped both ways.
func TestRoundTrip(t *testing.T) {
	s := newStore(t)
	c := customer.Customer{ID: "cus_1", Name: "Ada", Email: "Ada@Example.com", Phone: "+1", Description: "d",
		DID: "did:1", Address: &customer.Address{Line1: "1 Main", Country: "US"},
		Shipping: &customer.Shipping{Address: customer.Address{City: "X"}, Name: "N"},
		Metadata: map[string]string{"a": "b"}, InvoicePrefix: "INV", Delinquent: true, Livemode: true,
		CreatedAt: t0, UpdatedAt: t0.Add(time.Second)}
	b := wallet.Balance{CustomerID: "cus_1", Currency: "USD", Amount: 900, Held: 100, UpdatedAt: t0,
		LowThreshold: 50, Low: true}
	e := ledger.Entry{ID: "le_1", CustomerID: "cus_1", Currency: "USD", Type: ledger.Debit, Amount: 100,
		BalanceBefore: 1000, BalanceAfter: 900, Reason: "r", IdempotencyKey: "k",
		Reference: ledger.Reference{Type: ledger.RefPayment, ID: "pay_1"}, Fingerprint: "fp", CreatedAt: t0}
	h := ledger.Hold{ID: "hold_1", CustomerID: "cus_1", Currency: "USD", Amount: 100, Status: ledger.HoldPending,
		Reference: ledger.Reference{Type: ledger.RefPayment, ID: "pay_1"}, CreatedAt: t0, UpdatedAt: t0}
	prod := subscription.Product{ID: "prod_1", Name: "P", Description: "D", Price: 500, Currency: "USD", CreatedAt: t0}
	sub := subscription.Subscription{ID: "sub_1", CustomerID: "cus_1", ProductID: "prod_1", Quantity: 2,
		Status: subscription.StatusActive, PaymentMethod: "pm", MandateID: "m", MandateAuthorizedAt: t0,
		BillingAddress: &customer.Address{Country: "FR"}, Price: 500, Currency: "USD", FeesInclusive: true,
		Metadata: map[string]string{}, CreatedAt: t0, UpdatedAt: t0}
	pay := subscription.Payment{ID: "pay_1", CustomerID: "cus_1", SubscriptionID: "sub_1",
		Kind: subscription.KindSubscription, Amount: 500, Currency: "USD", WalletAmount: 100,
		ProcessorAmount: 400, Status: subscription.PaymentFailed, IdempotencyKey: "pk", Fingerprint: "f",
		RetryAttempt: 2, RetryOf: "pay_0", NextRetryAt: t0.Add(time.Hour), CreatedAt: t0, UpdatedAt: t0}
	ref := subscription.Refund{ID: "re_1", PaymentID: "pay_1", CustomerID: "cus_1", Amount: 50, Currency: "USD",
		Destination: subscription.ToWallet, Status: subscription.RefundPending, WalletAmount: 50,
		IdempotencyKey: "rk", Fingerprint: "f", CreatedAt: t0}
	ev := webhook.Event{ID: "evt_1", Type: "payment.failed", CustomerID: "cus_1",
		Data: json.RawMessage(`{"b": 1, "a": [2]}`), CreatedAt: t0}
	att := retry.Attempt{ID: "att_1", SubscriptionID: "sub_1", CustomerID: "cus_1", FirstPaymentID: "pay_1",
		Number: 2, Amount: 500, Currency: "USD", Metadata: map[string]string{"x": "y"}, DueAt: t0, RunAt: t0,
		Status: retry.AttemptClaimed, LeaseOwner: "me", LeaseUntil: t0.Add(time.Minute), CreatedAt: t0, UpdatedAt: t0}
	ep := webhook.Endpoint{ID: "we_1", URL: "https://x", Secret: "s", EventTypes: []string{},
		CreatedAt: t0, UpdatedAt: t0}
	ep2 := webhook.Endpoint{ID: "we_2", URL: "https://y", Secret: "s", CreatedAt: t0, UpdatedAt: t0,
		PreviousSecret: "old", PreviousExpiresAt: t0, EventTypes: []string{"a", "b"}}
	d := webhook.Delivery{ID: "dlv_1", EventID: "evt_1", EndpointID: "we_1", Status: webhook.DeliveryPending,
		Attempts: 1, RunAt: t0, LastStatus: 500, LastError: "x", CreatedAt: t0, UpdatedAt: t0}

	update(t, s, func(tx store.Tx) error {
		require.NoError(t, tx.InsertCustomer(c))
		require.NoError(t, tx.PutBalance(b))
		require.NoError(t, tx.InsertEntry(e))
		require.NoError(t, tx.PutHold(h))
		require.NoError(t, tx.PutProduct(prod))
		require.NoError(t, tx.InsertSubscription(sub))
		require.NoError(t, tx.InsertPayment(pay))
		require.NoError(t, tx.InsertRefund(ref))
		require.NoError(t, tx.InsertEvent(ev))
		require.NoError(t, tx.PutAttempt(att))
		require.NoError(t, tx.PutEndpoint(ep))
		require.NoError(t, tx.PutEndpoint(ep2))
		require.NoError(t, tx.PutDelivery(d))
		return nil
	})
	for _, fn := range []func(fn func(store.Tx) error){
		func(fn func(store.Tx) error) { update(t, s, fn) },
		func(fn func(store.Tx) error) { view(t, s, fn) },
	} {
		fn(func(tx store.Tx) error {
			gotC, err := tx.Customer("cus_1")
			require.NoError(t, err)
			require.Equal(t, c, gotC)
			gotC, err = tx.CustomerByDID("did:1")
			require.NoError(t, err)
			require.Equal(t, c, gotC)
			gotB, err := tx.Balance("cus_1", "USD")
			require.NoError(t, err)
			require.Equal(t, b, gotB)
			gotE, err := tx.EntryByKey("cus_1", "k")
			require.NoError(t, err)
			require.Equal(t, e, gotE)
			gotH, err := tx.Hold("hold_1")
			require.NoError(t, err)
			require.Equal(t, h, gotH)
			gotP, err := tx.Product("prod_1")
			require.NoError(t, err)
			require.Equal(t, prod, gotP)
			gotS, err := tx.Subscription("sub_1")
			require.NoError(t, err)
			require.Equal(t, sub, gotS)
			gotPay, err := tx.PaymentByKey("cus_1", "pk")
			require.NoError(t, err)
			require.Equal(t, pay, gotPay)
			gotR, err := tx.RefundByKey("pay_1", "rk")
			require.NoError(t, err)
			require.Equal(t, ref, gotR)
			gotEv, err := tx.Event("evt_1")
			require.NoError(t, err)
			require.Positive(t, gotEv.Seq)
			gotEv.Seq = 0
			require.Equal(t, ev, gotEv)
			gotA, err := tx.Attempt("att_1")
			require.NoError(t, err)
			require.Equal(t, att, gotA)
			eps, err := tx.Endpoints()
			require.NoError(t, err)
			require.Equal(t, []webhook.Endpoint{ep, ep2}, eps)
			gotD, err := tx.Delivery("dlv_1")
			require.NoError(t, err)
			require.Equal(t, d, gotD)
			return nil
		})
	}
}

// TestTimesTruncatedToMicroseconds documents the one lossy mapping:
// PostgreSQL keeps microseconds, so nanoseconds are dropped, and every time
// comes back in UTC.
func TestTimesTruncatedToMicroseconds(t *testing.T) {
	s := newStore(t)
	at := time.Date(2025, 1, 2, 3, 4, 5, 123456789, time.FixedZone("X", 3600))
	update(t, s, func(tx store.Tx) error {
		return tx.InsertCustomer(customer.Customer{ID: "cus_t", CreatedAt: at, UpdatedAt: at})
	})
	view(t, s, func(tx store.Tx) error {
		c, err := tx.Customer("cus_t")
		require.NoError(t, err)
		require.Equal(t, at.UTC().Truncate(time.Microsecond), c.CreatedAt)
		require.Equal(t, time.UTC, c.CreatedAt.Location())
		return nil
	})
}
