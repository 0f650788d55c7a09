package httpapi

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/processor"
)

func TestSubscriptionCreateMandateOnly(t *testing.T) {
	e := newTestEnv(t)
	cus := e.newCustomer("Ada", "ada@example.com")
	prod := e.newProduct(500)
	r := mustOK(t, e.do("POST", "/subscriptions", subBody(cus, prod, processor.CardOK, true)))
	var cr SubscriptionCreateResponse
	r.Decode(t, &cr)
	assert.True(t, strings.HasPrefix(cr.SubscriptionID, "sub_"))
	assert.Equal(t, "", cr.PaymentID)
	assert.Equal(t, cus, cr.Customer.CustomerID)
	assert.Equal(t, int64(500), cr.RecurringPreTaxAmount)
	assert.Equal(t, "active", cr.Status)
	assert.False(t, cr.PaymentMethodRequired)
	assert.Equal(t, Metadata{"source": "test"}, cr.Metadata)

	var s Subscription
	mustOK(t, e.do("GET", "/subscriptions/"+cr.SubscriptionID, nil)).Decode(t, &s)
	assert.Equal(t, "active", s.Status)
	assert.Equal(t, "Month", s.PaymentFrequencyInterval)
	assert.Equal(t, "Month", s.SubscriptionPeriodInterval)
	assert.True(t, s.OnDemand)
	assert.True(t, s.HasPaymentMethod)
	assert.Equal(t, "US", s.Billing.Country)
	require.NotNil(t, s.Billing.Street)
	assert.Equal(t, "1 Main St", *s.Billing.Street)
	assert.Equal(t, "10001", *s.Billing.Zipcode)
	assert.Equal(t, t0, s.NextBillingDate)
	assert.Equal(t, prod, s.ProductID)
	assert.Equal(t, "USD", s.Currency)
	assert.Equal(t, processor.CardOK, *s.PaymentMethodID)
}

func TestSubscriptionCreateWithInitialChargeAndNewCustomer(t *testing.T) {
	e := newTestEnv(t)
	prod := e.newProduct(500)
	b := subBody("", prod, processor.CardOK, false)
	b["customer"] = map[string]any{"email": "bob@example.com", "name": "Bob"}
	b["quantity"] = 2
	cr := mustOK(t, e.do("POST", "/subscriptions", b)).JSON(t)
	pid := cr["payment_id"].(string)
	require.NotEmpty(t, pid)
	assert.Equal(t, "bob@example.com", cr["customer"].(map[string]any)["email"])
	var p Payment
	mustOK(t, e.do("GET", "/payments/"+pid, nil)).Decode(t, &p)
	assert.Equal(t, int64(1000), p.TotalAmount)
	assert.Equal(t, "succeeded", p.Status)

	// A hosted mandate: pending with the link, then confirm-mandate.
	cus := e.newCustomer("Cy", "cy@example.com")
	b = subBody(cus, prod, processor.CardRequiresAction, false)
	b["payment_link"] = true
	b["return_url"] = "https://shop.example/done"
	var pend SubscriptionCreateResponse
	mustOK(t, e.do("POST", "/subscriptions", b)).Decode(t, &pend)
	assert.Equal(t, "pending", pend.Status)
	assert.True(t, pend.PaymentMethodRequired)
	require.NotNil(t, pend.PaymentLink)
	assert.Equal(t, "", pend.PaymentID)
	sub, err := e.eng.Subscription(e.ctx, pend.SubscriptionID)
	require.NoError(t, err)
	_, err = e.proc.CompleteMandate(sub.MandateID, true)
	require.NoError(t, err)
	var conf SubscriptionCreateResponse
	mustOK(t, e.do("POST", "/subscriptions/"+pend.SubscriptionID+"/confirm-mandate", nil)).Decode(t, &conf)
	assert.Equal(t, "active", conf.Status)
	assert.NotEmpty(t, conf.PaymentID)
}

