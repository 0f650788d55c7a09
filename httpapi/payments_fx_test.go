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

// newOneTimeProduct creates a one-time product priced in currency.
func (e *testEnv) newOneTimeProduct(price int64, currency string) string {
	e.t.Helper()
	body := productBody(price)
	body["price"] = map[string]any{"type": "one_time_price", "currency": currency, "price": price}
	return mustOK(e.t, e.do("POST", "/products", body)).JSON(e.t)["product_id"].(string)
}

func cartBody(customerID, card, key string, cart ...any) map[string]any {
	items := []map[string]any{}
	for i := 0; i+1 < len(cart); i += 2 {
		items = append(items, map[string]any{"product_id": cart[i], "quantity": cart[i+1]})
	}
	return map[string]any{"customer": map[string]any{"customer_id": customerID}, "product_cart": items,
		"billing": map[string]any{"country": "US"}, "payment_method_id": card, "idempotency_key": key}
}

// TestCreatePaymentAdaptiveCurrency: POST /payments charges a one-time
// cart priced in EUR in billing_currency USD, converted with the fee on
// top or inside; the answer (validated against the OpenAPI document like
// every answer) carries the rate; a replay returns the same payment, other
// terms under the key are a 409, a missing rate a 422 that charges nothing.
func TestCreatePaymentAdaptiveCurrency(t *testing.T) {
	at := time.Date(2026, 11, 30, 16, 0, 0, 0, time.UTC)
	rates, err := fx.ParseStatic(at, "EUR/USD=1.0843")
	require.NoError(t, err)
	e := newTestEnvWith(t, []coffer.Option{coffer.WithFX(rates), coffer.WithAdaptiveFee(250)})
	cus := e.newCustomer("Ada", "ada@example.com")
	eur := e.newOneTimeProduct(10_00, "EUR")

	// 2 x 10.00 EUR = 20.00 EUR x 1.0843 = 2169 cents, fee 54 on top.
	body := cartBody(cus, processor.CardOK, "ot-1", eur, 2)
	body["billing_currency"] = "USD"
	var p Payment
	mustOK(t, e.do("POST", "/payments", body)).Decode(t, &p)
	assert.Equal(t, "succeeded", p.Status)
	assert.Equal(t, "one_time", p.Kind)
	assert.Equal(t, "USD", p.Currency)
	assert.Equal(t, int64(22_23), p.TotalAmount)
	assert.Equal(t, int64(54), p.Fee)
	require.NotNil(t, p.ProductAmount)
	assert.Equal(t, int64(20_00), *p.ProductAmount)
	require.NotNil(t, p.ProductCurrency)
	assert.Equal(t, "EUR", *p.ProductCurrency)
	require.NotNil(t, p.FXRate)
	assert.Equal(t, "1.0843", *p.FXRate)
	require.NotNil(t, p.FXRateAt)
	assert.True(t, at.Equal(*p.FXRateAt))
	var got Payment
	mustOK(t, e.do("GET", "/payments/"+p.PaymentID, nil)).Decode(t, &got)
	assert.Equal(t, p.TotalAmount, got.TotalAmount)
	assert.Equal(t, *p.FXRate, *got.FXRate)

	// Replayed: the same payment; other terms under the key: 409.
	var again Payment
	mustOK(t, e.do("POST", "/payments", body)).Decode(t, &again)
	assert.Equal(t, p.PaymentID, again.PaymentID)
	charges := e.proc.ChargeCount()
	other := cartBody(cus, processor.CardOK, "ot-1", eur, 2)
	other["billing_currency"] = "USD"
	other["adaptive_currency_fees_inclusive"] = true
	r := e.do("POST", "/payments", other)
	assert.Equal(t, 409, r.Status)

	// The fee inside the price.
	other["idempotency_key"] = "ot-2"
	mustOK(t, e.do("POST", "/payments", other)).Decode(t, &p)
	assert.Equal(t, int64(21_69), p.TotalAmount)
	assert.Equal(t, int64(54), p.Fee)
	assert.True(t, p.FeesInclusive)
	charges++

	// In the products' own currency: nothing converted.
	plain := cartBody(cus, processor.CardOK, "ot-3", eur, 1)
	raw := mustOK(t, e.do("POST", "/payments", plain)).JSON(t)
	assert.Equal(t, "EUR", raw["currency"])
	assert.Equal(t, float64(10_00), raw["total_amount"])
	assert.Nil(t, raw["fx_rate"])
	charges++

	// No rate EUR/JPY: 422, nothing charged.
	bad := cartBody(cus, processor.CardOK, "ot-4", eur, 1)
	bad["billing_currency"] = "JPY"
	r = e.do("POST", "/payments", bad)
	assert.Equal(t, 422, r.Status)
	assert.Equal(t, "FX_RATE_UNAVAILABLE", r.Code(t))
	assert.Equal(t, charges, e.proc.ChargeCount())

	// Bad carts.
	recurring := e.newProduct(5_00)
	for name, b := range map[string]map[string]any{
		"recurring product": cartBody(cus, processor.CardOK, "ot-5", recurring, 1),
		"zero quantity":     cartBody(cus, processor.CardOK, "ot-6", eur, 0),
		"empty cart":        cartBody(cus, processor.CardOK, "ot-7"),
		"no key":            cartBody(cus, processor.CardOK, "", eur, 1),
		"mixed currencies":  cartBody(cus, processor.CardOK, "ot-8", eur, 1, e.newOneTimeProduct(1_00, "USD"), 1),
	} {
		r := e.do("POST", "/payments", b)
		assert.Equal(t, 422, r.Status, name)
	}
	assert.Equal(t, charges, e.proc.ChargeCount())
}

// TestCreatePaymentWithoutFX: without adaptive currency a cart is charged
// in its products' currency, and a billing_currency other than it is 422.
func TestCreatePaymentWithoutFX(t *testing.T) {
	e := newTestEnv(t)
	cus := e.newCustomer("Ada", "ada@example.com")
	usd := e.newOneTimeProduct(10_00, "USD")
	raw := mustOK(t, e.do("POST", "/payments", cartBody(cus, processor.CardOK, "k1", usd, 3))).JSON(t)
	assert.Equal(t, "USD", raw["currency"])
	assert.Equal(t, float64(30_00), raw["total_amount"])
	assert.Equal(t, float64(0), raw["fee"])
	b := cartBody(cus, processor.CardOK, "k2", usd, 1)
	b["billing_currency"] = "EUR"
	r := e.do("POST", "/payments", b)
	assert.Equal(t, 422, r.Status)
	assert.Equal(t, "INVALID_REQUEST", r.Code(t))
	// A customer's own key cannot charge: operator keys only.
	r = e.doKey("sk_test_for_"+cus, "POST", "/payments", cartBody(cus, processor.CardOK, "k3", usd, 1), nil)
	assert.Equal(t, 403, r.Status)
	assert.Equal(t, 1, e.proc.ChargeCount())
}
