package httpapi

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/processor"
)

// TestBuyCreditRoute: a "$10 pack" bought with $5 in the wallet charges the
// card 10.00 and leaves the wallet at 15.00; a replay returns the same
// payment without a second charge; terms land on the grant; a decline
// credits nothing.
func TestBuyCreditRoute(t *testing.T) {
	e := newTestEnv(t)
	a := e.newCustomer("Ada", "ada@example.com")
	mustOK(t, e.do("POST", "/customers/"+a+"/wallets/ledger-entries", `{"amount":500,"currency":"USD","entry_type":"credit"}`))
	path := "/customers/" + a + "/wallets/credit-purchases"
	body := map[string]any{"amount": 1000, "currency": "usd", "payment_method": processor.CardOK,
		"description": "$10 pack", "idempotency_key": "pack-1"}
	var p Payment
	mustOK(t, e.do("POST", path, body)).Decode(t, &p)
	assert.Equal(t, "succeeded", p.Status)
	assert.Equal(t, int64(1000), p.TotalAmount)
	b, err := e.eng.Balance(e.ctx, a, "USD")
	require.NoError(t, err)
	assert.Equal(t, int64(1500), b.Amount)
	pay, err := e.eng.Payment(e.ctx, p.PaymentID)
	require.NoError(t, err)
	assert.Equal(t, int64(0), pay.WalletAmount, "the wallet is never applied to a purchase")
	assert.Equal(t, int64(1000), pay.ProcessorAmount)

	// The same key (here as the header) and body: the same payment, no
	// second charge or credit.
	delete(body, "idempotency_key")
	var again Payment
	mustOK(t, e.doKey(opKey, "POST", path, body, http.Header{"Idempotency-Key": {"pack-1"}})).Decode(t, &again)
	assert.Equal(t, p.PaymentID, again.PaymentID)
	b, err = e.eng.Balance(e.ctx, a, "USD")
	require.NoError(t, err)
	assert.Equal(t, int64(1500), b.Amount)

	// Another body under the key: refused, nothing changes; by the HTTP
	// layer for the header (the request differs), by the Engine for the
	// body's key (an idempotency conflict).
	body["amount"] = 2000
	r := e.doKey(opKey, "POST", path, body, http.Header{"Idempotency-Key": {"pack-1"}})
	assert.Equal(t, http.StatusUnprocessableEntity, r.Status, "%s", r.Body)
	assert.Equal(t, "IDEMPOTENCY_KEY_REUSED", r.Code(t))
	body["idempotency_key"] = "pack-1"
	r = e.do("POST", path, body)
	assert.Equal(t, http.StatusConflict, r.Status, "%s", r.Body)
	b, err = e.eng.Balance(e.ctx, a, "USD")
	require.NoError(t, err)
	assert.Equal(t, int64(1500), b.Amount)

	// A granted purchase expiring in 10 days: the terms are on its grant.
	exp := t0.Add(10 * 24 * time.Hour)
	mustOK(t, e.do("POST", path, map[string]any{"amount": 700, "currency": "USD", "payment_method": processor.CardOK,
		"idempotency_key": "promo-1", "credit_kind": "granted", "priority": -1, "expires_at": exp.Format(time.RFC3339)}))
	cs, err := e.eng.ExpiringCredits(e.ctx, a, "USD", 30*24*time.Hour)
	require.NoError(t, err)
	assert.Equal(t, int64(2200), cs.Balance.Amount)
	assert.Equal(t, int64(700), cs.Granted)
	require.NotEmpty(t, cs.Grants)
	assert.Equal(t, ledger.KindGranted, cs.Grants[0].Kind)
	assert.Equal(t, -1, cs.Grants[0].Priority)
	assert.True(t, cs.Grants[0].ExpiresAt.Equal(exp))

	// A declined card: the payment failed, nothing credited.
	var d Payment
	mustOK(t, e.do("POST", path, map[string]any{"amount": 900, "currency": "USD", "payment_method": processor.CardDoNotHonor,
		"idempotency_key": "pack-2"})).Decode(t, &d)
	assert.Equal(t, "failed", d.Status)
	b, err = e.eng.Balance(e.ctx, a, "USD")
	require.NoError(t, err)
	assert.Equal(t, int64(2200), b.Amount)

	// A restricted key buys for its own customer.
	mustOK(t, e.doKey("sk_test_for_"+a, "POST", "/customers/me/wallets/credit-purchases", map[string]any{"amount": 100,
		"currency": "USD", "payment_method": processor.CardOK, "idempotency_key": "mine-1"}, nil))
}

// TestBuyCreditRouteRefused: every refusal is typed and changes nothing.
func TestBuyCreditRouteRefused(t *testing.T) {
	e := newTestEnv(t)
	a := e.newCustomer("Ada", "ada@example.com")
	b := e.newCustomer("Bob", "bob@example.com")
	path := "/customers/" + a + "/wallets/credit-purchases"
	ok := func(over map[string]any) map[string]any {
		m := map[string]any{"amount": 1000, "currency": "USD", "payment_method": processor.CardOK, "idempotency_key": "k"}
		for k, v := range over {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	e.expectErrors(opKey, []errCase{
		{"no idempotency key", "POST", path, ok(map[string]any{"idempotency_key": nil}), 422, "INVALID_PARAMETER"},
		{"no amount", "POST", path, ok(map[string]any{"amount": nil}), 422, "INVALID_PARAMETER"},
		{"negative amount", "POST", path, ok(map[string]any{"amount": -5}), 422, ""},
		{"bad expiry", "POST", path, ok(map[string]any{"expires_at": "tomorrow"}), 422, "INVALID_PARAMETER"},
		{"expiry in the past", "POST", path, ok(map[string]any{"expires_at": t0.Add(-time.Hour).Format(time.RFC3339)}), 422, ""},
		{"unknown kind", "POST", path, ok(map[string]any{"credit_kind": "free"}), 422, ""},
		{"unknown currency", "POST", path, ok(map[string]any{"currency": "XXX"}), 422, ""},
		{"no payment method", "POST", path, ok(map[string]any{"payment_method": nil}), 422, ""},
		{"unknown customer", "POST", "/customers/cus_nobody/wallets/credit-purchases", ok(nil), 404, ""},
	})
	e.expectErrors("sk_test_for_"+b, []errCase{
		{"another customer's wallet", "POST", path, ok(nil), 403, "FORBIDDEN"},
	})
	for _, id := range []string{a, b} {
		bal, err := e.eng.Balance(e.ctx, id, "USD")
		require.NoError(t, err)
		require.Equal(t, int64(0), bal.Amount, "nothing was credited to %s", id)
	}
	pays, err := e.eng.ListPayments(e.ctx, coffer.PaymentListParams{})
	require.NoError(t, err)
	assert.Empty(t, pays.Data, "no payment was made")
}
