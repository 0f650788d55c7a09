package httpapi

import (
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/retry"
)

// Overdue charges, their collection and the dunning queue (extensions):
// PaymentKit's customers.overdueInvoices, coffer's CollectOverdue and the
// retry attempts of the payment-retry policy.

// OverdueInvoices is the answer of GET /customers/{id}/overdue/invoices,
// in PaymentKit's shape {customer, invoices, summary}: each invoice is the
// invoice of an overdue (failed, unpaid) subscription charge.
type OverdueInvoices struct {
	Customer Customer         `json:"customer"`
	Invoices []OverdueInvoice `json:"invoices"`
	// Summary groups the amount due by currency and payment method, keyed
	// "<CURRENCY>:<payment method>" ("USD:pm_card_visa"); a charge with no
	// recorded payment method is keyed by its currency alone ("USD").
	Summary map[string]OverdueSummary `json:"summary"`
	// Extensions.
	// AmountDue sums the invoices per currency (all methods), sorted by
	// currency.
	AmountDue []OverdueAmount `json:"amount_due"`
	// Delinquent: some overdue charge has no retry pending.
	Delinquent bool `json:"delinquent"`
}

// OverdueInvoice is one overdue charge.
type OverdueInvoice struct {
	// ID is the charge's invoice id (the payment's id for a charge made
	// before the store numbered invoices); Number its invoice number
	// ("ADA-0007", "" without an invoice) and InvoiceURL the PDF download.
	ID             string `json:"id"`
	Number         string `json:"number"`
	InvoiceURL     string `json:"invoice_url"`
	PaymentID      string `json:"payment_id"`
	SubscriptionID string `json:"subscription_id"`
	// AmountDue is in minor units, as every coffer amount.
	AmountDue     int64  `json:"amount_due"`
	Currency      string `json:"currency"`
	PaymentMethod string `json:"payment_method"`
	DeclineCode   string `json:"decline_code,omitempty"`
	Description   string `json:"description,omitempty"`
	// DueDate is when the charge was made (and failed).
	DueDate time.Time `json:"due_date"`
	// NextRetryAt is when the retry policy next tries to collect it; null
	// when no retry is pending (then POST /payments/{id}/collect collects it).
	NextRetryAt *time.Time `json:"next_retry_at"`
	Collectable bool       `json:"collectable"`
}

// OverdueSummary is PaymentKit's summary entry: amount is a decimal
// string in major units ("12.34"); AmountMinor the same in minor units.
type OverdueSummary struct {
	Amount      string `json:"amount"`
	AmountMinor int64  `json:"amount_minor"`
	Currency    string `json:"currency"`
	Method      string `json:"method"`
	Count       int    `json:"count"`
}

// OverdueAmount is an amount due in one currency.
type OverdueAmount struct {
	Amount      string `json:"amount"`
	AmountMinor int64  `json:"amount_minor"`
	Currency    string `json:"currency"`
}

// collectBody is the body of POST /payments/{payment_id}/collect.
type collectBody struct {
	// IdempotencyKey is required here or in the Idempotency-Key header
	// (the same value if both are given).
	IdempotencyKey *string `json:"idempotency_key"`
}

// CollectedPayment is the payment a collection made (succeeded, failed or
// pending at the processor).
type CollectedPayment struct {
	PaymentID      string `json:"payment_id"`
	CustomerID     string `json:"customer_id"`
	SubscriptionID string `json:"subscription_id"`
	// Collects is the overdue payment it collects.
	Collects        string    `json:"collects"`
	Status          string    `json:"status"`
	TotalAmount     int64     `json:"total_amount"`
	Currency        string    `json:"currency"`
	WalletAmount    int64     `json:"wallet_amount"`
	ProcessorAmount int64     `json:"processor_amount"`
	DeclineCode     string    `json:"decline_code,omitempty"`
	PaymentMethod   string    `json:"payment_method"`
	IdempotencyKey  string    `json:"idempotency_key"`
	CreatedAt       time.Time `json:"created_at"`
}

