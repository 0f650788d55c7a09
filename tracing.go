package coffer

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/cofferhq/coffer/subscription"
)

// TracerScope is the instrumentation scope of the engine's own spans.
const TracerScope = "github.com/cofferhq/coffer"

// WithTracerProvider makes the engine's background work traced on tp: a
// span per retry attempt (coffer.retry.attempt, the parent of the
// attempt's charge, store transactions and processor call) and per webhook
// delivery attempt (coffer.webhook.deliver, a client span with the
// endpoint's HTTP status). Without it the engine makes no span of its own.
// Calls made through the API are traced by otelcoffer's HTTPMiddleware,
// WrapStore and WrapProcessor, which take the same provider.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(e *Engine) error {
		if tp == nil {
			return errors.Join(ErrInvalidConfig, errors.New("coffer: nil TracerProvider"))
		}
		e.tracer = tp.Tracer(TracerScope)
		return nil
	}
}

// The spans of the engine's own operations, made only with
// WithTracerProvider (callers check e.tracer first, so an engine without
// one pays a nil check): each is the parent of the operation's store
// transactions and processor call (otelcoffer's WrapStore and
// WrapProcessor spans). Each returns the context to run the operation
// in and the function that ends the span with the operation's result.

func (e *Engine) spanOneTime(ctx context.Context, customerID string, p OneTimeParams) (context.Context, func(subscription.Payment, error)) {
	ctx, span := e.tracer.Start(ctx, "coffer.charge_one_time", trace.WithAttributes(
		attribute.String("coffer.customer_id", customerID), attribute.Int64("coffer.amount", p.Amount),
		attribute.String("currency", p.Currency)))
	return ctx, func(pay subscription.Payment, err error) { endPaymentSpan(span, pay, err) }
}

func (e *Engine) spanCharge(ctx context.Context, subscriptionID string) (context.Context, func(subscription.Payment, error)) {
	ctx, span := e.tracer.Start(ctx, "coffer.charge", trace.WithAttributes(attribute.String("coffer.subscription_id", subscriptionID)))
	return ctx, func(pay subscription.Payment, err error) { endPaymentSpan(span, pay, err) }
}

func (e *Engine) spanRefund(ctx context.Context, paymentID string, p RefundParams) (context.Context, func(subscription.Refund, error)) {
	ctx, span := e.tracer.Start(ctx, "coffer.refund", trace.WithAttributes(attribute.String("coffer.payment_id", paymentID),
		attribute.Int64("coffer.amount", p.Amount)))
	return ctx, func(r subscription.Refund, err error) {
		endSpan(span, err, attribute.String("coffer.refund_id", r.ID), attribute.String("outcome", string(r.Status)),
			attribute.String("coffer.customer_id", r.CustomerID))
	}
}

func (e *Engine) spanEntry(ctx context.Context, customerID string, p EntryParams) (context.Context, func(EntryResult, error)) {
	ctx, span := e.tracer.Start(ctx, "coffer.ledger.entry", trace.WithAttributes(
		attribute.String("coffer.customer_id", customerID), attribute.String("entry_type", string(p.Type)),
		attribute.Int64("coffer.amount", p.Amount), attribute.String("currency", p.Currency)))
	return ctx, func(r EntryResult, err error) {
		endSpan(span, err, attribute.String("coffer.entry_id", r.Entry.ID), attribute.Bool("coffer.replayed", r.Replayed))
	}
}

// endSpan ends span with err, recorded with its message (coffer's errors
// carry no secret).
func endSpan(span trace.Span, err error, attrs ...attribute.KeyValue) {
	span.SetAttributes(attrs...)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "error")
	}
	span.End()
}

func endPaymentSpan(span trace.Span, pay subscription.Payment, err error) {
	endSpan(span, err, attribute.String("coffer.payment_id", pay.ID), attribute.String("outcome", string(pay.Status)),
		attribute.String("decline_code", pay.DeclineCode), attribute.String("coffer.customer_id", pay.CustomerID))
}
