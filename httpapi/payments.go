package httpapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/subscription"
)

// PaymentProvider is the payment_provider every payment carries: Dodo's
// enum is stripe|adyen|dodo and coffer's processor is pluggable, so coffer
// says "dodo", the value that names no third-party gateway.
const PaymentProvider = "dodo"

// ProductCartItem is Dodo's {product_id, quantity}.
type ProductCartItem struct {
	ProductID string `json:"product_id"`
	Quantity  int    `json:"quantity"`
}

// Payment is Dodo's Payment; coffer's fields follow Dodo's. total_amount is
// the whole charge (wallet part and processor part, the adaptive-currency
// fee included); settlement_amount is total_amount (coffer settles in the
// charge currency, the one a converted charge was converted into).
type Payment struct {
	Billing                  BillingAddress         `json:"billing"`
	BrandID                  string                 `json:"brand_id"`
	BusinessID               string                 `json:"business_id"`
	CreatedAt                time.Time              `json:"created_at"`
	Currency                 string                 `json:"currency"`
	Customer                 CustomerLimitedDetails `json:"customer"`
	DigitalProductsDelivered bool                   `json:"digital_products_delivered"`
	Disputes                 []noItems              `json:"disputes"`
	IsMultiSubscription      bool                   `json:"is_multi_subscription"`
	IsUpdatePaymentMethod    bool                   `json:"is_update_payment_method"`
	Metadata                 Metadata               `json:"metadata"`
	PaymentID                string                 `json:"payment_id"`
	PaymentProvider          string                 `json:"payment_provider"`
	Refunds                  []RefundListItem       `json:"refunds"`
	RetryAttempt             int                    `json:"retry_attempt"`
	SettlementAmount         int64                  `json:"settlement_amount"`
	SettlementCurrency       string                 `json:"settlement_currency"`
	SubscriptionIDs          []string               `json:"subscription_ids"`
	TotalAmount              int64                  `json:"total_amount"`
	CardHolderName           *string                `json:"card_holder_name"`
	CardIssuingCountry       *string                `json:"card_issuing_country"`
	CardLastFour             *string                `json:"card_last_four"`
	CardNetwork              *string                `json:"card_network"`
	CardType                 *string                `json:"card_type"`
	ErrorCode                *string                `json:"error_code"`
	ErrorMessage             *string                `json:"error_message"`
	InvoiceID                *string                `json:"invoice_id"`
	InvoiceURL               *string                `json:"invoice_url"`
	PaymentLink              *string                `json:"payment_link"`
	PaymentMethod            *string                `json:"payment_method"`
	PaymentMethodID          *string                `json:"payment_method_id"`
	PaymentMethodType        *string                `json:"payment_method_type"`
	ProductCart              []ProductCartItem      `json:"product_cart" null:"true"`
	RefundStatus             *string                `json:"refund_status"`
	SettlementTax            *int64                 `json:"settlement_tax"`
	Status                   string                 `json:"status"`
	SubscriptionID           *string                `json:"subscription_id"`
	Tax                      *int64                 `json:"tax"`
	UpdatedAt                time.Time              `json:"updated_at"`
	// Extensions.
	Kind            string     `json:"kind"`
	CofferStatus    string     `json:"coffer_status"`
	WalletAmount    int64      `json:"wallet_amount"`
	ProcessorAmount int64      `json:"processor_amount"`
	RefundedAmount  int64      `json:"refunded_amount"`
	DeclineCode     *string    `json:"decline_code"`
	Description     *string    `json:"description"`
	FeesInclusive   bool       `json:"adaptive_currency_fees_inclusive"`
	RetryOf         *string    `json:"retry_of"`
	SettledBy       *string    `json:"settled_by"`
	NextRetryAt     *time.Time `json:"next_retry_at"`
	// Adaptive currency (extensions): the fee inside total_amount (0 when
	// none applied), and for a converted charge the product price before
	// conversion (product_amount in product_currency's minor units) and
	// the rate used (fx_rate, a decimal string: units of currency per unit
	// of product_currency), its source and when the source fixed it; null
	// when the charge was not converted.
	Fee             int64      `json:"fee"`
	ProductAmount   *int64     `json:"product_amount"`
	ProductCurrency *string    `json:"product_currency"`
	FXRate          *string    `json:"fx_rate"`
	FXSource        *string    `json:"fx_source"`
	FXRateAt        *time.Time `json:"fx_rate_at"`
}

