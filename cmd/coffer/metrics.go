package main

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/otelcoffer"
	"github.com/cofferhq/coffer/processor"
)

// metricsPath serves the Prometheus scrape. It is outside the API's
// authentication, like /healthz: bind -addr to a private interface, or
// keep /metrics off the public internet at the proxy. It carries counts
// and durations only: no customer, payment or key.
const metricsPath = "/metrics"

// observability is serve's OpenTelemetry setup: a MeterProvider whose one
// reader is the Prometheus exporter, on a registry of serve's own (with
// the Go runtime and process collectors), and the otelcoffer options the
// store and processor wrappers use. Traces go to otel's global
// TracerProvider (a no-op unless a build of coffer sets one).
type observability struct {
	meters  *sdkmetric.MeterProvider
	opts    otelcoffer.Options
	handler http.Handler
}

func newObservability(log *slog.Logger) (*observability, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp),
		sdkmetric.WithResource(resource.NewSchemaless(attribute.String("service.name", "coffer"))))
	return &observability{
		meters: mp,
		opts:   otelcoffer.Options{MeterProvider: mp, Logger: log},
		handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}),
	}, nil
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
	eng, err := coffer.New(otelcoffer.WrapStore(s, o.opts), opts...)
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return eng, func() { eng.Close(); s.Close() }, nil
}

// serveMetrics answers GET /metrics itself, before the request log (a
// scrape every few seconds would drown it), and passes every other request
// on.
func (o *observability) serveMetrics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == metricsPath && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			w.Header().Set("Cache-Control", "no-store")
			o.handler.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// close flushes and stops the meters.
func (o *observability) close() { _ = o.meters.Shutdown(context.Background()) }

// withRequestID lets the engine's processor log lines carry the request
// id the API handler sets on the response (X-Request-Id), read when the
// line is written.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		next.ServeHTTP(w, r.WithContext(otelcoffer.WithRequestID(r.Context(), func() string { return h.Get("X-Request-Id") })))
	})
}