func TestSubscriptionCreateRefusesBadInput(t *testing.T) {
	e := newTestEnv(t)
	cus := e.newCustomer("Ada", "ada@example.com")
	prod := e.newProduct(500)
	with := func(f func(m map[string]any)) map[string]any {
		m := subBody(cus, prod, processor.CardOK, true)
		f(m)
		return m
	}
	cases := []errCase{
		{"malformed", "POST", "/subscriptions", `{"billing":`, 400, "MALFORMED_JSON"},
		{"calendar", "POST", "/subscriptions", with(func(m map[string]any) { delete(m, "on_demand") }), 422, "CALENDAR_BILLING_UNSUPPORTED"},
		{"no mandate_only", "POST", "/subscriptions", with(func(m map[string]any) { m["on_demand"] = map[string]any{} }), 422, "INVALID_PARAMETER"},
		{"no country", "POST", "/subscriptions", with(func(m map[string]any) { m["billing"] = map[string]any{"city": "x"} }), 422, "INVALID_PARAMETER"},
		{"bad country", "POST", "/subscriptions", with(func(m map[string]any) { m["billing"] = map[string]any{"country": "Narnia"} }), 422, "INVALID_COUNTRY"},
		{"quantity zero", "POST", "/subscriptions", with(func(m map[string]any) { m["quantity"] = 0 }), 422, "INVALID_PARAMETER"},
		{"quantity string", "POST", "/subscriptions", with(func(m map[string]any) { m["quantity"] = "1" }), 422, "INVALID_TYPE"},
		{"unknown product", "POST", "/subscriptions", with(func(m map[string]any) { m["product_id"] = "prod_nope" }), 422, "UNKNOWN_PRODUCT"},
		{"unknown customer", "POST", "/subscriptions", with(func(m map[string]any) { m["customer"] = map[string]any{"customer_id": "cus_nope"} }), 404, "CUSTOMER_NOT_FOUND"},
		{"both customers", "POST", "/subscriptions", with(func(m map[string]any) {
			m["customer"] = map[string]any{"customer_id": cus, "email": "a@b.co"}
		}), 422, "INVALID_PARAMETER"},
		{"no payment method", "POST", "/subscriptions", with(func(m map[string]any) { delete(m, "payment_method_id") }), 422, "INVALID_PARAMETER"},
		{"trial", "POST", "/subscriptions", with(func(m map[string]any) { m["trial_period_days"] = 7 }), 422, "TRIALS_UNSUPPORTED"},
		{"discount", "POST", "/subscriptions", with(func(m map[string]any) { m["discount_codes"] = []string{"X"} }), 422, "DISCOUNTS_UNSUPPORTED"},
		{"bad return url", "POST", "/subscriptions", with(func(m map[string]any) { m["return_url"] = "ftp://x" }), 422, "INVALID_PARAMETER"},
		{"unknown currency", "POST", "/subscriptions", with(func(m map[string]any) {
			m["on_demand"] = map[string]any{"mandate_only": true, "product_currency": "XYZ"}
		}), 422, ""},
	}
	e.expectErrors(opKey, cases)
	assert.Empty(t, mustOK(t, e.do("GET", "/subscriptions", nil)).JSON(t)["items"], "nothing was created")
	assert.Len(t, mustOK(t, e.do("GET", "/customers", nil)).JSON(t)["items"], 1)

	// A restricted key subscribes only its own customer, and creates none.
	other := e.newCustomer("Bob", "bob@example.com")
	key := "sk_test_for_" + cus
	assert.Equal(t, 403, e.doKey(key, "POST", "/subscriptions", subBody(other, prod, processor.CardOK, true), nil).Status)
	nb := subBody("", prod, processor.CardOK, true)
	nb["customer"] = map[string]any{"email": "x@y.co"}
	assert.Equal(t, 403, e.doKey(key, "POST", "/subscriptions", nb, nil).Status)
	mustOK(t, e.doKey(key, "POST", "/subscriptions", subBody(cus, prod, processor.CardOK, true), nil))
}

