package httpapi

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestProductCreateRetrieveList(t *testing.T) {
	e := newTestEnv(t)
	r := mustOK(t, e.do("POST", "/products", productBody(1500)))
	var p Product
	r.Decode(t, &p)
	assert.True(t, strings.HasPrefix(p.ProductID, "prod_"), p.ProductID)
	assert.Equal(t, DefaultBusinessID, p.BusinessID)
	assert.Equal(t, DefaultBusinessID, p.BrandID)
	assert.Equal(t, "recurring_price", p.Price.Type)
	assert.Equal(t, int64(1500), p.Price.Price)
	assert.Equal(t, "USD", p.Price.Currency)
	assert.Equal(t, "Month", p.Price.PaymentFrequencyInterval)
	assert.True(t, p.IsRecurring)
	assert.Equal(t, "saas", p.TaxCategory)
	require.NotNil(t, p.Name)
	assert.Equal(t, "Usage plan", *p.Name)
	m := r.JSON(t)
	assert.Equal(t, []any{}, m["entitlements"])
	assert.Equal(t, map[string]any{}, m["metadata"])

	got := mustOK(t, e.do("GET", "/products/"+p.ProductID, nil)).JSON(t)
	assert.Equal(t, p.ProductID, got["product_id"])

	// usage_based_price keeps fixed_price.
	ub := productBody(0)
	ub["price"] = map[string]any{"type": "usage_based_price", "currency": "EUR", "fixed_price": 200,
		"payment_frequency_count": 1, "payment_frequency_interval": "Month",
		"subscription_period_count": 1, "subscription_period_interval": "Year", "meters": []any{}}
	u := mustOK(t, e.do("POST", "/products", ub)).JSON(t)
	assert.Equal(t, float64(200), u["price"].(map[string]any)["price"])

	var page Page[ProductListItem]
	mustOK(t, e.do("GET", "/products?page_number=0", nil)).Decode(t, &page)
	require.Len(t, page.Items, 2)
	assert.Equal(t, u["product_id"], page.Items[0].ProductID)
	require.NotNil(t, page.Items[1].Price)
	assert.Equal(t, int64(1500), *page.Items[1].Price)
	assert.Equal(t, "recurring_price", page.Items[1].PriceDetail.Type)
	for _, q := range []string{"archived=true", "brand_id=other"} {
		assert.Empty(t, mustOK(t, e.do("GET", "/products?"+q, nil)).JSON(t)["items"], q)
	}
	assert.Len(t, mustOK(t, e.do("GET", "/products?archived=false&brand_id="+DefaultBusinessID, nil)).JSON(t)["items"], 2)
	assert.Equal(t, "UNSUPPORTED_FILTER", e.do("GET", "/products?recurring=true", nil).Code(t))

	// A one-time price (a "$10 pack"): kept as one_time_price, with its tax
	// category and metadata; a subscription refuses it.
	ot := productBody(1000)
	ot["price"] = map[string]any{"type": "one_time_price", "currency": "USD", "price": 1000}
	ot["tax_category"], ot["metadata"] = "digital_products", map[string]any{"pack": "10"}
	o := mustOK(t, e.do("POST", "/products", ot)).JSON(t)
	assert.Equal(t, false, o["is_recurring"])
	assert.Equal(t, "one_time_price", o["price"].(map[string]any)["type"])
	assert.NotContains(t, o["price"], "payment_frequency_interval")
	assert.Equal(t, "digital_products", o["tax_category"])
	assert.Equal(t, map[string]any{"pack": "10"}, o["metadata"])
	cus := e.newCustomer("Ada", "ada@example.com")
	sr := e.do("POST", "/subscriptions", subBody(cus, o["product_id"].(string), "pm_card_ok", true))
	assert.Equal(t, 422, sr.Status)
	assert.Equal(t, "PRODUCT_NOT_RECURRING", sr.Code(t))

	// Idempotent create (extension).
	b := productBody(700)
	b["idempotency_key"] = "catalog-1"
	a1 := mustOK(t, e.do("POST", "/products", b)).JSON(t)
	a2 := mustOK(t, e.do("POST", "/products", b)).JSON(t)
	assert.Equal(t, a1["product_id"], a2["product_id"])
	b["price"].(map[string]any)["price"] = 800
	assert.Equal(t, 409, e.do("POST", "/products", b).Status)
}

