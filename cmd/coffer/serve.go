package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"github.com/cofferhq/coffer/apikey"
	"github.com/cofferhq/coffer/webhook"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/httpapi"
	"github.com/cofferhq/coffer/internal/portaltoken"
	"github.com/cofferhq/coffer/internal/testmode"
	"github.com/cofferhq/coffer/otelcoffer"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/processor/stripe"
	"github.com/cofferhq/coffer/store"
)

// HTTP server limits.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
	readyTimeout      = 2 * time.Second
)

// newLogger is serve's logger: every line written with a request's (or a
// traced operation's) context carries its request_id, trace_id and span_id
// (otelcoffer.LogHandler), the engine's own lines included.
func newLogger(w io.Writer, format string) *slog.Logger {
	if format == "json" {
		return slog.New(otelcoffer.LogHandler(slog.NewJSONHandler(w, nil)))
	}
	return slog.New(otelcoffer.LogHandler(slog.NewTextHandler(w, nil)))
}

// serve runs the server until ctx ends, then shuts down gracefully: the
// listener closes and /readyz answers 503, requests in flight finish
// (bounded by -shutdown-timeout), and then the background workers stop,
// letting the pass in flight finish.
func serve(ctx context.Context, stop func(), cfg serveConfig, stdout, stderr io.Writer) error {
	log := newLogger(stderr, cfg.logFormat)

	var (
		test   *processor.Test
		tm     *testmode.Processor // test mode only
		proc   processor.Processor
		hosted = processor.CardRequiresAction // payment_link without a payment method
		sp     *stripe.Processor
	)
	if cfg.processor == "stripe" {
		var err error
		sp, err = stripe.New(stripe.Config{SecretKey: cfg.stripeKey, APIBase: cfg.stripeAPIBase, ReturnURL: cfg.publicURL,
			WebhookSecret: cfg.stripeWebhookSecret})
		if err != nil {
			return err
		}
		proc, hosted = sp, stripe.HostedPaymentMethod
		log.Info("payments go through Stripe", "processor", "stripe", "api_base", cmp.Or(cfg.stripeAPIBase, stripe.DefaultAPIBase))
	} else {
		test = processor.NewTest(nil)
		// The test processor keeps its mandates and charges in memory while the
		// store keeps the subscriptions: a random id prefix per start keeps ids
		// made after a restart from repeating ids already stored.
		if err := test.SetIDPrefix(randomIDPrefix()); err != nil {
			return err
		}
		test.SetLinkBase(cfg.publicURL + strings.TrimSuffix(testmode.Path, "/"))
		tm = testmode.NewProcessor(test)
		proc = tm
		log.Warn("TEST MODE: payments use coffer's deterministic test processor; no real money moves and no card is charged",
			"processor", "test", "authorize_pages", cfg.publicURL+testmode.Path+"<mandate id>")
	}

	// Deliveries carry Dodo's envelope, built by the API handler (made
	// below, once the engine exists).
	var api *httpapi.Handler
	encode := func(ctx context.Context, ev webhook.Event) ([]byte, error) { return api.WebhookPayload(ctx, ev) }
	// metrics.go: /metrics, OTLP traces, instrumented store, processor and
	// HTTP handler.
	obs, err := newObservabilityEnv(ctx, log, cfg.telemetry)
	if err != nil {
		return err
	}
	defer obs.close()
	engOpts := []coffer.Option{coffer.WithProcessor(obs.processor(proc)), coffer.WithLogger(log),
		coffer.WithIssuer(cfg.issuer.issuer()),
		coffer.WithWebhookOptions(coffer.WebhookOptions{AllowPrivateNetworks: cfg.webhooksAllowPrivate, Encode: encode})}
	if cfg.fxRates != nil {
		engOpts = append(engOpts, coffer.WithFX(cfg.fxRates), coffer.WithAdaptiveFee(cfg.fxFeeBP))
		log.Info("adaptive currency on", "pairs", len(cfg.fxRates.Pairs()), "fee_bp", cfg.fxFeeBP)
	}
	eng, closeEngine, err := obs.openEngine(ctx, cfg.store, engOpts...)
	if err != nil {
		return err
	}
	defer closeEngine()
	if cfg.webhooksAllowPrivate {
		log.Warn("webhook deliveries may reach loopback and private networks (-webhooks-allow-private)")
	}

	apiKey := cfg.apiKey
	generated := false
	if cfg.demo && apiKey == "" {
		apiKey, generated = apikey.NewSecret(false), true
	}
	if apiKey != "" {
		// COFFER_API_KEY (or the demo's key) becomes an operator key of
		// the store, like one made with `coffer keys create`.
		if _, err := eng.ImportAPIKey(ctx, apiKey, envAPIKey); err != nil {
			return fmt.Errorf("%s: %w", envAPIKey, err)
		}
	} else if n, err := countKeys(ctx, eng); err != nil {
		return err
	} else if n == 0 {
		return usageErr("no API key: create one with `coffer keys create` (same -db/-postgres), or set %s "+
			"(or run with -demo, which makes one)", envAPIKey)
	}
	if cfg.demo {
		if err := seedDemo(ctx, eng, test, demoOutput{w: stdout, apiKey: apiKey, generated: generated,
			publicURL: cfg.publicURL}); err != nil {
			return fmt.Errorf("demo data: %w", err)
		}
		log.Info("demo data ready")
	}

	var signer *portaltoken.Signer
	if cfg.sessionSecret != "" {
		if signer, err = portaltoken.New([]byte(cfg.sessionSecret)); err != nil {
			return err
		}
	} else {
		signer = portaltoken.Random()
		log.Warn("COFFER_SESSION_SECRET is not set: customer portal links are signed with a random per-process key " +
			"and stop working when the server restarts")
	}

	api, err = httpapi.New(eng,
		httpapi.WithBusinessID(cfg.businessID),
		httpapi.WithLogger(log),
		httpapi.WithUSDRates(cfg.usdRates),
		// Test mode: payment_link: true without payment_method_id (the
		// seeds' hosted mandate) is completed on the test-mode page.
		httpapi.WithHostedPaymentMethod(hosted),
		httpapi.WithPortalLink(func(_ context.Context, customerID, returnURL string) (string, error) {
			return cfg.publicURL + portalPath + signer.Sign(customerID, returnURL, time.Now()), nil
		}))
	if err != nil {
		return err
	}

	var shuttingDown atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		plain(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if shuttingDown.Load() {
			plain(w, http.StatusServiceUnavailable, "shutting down")
			return
		}
		if err := storeReady(r.Context(), eng); err != nil {
			log.Warn("not ready", "error", err.Error())
			plain(w, http.StatusServiceUnavailable, "store not ready")
			return
		}
		plain(w, http.StatusOK, "ready")
	})
	if tm != nil {
		mux.Handle(testmode.Path, testmode.NewHandler(eng, tm, log))
	}
	if sp != nil && cfg.stripeWebhookSecret != "" {
		// Stripe's own webhooks settle pending payments and mandates at
		// once, so Reconcile is not the only path.
		mux.Handle("POST "+stripeWebhookPath, sp.Handler(stripe.SinkFuncs{
			Charge: func(ctx context.Context, paymentID string, ch processor.Charge) error {
				_, err := eng.ApplyChargeOutcome(ctx, paymentID, ch)
				return err
			},
			Mandate: func(ctx context.Context, subscriptionID string, _ processor.Mandate) error {
				_, err := eng.ConfirmMandate(ctx, subscriptionID)
				return err
			},
		}, log))
		log.Info("Stripe webhooks are received", "path", cfg.publicURL+stripeWebhookPath)
	}
	if err := mountUI(mux, eng, signer, cfg, log); err != nil {
		return err
	}
	mux.Handle("/", api)

	// Every request gets a server span and a request id (adopted by the
	// API) in its context, before the request log, which then carries both.
	handler := obs.httpMiddleware(requestLog(log, mux), apiRoutes(api))
	switch cfg.metricsAddr {
	case "":
		handler = obs.serveMetrics(handler) // /metrics on -addr, as before -metrics-addr
	case metricsOff:
	default:
		mln, err := net.Listen("tcp", cfg.metricsAddr)
		if err != nil {
			return fmt.Errorf("-metrics-addr: %w", err)
		}
		msrv := &http.Server{Handler: obs.metricsHandler(), ReadHeaderTimeout: readHeaderTimeout,
			ReadTimeout: readTimeout, WriteTimeout: writeTimeout, IdleTimeout: idleTimeout, MaxHeaderBytes: maxHeaderBytes,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		go func() { _ = msrv.Serve(mln) }()
		defer msrv.Close() // after the main server and the workers: the last scrape sees the end
		log.Info("metrics served", "addr", mln.Addr().String(), "path", metricsPath)
	}

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	// The workers' context is not the signal's: they stop after the HTTP
	// server has drained, so a request in flight can still rely on them.
	runCtx, cancelRun := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRun()
	runDone := make(chan error, 1)
	go func() { runDone <- eng.Run(runCtx) }()
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.Serve(ln) }()
	log.Info("coffer serving", "addr", ln.Addr().String(), "public_url", cfg.publicURL, "store", cfg.store.describe(),
		"business_id", cfg.businessID)

	var failure error
	select {
	case <-ctx.Done():
		log.Info("shutting down: draining requests", "timeout", cfg.shutdownTimeout)
	case err := <-srvDone:
		failure = fmt.Errorf("http server: %w", err)
	case err := <-runDone:
		failure = fmt.Errorf("background workers: %w", err)
		runDone <- err
	}
	if stop != nil {
		stop() // a second signal ends the process at once
	}
	shuttingDown.Store(true)
	shCtx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("requests still in flight at the shutdown timeout were cut off", "error", err.Error())
		_ = srv.Close()
	}
	cancelRun()
	if err := <-runDone; err != nil && !errors.Is(err, context.Canceled) && failure == nil {
		failure = fmt.Errorf("background workers: %w", err)
	}
	if failure != nil {
		return failure
	}
	log.Info("coffer stopped")
	return nil
}