func TestSubscriptionMandateDeclinedAndProcessorDown(t *testing.T) {
	e := newTestEnv(t)
	cus := e.newCustomer("Ada", "ada@example.com")
	prod := e.newProduct(500)
	cr := mustOK(t, e.do("POST", "/subscriptions", subBody(cus, prod, processor.CardStolen, true))).JSON(t)
	assert.Equal(t, "failed", cr["status"])
	assert.Equal(t, "STOLEN_CARD", cr["decline_code"])
}

func TestSubscriptionUpdateAndCancel(t *testing.T) {
	e := newTestEnv(t)
	cus := e.newCustomer("Ada", "ada@example.com")
	prod := e.newProduct(500)
	id := e.newSub(cus, prod, processor.CardOK)
	path := "/subscriptions/" + id
	cases := []errCase{
		{"paused", "PATCH", path, `{"status":"paused"}`, 422, "SUBSCRIPTION_PAUSE_UNSUPPORTED"},
		{"active", "PATCH", path, `{"status":"active"}`, 422, "SUBSCRIPTION_PAUSE_UNSUPPORTED"},
		{"on_hold", "PATCH", path, `{"status":"on_hold"}`, 422, "INVALID_PARAMETER"},
		{"unknown", "PATCH", path, `{"status":"zzz"}`, 422, "INVALID_PARAMETER"},
		{"bad metadata", "PATCH", path, `{"metadata":{"":"b"}}`, 422, "INVALID_METADATA"},
		{"billing", "PATCH", path, `{"billing":{"country":"FR"},"status":"cancelled"}`, 422, "SUBSCRIPTION_UPDATE_UNSUPPORTED"},
		{"cancel at next", "PATCH", path, `{"cancel_at_next_billing_date":true}`, 422, "CANCEL_AT_NEXT_BILLING_DATE_UNSUPPORTED"},
		{"bad reason", "PATCH", path, `{"status":"cancelled","cancel_reason":"bored"}`, 422, "INVALID_PARAMETER"},
		{"malformed", "PATCH", path, `{"status":`, 400, "MALFORMED_JSON"},
		{"not found", "PATCH", "/subscriptions/sub_nope", `{"status":"cancelled"}`, 404, "SUBSCRIPTION_NOT_FOUND"},
	}
	e.expectErrors(opKey, cases)
	assert.Equal(t, "active", mustOK(t, e.do("GET", path, nil)).JSON(t)["status"], "nothing changed")
	assert.Equal(t, map[string]any{"source": "test"}, mustOK(t, e.do("GET", path, nil)).JSON(t)["metadata"])

	// metadata merges; an empty value removes a key.
	up := mustOK(t, e.do("PATCH", path, `{"metadata":{"plan":"pro","source":""}}`)).JSON(t)
	assert.Equal(t, map[string]any{"plan": "pro"}, up["metadata"])
	assert.Equal(t, "active", up["status"])

	other := e.newCustomer("Bob", "bob@example.com")
	assert.Equal(t, 403, e.doKey("sk_test_for_"+other, "PATCH", path, `{"status":"cancelled"}`, nil).Status)
	assert.Equal(t, 403, e.doKey("sk_test_for_"+other, "GET", path, nil, nil).Status)
	assert.Equal(t, 403, e.doKey("sk_test_for_"+other, "GET", "/subscriptions/sub_nope", nil, nil).Status)

	// An empty update answers the subscription unchanged.
	assert.Equal(t, "active", mustOK(t, e.do("PATCH", path, `{}`)).JSON(t)["status"])
	e.clock.Advance(time.Hour)
	var s Subscription
	mustOK(t, e.doKey("sk_test_for_"+cus, "PATCH", path,
		`{"status":"cancelled","cancel_reason":"cancelled_by_customer","cancellation_feedback":"too_expensive"}`, nil)).Decode(t, &s)
	assert.Equal(t, "cancelled", s.Status)
	require.NotNil(t, s.CancelledAt)
	assert.Equal(t, t0.Add(time.Hour), *s.CancelledAt)

	// A cancelled subscription cannot be charged: 409, not retried.
	r := e.do("POST", path+"/charge", map[string]any{"product_price": 100})
	assert.Equal(t, 409, r.Status)
	assert.Equal(t, "SUBSCRIPTION_NOT_ACTIVE", r.Code(t))
	assert.Equal(t, "false", r.Header.Get("X-Should-Retry"))
	assert.Empty(t, mustOK(t, e.do("GET", "/payments", nil)).JSON(t)["items"])
}

