package stripe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	stripego "github.com/stripe/stripe-go/v84"

	"github.com/cofferhq/coffer/processor"
)

// Metadata keys the adapter writes on Stripe objects and reads back.
const (
	// MetaPaymentID is coffer's payment id on a PaymentIntent.
	MetaPaymentID = "coffer_payment_id"
	// MetaSubscriptionID is coffer's subscription id (the mandate's
	// idempotency key) on a SetupIntent and a Checkout Session.
	MetaSubscriptionID = "coffer_subscription_id"
	// MetaCustomerID is coffer's customer id on a Stripe Customer,
	// SetupIntent and Checkout Session.
	MetaCustomerID = "coffer_customer_id"
	// MetaRefundID is coffer's refund id on a Refund.
	MetaRefundID = "coffer_refund_id"
)

// HostedPaymentMethod is the payment method a caller passes (with or
// without MandateRequest.PaymentLink) to have the customer enter the card
// on a Stripe Checkout page in setup mode: `coffer serve -processor stripe`
// uses it for payment_link: true without a payment_method_id.
const HostedPaymentMethod = "stripe_checkout"

// Defaults of Config.
const (
	DefaultAPIBase        = stripego.APIURL
	DefaultLookupWindow   = time.Hour
	DefaultLookupMaxPages = 20
	DefaultNetworkRetries = 2
)

// Errors of the adapter. Each wraps the processor sentinel coffer tests
// with errors.Is, so the engine treats it as the test processor's.
var (
	// ErrNoSecretKey: Config.SecretKey is empty.
	ErrNoSecretKey = errors.New("stripe: STRIPE_SECRET_KEY (Config.SecretKey) is required")
	// ErrChargePending: the PaymentIntent exists but has no final outcome
	// yet (processing, requires_confirmation, requires_capture). It wraps
	// processor.ErrUnavailable: coffer keeps the payment pending and asks
	// again (LookupCharge) later.
	ErrChargePending = fmt.Errorf("stripe: payment intent has no final outcome yet: %w", processor.ErrUnavailable)
	// ErrRefundFailed: Stripe created the refund but reports it failed or
	// canceled; no money was returned.
	ErrRefundFailed = errors.New("stripe: refund failed")
)

// Config configures a Processor.
type Config struct {
	// SecretKey is the Stripe secret (sk_...) or restricted (rk_...) key.
	// Required. It is never logged or returned in errors.
	SecretKey string
	// APIBase is the API's base URL; DefaultAPIBase when empty. Tests point
	// it at stripe-mock (http://127.0.0.1:12111) or an httptest server.
	APIBase string
	// HTTPClient makes the calls; stripe-go's default (80 s timeout) when
	// nil.
	HTTPClient *http.Client
	// NetworkRetries is how many times stripe-go retries a call that failed
	// on the network or with a retryable status (same Idempotency-Key, so
	// safe); DefaultNetworkRetries when nil.
	NetworkRetries *int64
	// ReturnURL is where Stripe sends the customer after a 3-D Secure
	// challenge or a Checkout page when the MandateRequest has no
	// ReturnURL.
	ReturnURL string
	// WebhookSecret is the endpoint's signing secret (whsec_...) for
	// ParseEvent and Handler.
	WebhookSecret string
	// WebhookTolerance is how old a signed webhook may be; stripe-go's
	// default (5 minutes) when 0.
	WebhookTolerance time.Duration
	// LookupWindow is how far back LookupCharge lists PaymentIntents when
	// the Search API does not (yet) find one; DefaultLookupWindow when 0.
	LookupWindow time.Duration
	// LookupMaxPages bounds that list scan (100 PaymentIntents a page);
	// DefaultLookupMaxPages when 0. A scan cut short answers
	// processor.ErrUnavailable, not processor.ErrNotFound.
	LookupMaxPages int
	// Now is the clock (mandate authorisation times, the lookup window);
	// time.Now when nil.
	Now func() time.Time
}

// String describes the configuration with the secrets redacted.
func (c Config) String() string {
	return fmt.Sprintf("stripe.Config{SecretKey: %s, APIBase: %q, WebhookSecret: %s}",
		redacted(c.SecretKey), c.apiBase(), redacted(c.WebhookSecret))
}

// GoString is String, so %#v does not print the secrets either.
func (c Config) GoString() string { return c.String() }

// LogValue makes slog print the configuration with the secrets redacted.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.String("api_base", c.apiBase()),
		slog.String("secret_key", redacted(c.SecretKey)), slog.String("webhook_secret", redacted(c.WebhookSecret)))
}

