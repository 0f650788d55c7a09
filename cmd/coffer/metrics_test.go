package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/otelcoffer"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store/memory"
)

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// TestMetricsScrape: the Prometheus exporter serves the wrappers' series
// under their coffer_* names.
func TestMetricsScrape(t *testing.T) {
	obs, err := newObservability(slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer obs.close()
	s := memory.New()
	defer s.Close()
	eng, err := coffer.New(otelcoffer.WrapStore(s, obs.opts), coffer.WithProcessor(obs.processor(processor.NewTest(nil))))
	require.NoError(t, err)
	defer eng.Close()
	ctx := context.Background()
	c, err := eng.CreateCustomer(ctx, customer.Params{})
	require.NoError(t, err)
	_, err = eng.ChargeOneTime(ctx, c.ID, coffer.OneTimeParams{Amount: 1_00, Currency: "USD", PaymentMethod: processor.CardOK})
	require.NoError(t, err)
	_, err = eng.ChargeOneTime(ctx, c.ID, coffer.OneTimeParams{Amount: 1_00, Currency: "USD", PaymentMethod: processor.CardDoNotHonor})
	require.NoError(t, err)

	srv := httptest.NewServer(obs.serveMetrics(http.NotFoundHandler()))
	defer srv.Close()
	body := scrape(t, srv.URL+metricsPath)
	for _, want := range []string{
		`coffer_charges_total{currency="USD",decline_code="none",`,
		`coffer_charges_total{currency="USD",decline_code="DO_NOT_HONOR",`,
		`outcome="failed"`,
		`coffer_store_transaction_duration_seconds_bucket{kind="update",`,
		`coffer_processor_duration_seconds_count{operation="charge",`,
		`coffer_events_total{event_type="payment.succeeded",`,
		"go_goroutines",
		`target_info{service_name="coffer"`,
	} {
		require.Contains(t, body, want)
	}
	require.NotContains(t, body, "pm_card")
	require.NotContains(t, body, c.ID, "no customer id in a series")
	// Other paths pass through.
	resp, err := http.Get(srv.URL + "/v1/anything")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// TestServeMetrics runs `coffer serve -demo` in process: /metrics answers
// without an API key and shows the demo's charges and ledger entries.
func TestServeMetrics(t *testing.T) {
	srv := startServe(t, env(envAPIKey, key), "-demo", "-db", filepath.Join(t.TempDir(), "c.db"))
	addr := srv.addr
	body := scrape(t, "http://"+addr+metricsPath)
	for _, want := range []string{"coffer_charges_total{", `outcome="succeeded"`, "coffer_ledger_entries_total{",
		"coffer_store_transaction_duration_seconds_bucket{", "coffer_mandates_total{"} {
		require.True(t, strings.Contains(body, want), "no %s in:\n%s", want, body)
	}
	require.Equal(t, 0, srv.stop(), srv.errOut.String())
	require.NotContains(t, srv.errOut.String(), "path="+metricsPath, "scrapes are not in the request log")
}
