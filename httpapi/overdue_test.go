package httpapi

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/invoice"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/subscription"
)

// subscribe creates a mandate-only subscription through the Engine (the
// subscription routes belong to another file) and returns its id.
func (e *testEnv) subscribe(customerID, pm string) string {
	e.t.Helper()
	prod, err := e.eng.CreateProduct(e.ctx, coffer.ProductParams{Name: "Beans", Price: 500, Currency: "USD"})
	require.NoError(e.t, err)
	yes := true
	res, err := e.eng.CreateSubscription(e.ctx, coffer.SubscriptionParams{ProductID: prod.ID, Quantity: 1,
		CustomerID: customerID, PaymentMethod: pm, OnDemand: &coffer.OnDemand{MandateOnly: &yes}})
	require.NoError(e.t, err)
	return res.Subscription.ID
}

// charge charges a subscription through the Engine.
func (e *testEnv) engineCharge(subID string, amount int64, currency string) subscription.Payment {
	e.t.Helper()
	p, err := e.eng.Charge(e.ctx, subID, coffer.ChargeParams{ProductPrice: &amount, ProductCurrency: currency})
	require.NoError(e.t, err)
	return p
}

// hardDecline makes a failed charge with no retry: overdue and delinquent.
func (e *testEnv) hardDecline(subID string, amount int64, currency string) subscription.Payment {
	e.t.Helper()
	e.proc.Script(processor.CardOK, processor.Fraudulent)
	p := e.engineCharge(subID, amount, currency)
	require.Equal(e.t, subscription.PaymentFailed, p.Status)
	return p
}

