package httpapi

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/subscription"
)

// Subscription is Dodo's Subscription (and its SubscriptionListResponse:
// the list uses the same object, whose discounts is always []), with
// coffer's fields after Dodo's. coffer subscriptions are on-demand: they
// are charged when the merchant calls charge, never on a calendar. So the
// frequency and period read as 1 Month (nominal), next_billing_date and
// previous_billing_date both carry the last successful charge's time (the
// creation time before any), and cancel_at_next_billing_date is false.
type Subscription struct {
	Addons                     []noItems              `json:"addons"`
	Billing                    BillingAddress         `json:"billing"`
	BrandID                    string                 `json:"brand_id"`
	BusinessID                 string                 `json:"business_id"`
	CancelAtNextBillingDate    bool                   `json:"cancel_at_next_billing_date"`
	CreatedAt                  time.Time              `json:"created_at"`
	CreditEntitlementCart      []noItems              `json:"credit_entitlement_cart"`
	Currency                   string                 `json:"currency"`
	Customer                   CustomerLimitedDetails `json:"customer"`
	Discounts                  []noItems              `json:"discounts"`
	HasPaymentMethod           bool                   `json:"has_payment_method"`
	Metadata                   Metadata               `json:"metadata"`
	MeterCreditEntitlementCart []noItems              `json:"meter_credit_entitlement_cart"`
	Meters                     []noItems              `json:"meters"`
	NextBillingDate            time.Time              `json:"next_billing_date"`
	OnDemand                   bool                   `json:"on_demand"`
	PaymentFrequencyCount      int                    `json:"payment_frequency_count"`
	PaymentFrequencyInterval   string                 `json:"payment_frequency_interval"`
	PreviousBillingDate        time.Time              `json:"previous_billing_date"`
	ProductID                  string                 `json:"product_id"`
	Quantity                   int                    `json:"quantity"`
	RecurringPreTaxAmount      int64                  `json:"recurring_pre_tax_amount"`
	Status                     string                 `json:"status"`
	SubscriptionID             string                 `json:"subscription_id"`
	SubscriptionPeriodCount    int                    `json:"subscription_period_count"`
	SubscriptionPeriodInterval string                 `json:"subscription_period_interval"`
	TaxInclusive               bool                   `json:"tax_inclusive"`
	TrialPeriodDays            int                    `json:"trial_period_days"`
	CancelledAt                *time.Time             `json:"cancelled_at"`
	CustomerBusinessName       *string                `json:"customer_business_name"`
	ExpiresAt                  *time.Time             `json:"expires_at"`
	PausedAt                   *time.Time             `json:"paused_at"`
	PaymentMethodID            *string                `json:"payment_method_id"`
	TaxID                      *string                `json:"tax_id"`
	TrialAmount                *int64                 `json:"trial_amount"`
	// Extensions.
	ProductPrice        int64      `json:"product_price"`
	ProductDescription  string     `json:"product_description,omitempty"`
	MandateOnly         bool       `json:"mandate_only"`
	FeesInclusive       bool       `json:"adaptive_currency_fees_inclusive"`
	MandateID           string     `json:"mandate_id,omitempty"`
	MandateAuthorizedAt *time.Time `json:"mandate_authorized_at"`
	PaymentLink         *string    `json:"payment_link"`
	ReturnURL           *string    `json:"return_url"`
	DeclineCode         *string    `json:"decline_code"`
	LastPaymentAt       *time.Time `json:"last_payment_at"`
	UpdatedAt           time.Time  `json:"updated_at"`
}

