package httpapi

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/processor"
)

func tuKey(k string) http.Header { return http.Header{"Idempotency-Key": {k}} }

// TestAutoTopUpRoutes: create, read, list, update (pause, resume), delete a
// wallet's rules; the worker runs a created rule; every answer validates
// against the OpenAPI document (the harness checks it).
func TestAutoTopUpRoutes(t *testing.T) {
	e := newTestEnv(t)
	a := e.newCustomer("Ada", "ada@example.com")
	base := "/customers/" + a + "/wallets/usd/auto-top-ups"
	body := map[string]any{"trigger": "threshold", "threshold": 500, "method": "target", "target": 2000,
		"payment_method": processor.CardOK, "max_per_day": 3, "credit_kind": "granted", "expires_after_seconds": 86400}

	// Without an Idempotency-Key: refused, nothing created.
	r := e.do("POST", base, body)
	assert.Equal(t, http.StatusUnprocessableEntity, r.Status, "%s", r.Body)
	var list AutoTopUpList
	mustOK(t, e.do("GET", base, nil)).Decode(t, &list)
	assert.Empty(t, list.Items)

	var rule AutoTopUpRule
	mustOK(t, e.doKey(opKey, "POST", base, body, tuKey("rule-1"))).Decode(t, &rule)
	assert.Equal(t, "threshold", rule.Trigger)
	assert.Equal(t, "USD", rule.Currency)
	assert.Equal(t, int64(2000), rule.Target)
	assert.Equal(t, "granted", rule.CreditKind)
	assert.Equal(t, int64(86400), rule.ExpiresAfterSeconds)
	require.NotNil(t, rule.NextCheckAt)
	assert.Nil(t, rule.PausedReason)
	// A resend with the key replays the answer: still one rule.
	var again AutoTopUpRule
	mustOK(t, e.doKey(opKey, "POST", base, body, tuKey("rule-1"))).Decode(t, &again)
	assert.Equal(t, rule.ID, again.ID)
	mustOK(t, e.do("GET", base, nil)).Decode(t, &list)
	require.Len(t, list.Items, 1)

	// The worker tops the wallet up to the target.
	rep, err := e.eng.RunTopUps(e.ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Succeeded)
	bal, err := e.eng.Balance(e.ctx, a, "USD")
	require.NoError(t, err)
	assert.Equal(t, int64(2000), bal.Amount)
	var got AutoTopUpRule
	mustOK(t, e.do("GET", base+"/"+rule.ID, nil)).Decode(t, &got)
	assert.Equal(t, 1, got.DayCount)
	assert.Equal(t, int64(2000), got.DayAmount)
	require.NotNil(t, got.LastPaymentID)
	require.NotNil(t, got.Day)

	// Pause, then resume.
	var paused AutoTopUpRule
	mustOK(t, e.do("PATCH", base+"/"+rule.ID, map[string]any{"paused": true, "target": 3000})).Decode(t, &paused)
	assert.True(t, paused.Paused)
	require.NotNil(t, paused.PausedReason)
	assert.Equal(t, "paused", *paused.PausedReason)
	assert.Nil(t, paused.NextCheckAt)
	assert.Equal(t, int64(3000), paused.Target)
	mustOK(t, e.do("PATCH", base+"/"+rule.ID, map[string]any{"paused": false})).Decode(t, &paused)
	assert.False(t, paused.Paused)

	// A bad update: a typed 422 naming the parameter, nothing changes.
	r = e.do("PATCH", base+"/"+rule.ID, map[string]any{"target": 100})
	assert.Equal(t, http.StatusUnprocessableEntity, r.Status, "%s", r.Body)
	assert.Equal(t, "INVALID_AUTO_TOP_UP", r.Code(t))
	assert.Equal(t, "target", r.JSON(t)["param"])
	mustOK(t, e.do("GET", base+"/"+rule.ID, nil)).Decode(t, &got)
	assert.Equal(t, int64(3000), got.Target)

	// An interval rule every 6 hours.
	var iv AutoTopUpRule
	mustOK(t, e.doKey(opKey, "POST", base, map[string]any{"trigger": "interval", "interval": "duration",
		"interval_seconds": 6 * 3600, "amount": 500, "payment_method": processor.CardOK, "max_amount_per_day": 2000},
		tuKey("rule-2"))).Decode(t, &iv)
	assert.Equal(t, "duration", iv.Interval)
	assert.Equal(t, int64(6*3600), iv.IntervalSeconds)
	assert.Equal(t, "fixed", iv.Method)

	// The rule is not reachable through another wallet or customer.
	b := e.newCustomer("Bo", "bo@example.com")
	r = e.do("GET", "/customers/"+b+"/wallets/USD/auto-top-ups/"+rule.ID, nil)
	assert.Equal(t, http.StatusNotFound, r.Status)
	assert.Equal(t, "AUTO_TOP_UP_NOT_FOUND", r.Code(t))
	r = e.do("GET", "/customers/"+a+"/wallets/INR/auto-top-ups/"+rule.ID, nil)
	assert.Equal(t, http.StatusNotFound, r.Status)
	r = e.do("DELETE", "/customers/"+b+"/wallets/USD/auto-top-ups/"+rule.ID, nil)
	assert.Equal(t, http.StatusNotFound, r.Status)

	// A restricted key sees its own rules.
	mustOK(t, e.doKey("sk_test_for_"+a, "GET", "/customers/me/wallets/USD/auto-top-ups", nil, nil)).Decode(t, &list)
	assert.Len(t, list.Items, 2)

	// Delete.
	mustOK(t, e.do("DELETE", base+"/"+rule.ID, nil))
	r = e.do("GET", base+"/"+rule.ID, nil)
	assert.Equal(t, http.StatusNotFound, r.Status)
	mustOK(t, e.do("GET", base, nil)).Decode(t, &list)
	require.Len(t, list.Items, 1)
	assert.Equal(t, iv.ID, list.Items[0].ID)
}

