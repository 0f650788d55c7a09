package otelcoffer_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/clock"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/otelcoffer"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/bolt"
	"github.com/cofferhq/coffer/store/memory"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/webhook"
)

type env struct {
	eng    *coffer.Engine
	s      store.Store // the wrapped store
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	log    *bytes.Buffer
	ctx    context.Context
}

func newEnv(t *testing.T, opts ...coffer.Option) *env {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	spans := tracetest.NewSpanRecorder()
	var log bytes.Buffer
	o := otelcoffer.Options{
		MeterProvider:  sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
		TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)),
		Logger:         slog.New(slog.NewJSONHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	s := memory.New()
	t.Cleanup(func() { s.Close() })
	ws := otelcoffer.WrapStore(s, o)
	eng, err := coffer.New(ws,
		append([]coffer.Option{coffer.WithProcessor(otelcoffer.WrapProcessor(processor.NewTest(nil), o))}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { eng.Close() })
	return &env{eng: eng, s: ws, reader: reader, spans: spans, log: &log, ctx: context.Background()}
}

func (v *env) customer(t *testing.T) customer.Customer {
	name := "Ada"
	c, err := v.eng.CreateCustomer(v.ctx, customer.Params{Name: &name})
	require.NoError(t, err)
	return c
}

func (v *env) collect(t *testing.T) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, v.reader.Collect(v.ctx, &rm))
	return rm
}

func find(rm metricdata.ResourceMetrics, name string) (metricdata.Metrics, bool) {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m, true
			}
		}
	}
	return metricdata.Metrics{}, false
}

// counter sums the points of a counter whose attributes include want.
func counter(t *testing.T, rm metricdata.ResourceMetrics, name string, want ...attribute.KeyValue) int64 {
	t.Helper()
	m, ok := find(rm, name)
	if !ok {
		return 0
	}
	sum, ok := m.Data.(metricdata.Sum[int64])
	require.True(t, ok, "%s is a %T", name, m.Data)
	var n int64
	for _, dp := range sum.DataPoints {
		if hasAll(dp.Attributes, want) {
			n += dp.Value
		}
	}
	return n
}

// histCount counts the observations of a histogram whose attributes
// include want.
func histCount(t *testing.T, rm metricdata.ResourceMetrics, name string, want ...attribute.KeyValue) uint64 {
	t.Helper()
	m, ok := find(rm, name)
	if !ok {
		return 0
	}
	h, ok := m.Data.(metricdata.Histogram[float64])
	require.True(t, ok, "%s is a %T", name, m.Data)
	var n uint64
	for _, dp := range h.DataPoints {
		if hasAll(dp.Attributes, want) {
			n += dp.Count
		}
	}
	return n
}

func hasAll(set attribute.Set, want []attribute.KeyValue) bool {
	for _, kv := range want {
		if v, ok := set.Value(kv.Key); !ok || v != kv.Value {
			return false
		}
	}
	return true
}

func kv(k, v string) attribute.KeyValue { return attribute.String(k, v) }

