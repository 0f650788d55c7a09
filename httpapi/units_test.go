package httpapi

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUnitRoutes: define, read and list units; wallets, ledger entries,
// credits and thresholds take a unit code; token_balance shows it.
func TestUnitRoutes(t *testing.T) {
	e := newTestEnv(t)
	var u Unit
	body := map[string]any{"code": "credits", "exponent": 2, "name": "Credits",
		"price": map[string]any{"amount": 150, "currency": "USD", "per": 100}}
	mustOK(t, e.do("POST", "/units", body)).Decode(t, &u)
	assert.Equal(t, "credits", u.Code)
	assert.Equal(t, 2, u.Exponent)
	require.NotNil(t, u.Price)
	assert.Equal(t, UnitPrice{Amount: 150, Currency: "USD", Per: 100}, *u.Price)
	require.NotNil(t, u.CreatedAt)
	var again Unit
	mustOK(t, e.do("POST", "/units", body)).Decode(t, &again)
	assert.Equal(t, u, again, "the same definition: the same unit")
	body["exponent"] = 0
	r := e.do("POST", "/units", body)
	assert.Equal(t, http.StatusConflict, r.Status)
	assert.Equal(t, "UNIT_CONFLICT", r.Code(t))
	mustOK(t, e.do("POST", "/units", map[string]any{"code": "api_calls", "name": "API calls"}))

	for _, bad := range []map[string]any{{"code": "usd"}, {"code": "API_CALLS"}, {"code": "x", "exponent": 9},
		{"code": strings.Repeat("x", 40)}, {"code": "x", "price": map[string]any{"amount": 0, "currency": "USD"}}} {
		r := e.do("POST", "/units", bad)
		assert.Equal(t, http.StatusUnprocessableEntity, r.Status, "%v: %s", bad, r.Body)
	}
	var list UnitList
	mustOK(t, e.do("GET", "/units", nil)).Decode(t, &list)
	require.Len(t, list.Items, 2)
	assert.Equal(t, "api_calls", list.Items[0].Code)
	mustOK(t, e.do("GET", "/units/credits", nil))
	r = e.do("GET", "/units/tokens", nil)
	assert.Equal(t, http.StatusUnprocessableEntity, r.Status)
	assert.Equal(t, "UNKNOWN_UNIT", r.Code(t))

	a := e.newCustomer("Ada", "ada@example.com")
	// A restricted key defines no unit.
	r = e.doKey("sk_test_for_"+a, "POST", "/units", map[string]any{"code": "tokens"}, nil)
	assert.Equal(t, http.StatusForbidden, r.Status)

	var cu Customer
	mustOK(t, e.do("GET", "/customers/"+a, nil)).Decode(t, &cu)
	assert.Equal(t, map[string]string{}, cu.TokenBalance)
	entries := "/customers/" + a + "/wallets/ledger-entries"
	mustOK(t, e.do("POST", entries, map[string]any{"amount": 1234, "currency": "credits", "entry_type": "credit"}))
	mustOK(t, e.do("POST", entries, map[string]any{"amount": 1000, "currency": "api_calls", "entry_type": "credit"}))
	mustOK(t, e.do("POST", entries, map[string]any{"amount": 500, "currency": "USD", "entry_type": "credit"}))
	r = e.do("POST", entries, map[string]any{"amount": 1001, "currency": "api_calls", "entry_type": "debit"})
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Equal(t, "INSUFFICIENT_FUNDS", r.Code(t))
	r = e.do("POST", entries, map[string]any{"amount": 1, "currency": "tokens", "entry_type": "credit"})
	assert.Equal(t, "UNKNOWN_UNIT", r.Code(t))
	r = e.do("POST", entries, map[string]any{"amount": 1, "currency": "API_CALLS", "entry_type": "credit"})
	assert.Equal(t, "UNKNOWN_CURRENCY", r.Code(t))

	mustOK(t, e.do("GET", "/customers/"+a, nil)).Decode(t, &cu)
	assert.Equal(t, map[string]string{"credits": "12.34", "api_calls": "1000"}, cu.TokenBalance)
	var up Customer
	mustOK(t, e.do("PATCH", "/customers/"+a, map[string]any{"name": "Ada L."})).Decode(t, &up)
	assert.Equal(t, cu.TokenBalance, up.TokenBalance)

	page := mustOK(t, e.do("GET", entries+"?currency=api_calls", nil)).JSON(t)
	require.Len(t, page["items"], 1)
	assert.Equal(t, "UNKNOWN_UNIT", e.do("GET", entries+"?currency=tokens", nil).Code(t))
	mustOK(t, e.do("GET", "/customers/"+a+"/wallets/api_calls/credits", nil))
	mustOK(t, e.do("PUT", "/customers/"+a+"/wallets/api_calls/low-balance-threshold", map[string]any{"threshold": 10}))
	ws := mustOK(t, e.do("GET", "/customers/"+a+"/wallets", nil)).JSON(t)
	assert.Len(t, ws["items"], 6, "EUR, INR, JPY, USD and the two units")
}