func redacted(s string) string {
	if s == "" {
		return "(unset)"
	}
	return "(redacted)"
}

func (c Config) apiBase() string {
	if c.APIBase == "" {
		return DefaultAPIBase
	}
	return strings.TrimRight(c.APIBase, "/")
}

// Processor is a processor.Processor on Stripe. It is safe for concurrent
// use; it keeps only caches (Stripe customer per coffer customer,
// authorised mandates), never state coffer depends on.
type Processor struct {
	cfg    Config
	client *stripego.Client

	customers sync.Map // coffer customer id -> Stripe customer id
	mandates  sync.Map // authorised mandate id -> mandateRef
}

var _ processor.Processor = (*Processor)(nil)

type mandateRef struct{ customer, paymentMethod string }

// New returns a Processor for cfg, or ErrNoSecretKey.
func New(cfg Config) (*Processor, error) {
	if strings.TrimSpace(cfg.SecretKey) == "" {
		return nil, ErrNoSecretKey
	}
	if cfg.LookupWindow <= 0 {
		cfg.LookupWindow = DefaultLookupWindow
	}
	if cfg.LookupMaxPages <= 0 {
		cfg.LookupMaxPages = DefaultLookupMaxPages
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	retries := int64(DefaultNetworkRetries)
	if cfg.NetworkRetries != nil {
		retries = max(*cfg.NetworkRetries, 0)
	}
	bc := &stripego.BackendConfig{
		URL:               stripego.String(cfg.apiBase()),
		MaxNetworkRetries: stripego.Int64(retries),
		// stripe-go's default logger prints error bodies; coffer reports
		// errors itself, with the secrets out.
		LeveledLogger:   quietLogger{},
		EnableTelemetry: stripego.Bool(false),
	}
	if cfg.HTTPClient != nil {
		bc.HTTPClient = cfg.HTTPClient
	}
	p := &Processor{cfg: cfg}
	p.client = stripego.NewClient(cfg.SecretKey, stripego.WithBackends(stripego.NewBackendsWithConfig(bc)))
	return p, nil
}

type quietLogger struct{}

func (quietLogger) Debugf(string, ...any) {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Warnf(string, ...any)  {}

func (p *Processor) returnURL(req string) string {
	if req != "" {
		return req
	}
	return p.cfg.ReturnURL
}

// customer returns the Stripe customer of a coffer customer, creating it
// with the Idempotency-Key coffer-customer-<id> (so concurrent mandates of
// one customer within Stripe's 24-hour key lifetime share it).
func (p *Processor) customer(ctx context.Context, cofferCustomer string) (string, error) {
	if id, ok := p.customers.Load(cofferCustomer); ok {
		return id.(string), nil
	}
	params := &stripego.CustomerCreateParams{Metadata: map[string]string{MetaCustomerID: cofferCustomer}}
	params.SetIdempotencyKey("coffer-customer-" + cofferCustomer)
	c, err := p.client.V1Customers.Create(ctx, params)
	if err != nil {
		return "", convertErr("creating customer", err)
	}
	p.customers.Store(cofferCustomer, c.ID)
	return c.ID, nil
}

// AuthorizeMandate sets up the payment method for off-session charges: a
// SetupIntent confirmed with req.PaymentMethod on the customer's Stripe
// Customer, or, with req.PaymentLink or HostedPaymentMethod, a Checkout
// Session in setup mode whose URL is the payment link. Idempotent by
// req.IdempotencyKey (Idempotency-Key coffer-mandate-<key>) within Stripe's
// 24-hour key lifetime. A card Stripe refuses is a failed Mandate with a
// coffer decline code, not an error.
func (p *Processor) AuthorizeMandate(ctx context.Context, req processor.MandateRequest) (processor.Mandate, error) {
	switch {
	case req.IdempotencyKey == "":
		return processor.Mandate{}, fmt.Errorf("%w: mandate idempotency key is required", processor.ErrInvalidRequest)
	case req.CustomerID == "":
		return processor.Mandate{}, fmt.Errorf("%w: mandate customer id is required", processor.ErrInvalidRequest)
	}
	hosted := req.PaymentLink || req.PaymentMethod == HostedPaymentMethod
	if !hosted && req.PaymentMethod == "" {
		return processor.Mandate{}, fmt.Errorf("%w: payment method is required", processor.ErrInvalidRequest)
	}
	ret := p.returnURL(req.ReturnURL)
	if hosted && ret == "" {
		return processor.Mandate{}, fmt.Errorf("%w: a Checkout payment link needs a return URL", processor.ErrInvalidRequest)
	}
	cus, err := p.customer(ctx, req.CustomerID)
	if err != nil {
		return processor.Mandate{}, err
	}
	meta := map[string]string{MetaSubscriptionID: req.IdempotencyKey, MetaCustomerID: req.CustomerID}
	if hosted {
		params := &stripego.CheckoutSessionCreateParams{
			Mode:               stripego.String(string(stripego.CheckoutSessionModeSetup)),
			Customer:           stripego.String(cus),
			PaymentMethodTypes: stripego.StringSlice([]string{"card"}),
			SuccessURL:         stripego.String(ret),
			CancelURL:          stripego.String(ret),
			ClientReferenceID:  stripego.String(req.IdempotencyKey),
			Metadata:           meta,
			SetupIntentData:    &stripego.CheckoutSessionCreateSetupIntentDataParams{Metadata: meta},
		}
		params.SetIdempotencyKey("coffer-mandate-" + req.IdempotencyKey)
		s, err := p.client.V1CheckoutSessions.Create(ctx, params)
		if err != nil {
			return processor.Mandate{}, convertErr("creating checkout session", err)
		}
		return processor.Mandate{ID: s.ID, Status: processor.MandateRequiresAction, PaymentLink: s.URL}, nil
	}
	params := &stripego.SetupIntentCreateParams{
		Customer:           stripego.String(cus),
		PaymentMethod:      stripego.String(req.PaymentMethod),
		PaymentMethodTypes: stripego.StringSlice([]string{"card"}),
		Confirm:            stripego.Bool(true),
		Usage:              stripego.String(string(stripego.SetupIntentUsageOffSession)),
		Metadata:           meta,
	}
	if ret != "" {
		params.ReturnURL = stripego.String(ret)
	}
	params.SetIdempotencyKey("coffer-mandate-" + req.IdempotencyKey)
	si, err := p.client.V1SetupIntents.Create(ctx, params)
	if err != nil {
		if se, ok := asCardError(err); ok {
			m := processor.Mandate{Status: processor.MandateFailed, DeclineCode: DeclineCode(se)}
			if se.SetupIntent != nil {
				m.ID = se.SetupIntent.ID
			}
			return m, nil
		}
		return processor.Mandate{}, convertErr("creating setup intent", err)
	}
	m := p.mandateFromSetupIntent(si)
	p.remember(m, si)
	return m, nil
}

// MandateStatus reads a mandate back: a SetupIntent (seti_...) or a
// Checkout Session (cs_...). An id Stripe does not know wraps
// processor.ErrMandateNotFound.
func (p *Processor) MandateStatus(ctx context.Context, mandateID string) (processor.Mandate, error) {
	switch {
	case strings.HasPrefix(mandateID, "seti_"):
		si, err := p.client.V1SetupIntents.Retrieve(ctx, mandateID, &stripego.SetupIntentRetrieveParams{})
		if err != nil {
			return processor.Mandate{}, mandateErr(mandateID, err)
		}
		m := p.mandateFromSetupIntent(si)
		p.remember(m, si)
		return m, nil
	case strings.HasPrefix(mandateID, "cs_"):
		params := &stripego.CheckoutSessionRetrieveParams{}
		params.AddExpand("setup_intent")
		s, err := p.client.V1CheckoutSessions.Retrieve(ctx, mandateID, params)
		if err != nil {
			return processor.Mandate{}, mandateErr(mandateID, err)
		}
		m := p.mandateFromSession(s)
		if s.SetupIntent != nil {
			p.remember(m, s.SetupIntent)
		}
		return m, nil
	}
	return processor.Mandate{}, fmt.Errorf("%w: %q is not a Stripe SetupIntent or Checkout Session id",
		processor.ErrMandateNotFound, mandateID)
}

func mandateErr(id string, err error) error {
	var se *stripego.Error
	if errors.As(err, &se) && se.HTTPStatusCode == http.StatusNotFound {
		return fmt.Errorf("%w: %q", processor.ErrMandateNotFound, id)
	}
	return convertErr("reading mandate", err)
}

func (p *Processor) now() time.Time { return p.cfg.Now().UTC() }

// mandateFromSetupIntent maps a SetupIntent's status: succeeded is
// authorised; requires_action is requires_action with Stripe's redirect
// (3-D Secure) as the link; processing and requires_confirmation are
// pending (requires_action without a link: ask MandateStatus again);
// requires_payment_method after an attempt and canceled are failed.
func (p *Processor) mandateFromSetupIntent(si *stripego.SetupIntent) processor.Mandate {
	m := processor.Mandate{ID: si.ID}
	switch si.Status {
	case stripego.SetupIntentStatusSucceeded:
		m.Status, m.AuthorizedAt = processor.MandateAuthorized, p.now()
	case stripego.SetupIntentStatusRequiresAction:
		m.Status = processor.MandateRequiresAction
		if si.NextAction != nil && si.NextAction.RedirectToURL != nil {
			m.PaymentLink = si.NextAction.RedirectToURL.URL
		}
	case stripego.SetupIntentStatusProcessing, stripego.SetupIntentStatusRequiresConfirmation:
		m.Status = processor.MandateRequiresAction
	default: // requires_payment_method (the attempt failed), canceled
		m.Status, m.DeclineCode = processor.MandateFailed, processor.DoNotHonor
		if si.LastSetupError != nil {
			m.DeclineCode = DeclineCode(si.LastSetupError)
		}
	}
	return m
}

// mandateFromSession maps a setup-mode Checkout Session: open is
// requires_action with the session URL; complete is its SetupIntent's
// outcome; expired (the customer never finished) is failed
// AUTHENTICATION_FAILURE, as the test processor's abandoned page.
func (p *Processor) mandateFromSession(s *stripego.CheckoutSession) processor.Mandate {
	m := processor.Mandate{ID: s.ID}
	switch s.Status {
	case stripego.CheckoutSessionStatusComplete:
		if s.SetupIntent == nil || s.SetupIntent.Status == "" {
			// Not expanded (a webhook payload): not known from here.
			m.Status = processor.MandateRequiresAction
			return m
		}
		m = p.mandateFromSetupIntent(s.SetupIntent)
		m.ID = s.ID
	case stripego.CheckoutSessionStatusExpired:
		m.Status, m.DeclineCode = processor.MandateFailed, processor.AuthenticationFailure
	default:
		m.Status, m.PaymentLink = processor.MandateRequiresAction, s.URL
	}
	return m
}

func (p *Processor) remember(m processor.Mandate, si *stripego.SetupIntent) {
	if m.Status != processor.MandateAuthorized || si.Customer == nil || si.PaymentMethod == nil {
		return
	}
	p.mandates.Store(m.ID, mandateRef{customer: si.Customer.ID, paymentMethod: si.PaymentMethod.ID})
}

// resolve returns the customer and payment method of an authorised
// mandate, reading it from Stripe the first time.
func (p *Processor) resolve(ctx context.Context, mandateID string) (mandateRef, error) {
	if r, ok := p.mandates.Load(mandateID); ok {
		return r.(mandateRef), nil
	}
	m, err := p.MandateStatus(ctx, mandateID)
	if err != nil {
		return mandateRef{}, err
	}
	if m.Status != processor.MandateAuthorized {
		return mandateRef{}, fmt.Errorf("%w: %q is %s", processor.ErrMandateNotAuthorized, mandateID, m.Status)
	}
	r, ok := p.mandates.Load(mandateID)
	if !ok {
		return mandateRef{}, fmt.Errorf("%w: %q has no customer or payment method", processor.ErrMandateNotAuthorized, mandateID)
	}
	return r.(mandateRef), nil
}

// Charge charges the mandate off-session: a PaymentIntent confirmed at
// once, Idempotency-Key = req.IdempotencyKey (coffer's payment id), which
// is also written as metadata coffer_payment_id for LookupCharge. A decline
// is a failed Charge with the PaymentIntent's id and a coffer decline code;
// authentication_required (the bank wants 3-D Secure, which an off-session
// charge cannot do) is AUTHENTICATION_FAILURE: the customer has to
// authorise a payment method again.
func (p *Processor) Charge(ctx context.Context, req processor.ChargeRequest) (processor.Charge, error) {
	switch {
	case req.IdempotencyKey == "":
		return processor.Charge{}, fmt.Errorf("%w: charge idempotency key is required", processor.ErrInvalidRequest)
	case req.Amount <= 0:
		return processor.Charge{}, fmt.Errorf("%w: charge amount must be > 0, got %d", processor.ErrInvalidRequest, req.Amount)
	case req.Currency == "":
		return processor.Charge{}, fmt.Errorf("%w: charge currency is required", processor.ErrInvalidRequest)
	case req.MandateID == "":
		return processor.Charge{}, fmt.Errorf("%w: a Stripe charge needs the mandate id", processor.ErrInvalidRequest)
	}
	ref, err := p.resolve(ctx, req.MandateID)
	if err != nil {
		return processor.Charge{}, err
	}
	meta := make(map[string]string, len(req.Metadata)+1)
	for k, v := range req.Metadata {
		meta[k] = v
	}
	meta[MetaPaymentID] = req.IdempotencyKey
	params := &stripego.PaymentIntentCreateParams{
		Amount:             stripego.Int64(req.Amount),
		Currency:           stripego.String(strings.ToLower(req.Currency)),
		Customer:           stripego.String(ref.customer),
		PaymentMethod:      stripego.String(ref.paymentMethod),
		PaymentMethodTypes: stripego.StringSlice([]string{"card"}),
		OffSession:         stripego.Bool(true),
		Confirm:            stripego.Bool(true),
		Metadata:           meta,
	}
	if req.Description != "" {
		params.Description = stripego.String(req.Description)
	}
	params.SetIdempotencyKey(req.IdempotencyKey)
	pi, err := p.client.V1PaymentIntents.Create(ctx, params)
	if err != nil {
		if se, ok := asCardError(err); ok {
			ch := processor.Charge{IdempotencyKey: req.IdempotencyKey, Status: processor.ChargeFailed,
				DeclineCode: DeclineCode(se), Amount: req.Amount, Currency: req.Currency}
			if se.PaymentIntent != nil {
				ch.ID = se.PaymentIntent.ID
			}
			return ch, nil
		}
		return processor.Charge{}, convertErr("creating payment intent", err)
	}
	return chargeFromIntent(pi, req.IdempotencyKey, req.Currency)
}

// chargeFromIntent maps a PaymentIntent: succeeded; requires_payment_method
// (the attempt failed) and canceled are failed with the last error's code;
// requires_action is failed AUTHENTICATION_FAILURE (off-session, nobody can
// act); processing, requires_confirmation and requires_capture are
// ErrChargePending (the outcome is not known yet). currency is coffer's
// spelling of the charge's currency ("" uses Stripe's, upper-cased).
func chargeFromIntent(pi *stripego.PaymentIntent, key, currency string) (processor.Charge, error) {
	if currency == "" {
		currency = strings.ToUpper(string(pi.Currency))
	}
	ch := processor.Charge{ID: pi.ID, IdempotencyKey: key, Amount: pi.Amount, Currency: currency}
	switch pi.Status {
	case stripego.PaymentIntentStatusSucceeded:
		ch.Status = processor.ChargeSucceeded
	case stripego.PaymentIntentStatusRequiresPaymentMethod, stripego.PaymentIntentStatusCanceled:
		ch.Status, ch.DeclineCode = processor.ChargeFailed, processor.DoNotHonor
		if pi.LastPaymentError != nil {
			ch.DeclineCode = DeclineCode(pi.LastPaymentError)
		}
	case stripego.PaymentIntentStatusRequiresAction:
		ch.Status, ch.DeclineCode = processor.ChargeFailed, processor.AuthenticationFailure
	default:
		return processor.Charge{}, fmt.Errorf("%w: %s is %s", ErrChargePending, pi.ID, pi.Status)
	}
	return ch, nil
}

// LookupCharge finds the PaymentIntent made for idempotencyKey (coffer's
// payment id) by its metadata coffer_payment_id: Search API first, then a
// list of the PaymentIntents created in the last LookupWindow (the search
// index lags writes by up to about a minute). processor.ErrNotFound only
// when both are complete and empty; a list cut at LookupMaxPages is
// processor.ErrUnavailable (unknown, ask again later). Charges older than
// LookupWindow are found by search only.
func (p *Processor) LookupCharge(ctx context.Context, idempotencyKey string) (processor.Charge, error) {
	if idempotencyKey == "" {
		return processor.Charge{}, fmt.Errorf("%w: idempotency key is required", processor.ErrInvalidRequest)
	}
	sp := &stripego.PaymentIntentSearchParams{}
	sp.Query = fmt.Sprintf("metadata['%s']:'%s'", MetaPaymentID, searchEscape(idempotencyKey))
	for pi, err := range p.client.V1PaymentIntents.Search(ctx, sp) {
		if err != nil {
			return processor.Charge{}, convertErr("searching payment intents", err)
		}
		if pi.Metadata[MetaPaymentID] == idempotencyKey {
			return chargeFromIntent(pi, idempotencyKey, "")
		}
	}
	lp := &stripego.PaymentIntentListParams{
		CreatedRange: &stripego.RangeQueryParams{GreaterThanOrEqual: p.now().Add(-p.cfg.LookupWindow).Unix()},
	}
	lp.Limit = stripego.Int64(100)
	seen, limit := 0, 100*p.cfg.LookupMaxPages
	for pi, err := range p.client.V1PaymentIntents.List(ctx, lp) {
		if err != nil {
			return processor.Charge{}, convertErr("listing payment intents", err)
		}
		if pi.Metadata[MetaPaymentID] == idempotencyKey {
			return chargeFromIntent(pi, idempotencyKey, "")
		}
		if seen++; seen >= limit {
			return processor.Charge{}, fmt.Errorf("%w: no payment intent for %q in the first %d of the last %s; not sure it was never made",
				processor.ErrUnavailable, idempotencyKey, limit, p.cfg.LookupWindow)
		}
	}
	return processor.Charge{}, fmt.Errorf("%w: %q", processor.ErrNotFound, idempotencyKey)
}

// searchEscape escapes a value for a Stripe search query string literal.
func searchEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s)
}