// PaymentEvent is the data of a payment.* webhook.
type PaymentEvent struct {
	Payment
	PayloadType string `json:"payload_type"`
}

// PaymentListItem is Dodo's PaymentListResponse, with coffer's amounts.
type PaymentListItem struct {
	BrandID                  string                 `json:"brand_id"`
	CreatedAt                time.Time              `json:"created_at"`
	Currency                 string                 `json:"currency"`
	Customer                 CustomerLimitedDetails `json:"customer"`
	DigitalProductsDelivered bool                   `json:"digital_products_delivered"`
	HasLicenseKey            bool                   `json:"has_license_key"`
	IsMultiSubscription      bool                   `json:"is_multi_subscription"`
	Metadata                 Metadata               `json:"metadata"`
	PaymentID                string                 `json:"payment_id"`
	PaymentProvider          string                 `json:"payment_provider"`
	SubscriptionIDs          []string               `json:"subscription_ids"`
	TotalAmount              int64                  `json:"total_amount"`
	CardLastFour             *string                `json:"card_last_four"`
	CardNetwork              *string                `json:"card_network"`
	DisputeStatus            *string                `json:"dispute_status"`
	InvoiceID                *string                `json:"invoice_id"`
	InvoiceURL               *string                `json:"invoice_url"`
	PaymentMethod            *string                `json:"payment_method"`
	PaymentMethodType        *string                `json:"payment_method_type"`
	RefundStatus             *string                `json:"refund_status"`
	Status                   string                 `json:"status"`
	SubscriptionID           *string                `json:"subscription_id"`
	// Extensions.
	BusinessID      string     `json:"business_id"`
	Kind            string     `json:"kind"`
	CofferStatus    string     `json:"coffer_status"`
	WalletAmount    int64      `json:"wallet_amount"`
	ProcessorAmount int64      `json:"processor_amount"`
	RefundedAmount  int64      `json:"refunded_amount"`
	RetryAttempt    int        `json:"retry_attempt"`
	ErrorCode       *string    `json:"error_code"`
	NextRetryAt     *time.Time `json:"next_retry_at"`
}

// declineMessages are the error_message of each decline code.
var declineMessages = map[string]string{
	processor.DoNotHonor:            "The card issuer declined the payment (do not honor).",
	processor.StolenCard:            "The card was reported stolen.",
	processor.LostCard:              "The card was reported lost.",
	processor.PickupCard:            "The card issuer asked to keep the card (pickup card).",
	processor.Fraudulent:            "The payment was declined as fraudulent.",
	processor.AuthenticationFailure: "The customer's authentication failed.",
	processor.InsufficientFunds:     "The payment method has insufficient funds.",
	processor.IssuerUnavailable:     "The card issuer could not be reached.",
	processor.NetworkError:          "The payment processor could not be reached.",
	coffer.DeclineProcessorError:    "The payment processor rejected the request.",
}

func declineOut(code string) (*string, *string) {
	if code == "" {
		return nil, nil
	}
	msg, ok := declineMessages[code]
	if !ok {
		msg = "The payment was declined (" + code + ")."
	}
	return &code, &msg
}

// paymentExtra is what a payment's Dodo shape needs besides the payment:
// its subscription (billing address, product) or customer address.
type paymentExtra struct {
	sub     *subscription.Subscription
	address *customer.Address
}

