package main

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// otlpReceiver is a fake OTLP/HTTP collector: it keeps the bodies POSTed
// to /v1/traces.
type otlpReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	bodies [][]byte
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	rc := &otlpReceiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
			http.NotFound(w, r)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		b, err := io.ReadAll(body)
		if err != nil || r.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		rc.bodies = append(rc.bodies, b)
		rc.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK) // an empty ExportTraceServiceResponse
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *otlpReceiver) all() []byte {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return bytes.Join(rc.bodies, nil)
}

// webhookReceiver records the deliveries it gets.
type webhookReceiver struct {
	*httptest.Server
	mu  sync.Mutex
	got []http.Header
}

func newWebhookReceiver(t *testing.T) *webhookReceiver {
	wr := &webhookReceiver{}
	wr.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		wr.mu.Lock()
		wr.got = append(wr.got, r.Header.Clone())
		wr.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(wr.Close)
	return wr
}

func (wr *webhookReceiver) count() int {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	return len(wr.got)
}

// do makes an API request to a startServe server with the test key.
func (p inProcess) do(t *testing.T, method, path string, body any, header ...string) answer {
	t.Helper()
	s := &server{t: t, base: "http://" + p.addr}
	return s.do(method, path, body, header...)
}

// TestServeObservability runs `coffer serve -demo` in process with an
// OTLP endpoint and a separate metrics listener, and makes a full flow
// through HTTP (a webhook endpoint with its own secret, a charge whose
// payment.succeeded is delivered): the metrics listener serves /metrics
// and the main one does not; the collector receives the request's server
// span, in the caller's trace, with the engine's and the processor's
// spans; the charge's log line carries the request id and the payment id;
// and neither the API key nor the webhook secret is in any log line.
func TestServeObservability(t *testing.T) {
	otlp := newOTLPReceiver(t)
	hooks := newWebhookReceiver(t)
	metricsAddr := freePort(t)
	srv := startServe(t, env(envAPIKey, key, envOTLPEndpoint, otlp.URL),
		"-demo", "-db", filepath.Join(t.TempDir(), "c.db"), "-metrics-addr", metricsAddr, "-log-format", "json",
		"-webhooks-allow-private")

	// A webhook endpoint with a secret the test knows.
	secret := "whsec_" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x5a, 0xc3, 0x17}, 11))
	a := srv.do(t, "POST", "/webhooks", map[string]any{"url": hooks.URL, "secret": secret})
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	a = srv.do(t, "GET", "/webhooks/"+a.json(t)["id"].(string)+"/secret", nil)
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	require.Equal(t, secret, a.json(t)["secret"])

	// A charge of the demo's active subscription, in the caller's trace.
	sub := regexp.MustCompile(`subscription\s+(sub_[0-9a-f]+)\s+active`).FindStringSubmatch(srv.out.String())
	require.NotNil(t, sub, srv.out.String())
	const traceID = "0af7651916cd43dd8448eb211c80319c"
	a = srv.do(t, "POST", "/subscriptions/"+sub[1]+"/charge",
		map[string]any{"product_price": 1_000_000, "product_currency": "USD"}, // more than the demo wallet holds
		"traceparent", "00-"+traceID+"-b7ad6b7169203331-01", "X-Request-Id", "req_obs_test_1")
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	require.Equal(t, "req_obs_test_1", a.header.Get("X-Request-Id"))
	payID := a.json(t)["payment_id"].(string)
	require.NotEmpty(t, payID)
	deadline := time.Now().Add(15 * time.Second)
	for hooks.count() == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	require.NotZero(t, hooks.count(), "a webhook delivery arrived")

	// Metrics on their own listener only.
	body := scrape(t, "http://"+metricsAddr+metricsPath)
	require.Contains(t, body, "coffer_charges_total{")
	require.Contains(t, body, "coffer_webhook_deliveries_total{")
	require.Contains(t, body, `http_server_request_duration_seconds_count{http_request_method="POST",`+
		`http_response_status_code="200",http_route="POST /subscriptions/{subscription_id}/charge"`)
	resp, err := http.Get("http://" + srv.addr + metricsPath)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NotEqual(t, http.StatusOK, resp.StatusCode)
	require.NotContains(t, string(b), "coffer_charges_total")

	require.Equal(t, 0, srv.stop(), srv.errOut.String())

	// Traces: flushed at shutdown.
	spans := otlp.all()
	require.NotEmpty(t, spans, "the collector received spans")
	raw, _ := hex.DecodeString(traceID)
	require.True(t, bytes.Contains(spans, raw), "the caller's trace id")
	for _, name := range []string{"POST /subscriptions/{subscription_id}/charge", "coffer.charge", "coffer.processor.charge",
		"coffer.store.update", "coffer.webhook.deliver", "POST /webhooks"} {
		require.True(t, bytes.Contains(spans, []byte(name)), "span %q exported", name)
	}
	require.True(t, bytes.Contains(spans, []byte(payID)), "the payment id is a span attribute")

	// Logs: the charge's processor line has the request and payment ids
	// (and the caller's trace); the request line too has the request id.
	logs := srv.errOut.String()
	var charge, request map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		switch {
		case m["msg"] == "coffer: processor charge" && m["payment_id"] == payID:
			charge = m
		case m["msg"] == "http request" && m["request_id"] == "req_obs_test_1":
			request = m
		}
	}
	require.NotNil(t, charge, logs)
	require.Equal(t, "req_obs_test_1", charge["request_id"])
	require.Equal(t, traceID, charge["trace_id"])
	require.NotNil(t, request, logs)
	require.Equal(t, traceID, request["trace_id"])

	// Secrets never in a log line.
	for _, s := range []string{key, strings.TrimPrefix(key, "sk_test_"), secret, strings.TrimPrefix(secret, "whsec_")} {
		require.NotContains(t, logs, s)
		require.False(t, bytes.Contains(spans, []byte(s)), "no secret in a span")
	}
	require.NotContains(t, logs, "Bearer")
}

