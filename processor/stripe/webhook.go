package stripe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	stripego "github.com/stripe/stripe-go/v84"
	"github.com/stripe/stripe-go/v84/webhook"

	"github.com/cofferhq/coffer/processor"
)

// OutcomeKind says what an Outcome settles.
type OutcomeKind string

// Outcome kinds.
const (
	// OutcomeIgnored: a verified event that settles nothing of coffer's (another
	// type, an object coffer did not create, an intent still in progress).
	OutcomeIgnored OutcomeKind = "ignored"
	// OutcomeCharge: the final outcome of a charge (Outcome.PaymentID,
	// Outcome.Charge).
	OutcomeCharge OutcomeKind = "charge"
	// OutcomeMandate: a mandate was authorised or failed
	// (Outcome.SubscriptionID, Outcome.Mandate).
	OutcomeMandate OutcomeKind = "mandate"
	// OutcomeRefund: a charge was refunded, in part or in full
	// (Outcome.Refund, and Outcome.PaymentID when Stripe copied it).
	OutcomeRefund OutcomeKind = "refund"
)

// Outcome is what a verified Stripe event means to coffer.
type Outcome struct {
	EventID   string
	EventType string
	Kind      OutcomeKind
	// PaymentID is coffer's payment id (metadata coffer_payment_id).
	PaymentID string
	// Charge is the charge outcome (OutcomeCharge): the same Charge
	// LookupCharge would return.
	Charge processor.Charge
	// SubscriptionID is coffer's subscription id (metadata
	// coffer_subscription_id) of a mandate outcome.
	SubscriptionID string
	// Mandate is the mandate outcome (OutcomeMandate). Its ID is the
	// SetupIntent's, or the Checkout Session's for checkout.session.completed.
	Mandate processor.Mandate
	// Refund is the refunded state of a charge (OutcomeRefund).
	Refund RefundOutcome
}

// RefundOutcome is a charge.refunded event: ChargeID is the PaymentIntent
// id coffer stores as the charge id (the Stripe charge id when the charge
// has no PaymentIntent), AmountRefunded the total refunded so far.
type RefundOutcome struct {
	ChargeID       string
	AmountRefunded int64
	Currency       string
	FullyRefunded  bool
}

// ErrNoWebhookSecret: ParseEvent or Handler without Config.WebhookSecret.
var ErrNoWebhookSecret = errors.New("stripe: webhook signing secret (Config.WebhookSecret) is required")

// ErrBadSignature wraps every failure to verify a webhook (signature,
// timestamp, payload).
var ErrBadSignature = errors.New("stripe: webhook not verified")

// ParseEvent verifies a webhook (body and Stripe-Signature header) with
// stripe-go's webhook package and Config.WebhookSecret, and returns what it
// means to coffer. The event's API version may differ from stripe-go's (the
// fields read are stable across versions). An event not about coffer's
// objects is OutcomeIgnored, not an error.
func (p *Processor) ParseEvent(payload []byte, signature string) (Outcome, error) {
	if p.cfg.WebhookSecret == "" {
		return Outcome{}, ErrNoWebhookSecret
	}
	ev, err := webhook.ConstructEventWithOptions(payload, signature, p.cfg.WebhookSecret, webhook.ConstructEventOptions{
		Tolerance: p.cfg.WebhookTolerance, IgnoreAPIVersionMismatch: true,
	})
	if err != nil {
		return Outcome{}, fmt.Errorf("%w: %s", ErrBadSignature, redact(err.Error()))
	}
	out := Outcome{EventID: ev.ID, EventType: string(ev.Type), Kind: OutcomeIgnored}
	if ev.Data == nil {
		return out, nil
	}
	raw := ev.Data.Raw
	switch ev.Type {
	case "payment_intent.succeeded", "payment_intent.payment_failed":
		var pi stripego.PaymentIntent
		if err := json.Unmarshal(raw, &pi); err != nil {
			return out, fmt.Errorf("stripe: event %s: %w", ev.ID, err)
		}
		key := pi.Metadata[MetaPaymentID]
		if key == "" {
			return out, nil
		}
		ch, err := chargeFromIntent(&pi, key, "")
		if err != nil {
			return out, nil // still in progress: a later event settles it
		}
		out.Kind, out.PaymentID, out.Charge = OutcomeCharge, key, ch
	case "setup_intent.succeeded", "setup_intent.setup_failed":
		var si stripego.SetupIntent
		if err := json.Unmarshal(raw, &si); err != nil {
			return out, fmt.Errorf("stripe: event %s: %w", ev.ID, err)
		}
		sub := si.Metadata[MetaSubscriptionID]
		if sub == "" {
			return out, nil
		}
		m := p.mandateFromSetupIntent(&si)
		if ev.Type == "setup_intent.setup_failed" && m.Status != processor.MandateFailed {
			m.Status, m.AuthorizedAt = processor.MandateFailed, time.Time{}
			if m.DeclineCode == "" {
				m.DeclineCode = processor.DoNotHonor
			}
		}
		out.Kind, out.SubscriptionID, out.Mandate = OutcomeMandate, sub, m
	case "checkout.session.completed":
		var s stripego.CheckoutSession
		if err := json.Unmarshal(raw, &s); err != nil {
			return out, fmt.Errorf("stripe: event %s: %w", ev.ID, err)
		}
		sub := s.Metadata[MetaSubscriptionID]
		if s.Mode != stripego.CheckoutSessionModeSetup || sub == "" {
			return out, nil
		}
		// The payload carries the SetupIntent's id only: the sink confirms
		// through MandateStatus, which reads it.
		out.Kind, out.SubscriptionID = OutcomeMandate, sub
		out.Mandate = processor.Mandate{ID: s.ID, Status: processor.MandateRequiresAction}
	case "charge.refunded":
		var c stripego.Charge
		if err := json.Unmarshal(raw, &c); err != nil {
			return out, fmt.Errorf("stripe: event %s: %w", ev.ID, err)
		}
		id := c.ID
		if c.PaymentIntent != nil && c.PaymentIntent.ID != "" {
			id = c.PaymentIntent.ID
		}
		out.Kind, out.PaymentID = OutcomeRefund, c.Metadata[MetaPaymentID]
		out.Refund = RefundOutcome{ChargeID: id, AmountRefunded: c.AmountRefunded,
			Currency: strings.ToUpper(string(c.Currency)), FullyRefunded: c.Refunded}
	}
	return out, nil
}

