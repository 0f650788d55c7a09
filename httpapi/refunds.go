package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

// Refund is Dodo's Refund with coffer's fields after Dodo's. metadata is
// always {} (coffer keeps no refund metadata; a create with metadata is
// refused).
type Refund struct {
	BrandID    string                 `json:"brand_id"`
	BusinessID string                 `json:"business_id"`
	CreatedAt  time.Time              `json:"created_at"`
	Customer   CustomerLimitedDetails `json:"customer"`
	IsPartial  bool                   `json:"is_partial"`
	Metadata   Metadata               `json:"metadata"`
	PaymentID  string                 `json:"payment_id"`
	RefundID   string                 `json:"refund_id"`
	Status     string                 `json:"status"`
	Amount     *int64                 `json:"amount"`
	Currency   *string                `json:"currency"`
	Reason     *string                `json:"reason"`
	// Extensions.
	Destination     string `json:"destination"`
	WalletAmount    int64  `json:"wallet_amount"`
	ProcessorAmount int64  `json:"processor_amount"`
	IdempotencyKey  string `json:"idempotency_key,omitempty"`
}

// RefundEvent is the data of a refund.* webhook.
type RefundEvent struct {
	Refund
	PayloadType string `json:"payload_type"`
}

// RefundListItem is Dodo's RefundListItem (no brand, customer or
// metadata), with coffer's fields after Dodo's.
type RefundListItem struct {
	BusinessID string    `json:"business_id"`
	CreatedAt  time.Time `json:"created_at"`
	IsPartial  bool      `json:"is_partial"`
	PaymentID  string    `json:"payment_id"`
	RefundID   string    `json:"refund_id"`
	Status     string    `json:"status"`
	Amount     *int64    `json:"amount"`
	Currency   *string   `json:"currency"`
	Reason     *string   `json:"reason"`
	// Extensions.
	CustomerID      string `json:"customer_id"`
	Destination     string `json:"destination"`
	WalletAmount    int64  `json:"wallet_amount"`
	ProcessorAmount int64  `json:"processor_amount"`
}

func (h *Handler) refundOut(r subscription.Refund, pay subscription.Payment, cu CustomerLimitedDetails) Refund {
	amount, cur := r.Amount, r.Currency
	return Refund{
		BrandID: h.businessID, BusinessID: h.businessID, CreatedAt: r.CreatedAt, Customer: cu,
		IsPartial: r.Amount < pay.Amount, Metadata: Metadata{}, PaymentID: r.PaymentID, RefundID: r.ID,
		Status: refundStatusOut(r.Status), Amount: &amount, Currency: &cur, Reason: optString(r.Reason),
		Destination: string(r.Destination), WalletAmount: r.WalletAmount, ProcessorAmount: r.ProcessorAmount,
		IdempotencyKey: publicRefundKey(r.IdempotencyKey),
	}
}

func (h *Handler) refundListOut(r subscription.Refund, pay subscription.Payment) RefundListItem {
	amount, cur := r.Amount, r.Currency
	return RefundListItem{
		BusinessID: h.businessID, CreatedAt: r.CreatedAt, IsPartial: r.Amount < pay.Amount, PaymentID: r.PaymentID,
		RefundID: r.ID, Status: refundStatusOut(r.Status), Amount: &amount, Currency: &cur, Reason: optString(r.Reason),
		CustomerID: r.CustomerID, Destination: string(r.Destination), WalletAmount: r.WalletAmount,
		ProcessorAmount: r.ProcessorAmount,
	}
}

// derivedKeyPrefix starts the idempotency key coffer derives from a refund
// request that names none.
const derivedKeyPrefix = "body:"

// publicRefundKey hides keys coffer made (derived or internal).
func publicRefundKey(k string) string {
	if len(k) >= len(derivedKeyPrefix) && k[:len(derivedKeyPrefix)] == derivedKeyPrefix {
		return ""
	}
	return publicKey(k)
}

// refundItem is Dodo's refund line item.
type refundItem struct {
	ItemID       *string `json:"item_id"`
	Amount       Int64   `json:"amount"`
	TaxInclusive *bool   `json:"tax_inclusive"`
}

// refundCreate is Dodo's RefundCreateParams plus coffer's amount,
// destination and idempotency_key.
type refundCreate struct {
	PaymentID *string      `json:"payment_id"`
	Items     []refundItem `json:"items"`
	Metadata  Metadata     `json:"metadata"`
	Reason    *string      `json:"reason"`
	// Extensions.
	Amount         Int64   `json:"amount"`
	Destination    *string `json:"destination"`
	IdempotencyKey *string `json:"idempotency_key"`
}

