package coffertest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/coffertest"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/webhook"
)

var ctx = context.Background()

// recordingT is a testing.TB whose Fatalf records instead of stopping, to
// test that the helpers fail when they should.
type recordingT struct {
	testing.TB
	failed []string
}

func (r *recordingT) Helper() {}
func (r *recordingT) Fatalf(f string, args ...any) {
	r.failed = append(r.failed, fmt.Sprintf(f, args...))
}

func newCustomer(t *testing.T, env *coffertest.Env, name string) customer.Customer {
	t.Helper()
	c, err := env.Engine.CreateCustomer(ctx, customer.Params{Name: new(name)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewAndRequireEvent(t *testing.T) {
	env := coffertest.New(t, coffer.WithCurrencies("EUR"))
	if got := env.Engine.Currencies(); len(got) != 1 || got[0] != "EUR" {
		t.Fatalf("extra option not applied: %v", got)
	}
	if !env.Clock.Now().Equal(coffertest.Start) {
		t.Fatalf("clock at %v", env.Clock.Now())
	}
	a, b := newCustomer(t, env, "Ada"), newCustomer(t, env, "Bob")
	ev := coffertest.RequireEvent(t, env.Engine, coffer.EventCustomerCreated, func(ev webhook.Event) bool {
		return ev.CustomerID == b.ID
	})
	if got := coffertest.Decode[customer.Customer](t, ev.Data); got.Name != "Bob" {
		t.Fatalf("decoded %+v", got)
	}
	if first := coffertest.RequireEvent(t, env.Engine, coffer.EventCustomerCreated, nil); first.CustomerID != a.ID {
		t.Fatalf("RequireEvent with nil match returned %s, want the oldest (%s)", first.CustomerID, a.ID)
	}
	if n := len(coffertest.Events(t, env.Engine, "")); n != 2 {
		t.Fatalf("%d events", n)
	}

	// No such event: the test fails.
	rt := &recordingT{TB: t}
	coffertest.RequireEvent(rt, env.Engine, coffer.EventCustomerCreated, func(ev webhook.Event) bool { return ev.CustomerID == "cus_nobody" })
	coffertest.RequireEvent(rt, env.Engine, coffer.EventPaymentSucceeded, nil)
	coffertest.RequireEvent(rt, env.Engine, "no.such_type", nil)
	if len(rt.failed) != 3 {
		t.Fatalf("failures %q", rt.failed)
	}
}

// TestAdvanceRunsRetries: a declined subscription charge is retried on
// day 3 at its own time, with its notice a day before, and the webhooks
// of each step reach the receiver, verified.
func TestAdvanceRunsRetries(t *testing.T) {
	env := coffertest.New(t)
	rc := env.NewReceiver(t, "payment.*")
	prod, err := env.Engine.CreateProduct(ctx, coffer.ProductParams{Name: "Pro", Price: 25_00, Currency: "USD"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := env.Engine.CreateSubscription(ctx, coffer.SubscriptionParams{ProductID: prod.ID, Quantity: 1,
		PaymentMethod: processor.CardInsufficientFunds, Customer: &customer.Params{Name: new("Ada")},
		OnDemand: &coffer.OnDemand{MandateOnly: new(false)}})
	if err != nil {
		t.Fatal(err)
	}
	coffertest.RequireEvent(t, env.Engine, coffer.EventPaymentFailed, nil)
	if _, ok := rc.Find(coffer.EventPaymentFailed, nil); ok {
		t.Fatal("delivered before any dispatch")
	}

	rep := env.Advance(t, 3*retry.Day+time.Hour)
	if rep.Retries.Attempted != 1 || rep.Retries.Failed != 1 || rep.Retries.Notified != 1 {
		t.Fatalf("retries %+v", rep.Retries)
	}
	if !env.Clock.Now().Equal(coffertest.Start.Add(3*retry.Day + time.Hour)) {
		t.Fatalf("clock at %v", env.Clock.Now())
	}
	fails := coffertest.Events(t, env.Engine, coffer.EventPaymentFailed)
	if len(fails) != 2 {
		t.Fatalf("%d payment.failed", len(fails))
	}
	// The retry ran at its own time (day 3), not at the end of Advance.
	if got := fails[1].CreatedAt.Sub(coffertest.Start); got > 3*retry.Day || got < 3*retry.Day-time.Hour {
		t.Fatalf("retry at start+%v", got)
	}
	notice := coffertest.RequireEvent(t, env.Engine, coffer.EventRetryUpcoming, nil)
	if !notice.CreatedAt.Before(fails[1].CreatedAt) {
		t.Fatal("notice after the attempt")
	}
	d := rc.Require(t, coffer.EventRetryUpcoming, nil)
	if d.ID != notice.ID {
		t.Fatalf("delivered %s, want %s", d.ID, notice.ID)
	}
	rc.Require(t, coffer.EventPaymentFailed, func(d coffertest.Delivery) bool { return d.ID == fails[1].ID })
	if n := len(rc.Rejected()); n != 0 {
		t.Fatalf("%d rejected", n)
	}
	for _, d := range rc.Deliveries() {
		if !strings.HasPrefix(d.Type, "payment.") {
			t.Fatalf("endpoint filter not applied: %s", d.Type)
		}
	}
	sub, err := env.Engine.Subscription(ctx, res.Subscription.ID)
	if err != nil {
		t.Fatal(err)
	}
	if sub.Status != subscription.StatusActive {
		t.Fatalf("status %s after attempt 2", sub.Status)
	}
}

// TestAdvanceReconciles: a charge made while the processor was down stays
// pending until the reconciliation lease ends; Advance past it asks the
// processor (which never got it) and settles it as failed.
func TestAdvanceReconciles(t *testing.T) {
	env := coffertest.New(t)
	c := newCustomer(t, env, "Ada")
	env.Processor.SetUnavailable(true)
	pay, err := env.Engine.ChargeOneTime(ctx, c.ID, coffer.OneTimeParams{Amount: 500, Currency: "USD", PaymentMethod: processor.CardOK})
	if err != nil && !errors.Is(err, processor.ErrUnavailable) {
		t.Fatal(err)
	}
	if pay.Status != subscription.PaymentPending {
		t.Fatalf("status %s", pay.Status)
	}
	env.Processor.SetUnavailable(false)
	if rep := env.Advance(t, time.Second); rep.Reconciled.Payments != 0 {
		t.Fatal("reconciled inside the lease")
	}
	rep := env.Advance(t, coffer.ReconcileAfter)
	if rep.Reconciled.Payments != 1 {
		t.Fatalf("reconcile %+v", rep.Reconciled)
	}
	coffertest.RequireEvent(t, env.Engine, coffer.EventPaymentFailed, func(ev webhook.Event) bool {
		return coffertest.Decode[subscription.Payment](t, ev.Data).ID == pay.ID
	})
}

// TestAdvanceRetriesDeliveries: a receiver answering 500 gets the event
// again on coffer's backoff.
func TestAdvanceRetriesDeliveries(t *testing.T) {
	env := coffertest.New(t)
	rc := env.NewReceiver(t)
	rc.SetStatus(http.StatusInternalServerError)
	c := newCustomer(t, env, "Ada")
	rep := env.Advance(t, 0)
	if rep.Webhooks.Attempted != 1 || rep.Webhooks.Retrying != 1 {
		t.Fatalf("webhooks %+v", rep.Webhooks)
	}
	rc.SetStatus(http.StatusNoContent)
	rep = env.Advance(t, time.Hour)
	if rep.Webhooks.Succeeded != 1 {
		t.Fatalf("webhooks %+v", rep.Webhooks)
	}
	ds := rc.Deliveries()
	if len(ds) != 2 || ds[0].ID != ds[1].ID || ds[0].Type != coffer.EventCustomerCreated {
		t.Fatalf("deliveries %+v", ds)
	}
	if got := coffertest.Decode[customer.Customer](t, ds[1].Data); got.ID != c.ID {
		t.Fatalf("data %+v", got)
	}
}

// TestReceiverRejectsBadSignatures: only a body signed with the secret is
// recorded; a wrong secret, a tampered body and missing headers are 401.
func TestReceiverRejectsBadSignatures(t *testing.T) {
	secret, _ := webhook.NewSecret()
	other, _ := webhook.NewSecret()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	rc := coffertest.NewReceiver(t, secret, webhook.WithClock(func() time.Time { return now }))
	body := []byte(`{"type":"customer.created","timestamp":"2026-05-01T12:00:00Z","data":{"id":"cus_1"}}`)
	post := func(key string, b []byte, sign []byte) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, rc.URL, bytes.NewReader(b))
		if key != "" {
			sig, err := webhook.SignatureHeader([]string{key}, "evt_1", now, sign)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set(webhook.HeaderID, "evt_1")
			req.Header.Set(webhook.HeaderTimestamp, fmt.Sprint(now.Unix()))
			req.Header.Set(webhook.HeaderSignature, sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	tampered := bytes.Replace(body, []byte("cus_1"), []byte("cus_2"), 1)
	for name, code := range map[string]int{
		"wrong secret": post(other, body, body),
		"tampered":     post(secret, tampered, body),
		"unsigned":     post("", body, body),
	} {
		if code != http.StatusUnauthorized {
			t.Errorf("%s: %d", name, code)
		}
	}
	rej := rc.Rejected()
	if len(rej) != 3 || !errors.Is(rej[0], webhook.ErrInvalidSignature) || !errors.Is(rej[2], webhook.ErrMissingHeaders) {
		t.Fatalf("rejected %v", rej)
	}
	if len(rc.Deliveries()) != 0 {
		t.Fatal("recorded a rejected request")
	}
	if code := post(secret, body, body); code != http.StatusNoContent {
		t.Fatalf("valid: %d", code)
	}
	d := rc.Require(t, coffer.EventCustomerCreated, nil)
	if d.ID != "evt_1" || !bytes.Equal(d.Body, body) || string(d.Data) != `{"id":"cus_1"}` {
		t.Fatalf("recorded %+v", d)
	}
	rt := &recordingT{TB: t}
	rc.Require(rt, coffer.EventPaymentFailed, nil)
	rc.WaitFor(rt, coffer.EventPaymentFailed, nil, 10*time.Millisecond)
	if len(rt.failed) != 2 {
		t.Fatalf("failures %q", rt.failed)
	}
}

// TestReceiverWaitFor: with a dispatcher running in the background the
// delivery arrives on its own.
func TestReceiverWaitFor(t *testing.T) {
	env := coffertest.New(t)
	rc := env.NewReceiver(t, coffer.EventBalanceChanged)
	c := newCustomer(t, env, "Ada")
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- env.Engine.RunDispatcher(cctx, coffer.WebhookOptions{AllowPrivateNetworks: true, PollInterval: 10 * time.Millisecond})
	}()
	defer func() { cancel(); <-done }()
	res, err := env.Engine.CreateEntry(ctx, c.ID, coffer.EntryParams{Amount: 100, Currency: "USD", Type: ledger.Credit})
	if err != nil {
		t.Fatal(err)
	}
	d := rc.WaitFor(t, coffer.EventBalanceChanged, nil, 10*time.Second)
	if !strings.Contains(string(d.Data), res.Entry.ID) {
		t.Fatalf("data %s", d.Data)
	}
}

// TestAdvanceExpiresCredits: Advance stops at a grant's expiry, so its
// "Expired credit" debit and wallet.credit_expired event carry the expiry
// time, not the end of the interval; a grant expiring after the interval
// stays.
func TestAdvanceExpiresCredits(t *testing.T) {
	env := coffertest.New(t)
	c := newCustomer(t, env, "Ada")
	soon := env.Clock.Now().Add(5 * 24 * time.Hour)
	later := env.Clock.Now().Add(20 * 24 * time.Hour)
	for _, exp := range []time.Time{soon, later} {
		if _, err := env.Engine.CreateEntry(ctx, c.ID, coffer.EntryParams{Amount: 3_00, Currency: "USD",
			Type: ledger.Credit, Reason: "bonus", CreditKind: ledger.KindGranted, ExpiresAt: exp}); err != nil {
			t.Fatal(err)
		}
	}
	rep := env.Advance(t, 10*24*time.Hour)
	if rep.CreditsExpired != 1 {
		t.Fatalf("expired %d grants, want 1", rep.CreditsExpired)
	}
	ev := coffertest.RequireEvent(t, env.Engine, coffer.EventCreditExpired, nil)
	if !ev.CreatedAt.Equal(soon) {
		t.Fatalf("credit_expired at %v, want the expiry %v", ev.CreatedAt, soon)
	}
	b, err := env.Engine.Balance(ctx, c.ID, "USD")
	if err != nil {
		t.Fatal(err)
	}
	if b.Amount != 3_00 {
		t.Fatalf("balance %d, want 300 (the later grant)", b.Amount)
	}
}