// OutcomeSink applies webhook outcomes to coffer. The Engine does not
// implement it yet: ApplyChargeOutcome needs an Engine method that settles a
// pending payment (or records a late success) from a processor.Charge, as
// Reconcile does after LookupCharge; ApplyMandateOutcome can be
// Engine.ConfirmMandate(ctx, subscriptionID), which reads the mandate back
// through MandateStatus. SinkFuncs adapts functions.
type OutcomeSink interface {
	ApplyChargeOutcome(ctx context.Context, paymentID string, ch processor.Charge) error
	ApplyMandateOutcome(ctx context.Context, subscriptionID string, m processor.Mandate) error
}

// RefundSink is implemented by an OutcomeSink that also wants
// charge.refunded outcomes (refunds made outside coffer, say, in Stripe's
// dashboard). Without it Handler acknowledges them and does nothing.
type RefundSink interface {
	ApplyRefundOutcome(ctx context.Context, paymentID string, r RefundOutcome) error
}

// SinkFuncs is an OutcomeSink (and RefundSink) made of functions; a nil
// function acknowledges its outcomes and does nothing.
type SinkFuncs struct {
	Charge  func(ctx context.Context, paymentID string, ch processor.Charge) error
	Mandate func(ctx context.Context, subscriptionID string, m processor.Mandate) error
	Refund  func(ctx context.Context, paymentID string, r RefundOutcome) error
}

// ApplyChargeOutcome calls f.Charge.
func (f SinkFuncs) ApplyChargeOutcome(ctx context.Context, paymentID string, ch processor.Charge) error {
	if f.Charge == nil {
		return nil
	}
	return f.Charge(ctx, paymentID, ch)
}

// ApplyMandateOutcome calls f.Mandate.
func (f SinkFuncs) ApplyMandateOutcome(ctx context.Context, subscriptionID string, m processor.Mandate) error {
	if f.Mandate == nil {
		return nil
	}
	return f.Mandate(ctx, subscriptionID, m)
}

// ApplyRefundOutcome calls f.Refund.
func (f SinkFuncs) ApplyRefundOutcome(ctx context.Context, paymentID string, r RefundOutcome) error {
	if f.Refund == nil {
		return nil
	}
	return f.Refund(ctx, paymentID, r)
}

// MaxWebhookBytes bounds a webhook body Handler reads.
const MaxWebhookBytes = 1 << 20

// Handler serves Stripe's webhook endpoint: POST only; a body that does not
// verify is 400; a verified event is handed to sink by kind and answered
// 200, or 500 if the sink failed (Stripe sends it again later, so the sink
// must be idempotent, as coffer's settlement is). Responses say nothing
// about the secret or the sink's error; log (nil: slog.Default) gets the
// event id, type and error.
func (p *Processor) Handler(sink OutcomeSink, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBytes))
		if err != nil {
			http.Error(w, "body too large or unreadable", http.StatusBadRequest)
			return
		}
		out, err := p.ParseEvent(body, r.Header.Get("Stripe-Signature"))
		if err != nil {
			log.Warn("stripe webhook rejected", "error", err.Error())
			if errors.Is(err, ErrNoWebhookSecret) {
				http.Error(w, "webhook endpoint not configured", http.StatusInternalServerError)
				return
			}
			http.Error(w, "webhook not verified", http.StatusBadRequest)
			return
		}
		ctx := r.Context()
		switch out.Kind {
		case OutcomeCharge:
			err = sink.ApplyChargeOutcome(ctx, out.PaymentID, out.Charge)
		case OutcomeMandate:
			err = sink.ApplyMandateOutcome(ctx, out.SubscriptionID, out.Mandate)
		case OutcomeRefund:
			if rs, ok := sink.(RefundSink); ok {
				err = rs.ApplyRefundOutcome(ctx, out.PaymentID, out.Refund)
			}
		}
		if err != nil {
			log.Error("stripe webhook not applied", "event_id", out.EventID, "event_type", out.EventType,
				"payment_id", out.PaymentID, "subscription_id", out.SubscriptionID, "error", err.Error())
			http.Error(w, "not applied", http.StatusInternalServerError)
			return
		}
		log.Info("stripe webhook", "event_id", out.EventID, "event_type", out.EventType, "outcome", string(out.Kind),
			"payment_id", out.PaymentID, "subscription_id", out.SubscriptionID)
		w.WriteHeader(http.StatusOK)
	})
}
