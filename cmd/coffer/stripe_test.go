package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestServeStripe runs `coffer serve -processor stripe` in process against
// stripe-mock (COFFER_STRIPE_MOCK): it starts, answers /readyz, stops on
// cancel, and never prints the secret key.
func TestServeStripe(t *testing.T) {
	mock := os.Getenv("COFFER_STRIPE_MOCK")
	if mock == "" {
		t.Skip("COFFER_STRIPE_MOCK is unset")
	}
	const secret = "sk_test_serveSECRETvalue123"
	srv := startServe(t, env(envAPIKey, key, envStripeKey, secret, envStripeAPIBase, mock, envStripeWebhook, "whsec_serveWEBHOOKsecret"),
		"-processor", "stripe", "-db", filepath.Join(t.TempDir(), "c.db"))
	addr := srv.addr
	// Stripe's webhook endpoint is mounted and refuses an unsigned event.
	resp, err := http.Post("http://"+addr+stripeWebhookPath, "application/json", strings.NewReader(`{"type":"payment_intent.succeeded"}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, 0, srv.stop(), srv.errOut.String())
	logs := srv.errOut.String() + srv.out.String()
	require.Contains(t, logs, "processor=stripe")
	require.NotContains(t, logs, "TEST MODE")
	require.False(t, strings.Contains(logs, secret) || strings.Contains(logs, "serveSECRET") || strings.Contains(logs, "WEBHOOKsecret"),
		"the keys are never logged")
}