// TestAutoTopUpRouteValidation: malformed and out-of-range bodies are 422s
// with a param, and create nothing.
func TestAutoTopUpRouteValidation(t *testing.T) {
	e := newTestEnv(t)
	a := e.newCustomer("Ada", "ada@example.com")
	base := "/customers/" + a + "/wallets/USD/auto-top-ups"
	cases := []struct {
		body  map[string]any
		param string
	}{
		{map[string]any{"trigger": "never", "payment_method": "pm", "max_per_day": 1}, "trigger"},
		{map[string]any{"trigger": "threshold", "threshold": -5, "amount": 1, "payment_method": "pm", "max_per_day": 1}, "threshold"},
		{map[string]any{"trigger": "threshold", "threshold": 5, "amount": 1, "payment_method": "pm"}, "max_per_day"},
		{map[string]any{"trigger": "threshold", "threshold": 5, "amount": 1, "payment_method": "pm", "max_per_day": 1e12}, "max_per_day"},
		{map[string]any{"trigger": "interval", "interval": "duration", "interval_seconds": 9e15, "amount": 1,
			"payment_method": "pm", "max_per_day": 1}, "every"},
		{map[string]any{"trigger": "interval", "interval": "day", "amount": 1, "payment_method": "pm", "max_per_day": 1,
			"expires_after_seconds": -1}, "expires_after"},
		{map[string]any{"trigger": "interval", "interval": "day", "amount": 1, "max_per_day": 1}, "payment_method"},
	}
	for i, tc := range cases {
		r := e.doKey(opKey, "POST", base, tc.body, tuKey("bad-"+time.Duration(i).String()))
		assert.Equal(t, http.StatusUnprocessableEntity, r.Status, "%v: %s", tc.body, r.Body)
		assert.Equal(t, tc.param, r.JSON(t)["param"], "%v", tc.body)
	}
	r := e.doKey(opKey, "POST", base, map[string]any{"trigger": "threshold", "threshold": "lots"}, tuKey("bad-type"))
	assert.Equal(t, http.StatusUnprocessableEntity, r.Status, "%s", r.Body)
	r = e.doKey(opKey, "POST", "/customers/cus_nobody/wallets/USD/auto-top-ups", cases[0].body, tuKey("nobody"))
	assert.Equal(t, http.StatusNotFound, r.Status)
	var list AutoTopUpList
	mustOK(t, e.do("GET", base, nil)).Decode(t, &list)
	assert.Empty(t, list.Items)
}