func TestSubscriptionList(t *testing.T) {
	e := newTestEnv(t)
	a := e.newCustomer("Ada", "ada@example.com")
	b := e.newCustomer("Bob", "bob@example.com")
	prod := e.newProduct(500)
	s1 := e.newSub(a, prod, processor.CardOK)
	e.clock.Advance(time.Minute)
	s2 := e.newSub(b, prod, processor.CardOK)
	e.clock.Advance(time.Minute)
	s3 := e.newSub(a, prod, processor.CardOK)
	mustOK(t, e.do("PATCH", "/subscriptions/"+s3, `{"status":"cancelled"}`))

	ids := func(r resp) []string {
		var p Page[Subscription]
		r.Decode(t, &p)
		out := []string{}
		for _, s := range p.Items {
			out = append(out, s.SubscriptionID)
		}
		return out
	}
	assert.Equal(t, []string{s3, s2, s1}, ids(mustOK(t, e.do("GET", "/subscriptions", nil))))
	assert.Equal(t, []string{s3, s1}, ids(mustOK(t, e.do("GET", "/subscriptions?customer_id="+a, nil))))
	assert.Equal(t, []string{s2, s1}, ids(mustOK(t, e.do("GET", "/subscriptions?status=active", nil))))
	assert.Equal(t, []string{s3}, ids(mustOK(t, e.do("GET", "/subscriptions?status=cancelled", nil))))
	assert.Empty(t, ids(mustOK(t, e.do("GET", "/subscriptions?status=paused", nil))))
	assert.Empty(t, ids(mustOK(t, e.do("GET", "/subscriptions?cancel_at_next_billing_date=true", nil))))
	assert.Equal(t, []string{s2, s1}, ids(mustOK(t, e.do("GET", "/subscriptions?created_at_lte="+t0.Add(time.Minute).Format(time.RFC3339), nil))))
	assert.Equal(t, []string{s3, s2}, ids(mustOK(t, e.do("GET", "/subscriptions?created_at_gte="+t0.Add(time.Minute).Format(time.RFC3339), nil))))
	// Paging.
	assert.Equal(t, []string{s3, s2}, ids(mustOK(t, e.do("GET", "/subscriptions?page_size=2&page_number=0", nil))))
	assert.Equal(t, []string{s1}, ids(mustOK(t, e.do("GET", "/subscriptions?page_size=2&page_number=1", nil))))
	assert.Empty(t, ids(mustOK(t, e.do("GET", "/subscriptions?page_size=2&page_number=2", nil))))
	// A restricted key sees its own customer's only.
	assert.Equal(t, []string{s3, s1}, ids(mustOK(t, e.doKey("sk_test_for_"+a, "GET", "/subscriptions", nil, nil))))
	e.expectErrors("sk_test_for_"+a, []errCase{
		{"other customer", "GET", "/subscriptions?customer_id=" + b, nil, 403, "FORBIDDEN"},
	})
	e.expectErrors(opKey, []errCase{
		{"product filter", "GET", "/subscriptions?product_id=" + prod, nil, 422, "UNSUPPORTED_FILTER"},
		{"bad status", "GET", "/subscriptions?status=zzz", nil, 422, "INVALID_PARAMETER"},
		{"bad date", "GET", "/subscriptions?created_at_gte=yesterday", nil, 422, "INVALID_PARAMETER"},
		{"unknown customer", "GET", "/subscriptions?customer_id=cus_nope", nil, 404, "CUSTOMER_NOT_FOUND"},
	})
}