func (h *Handler) refundRoutes() {
	h.handle("POST /refunds", h.createRefund, doc{Tag: "refunds", Summary: "Refund a payment",
		Description: "Dodo's RefundCreateParams: no items (or an item with a null amount) refunds everything still refundable; " +
			"items[].item_id must be the payment's product and the amounts add up to the refund. tax_inclusive is accepted and has no effect " +
			"(coffer computes no tax). metadata is refused (422 REFUND_METADATA_UNSUPPORTED): coffer keeps none. Extensions: amount " +
			"(a top-level amount, which must agree with the items), destination (payment_method, the default, or wallet) and idempotency_key. " +
			"Without idempotency_key (the Dodo SDK sends none) the key is derived from the request, so the SDK's identical resend refunds " +
			"once, and so does a second identical request: make a second identical partial refund with its own idempotency_key. " +
			"Operator keys only.",
		Body: refundCreate{}, Result: Refund{}})
	h.handle("GET /refunds/{refund_id}", h.getRefund, doc{Tag: "refunds", Summary: "Retrieve a refund", Result: Refund{}})
	h.handle("GET /refunds", h.listRefunds, doc{Tag: "refunds", Summary: "List refunds",
		Description: "customer_id and status are applied by scanning (at most 5000 refunds per request, else 422 FILTER_TOO_BROAD); " +
			"status review lists nothing; subscription_id is not supported (422). Extension: payment_id. " +
			"A restricted key lists its own customer's refunds.",
		Result: Page[RefundListItem]{}, Query: withPage(append([]queryParam{
			{Name: "customer_id", Type: "string"}, {Name: "status", Type: "string", Enum: dodoRefundStatuses},
			{Name: "payment_id", Type: "string", Description: "coffer extension: one payment's refunds."},
		}, createdQuery...)...)})
}

// params validates the request against the payment.
func (in refundCreate) params(pay subscription.Payment, productID string) (coffer.RefundParams, error) {
	var p coffer.RefundParams
	if len(in.Metadata) > 0 {
		return p, unsupported("REFUND_METADATA_UNSUPPORTED", "metadata", "coffer keeps no refund metadata")
	}
	if in.Amount.Set && in.Amount.V <= 0 {
		return p, invalidParam("amount", "amount must be > 0 (minor units); omit it to refund everything")
	}
	var (
		sum   int64
		whole bool
	)
	for i, it := range in.Items {
		param := "items[" + itoaSmall(i) + "]"
		switch {
		case it.ItemID == nil || *it.ItemID == "":
			return p, invalidParam(param+".item_id", param+".item_id is required")
		case productID == "":
			return p, invalidParam(param+".item_id", "this payment has no line items (a one-time payment): give amount instead of items")
		case *it.ItemID != productID:
			return p, invalidParam(param+".item_id", param+".item_id must be the payment's product "+productID)
		case !it.Amount.Set:
			whole = true
		case it.Amount.V <= 0:
			return p, invalidParam(param+".amount", param+".amount must be > 0, or null for the whole item")
		default:
			sum += it.Amount.V
			if sum > pay.Amount || sum < 0 {
				return p, &apiError{status: 422, code: "INVALID_REFUND_AMOUNT", param: param + ".amount",
					message: "the items add up to more than the payment"}
			}
		}
	}
	switch {
	case whole && in.Amount.Set:
		return p, invalidParam("amount", "an item with a null amount refunds everything; amount cannot be given with it")
	case whole:
		p.Amount = 0
	case len(in.Items) > 0 && in.Amount.Set && in.Amount.V != sum:
		return p, invalidParam("amount", "amount must equal the sum of the items' amounts")
	case len(in.Items) > 0:
		p.Amount = sum
	case in.Amount.Set:
		p.Amount = in.Amount.V
	}
	if in.Destination != nil {
		switch *in.Destination {
		case "payment_method", "wallet":
			p.Destination = subscription.RefundDestination(*in.Destination)
		default:
			return p, invalidParam("destination", "destination must be payment_method or wallet")
		}
	}
	if in.Reason != nil {
		p.Reason = *in.Reason
	}
	return p, nil
}

