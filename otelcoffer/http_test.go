package otelcoffer_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/otelcoffer"
	"github.com/cofferhq/coffer/processor"
)

func newMiddleware(t *testing.T, next http.Handler, route func(*http.Request) string) (http.Handler, *tracetest.InMemoryExporter,
	*sdkmetric.ManualReader) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	return otelcoffer.HTTPMiddleware(next, otelcoffer.HTTPOptions{Options: otelcoffer.Options{TracerProvider: tp,
		MeterProvider: mp}, Route: route}), exp, reader
}

func TestHTTPMiddlewareSpanAndPropagation(t *testing.T) {
	mux := http.NewServeMux()
	var seenID, seenHeader string
	var seenSpan trace.SpanContext
	mux.HandleFunc("GET /customers/{customer_id}", func(w http.ResponseWriter, r *http.Request) {
		seenID, seenHeader = otelcoffer.RequestID(r.Context()), r.Header.Get("X-Request-Id")
		seenSpan = trace.SpanContextFromContext(r.Context())
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("POST /boom", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	h, exp, _ := newMiddleware(t, mux, nil)

	// The caller's traceparent and request id are adopted.
	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req := httptest.NewRequest(http.MethodGet, "/customers/cus_123?token=secret", nil)
	req.Header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
	req.Header.Set("X-Request-Id", "caller-id_1")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, "caller-id_1", rec.Header().Get("X-Request-Id"))
	require.Equal(t, "caller-id_1", seenID)
	require.Equal(t, "caller-id_1", seenHeader)

	spans := exp.GetSpans()
	require.Len(t, spans, 1)
	s := spans[0]
	require.Equal(t, "GET /customers/{customer_id}", s.Name, "the route pattern, not the path with its id")
	require.Equal(t, trace.SpanKindServer, s.SpanKind)
	require.Equal(t, traceID, s.SpanContext.TraceID().String())
	require.Equal(t, parentID, s.Parent.SpanID().String())
	require.True(t, s.Parent.IsRemote())
	require.Equal(t, s.SpanContext.SpanID(), seenSpan.SpanID(), "the handler runs in the server span")
	require.Equal(t, "GET /customers/{customer_id}", attr(s, "http.route"))
	require.Equal(t, "200", attr(s, "http.response.status_code"))
	require.Equal(t, "caller-id_1", attr(s, "coffer.request_id"))
	for _, a := range s.Attributes {
		require.NotContains(t, a.Value.Emit(), "secret", "the query string is not recorded")
		require.NotContains(t, a.Value.Emit(), "cus_123", "the raw path is not recorded")
	}

	// An invalid request id is replaced by a new one; a 5xx is an error
	// span; no traceparent starts a new trace.
	exp.Reset()
	req = httptest.NewRequest(http.MethodPost, "/boom", nil)
	req.Header.Set("X-Request-Id", "bad id with spaces")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	id := rec.Header().Get("X-Request-Id")
	require.Regexp(t, regexp.MustCompile(`^req_[0-9a-f]{24}$`), id)
	s = exp.GetSpans()[0]
	require.Equal(t, "POST /boom", s.Name)
	require.Equal(t, "Error", s.Status.Code.String())
	require.False(t, s.Parent.IsValid())
	require.NotEqual(t, traceID, s.SpanContext.TraceID().String())

	// Two requests without an id get different ones.
	rec2 := httptest.NewRecorder()
	h.ServeHTTP(rec2, httptest.NewRequest(http.MethodPost, "/boom", nil))
	require.NotEqual(t, id, rec2.Header().Get("X-Request-Id"))
}

// Route names requests a nested mux matched; unmatched ones are named by
// their method alone.
func TestHTTPMiddlewareRoute(t *testing.T) {
	inner := http.NewServeMux()
	inner.HandleFunc("GET /payments/{payment_id}", func(http.ResponseWriter, *http.Request) {})
	outer := http.NewServeMux()
	// The inner mux sees a copy of the request (as behind any middleware):
	// the outer one's pattern is "/".
	outer.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { inner.ServeHTTP(w, r.WithContext(r.Context())) }))
	h, exp, reader := newMiddleware(t, outer, func(r *http.Request) string {
		_, p := inner.Handler(r)
		return p
	})
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/payments/pay_1", nil))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/nowhere/x", nil))
	spans := exp.GetSpans()
	require.Len(t, spans, 2)
	require.Equal(t, "GET /payments/{payment_id}", spans[0].Name)
	require.Equal(t, "GET /", spans[1].Name, "the outer mux's pattern when Route knows nothing")

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	require.EqualValues(t, 1, histCount(t, rm, otelcoffer.MetricHTTPDuration, kv("http.route", "GET /payments/{payment_id}"),
		kv("http.request.method", "GET"), attribute.Int("http.response.status_code", 200)))
	require.EqualValues(t, 1, histCount(t, rm, otelcoffer.MetricHTTPDuration, kv("http.route", "/")))
	require.EqualValues(t, 2, histCount(t, rm, otelcoffer.MetricHTTPDuration))
}

