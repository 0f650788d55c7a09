package otelcoffer

import (
	"cmp"
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// RequestIDHeader is the header a request id is read from and echoed in.
// coffer's HTTP API (httpapi) reads and sets the same header.
const RequestIDHeader = "X-Request-Id"

// HTTPOptions configures HTTPMiddleware.
type HTTPOptions struct {
	Options
	// Propagator extracts the caller's trace context from the request
	// headers. Nil is W3C Trace Context (traceparent, tracestate).
	Propagator propagation.TextMapPropagator
	// Route names a request's route for the span name and the http.route
	// attribute, e.g. "GET /customers/{customer_id}". Nil, or "", falls
	// back to the pattern a ServeMux directly under the middleware
	// matched, then to the method alone: never the raw path, whose ids
	// would make every span name different.
	Route func(*http.Request) string
}

// HTTPMiddleware returns next behind a server span per request, on the
// host's TracerProvider, and a request id:
//
//   - the caller's W3C traceparent (and tracestate) makes the span a child
//     of the caller's;
//   - the request id is the X-Request-Id the caller sent when it is 1 to 64
//     characters of [A-Za-z0-9_-] (the rule coffer's httpapi applies), else
//     a new one ("req_" and 24 hex digits); it is set on the request, so
//     coffer's API handler adopts it, and on the response;
//   - the request's context carries the request id (RequestID) and the
//     span, so LogHandler adds request_id, trace_id and span_id to every
//     log line written with that context, the engine's included.
//
// The span is named by the route ("GET /customers/{customer_id}") and
// carries http.request.method, http.route, http.response.status_code and
// coffer.request_id; a 5xx answer sets its status to Error. Each request
// is timed (http.server.request.duration, by method, route and status
// code; a request no route matched is route "unmatched"). The query
// string, headers and body are never recorded.
func HTTPMiddleware(next http.Handler, o HTTPOptions) http.Handler {
	in := newInstruments(o.Options)
	prop := o.Propagator
	if prop == nil {
		prop = propagation.TraceContext{}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !ValidRequestID(id) {
			id = NewRequestID()
			r.Header.Set(RequestIDHeader, id)
		}
		w.Header().Set(RequestIDHeader, id)

		ctx := prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := in.tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", r.Method),
				attrRequestID.String(id)))
		defer span.End()
		ctx = context.WithValue(ctx, requestIDKey{}, id)

		start := time.Now()
		sw := &statusRecorder{ResponseWriter: w}
		r2 := r.WithContext(ctx)
		next.ServeHTTP(sw, r2)

		route := ""
		if o.Route != nil {
			route = o.Route(r)
		}
		if route == "" {
			route = r2.Pattern
		}
		if route != "" {
			span.SetName(spanName(r.Method, route))
			span.SetAttributes(attribute.String("http.route", route))
		}
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		span.SetAttributes(attribute.Int("http.response.status_code", status))
		if status >= 500 {
			span.SetStatus(codes.Error, strconv.Itoa(status))
		}
		method := r.Method
		switch method {
		case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete,
			http.MethodOptions:
		default:
			method = "_OTHER" // bounded, as the semantic conventions say
		}
		in.httpDuration.Record(ctx, time.Since(start).Seconds(), metric.WithAttributes(
			attribute.String("http.request.method", method), attribute.String("http.route", cmp.Or(route, "unmatched")),
			attribute.Int("http.response.status_code", status)))
	})
}

// spanName is "METHOD /path" for a route: a ServeMux pattern may or may
// not start with its method.
func spanName(method, route string) string {
	if len(route) > 0 && route[0] == '/' {
		return method + " " + route
	}
	return route
}

// ValidRequestID reports whether s may be adopted as a request id: 1 to
// 64 characters of [A-Za-z0-9_-], so it is safe in a log line and a
// header.
func ValidRequestID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// NewRequestID returns "req_" and 24 random hex digits (96 bits: unique,
// not secret).
func NewRequestID() string {
	const digits = "0123456789abcdef"
	var b [4 + 24]byte
	copy(b[:], "req_")
	x, y := rand.Uint64(), rand.Uint32()
	for i := range 16 {
		b[4+i] = digits[x>>(60-4*i)&0xf]
	}
	for i := range 8 {
		b[20+i] = digits[y>>(28-4*i)&0xf]
	}
	return string(b[:])
}

// statusRecorder records the status of a response.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (Flush,
// deadlines).
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