func TestChargesByOutcomeAndDeclineCode(t *testing.T) {
	v := newEnv(t)
	c := v.customer(t)

	ok, err := v.eng.ChargeOneTime(v.ctx, c.ID, coffer.OneTimeParams{Amount: 10_00, Currency: "USD", PaymentMethod: processor.CardOK})
	require.NoError(t, err)
	require.Equal(t, subscription.PaymentSucceeded, ok.Status)
	declined, err := v.eng.ChargeOneTime(v.ctx, c.ID, coffer.OneTimeParams{Amount: 5_00, Currency: "USD",
		PaymentMethod: processor.CardInsufficientFunds})
	require.NoError(t, err)
	require.Equal(t, subscription.PaymentFailed, declined.Status)
	_, err = v.eng.Refund(v.ctx, ok.ID, coffer.RefundParams{IdempotencyKey: "r1"})
	require.NoError(t, err)

	rm := v.collect(t)
	require.EqualValues(t, 1, counter(t, rm, otelcoffer.MetricCharges, kv("outcome", "succeeded"), kv("decline_code", "none"),
		kv("currency", "USD")))
	require.EqualValues(t, 1, counter(t, rm, otelcoffer.MetricCharges, kv("outcome", "failed"),
		kv("decline_code", processor.InsufficientFunds)))
	require.EqualValues(t, 2, counter(t, rm, otelcoffer.MetricCharges))
	require.EqualValues(t, 1, counter(t, rm, otelcoffer.MetricRefunds, kv("outcome", "succeeded")))
	require.EqualValues(t, 2, histCount(t, rm, otelcoffer.MetricProcessorDuration, kv("operation", "charge")))
	require.EqualValues(t, 1, histCount(t, rm, otelcoffer.MetricProcessorDuration, kv("operation", "refund")))
	require.EqualValues(t, 1, counter(t, rm, otelcoffer.MetricEvents, kv("event_type", coffer.EventPaymentSucceeded)))
	require.EqualValues(t, 1, counter(t, rm, otelcoffer.MetricEvents, kv("event_type", coffer.EventPaymentFailed)))
	require.EqualValues(t, 1, counter(t, rm, otelcoffer.MetricEvents, kv("event_type", coffer.EventRefundSucceeded)))

	// Spans: one client span per processor call, with coffer's payment id
	// and never the payment method.
	var charges []sdktrace.ReadOnlySpan
	for _, s := range v.spans.Ended() {
		if s.Name() == "coffer.processor.charge" {
			charges = append(charges, s)
		}
		for _, a := range s.Attributes() {
			require.NotContains(t, a.Value.Emit(), "pm_card", "span %s attribute %s", s.Name(), a.Key)
		}
	}
	require.Len(t, charges, 2)
	ids := map[string]string{}
	for _, s := range charges {
		attrs := attribute.NewSet(s.Attributes()...)
		id, _ := attrs.Value("coffer.payment_id")
		out, _ := attrs.Value("outcome")
		ids[id.AsString()] = out.AsString()
	}
	require.Equal(t, map[string]string{ok.ID: "succeeded", declined.ID: "failed"}, ids)

	// Debug lines carry the payment id, never the card token.
	logs := v.log.String()
	require.Contains(t, logs, `"payment_id":"`+ok.ID+`"`)
	require.Contains(t, logs, `"payment_id":"`+declined.ID+`"`)
	require.Contains(t, logs, `"decline_code":"INSUFFICIENT_FUNDS"`)
	require.Contains(t, logs, `"msg":"coffer: processor refund"`)
	require.NotContains(t, logs, "pm_card")
}

func TestStoreTransactionsAndLedgerEntries(t *testing.T) {
	v := newEnv(t)
	c := v.customer(t)
	_, err := v.eng.CreateEntry(v.ctx, c.ID, coffer.EntryParams{Amount: 3_00, Currency: "USD", Type: ledger.Credit,
		Reason: "gift", IdempotencyKey: "g1"})
	require.NoError(t, err)
	// The same key again: no second entry.
	_, err = v.eng.CreateEntry(v.ctx, c.ID, coffer.EntryParams{Amount: 3_00, Currency: "USD", Type: ledger.Credit,
		Reason: "gift", IdempotencyKey: "g1"})
	require.NoError(t, err)
	// A rolled-back Update counts as an error and its writes are not counted.
	boom := errors.New("boom")
	err = v.s.Update(v.ctx, func(tx store.Tx) error {
		require.NoError(t, tx.InsertEvent(webhook.Event{ID: "evt_rolled_back", Type: coffer.EventCustomerUpdated,
			CustomerID: c.ID, Data: []byte(`{}`), CreatedAt: time.Now()}))
		return boom
	})
	require.ErrorIs(t, err, boom)
	require.NoError(t, v.eng.View(v.ctx, func(tx store.ReadTx) error { _, err := tx.Customer(c.ID); return err }))

	rm := v.collect(t)
	require.EqualValues(t, 1, counter(t, rm, otelcoffer.MetricLedgerEntries, kv("entry_type", string(ledger.Credit)),
		kv("currency", "USD")))
	require.EqualValues(t, 1, counter(t, rm, otelcoffer.MetricEvents, kv("event_type", coffer.EventBalanceChanged)))
	require.EqualValues(t, 1, counter(t, rm, otelcoffer.MetricEvents, kv("event_type", coffer.EventCustomerCreated)))
	require.Zero(t, counter(t, rm, otelcoffer.MetricEvents, kv("event_type", coffer.EventCustomerUpdated)))
	require.NotZero(t, histCount(t, rm, otelcoffer.MetricStoreDuration, kv("kind", "update"), kv("outcome", "ok")))
	require.EqualValues(t, 1, histCount(t, rm, otelcoffer.MetricStoreDuration, kv("kind", "update"), kv("outcome", "error")))
	require.NotZero(t, histCount(t, rm, otelcoffer.MetricStoreDuration, kv("kind", "view"), kv("outcome", "ok")))

	var update, view, failed int
	for _, s := range v.spans.Ended() {
		switch s.Name() {
		case "coffer.store.update":
			update++
			if s.Status().Code.String() == "Error" {
				failed++
			}
		case "coffer.store.view":
			view++
		}
	}
	require.NotZero(t, update)
	require.NotZero(t, view)
	require.Equal(t, 1, failed)
}