func (h *Handler) paymentOut(p subscription.Payment, cu CustomerLimitedDetails, x paymentExtra, refunds []RefundListItem) Payment {
	st, rs := paymentStatusOut(p.Status)
	code, msg := declineOut(p.DeclineCode)
	out := Payment{
		BrandID: h.businessID, BusinessID: h.businessID, CreatedAt: p.CreatedAt, Currency: p.Currency, Customer: cu,
		Disputes: []noItems{}, Metadata: metadataOut(p.Metadata), PaymentID: p.ID, PaymentProvider: PaymentProvider,
		Refunds: refunds, RetryAttempt: p.RetryAttempt, SettlementAmount: p.Amount, SettlementCurrency: p.Currency,
		SubscriptionIDs: []string{}, TotalAmount: p.Amount, ErrorCode: code, ErrorMessage: msg,
		PaymentMethodID: optString(p.PaymentMethod), RefundStatus: rs, Status: st, UpdatedAt: p.UpdatedAt,
		Kind: string(p.Kind), CofferStatus: string(p.Status), WalletAmount: p.WalletAmount,
		ProcessorAmount: p.ProcessorAmount, RefundedAmount: p.RefundedAmount, DeclineCode: code,
		Description: optString(p.Description), FeesInclusive: p.FeesInclusive, RetryOf: optString(p.RetryOf),
		SettledBy: optString(p.SettledBy), NextRetryAt: optTime(p.NextRetryAt),
		Fee: p.Fee, ProductCurrency: optString(p.ProductCurrency), FXRate: optString(p.FXRate),
		FXSource: optString(p.FXSource), FXRateAt: optTime(p.FXRateAt),
	}
	if p.ProductCurrency != "" {
		out.ProductAmount = &p.ProductAmount
	}
	if out.Refunds == nil {
		out.Refunds = []RefundListItem{}
	}
	out.InvoiceID, out.InvoiceURL = invoiceRef(p)
	if p.SubscriptionID != "" {
		out.SubscriptionIDs = []string{p.SubscriptionID}
		out.SubscriptionID = &p.SubscriptionID
	}
	switch {
	case x.sub != nil:
		out.Billing = billingOut(x.sub.BillingAddress)
		out.ProductCart = []ProductCartItem{{ProductID: x.sub.ProductID, Quantity: x.sub.Quantity}}
	case x.address != nil:
		out.Billing = billingOut(x.address)
	}
	return out
}

func (h *Handler) paymentListOut(p subscription.Payment, cu CustomerLimitedDetails) PaymentListItem {
	st, rs := paymentStatusOut(p.Status)
	code, _ := declineOut(p.DeclineCode)
	out := PaymentListItem{
		BrandID: h.businessID, CreatedAt: p.CreatedAt, Currency: p.Currency, Customer: cu, Metadata: metadataOut(p.Metadata),
		PaymentID: p.ID, PaymentProvider: PaymentProvider, SubscriptionIDs: []string{}, TotalAmount: p.Amount,
		RefundStatus: rs, Status: st, BusinessID: h.businessID, Kind: string(p.Kind), CofferStatus: string(p.Status),
		WalletAmount: p.WalletAmount, ProcessorAmount: p.ProcessorAmount, RefundedAmount: p.RefundedAmount,
		RetryAttempt: p.RetryAttempt, ErrorCode: code, NextRetryAt: optTime(p.NextRetryAt),
	}
	out.InvoiceID, out.InvoiceURL = invoiceRef(p)
	if p.SubscriptionID != "" {
		out.SubscriptionIDs = []string{p.SubscriptionID}
		out.SubscriptionID = &p.SubscriptionID
	}
	return out
}