func TestSubscriptionCharge(t *testing.T) {
	e := newTestEnv(t)
	cus := e.newCustomer("Ada", "ada@example.com")
	prod := e.newProduct(500)
	id := e.newSub(cus, prod, processor.CardOK)
	path := "/subscriptions/" + id + "/charge"
	r := mustOK(t, e.do("POST", path, map[string]any{"product_price": 1234, "product_currency": "USD",
		"product_description": "usage Nov", "metadata": map[string]any{"period": "2026-11"},
		"customer_balance_config": map[string]any{"allow_customer_credits_usage": true, "allow_customer_credits_purchase": false}})).JSON(t)
	pid := r["payment_id"].(string)
	assert.Equal(t, "succeeded", r["status"])
	var p Payment
	mustOK(t, e.do("GET", "/payments/"+pid, nil)).Decode(t, &p)
	assert.Equal(t, int64(1234), p.TotalAmount)
	assert.Equal(t, Metadata{"period": "2026-11"}, p.Metadata)
	assert.Equal(t, []string{id}, p.SubscriptionIDs)

	// A declined charge is still a 200 with its payment id.
	dec := e.newSub(cus, prod, processor.CardInsufficientFunds)
	r = mustOK(t, e.do("POST", "/subscriptions/"+dec+"/charge", map[string]any{"product_price": 100})).JSON(t)
	assert.Equal(t, "failed", r["status"])
	assert.NotEmpty(t, r["payment_id"])

	// The processor is unreachable: the payment is recorded, 200 all the same.
	down := e.newSub(cus, prod, processor.CardNetworkError)
	r = mustOK(t, e.do("POST", "/subscriptions/"+down+"/charge", map[string]any{"product_price": 100})).JSON(t)
	assert.NotEmpty(t, r["payment_id"])

	// Idempotency (extension): body key or header.
	k1 := mustOK(t, e.do("POST", path, map[string]any{"product_price": 10, "idempotency_key": "k1"})).JSON(t)
	k2 := mustOK(t, e.do("POST", path, map[string]any{"product_price": 10, "idempotency_key": "k1"})).JSON(t)
	assert.Equal(t, k1["payment_id"], k2["payment_id"])
	h1 := mustOK(t, e.doKey(opKey, "POST", path, map[string]any{"product_price": 10}, map[string][]string{"Idempotency-Key": {"k2"}})).JSON(t)
	h2 := mustOK(t, e.doKey(opKey, "POST", path, map[string]any{"product_price": 10}, map[string][]string{"Idempotency-Key": {"k2"}})).JSON(t)
	assert.Equal(t, h1["payment_id"], h2["payment_id"])

	var before Page[PaymentListItem]
	mustOK(t, e.do("GET", "/payments?page_size=100", nil)).Decode(t, &before)
	e.expectErrors(opKey, []errCase{
		{"no price", "POST", path, `{}`, 422, "INVALID_PARAMETER"},
		{"zero price", "POST", path, `{"product_price":0}`, 422, "INVALID_PRODUCT_PRICE"},
		{"fraction", "POST", path, `{"product_price":1.5}`, 422, "INVALID_TYPE"},
		{"malformed", "POST", path, `{"product_price":`, 400, "MALFORMED_JSON"},
		{"no wallet", "POST", path, `{"product_price":10,"customer_balance_config":{"allow_customer_credits_usage":false}}`, 422, "WALLET_USAGE_REQUIRED"},
		{"credits purchase", "POST", path, `{"product_price":10,"customer_balance_config":{"allow_customer_credits_purchase":true}}`, 422, "CREDITS_PURCHASE_UNSUPPORTED"},
		{"bad currency", "POST", path, `{"product_price":10,"product_currency":"XYZ"}`, 422, ""},
		{"key conflict", "POST", path, `{"product_price":11,"idempotency_key":"k1"}`, 409, "IDEMPOTENCY_CONFLICT"},
		{"not found", "POST", "/subscriptions/sub_nope/charge", `{"product_price":10}`, 404, "SUBSCRIPTION_NOT_FOUND"},
	})
	e.expectErrors("sk_test_for_"+cus, []errCase{{"restricted", "POST", path, `{"product_price":10}`, 403, "FORBIDDEN"}})
	var after Page[PaymentListItem]
	mustOK(t, e.do("GET", "/payments?page_size=100", nil)).Decode(t, &after)
	assert.Len(t, after.Items, len(before.Items), "no failed request made a payment")
}