func TestOverdueInvoicesAndCollect(t *testing.T) {
	e := newTestEnv(t)
	c := e.newCustomer("Ada", "ada@example.com")
	other := e.newCustomer("Bob", "bob@example.com")

	// Nothing overdue yet.
	var o OverdueInvoices
	r := mustOK(t, e.do("GET", "/customers/"+c+"/overdue/invoices", nil))
	r.Decode(t, &o)
	assert.Equal(t, c, o.Customer.CustomerID)
	assert.Empty(t, o.Invoices)
	assert.NotNil(t, o.Invoices)
	assert.Empty(t, o.Summary)
	assert.False(t, o.Delinquent)
	m := r.JSON(t)
	assert.Equal(t, map[string]any{}, m["summary"])
	assert.Equal(t, []any{}, m["invoices"])

	okA := e.subscribe(c, processor.CardOK)
	a := e.hardDecline(okA, 1234, "USD")
	e.clock.Advance(60e9)
	okB := e.subscribe(c, processor.CardOK)
	b := e.hardDecline(okB, 300_00, "INR")
	e.clock.Advance(60e9)
	a2 := e.hardDecline(e.subscribe(c, processor.CardOK), 1000, "USD")
	e.clock.Advance(60e9)
	soft := e.subscribe(c, processor.CardInsufficientFunds)
	s := e.engineCharge(soft, 766, "USD") // failed, retry scheduled
	require.Equal(t, subscription.PaymentFailed, s.Status)
	e.engineCharge(e.subscribe(c, processor.CardOK), 100, "USD")    // paid: not overdue
	e.hardDecline(e.subscribe(other, processor.CardOK), 999, "USD") // another customer's

	r = mustOK(t, e.do("GET", "/customers/"+c+"/overdue/invoices", nil))
	o = OverdueInvoices{}
	r.Decode(t, &o)
	require.Len(t, o.Invoices, 4)
	assert.Equal(t, []string{s.ID, a2.ID, b.ID, a.ID},
		[]string{o.Invoices[0].PaymentID, o.Invoices[1].PaymentID, o.Invoices[2].PaymentID, o.Invoices[3].PaymentID})
	numbers := map[string]bool{}
	for _, inv := range o.Invoices {
		// Each overdue charge is listed as its invoice: id and number.
		assert.Equal(t, invoice.IDFor(inv.PaymentID), inv.ID)
		assert.Regexp(t, `^INV-\d{4}$`, inv.Number)
		assert.Equal(t, "/invoices/payments/"+inv.PaymentID, inv.InvoiceURL)
		numbers[inv.Number] = true
	}
	assert.Len(t, numbers, 4)
	inv := o.Invoices[3]
	assert.Equal(t, a.ID, inv.PaymentID)
	assert.Equal(t, okA, inv.SubscriptionID)
	assert.Equal(t, int64(1234), inv.AmountDue)
	assert.Equal(t, "USD", inv.Currency)
	assert.Equal(t, processor.CardOK, inv.PaymentMethod)
	assert.Equal(t, processor.Fraudulent, inv.DeclineCode)
	assert.Equal(t, t0, inv.DueDate)
	assert.Nil(t, inv.NextRetryAt)
	assert.True(t, inv.Collectable)
	require.NotNil(t, o.Invoices[0].NextRetryAt, "the soft decline has a retry")
	assert.False(t, o.Invoices[0].Collectable)
	assert.True(t, o.Delinquent)
	// The summary: by currency and payment method, amounts as decimal strings.
	assert.Equal(t, map[string]OverdueSummary{
		"USD:" + processor.CardOK:                {Amount: "22.34", AmountMinor: 2234, Currency: "USD", Method: processor.CardOK, Count: 2},
		"USD:" + processor.CardInsufficientFunds: {Amount: "7.66", AmountMinor: 766, Currency: "USD", Method: processor.CardInsufficientFunds, Count: 1},
		"INR:" + processor.CardOK:                {Amount: "300.00", AmountMinor: 300_00, Currency: "INR", Method: processor.CardOK, Count: 1},
	}, o.Summary)
	assert.Equal(t, []OverdueAmount{{Amount: "300.00", AmountMinor: 300_00, Currency: "INR"},
		{Amount: "30.00", AmountMinor: 3000, Currency: "USD"}}, o.AmountDue)
	assert.Equal(t, "22.34", r.JSON(t)["summary"].(map[string]any)["USD:"+processor.CardOK].(map[string]any)["amount"])

	// A restricted key reads its own (also as "me"), not another's.
	kc := "sk_test_for_" + c
	var mine OverdueInvoices
	mustOK(t, e.doKey(kc, "GET", "/customers/me/overdue/invoices", nil, nil)).Decode(t, &mine)
	assert.Len(t, mine.Invoices, 4)
	mustOK(t, e.doKey(kc, "GET", "/customers/"+c+"/overdue/invoices", nil, nil))
	r = e.doKey(kc, "GET", "/customers/"+other+"/overdue/invoices", nil, nil)
	assert.Equal(t, http.StatusForbidden, r.Status)
	r = e.do("GET", "/customers/me/overdue/invoices", nil)
	assert.Equal(t, http.StatusUnprocessableEntity, r.Status)
	assert.Equal(t, "KEY_NOT_RESTRICTED", r.Code(t))
	r = e.do("GET", "/customers/cus_missing/overdue/invoices", nil)
	assert.Equal(t, http.StatusNotFound, r.Status)
	assert.Equal(t, "CUSTOMER_NOT_FOUND", r.Code(t))
	assert.Equal(t, http.StatusUnauthorized, e.doKey("", "GET", "/customers/"+c+"/overdue/invoices", nil, nil).Status)

	// Collect: refusals first, none of which charges anything.
	charges := len(e.proc.Charges())
	for _, tc := range []struct {
		name, key, path string
		body            any
		hdr             http.Header
		status          int
		code, param     string
	}{
		{"restricted", kc, "/payments/" + a.ID + "/collect", map[string]any{"idempotency_key": "k1"}, nil, 403, "FORBIDDEN", ""},
		{"no key", opKey, "/payments/" + a.ID + "/collect", nil, nil, 422, "INVALID_PARAMETER", "idempotency_key"},
		{"keys differ", opKey, "/payments/" + a.ID + "/collect", map[string]any{"idempotency_key": "k1"},
			http.Header{"Idempotency-Key": {"k2"}}, 422, "INVALID_PARAMETER", "idempotency_key"},
		{"malformed", opKey, "/payments/" + a.ID + "/collect", `{"idempotency_key":`, nil, 400, "MALFORMED_JSON", ""},
		{"wrong type", opKey, "/payments/" + a.ID + "/collect", `{"idempotency_key":5}`, nil, 422, "INVALID_TYPE", "idempotency_key"},
		{"reserved key", opKey, "/payments/" + a.ID + "/collect", map[string]any{"idempotency_key": "retry:x"}, nil, 422, "", "idempotency_key"},
		{"retry pending", opKey, "/payments/" + s.ID + "/collect", map[string]any{"idempotency_key": "k3"}, nil, 409, "PAYMENT_NOT_OVERDUE", ""},
		{"missing", opKey, "/payments/pay_missing/collect", map[string]any{"idempotency_key": "k4"}, nil, 404, "PAYMENT_NOT_FOUND", ""},
		{"bad id", opKey, "/payments/" + strings.Repeat("p", 300) + "/collect", map[string]any{"idempotency_key": "k5"}, nil, 422, "INVALID_PARAMETER", "payment_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.doKey(tc.key, "POST", tc.path, tc.body, tc.hdr)
			require.Equal(t, tc.status, r.Status, "body %s", r.Body)
			var eb ErrorBody
			r.Decode(t, &eb)
			if tc.code != "" {
				assert.Equal(t, tc.code, eb.Code)
			}
			if tc.param != "" {
				assert.Equal(t, tc.param, eb.Param)
			}
			assert.Equal(t, "false", r.Header.Get("X-Should-Retry"))
		})
	}
	assert.Equal(t, charges, len(e.proc.Charges()), "no refused collection reached the processor")

	// Collect a (the card now succeeds), keyed by the header.
	var col CollectedPayment
	mustOK(t, e.doKey(opKey, "POST", "/payments/"+a.ID+"/collect", nil, http.Header{"Idempotency-Key": {"collect-a-1"}})).Decode(t, &col)
	assert.Equal(t, "succeeded", col.Status)
	assert.Equal(t, a.ID, col.Collects)
	assert.Equal(t, int64(1234), col.TotalAmount)
	assert.Equal(t, "collect-a-1", col.IdempotencyKey)
	charges = len(e.proc.Charges())
	// The same key again (an SDK-style retry): the same payment, no charge.
	var again CollectedPayment
	mustOK(t, e.do("POST", "/payments/"+a.ID+"/collect", map[string]any{"idempotency_key": "collect-a-1"})).Decode(t, &again)
	assert.Equal(t, col.PaymentID, again.PaymentID)
	// Another key: the debt is settled.
	r = e.do("POST", "/payments/"+a.ID+"/collect", map[string]any{"idempotency_key": "collect-a-2"})
	assert.Equal(t, http.StatusConflict, r.Status)
	assert.Equal(t, "DEBT_ALREADY_COLLECTED", r.Code(t))
	assert.Equal(t, "false", r.Header.Get("X-Should-Retry"))
	assert.Equal(t, charges, len(e.proc.Charges()))

	o = OverdueInvoices{}
	mustOK(t, e.do("GET", "/customers/"+c+"/overdue/invoices", nil)).Decode(t, &o)
	assert.Len(t, o.Invoices, 3)
}

