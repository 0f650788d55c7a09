package httpapi

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/processor"
)

func TestRefundCreateRetrieveList(t *testing.T) {
	e := newTestEnv(t)
	a := e.newCustomer("Ada", "ada@example.com")
	prod := e.newProduct(500)
	s := e.newSub(a, prod, processor.CardOK)
	pay := e.charge(s, 1000)

	// Dodo's per-item partial refund.
	body := map[string]any{"payment_id": pay, "reason": "duplicate",
		"items": []any{map[string]any{"item_id": prod, "amount": 100, "tax_inclusive": true}}}
	var r Refund
	mustOK(t, e.do("POST", "/refunds", body)).Decode(t, &r)
	assert.Equal(t, pay, r.PaymentID)
	assert.Equal(t, "succeeded", r.Status)
	assert.Equal(t, int64(100), *r.Amount)
	assert.True(t, r.IsPartial)
	assert.Equal(t, a, r.Customer.CustomerID)
	assert.Equal(t, Metadata{}, r.Metadata)
	assert.Equal(t, "", r.IdempotencyKey, "a derived key is not shown")

	// The SDK's identical resend refunds once.
	var again Refund
	mustOK(t, e.do("POST", "/refunds", body)).Decode(t, &again)
	assert.Equal(t, r.RefundID, again.RefundID)

	var p Payment
	mustOK(t, e.do("GET", "/payments/"+pay, nil)).Decode(t, &p)
	assert.Equal(t, "succeeded", p.Status)
	require.NotNil(t, p.RefundStatus)
	assert.Equal(t, "partial", *p.RefundStatus)
	require.Len(t, p.Refunds, 1)
	assert.Equal(t, r.RefundID, p.Refunds[0].RefundID)

	// Extensions: top-level amount to the wallet, own key.
	var w Refund
	mustOK(t, e.do("POST", "/refunds", map[string]any{"payment_id": pay, "amount": 50, "destination": "wallet",
		"idempotency_key": "rf-2"})).Decode(t, &w)
	assert.Equal(t, "wallet", w.Destination)
	assert.Equal(t, int64(50), w.WalletAmount)
	assert.Equal(t, "rf-2", w.IdempotencyKey)

	// Over-refund, then the rest.
	before := len(mustOK(t, e.do("GET", "/refunds", nil)).JSON(t)["items"].([]any))
	e.expectErrors(opKey, []errCase{
		{"over refund", "POST", "/refunds", map[string]any{"payment_id": pay, "amount": 851}, 422, "INVALID_REFUND_AMOUNT"},
		{"items over", "POST", "/refunds", map[string]any{"payment_id": pay, "items": []any{map[string]any{"item_id": prod, "amount": 5000}}}, 422, "INVALID_REFUND_AMOUNT"},
		{"wrong item", "POST", "/refunds", map[string]any{"payment_id": pay, "items": []any{map[string]any{"item_id": "prod_x", "amount": 1}}}, 422, "INVALID_PARAMETER"},
		{"no item id", "POST", "/refunds", map[string]any{"payment_id": pay, "items": []any{map[string]any{"amount": 1}}}, 422, "INVALID_PARAMETER"},
		{"amount mismatch", "POST", "/refunds", map[string]any{"payment_id": pay, "amount": 2, "items": []any{map[string]any{"item_id": prod, "amount": 1}}}, 422, "INVALID_PARAMETER"},
		{"metadata", "POST", "/refunds", map[string]any{"payment_id": pay, "metadata": map[string]any{"k": "v"}}, 422, "REFUND_METADATA_UNSUPPORTED"},
		{"bad destination", "POST", "/refunds", map[string]any{"payment_id": pay, "destination": "bank"}, 422, "INVALID_PARAMETER"},
		{"no payment", "POST", "/refunds", map[string]any{}, 422, "INVALID_PARAMETER"},
		{"unknown payment", "POST", "/refunds", map[string]any{"payment_id": "pay_nope"}, 404, "PAYMENT_NOT_FOUND"},
		{"malformed", "POST", "/refunds", `{"payment_id":`, 400, "MALFORMED_JSON"},
		{"wrong type", "POST", "/refunds", `{"payment_id":5}`, 422, "INVALID_TYPE"},
		{"key conflict", "POST", "/refunds", map[string]any{"payment_id": pay, "amount": 51, "idempotency_key": "rf-2"}, 409, "IDEMPOTENCY_CONFLICT"},
	})
	e.expectErrors("sk_test_for_"+a, []errCase{{"restricted create", "POST", "/refunds", map[string]any{"payment_id": pay}, 403, "FORBIDDEN"}})
	assert.Len(t, mustOK(t, e.do("GET", "/refunds", nil)).JSON(t)["items"], before, "no failed request refunded")

	var rest Refund
	mustOK(t, e.do("POST", "/refunds", map[string]any{"payment_id": pay, "items": []any{map[string]any{"item_id": prod, "amount": nil}}})).Decode(t, &rest)
	assert.Equal(t, int64(850), *rest.Amount)
	mustOK(t, e.do("GET", "/payments/"+pay, nil)).Decode(t, &p)
	assert.Equal(t, "full", *p.RefundStatus)
	r2 := e.do("POST", "/refunds", map[string]any{"payment_id": pay, "reason": "again"})
	assert.Equal(t, 409, r2.Status)
	assert.Equal(t, "PAYMENT_NOT_REFUNDABLE", r2.Code(t))

	// Retrieve.
	var got Refund
	mustOK(t, e.do("GET", "/refunds/"+r.RefundID, nil)).Decode(t, &got)
	assert.Equal(t, r.RefundID, got.RefundID)
	assert.Equal(t, DefaultBusinessID, got.BrandID)
	nf := e.do("GET", "/refunds/re_missing", nil)
	assert.Equal(t, 404, nf.Status)

	// Lists and filters.
	b := e.newCustomer("Bob", "bob@example.com")
	sb := e.newSub(b, prod, processor.CardOK)
	pb := e.charge(sb, 100)
	mustOK(t, e.do("POST", "/refunds", map[string]any{"payment_id": pb}))
	count := func(r resp) int {
		var pg Page[RefundListItem]
		r.Decode(t, &pg)
		return len(pg.Items)
	}
	assert.Equal(t, 4, count(mustOK(t, e.do("GET", "/refunds", nil))))
	assert.Equal(t, 3, count(mustOK(t, e.do("GET", "/refunds?customer_id="+a, nil))))
	assert.Equal(t, 1, count(mustOK(t, e.do("GET", "/refunds?payment_id="+pb, nil))))
	assert.Equal(t, 4, count(mustOK(t, e.do("GET", "/refunds?status=succeeded", nil))))
	assert.Equal(t, 0, count(mustOK(t, e.do("GET", "/refunds?status=review", nil))))
	assert.Equal(t, 2, count(mustOK(t, e.do("GET", "/refunds?customer_id="+a+"&page_size=2&page_number=0", nil))))
	assert.Equal(t, 1, count(mustOK(t, e.do("GET", "/refunds?customer_id="+a+"&page_size=2&page_number=1", nil))))
	assert.Equal(t, 0, count(mustOK(t, e.do("GET", "/refunds?customer_id="+a+"&page_size=2&page_number=2", nil))))
	kb := "sk_test_for_" + b
	assert.Equal(t, 1, count(mustOK(t, e.doKey(kb, "GET", "/refunds", nil, nil))))
	assert.Equal(t, 0, count(mustOK(t, e.doKey(kb, "GET", "/refunds?payment_id="+pay, nil, nil))))
	e.expectErrors(kb, []errCase{
		{"other's refund", "GET", "/refunds/" + r.RefundID, nil, 403, "FORBIDDEN"},
		{"missing refund", "GET", "/refunds/re_missing", nil, 403, "FORBIDDEN"},
		{"other's list", "GET", "/refunds?customer_id=" + a, nil, 403, "FORBIDDEN"},
	})
	e.expectErrors(opKey, []errCase{
		{"subscription filter", "GET", "/refunds?subscription_id=" + s, nil, 422, "UNSUPPORTED_FILTER"},
		{"bad status", "GET", "/refunds?status=done", nil, 422, "INVALID_PARAMETER"},
		{"unknown customer", "GET", "/refunds?customer_id=cus_nope", nil, 404, "CUSTOMER_NOT_FOUND"},
	})
}