// TestUsageRoute: POST /usage applies a batch with per-item outcomes,
// replays safely, refuses a malformed batch whole.
func TestUsageRoute(t *testing.T) {
	e := newTestEnv(t)
	mustOK(t, e.do("POST", "/units", map[string]any{"code": "api_calls"}))
	a := e.newCustomer("Ada", "ada@example.com")
	mustOK(t, e.do("POST", "/customers/"+a+"/wallets/ledger-entries", map[string]any{"amount": 100, "currency": "api_calls", "entry_type": "credit"}))
	body := map[string]any{"items": []map[string]any{
		{"customer_id": a, "unit": "api_calls", "quantity": 60, "idempotency_key": "m1"},
		{"customer_id": a, "unit": "api_calls", "quantity": 50, "idempotency_key": "m2", "reason": "search"},
		{"customer_id": "cus_nope", "unit": "api_calls", "quantity": 1, "idempotency_key": "m3"},
		{"customer_id": a, "unit": "api_calls", "quantity": 40, "idempotency_key": "m4", "reference_id": "req_9"},
	}}
	var out UsageBatch
	mustOK(t, e.do("POST", "/usage", body)).Decode(t, &out)
	assert.Equal(t, 2, out.Applied)
	assert.Equal(t, 2, out.Refused)
	assert.Equal(t, "applied", out.Items[0].Status)
	assert.Equal(t, int64(40), out.Items[0].Wallet.Balance)
	assert.Equal(t, "refused", out.Items[1].Status)
	assert.Equal(t, "INSUFFICIENT_FUNDS", out.Items[1].Error.Code)
	assert.Equal(t, "CUSTOMER_NOT_FOUND", out.Items[2].Error.Code)
	assert.Equal(t, "req_9", *out.Items[3].Entry.ReferenceObjectID)
	assert.Equal(t, "usage", out.Items[3].Entry.ReferenceType)
	assert.Equal(t, int64(0), out.Items[3].Wallet.Balance)

	var replay UsageBatch
	mustOK(t, e.do("POST", "/usage", body)).Decode(t, &replay)
	assert.Equal(t, 2, replay.Replayed)
	assert.Equal(t, out.Items[0].Entry.ID, replay.Items[0].Entry.ID)
	assert.True(t, replay.Items[0].Replayed)

	many := make([]map[string]any, maxUsageItems+1)
	for i := range many {
		many[i] = map[string]any{"customer_id": a, "unit": "api_calls", "quantity": 1, "idempotency_key": fmt.Sprint("k", i)}
	}
	for name, tc := range map[string]struct {
		body   any
		status int
		code   string
	}{
		"no items":     {map[string]any{"items": []any{}}, 422, "INVALID_PARAMETER"},
		"too many":     {map[string]any{"items": many}, 422, "INVALID_PARAMETER"},
		"no quantity":  {map[string]any{"items": []map[string]any{{"customer_id": a, "unit": "api_calls", "idempotency_key": "z"}}}, 422, "INVALID_PARAMETER"},
		"no key":       {map[string]any{"items": []map[string]any{{"customer_id": a, "unit": "api_calls", "quantity": 1}}}, 422, "INVALID_IDEMPOTENCY_KEY"},
		"unknown unit": {map[string]any{"items": []map[string]any{{"customer_id": a, "unit": "tokens", "quantity": 1, "idempotency_key": "z"}}}, 422, "UNKNOWN_UNIT"},
		"bad quantity": {map[string]any{"items": []map[string]any{{"customer_id": a, "unit": "api_calls", "quantity": "1", "idempotency_key": "z"}}}, 422, ""},
		"not json":     {"{", 400, ""},
	} {
		r := e.do("POST", "/usage", tc.body)
		assert.Equal(t, tc.status, r.Status, "%s: %s", name, r.Body)
		if tc.code != "" {
			assert.Equal(t, tc.code, r.Code(t), name)
		}
	}
	// A restricted key records no usage.
	r := e.doKey("sk_test_for_"+a, "POST", "/usage", body, nil)
	assert.Equal(t, http.StatusForbidden, r.Status)
}

