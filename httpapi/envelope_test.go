package httpapi

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/wallet"
	"github.com/cofferhq/coffer/webhook"
)

func TestWebhookPayload(t *testing.T) {
	e := newTestEnv(t)
	a := e.newCustomer("Ada", "ada@example.com")
	mustOK(t, e.do("PATCH", "/customers/"+a, `{"name":"Ada L."}`))
	mustOK(t, e.do("POST", "/customers/"+a+"/wallets/ledger-entries",
		map[string]any{"amount": 100, "currency": "USD", "entry_type": "credit"}))
	prod := e.newProduct(500)
	s := e.newSub(a, prod, processor.CardOK)
	pay := e.charge(s, 700)
	mustOK(t, e.do("POST", "/refunds", map[string]any{"payment_id": pay, "amount": 50}))
	soft := e.newSub(a, prod, processor.CardInsufficientFunds)
	e.charge(soft, 300)
	e.newSub(a, prod, processor.CardStolen)
	b := subBody(a, prod, processor.CardRequiresAction, true)
	b["payment_link"] = true
	mustOK(t, e.do("POST", "/subscriptions", b))
	mustOK(t, e.do("POST", "/subscriptions/"+s+"/update-payment-method", `{"type":"existing","payment_method_id":"pm_card_ok"}`))
	mustOK(t, e.do("PATCH", "/subscriptions/"+s, `{"status":"cancelled"}`))
	e.clock.Advance(time.Hour)

	seen := map[string]bool{}
	for ev, err := range coffer.Iterate(e.ctx, coffer.EventListParams{}, e.eng.ListEvents) {
		require.NoError(t, err)
		out, err := e.h.WebhookPayload(e.ctx, ev)
		require.NoError(t, err, ev.Type)
		require.True(t, json.Valid(out), ev.Type)
		var env struct {
			BusinessID string         `json:"business_id"`
			Type       string         `json:"type"`
			Timestamp  time.Time      `json:"timestamp"`
			Data       map[string]any `json:"data"`
		}
		require.NoError(t, json.Unmarshal(out, &env))
		assert.Equal(t, DefaultBusinessID, env.BusinessID)
		assert.Equal(t, ev.Type, env.Type)
		assert.Equal(t, ev.CreatedAt.UTC(), env.Timestamp)
		require.NotNil(t, env.Data, ev.Type)
		seen[ev.Type] = true
		switch kind := dodoPayload(ev.Type); kind {
		case "Payment":
			assert.Equal(t, "Payment", env.Data["payload_type"])
			assert.NotEmpty(t, env.Data["payment_id"])
			assert.Contains(t, []any{"succeeded", "failed"}, env.Data["status"])
			assert.Equal(t, a, env.Data["customer"].(map[string]any)["customer_id"])
			assert.IsType(t, []any{}, env.Data["refunds"])
		case "Refund":
			assert.Equal(t, "Refund", env.Data["payload_type"])
			assert.Equal(t, pay, env.Data["payment_id"])
			assert.Equal(t, true, env.Data["is_partial"])
		case "Subscription":
			assert.Equal(t, "Subscription", env.Data["payload_type"])
			assert.NotEmpty(t, env.Data["subscription_id"])
			v, ok := env.Data["past_due_ends_at"]
			assert.True(t, ok)
			assert.Nil(t, v)
			assert.Equal(t, "Month", env.Data["payment_frequency_interval"])
		default:
			assert.Nil(t, env.Data["payload_type"], "coffer's own data: %s", ev.Type)
		}
	}
	for _, typ := range []string{"customer.created", "customer.updated", "wallet.balance_changed", "subscription.active",
		"subscription.pending", "subscription.failed", "subscription.updated", "subscription.cancelled", "payment.succeeded",
		"payment.failed", "refund.succeeded", "payment.retry_scheduled"} {
		assert.True(t, seen[typ], "no %s event was produced", typ)
	}
	// Every other type, from records of the right kind.
	subRec, err := e.eng.Subscription(e.ctx, s)
	require.NoError(t, err)
	payRec, err := e.eng.Payment(e.ctx, pay)
	require.NoError(t, err)
	refs, err := e.eng.ListRefunds(e.ctx, coffer.RefundListParams{PaymentID: pay})
	require.NoError(t, err)
	for _, typ := range coffer.EventTypes() {
		if seen[typ] {
			continue
		}
		var data any = map[string]any{"customer_id": a, "threshold": 10}
		if typ == coffer.EventCreditExpired {
			data = coffer.CreditExpired{Grant: ledger.Grant{ID: "le_g", EntryID: "le_g", CustomerID: a, Currency: "USD",
				Kind: ledger.KindGranted, Amount: 10, Expired: 10, CreatedAt: t0},
				Entry:   ledger.Entry{ID: "le_x", CustomerID: a, Currency: "USD", Type: ledger.Debit, Amount: 10, CreatedAt: t0},
				Balance: wallet.Balance{CustomerID: a, Currency: "USD"}}
		}
		switch dodoPayload(typ) {
		case "Payment":
			data = payRec
		case "Refund":
			data = refs.Data[0]
		case "Subscription":
			data = subRec
		}
		raw, err := json.Marshal(data)
		require.NoError(t, err)
		out, err := e.h.WebhookPayload(e.ctx, webhook.Event{ID: "evt_x", Type: typ, CustomerID: a, Data: raw, CreatedAt: t0})
		require.NoError(t, err, typ)
		var env map[string]any
		require.NoError(t, json.Unmarshal(out, &env), typ)
		assert.Equal(t, typ, env["type"])
		assert.NotNil(t, env["data"], typ)
	}
	// Data that is not the record it should be is an error, not a bad body.
	_, err = e.h.WebhookPayload(e.ctx, webhook.Event{ID: "evt_y", Type: "payment.succeeded", Data: []byte(`[1]`), CreatedAt: t0})
	assert.Error(t, err)
}
