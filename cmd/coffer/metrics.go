package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/otelcoffer"
	"github.com/cofferhq/coffer/processor"
)

// metricsPath serves the Prometheus scrape. It is outside the API's
// authentication, like /healthz: serve it on a private -metrics-addr, or
// bind -addr to a private interface, or keep /metrics off the public
// internet at the proxy. It carries counts and durations only: no
// customer, payment or key.
const metricsPath = "/metrics"

// metricsOff is the -metrics-addr that serves no /metrics at all.
const metricsOff = "off"

// The OpenTelemetry environment variables serve reads itself (the OTLP
// exporter reads the rest of OTEL_EXPORTER_OTLP_*, such as _HEADERS and
// _TIMEOUT, and the SDK OTEL_TRACES_SAMPLER, from the process environment).
const (
	envOTLPEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	envOTLPTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	envOTLPProtocol       = "OTEL_EXPORTER_OTLP_PROTOCOL"
	envOTLPTracesProtocol = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	envTracesExporter     = "OTEL_TRACES_EXPORTER"
	envSDKDisabled        = "OTEL_SDK_DISABLED"
	envServiceName        = "OTEL_SERVICE_NAME"
)

// observability is serve's OpenTelemetry setup: a MeterProvider whose one
// reader is the Prometheus exporter, on a registry of serve's own (with
// the Go runtime and process collectors); a TracerProvider exporting over
// OTLP/HTTP when the OTLP environment names an endpoint (nil otherwise:
// no spans are made); and the otelcoffer options the store, processor and
// HTTP wrappers use.
type observability struct {
	meters  *sdkmetric.MeterProvider
	tracer  *sdktrace.TracerProvider // nil: tracing off
	opts    otelcoffer.Options
	handler http.Handler
}

// telemetryConfig is what the OpenTelemetry environment selects.
type telemetryConfig struct {
	tracesURL   string // OTLP/HTTP traces endpoint; "": no trace export
	serviceName string // service.name of the resource
}

// parseTelemetry reads the OpenTelemetry environment variables serve
// handles itself.
func parseTelemetry(getenv func(string) string) (telemetryConfig, error) {
	u, err := otlpTracesURL(getenv)
	return telemetryConfig{tracesURL: u, serviceName: cmp.Or(strings.TrimSpace(getenv(envServiceName)), "coffer")}, err
}

func newObservability(log *slog.Logger) (*observability, error) {
	return newObservabilityEnv(context.Background(), log, telemetryConfig{serviceName: "coffer"})
}

// newObservabilityEnv is newObservability with the trace exporter tc
// selects.
func newObservabilityEnv(ctx context.Context, log *slog.Logger, tc telemetryConfig) (*observability, error) {
	res := resource.NewSchemaless(attribute.String("service.name", tc.serviceName))
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp), sdkmetric.WithResource(res))
	o := &observability{
		meters: mp,
		opts:   otelcoffer.Options{MeterProvider: mp, Logger: log},
		handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}),
	}
	if endpoint := tc.tracesURL; endpoint != "" {
		te, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
		if err != nil {
			_ = mp.Shutdown(ctx)
			return nil, fmt.Errorf("OTLP trace exporter: %w", err)
		}
		o.tracer = sdktrace.NewTracerProvider(sdktrace.WithBatcher(te), sdktrace.WithResource(res))
		o.opts.TracerProvider = o.tracer
		log.Info("traces are exported over OTLP/HTTP", "endpoint", redactURL(endpoint))
	}
	return o, nil
}

// otlpTracesURL is the OTLP/HTTP traces URL the environment selects, or ""
// for no trace export: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as it is, else
// OTEL_EXPORTER_OTLP_ENDPOINT + "/v1/traces" (the specification's rule);
// none when neither is set, OTEL_TRACES_EXPORTER is none or
// OTEL_SDK_DISABLED is true. Only the http/protobuf protocol is built in.
func otlpTracesURL(getenv func(string) string) (string, error) {
	if strings.EqualFold(strings.TrimSpace(getenv(envSDKDisabled)), "true") {
		return "", nil
	}
	switch e := strings.TrimSpace(getenv(envTracesExporter)); e {
	case "", "otlp":
	case "none":
		return "", nil
	default:
		return "", usageErr("%s=%q: coffer serve exports traces with otlp (or none)", envTracesExporter, e)
	}
	proto := strings.TrimSpace(cmp.Or(getenv(envOTLPTracesProtocol), getenv(envOTLPProtocol)))
	if proto != "" && proto != "http/protobuf" {
		return "", usageErr("OTLP protocol %q: coffer serve exports traces with http/protobuf", proto)
	}
	u := strings.TrimSpace(getenv(envOTLPTracesEndpoint))
	if u == "" {
		base := strings.TrimSpace(getenv(envOTLPEndpoint))
		if base == "" {
			return "", nil
		}
		u = strings.TrimRight(base, "/") + "/v1/traces"
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return "", usageErr("OTLP traces endpoint %q: want an http or https URL", redactURL(u))
	}
	return u, nil
}