func TestValidRequestID(t *testing.T) {
	require.True(t, otelcoffer.ValidRequestID("abc-DEF_123"))
	require.True(t, otelcoffer.ValidRequestID(strings.Repeat("a", 64)))
	for _, bad := range []string{"", strings.Repeat("a", 65), "a b", "a\nb", "é", "a;b"} {
		require.False(t, otelcoffer.ValidRequestID(bad), "%q", bad)
	}
	require.True(t, otelcoffer.ValidRequestID(otelcoffer.NewRequestID()))
}

// TestRequestIDReachesEngineLogLines: a charge made in a request through
// the middleware logs a line (the processor's, written by the engine's
// logger behind LogHandler) with the request id, the payment id and the
// trace id; a background worker's error line carries the ids its error
// names.
func TestRequestIDReachesEngineLogLines(t *testing.T) {
	v := newTraced(t)
	c, err := v.eng.CreateCustomer(v.ctx, customer.Params{})
	require.NoError(t, err)
	var payID string
	h := otelcoffer.HTTPMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pay, err := v.eng.ChargeOneTime(r.Context(), c.ID, coffer.OneTimeParams{Amount: 7_00, Currency: "USD",
			PaymentMethod: processor.CardOK})
		require.NoError(t, err)
		payID = pay.ID
		v.slogs.InfoContext(r.Context(), "handler line")
	}), otelcoffer.HTTPOptions{Options: v.obs})
	req := httptest.NewRequest(http.MethodPost, "/payments", nil)
	req.Header.Set("X-Request-Id", "req_from_caller")
	h.ServeHTTP(httptest.NewRecorder(), req)

	var found, handler map[string]any
	for _, l := range v.log.lines(t) {
		switch l["msg"] {
		case "coffer: processor charge":
			found = l
		case "handler line":
			handler = l
		}
	}
	require.NotNil(t, found, v.log.String())
	require.Equal(t, "INFO", found["level"])
	require.Equal(t, "req_from_caller", found["request_id"])
	require.Equal(t, payID, found["payment_id"])
	require.Regexp(t, `^[0-9a-f]{32}$`, found["trace_id"])
	require.NotNil(t, handler)
	require.Equal(t, "req_from_caller", handler["request_id"], "any line logged with the request's context")
	require.Equal(t, found["trace_id"], handler["trace_id"])
	require.Regexp(t, `^[0-9a-f]{16}$`, handler["span_id"])
	// The processor line names its request id and trace id itself:
	// LogHandler does not add them twice.
	for _, l := range strings.Split(v.log.String(), "\n") {
		require.LessOrEqual(t, strings.Count(l, `"request_id"`), 1, l)
		require.LessOrEqual(t, strings.Count(l, `"trace_id"`), 1, l)
	}
}

// TestLogHandlerKeepsExistingKeys: a line that already names its request
// id or trace id keeps its own, once.
func TestLogHandlerKeepsExistingKeys(t *testing.T) {
	buf := &syncBuf{}
	log := slog.New(otelcoffer.LogHandler(slog.NewJSONHandler(buf, nil)))
	ctx := otelcoffer.WithRequestID(context.Background(), func() string { return "req_ctx" })
	log.InfoContext(ctx, "own", "request_id", "req_own")
	log.InfoContext(ctx, "ctx")
	log.Info("none")
	log.With("a", 1).WithGroup("g").InfoContext(ctx, "grouped", "b", 2)
	out := buf.String()
	require.Equal(t, 1, strings.Count(strings.Split(out, "\n")[0], "request_id"), out)
	require.Contains(t, strings.Split(out, "\n")[0], `"request_id":"req_own"`)
	require.Contains(t, strings.Split(out, "\n")[1], `"request_id":"req_ctx"`)
	require.NotContains(t, strings.Split(out, "\n")[2], "request_id")
	require.Contains(t, strings.Split(out, "\n")[3], `"g":{"b":2,"request_id":"req_ctx"}`)
	require.Same(t, otelcoffer.LogHandler(log.Handler()), log.Handler(), "wrapping twice is once")
}