// storeReady makes one cheap read: a point lookup of a customer that does
// not exist.
func storeReady(ctx context.Context, eng *coffer.Engine) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	return eng.View(ctx, func(tx store.ReadTx) error {
		_, err := tx.Customer("cus_readyz")
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	})
}

func plain(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
}

// statusWriter records the status of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// requestLog logs one line per request: method, path (no query: it may
// carry return URLs or tokens), status, duration and the request id the
// API set. Headers (Authorization) and bodies are never logged; portal
// tokens in paths are cut off.
func requestLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if sw.status == 0 {
				sw.status = http.StatusOK
			}
			level := slog.LevelInfo
			if sw.status >= 500 {
				level = slog.LevelError
			}
			if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
				level = slog.LevelDebug // probes every few seconds would drown the log
			}
			log.LogAttrs(r.Context(), level, "http request",
				slog.String("method", r.Method), slog.String("path", logPath(r.URL.Path)),
				slog.Int("status", sw.status), slog.Duration("duration", time.Since(start)),
				slog.Int64("bytes", sw.bytes), slog.String("request_id", sw.Header().Get("X-Request-Id")))
		}()
		next.ServeHTTP(sw, r)
	})
}

// logPath bounds a path and hides portal tokens (bearer credentials).
func logPath(p string) string {
	if strings.HasPrefix(p, portalPath) {
		return portalPath + "<token>"
	}
	if len(p) > 200 {
		return p[:200] + "..."
	}
	return p
}

// countKeys reports whether the store holds any active API key (0 or 1).
func countKeys(ctx context.Context, eng *coffer.Engine) (int, error) {
	for k, err := range coffer.Iterate(ctx, coffer.APIKeyListParams{}, eng.ListAPIKeys) {
		if err != nil {
			return 0, err
		}
		if k.Active() {
			return 1, nil
		}
	}
	return 0, nil
}

// randomIDPrefix is 8 random lower-case letters and digits.
func randomIDPrefix() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// stripeWebhookPath receives Stripe's webhooks (with -processor stripe and
// STRIPE_WEBHOOK_SECRET): register <public-url>/processor-webhooks/stripe in
// Stripe's dashboard.
const stripeWebhookPath = "/processor-webhooks/stripe"