// redactURL drops a URL's user information and query (credentials).
func redactURL(s string) string {
	p, err := url.Parse(s)
	if err != nil {
		return "<invalid URL>"
	}
	p.User, p.RawQuery, p.Fragment = nil, "", ""
	return p.String()
}

// engineOptions are the engine's options for tracing: its own spans (retry
// attempts, webhook deliveries, charges, refunds, ledger entries) when a
// trace exporter is configured.
func (o *observability) engineOptions() []coffer.Option {
	if o.tracer == nil {
		return nil
	}
	return []coffer.Option{coffer.WithTracerProvider(o.tracer)}
}

// processor instruments p.
func (o *observability) processor(p processor.Processor) processor.Processor {
	return otelcoffer.WrapProcessor(p, o.opts)
}

// openEngine is openEngine on the instrumented store.
func (o *observability) openEngine(ctx context.Context, c storeConfig, opts ...coffer.Option) (*coffer.Engine, func(), error) {
	s, err := openStore(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	eng, err := coffer.New(otelcoffer.WrapStore(s, o.opts), append(opts, o.engineOptions()...)...)
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return eng, func() { eng.Close(); s.Close() }, nil
}

// serveMetrics answers GET /metrics itself, before the request log (a
// scrape every few seconds would drown it) and without a span, and passes
// every other request on.
func (o *observability) serveMetrics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == metricsPath && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			o.scrape(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (o *observability) scrape(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	o.handler.ServeHTTP(w, r)
}

// metricsHandler is the handler of the -metrics-addr listener: /metrics
// and nothing else.
func (o *observability) metricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+metricsPath, o.scrape)
	return mux
}

// httpMiddleware is otelcoffer's server span and request id around h,
// naming API requests by the API's route patterns.
func (o *observability) httpMiddleware(h http.Handler, routes func(*http.Request) string) http.Handler {
	return otelcoffer.HTTPMiddleware(h, otelcoffer.HTTPOptions{Options: o.opts, Route: routes})
}

// close flushes and stops the meters and the trace exporter (bounded: an
// unreachable collector does not hold the shutdown).
func (o *observability) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if o.tracer != nil {
		_ = o.tracer.Shutdown(ctx)
	}
	_ = o.meters.Shutdown(ctx)
}

// apiRoutes names requests by the routes of the API's OpenAPI document
// (GET /openapi.json, read once from api in process): a ServeMux of the
// document's patterns matches a request to "GET /customers/{customer_id}".
// Requests the API does not route are named "" (the middleware then uses
// the outer mux's pattern).
func apiRoutes(api http.Handler) func(*http.Request) string {
	rec := &memResponse{header: http.Header{}}
	req, _ := http.NewRequest(http.MethodGet, "/openapi.json", nil)
	api.ServeHTTP(rec, req)
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if rec.status != 0 && rec.status != http.StatusOK || json.Unmarshal(rec.body.Bytes(), &doc) != nil {
		return nil
	}
	mux := http.NewServeMux()
	nop := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	for path, ops := range doc.Paths {
		for method := range ops {
			m := strings.ToUpper(method)
			switch m {
			case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
			default:
				continue
			}
			func() {
				defer func() { _ = recover() }() // a pattern the mux refuses names nothing
				mux.Handle(m+" "+path, nop)
			}()
		}
	}
	return func(r *http.Request) string {
		_, p := mux.Handler(r)
		return p
	}
}

// memResponse is an in-memory http.ResponseWriter.
type memResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (m *memResponse) Header() http.Header { return m.header }
func (m *memResponse) WriteHeader(code int) {
	if m.status == 0 {
		m.status = code
	}
}
func (m *memResponse) Write(b []byte) (int, error) { return m.body.Write(b) }
