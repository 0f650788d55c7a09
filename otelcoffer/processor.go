package otelcoffer

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/cofferhq/coffer/processor"
)

// WrapProcessor returns p instrumented: each call is timed
// (coffer.processor.duration, by operation and outcome) under a client
// span coffer.processor.<operation>, counted (coffer.charges by outcome
// and decline code, coffer.charge_lookups, coffer.mandates,
// coffer.refunds) and logged with coffer's id of the payment, refund or
// subscription, the request id (HTTPMiddleware, WithRequestID) and the
// trace id: charges, refunds and mandate authorisations at info level,
// lookups and mandate checks at debug, any call that failed (an unknown
// outcome included) at warn.
//
// Outcomes: succeeded and failed are the processor's answers (a decline is
// failed with its decline code); unknown is processor.ErrUnavailable (the
// charge may or may not have happened: coffer resolves it with
// LookupCharge); not_found is a lookup's processor.ErrNotFound; error is
// any other error.
func WrapProcessor(p processor.Processor, o Options) processor.Processor {
	return &obsProcessor{p: p, in: newInstruments(o)}
}

type obsProcessor struct {
	p  processor.Processor
	in *instruments
}

// Unwrap returns the wrapped processor.
func (w *obsProcessor) Unwrap() processor.Processor { return w.p }

// call is one instrumented processor call.
type call struct {
	in    *instruments
	ctx   context.Context
	span  trace.Span
	op    string
	start time.Time
	ids   []attribute.KeyValue // span and log only, never metrics
}

func (w *obsProcessor) begin(ctx context.Context, op string, ids ...attribute.KeyValue) *call {
	ctx, span := w.in.tracer.Start(ctx, "coffer.processor."+op, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(ids...))
	return &call{in: w.in, ctx: ctx, span: span, op: op, start: time.Now(), ids: ids}
}

