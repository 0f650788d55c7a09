package processor

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/cofferhq/coffer/clock"
)

// Test payment-method tokens understood by the Test processor. Each token
// has a fixed behaviour so that every billing flow, including every decline
// code, can be exercised without a network gateway:
//
//	token                           mandate                        charge
//	------------------------------  -----------------------------  ---------------------------------------
//	pm_card_ok                      authorized                     succeeded
//	pm_card_requires_action         requires_action + link (1)     succeeded once the mandate is authorized
//	pm_card_do_not_honor            failed DO_NOT_HONOR            failed DO_NOT_HONOR
//	pm_card_stolen                  failed STOLEN_CARD             failed STOLEN_CARD
//	pm_card_lost                    failed LOST_CARD               failed LOST_CARD
//	pm_card_pickup                  failed PICKUP_CARD             failed PICKUP_CARD
//	pm_card_fraudulent              failed FRAUDULENT              failed FRAUDULENT
//	pm_card_authentication_failure  failed AUTHENTICATION_FAILURE  failed AUTHENTICATION_FAILURE
//	pm_card_insufficient_funds      authorized                     failed INSUFFICIENT_FUNDS
//	pm_card_issuer_unavailable      authorized                     failed ISSUER_UNAVAILABLE
//	pm_card_network_error           authorized                     error wrapping ErrUnavailable (2)
//
// (1) The link is https://pay.test/authorize/<mandate id>?return_url=<url>
// (SetLinkBase changes the part before the mandate id);
// (*Test).CompleteMandate plays the customer finishing the hosted page.
// (2) The processor never received the charge: nothing is recorded, so
// LookupCharge returns ErrNotFound.
//
// Hard-decline tokens fail the mandate too, as a real issuer refuses to set
// one up on a stolen card; soft-decline tokens authorise a mandate but their
// charges decline, which is what retry tests need.
const (
	CardOK                    = "pm_card_ok"
	CardRequiresAction        = "pm_card_requires_action"
	CardDoNotHonor            = "pm_card_do_not_honor"
	CardStolen                = "pm_card_stolen"
	CardLost                  = "pm_card_lost"
	CardPickup                = "pm_card_pickup"
	CardFraudulent            = "pm_card_fraudulent"
	CardAuthenticationFailure = "pm_card_authentication_failure"
	CardInsufficientFunds     = "pm_card_insufficient_funds"
	CardIssuerUnavailable     = "pm_card_issuer_unavailable"
	CardNetworkError          = "pm_card_network_error"
)

// Errors returned by the Test processor for requests a real processor would
// reject. None of them wraps ErrUnavailable: the outcome of such a call is
// known (nothing happened), so coffer must not treat it as retryable.
var (
	// ErrUnknownPaymentMethod: the token is not one of the Card* tokens.
	ErrUnknownPaymentMethod = errors.New("processor: unknown test payment method")
	// ErrInvalidRequest: a required field is missing or out of range.
	ErrInvalidRequest = errors.New("processor: invalid request")
	// ErrIdempotencyMismatch: an idempotency key was reused with different
	// parameters (amount, currency, charge, payment method).
	ErrIdempotencyMismatch = errors.New("processor: idempotency key reused with different parameters")
	// ErrMandateNotFound: no mandate has that id.
	ErrMandateNotFound = errors.New("processor: mandate not found")
	// ErrMandateNotPending: CompleteMandate on a mandate that is not
	// awaiting customer action.
	ErrMandateNotPending = errors.New("processor: mandate is not awaiting customer action")
	// ErrMandateNotAuthorized: a charge referenced a mandate of this
	// processor that is pending or failed.
	ErrMandateNotAuthorized = errors.New("processor: mandate not authorized")
	// ErrUnknownCharge: a refund referenced a charge id this processor never
	// issued.
	ErrUnknownCharge = errors.New("processor: unknown charge")
	// ErrNotRefundable: the charge did not succeed, so there is nothing to
	// refund.
	ErrNotRefundable = errors.New("processor: charge not refundable")
	// ErrRefundExceedsCharge: the refunds of a charge would add up to more
	// than the charge.
	ErrRefundExceedsCharge = errors.New("processor: refunds exceed the charge amount")
)

// tokenBehaviour is what a test token does: the decline code of its mandate
// (empty: authorised), whether the mandate needs the hosted page, and the
// default outcome of its charges ("" for success, a decline code, or
// NetworkError for an unavailable processor).
type tokenBehaviour struct {
	mandateDecline string
	requiresAction bool
	charge         string
}