func (h *Handler) paymentRoutes() {
	h.handle("POST /payments", h.createPayment, doc{Tag: "payments", Summary: "Create a one-time payment",
		Description: "Dodo's one-time cart, charged at once (Engine.ChargeOneTime): customer.customer_id (an existing customer), " +
			"product_cart (one-time products, all priced in one currency; the amount is the sum of price x quantity), " +
			"payment_method_id and an idempotency key (body or Idempotency-Key header) are required. billing is accepted and not kept. " +
			"billing_currency is the currency charged (default: the products' currency); with adaptive currency on, a cart priced in " +
			"another currency is converted into it and the adaptive-currency fee applies (adaptive_currency_fees_inclusive, an " +
			"extension: inside the price when true, on top when false or absent); without it a billing_currency other than the " +
			"products' is 422 INVALID_REQUEST. Answers the Payment (the outcome is in status). Operator keys only.",
		Body: paymentCreate{}, Result: Payment{}})
	h.handle("GET /payments/{payment_id}", h.getPayment, doc{Tag: "payments", Summary: "Retrieve a payment",
		Description: "status is Dodo's IntentStatus (pending: processing; refunded and partially_refunded: succeeded with " +
			"refund_status full or partial); coffer_status is coffer's own. error_code is the decline code. payment_provider is always dodo. " +
			"Extensions: kind, wallet_amount, processor_amount, refunded_amount, retry_of, settled_by, next_retry_at.",
		Result: Payment{}})
	h.handle("GET /payments", h.listPayments, doc{Tag: "payments", Summary: "List payments",
		Description: "status is an IntentStatus (succeeded lists refunded payments too); an IntentStatus coffer never uses lists nothing. " +
			"currency and product_id are not supported (422). A restricted key lists its own customer's payments.",
		Result: Page[PaymentListItem]{}, Query: withPage(append([]queryParam{
			{Name: "customer_id", Type: "string"}, {Name: "subscription_id", Type: "string"},
			{Name: "status", Type: "string", Enum: dodoIntentStatuses}, {Name: "brand_id", Type: "string"},
		}, createdQuery...)...)})
}

// paymentParam reads {payment_id} and checks the key may reach it.
func (c *call) paymentParam() (subscription.Payment, error) {
	return ownedParam(c, "payment_id", c.h.eng.Payment, subscription.ErrPaymentNotFound,
		func(p subscription.Payment) string { return p.CustomerID })
}

// ownedParam reads the path id name, gets its record and checks the key may
// reach the customer it belongs to (a restricted key cannot tell another
// customer's record from a missing one: both are 403).
func ownedParam[T any](c *call, name string, get func(context.Context, string) (T, error), notFound error,
	owner func(T) string) (T, error) {
	var zero T
	id, err := c.pathID(name)
	if err != nil {
		return zero, err
	}
	v, err := get(c.ctx(), id)
	if err != nil {
		return v, c.restrictedNotFound(err, notFound)
	}
	return v, c.allowCustomer(owner(v))
}

// payment builds the full Payment of p: customer, subscription or address,
// and refunds.
func (h *Handler) payment(c *call, p subscription.Payment) (Payment, error) {
	return h.paymentFor(c.ctx(), p)
}

func (h *Handler) paymentFor(ctx context.Context, p subscription.Payment) (Payment, error) {
	cu, err := h.eng.Customer(ctx, p.CustomerID)
	if err != nil {
		return Payment{}, err
	}
	x := paymentExtra{address: cu.Address}
	if p.SubscriptionID != "" {
		s, err := h.eng.Subscription(ctx, p.SubscriptionID)
		if err != nil {
			return Payment{}, err
		}
		x.sub = &s
	}
	refunds := []RefundListItem{}
	for r, err := range coffer.Iterate(ctx, coffer.RefundListParams{ListParams: coffer.ListParams{Limit: MaxPageSize}, PaymentID: p.ID},
		h.eng.ListRefunds) {
		if err != nil {
			return Payment{}, err
		}
		refunds = append(refunds, h.refundListOut(r, p))
	}
	return h.paymentOut(p, limitedOut(cu), x, refunds), nil
}

func (h *Handler) getPayment(c *call) (any, error) {
	p, err := c.paymentParam()
	if err != nil {
		return nil, err
	}
	return h.payment(c, p)
}

func (h *Handler) listPayments(c *call) (any, error) {
	q, pr, err := c.listQuery()
	if err != nil {
		return nil, err
	}
	if err := refuseFilters(q, "coffer's payment list cannot filter by it", "currency", "product_id"); err != nil {
		return nil, err
	}
	cust, created, err := c.scopedFilters(q)
	if err != nil {
		return nil, err
	}
	p := coffer.PaymentListParams{CustomerID: cust, SubscriptionID: q.str("subscription_id")}
	p.Created = created
	st, err := q.enum("status", dodoIntentStatuses...)
	if err != nil {
		return nil, err
	}
	nothing := !c.brandMatches(q)
	if st != "" {
		p.Statuses = paymentStatusIn(st)
		nothing = nothing || p.Statuses == nil
	}
	if nothing {
		return emptyPage[PaymentListItem](), nil
	}
	cs := c.customers()
	return listPage(c, pr, func(lp coffer.ListParams) (coffer.List[subscription.Payment], error) {
		p.ListParams = lp
		return h.eng.ListPayments(c.ctx(), p)
	}, func(p subscription.Payment) string { return p.ID }, func(p subscription.Payment) (PaymentListItem, error) {
		cu, err := cs.get(p.CustomerID)
		if err != nil {
			return PaymentListItem{}, err
		}
		return h.paymentListOut(p, cu), nil
	})
}