func itoaSmall(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// derivedKey is the idempotency key of a refund request that names none:
// a hash of what the request asks (payment, amount, destination, reason),
// so an identical resend is the same refund.
func derivedKey(paymentID string, p coffer.RefundParams) string {
	b, _ := json.Marshal(struct {
		P string `json:"p"`
		A int64  `json:"a"`
		D string `json:"d"`
		R string `json:"r"`
	}{paymentID, p.Amount, string(p.Destination), p.Reason})
	sum := sha256.Sum256(b)
	return derivedKeyPrefix + hex.EncodeToString(sum[:16])
}

func (h *Handler) createRefund(c *call) (any, error) {
	if err := c.operatorOnly(); err != nil {
		return nil, err
	}
	var in refundCreate
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if in.PaymentID == nil || *in.PaymentID == "" {
		return nil, invalidParam("payment_id", "payment_id is required")
	}
	pay, err := h.eng.Payment(c.ctx(), *in.PaymentID)
	if err != nil {
		return nil, err
	}
	productID := ""
	if pay.SubscriptionID != "" {
		s, err := h.eng.Subscription(c.ctx(), pay.SubscriptionID)
		if err != nil {
			return nil, err
		}
		productID = s.ProductID
	}
	p, err := in.params(pay, productID)
	if err != nil {
		return nil, err
	}
	if p.IdempotencyKey, err = c.idempotencyKey(in.IdempotencyKey); err != nil {
		return nil, err
	}
	if p.IdempotencyKey == "" {
		p.IdempotencyKey = derivedKey(pay.ID, p)
	}
	r, err := h.eng.Refund(c.ctx(), pay.ID, p)
	if err != nil {
		if r.ID == "" {
			return nil, err
		}
		// The refund was recorded (its processor step failed): answer it,
		// never a 5xx the SDK would resend (the resend would find it by
		// its key anyway).
		got, rerr := h.refundByID(c, r.ID)
		if rerr != nil {
			return nil, noRetry(err)
		}
		r = got
	}
	return h.refund(c, r)
}

// refundByID reads a refund (the Engine has no Refund(id) read: it goes
// through Engine.View).
func (h *Handler) refundByID(c *call, id string) (subscription.Refund, error) {
	var r subscription.Refund
	err := h.eng.View(contextWithoutCancel(c), func(tx store.ReadTx) error {
		var err error
		r, err = tx.Refund(id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return r, errRefundNotFound(id)
	}
	return r, err
}

func errRefundNotFound(id string) error {
	return &apiError{status: 404, code: "REFUND_NOT_FOUND", param: "refund_id", message: "Refund not found: " + boundText(id, 80)}
}

// refund builds the full Refund.
func (h *Handler) refund(c *call, r subscription.Refund) (Refund, error) {
	pay, err := h.eng.Payment(c.ctx(), r.PaymentID)
	if err != nil {
		return Refund{}, err
	}
	cu, err := c.limited(r.CustomerID)
	if err != nil {
		return Refund{}, err
	}
	return h.refundOut(r, pay, cu), nil
}

func (h *Handler) getRefund(c *call) (any, error) {
	id, err := c.pathID("refund_id")
	if err != nil {
		return nil, err
	}
	r, err := h.refundByID(c, id)
	if err != nil {
		if c.p.Restricted() {
			var ae *apiError
			if errors.As(err, &ae) && ae.code == "REFUND_NOT_FOUND" {
				return nil, errForbidden("this API key is restricted to another customer")
			}
		}
		return nil, err
	}
	if err := c.allowCustomer(r.CustomerID); err != nil {
		return nil, err
	}
	return h.refund(c, r)
}

func (h *Handler) listRefunds(c *call) (any, error) {
	q, pr, err := c.listQuery()
	if err != nil {
		return nil, err
	}
	if err := refuseFilters(q, "coffer's refund list cannot filter by subscription; use payment_id", "subscription_id"); err != nil {
		return nil, err
	}
	cust, created, err := c.scopedFilters(q)
	if err != nil {
		return nil, err
	}
	p := coffer.RefundListParams{PaymentID: q.str("payment_id")}
	p.Created = created
	st, err := q.enum("status", dodoRefundStatuses...)
	if err != nil {
		return nil, err
	}
	var status subscription.RefundStatus
	if st != "" {
		s, ok := refundStatusIn(st)
		if !ok {
			return emptyPage[RefundListItem](), nil
		}
		status = s
	}
	if cust != "" {
		// An unknown customer is a 404, as in the other lists.
		if _, err := h.eng.Customer(c.ctx(), cust); err != nil {
			return nil, err
		}
	}
	list := func(lp coffer.ListParams) (coffer.List[subscription.Refund], error) {
		p.ListParams = lp
		return h.eng.ListRefunds(c.ctx(), p)
	}
	id := func(r subscription.Refund) string { return r.ID }
	if cust != "" || status != "" {
		list = filtered(list, func(r subscription.Refund) bool {
			return (cust == "" || r.CustomerID == cust) && (status == "" || r.Status == status)
		}, id)
	}
	pays := map[string]subscription.Payment{}
	return listPage(c, pr, list, id, func(r subscription.Refund) (RefundListItem, error) {
		pay, ok := pays[r.PaymentID]
		if !ok {
			var err error
			if pay, err = h.eng.Payment(c.ctx(), r.PaymentID); err != nil {
				return RefundListItem{}, err
			}
			pays[r.PaymentID] = pay
		}
		return h.refundListOut(r, pay), nil
	})
}