// Refund refunds req.Amount of the PaymentIntent req.ChargeID (a ch_ id is
// refunded as a Charge), Idempotency-Key = req.IdempotencyKey (coffer's
// refund id). Stripe refusing the refund wraps processor.ErrUnknownCharge,
// ErrRefundExceedsCharge or ErrNotRefundable; a refund Stripe reports
// failed or canceled is ErrRefundFailed. A pending refund is returned as
// made (Stripe settles it; charge.refunded follows).
func (p *Processor) Refund(ctx context.Context, req processor.RefundRequest) (processor.Refund, error) {
	switch {
	case req.IdempotencyKey == "":
		return processor.Refund{}, fmt.Errorf("%w: refund idempotency key is required", processor.ErrInvalidRequest)
	case req.Amount <= 0:
		return processor.Refund{}, fmt.Errorf("%w: refund amount must be > 0, got %d", processor.ErrInvalidRequest, req.Amount)
	case req.ChargeID == "":
		return processor.Refund{}, fmt.Errorf("%w: refund charge id is required", processor.ErrInvalidRequest)
	}
	params := &stripego.RefundCreateParams{
		Amount:   stripego.Int64(req.Amount),
		Metadata: map[string]string{MetaRefundID: req.IdempotencyKey},
	}
	if strings.HasPrefix(req.ChargeID, "ch_") {
		params.Charge = stripego.String(req.ChargeID)
	} else {
		params.PaymentIntent = stripego.String(req.ChargeID)
	}
	params.SetIdempotencyKey(req.IdempotencyKey)
	r, err := p.client.V1Refunds.Create(ctx, params)
	if err != nil {
		return processor.Refund{}, refundErr(req.ChargeID, err)
	}
	if r.Status == stripego.RefundStatusFailed || r.Status == stripego.RefundStatusCanceled {
		return processor.Refund{}, fmt.Errorf("%w: %s is %s", ErrRefundFailed, r.ID, r.Status)
	}
	return processor.Refund{ID: r.ID, Amount: r.Amount}, nil
}

func refundErr(chargeID string, err error) error {
	var se *stripego.Error
	if errors.As(err, &se) && se.Type == stripego.ErrorTypeInvalidRequest {
		switch {
		case se.HTTPStatusCode == http.StatusNotFound || se.Code == stripego.ErrorCodeResourceMissing:
			return fmt.Errorf("%w: %q (%s)", processor.ErrUnknownCharge, chargeID, safeMessage(se))
		case se.Code == stripego.ErrorCodeChargeAlreadyRefunded || se.Code == stripego.ErrorCodeAmountTooLarge:
			return fmt.Errorf("%w: %q (%s)", processor.ErrRefundExceedsCharge, chargeID, safeMessage(se))
		case se.Code == stripego.ErrorCodeChargeNotRefundable || se.Code == stripego.ErrorCodeIntentInvalidState ||
			se.Code == stripego.ErrorCodeChargeDisputed:
			return fmt.Errorf("%w: %q (%s)", processor.ErrNotRefundable, chargeID, safeMessage(se))
		}
	}
	return convertErr("creating refund", err)
}