func TestProductCreateRefusesBadInput(t *testing.T) {
	e := newTestEnv(t)
	with := func(f func(m map[string]any)) map[string]any { m := productBody(100); f(m); return m }
	price := func(k string, v any) map[string]any {
		return with(func(m map[string]any) { m["price"].(map[string]any)[k] = v })
	}
	cases := []errCase{
		{"malformed", "POST", "/products", `{"name":`, 400, "MALFORMED_JSON"},
		{"wrong type", "POST", "/products", with(func(m map[string]any) { m["name"] = 3 }), 422, "INVALID_TYPE"},
		{"no name", "POST", "/products", with(func(m map[string]any) { delete(m, "name") }), 422, "INVALID_PARAMETER"},
		{"no tax category", "POST", "/products", with(func(m map[string]any) { delete(m, "tax_category") }), 422, "INVALID_PARAMETER"},
		{"bad tax category", "POST", "/products", with(func(m map[string]any) { m["tax_category"] = "food" }), 422, "INVALID_PARAMETER"},
		{"no price", "POST", "/products", with(func(m map[string]any) { delete(m, "price") }), 422, "INVALID_PARAMETER"},
		{"unknown price type", "POST", "/products", price("type", "free"), 422, "INVALID_PARAMETER"},
		{"pay what you want", "POST", "/products", with(func(m map[string]any) {
			m["price"] = map[string]any{"type": "one_time_price", "currency": "USD", "price": 100, "pay_what_you_want": true}
		}), 422, "PAY_WHAT_YOU_WANT_UNSUPPORTED"},
		{"lowercase interval", "POST", "/products", price("payment_frequency_interval", "month"), 422, "INVALID_PARAMETER"},
		{"fractional price", "POST", "/products", price("price", 1.5), 422, "INVALID_TYPE"},
		{"negative price", "POST", "/products", price("price", -1), 422, "INVALID_PARAMETER"},
		{"discount", "POST", "/products", price("discount_bps", 500), 422, "DISCOUNTS_UNSUPPORTED"},
		{"trial", "POST", "/products", price("trial_period_days", 7), 422, "TRIALS_UNSUPPORTED"},
		{"meters", "POST", "/products", with(func(m map[string]any) {
			m["price"] = map[string]any{"type": "usage_based_price", "currency": "USD", "fixed_price": 0,
				"payment_frequency_count": 1, "payment_frequency_interval": "Month", "subscription_period_count": 1,
				"subscription_period_interval": "Month", "meters": []any{map[string]any{"meter_id": "m"}}}
		}), 422, "USAGE_METERS_UNSUPPORTED"},
		{"bad metadata", "POST", "/products", with(func(m map[string]any) { m["metadata"] = map[string]any{"": "b"} }), 422, "INVALID_METADATA"},
		{"by country", "POST", "/products", with(func(m map[string]any) { m["pricing_mode"] = "by_country" }), 422, "PRICING_MODE_UNSUPPORTED"},
		{"other brand", "POST", "/products", with(func(m map[string]any) { m["brand_id"] = "brand_x" }), 422, "INVALID_PARAMETER"},
		{"unknown currency", "POST", "/products", price("currency", "XXX"), 422, ""},
		{"not found", "GET", "/products/prod_missing", nil, 404, "PRODUCT_NOT_FOUND"},
	}
	e.expectErrors(opKey, cases)
	assert.Empty(t, mustOK(t, e.do("GET", "/products", nil)).JSON(t)["items"], "nothing was created")

	cus := e.newCustomer("Ada", "ada@example.com")
	r := e.doKey("sk_test_for_"+cus, "POST", "/products", productBody(100), nil)
	assert.Equal(t, 403, r.Status)
	assert.Equal(t, 403, e.doKey("sk_test_for_"+cus, "GET", "/products", nil, nil).Status)
	assert.Equal(t, 401, e.doKey("", "GET", "/products", nil, nil).Status)
}

func TestProductUpdate(t *testing.T) {
	e := newTestEnv(t)
	id := e.newProduct(100)
	// No change: Dodo's 200 with an empty body.
	r := mustOK(t, e.do("PATCH", "/products/"+id, `{"name":"Usage plan","description":null}`))
	assert.Empty(t, r.Body)
	e.clock.Advance(60e9)
	r = mustOK(t, e.do("PATCH", "/products/"+id, `{"name":"Renamed","tax_category":"edtech","metadata":{"k":"v"},
		"price":{"type":"recurring_price","currency":"USD","price":250,"payment_frequency_count":1,
		"payment_frequency_interval":"Month","subscription_period_count":1,"subscription_period_interval":"Month"}}`))
	assert.Empty(t, r.Body)
	got := mustOK(t, e.do("GET", "/products/"+id, nil)).JSON(t)
	assert.Equal(t, "Renamed", got["name"])
	assert.Equal(t, "edtech", got["tax_category"])
	assert.Equal(t, map[string]any{"k": "v"}, got["metadata"])
	assert.Equal(t, float64(250), got["price"].(map[string]any)["price"])
	assert.Equal(t, t0.Add(60e9).Format("2006-01-02T15:04:05Z"), got["updated_at"])
	// Refusals change nothing.
	for body, code := range map[string]string{
		`{"name":"  "}`:           "INVALID_REQUEST",
		`{"tax_category":"food"}`: "INVALID_PARAMETER",
		`{"addons":["a"]}`:        "ADDONS_UNSUPPORTED",
		`{"image_id":"img_1"}`:    "PRODUCT_IMAGES_UNSUPPORTED",
		`{"price":{"type":"one_time_price","currency":"USD","price":1}}`: "INVALID_PARAMETER",
	} {
		r := e.do("PATCH", "/products/"+id, body)
		assert.Equal(t, 422, r.Status, body)
		assert.Equal(t, code, r.Code(t), body)
	}
	assert.Equal(t, "Renamed", mustOK(t, e.do("GET", "/products/"+id, nil)).JSON(t)["name"])
	assert.Equal(t, 404, e.do("PATCH", "/products/prod_nope", `{}`).Status)
	assert.Equal(t, 400, e.do("PATCH", "/products/"+id, `{`).Status)
	cus := e.newCustomer("Ada", "ada@example.com")
	assert.Equal(t, 403, e.doKey("sk_test_for_"+cus, "PATCH", "/products/"+id, `{}`, nil).Status)
}
