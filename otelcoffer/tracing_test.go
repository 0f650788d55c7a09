package otelcoffer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/clock"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/otelcoffer"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store/memory"
	"github.com/cofferhq/coffer/subscription"
)

// traced is an engine whose store, processor and own operations are
// traced into one in-memory exporter, and whose log is JSON in a buffer
// behind LogHandler.
type traced struct {
	eng   *coffer.Engine
	clk   *clock.Test
	exp   *tracetest.InMemoryExporter
	tp    *sdktrace.TracerProvider
	log   *syncBuf
	obs   otelcoffer.Options
	ctx   context.Context
	proc  *processor.Test
	slogs *slog.Logger
}

func newTraced(t *testing.T, opts ...coffer.Option) *traced {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	buf := &syncBuf{}
	log := slog.New(otelcoffer.LogHandler(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	obs := otelcoffer.Options{TracerProvider: tp, Logger: log}
	clk := clock.NewTest(time.Date(2026, 3, 2, 13, 10, 0, 0, time.UTC))
	proc := processor.NewTest(clk)
	s := memory.New()
	t.Cleanup(func() { s.Close() })
	eng, err := coffer.New(otelcoffer.WrapStore(s, obs), append([]coffer.Option{
		coffer.WithProcessor(otelcoffer.WrapProcessor(proc, obs)), coffer.WithTracerProvider(tp),
		coffer.WithClock(clk), coffer.WithLogger(log)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { eng.Close() })
	return &traced{eng: eng, clk: clk, exp: exp, tp: tp, log: buf, obs: obs, ctx: context.Background(), proc: proc, slogs: log}
}

func (v *traced) spans(name string) tracetest.SpanStubs {
	var out tracetest.SpanStubs
	for _, s := range v.exp.GetSpans() {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

func attr(s tracetest.SpanStub, key string) string {
	for _, a := range s.Attributes {
		if string(a.Key) == key {
			return a.Value.Emit()
		}
	}
	return ""
}

// childrenOf returns the spans whose parent is s.
func (v *traced) childrenOf(s tracetest.SpanStub) map[string]int {
	out := map[string]int{}
	for _, c := range v.exp.GetSpans() {
		if c.Parent.SpanID() == s.SpanContext.SpanID() && c.SpanContext.TraceID() == s.SpanContext.TraceID() {
			out[c.Name]++
		}
	}
	return out
}

func TestEngineSpansChargeRefundEntry(t *testing.T) {
	v := newTraced(t)
	c, err := v.eng.CreateCustomer(v.ctx, customer.Params{})
	require.NoError(t, err)
	pay, err := v.eng.ChargeOneTime(v.ctx, c.ID, coffer.OneTimeParams{Amount: 12_00, Currency: "USD", PaymentMethod: processor.CardOK})
	require.NoError(t, err)
	declined, err := v.eng.ChargeOneTime(v.ctx, c.ID, coffer.OneTimeParams{Amount: 3_00, Currency: "USD",
		PaymentMethod: processor.CardInsufficientFunds})
	require.NoError(t, err)
	ref, err := v.eng.Refund(v.ctx, pay.ID, coffer.RefundParams{Amount: 2_00, IdempotencyKey: "r1"})
	require.NoError(t, err)
	ent, err := v.eng.CreateEntry(v.ctx, c.ID, coffer.EntryParams{Amount: 5_00, Currency: "USD", Type: ledger.Credit,
		Reason: "gift", IdempotencyKey: "g1"})
	require.NoError(t, err)
	_, err = v.eng.CreateEntry(v.ctx, c.ID, coffer.EntryParams{Amount: 5_00, Currency: "EUR", Type: "nonsense"})
	require.Error(t, err)

	charges := v.spans("coffer.charge_one_time")
	require.Len(t, charges, 2)
	byID := map[string]tracetest.SpanStub{}
	for _, s := range charges {
		byID[attr(s, "coffer.payment_id")] = s
		require.Equal(t, c.ID, attr(s, "coffer.customer_id"))
		// The operation is the parent of its processor call and its
		// store transactions: one trace per charge.
		kids := v.childrenOf(s)
		require.Equal(t, 1, kids["coffer.processor.charge"], "%v", kids)
		require.GreaterOrEqual(t, kids["coffer.store.update"], 2, "%v", kids)
	}
	require.Equal(t, "succeeded", attr(byID[pay.ID], "outcome"))
	require.Equal(t, "failed", attr(byID[declined.ID], "outcome"))
	require.Equal(t, processor.InsufficientFunds, attr(byID[declined.ID], "decline_code"))
	require.Equal(t, "1200", attr(byID[pay.ID], "coffer.amount"))

	refunds := v.spans("coffer.refund")
	require.Len(t, refunds, 1)
	require.Equal(t, ref.ID, attr(refunds[0], "coffer.refund_id"))
	require.Equal(t, pay.ID, attr(refunds[0], "coffer.payment_id"))
	require.Equal(t, 1, v.childrenOf(refunds[0])["coffer.processor.refund"])

	entries := v.spans("coffer.ledger.entry")
	require.Len(t, entries, 2)
	require.Equal(t, ent.Entry.ID, attr(entries[0], "coffer.entry_id"))
	require.Equal(t, "credit", attr(entries[0], "entry_type"))
	require.Equal(t, "Unset", entries[0].Status.Code.String())
	require.Equal(t, "Error", entries[1].Status.Code.String(), "a refused entry is an error span")

	for _, s := range v.exp.GetSpans() {
		for _, a := range s.Attributes {
			require.NotContains(t, a.Value.Emit(), "pm_card", "span %s attribute %s", s.Name, a.Key)
		}
	}
}

func TestEngineSpansRetryAttempt(t *testing.T) {
	v := newTraced(t)
	p, err := v.eng.CreateProduct(v.ctx, coffer.ProductParams{Name: "Plan", Description: "Monthly", Price: 25_00, Currency: "USD"})
	require.NoError(t, err)
	no := false
	res, err := v.eng.CreateSubscription(v.ctx, coffer.SubscriptionParams{ProductID: p.ID, Quantity: 1,
		PaymentMethod: processor.CardInsufficientFunds, Customer: &customer.Params{},
		OnDemand: &coffer.OnDemand{MandateOnly: &no}})
	require.NoError(t, err)
	require.Equal(t, subscription.PaymentFailed, res.Payment.Status)

	v.clk.Set(v.clk.Now().Add(3 * retry.Day))
	rep, err := v.eng.RunDue(v.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Attempted)

	attempts := v.spans("coffer.retry.attempt")
	require.Len(t, attempts, 1)
	a := attempts[0]
	require.Equal(t, res.Subscription.ID, attr(a, "coffer.subscription_id"))
	require.Equal(t, res.Payment.ID, attr(a, "coffer.first_payment_id"))
	require.Equal(t, "2", attr(a, "coffer.attempt"))
	require.Equal(t, string(retry.AttemptFailed), attr(a, "outcome"))
	require.Equal(t, processor.InsufficientFunds, attr(a, "decline_code"))
	retryPayment := attr(a, "coffer.payment_id")
	require.NotEmpty(t, retryPayment)
	require.NotEqual(t, res.Payment.ID, retryPayment)
	kids := v.childrenOf(a)
	require.Equal(t, 1, kids["coffer.processor.charge"], "the attempt's charge is its child: %v", kids)
	require.NotZero(t, kids["coffer.store.update"], "%v", kids)

	// The mandate's line names its operation once.
	logs := v.log.String()
	require.Contains(t, logs, `"msg":"coffer: processor authorize_mandate"`)
	for _, l := range strings.Split(logs, "\n") {
		require.LessOrEqual(t, strings.Count(l, `"operation"`), 1, l)
	}
}

func TestEngineSpansWebhookDelivery(t *testing.T) {
	status := http.StatusInternalServerError
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) }))
	defer srv.Close()
	v := newTraced(t, coffer.WithWebhookOptions(coffer.WebhookOptions{AllowPrivateNetworks: true}))
	ep, err := v.eng.CreateEndpoint(v.ctx, coffer.EndpointParams{URL: srv.URL, EventTypes: []string{coffer.EventCustomerCreated}})
	require.NoError(t, err)
	c, err := v.eng.CreateCustomer(v.ctx, customer.Params{})
	require.NoError(t, err)
	_, err = v.eng.DispatchDue(v.ctx)
	require.NoError(t, err)
	status = http.StatusNoContent
	v.clk.Set(v.clk.Now().Add(time.Hour))
	_, err = v.eng.DispatchDue(v.ctx)
	require.NoError(t, err)

	spans := v.spans("coffer.webhook.deliver")
	require.Len(t, spans, 2)
	for i, want := range []struct {
		code, outcome, attempt, status string
	}{{"500", "retrying", "1", "Error"}, {"204", "succeeded", "2", "Unset"}} {
		s := spans[i]
		require.Equal(t, trace.SpanKindClient, s.SpanKind)
		require.Equal(t, ep.ID, attr(s, "coffer.endpoint_id"))
		require.Equal(t, c.ID, attr(s, "coffer.customer_id"))
		require.Equal(t, coffer.EventCustomerCreated, attr(s, "event_type"))
		require.Equal(t, want.code, attr(s, "http.response.status_code"))
		require.Equal(t, want.outcome, attr(s, "outcome"))
		require.Equal(t, want.attempt, attr(s, "coffer.attempt"))
		require.Equal(t, want.status, s.Status.Code.String())
		require.NotZero(t, v.childrenOf(s)["coffer.store.update"], "recording the attempt is its child")
	}
}

// TestNoEngineSpansWithoutProvider: without WithTracerProvider the engine
// makes no span of its own (the wrappers still do).
func TestNoEngineSpansWithoutProvider(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	obs := otelcoffer.Options{TracerProvider: tp, Logger: slog.New(slog.DiscardHandler)}
	s := memory.New()
	defer s.Close()
	eng, err := coffer.New(otelcoffer.WrapStore(s, obs), coffer.WithProcessor(otelcoffer.WrapProcessor(processor.NewTest(nil), obs)))
	require.NoError(t, err)
	defer eng.Close()
	c, err := eng.CreateCustomer(context.Background(), customer.Params{})
	require.NoError(t, err)
	_, err = eng.ChargeOneTime(context.Background(), c.ID, coffer.OneTimeParams{Amount: 1_00, Currency: "USD", PaymentMethod: processor.CardOK})
	require.NoError(t, err)
	names := map[string]bool{}
	for _, s := range exp.GetSpans() {
		names[s.Name] = true
	}
	require.True(t, names["coffer.processor.charge"])
	require.False(t, names["coffer.charge_one_time"])
}

// syncBuf is a bytes.Buffer safe for the engine's goroutines.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lines decodes the JSON log lines.
func (s *syncBuf) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		out = append(out, m)
	}
	return out
}