func TestWebhookDeliveries(t *testing.T) {
	fail := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	v := newEnv(t, coffer.WithWebhookOptions(coffer.WebhookOptions{AllowPrivateNetworks: true}))
	_, err := v.eng.CreateEndpoint(v.ctx, coffer.EndpointParams{URL: srv.URL, EventTypes: []string{coffer.EventCustomerCreated}})
	require.NoError(t, err)
	v.customer(t)
	_, err = v.eng.DispatchDue(v.ctx)
	require.NoError(t, err)

	rm := v.collect(t)
	require.EqualValues(t, 1, counter(t, rm, otelcoffer.MetricWebhookDeliveries, kv("status", "queued")))
	require.EqualValues(t, 1, counter(t, rm, otelcoffer.MetricWebhookDeliveries, kv("status", "retrying")))
	require.Zero(t, counter(t, rm, otelcoffer.MetricWebhookDeliveries, kv("status", "succeeded")))
}

func TestUnavailableChargeIsUnknown(t *testing.T) {
	v := newEnv(t)
	c := v.customer(t)
	_, _ = v.eng.ChargeOneTime(v.ctx, c.ID, coffer.OneTimeParams{Amount: 1_00, Currency: "USD", PaymentMethod: processor.CardNetworkError})
	rm := v.collect(t)
	require.EqualValues(t, 1, counter(t, rm, otelcoffer.MetricCharges, kv("outcome", "unknown")))
	// coffer resolves the unknown outcome with a lookup, which finds nothing.
	require.NotZero(t, counter(t, rm, otelcoffer.MetricChargeLookups, kv("outcome", "not_found")))
	require.True(t, strings.Contains(v.log.String(), "lookup_charge"))
}

// A store with a Bulk transaction (bbolt's, which imports use) keeps it
// through the wrapper; one without does not gain one.
func TestWrapStoreKeepsBulk(t *testing.T) {
	b, err := bolt.Open(filepath.Join(t.TempDir(), "coffer.db"))
	require.NoError(t, err)
	defer b.Close()
	type bulker interface {
		Bulk(ctx context.Context, fn func(store.Tx) error) error
	}
	w := otelcoffer.WrapStore(b, otelcoffer.Options{})
	bs, ok := w.(bulker)
	require.True(t, ok)
	require.NoError(t, bs.Bulk(context.Background(), func(store.Tx) error { return nil }))
	_, ok = otelcoffer.WrapStore(memory.New(), otelcoffer.Options{}).(bulker)
	require.False(t, ok)
}

// TestWrapStoreKeepsOptionalTx: a wrapped store keeps what the adapter's
// Tx offers beyond store.Tx, so the Engine takes the same paths (credit
// grants above all: without them credit terms would be refused).
func TestWrapStoreKeepsOptionalTx(t *testing.T) {
	s := otelcoffer.WrapStore(memory.New(), otelcoffer.Options{})
	require.NoError(t, s.View(context.Background(), func(tx store.Tx) error {
		_, grants := store.As[store.CreditGrants](tx)
		_, finder := tx.(store.EntryKeyFinder)
		_, inserter := tx.(store.EntryKeyInserter)
		require.True(t, grants, "credit grants lost")
		require.True(t, finder && inserter)
		return nil
	}))
}

// TestWrappedEngineTracksGrants: credit terms work through a wrapped store.
func TestWrappedEngineTracksGrants(t *testing.T) {
	clk := clock.NewTest(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	v := newEnv(t, coffer.WithClock(clk))
	c := v.customer(t)
	_, err := v.eng.CreateEntry(v.ctx, c.ID, coffer.EntryParams{Amount: 5_00, Currency: "USD", Type: ledger.Credit,
		Reason: "bonus", CreditKind: ledger.KindGranted, ExpiresAt: clk.Now().Add(time.Hour)})
	require.NoError(t, err)
	clk.Advance(2 * time.Hour)
	n, err := v.eng.ExpireCredits(v.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	b, err := v.eng.Balance(v.ctx, c.ID, "USD")
	require.NoError(t, err)
	require.Equal(t, int64(0), b.Amount)
}
