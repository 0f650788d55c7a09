package main

import (
	"flag"
	"github.com/cofferhq/coffer/apikey"
	"github.com/shopspring/decimal"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/cofferhq/coffer/fx"
	"github.com/cofferhq/coffer/internal/portaltoken"
)

// storeConfig selects the store: a bbolt file, or PostgreSQL when a DSN is
// given.
type storeConfig struct {
	db       string
	postgres string
	schema   string
}

func (s *storeConfig) register(fs *flag.FlagSet, getenv func(string) string) {
	fs.StringVar(&s.db, "db", "coffer.db", "bbolt database `file` (the embedded default store)")
	fs.StringVar(&s.postgres, "postgres", getenv("DATABASE_URL"),
		"PostgreSQL `DSN` (default $DATABASE_URL); when set, used instead of -db")
	fs.StringVar(&s.schema, "postgres-schema", "",
		"keep coffer's tables in this PostgreSQL `schema` (created when missing) instead of the search_path")
}

func (s storeConfig) check() error {
	if s.postgres == "" {
		if s.schema != "" {
			return usageErr("-postgres-schema needs -postgres (or DATABASE_URL)")
		}
		if s.db == "" {
			return usageErr("-db must name a file")
		}
	}
	return nil
}

// describe names the store for logs, without the DSN's password.
func (s storeConfig) describe() string {
	if s.postgres == "" {
		return "bolt:" + s.db
	}
	d := "postgres"
	if u, err := url.Parse(s.postgres); err == nil && u.Host != "" {
		d += "://" + u.Host + u.Path
	}
	if s.schema != "" {
		d += " schema " + s.schema
	}
	return d
}

// serveConfig is the parsed command line and environment of serve.
type serveConfig struct {
	store                storeConfig
	addr                 string
	metricsAddr          string // -metrics-addr: "" /metrics on addr, "off" none, else its own listener
	telemetry            telemetryConfig
	publicURL            string
	businessID           string
	usdRates             map[string]decimal.Decimal
	processor            string
	stripeKey            string // STRIPE_SECRET_KEY, never logged
	stripeAPIBase        string // STRIPE_API_BASE (stripe-mock), "" for api.stripe.com
	stripeWebhookSecret  string // STRIPE_WEBHOOK_SECRET, never logged; "" mounts no Stripe webhook endpoint
	webhooksAllowPrivate bool
	demo                 bool
	shutdownTimeout      time.Duration
	logFormat            string
	// apiKey is COFFER_API_KEY; with -demo and no key, serve makes one.
	apiKey string
	// sessionSecret is COFFER_SESSION_SECRET; empty: random per process.
	sessionSecret string
	// issuer is the -issuer-* flags (invoice.go).
	issuer issuerConfig
	// fxRates (-fx-rates, COFFER_FX_RATES) turns adaptive currency on with
	// a static table; nil: off. fxFeeBP is -fx-fee-bp.
	fxRates *fx.Static
	fxFeeBP int64
}

