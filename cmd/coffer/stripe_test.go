package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	addr := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, nil, []string{"serve", "-processor", "stripe", "-db", filepath.Join(t.TempDir(), "c.db"), "-addr", addr},
			env(envAPIKey, key, envStripeKey, secret, envStripeAPIBase, mock, envStripeWebhook, "whsec_serveWEBHOOKsecret"), &out, &errOut)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited with %d:\n%s", code, errOut.String())
		case <-time.After(50 * time.Millisecond):
		}
		require.True(t, time.Now().Before(deadline), "not ready:\n%s", errOut.String())
	}
	// Stripe's webhook endpoint is mounted and refuses an unsigned event.
	resp, err := http.Post("http://"+addr+stripeWebhookPath, "application/json", strings.NewReader(`{"type":"payment_intent.succeeded"}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	cancel()
	require.Equal(t, 0, <-done, errOut.String())
	logs := errOut.String() + out.String()
	require.Contains(t, logs, "processor=stripe")
	require.NotContains(t, logs, "TEST MODE")
	require.False(t, strings.Contains(logs, secret) || strings.Contains(logs, "serveSECRET") || strings.Contains(logs, "WEBHOOKsecret"),
		"the keys are never logged")
}