var tokens = map[string]tokenBehaviour{
	CardOK:                    {},
	CardRequiresAction:        {requiresAction: true},
	CardDoNotHonor:            {mandateDecline: DoNotHonor, charge: DoNotHonor},
	CardStolen:                {mandateDecline: StolenCard, charge: StolenCard},
	CardLost:                  {mandateDecline: LostCard, charge: LostCard},
	CardPickup:                {mandateDecline: PickupCard, charge: PickupCard},
	CardFraudulent:            {mandateDecline: Fraudulent, charge: Fraudulent},
	CardAuthenticationFailure: {mandateDecline: AuthenticationFailure, charge: AuthenticationFailure},
	CardInsufficientFunds:     {charge: InsufficientFunds},
	CardIssuerUnavailable:     {charge: IssuerUnavailable},
	CardNetworkError:          {charge: NetworkError},
}

// Cards returns every test token, sorted, so tests can range over them.
func Cards() []string {
	out := make([]string, 0, len(tokens))
	for t := range tokens {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// RecordedCharge is a charge the Test processor acted on, with the request
// details a test may want to assert.
type RecordedCharge struct {
	Charge
	MandateID     string
	PaymentMethod string
	Description   string
	Metadata      map[string]string
	CreatedAt     time.Time
}

// RecordedRefund is a refund the Test processor acted on.
type RecordedRefund struct {
	Refund
	IdempotencyKey string
	ChargeID       string
	Currency       string
	CreatedAt      time.Time
}

type testMandate struct {
	Mandate
	key           string
	paymentMethod string
}

// Test is a deterministic, in-memory Processor for tests and examples. Its
// behaviour is chosen by the payment-method token (see CardOK and the table
// above it), can be scripted per token (Script), and can simulate a response
// lost after the processor acted (FailAfterCharge) or an outage
// (SetUnavailable). Ids are sequential (mdt_test_1, ch_test_1, re_test_1) so
// test output is reproducible. A Test is safe for concurrent use.
type Test struct {
	clk clock.Clock

	mu            sync.Mutex
	mandates      map[string]*testMandate // by id
	mandateByKey  map[string]string       // idempotency key -> id
	charges       []*RecordedCharge       // in the order they were made
	chargeByKey   map[string]*RecordedCharge
	chargeByID    map[string]*RecordedCharge
	refunds       []*RecordedRefund
	refundByKey   map[string]*RecordedRefund
	refunded      map[string]int64 // charge id -> refunded total
	scripts       map[string][]string
	loseResponses int
	unavailable   bool
	nextMandate   int
	nextCharge    int
	nextRefund    int
	linkBase      string
	idPrefix      string
}

var _ Processor = (*Test)(nil)

// NewTest returns an empty Test processor reading time from clk (mandate
// authorisation times, record timestamps). A nil clk means clock.System.
func NewTest(clk clock.Clock) *Test {
	if clk == nil {
		clk = clock.System{}
	}
	return &Test{
		clk:          clk,
		mandates:     map[string]*testMandate{},
		mandateByKey: map[string]string{},
		chargeByKey:  map[string]*RecordedCharge{},
		chargeByID:   map[string]*RecordedCharge{},
		refundByKey:  map[string]*RecordedRefund{},
		refunded:     map[string]int64{},
		scripts:      map[string][]string{},
	}
}

// Script queues outcomes for the next charges made with paymentMethod, one
// per Charge call that reaches the processor (idempotent replays do not
// consume one). Each outcome is "" for success, a decline code (any string,
// so tests can also feed codes coffer does not know), or NetworkError for an
// unavailable processor (nothing recorded). When the queue is empty the
// token's default behaviour applies again. Calls append to the queue.
func (p *Test) Script(paymentMethod string, outcomes ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.scripts[paymentMethod] = append(p.scripts[paymentMethod], outcomes...)
}

// FailAfterCharge makes the next n charges that the processor acts on lose
// their response: the charge is recorded (LookupCharge and a replay of the
// same idempotency key find it) but the call returns an error wrapping
// ErrUnavailable, as if the network or the caller's process failed right
// after the processor charged. It is how crash-recovery tests create a
// charge the caller does not know the outcome of. n replaces any earlier
// count; 0 turns it off.
func (p *Test) FailAfterCharge(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.loseResponses = max(n, 0)
}

// SetUnavailable simulates an outage: while down, every call (including
// LookupCharge and MandateStatus) returns an error wrapping ErrUnavailable
// without acting, so tests can check that coffer leaves unknown outcomes
// pending until the processor answers again.
func (p *Test) SetUnavailable(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.unavailable = down
}

// DefaultLinkBase is where the Test processor's hosted authorisation links
// point unless SetLinkBase names another base.
const DefaultLinkBase = "https://pay.test/authorize"

// SetLinkBase makes the payment links of mandates authorised from now on
// base + "/" + mandate id (+ "?return_url=..."), so a server in test mode
// (`coffer serve`) can host the authorisation page itself. base is used as
// given, without a trailing slash; "" restores DefaultLinkBase. Links
// already handed out do not change.
func (p *Test) SetLinkBase(base string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(base) > 0 && base[len(base)-1] == '/' {
		base = base[:len(base)-1]
	}
	p.linkBase = base
}

// SetIDPrefix puts prefix (letters and digits, at most 16) into the ids
// made from now on: mdt_test_<prefix>_1, ch_test_<prefix>_1, ... A
// process that keeps its records in a durable store while the Test
// processor keeps its own in memory (`coffer serve` in test mode) sets a
// random prefix per start, so ids made after a restart never repeat ones
// already stored. "" restores the plain sequential ids.
func (p *Test) SetIDPrefix(prefix string) error {
	if len(prefix) > 16 {
		return fmt.Errorf("%w: id prefix longer than 16 bytes", ErrInvalidRequest)
	}
	for _, r := range prefix {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return fmt.Errorf("%w: id prefix must be letters and digits", ErrInvalidRequest)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.idPrefix = prefix
	if prefix != "" {
		p.idPrefix = prefix + "_"
	}
	return nil
}

// CompleteMandate plays the customer finishing the hosted authorisation page
// of a requires_action mandate: ok authorises it (AuthorizedAt is the
// clock's time now), !ok fails it with AUTHENTICATION_FAILURE.
func (p *Test) CompleteMandate(mandateID string, ok bool) (Mandate, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m, found := p.mandates[mandateID]
	if !found {
		return Mandate{}, fmt.Errorf("%w: %q", ErrMandateNotFound, mandateID)
	}
	if m.Status != MandateRequiresAction {
		return Mandate{}, fmt.Errorf("%w: %q is %s", ErrMandateNotPending, mandateID, m.Status)
	}
	if ok {
		m.Status = MandateAuthorized
		m.AuthorizedAt = p.clk.Now().UTC()
	} else {
		m.Status = MandateFailed
		m.DeclineCode = AuthenticationFailure
	}
	return m.Mandate, nil
}

// Charges returns a copy of every charge the processor acted on, oldest
// first. Charges that hit a network error are not in it.
func (p *Test) Charges() []RecordedCharge {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]RecordedCharge, len(p.charges))
	for i, c := range p.charges {
		out[i] = copyCharge(c)
	}
	return out
}

// ChargeCount returns how many charges the processor acted on (succeeded or
// declined); idempotent replays do not count, so a test can prove that a
// payment was charged at most once.
func (p *Test) ChargeCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.charges)
}