func TestSubscriptionUpdatePaymentMethod(t *testing.T) {
	e := newTestEnv(t)
	cus := e.newCustomer("Ada", "ada@example.com")
	prod := e.newProduct(500)
	id := e.newSub(cus, prod, processor.CardOK)
	path := "/subscriptions/" + id + "/update-payment-method"
	e.expectErrors(opKey, []errCase{
		{"new", "POST", path, `{"type":"new"}`, 422, "NEW_PAYMENT_METHOD_UNSUPPORTED"},
		{"no type", "POST", path, `{}`, 422, "INVALID_PARAMETER"},
		{"bad type", "POST", path, `{"type":"other"}`, 422, "INVALID_PARAMETER"},
		{"no id", "POST", path, `{"type":"existing"}`, 422, "INVALID_PARAMETER"},
		{"declined", "POST", path, `{"type":"existing","payment_method_id":"pm_card_stolen"}`, 422, "PAYMENT_METHOD_NOT_AUTHORIZED"},
	})
	assert.Equal(t, processor.CardOK, mustOK(t, e.do("GET", "/subscriptions/"+id, nil)).JSON(t)["payment_method_id"])
	s := mustOK(t, e.do("POST", path, `{"type":"existing","payment_method_id":"pm_card_insufficient_funds"}`)).JSON(t)
	assert.Equal(t, processor.CardInsufficientFunds, s["payment_method_id"])
	other := e.newCustomer("Bob", "bob@example.com")
	assert.Equal(t, 403, e.doKey("sk_test_for_"+other, "POST", path, `{"type":"existing","payment_method_id":"pm_card_ok"}`, nil).Status)
	assert.Equal(t, 403, e.doKey("sk_test_for_"+other, "POST", "/subscriptions/"+id+"/confirm-mandate", nil, nil).Status)
}

// A processor outage after the subscription was recorded is a 200 with the
// pending subscription (never a 5xx the SDK would resend), and a charge
// during an outage is a 200 with the recorded payment.
func TestSubscriptionProcessorDown(t *testing.T) {
	e := newTestEnv(t)
	cus := e.newCustomer("Ada", "ada@example.com")
	prod := e.newProduct(500)
	active := e.newSub(cus, prod, processor.CardOK)
	e.proc.SetUnavailable(true)
	r := e.do("POST", "/subscriptions", subBody(cus, prod, processor.CardOK, true))
	require.Equal(t, 200, r.Status, "body %s", r.Body)
	cr := r.JSON(t)
	assert.Equal(t, "pending", cr["status"])
	subs := mustOK(t, e.do("GET", "/subscriptions", nil)).JSON(t)["items"].([]any)
	assert.Len(t, subs, 2, "one subscription per request")

	c := e.do("POST", "/subscriptions/"+active+"/charge", map[string]any{"product_price": 100})
	require.Equal(t, 200, c.Status, "body %s", c.Body)
	pid := c.JSON(t)["payment_id"].(string)
	require.NotEmpty(t, pid)
	e.proc.SetUnavailable(false)
	mustOK(t, e.do("GET", "/payments/"+pid, nil))

	// The mandate is confirmed once the processor is back.
	conf := mustOK(t, e.do("POST", "/subscriptions/"+cr["subscription_id"].(string)+"/confirm-mandate", nil)).JSON(t)
	assert.Equal(t, "active", conf["status"])
}