// SubscriptionEvent is the data of a subscription.* webhook: Dodo's
// Subscription plus past_due_ends_at (always null: coffer has no past_due)
// and the payload_type discriminator.
type SubscriptionEvent struct {
	Subscription
	PastDueEndsAt *time.Time `json:"past_due_ends_at"`
	PayloadType   string     `json:"payload_type"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (h *Handler) subscriptionOut(s subscription.Subscription, cu CustomerLimitedDetails) Subscription {
	billed := s.LastPaymentAt
	if billed.IsZero() {
		billed = s.CreatedAt
	}
	amount := s.Price * int64(s.Quantity) // bounded at create (money.MulMinor)
	return Subscription{
		Addons: []noItems{}, Billing: billingOut(s.BillingAddress), BrandID: h.businessID, BusinessID: h.businessID,
		CreatedAt: s.CreatedAt, CreditEntitlementCart: []noItems{}, Currency: s.Currency, Customer: cu,
		Discounts: []noItems{}, HasPaymentMethod: !s.MandateAuthorizedAt.IsZero(), Metadata: metadataOut(s.Metadata),
		MeterCreditEntitlementCart: []noItems{}, Meters: []noItems{}, NextBillingDate: billed, OnDemand: true,
		PaymentFrequencyCount: 1, PaymentFrequencyInterval: "Month", PreviousBillingDate: billed, ProductID: s.ProductID,
		Quantity: s.Quantity, RecurringPreTaxAmount: amount, Status: subscriptionStatusOut(s.Status),
		SubscriptionID: s.ID, SubscriptionPeriodCount: 1, SubscriptionPeriodInterval: "Month",
		CancelledAt: optTime(s.CancelledAt), PaymentMethodID: optString(s.PaymentMethod),
		ProductPrice: s.Price, ProductDescription: s.Description, MandateOnly: s.MandateOnly, FeesInclusive: s.FeesInclusive,
		MandateID: s.MandateID, MandateAuthorizedAt: optTime(s.MandateAuthorizedAt), PaymentLink: optString(s.PaymentLink),
		ReturnURL: optString(s.ReturnURL), DeclineCode: optString(s.DeclineCode), LastPaymentAt: optTime(s.LastPaymentAt),
		UpdatedAt: s.UpdatedAt,
	}
}

// SubscriptionCreateResponse is Dodo's SubscriptionCreateResponse.
// payment_id is the initial charge's payment (on_demand.mandate_only
// false), or "" when none was made (mandate_only, or a mandate still
// pending on the hosted link: confirm-mandate makes it later).
type SubscriptionCreateResponse struct {
	Addons                []noItems              `json:"addons"`
	Customer              CustomerLimitedDetails `json:"customer"`
	Metadata              Metadata               `json:"metadata"`
	PaymentID             string                 `json:"payment_id"`
	PaymentMethodRequired bool                   `json:"payment_method_required"`
	RecurringPreTaxAmount int64                  `json:"recurring_pre_tax_amount"`
	SubscriptionID        string                 `json:"subscription_id"`
	ClientSecret          *string                `json:"client_secret"`
	DiscountIDs           []string               `json:"discount_ids" null:"true"`
	ExpiresOn             *time.Time             `json:"expires_on"`
	OneTimeProductCart    []noItems              `json:"one_time_product_cart" null:"true"`
	PaymentLink           *string                `json:"payment_link"`
	TrialAmount           *int64                 `json:"trial_amount"`
	// Extensions: the subscription's status and the initial payment's.
	Status        string  `json:"status"`
	PaymentStatus *string `json:"payment_status"`
	DeclineCode   *string `json:"decline_code"`
}

func (h *Handler) createResponse(res coffer.SubscriptionResult, cu CustomerLimitedDetails) SubscriptionCreateResponse {
	s := res.Subscription
	out := SubscriptionCreateResponse{
		Addons: []noItems{}, Customer: cu, Metadata: metadataOut(s.Metadata),
		PaymentMethodRequired: s.Status == subscription.StatusPending, RecurringPreTaxAmount: s.Price * int64(s.Quantity),
		SubscriptionID: s.ID, PaymentLink: optString(s.PaymentLink), Status: subscriptionStatusOut(s.Status),
		DeclineCode: optString(s.DeclineCode),
	}
	if res.Payment != nil {
		out.PaymentID = res.Payment.ID
		st, _ := paymentStatusOut(res.Payment.Status)
		out.PaymentStatus = &st
	}
	return out
}

// newCustomerIn is Dodo's AttachExistingCustomer or NewCustomer.
type newCustomerIn struct {
	CustomerID  *string `json:"customer_id"`
	Email       *string `json:"email"`
	Name        *string `json:"name"`
	PhoneNumber *string `json:"phone_number"`
}

// onDemandIn is Dodo's OnDemandSubscription.
type onDemandIn struct {
	MandateOnly                   *bool   `json:"mandate_only"`
	AdaptiveCurrencyFeesInclusive *bool   `json:"adaptive_currency_fees_inclusive"`
	ProductCurrency               *string `json:"product_currency"`
	ProductDescription            *string `json:"product_description"`
	ProductPrice                  Int64   `json:"product_price"`
}

// subscriptionCreate is Dodo's SubscriptionCreateParams. Dodo's checkout
// options that coffer has no use for are accepted and ignored (they change
// no money: redirect_immediately, require_phone_number,
// show_saved_payment_methods, short_link, allowed_payment_method_types,
// force_3ds); those that would change billing are refused.
type subscriptionCreate struct {
	Billing                   *billingIn     `json:"billing"`
	Customer                  *newCustomerIn `json:"customer"`
	ProductID                 *string        `json:"product_id"`
	Quantity                  Int64          `json:"quantity"`
	OnDemand                  *onDemandIn    `json:"on_demand"`
	Metadata                  Metadata       `json:"metadata"`
	PaymentLink               *bool          `json:"payment_link"`
	PaymentMethodID           *string        `json:"payment_method_id"`
	ReturnURL                 *string        `json:"return_url"`
	Addons                    []noItems      `json:"addons"`
	BillingCurrency           *string        `json:"billing_currency"`
	CustomerBusinessName      *string        `json:"customer_business_name"`
	DiscountCode              *string        `json:"discount_code"`
	DiscountCodes             []string       `json:"discount_codes"`
	MandateMinAmountINRPaise  Int64          `json:"mandate_min_amount_inr_paise"`
	OneTimeProductCart        []noItems      `json:"one_time_product_cart"`
	TaxID                     *string        `json:"tax_id"`
	TrialPeriodDays           Int64          `json:"trial_period_days"`
	AllowedPaymentMethodTypes []string       `json:"allowed_payment_method_types"`
	Force3DS                  *bool          `json:"force_3ds"`
	RedirectImmediately       *bool          `json:"redirect_immediately"`
	RequirePhoneNumber        *bool          `json:"require_phone_number"`
	ShortLink                 *bool          `json:"short_link"`
	ShowSavedPaymentMethods   *bool          `json:"show_saved_payment_methods"`
}

// params maps Dodo's request to coffer's. hosted is the payment method
// token that asks the processor for a hosted page (WithHostedPaymentMethod):
// with payment_link: true and no payment_method_id, the customer gives the
// payment method on that page.
func (in subscriptionCreate) params(hosted string) (coffer.SubscriptionParams, error) {
	var p coffer.SubscriptionParams
	switch {
	case in.OnDemand == nil:
		return p, unsupported("CALENDAR_BILLING_UNSUPPORTED", "on_demand",
			"coffer bills on demand only: give on_demand {mandate_only, ...} (subscriptions billed on a schedule are not supported until coffer bills on a schedule)")
	case in.OnDemand.MandateOnly == nil:
		return p, invalidParam("on_demand.mandate_only", "on_demand.mandate_only is required")
	case in.Billing == nil:
		return p, invalidParam("billing", "billing is required ({country, ...})")
	case in.Billing.Country == nil || *in.Billing.Country == "":
		return p, invalidParam("billing.country", "billing.country is required")
	case in.Customer == nil:
		return p, invalidParam("customer", "customer is required: {customer_id} or {email, name, phone_number}")
	case in.ProductID == nil || *in.ProductID == "":
		return p, invalidParam("product_id", "product_id is required")
	case !in.Quantity.Set:
		return p, invalidParam("quantity", "quantity is required")
	case in.Quantity.V < 1 || in.Quantity.V > 1<<31-1:
		return p, invalidParam("quantity", "quantity must be from 1 to 2147483647")
	case (in.PaymentMethodID == nil || strings.TrimSpace(*in.PaymentMethodID) == "") &&
		(hosted == "" || in.PaymentLink == nil || !*in.PaymentLink):
		return p, invalidParam("payment_method_id", "payment_method_id is required (or payment_link: true where the "+
			"processor collects the payment method on a hosted page): coffer authorises the mandate on that payment method")
	case len(in.Addons) > 0:
		return p, unsupported("ADDONS_UNSUPPORTED", "addons", "coffer has no add-ons")
	case in.BillingCurrency != nil:
		return p, unsupported("BILLING_CURRENCY_UNSUPPORTED", "billing_currency", "use on_demand.product_currency")
	case in.DiscountCode != nil || len(in.DiscountCodes) > 0:
		return p, unsupported("DISCOUNTS_UNSUPPORTED", "discount_codes", "coffer applies no discounts")
	case in.MandateMinAmountINRPaise.Set:
		return p, unsupported("MANDATE_MIN_AMOUNT_UNSUPPORTED", "mandate_min_amount_inr_paise", "coffer sets no mandate minimum")
	case len(in.OneTimeProductCart) > 0:
		return p, unsupported("ONE_TIME_CART_UNSUPPORTED", "one_time_product_cart", "coffer charges no one-time cart with a subscription")
	case in.TrialPeriodDays.Set && in.TrialPeriodDays.V != 0:
		return p, unsupported("TRIALS_UNSUPPORTED", "trial_period_days", "coffer has no trial periods")
	case in.CustomerBusinessName != nil:
		return p, unsupported("CUSTOMER_BUSINESS_NAME_UNSUPPORTED", "customer_business_name", "coffer keeps no business name on a subscription")
	case in.TaxID != nil:
		return p, unsupported("TAX_ID_UNSUPPORTED", "tax_id", "coffer computes no tax and keeps no tax id")
	}
	cu := in.Customer
	switch {
	case cu.CustomerID != nil && (cu.Email != nil || cu.Name != nil || cu.PhoneNumber != nil):
		return p, invalidParam("customer", "customer is either {customer_id} or {email, name, phone_number}, not both")
	case cu.CustomerID != nil:
		if *cu.CustomerID == "" {
			return p, invalidParam("customer.customer_id", "customer.customer_id is empty")
		}
		p.CustomerID = *cu.CustomerID
	case cu.Email == nil || *cu.Email == "":
		return p, invalidParam("customer.email", "customer.email is required for a new customer")
	default:
		name := ""
		if cu.Name != nil {
			name = *cu.Name
		}
		if strings.TrimSpace(name) == "" {
			// Dodo's name is optional; coffer's customers have one.
			name, _, _ = strings.Cut(*cu.Email, "@")
		}
		p.Customer = &customer.Params{Email: cu.Email, Name: &name, Phone: cu.PhoneNumber}
	}
	od := in.OnDemand
	p.OnDemand = &coffer.OnDemand{MandateOnly: od.MandateOnly}
	if od.ProductPrice.Set {
		v := od.ProductPrice.V
		p.OnDemand.ProductPrice = &v
	}
	if od.ProductCurrency != nil {
		p.OnDemand.ProductCurrency = *od.ProductCurrency
	}
	if od.ProductDescription != nil {
		p.OnDemand.ProductDescription = *od.ProductDescription
	}
	if od.AdaptiveCurrencyFeesInclusive != nil {
		p.OnDemand.AdaptiveCurrencyFeesInclusive = *od.AdaptiveCurrencyFeesInclusive
	}
	p.ProductID, p.Quantity = *in.ProductID, int(in.Quantity.V)
	p.BillingAddress = in.Billing.address()
	if in.PaymentMethodID != nil && strings.TrimSpace(*in.PaymentMethodID) != "" {
		p.PaymentMethod = *in.PaymentMethodID
	} else {
		p.PaymentMethod = hosted
	}
	p.PaymentLink = in.PaymentLink != nil && *in.PaymentLink
	if in.ReturnURL != nil && *in.ReturnURL != "" {
		if err := checkURL("return_url", *in.ReturnURL); err != nil {
			return p, err
		}
		p.ReturnURL = *in.ReturnURL
	}
	p.Metadata = in.Metadata
	return p, nil
}

// subscriptionUpdate is Dodo's SubscriptionUpdateParams.
type subscriptionUpdate struct {
	Status                  *string    `json:"status"`
	Metadata                Metadata   `json:"metadata"`
	CancelAtNextBillingDate *bool      `json:"cancel_at_next_billing_date"`
	CancelReason            *string    `json:"cancel_reason"`
	CancellationComment     *string    `json:"cancellation_comment"`
	CancellationFeedback    *string    `json:"cancellation_feedback"`
	Billing                 *billingIn `json:"billing"`
	CreditEntitlementCart   []noItems  `json:"credit_entitlement_cart"`
	CustomerBusinessName    *string    `json:"customer_business_name"`
	CustomerName            *string    `json:"customer_name"`
	DisableOnDemand         *struct {
		NextBillingDate string `json:"next_billing_date"`
	} `json:"disable_on_demand"`
	NextBillingDate            *string `json:"next_billing_date"`
	Pause                      *bool   `json:"pause"`
	SubscriptionPeriodCount    Int64   `json:"subscription_period_count"`
	SubscriptionPeriodInterval *string `json:"subscription_period_interval"`
	TaxID                      *string `json:"tax_id"`
}

var (
	cancelReasons = []string{"cancelled_by_customer", "cancelled_by_merchant", "cancelled_by_merchant_send_dunning",
		"cancelled_by_merchant_grace_period_expired", "dodo_team"}
	cancellationFeedbacks = []string{"too_expensive", "missing_features", "switched_service", "unused",
		"customer_service", "low_quality", "too_complex", "other"}
)

// check validates an update; cancel reports a status:"cancelled".
func (in subscriptionUpdate) check() (cancel bool, err error) {
	upd := func(param string) error {
		return unsupported("SUBSCRIPTION_UPDATE_UNSUPPORTED", param,
			"coffer cannot change "+param+" of a subscription (only status: cancelled is supported)")
	}
	switch {
	case in.Pause != nil:
		return false, invalidParam("pause", "pause was removed from Dodo's API; send status: paused (which coffer does not support either)")
	case in.CancelAtNextBillingDate != nil && *in.CancelAtNextBillingDate:
		return false, unsupported("CANCEL_AT_NEXT_BILLING_DATE_UNSUPPORTED", "cancel_at_next_billing_date",
			"coffer has no billing dates: cancel now with status: cancelled")
	case in.Billing != nil:
		return false, upd("billing")
	case len(in.CreditEntitlementCart) > 0:
		return false, upd("credit_entitlement_cart")
	case in.CustomerBusinessName != nil:
		return false, upd("customer_business_name")
	case in.CustomerName != nil:
		return false, upd("customer_name")
	case in.DisableOnDemand != nil:
		return false, upd("disable_on_demand")
	case in.NextBillingDate != nil:
		return false, upd("next_billing_date")
	case in.SubscriptionPeriodCount.Set:
		return false, upd("subscription_period_count")
	case in.SubscriptionPeriodInterval != nil:
		return false, upd("subscription_period_interval")
	case in.TaxID != nil:
		return false, upd("tax_id")
	case in.CancelReason != nil && !slices.Contains(cancelReasons, *in.CancelReason):
		return false, invalidParam("cancel_reason", "cancel_reason must be one of "+strings.Join(cancelReasons, ", "))
	case in.CancellationFeedback != nil && !slices.Contains(cancellationFeedbacks, *in.CancellationFeedback):
		return false, invalidParam("cancellation_feedback", "cancellation_feedback must be one of "+strings.Join(cancellationFeedbacks, ", "))
	}
	if in.Status == nil {
		return false, nil
	}
	switch *in.Status {
	case "cancelled":
		return true, nil
	case "paused", "active":
		return false, unsupported("SUBSCRIPTION_PAUSE_UNSUPPORTED", "status",
			"coffer cannot pause or resume a subscription (status paused/active); it can cancel it (status cancelled)")
	}
	if slices.Contains(dodoSubscriptionStatuses, *in.Status) {
		return false, invalidParam("status", "status can only be set to cancelled")
	}
	return false, invalidParam("status", "status must be one of "+strings.Join(dodoSubscriptionStatuses, ", "))
}

// chargeIn is Dodo's SubscriptionChargeParams plus coffer's
// idempotency_key.
type chargeIn struct {
	ProductPrice                  Int64 `json:"product_price"`
	AdaptiveCurrencyFeesInclusive *bool `json:"adaptive_currency_fees_inclusive"`
	CustomerBalanceConfig         *struct {
		AllowCustomerCreditsPurchase *bool `json:"allow_customer_credits_purchase"`
		AllowCustomerCreditsUsage    *bool `json:"allow_customer_credits_usage"`
	} `json:"customer_balance_config"`
	Metadata           Metadata `json:"metadata"`
	ProductCurrency    *string  `json:"product_currency"`
	ProductDescription *string  `json:"product_description"`
	// Extension.
	IdempotencyKey *string `json:"idempotency_key"`
}

// ChargeResponse is Dodo's SubscriptionChargeResponse, with the payment's
// status (an extension) so a caller need not read it back.
type ChargeResponse struct {
	PaymentID string `json:"payment_id"`
	// Extension: the payment's IntentStatus when the answer was written.
	Status string `json:"status"`
}

// paymentMethodIn is the body of update-payment-method: Dodo's
// {type: 'existing', payment_method_id} or {type: 'new', ...}.
type paymentMethodIn struct {
	Type            *string `json:"type"`
	PaymentMethodID *string `json:"payment_method_id"`
	ReturnURL       *string `json:"return_url"`
}

func (h *Handler) subscriptionRoutes() {
	h.handle("POST /subscriptions", h.createSubscription, doc{Tag: "subscriptions", Summary: "Create an on-demand subscription",
		Description: "Dodo's SubscriptionCreateParams. on_demand is required (without it: 422 CALENDAR_BILLING_UNSUPPORTED) and so is " +
			"payment_method_id (the payment method the mandate is authorised on). billing.street is kept as line1 and zipcode as postal_code. " +
			"payment_id is the initial charge's payment, \"\" when none was made (mandate_only, or a mandate pending on payment_link). " +
			"Add-ons, discounts, trials, billing_currency, one_time_product_cart, tax_id, customer_business_name and " +
			"mandate_min_amount_inr_paise are refused (422); the checkout display options are ignored.",
		Body: subscriptionCreate{}, Result: SubscriptionCreateResponse{}})
	h.handle("GET /subscriptions/{subscription_id}", h.getSubscription, doc{Tag: "subscriptions", Summary: "Retrieve a subscription",
		Result: Subscription{}})
	h.handle("PATCH /subscriptions/{subscription_id}", h.updateSubscription, doc{Tag: "subscriptions", Summary: "Update a subscription",
		Description: "status: cancelled cancels now; metadata merges (an empty value removes a key). paused/active are 422 " +
			"SUBSCRIPTION_PAUSE_UNSUPPORTED; billing, dates and periods are 422; cancel_reason, cancellation_comment and " +
			"cancellation_feedback are checked and not kept.",
		Body: subscriptionUpdate{}, Result: Subscription{}})
	h.handle("GET /subscriptions", h.listSubscriptions, doc{Tag: "subscriptions", Summary: "List subscriptions",
		Description: "status paused, expired or past_due lists nothing (coffer has none); product_id is not supported (422).",
		Result:      Page[Subscription]{}, Query: withPage(append([]queryParam{
			{Name: "customer_id", Type: "string"}, {Name: "status", Type: "string", Enum: dodoSubscriptionStatuses},
			{Name: "brand_id", Type: "string"}, {Name: "cancel_at_next_billing_date", Type: "boolean"},
		}, createdQuery...)...)})
	h.handle("POST /subscriptions/{subscription_id}/charge", h.chargeSubscription, doc{Tag: "subscriptions",
		Summary: "Charge an on-demand subscription",
		Description: "Answers 200 with the payment id whenever the payment was recorded, whatever the processor said: " +
			"its outcome is in GET /payments/{id} and the payment.* webhooks. The wallet is always applied first, so " +
			"customer_balance_config.allow_customer_credits_usage: false is a 422 (and allow_customer_credits_purchase: true). " +
			"Extension: idempotency_key (or an Idempotency-Key header) makes a resend return the same payment. Operator keys only.",
		Body: chargeIn{}, Result: ChargeResponse{}})
	h.handle("POST /subscriptions/{subscription_id}/confirm-mandate", h.confirmMandate, doc{Tag: "subscriptions", Extension: true,
		Summary:     "Confirm a pending mandate",
		Description: "After the customer completed the payment_link: applies the mandate's state (active, with the initial charge, or failed).",
		Result:      SubscriptionCreateResponse{}})
	h.handle("POST /subscriptions/{subscription_id}/update-payment-method", h.updatePaymentMethod, doc{Tag: "subscriptions",
		Summary: "Change a subscription's payment method",
		Description: "Dodo's body {type: existing, payment_method_id} authorises a new mandate on that payment method " +
			"(422 PAYMENT_METHOD_NOT_AUTHORIZED if it is refused). {type: new} (a hosted page) is 422 NEW_PAYMENT_METHOD_UNSUPPORTED. " +
			"Answers the updated subscription (Dodo answers a link object).",
		Body: paymentMethodIn{}, Result: Subscription{}})
}

// subscriptionParam reads {subscription_id} and checks the key may reach
// it.
func (c *call) subscriptionParam() (subscription.Subscription, error) {
	return ownedParam(c, "subscription_id", c.h.eng.Subscription, subscription.ErrNotFound,
		func(s subscription.Subscription) string { return s.CustomerID })
}

func (h *Handler) subscriptionResult(c *call, s subscription.Subscription) (Subscription, error) {
	cu, err := c.limited(s.CustomerID)
	if err != nil {
		return Subscription{}, err
	}
	return h.subscriptionOut(s, cu), nil
}

func (h *Handler) createSubscription(c *call) (any, error) {
	var in subscriptionCreate
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	p, err := in.params(h.hostedMethod)
	if err != nil {
		return nil, err
	}
	if c.p.Restricted() {
		// A restricted key subscribes its own customer only.
		if p.CustomerID == "" {
			return nil, errForbidden("this API key is restricted to one customer; it cannot create customers")
		}
		if err := c.allowCustomer(p.CustomerID); err != nil {
			return nil, err
		}
	}
	res, err := h.eng.CreateSubscription(c.ctx(), p)
	return h.subscriptionCommitted(c, res, err)
}

// subscriptionCommitted answers a create or confirm: a subscription that
// was recorded is answered 200 even when a later step (the processor, the
// initial charge) failed, so the SDK does not resend and subscribe twice;
// the subscription's status says what happened.
func (h *Handler) subscriptionCommitted(c *call, res coffer.SubscriptionResult, err error) (any, error) {
	if err != nil {
		ae := coffer.AsError(err)
		if res.Subscription.ID == "" || ae.Kind == coffer.KindInvalid || ae.Kind == coffer.KindConflict {
			return nil, err
		}
		// Read back what was committed.
		sub, rerr := h.eng.Subscription(contextWithoutCancel(c), res.Subscription.ID)
		if rerr != nil {
			return nil, noRetry(err)
		}
		res.Subscription = sub
	}
	cu, err := c.limited(res.Subscription.CustomerID)
	if err != nil {
		return nil, noRetry(err)
	}
	return h.createResponse(res, cu), nil
}

func (h *Handler) getSubscription(c *call) (any, error) {
	s, err := c.subscriptionParam()
	if err != nil {
		return nil, err
	}
	return h.subscriptionResult(c, s)
}

func (h *Handler) updateSubscription(c *call) (any, error) {
	s, err := c.subscriptionParam()
	if err != nil {
		return nil, err
	}
	var in subscriptionUpdate
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	cancel, err := in.check()
	if err != nil {
		return nil, err
	}
	if len(in.Metadata) > 0 {
		if s, err = h.eng.UpdateSubscription(c.ctx(), s.ID, coffer.SubscriptionUpdateParams{Metadata: in.Metadata}); err != nil {
			return nil, err
		}
	}
	if cancel {
		if s, err = h.eng.CancelSubscription(c.ctx(), s.ID); err != nil {
			return nil, err
		}
	}
	return h.subscriptionResult(c, s)
}

func (h *Handler) listSubscriptions(c *call) (any, error) {
	q, pr, err := c.listQuery()
	if err != nil {
		return nil, err
	}
	if err := refuseFilters(q, "coffer's subscription list cannot filter by product", "product_id"); err != nil {
		return nil, err
	}
	cust, created, err := c.scopedFilters(q)
	if err != nil {
		return nil, err
	}
	p := coffer.SubscriptionListParams{CustomerID: cust}
	p.Created = created
	st, err := q.enum("status", dodoSubscriptionStatuses...)
	if err != nil {
		return nil, err
	}
	cancelAtNext, err := q.boolean("cancel_at_next_billing_date")
	if err != nil {
		return nil, err
	}
	nothing := (cancelAtNext != nil && *cancelAtNext) || !c.brandMatches(q)
	if st != "" {
		s, ok := subscriptionStatusIn(st)
		nothing = nothing || !ok
		p.Status = s
	}
	if nothing {
		return emptyPage[Subscription](), nil
	}
	cs := c.customers()
	return listPage(c, pr, func(lp coffer.ListParams) (coffer.List[subscription.Subscription], error) {
		p.ListParams = lp
		return h.eng.ListSubscriptions(c.ctx(), p)
	}, func(s subscription.Subscription) string { return s.ID }, func(s subscription.Subscription) (Subscription, error) {
		cu, err := cs.get(s.CustomerID)
		if err != nil {
			return Subscription{}, err
		}
		return h.subscriptionOut(s, cu), nil
	})
}

func (h *Handler) chargeSubscription(c *call) (any, error) {
	if err := c.operatorOnly(); err != nil {
		return nil, err
	}
	s, err := c.subscriptionParam()
	if err != nil {
		return nil, err
	}
	var in chargeIn
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if !in.ProductPrice.Set {
		return nil, invalidParam("product_price", "product_price is required (minor units)")
	}
	if bc := in.CustomerBalanceConfig; bc != nil {
		if bc.AllowCustomerCreditsUsage != nil && !*bc.AllowCustomerCreditsUsage {
			return nil, unsupported("WALLET_USAGE_REQUIRED", "customer_balance_config.allow_customer_credits_usage",
				"coffer always applies the customer's wallet balance before the payment method; allow_customer_credits_usage cannot be false")
		}
		if bc.AllowCustomerCreditsPurchase != nil && *bc.AllowCustomerCreditsPurchase {
			return nil, unsupported("CREDITS_PURCHASE_UNSUPPORTED", "customer_balance_config.allow_customer_credits_purchase",
				"coffer does not buy wallet credit during a charge")
		}
	}
	key, err := c.idempotencyKey(in.IdempotencyKey)
	if err != nil {
		return nil, err
	}
	price := in.ProductPrice.V
	p := coffer.ChargeParams{ProductPrice: &price, AdaptiveCurrencyFeesInclusive: in.AdaptiveCurrencyFeesInclusive,
		Metadata: in.Metadata, IdempotencyKey: key}
	if in.ProductCurrency != nil {
		p.ProductCurrency = *in.ProductCurrency
	}
	if in.ProductDescription != nil {
		p.ProductDescription = *in.ProductDescription
	}
	pay, err := h.eng.Charge(c.ctx(), s.ID, p)
	if err != nil {
		if pay.ID == "" {
			return nil, err
		}
		// The payment may have been recorded before the failure: if so,
		// it is the answer (never a 5xx the SDK would resend).
		got, rerr := h.eng.Payment(contextWithoutCancel(c), pay.ID)
		if rerr != nil {
			if errors.Is(rerr, subscription.ErrPaymentNotFound) {
				return nil, err // nothing was recorded
			}
			return nil, noRetry(err)
		}
		pay = got
	}
	st, _ := paymentStatusOut(pay.Status)
	return ChargeResponse{PaymentID: pay.ID, Status: st}, nil
}

func (h *Handler) confirmMandate(c *call) (any, error) {
	s, err := c.subscriptionParam()
	if err != nil {
		return nil, err
	}
	res, err := h.eng.ConfirmMandate(c.ctx(), s.ID)
	if err != nil && res.Subscription.ID == "" {
		res.Subscription = s
	}
	return h.subscriptionCommitted(c, res, err)
}

func (h *Handler) updatePaymentMethod(c *call) (any, error) {
	s, err := c.subscriptionParam()
	if err != nil {
		return nil, err
	}
	var in paymentMethodIn
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	switch {
	case in.Type == nil:
		return nil, invalidParam("type", "type is required: existing (or new, which coffer does not support)")
	case *in.Type == "new":
		return nil, unsupported("NEW_PAYMENT_METHOD_UNSUPPORTED", "type",
			"coffer cannot collect a new payment method on a hosted page; send {type: existing, payment_method_id}")
	case *in.Type != "existing":
		return nil, invalidParam("type", "type must be existing or new")
	case in.PaymentMethodID == nil || strings.TrimSpace(*in.PaymentMethodID) == "":
		return nil, invalidParam("payment_method_id", "payment_method_id is required")
	}
	out, err := h.eng.UpdatePaymentMethod(c.ctx(), s.ID, coffer.PaymentMethodParams{PaymentMethod: *in.PaymentMethodID})
	if err != nil {
		return nil, err
	}
	return h.subscriptionResult(c, out)
}

// noRetry marks err's answer x-should-retry: false: something may have
// been committed, and a resend could repeat it.
func noRetry(err error) error {
	status, body, _ := errorBody(err)
	f := false
	return &apiError{status: status, code: body.Code, param: body.Param, message: body.Message, retry: &f}
}