// maxCartItems bounds a one-time cart.
const maxCartItems = 50

// paymentCreate is Dodo's one-time payment request (POST /payments), as
// far as coffer charges it.
type paymentCreate struct {
	Billing  *billingIn `json:"billing"`
	Customer *struct {
		CustomerID *string `json:"customer_id"`
	} `json:"customer"`
	ProductCart     []ProductCartItem `json:"product_cart"`
	BillingCurrency *string           `json:"billing_currency"`
	PaymentMethodID *string           `json:"payment_method_id"`
	Metadata        Metadata          `json:"metadata"`
	// Extensions.
	AdaptiveCurrencyFeesInclusive *bool   `json:"adaptive_currency_fees_inclusive"`
	IdempotencyKey                *string `json:"idempotency_key"`
}

func (h *Handler) createPayment(c *call) (any, error) {
	if err := c.operatorOnly(); err != nil {
		return nil, err
	}
	var in paymentCreate
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if in.Customer == nil || in.Customer.CustomerID == nil || *in.Customer.CustomerID == "" {
		return nil, invalidParam("customer.customer_id", "customer.customer_id (an existing customer) is required")
	}
	customerID := *in.Customer.CustomerID
	if in.PaymentMethodID == nil || *in.PaymentMethodID == "" {
		return nil, invalidParam("payment_method_id", "payment_method_id is required")
	}
	if len(in.ProductCart) == 0 || len(in.ProductCart) > maxCartItems {
		return nil, invalidParam("product_cart", fmt.Sprintf("product_cart needs 1 to %d items", maxCartItems))
	}
	key, err := c.requiredKey(in.IdempotencyKey, "payment")
	if err != nil {
		return nil, err
	}
	var amount int64
	var currency string
	for _, it := range in.ProductCart {
		if it.Quantity < 1 || it.Quantity > 1_000_000 {
			return nil, invalidParam("product_cart.quantity", "quantity must be between 1 and 1000000")
		}
		if it.ProductID == "" {
			return nil, invalidParam("product_cart.product_id", "product_id is required")
		}
		prod, err := h.eng.Product(c.ctx(), it.ProductID)
		if err != nil {
			return nil, err
		}
		if !prod.OneTime {
			return nil, invalidParam("product_cart.product_id", "product "+it.ProductID+" is not a one-time product")
		}
		if currency != "" && prod.Currency != currency {
			return nil, invalidParam("product_cart", "the cart's products are priced in more than one currency")
		}
		currency = prod.Currency
		line, err := money.MulMinor(prod.Price, int64(it.Quantity))
		if err == nil {
			amount, err = money.AddMinor(amount, line)
		}
		if err != nil {
			return nil, err
		}
	}
	p := coffer.OneTimeParams{Amount: amount, Currency: currency, ProductCurrency: currency,
		PaymentMethod: *in.PaymentMethodID, Metadata: in.Metadata, IdempotencyKey: key,
		AdaptiveCurrencyFeesInclusive: in.AdaptiveCurrencyFeesInclusive}
	if in.BillingCurrency != nil && *in.BillingCurrency != "" {
		p.Currency = *in.BillingCurrency
	}
	pay, err := h.eng.ChargeOneTime(c.ctx(), customerID, p)
	if err != nil {
		if pay.ID == "" {
			return nil, err
		}
		got, rerr := h.eng.Payment(contextWithoutCancel(c), pay.ID)
		if rerr != nil {
			if errors.Is(rerr, subscription.ErrPaymentNotFound) {
				return nil, err // nothing was recorded
			}
			return nil, noRetry(err)
		}
		pay = got
	}
	return h.paymentFor(contextWithoutCancel(c), pay)
}
