package httpapi

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/fx"
	"github.com/cofferhq/coffer/processor"
)

// TestAdaptiveCurrencyPayment: a charge priced in EUR on a USD
// subscription is converted; GET /payments/{id} (validated against the
// OpenAPI document like every answer) shows the fee, the price before
// conversion and the rate; a missing rate is a 422 that changes nothing.
func TestAdaptiveCurrencyPayment(t *testing.T) {
	at := time.Date(2026, 11, 30, 16, 0, 0, 0, time.UTC)
	rates, err := fx.ParseStatic(at, "EUR/USD=1.0843")
	require.NoError(t, err)
	e := newTestEnvWith(t, []coffer.Option{coffer.WithFX(rates), coffer.WithAdaptiveFee(250)})
	cus := e.newCustomer("Ada", "ada@example.com")
	sub := e.newSub(cus, e.newProduct(500), processor.CardOK)
	path := "/subscriptions/" + sub + "/charge"

	r := mustOK(t, e.do("POST", path, map[string]any{"product_price": 2000, "product_currency": "EUR",
		"adaptive_currency_fees_inclusive": false, "idempotency_key": "fx-1"})).JSON(t)
	require.Equal(t, "succeeded", r["status"])
	var p Payment
	mustOK(t, e.do("GET", "/payments/"+r["payment_id"].(string), nil)).Decode(t, &p)
	assert.Equal(t, "USD", p.Currency)
	assert.Equal(t, int64(2223), p.TotalAmount)
	assert.Equal(t, int64(2223), p.SettlementAmount)
	assert.Equal(t, int64(54), p.Fee)
	require.NotNil(t, p.ProductAmount)
	assert.Equal(t, int64(2000), *p.ProductAmount)
	require.NotNil(t, p.ProductCurrency)
	assert.Equal(t, "EUR", *p.ProductCurrency)
	require.NotNil(t, p.FXRate)
	assert.Equal(t, "1.0843", *p.FXRate)
	require.NotNil(t, p.FXSource)
	assert.Equal(t, "static", *p.FXSource)
	require.NotNil(t, p.FXRateAt)
	assert.True(t, at.Equal(*p.FXRateAt))
	assert.False(t, p.FeesInclusive)

	// Replayed under its key: the same payment.
	again := mustOK(t, e.do("POST", path, map[string]any{"product_price": 2000, "product_currency": "EUR",
		"adaptive_currency_fees_inclusive": false, "idempotency_key": "fx-1"})).JSON(t)
	assert.Equal(t, r["payment_id"], again["payment_id"])

	// The fee inside the price.
	r = mustOK(t, e.do("POST", path, map[string]any{"product_price": 2000, "product_currency": "EUR",
		"adaptive_currency_fees_inclusive": true})).JSON(t)
	mustOK(t, e.do("GET", "/payments/"+r["payment_id"].(string), nil)).Decode(t, &p)
	assert.Equal(t, int64(2169), p.TotalAmount)
	assert.Equal(t, int64(54), p.Fee)
	assert.True(t, p.FeesInclusive)

	// In the subscription's own currency: nothing converted, nulls.
	r = mustOK(t, e.do("POST", path, map[string]any{"product_price": 2000, "product_currency": "USD"})).JSON(t)
	raw := mustOK(t, e.do("GET", "/payments/"+r["payment_id"].(string), nil)).JSON(t)
	for _, k := range []string{"product_amount", "product_currency", "fx_rate", "fx_source", "fx_rate_at"} {
		v, ok := raw[k]
		assert.True(t, ok, k)
		assert.Nil(t, v, k)
	}
	assert.Equal(t, float64(0), raw["fee"])

	charges := e.proc.ChargeCount()
	bad := e.do("POST", path, map[string]any{"product_price": 2000, "product_currency": "JPY"})
	assert.Equal(t, 422, bad.Status)
	assert.Equal(t, "FX_RATE_UNAVAILABLE", bad.Code(t))
	assert.Equal(t, charges, e.proc.ChargeCount())
}