// end records the call's outcome; extra are attributes of the span and
// the log line; labels, of the counter too.
func (c *call) end(counter metric.Int64Counter, outcome string, err error, labels []attribute.KeyValue, extra ...attribute.KeyValue) {
	elapsed := time.Since(c.start)
	c.span.SetAttributes(attrOutcome.String(outcome))
	c.span.SetAttributes(labels...)
	c.span.SetAttributes(extra...)
	if err != nil {
		c.span.RecordError(err)
		c.span.SetStatus(codes.Error, outcome)
	}
	c.span.End()
	c.in.processorDuration.Record(c.ctx, elapsed.Seconds(),
		metric.WithAttributes(attrOperation.String(c.op), attrOutcome.String(outcome)))
	counter.Add(c.ctx, 1, metric.WithAttributes(append([]attribute.KeyValue{attrOutcome.String(outcome)}, labels...)...))

	level := callLevel(c.op, err)
	if !c.in.log.Enabled(c.ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 8+len(c.ids)+len(labels)+len(extra))
	attrs = append(attrs, slog.String("operation", c.op), slog.String("outcome", outcome))
	for _, kv := range c.ids {
		attrs = append(attrs, slogAttr(kv))
	}
	for _, kv := range labels {
		if kv.Key != attrOperation { // already the line's operation
			attrs = append(attrs, slogAttr(kv))
		}
	}
	for _, kv := range extra {
		attrs = append(attrs, slogAttr(kv))
	}
	attrs = append(attrs, slog.Duration("duration", elapsed))
	if id := RequestID(c.ctx); id != "" {
		attrs = append(attrs, slog.String("request_id", id))
	}
	if sc := c.span.SpanContext(); sc.IsValid() {
		attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	c.in.log.LogAttrs(c.ctx, level, "coffer: processor "+c.op, attrs...)
}

// callLevel is the level of a processor call's line: warn for an error
// (unknown outcome included), info for the calls that move money or
// authorise it (charge, refund, authorize_mandate, declines included),
// debug for the checks (lookup_charge, mandate_status).
func callLevel(op string, err error) slog.Level {
	switch {
	case err != nil:
		return slog.LevelWarn
	case op == "charge" || op == "refund" || op == "authorize_mandate":
		return slog.LevelInfo
	}
	return slog.LevelDebug
}

// slogAttr names an attribute for a log line: coffer.payment_id logs as
// payment_id, like the rest of coffer's lines.
func slogAttr(kv attribute.KeyValue) slog.Attr {
	k := string(kv.Key)
	if len(k) > 7 && k[:7] == "coffer." {
		k = k[7:]
	}
	return slog.Any(k, kv.Value.AsInterface())
}

func errOutcome(err error) string {
	switch {
	case errors.Is(err, processor.ErrUnavailable):
		return "unknown"
	case errors.Is(err, processor.ErrNotFound):
		return "not_found"
	}
	return "error"
}

func chargeOutcome(ch processor.Charge) string {
	switch ch.Status {
	case processor.ChargeSucceeded:
		return "succeeded"
	case processor.ChargeFailed:
		return "failed"
	}
	return "other"
}

func (w *obsProcessor) Charge(ctx context.Context, req processor.ChargeRequest) (processor.Charge, error) {
	c := w.begin(ctx, "charge", attrPaymentID.String(req.IdempotencyKey), attrAmount.Int64(req.Amount))
	ch, err := w.p.Charge(c.ctx, req)
	if err != nil {
		c.end(w.in.charges, errOutcome(err), err, []attribute.KeyValue{attrCurrency.String(label(req.Currency)), attrDeclineCode.String("none")})
		return ch, err
	}
	c.end(w.in.charges, chargeOutcome(ch), nil,
		[]attribute.KeyValue{attrCurrency.String(label(req.Currency)), attrDeclineCode.String(label(ch.DeclineCode))})
	return ch, nil
}

func (w *obsProcessor) LookupCharge(ctx context.Context, idempotencyKey string) (processor.Charge, error) {
	c := w.begin(ctx, "lookup_charge", attrPaymentID.String(idempotencyKey))
	ch, err := w.p.LookupCharge(c.ctx, idempotencyKey)
	if err != nil {
		c.end(w.in.lookups, errOutcome(err), ignoreNotFound(err), []attribute.KeyValue{attrDeclineCode.String("none")})
		return ch, err
	}
	c.end(w.in.lookups, chargeOutcome(ch), nil, []attribute.KeyValue{attrDeclineCode.String(label(ch.DeclineCode))})
	return ch, nil
}

// ignoreNotFound: a lookup that finds nothing is an answer, not a failure
// of the call.
func ignoreNotFound(err error) error {
	if errors.Is(err, processor.ErrNotFound) {
		return nil
	}
	return err
}

func (w *obsProcessor) AuthorizeMandate(ctx context.Context, req processor.MandateRequest) (processor.Mandate, error) {
	c := w.begin(ctx, "authorize_mandate", attrSubscriptionID.String(req.IdempotencyKey))
	m, err := w.p.AuthorizeMandate(c.ctx, req)
	w.endMandate(c, m, err)
	return m, err
}

func (w *obsProcessor) MandateStatus(ctx context.Context, mandateID string) (processor.Mandate, error) {
	// The mandate id is the processor's token for the payment method: it
	// is not recorded.
	c := w.begin(ctx, "mandate_status")
	m, err := w.p.MandateStatus(c.ctx, mandateID)
	w.endMandate(c, m, err)
	return m, err
}

func (w *obsProcessor) endMandate(c *call, m processor.Mandate, err error) {
	op := attrOperation.String(c.op)
	if err != nil {
		c.end(w.in.mandates, errOutcome(err), err, []attribute.KeyValue{op, attrDeclineCode.String("none")})
		return
	}
	c.end(w.in.mandates, label(string(m.Status)), nil, []attribute.KeyValue{op, attrDeclineCode.String(label(m.DeclineCode))})
}

func (w *obsProcessor) Refund(ctx context.Context, req processor.RefundRequest) (processor.Refund, error) {
	c := w.begin(ctx, "refund", attrRefundID.String(req.IdempotencyKey), attrAmount.Int64(req.Amount))
	r, err := w.p.Refund(c.ctx, req)
	if err != nil {
		c.end(w.in.refunds, errOutcome(err), err, []attribute.KeyValue{attrCurrency.String(label(req.Currency))})
		return r, err
	}
	c.end(w.in.refunds, "succeeded", nil, []attribute.KeyValue{attrCurrency.String(label(req.Currency))})
	return r, nil
}
