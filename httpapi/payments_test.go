package httpapi

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/processor"
)

func TestPaymentRetrieveAndList(t *testing.T) {
	e := newTestEnv(t)
	a := e.newCustomer("Ada", "ada@example.com")
	b := e.newCustomer("Bob", "bob@example.com")
	prod := e.newProduct(500)
	sa := e.newSub(a, prod, processor.CardOK)
	sb := e.newSub(b, prod, processor.CardDoNotHonor)
	_ = sb
	sd := e.newSub(b, prod, processor.CardInsufficientFunds)
	p1 := e.charge(sa, 700)
	e.clock.Advance(time.Minute)
	p2 := e.charge(sd, 300)

	var p Payment
	r := mustOK(t, e.do("GET", "/payments/"+p1, nil))
	r.Decode(t, &p)
	assert.Equal(t, "succeeded", p.Status)
	assert.Nil(t, p.RefundStatus)
	assert.Equal(t, int64(700), p.TotalAmount)
	assert.Equal(t, int64(700), p.SettlementAmount)
	assert.Equal(t, "USD", p.SettlementCurrency)
	assert.Equal(t, "dodo", p.PaymentProvider)
	assert.Equal(t, a, p.Customer.CustomerID)
	assert.Equal(t, "US", p.Billing.Country)
	assert.Equal(t, []ProductCartItem{{ProductID: prod, Quantity: 1}}, p.ProductCart)
	assert.Equal(t, "subscription", p.Kind)
	assert.Equal(t, int64(700), p.ProcessorAmount)
	assert.Equal(t, []RefundListItem{}, p.Refunds)
	m := r.JSON(t)
	for _, f := range []string{"error_code", "error_message", "card_last_four", "tax"} {
		v, ok := m[f]
		assert.True(t, ok, f)
		assert.Nil(t, v, f)
	}

	var f Payment
	mustOK(t, e.do("GET", "/payments/"+p2, nil)).Decode(t, &f)
	assert.Equal(t, "failed", f.Status)
	require.NotNil(t, f.ErrorCode)
	assert.Equal(t, processor.InsufficientFunds, *f.ErrorCode)
	assert.NotEmpty(t, *f.ErrorMessage)
	assert.NotNil(t, f.NextRetryAt, "a soft decline is retried")

	ids := func(r resp) []string {
		var pg Page[PaymentListItem]
		r.Decode(t, &pg)
		out := []string{}
		for _, it := range pg.Items {
			out = append(out, it.PaymentID)
		}
		return out
	}
	assert.Equal(t, []string{p2, p1}, ids(mustOK(t, e.do("GET", "/payments", nil))))
	assert.Equal(t, []string{p1}, ids(mustOK(t, e.do("GET", "/payments?status=succeeded", nil))))
	assert.Equal(t, []string{p2}, ids(mustOK(t, e.do("GET", "/payments?status=failed", nil))))
	assert.Empty(t, ids(mustOK(t, e.do("GET", "/payments?status=processing", nil))))
	assert.Empty(t, ids(mustOK(t, e.do("GET", "/payments?status=requires_capture", nil))))
	assert.Equal(t, []string{p1}, ids(mustOK(t, e.do("GET", "/payments?customer_id="+a, nil))))
	assert.Equal(t, []string{p2}, ids(mustOK(t, e.do("GET", "/payments?subscription_id="+sd, nil))))
	assert.Equal(t, []string{p2}, ids(mustOK(t, e.do("GET", "/payments?created_at_gte="+t0.Add(time.Minute).Format(time.RFC3339), nil))))
	assert.Empty(t, ids(mustOK(t, e.do("GET", "/payments?brand_id=other", nil))))

	ka, kb := "sk_test_for_"+a, "sk_test_for_"+b
	assert.Equal(t, []string{p1}, ids(mustOK(t, e.doKey(ka, "GET", "/payments", nil, nil))))
	mustOK(t, e.doKey(ka, "GET", "/payments/"+p1, nil, nil))
	e.expectErrors(kb, []errCase{
		{"other's payment", "GET", "/payments/" + p1, nil, 403, "FORBIDDEN"},
		{"missing payment", "GET", "/payments/pay_nope", nil, 403, "FORBIDDEN"},
		{"other's list", "GET", "/payments?customer_id=" + a, nil, 403, "FORBIDDEN"},
	})
	e.expectErrors(opKey, []errCase{
		{"not found", "GET", "/payments/pay_nope", nil, 404, "PAYMENT_NOT_FOUND"},
		{"currency", "GET", "/payments?currency=USD", nil, 422, "UNSUPPORTED_FILTER"},
		{"product", "GET", "/payments?product_id=" + prod, nil, 422, "UNSUPPORTED_FILTER"},
		{"bad status", "GET", "/payments?status=paid", nil, 422, "INVALID_PARAMETER"},
		{"bad page", "GET", "/payments?page_size=0", nil, 422, "INVALID_PARAMETER"},
		{"unknown sub", "GET", "/payments?subscription_id=sub_nope", nil, 404, "SUBSCRIPTION_NOT_FOUND"},
	})
}

func TestPaymentWalletApplied(t *testing.T) {
	e := newTestEnv(t)
	a := e.newCustomer("Ada", "ada@example.com")
	mustOK(t, e.do("POST", "/customers/"+a+"/wallets/ledger-entries",
		map[string]any{"amount": 200, "currency": "USD", "entry_type": "credit"}))
	s := e.newSub(a, e.newProduct(500), processor.CardOK)
	var p Payment
	mustOK(t, e.do("GET", "/payments/"+e.charge(s, 500), nil)).Decode(t, &p)
	assert.Equal(t, int64(500), p.TotalAmount)
	assert.Equal(t, int64(200), p.WalletAmount)
	assert.Equal(t, int64(300), p.ProcessorAmount)
}