// TestServeMetricsOff: -metrics-addr off serves no /metrics anywhere.
func TestServeMetricsOff(t *testing.T) {
	srv := startServe(t, env(envAPIKey, key), "-db", filepath.Join(t.TempDir(), "c.db"), "-metrics-addr", "off")
	resp, err := http.Get("http://" + srv.addr + metricsPath)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NotContains(t, string(b), "go_goroutines")
	require.Equal(t, 0, srv.stop(), srv.errOut.String())
}

func TestParseTelemetry(t *testing.T) {
	cases := []struct {
		env     []string
		want    string
		wantErr string
	}{
		{env: nil, want: ""},
		{env: []string{envOTLPEndpoint, "http://collector:4318"}, want: "http://collector:4318/v1/traces"},
		{env: []string{envOTLPEndpoint, "http://collector:4318/"}, want: "http://collector:4318/v1/traces"},
		{env: []string{envOTLPEndpoint, "http://a:4318", envOTLPTracesEndpoint, "https://b/custom/path"}, want: "https://b/custom/path"},
		{env: []string{envOTLPEndpoint, "http://a:4318", envTracesExporter, "none"}, want: ""},
		{env: []string{envOTLPEndpoint, "http://a:4318", envSDKDisabled, "true"}, want: ""},
		{env: []string{envOTLPEndpoint, "http://a:4318", envTracesExporter, "zipkin"}, wantErr: "OTEL_TRACES_EXPORTER"},
		{env: []string{envOTLPEndpoint, "http://a:4318", envOTLPProtocol, "grpc"}, wantErr: "http/protobuf"},
		{env: []string{envOTLPEndpoint, "collector:4318"}, wantErr: "want an http or https URL"},
	}
	for _, tc := range cases {
		tcfg, err := parseTelemetry(env(tc.env...))
		if tc.wantErr != "" {
			require.ErrorContains(t, err, tc.wantErr, "%v", tc.env)
			continue
		}
		require.NoError(t, err, "%v", tc.env)
		require.Equal(t, tc.want, tcfg.tracesURL, "%v", tc.env)
		require.Equal(t, "coffer", tcfg.serviceName)
	}
	tcfg, err := parseTelemetry(env(envServiceName, "billing"))
	require.NoError(t, err)
	require.Equal(t, "billing", tcfg.serviceName)
	require.Equal(t, "http://collector:4318/v1/traces", redactURL("http://user:pw@collector:4318/v1/traces?token=x"))

	_, err = parseServe([]string{"-metrics-addr", "9464"}, env(), io.Discard)
	require.ErrorContains(t, err, "-metrics-addr")
	c, err := parseServe([]string{"-metrics-addr", "127.0.0.1:9464"}, env(), io.Discard)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:9464", c.metricsAddr)
}