// Refunds returns a copy of every refund the processor made, oldest first.
func (p *Test) Refunds() []RecordedRefund {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]RecordedRefund, len(p.refunds))
	for i, r := range p.refunds {
		out[i] = *r
	}
	return out
}

// AuthorizeMandate authorises, fails, or asks customer action for a mandate
// according to the token (see the table at CardOK). PaymentLink does not
// change the outcome: only CardRequiresAction needs the hosted page, and its
// link is returned whether asked for or not, since the customer cannot
// proceed without it. Idempotent by IdempotencyKey: a repeat returns the
// mandate's current state.
func (p *Test) AuthorizeMandate(ctx context.Context, req MandateRequest) (Mandate, error) {
	if err := ctx.Err(); err != nil {
		return Mandate{}, err
	}
	if req.IdempotencyKey == "" {
		return Mandate{}, fmt.Errorf("%w: mandate idempotency key is required", ErrInvalidRequest)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.unavailable {
		return Mandate{}, fmt.Errorf("%w: test processor is down", ErrUnavailable)
	}
	if id, ok := p.mandateByKey[req.IdempotencyKey]; ok {
		m := p.mandates[id]
		if m.paymentMethod != req.PaymentMethod {
			return Mandate{}, fmt.Errorf("%w: mandate key %q was used with payment method %q",
				ErrIdempotencyMismatch, req.IdempotencyKey, m.paymentMethod)
		}
		return m.Mandate, nil
	}
	b, ok := tokens[req.PaymentMethod]
	if !ok {
		return Mandate{}, fmt.Errorf("%w: %q", ErrUnknownPaymentMethod, req.PaymentMethod)
	}
	p.nextMandate++
	m := &testMandate{
		Mandate:       Mandate{ID: "mdt_test_" + p.idPrefix + strconv.Itoa(p.nextMandate)},
		key:           req.IdempotencyKey,
		paymentMethod: req.PaymentMethod,
	}
	switch {
	case b.mandateDecline != "":
		m.Status = MandateFailed
		m.DeclineCode = b.mandateDecline
	case b.requiresAction:
		m.Status = MandateRequiresAction
		base := p.linkBase
		if base == "" {
			base = DefaultLinkBase
		}
		m.PaymentLink = base + "/" + m.ID
		if req.ReturnURL != "" {
			m.PaymentLink += "?return_url=" + url.QueryEscape(req.ReturnURL)
		}
	default:
		m.Status = MandateAuthorized
		m.AuthorizedAt = p.clk.Now().UTC()
	}
	p.mandates[m.ID] = m
	p.mandateByKey[req.IdempotencyKey] = m.ID
	return m.Mandate, nil
}

// MandateStatus returns the mandate's current state, or an error wrapping
// ErrMandateNotFound.
func (p *Test) MandateStatus(ctx context.Context, mandateID string) (Mandate, error) {
	if err := ctx.Err(); err != nil {
		return Mandate{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.unavailable {
		return Mandate{}, fmt.Errorf("%w: test processor is down", ErrUnavailable)
	}
	m, ok := p.mandates[mandateID]
	if !ok {
		return Mandate{}, fmt.Errorf("%w: %q", ErrMandateNotFound, mandateID)
	}
	return m.Mandate, nil
}

// Charge charges the payment method once per IdempotencyKey. The outcome is
// the next scripted one for the payment method, else the token's default. A
// replay of a recorded key returns the recorded charge unchanged, whatever
// the script says now; a replay with another amount or currency is
// ErrIdempotencyMismatch. If MandateID names a mandate of this processor it
// must be authorised; an id it does not know is accepted, so a Test created
// after a simulated restart still charges.
func (p *Test) Charge(ctx context.Context, req ChargeRequest) (Charge, error) {
	if err := ctx.Err(); err != nil {
		return Charge{}, err
	}
	switch {
	case req.IdempotencyKey == "":
		return Charge{}, fmt.Errorf("%w: charge idempotency key is required", ErrInvalidRequest)
	case req.Amount <= 0:
		return Charge{}, fmt.Errorf("%w: charge amount must be > 0, got %d", ErrInvalidRequest, req.Amount)
	case req.Currency == "":
		return Charge{}, fmt.Errorf("%w: charge currency is required", ErrInvalidRequest)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.unavailable {
		return Charge{}, fmt.Errorf("%w: test processor is down", ErrUnavailable)
	}
	if c, ok := p.chargeByKey[req.IdempotencyKey]; ok {
		if c.Amount != req.Amount || c.Currency != req.Currency {
			return Charge{}, fmt.Errorf("%w: charge key %q was %d %s, now %d %s", ErrIdempotencyMismatch,
				req.IdempotencyKey, c.Amount, c.Currency, req.Amount, req.Currency)
		}
		return c.Charge, nil
	}
	b, ok := tokens[req.PaymentMethod]
	if !ok {
		return Charge{}, fmt.Errorf("%w: %q", ErrUnknownPaymentMethod, req.PaymentMethod)
	}
	if m, ok := p.mandates[req.MandateID]; ok && m.Status != MandateAuthorized {
		return Charge{}, fmt.Errorf("%w: %q is %s", ErrMandateNotAuthorized, req.MandateID, m.Status)
	}
	outcome := b.charge
	if q := p.scripts[req.PaymentMethod]; len(q) > 0 {
		outcome = q[0]
		if len(q) == 1 {
			delete(p.scripts, req.PaymentMethod)
		} else {
			p.scripts[req.PaymentMethod] = q[1:]
		}
	}
	if outcome == NetworkError {
		return Charge{}, fmt.Errorf("%w: network error charging %q (not received)", ErrUnavailable, req.IdempotencyKey)
	}
	p.nextCharge++
	c := &RecordedCharge{
		Charge: Charge{
			ID:             "ch_test_" + p.idPrefix + strconv.Itoa(p.nextCharge),
			IdempotencyKey: req.IdempotencyKey,
			Status:         ChargeSucceeded,
			DeclineCode:    outcome,
			Amount:         req.Amount,
			Currency:       req.Currency,
		},
		MandateID:     req.MandateID,
		PaymentMethod: req.PaymentMethod,
		Description:   req.Description,
		Metadata:      maps.Clone(req.Metadata),
		CreatedAt:     p.clk.Now().UTC(),
	}
	if outcome != "" {
		c.Status = ChargeFailed
	}
	p.charges = append(p.charges, c)
	p.chargeByKey[c.IdempotencyKey] = c
	p.chargeByID[c.ID] = c
	if p.loseResponses > 0 {
		p.loseResponses--
		return Charge{}, fmt.Errorf("%w: response to charge %q lost after it was made", ErrUnavailable, req.IdempotencyKey)
	}
	return c.Charge, nil
}

// LookupCharge returns the charge recorded under idempotencyKey, or an error
// wrapping ErrNotFound if the processor never acted on it.
func (p *Test) LookupCharge(ctx context.Context, idempotencyKey string) (Charge, error) {
	if err := ctx.Err(); err != nil {
		return Charge{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.unavailable {
		return Charge{}, fmt.Errorf("%w: test processor is down", ErrUnavailable)
	}
	c, ok := p.chargeByKey[idempotencyKey]
	if !ok {
		return Charge{}, fmt.Errorf("%w: %q", ErrNotFound, idempotencyKey)
	}
	return c.Charge, nil
}

// Refund returns Amount of a succeeded charge, once per IdempotencyKey (a
// replay returns the first refund; a replay with another charge or amount
// is ErrIdempotencyMismatch). The refunds of a charge never add up to more
// than its amount (ErrRefundExceedsCharge). Currency, if set, must be the
// charge's.
func (p *Test) Refund(ctx context.Context, req RefundRequest) (Refund, error) {
	if err := ctx.Err(); err != nil {
		return Refund{}, err
	}
	switch {
	case req.IdempotencyKey == "":
		return Refund{}, fmt.Errorf("%w: refund idempotency key is required", ErrInvalidRequest)
	case req.Amount <= 0:
		return Refund{}, fmt.Errorf("%w: refund amount must be > 0, got %d", ErrInvalidRequest, req.Amount)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.unavailable {
		return Refund{}, fmt.Errorf("%w: test processor is down", ErrUnavailable)
	}
	if r, ok := p.refundByKey[req.IdempotencyKey]; ok {
		if r.ChargeID != req.ChargeID || r.Amount != req.Amount {
			return Refund{}, fmt.Errorf("%w: refund key %q was %d of %q", ErrIdempotencyMismatch,
				req.IdempotencyKey, r.Amount, r.ChargeID)
		}
		return r.Refund, nil
	}
	c, ok := p.chargeByID[req.ChargeID]
	if !ok {
		return Refund{}, fmt.Errorf("%w: %q", ErrUnknownCharge, req.ChargeID)
	}
	if c.Status != ChargeSucceeded {
		return Refund{}, fmt.Errorf("%w: %q is %s", ErrNotRefundable, c.ID, c.Status)
	}
	if req.Currency != "" && req.Currency != c.Currency {
		return Refund{}, fmt.Errorf("%w: refund in %s of a charge in %s", ErrInvalidRequest, req.Currency, c.Currency)
	}
	done := p.refunded[c.ID]
	if req.Amount > c.Amount-done {
		return Refund{}, fmt.Errorf("%w: %d requested, %d of %d left on %q", ErrRefundExceedsCharge,
			req.Amount, c.Amount-done, c.Amount, c.ID)
	}
	p.nextRefund++
	r := &RecordedRefund{
		Refund:         Refund{ID: "re_test_" + p.idPrefix + strconv.Itoa(p.nextRefund), Amount: req.Amount},
		IdempotencyKey: req.IdempotencyKey,
		ChargeID:       c.ID,
		Currency:       c.Currency,
		CreatedAt:      p.clk.Now().UTC(),
	}
	p.refunds = append(p.refunds, r)
	p.refundByKey[r.IdempotencyKey] = r
	p.refunded[c.ID] = done + req.Amount
	return r.Refund, nil
}

func copyCharge(c *RecordedCharge) RecordedCharge {
	out := *c
	out.Metadata = maps.Clone(c.Metadata)
	return out
}