// RetryAttempt is one scheduled retry of a failed subscription charge.
type RetryAttempt struct {
	ID             string `json:"id"`
	SubscriptionID string `json:"subscription_id"`
	CustomerID     string `json:"customer_id"`
	// PaymentID is the failed charge being retried; RetryPaymentID the
	// charge this attempt made (null until it ran).
	PaymentID      string  `json:"payment_id"`
	RetryPaymentID *string `json:"retry_payment_id"`
	// Number is 2..4: the first charge is attempt 1.
	Number   int    `json:"number"`
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	// Status is scheduled, claimed (running), succeeded, failed or cancelled.
	Status string    `json:"status"`
	DueAt  time.Time `json:"due_at"`
	// RunAt is when the queue next looks at the attempt: the upcoming-retry
	// notice time until Notified, then DueAt.
	RunAt       time.Time `json:"run_at"`
	Notified    bool      `json:"notified"`
	DeclineCode string    `json:"decline_code,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func attemptOut(a retry.Attempt) RetryAttempt {
	return RetryAttempt{ID: a.ID, SubscriptionID: a.SubscriptionID, CustomerID: a.CustomerID, PaymentID: a.FirstPaymentID,
		RetryPaymentID: optString(a.PaymentID), Number: a.Number, Amount: a.Amount, Currency: a.Currency,
		Status: string(a.Status), DueAt: a.DueAt, RunAt: a.RunAt, Notified: a.Notified, DeclineCode: a.DeclineCode,
		CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
}

// RetryAttemptList is the (unpaged) list of one payment's retry attempts.
type RetryAttemptList struct {
	Items []RetryAttempt `json:"items"`
}

func (h *Handler) overdueRoutes() {
	h.handle("GET /customers/{customer_id}/overdue/invoices", h.overdueInvoices, doc{Tag: "customers", Extension: true,
		Summary: "List a customer's overdue charges",
		Description: "PaymentKit's overdueInvoices: the failed, unpaid subscription charges, with the amount due grouped " +
			"by currency and payment method. customer_id may be \"me\" for a restricted key.",
		Result: OverdueInvoices{}})
	h.handle("POST /payments/{payment_id}/collect", h.collectOverdue, doc{Tag: "payments", Extension: true,
		Summary: "Collect an overdue charge now",
		Description: "Charges an overdue payment again (wallet first), typically after the payment method was updated. " +
			"Requires an idempotency key (body idempotency_key or the Idempotency-Key header): the same key returns " +
			"the same collection. A debt is collected at most once: a second collection of a settled debt is a 409 " +
			"DEBT_ALREADY_COLLECTED, of one in flight a 409 COLLECTION_IN_PROGRESS; a charge with a retry still " +
			"scheduled (or not failed) is a 409 PAYMENT_NOT_OVERDUE. Operator-only.",
		Body: collectBody{}, Result: CollectedPayment{}})
	h.handle("GET /retry-attempts", h.listRetryAttempts, doc{Tag: "payments", Extension: true,
		Summary:     "List the payment-retry queue",
		Description: "Retry attempts soonest run_at first (a queue, not newest first). Operator-only.",
		Result:      Page[RetryAttempt]{}, Query: withPage(
			queryParam{Name: "subscription_id", Type: "string", Description: "Only this subscription's attempts."},
			queryParam{Name: "status", Type: "string", Enum: []string{"scheduled", "claimed", "succeeded", "failed", "cancelled"}},
			queryParam{Name: "run_at_gte", Type: "date-time", Description: "run_at at or after."},
			queryParam{Name: "run_at_lte", Type: "date-time", Description: "run_at at or before (now: what is due)."})})
	h.handle("GET /payments/{payment_id}/retry-attempts", h.paymentRetryAttempts, doc{Tag: "payments", Extension: true,
		Summary:     "List a failed charge's retry attempts",
		Description: "Every attempt of the retry chain of this charge (at most 3), soonest first; not paginated.",
		Result:      RetryAttemptList{}})
}

func (h *Handler) overdueInvoices(c *call) (any, error) {
	cu, err := c.customerParam()
	if err != nil {
		return nil, err
	}
	o, err := h.eng.Overdue(c.ctx(), cu.ID)
	if err != nil {
		return nil, err
	}
	out := OverdueInvoices{Customer: h.customerOut(cu), Invoices: make([]OverdueInvoice, 0, len(o.Payments)),
		Summary: map[string]OverdueSummary{}, AmountDue: make([]OverdueAmount, 0, len(o.Due)), Delinquent: o.Delinquent}
	recs, err := h.overdueInvoiceRecords(c, o.Payments)
	if err != nil {
		return nil, err
	}
	for _, p := range o.Payments {
		inv := OverdueInvoice{ID: p.ID, PaymentID: p.ID, InvoiceURL: "/invoices/payments/" + p.ID, SubscriptionID: p.SubscriptionID, AmountDue: p.Amount,
			Currency: p.Currency, PaymentMethod: p.PaymentMethod, DeclineCode: p.DeclineCode, Description: p.Description,
			DueDate: p.CreatedAt, Collectable: p.Delinquent()}
		if !p.NextRetryAt.IsZero() {
			t := p.NextRetryAt
			inv.NextRetryAt = &t
		}
		if r, ok := recs[p.ID]; ok {
			inv.ID, inv.Number = r.ID, r.Number()
		}
		out.Invoices = append(out.Invoices, inv)
		key := p.Currency
		if p.PaymentMethod != "" {
			key += ":" + p.PaymentMethod
		}
		s := out.Summary[key]
		if s.AmountMinor, err = money.AddMinor(s.AmountMinor, p.Amount); err != nil {
			return nil, err
		}
		s.Currency, s.Method = p.Currency, p.PaymentMethod
		s.Count++
		out.Summary[key] = s
	}
	for k, s := range out.Summary {
		s.Amount = money.Format(s.AmountMinor, s.Currency)
		out.Summary[k] = s
	}
	for _, d := range o.Due {
		out.AmountDue = append(out.AmountDue, OverdueAmount{Amount: money.Format(d.Minor, d.Currency), AmountMinor: d.Minor,
			Currency: d.Currency})
	}
	return out, nil
}

func (h *Handler) collectOverdue(c *call) (any, error) {
	id, err := c.operatorPathID("payment_id")
	if err != nil {
		return nil, err
	}
	var in collectBody
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	key, err := c.requiredKey(in.IdempotencyKey, "collection")
	if err != nil {
		return nil, err
	}
	p, err := h.eng.CollectOverdue(c.ctx(), id, coffer.CollectOverdueParams{IdempotencyKey: key})
	if err != nil {
		return nil, err
	}
	return CollectedPayment{PaymentID: p.ID, CustomerID: p.CustomerID, SubscriptionID: p.SubscriptionID, Collects: p.RetryOf,
		Status: string(p.Status), TotalAmount: p.Amount, Currency: p.Currency, WalletAmount: p.WalletAmount,
		ProcessorAmount: p.ProcessorAmount, DeclineCode: p.DeclineCode, PaymentMethod: p.PaymentMethod,
		IdempotencyKey: p.IdempotencyKey, CreatedAt: p.CreatedAt}, nil
}

func (h *Handler) listRetryAttempts(c *call) (any, error) {
	if err := c.operatorOnly(); err != nil {
		return nil, err
	}
	q, pr, err := c.listQuery()
	if err != nil {
		return nil, err
	}
	status, err := q.enum("status", "scheduled", "claimed", "succeeded", "failed", "cancelled")
	if err != nil {
		return nil, err
	}
	p := coffer.AttemptListParams{SubscriptionID: q.str("subscription_id"), Status: retry.AttemptStatus(status)}
	if p.Due, err = timeRange(q, "run_at_gte", "run_at_lte"); err != nil {
		return nil, err
	}
	return listPage(c, pr, func(lp coffer.ListParams) (coffer.List[retry.Attempt], error) {
		p.ListParams = lp
		return h.eng.ListAttempts(c.ctx(), p)
	}, func(a retry.Attempt) string { return a.ID }, func(a retry.Attempt) (RetryAttempt, error) { return attemptOut(a), nil })
}

// maxAttemptScan bounds the attempts read to find one payment's chain.
const maxAttemptScan = 20 * MaxPageSize

func (h *Handler) paymentRetryAttempts(c *call) (any, error) {
	id, err := c.pathID("payment_id")
	if err != nil {
		return nil, err
	}
	pay, err := h.eng.Payment(c.ctx(), id)
	if err != nil {
		if c.p.Restricted() && coffer.AsError(err).Kind == coffer.KindNotFound {
			return nil, errForbidden("this API key is restricted to another customer")
		}
		return nil, err
	}
	if err := c.allowCustomer(pay.CustomerID); err != nil {
		return nil, err
	}
	out := RetryAttemptList{Items: []RetryAttempt{}}
	if pay.SubscriptionID == "" {
		return out, nil // one-time payments are never retried
	}
	chain := pay.ID
	if pay.RetryOf != "" {
		chain = pay.RetryOf
	}
	lp := coffer.ListParams{Limit: MaxPageSize}
	for read := 0; ; {
		page, err := h.eng.ListAttempts(c.ctx(), coffer.AttemptListParams{ListParams: lp, SubscriptionID: pay.SubscriptionID})
		if err != nil {
			return nil, err
		}
		for _, a := range page.Data {
			if a.FirstPaymentID == chain {
				out.Items = append(out.Items, attemptOut(a))
			}
		}
		read += len(page.Data)
		if !page.HasMore || len(page.Data) == 0 {
			break
		}
		if read >= maxAttemptScan {
			return nil, &apiError{status: http.StatusUnprocessableEntity, code: "TOO_MANY_ATTEMPTS",
				message: "the subscription has too many retry attempts to scan; use GET /retry-attempts?subscription_id="}
		}
		lp.StartingAfter = page.NextCursor
	}
	sort.SliceStable(out.Items, func(i, j int) bool { return out.Items[i].Number < out.Items[j].Number })
	return out, nil
}

// requiredKey is the idempotency key of a call that moves money and so
// requires one (a resend without it could charge twice): the body's
// idempotency_key or the Idempotency-Key header, which must agree when both
// are given. what names the operation in the error ("collection").
func (c *call) requiredKey(body *string, what string) (string, error) {
	key := strings.TrimSpace(c.r.Header.Get("Idempotency-Key"))
	if body != nil {
		if key != "" && key != *body {
			return "", invalidParam("idempotency_key", "idempotency_key and the Idempotency-Key header differ")
		}
		key = *body
	}
	if key == "" {
		return "", invalidParam("idempotency_key",
			"idempotency_key is required (body or Idempotency-Key header): use a new key for each "+what+" you intend")
	}
	return key, nil
}
