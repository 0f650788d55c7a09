package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

const key = "sk_test_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8" // 32 bytes, base64url

func TestParseServeDefaults(t *testing.T) {
	c, err := parseServe(nil, env(envAPIKey, key), io.Discard)
	require.NoError(t, err)
	require.Equal(t, storeConfig{db: "coffer.db"}, c.store)
	require.Equal(t, "127.0.0.1:8080", c.addr)
	require.Equal(t, "http://127.0.0.1:8080", c.publicURL)
	require.Equal(t, "bus_coffer", c.businessID)
	require.Equal(t, "test", c.processor)
	require.False(t, c.webhooksAllowPrivate)
	require.False(t, c.demo)
	require.Equal(t, 20*time.Second, c.shutdownTimeout)
	require.Equal(t, key, c.apiKey)
	require.Equal(t, "bolt:coffer.db", c.store.describe())
}

func TestParseServeFlags(t *testing.T) {
	c, err := parseServe([]string{"-postgres", "postgres://u:secret@db:5432/billing", "-postgres-schema", "coffer",
		"-addr", "0.0.0.0:9000", "-webhooks-allow-private", "-business-id", "bus_acme", "-demo",
		"-shutdown-timeout", "5s", "-log-format", "json"}, env(envSessionSecret, strings.Repeat("s", 32)), io.Discard)
	require.NoError(t, err)
	require.Equal(t, "http://localhost:9000", c.publicURL, "an unspecified host is reached at localhost")
	require.True(t, c.webhooksAllowPrivate)
	require.True(t, c.demo)
	require.Equal(t, "bus_acme", c.businessID)
	require.Empty(t, c.apiKey, "-demo makes a key when none is set")
	require.Equal(t, "postgres://db:5432/billing schema coffer", c.store.describe(), "no password in logs")

	c, err = parseServe([]string{"-processor", "stripe"}, env(envAPIKey, key, envStripeKey, "sk_test_abc", envStripeAPIBase, "http://127.0.0.1:12111"), io.Discard)
	require.NoError(t, err)
	require.Equal(t, "sk_test_abc", c.stripeKey)
	require.Equal(t, "http://127.0.0.1:12111", c.stripeAPIBase)

	c, err = parseServe([]string{"-public-url", "https://billing.example.com/"}, env(envAPIKey, key, "DATABASE_URL", "postgres://x/y"), io.Discard)
	require.NoError(t, err)
	require.Equal(t, "https://billing.example.com", c.publicURL)
	require.Equal(t, "postgres://x/y", c.store.postgres, "DATABASE_URL is the -postgres default")
}

func TestParseServeErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		args []string
		env  func(string) string
		want string
	}{
		"processor":       {[]string{"-processor", "paypal"}, env(envAPIKey, key), `"test" or "stripe"`},
		"stripe no key":   {[]string{"-processor", "stripe"}, env(envAPIKey, key), envStripeKey},
		"stripe demo":     {[]string{"-processor", "stripe", "-demo"}, env(envAPIKey, key, envStripeKey, "sk_test_x"), "-demo"},
		"short key":       {nil, env(envAPIKey, "short"), envAPIKey},
		"key with space":  {nil, env(envAPIKey, "sk_test_0123 456789abcdef"), envAPIKey},
		"short secret":    {nil, env(envAPIKey, key, envSessionSecret, "x"), envSessionSecret},
		"addr":            {[]string{"-addr", "8080"}, env(envAPIKey, key), "-addr"},
		"public url":      {[]string{"-public-url", "ftp://x"}, env(envAPIKey, key), "-public-url"},
		"schema alone":    {[]string{"-postgres-schema", "s"}, env(envAPIKey, key), "-postgres-schema"},
		"log format":      {[]string{"-log-format", "xml"}, env(envAPIKey, key), "-log-format"},
		"shutdown":        {[]string{"-shutdown-timeout", "0s"}, env(envAPIKey, key), "-shutdown-timeout"},
		"positional args": {[]string{"extra"}, env(envAPIKey, key), "no arguments"},
		"fx rates":        {[]string{"-fx-rates", "EUR/USD=abc"}, env(envAPIKey, key), "-fx-rates"},
		"fx rates env":    {nil, env(envAPIKey, key, envFXRates, "EURUSD=1"), "-fx-rates"},
		"fx fee alone":    {[]string{"-fx-fee-bp", "250"}, env(envAPIKey, key), "-fx-fee-bp"},
		"fx fee range":    {[]string{"-fx-rates", "EUR/USD=1.08", "-fx-fee-bp", "10001"}, env(envAPIKey, key), "-fx-fee-bp"},
	} {
		_, err := parseServe(tc.args, tc.env, io.Discard)
		require.ErrorIs(t, err, errUsage, name)
		require.ErrorContains(t, err, tc.want, name)
	}
	_, err := parseServe([]string{"-nope"}, env(envAPIKey, key), io.Discard)
	require.Error(t, err)
}