// Environment variables read by serve.
const (
	envAPIKey        = "COFFER_API_KEY"
	envSessionSecret = "COFFER_SESSION_SECRET"
	envStripeKey     = "STRIPE_SECRET_KEY"
	envStripeAPIBase = "STRIPE_API_BASE"
	envStripeWebhook = "STRIPE_WEBHOOK_SECRET"
	envFXRates       = "COFFER_FX_RATES"
)

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("coffer "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseServe parses serve's flags and environment and checks them.
func parseServe(args []string, getenv func(string) string, stderr io.Writer) (serveConfig, error) {
	var c serveConfig
	fs := newFlagSet("serve", stderr)
	c.store.register(fs, getenv)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "listen `address` (host:port)")
	fs.StringVar(&c.metricsAddr, "metrics-addr", "", "serve Prometheus /metrics on its own listen `address` (host:port, "+
		"e.g. 127.0.0.1:9464) instead of on -addr; \"off\" serves no /metrics")
	fs.StringVar(&c.publicURL, "public-url", "", "the `URL` clients reach this server at, for the links it makes "+
		"(payment and portal links; default http://<addr>)")
	fs.StringVar(&c.businessID, "business-id", "bus_coffer", "the business_id (and brand_id) API objects carry")
	fs.StringVar(&c.processor, "processor", "test", "payment processor: \"test\" (the deterministic test processor; no real money moves) "+
		"or \"stripe\" (reads STRIPE_SECRET_KEY, and STRIPE_API_BASE for stripe-mock)")
	fs.BoolVar(&c.webhooksAllowPrivate, "webhooks-allow-private", false,
		"allow webhook deliveries to loopback and private-network addresses (local development)")
	fs.BoolVar(&c.demo, "demo", false, "seed demo customers, wallets, a product, a subscription and charges (idempotent)")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 20*time.Second,
		"how long requests in flight may take to finish after SIGINT/SIGTERM")
	fs.StringVar(&c.logFormat, "log-format", "text", "log format on stderr: text or json")
	c.issuer.register(fs)
	rates := fs.String("usd-rates", "", "exchange `rates` for the wallets' total_balance_usd, as CODE=USD per unit, "+
		"comma-separated (INR=0.012,EUR=1.08); wallets in other currencies are left out of the total")
	fxRates := fs.String("fx-rates", getenv(envFXRates), "adaptive currency: a static table of exchange `rates`, "+
		"FROM/TO=RATE comma-separated (EUR/USD=1.08,USD/JPY=151.2; default $"+envFXRates+"); a charge whose "+
		"product_currency differs from its subscription's is converted at the FROM=product_currency, TO=subscription "+
		"currency rate; inverses are not derived")
	fs.Int64Var(&c.fxFeeBP, "fx-fee-bp", 0, "adaptive-currency fee on converted charges, in `basis points` "+
		"(250 = 2.5 %; needs -fx-rates)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if strings.TrimSpace(*fxRates) != "" {
		var err error
		if c.fxRates, err = fx.ParseStatic(time.Time{}, *fxRates); err != nil {
			return c, usageErr("-fx-rates: %v", err)
		}
	}
	if c.fxFeeBP != 0 && c.fxRates == nil {
		return c, usageErr("-fx-fee-bp needs -fx-rates (the fee applies to converted charges only)")
	}
	if c.fxFeeBP < 0 || c.fxFeeBP > fx.MaxFeeBP {
		return c, usageErr("-fx-fee-bp %d: want 0 to %d", c.fxFeeBP, fx.MaxFeeBP)
	}
	if *rates != "" {
		var err error
		if c.usdRates, err = parseRates(*rates); err != nil {
			return c, err
		}
	}
	if fs.NArg() > 0 {
		return c, usageErr("serve takes no arguments, got %q", fs.Args())
	}
	c.apiKey = getenv(envAPIKey)
	var err error
	if c.telemetry, err = parseTelemetry(getenv); err != nil {
		return c, err
	}
	c.sessionSecret = getenv(envSessionSecret)
	if err := c.issuer.issuer().Check(); err != nil {
		return c, usageErr("-issuer-*: %v", err)
	}
	if c.processor == "stripe" {
		c.stripeKey, c.stripeAPIBase = getenv(envStripeKey), getenv(envStripeAPIBase)
		c.stripeWebhookSecret = getenv(envStripeWebhook)
	}
	return c, c.check()
}

func (c *serveConfig) check() error {
	if err := c.store.check(); err != nil {
		return err
	}
	switch {
	case c.processor != "test" && c.processor != "stripe":
		return usageErr("-processor %q: want \"test\" or \"stripe\"", c.processor)
	case c.processor == "stripe" && strings.TrimSpace(c.stripeKey) == "":
		return usageErr("-processor stripe needs %s (the Stripe secret key)", envStripeKey)
	case c.processor == "stripe" && c.demo:
		return usageErr("-demo seeds the test processor's cards; it cannot run with -processor stripe")
	}
	host, port, err := net.SplitHostPort(c.addr)
	if err != nil || port == "" {
		return usageErr("-addr %q: want host:port", c.addr)
	}
	if c.metricsAddr != "" && c.metricsAddr != metricsOff {
		if _, mport, err := net.SplitHostPort(c.metricsAddr); err != nil || mport == "" {
			return usageErr("-metrics-addr %q: want host:port, or off", c.metricsAddr)
		}
	}
	if c.publicURL == "" {
		if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
			host = "localhost" // listening everywhere; localhost reaches it
		}
		c.publicURL = "http://" + net.JoinHostPort(host, port)
	}
	u, err := url.Parse(c.publicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return usageErr("-public-url %q: want an absolute http or https URL without query", c.publicURL)
	}
	c.publicURL = strings.TrimRight(c.publicURL, "/")
	if c.shutdownTimeout <= 0 {
		return usageErr("-shutdown-timeout must be > 0")
	}
	if c.logFormat != "text" && c.logFormat != "json" {
		return usageErr("-log-format %q: want text or json", c.logFormat)
	}
	if c.apiKey != "" && !apikey.ValidSecret(c.apiKey) {
		return usageErr("%s must be a coffer secret key: sk_test_ (or sk_live_) and 43 base64url characters "+
			"(make one with: coffer keys create)", envAPIKey)
	}
	if c.sessionSecret != "" && len(c.sessionSecret) < portaltoken.MinSecretLen {
		return usageErr("%s must be at least %d bytes", envSessionSecret, portaltoken.MinSecretLen)
	}
	return nil
}

// parseRates reads -usd-rates: CODE=rate pairs, comma-separated.
func parseRates(s string) (map[string]decimal.Decimal, error) {
	out := map[string]decimal.Decimal{}
	for _, pair := range strings.Split(s, ",") {
		code, rate, ok := strings.Cut(strings.TrimSpace(pair), "=")
		d, err := decimal.NewFromString(strings.TrimSpace(rate))
		if !ok || err != nil || !d.IsPositive() || strings.TrimSpace(code) == "" {
			return nil, usageErr("-usd-rates %q: want CODE=rate pairs with positive rates, e.g. INR=0.012,EUR=1.08", pair)
		}
		out[strings.ToUpper(strings.TrimSpace(code))] = d
	}
	return out, nil
}
