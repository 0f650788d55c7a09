// Package otelcoffer instruments a coffer Engine with OpenTelemetry
// metrics and traces, from the outside: it decorates the two things an
// Engine is built on, its store.Store and its processor.Processor, and the
// HTTP handler in front of it.
//
//	obs := otelcoffer.Options{} // the global MeterProvider and TracerProvider
//	eng, err := coffer.New(otelcoffer.WrapStore(s, obs),
//		coffer.WithProcessor(otelcoffer.WrapProcessor(p, obs)))
//	srv.Handler = otelcoffer.HTTPMiddleware(api, otelcoffer.HTTPOptions{Options: obs})
//
// WrapStore times every transaction (coffer.store.transaction.duration,
// by kind and outcome) under a span, and counts what committed
// transactions wrote: ledger entries, outbox events, retry attempts and
// webhook deliveries by status. A write is counted only once its
// transaction has committed, and once even when the adapter re-ran the
// transaction's function after a conflict.
//
// WrapProcessor counts charges by outcome and decline code, mandates,
// refunds and charge lookups, times every processor call
// (coffer.processor.duration) under a span, and writes a slog line per
// call with coffer's payment (or refund, or subscription) id.
//
// HTTPMiddleware gives every request a server span (named by its route,
// a child of the caller's W3C traceparent) and a request id, both in the
// request's context; LogHandler adds that request id and the trace and
// span ids to every log line written with the context, the engine's own
// lines included. coffer.WithTracerProvider, given the same provider,
// adds the engine's own spans (charges, refunds, ledger entries, retry
// attempts, webhook deliveries) as the parents of these.
//
// Attributes carry coffer's own ids at most (payment, refund, subscription
// ids, on spans and log lines, never on metrics), amounts and currencies:
// never a payment method, a mandate or card token, a processor's charge id
// or an API key.
package otelcoffer

import (
	"log/slog"
	"regexp"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of coffer's meter and tracer.
const ScopeName = "github.com/cofferhq/coffer/otelcoffer"

// Options selects the host's providers. Zero fields are otel's global
// providers (otel.GetMeterProvider, otel.GetTracerProvider) and
// slog.Default().
type Options struct {
	MeterProvider  metric.MeterProvider
	TracerProvider trace.TracerProvider
	// Logger receives one line per processor call (see WrapProcessor).
	Logger *slog.Logger
}

// Metric names, as OpenTelemetry names them. A Prometheus exporter turns
// the dots into underscores and adds _total to counters and _seconds to
// the durations: coffer_charges_total, coffer_store_transaction_duration_seconds.
const (
	MetricStoreDuration     = "coffer.store.transaction.duration"
	MetricProcessorDuration = "coffer.processor.duration"
	MetricCharges           = "coffer.charges"
	MetricChargeLookups     = "coffer.charge_lookups"
	MetricMandates          = "coffer.mandates"
	MetricRefunds           = "coffer.refunds"
	MetricLedgerEntries     = "coffer.ledger.entries"
	MetricEvents            = "coffer.events"
	MetricRetryAttempts     = "coffer.retry.attempts"
	MetricWebhookDeliveries = "coffer.webhook.deliveries"
	// MetricHTTPDuration is OpenTelemetry's semantic-convention name for
	// server request durations (HTTPMiddleware): Prometheus'
	// http_server_request_duration_seconds.
	MetricHTTPDuration = "http.server.request.duration"
)

// Attribute keys.
const (
	attrKind        = attribute.Key("kind")      // store: update, view, bulk
	attrOutcome     = attribute.Key("outcome")   // ok, error; succeeded, failed, unknown, ...
	attrOperation   = attribute.Key("operation") // processor method
	attrDeclineCode = attribute.Key("decline_code")
	attrStatus      = attribute.Key("status")
	attrEntryType   = attribute.Key("entry_type")
	attrCurrency    = attribute.Key("currency")
	attrEventType   = attribute.Key("event_type")

	attrPaymentID      = attribute.Key("coffer.payment_id")
	attrRefundID       = attribute.Key("coffer.refund_id")
	attrSubscriptionID = attribute.Key("coffer.subscription_id")
	attrAmount         = attribute.Key("coffer.amount")
	attrRequestID      = attribute.Key("coffer.request_id")
)

// durationBuckets suit both a store transaction (sub-millisecond on bbolt)
// and a processor call (a second or more to a card network).
var durationBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

type instruments struct {
	tracer trace.Tracer
	log    *slog.Logger

	storeDuration     metric.Float64Histogram
	processorDuration metric.Float64Histogram
	charges           metric.Int64Counter
	lookups           metric.Int64Counter
	mandates          metric.Int64Counter
	refunds           metric.Int64Counter
	entries           metric.Int64Counter
	events            metric.Int64Counter
	attempts          metric.Int64Counter
	deliveries        metric.Int64Counter
	httpDuration      metric.Float64Histogram
}

// newInstruments builds the instruments on o's providers. An instrument
// the meter refuses is reported to otel.Handle and left a no-op: metrics
// never stop billing.
func newInstruments(o Options) *instruments {
	mp, tp, log := o.MeterProvider, o.TracerProvider, o.Logger
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if log == nil {
		log = slog.Default()
	}
	m := mp.Meter(ScopeName)
	in := &instruments{tracer: tp.Tracer(ScopeName), log: log}
	hist := func(name, desc string) metric.Float64Histogram {
		h, err := m.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc),
			metric.WithExplicitBucketBoundaries(durationBuckets...))
		if err != nil {
			otel.Handle(err)
		}
		return h
	}
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, err := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		if err != nil {
			otel.Handle(err)
		}
		return c
	}
	in.storeDuration = hist(MetricStoreDuration, "Duration of coffer's store transactions, by kind (update, view, bulk) and outcome (ok, error).")
	in.processorDuration = hist(MetricProcessorDuration, "Duration of payment processor calls, by operation and outcome.")
	in.charges = counter(MetricCharges, "{charge}", "Charges sent to the payment processor, by outcome (succeeded, failed, unknown, error) and decline code.")
	in.lookups = counter(MetricChargeLookups, "{lookup}", "Charge lookups after a lost answer, by outcome (succeeded, failed, not_found, unknown, error).")
	in.mandates = counter(MetricMandates, "{mandate}", "Mandate authorisations and status checks, by operation, status and decline code.")
	in.refunds = counter(MetricRefunds, "{refund}", "Refunds sent to the payment processor, by outcome (succeeded, unknown, error).")
	in.entries = counter(MetricLedgerEntries, "{entry}", "Ledger entries committed, by entry type and currency.")
	in.events = counter(MetricEvents, "{event}", "Outbox events committed, by event type.")
	in.attempts = counter(MetricRetryAttempts, "{attempt}", "Payment retry attempts committed, by status (scheduled, claimed, succeeded, failed, cancelled).")
	in.httpDuration = hist(MetricHTTPDuration, "Duration of HTTP requests served, by method, route (the pattern, never the path) and status code.")
	in.deliveries = counter(MetricWebhookDeliveries, "{delivery}", "Webhook delivery states committed, by status (queued, retrying, succeeded, failed).")
	return in
}

// codeRE bounds a label taken from a processor's answer: processors'
// decline codes are short identifiers; anything else is "other", so a
// misbehaving adapter cannot explode the series count.
var codeRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,48}$`)

func label(s string) string {
	switch {
	case s == "":
		return "none"
	case codeRE.MatchString(s):
		return s
	}
	return "other"
}