func TestRunExitCodes(t *testing.T) {
	var out, errOut bytes.Buffer
	ctx := context.Background()
	require.Equal(t, 2, run(ctx, nil, nil, env(), &out, &errOut))
	require.Equal(t, 2, run(ctx, nil, []string{"frobnicate"}, env(), &out, &errOut))
	require.Equal(t, 0, run(ctx, nil, []string{"help"}, env(), &out, &errOut))
	require.Equal(t, 0, run(ctx, nil, []string{"serve", "-h"}, env(), &out, &errOut))
	errOut.Reset()
	require.Equal(t, 2, run(ctx, nil, []string{"serve", "-processor", "stripe"}, env(envAPIKey, key), &out, &errOut))
	require.Contains(t, errOut.String(), envStripeKey)
	require.NotContains(t, errOut.String(), "sk_")
	require.Equal(t, 2, run(ctx, nil, []string{"migrate"}, env(), &out, &errOut), "migrate needs PostgreSQL")
}

func TestParseInterleaved(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	cur := fs.String("currency", "", "")
	pos, err := parseInterleaved(fs, []string{"cus_1", "-currency", "USD", "more"})
	require.NoError(t, err)
	require.Equal(t, []string{"cus_1", "more"}, pos)
	require.Equal(t, "USD", *cur)
}

func TestPrintMigrations(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, printMigrations(&b, "billing", 0))
	s := b.String()
	require.True(t, strings.HasPrefix(s, "-- coffer schema, versions 1.."))
	require.Contains(t, s, `CREATE SCHEMA IF NOT EXISTS "billing";`)
	require.Contains(t, s, "-- 0001_init\n")
	require.Contains(t, s, "VALUES (1, '0001_init', now());")
	require.True(t, strings.HasSuffix(s, "COMMIT;\n"))

	b.Reset()
	require.NoError(t, printMigrations(&b, "", 1))
	require.NotContains(t, b.String(), "-- 0001_init")
	require.Contains(t, b.String(), "-- 0002_")
	require.ErrorIs(t, printMigrations(&b, "", 99), errUsage)
}

func TestLogPathHidesTokens(t *testing.T) {
	require.Equal(t, "/portal/session/<token>", logPath("/portal/session/eyJjIjo.sig"))
	require.Equal(t, "/customers", logPath("/customers"))
	require.Len(t, logPath("/"+strings.Repeat("a", 500)), 203)
}

func TestCell(t *testing.T) {
	require.Equal(t, "a b c", cell("a\tb\nc"))
	require.Equal(t, "-", cell(""))
	require.Equal(t, 60, len([]rune(cell(strings.Repeat("é", 100)))))
}

func TestParseUSDRates(t *testing.T) {
	c, err := parseServe([]string{"-usd-rates", "inr=0.012, EUR=1.08"}, env(envAPIKey, key), io.Discard)
	require.NoError(t, err)
	require.Equal(t, "0.012", c.usdRates["INR"].String())
	require.Equal(t, "1.08", c.usdRates["EUR"].String())
	for _, bad := range []string{"INR", "INR=x", "INR=-1", "=1"} {
		_, err := parseServe([]string{"-usd-rates", bad}, env(envAPIKey, key), io.Discard)
		require.ErrorIs(t, err, errUsage, bad)
	}
}

func TestParseServeFX(t *testing.T) {
	c, err := parseServe(nil, env(envAPIKey, key), io.Discard)
	require.NoError(t, err)
	require.Nil(t, c.fxRates, "adaptive currency is off by default")
	c, err = parseServe([]string{"-fx-rates", "eur/usd=1.08, USD/JPY=151.2", "-fx-fee-bp", "250"}, env(envAPIKey, key), io.Discard)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"EUR/USD": "1.08", "USD/JPY": "151.2"}, c.fxRates.Pairs())
	require.Equal(t, int64(250), c.fxFeeBP)
	c, err = parseServe(nil, env(envAPIKey, key, envFXRates, "KWD/USD=3.25"), io.Discard)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"KWD/USD": "3.25"}, c.fxRates.Pairs())
}