func TestRetryAttempts(t *testing.T) {
	e := newTestEnv(t)
	c := e.newCustomer("Ada", "ada@example.com")
	other := e.newCustomer("Bob", "bob@example.com")
	s1 := e.subscribe(c, processor.CardInsufficientFunds)
	p1 := e.engineCharge(s1, 500, "USD")
	e.clock.Advance(time.Hour)
	s2 := e.subscribe(other, processor.CardInsufficientFunds)
	p2 := e.engineCharge(s2, 700, "USD")
	ok := e.subscribe(c, processor.CardOK)
	paid := e.engineCharge(ok, 100, "USD")

	var all Page[RetryAttempt]
	mustOK(t, e.do("GET", "/retry-attempts", nil)).Decode(t, &all)
	require.Len(t, all.Items, 2)
	// A queue: soonest first.
	assert.Equal(t, p1.ID, all.Items[0].PaymentID)
	assert.Equal(t, p2.ID, all.Items[1].PaymentID)
	a := all.Items[0]
	assert.Equal(t, s1, a.SubscriptionID)
	assert.Equal(t, c, a.CustomerID)
	assert.Equal(t, 2, a.Number)
	assert.Equal(t, int64(500), a.Amount)
	assert.Equal(t, "scheduled", a.Status)
	assert.Nil(t, a.RetryPaymentID)
	assert.True(t, a.DueAt.After(t0))
	assert.False(t, a.Notified)

	var f Page[RetryAttempt]
	mustOK(t, e.do("GET", "/retry-attempts?subscription_id="+s2, nil)).Decode(t, &f)
	require.Len(t, f.Items, 1)
	assert.Equal(t, p2.ID, f.Items[0].PaymentID)
	mustOK(t, e.do("GET", "/retry-attempts?status=succeeded", nil)).Decode(t, &f)
	assert.Empty(t, f.Items)
	lte := a.RunAt.Format(time.RFC3339Nano)
	mustOK(t, e.do("GET", "/retry-attempts?run_at_lte="+lte, nil)).Decode(t, &f)
	require.Len(t, f.Items, 1)
	assert.Equal(t, a.ID, f.Items[0].ID)
	mustOK(t, e.do("GET", "/retry-attempts?run_at_gte="+all.Items[1].RunAt.Format(time.RFC3339Nano), nil)).Decode(t, &f)
	require.Len(t, f.Items, 1)
	assert.Equal(t, all.Items[1].ID, f.Items[0].ID)
	// Pages: page_number and cursors.
	mustOK(t, e.do("GET", "/retry-attempts?page_size=1&page_number=1", nil)).Decode(t, &f)
	require.Len(t, f.Items, 1)
	assert.Equal(t, all.Items[1].ID, f.Items[0].ID)
	mustOK(t, e.do("GET", "/retry-attempts?page_size=1&page_number=2", nil)).Decode(t, &f)
	assert.Empty(t, f.Items)
	mustOK(t, e.do("GET", "/retry-attempts?page_size=1&starting_after="+a.ID, nil)).Decode(t, &f)
	require.Len(t, f.Items, 1)
	assert.Equal(t, all.Items[1].ID, f.Items[0].ID)

	// One payment's attempts.
	var pl RetryAttemptList
	mustOK(t, e.do("GET", "/payments/"+p1.ID+"/retry-attempts", nil)).Decode(t, &pl)
	require.Len(t, pl.Items, 1)
	assert.Equal(t, a.ID, pl.Items[0].ID)
	r := mustOK(t, e.do("GET", "/payments/"+paid.ID+"/retry-attempts", nil))
	assert.Equal(t, map[string]any{"items": []any{}}, r.JSON(t))
	// The restricted key of the payment's customer may read it; another may not.
	mustOK(t, e.doKey("sk_test_for_"+c, "GET", "/payments/"+p1.ID+"/retry-attempts", nil, nil))
	for _, path := range []string{"/payments/" + p2.ID + "/retry-attempts", "/payments/pay_missing/retry-attempts"} {
		r = e.doKey("sk_test_for_"+c, "GET", path, nil, nil)
		assert.Equal(t, http.StatusForbidden, r.Status, path)
	}

	for _, tc := range []struct {
		key, path string
		status    int
		code      string
	}{
		{"sk_test_for_" + c, "/retry-attempts", 403, "FORBIDDEN"},
		{"", "/retry-attempts", 401, "INVALID_API_KEY"},
		{"", "/payments/" + p1.ID + "/retry-attempts", 401, "INVALID_API_KEY"},
		{opKey, "/retry-attempts?status=done", 422, "INVALID_PARAMETER"},
		{opKey, "/retry-attempts?run_at_gte=soon", 422, "INVALID_PARAMETER"},
		{opKey, "/retry-attempts?run_at_gte=2026-03-05&run_at_lte=2026-03-01", 422, "INVALID_PARAMETER"},
		{opKey, "/retry-attempts?page_size=500", 422, "INVALID_PARAMETER"},
		{opKey, "/retry-attempts?starting_after=rta_nope", 422, "INVALID_CURSOR"},
		{opKey, "/payments/pay_missing/retry-attempts", 404, "PAYMENT_NOT_FOUND"},
	} {
		r := e.doKey(tc.key, "GET", tc.path, nil, nil)
		assert.Equal(t, tc.status, r.Status, tc.path)
		assert.Equal(t, tc.code, r.Code(t), tc.path)
	}
}