// TestUnitPurchaseAndReservationRoutes: buying units with a card, and a
// reservation settled with less than it held.
func TestUnitPurchaseAndReservationRoutes(t *testing.T) {
	e := newTestEnv(t)
	mustOK(t, e.do("POST", "/units", map[string]any{"code": "api_calls",
		"price": map[string]any{"amount": 150, "currency": "USD", "per": 1000}}))
	a := e.newCustomer("Ada", "ada@example.com")
	path := "/customers/" + a + "/wallets/unit-purchases"
	body := map[string]any{"unit": "api_calls", "quantity": 2000, "payment_method": "pm_card_ok", "idempotency_key": "buy-1"}
	var p Payment
	mustOK(t, e.do("POST", path, body)).Decode(t, &p)
	assert.Equal(t, "succeeded", p.Status)
	assert.Equal(t, int64(300), p.TotalAmount)
	var again Payment
	mustOK(t, e.do("POST", path, body)).Decode(t, &again)
	assert.Equal(t, p.PaymentID, again.PaymentID)
	b, err := e.eng.Balance(e.ctx, a, "api_calls")
	require.NoError(t, err)
	assert.Equal(t, int64(2000), b.Amount)
	r := e.do("POST", path, map[string]any{"unit": "api_calls", "quantity": 2000, "payment_method": "pm_card_ok"})
	assert.Equal(t, http.StatusUnprocessableEntity, r.Status, "an idempotency key is required")
	r = e.do("POST", path, map[string]any{"unit": "api_calls", "quantity": 1500, "payment_method": "pm_card_ok", "idempotency_key": "buy-2"})
	assert.Equal(t, "INVALID_UNIT", r.Code(t))
	r = e.doKey("sk_test_for_"+a, "POST", path, body, nil)
	assert.Equal(t, http.StatusForbidden, r.Status)

	var res Reservation
	mustOK(t, e.do("POST", "/customers/"+a+"/wallets/reservations", map[string]any{"unit": "api_calls", "quantity": 500,
		"idempotency_key": "job-1"})).Decode(t, &res)
	assert.Equal(t, "pending", res.Status)
	assert.Equal(t, int64(500), res.Wallet.Held)
	assert.Equal(t, int64(1500), res.Wallet.Available)
	r = e.do("POST", "/customers/"+a+"/wallets/reservations", map[string]any{"unit": "api_calls", "quantity": 1501, "idempotency_key": "job-2"})
	assert.Equal(t, "INSUFFICIENT_FUNDS", r.Code(t))
	var settled Reservation
	mustOK(t, e.do("POST", "/reservations/"+res.ID+"/settle", map[string]any{"quantity": 120})).Decode(t, &settled)
	assert.Equal(t, "captured", settled.Status)
	require.NotNil(t, settled.EntryID)
	assert.Equal(t, int64(1880), settled.Wallet.Balance)
	assert.Equal(t, int64(0), settled.Wallet.Held)
	r = e.do("POST", "/reservations/"+res.ID+"/release", nil)
	assert.Equal(t, http.StatusConflict, r.Status)
	assert.Equal(t, "HOLD_NOT_PENDING", r.Code(t))
	var rel Reservation
	mustOK(t, e.do("POST", "/customers/"+a+"/wallets/reservations", map[string]any{"unit": "api_calls", "quantity": 80,
		"idempotency_key": "job-3"})).Decode(t, &rel)
	mustOK(t, e.do("POST", "/reservations/"+rel.ID+"/release", nil)).Decode(t, &rel)
	assert.Equal(t, "released", rel.Status)
	r = e.do("POST", "/reservations/hold_nope/settle", map[string]any{"quantity": 1})
	assert.Equal(t, http.StatusNotFound, r.Status)
}
