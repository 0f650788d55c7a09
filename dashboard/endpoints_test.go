package dashboard_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer"
)

var secretRe = regexp.MustCompile(`id="secret" readonly value="(whsec_[^"]+)"`)

func TestEndpointManagement(t *testing.T) {
	e := newEnv(t, 0)
	c := e.client()
	c.signIn(e.opSecret)
	a := c.get("/dashboard/webhooks")
	require.Contains(t, a.body, "Add an endpoint")
	tok := csrf(t, a.body)
	key := regexp.MustCompile(`name="idempotency_key" value="([^"]+-endpoint)"`).FindStringSubmatch(a.body)[1]

	// CSRF.
	require.Equal(t, http.StatusForbidden, c.post("/dashboard/webhooks", url.Values{"url": {"https://x.example/h"}}).status)
	// A bad URL: refused inside the open form, values kept, nothing created.
	bad := url.Values{"csrf": {tok}, "idempotency_key": {key}, "url": {"ftp://x.example/h"}, "description": {"shop"},
		"event_type": {"payment.succeeded"}, "patterns": {"refund.*"}}
	a = c.post("/dashboard/webhooks", bad)
	require.Equal(t, http.StatusUnprocessableEntity, a.status, a.body)
	require.Contains(t, a.body, `<details class="dialog" id="create-endpoint" open>`)
	require.Contains(t, a.body, "Error code <code>invalid_endpoint</code>")
	require.Contains(t, a.body, `value="ftp://x.example/h"`)
	require.Contains(t, a.body, `value="payment.succeeded" checked`)
	require.Contains(t, a.body, `value="refund.*"`)
	// An unknown event type.
	bad.Set("url", "https://x.example/h")
	bad.Set("patterns", "nonsense.type")
	a = c.post("/dashboard/webhooks", bad)
	require.Equal(t, http.StatusUnprocessableEntity, a.status)
	require.Contains(t, a.body, "Error code <code>invalid_event_type</code>")
	l, err := e.eng.ListEndpoints(e.ctx, coffer.EndpointListParams{})
	require.NoError(t, err)
	require.Empty(t, l.Data)

	// Created: the secret shown once, equal to the Engine's.
	good := url.Values{"csrf": {tok}, "idempotency_key": {key}, "url": {"https://x.example/h"}, "description": {"shop"},
		"event_type": {"payment.succeeded", "payment.failed"}, "patterns": {"refund.*"}}
	a = c.post("/dashboard/webhooks", good)
	require.Equal(t, http.StatusCreated, a.status, a.body)
	secret := html.UnescapeString(secretRe.FindStringSubmatch(a.body)[1])
	l, err = e.eng.ListEndpoints(e.ctx, coffer.EndpointListParams{})
	require.NoError(t, err)
	require.Len(t, l.Data, 1)
	ep := l.Data[0]
	require.Equal(t, []string{"payment.failed", "payment.succeeded", "refund.*"}, sortedCopy(ep.EventTypes))
	s, err := e.eng.EndpointSecret(e.ctx, ep.ID)
	require.NoError(t, err)
	require.Equal(t, s, secret)
	// A double submit (same key) creates nothing more.
	require.Equal(t, http.StatusCreated, c.post("/dashboard/webhooks", good).status)
	l, err = e.eng.ListEndpoints(e.ctx, coffer.EndpointListParams{})
	require.NoError(t, err)
	require.Len(t, l.Data, 1)
	// Elsewhere only the masked hint.
	page := "/dashboard/webhooks/" + ep.ID
	for _, p := range []string{"/dashboard/webhooks", page} {
		b := c.get(p).body
		require.NotContains(t, b, secret, p)
		require.Contains(t, b, ep.SecretHint, p)
	}

	// Disable, then enable.
	a = c.get(page)
	require.Equal(t, http.StatusForbidden, c.post(page+"/state", url.Values{"state": {"disabled"}}).status)
	a = c.post(page+"/state", url.Values{"csrf": {tok}, "state": {"disabled"}})
	require.Equal(t, http.StatusSeeOther, a.status, a.body)
	got, err := e.eng.Endpoint(e.ctx, ep.ID)
	require.NoError(t, err)
	require.True(t, got.Disabled)
	b := c.get(a.header.Get("Location")).body
	require.Contains(t, b, "Endpoint disabled")
	require.Contains(t, b, "Enable endpoint")
	require.Equal(t, http.StatusSeeOther, c.post(page+"/state", url.Values{"csrf": {tok}, "state": {"enabled"}}).status)
	got, err = e.eng.Endpoint(e.ctx, ep.ID)
	require.NoError(t, err)
	require.False(t, got.Disabled)

	// Rotate: a tick is required; the new secret is shown once.
	require.Equal(t, http.StatusForbidden, c.post(page+"/rotate", url.Values{"grace": {"24h"}, "confirm": {"1"}}).status)
	a = c.post(page+"/rotate", url.Values{"csrf": {tok}, "grace": {"24h"}})
	require.Equal(t, http.StatusUnprocessableEntity, a.status)
	require.Contains(t, a.body, `<details class="dialog" id="rotate" open>`)
	require.Contains(t, a.body, "Error code <code>confirmation_required</code>")
	a = c.post(page+"/rotate", url.Values{"csrf": {tok}, "grace": {"forever"}, "confirm": {"1"}})
	require.Equal(t, http.StatusUnprocessableEntity, a.status)
	s2, err := e.eng.EndpointSecret(e.ctx, ep.ID)
	require.NoError(t, err)
	require.Equal(t, secret, s2, "refused rotations change nothing")
	a = c.post(page+"/rotate", url.Values{"csrf": {tok}, "grace": {"24h"}, "confirm": {"1"}})
	require.Equal(t, http.StatusOK, a.status, a.body)
	rotated := html.UnescapeString(secretRe.FindStringSubmatch(a.body)[1])
	require.NotEqual(t, secret, rotated)
	require.Contains(t, a.body, "The previous secret keeps signing beside it until")
	s2, err = e.eng.EndpointSecret(e.ctx, ep.ID)
	require.NoError(t, err)
	require.Equal(t, s2, rotated)
	require.NotContains(t, c.get(page).body, rotated)

	// A missing endpoint.
	require.Equal(t, http.StatusNotFound, c.post("/dashboard/webhooks/ep_nope/state", url.Values{"csrf": {tok}}).status)
	require.Equal(t, http.StatusNotFound, c.post("/dashboard/webhooks/ep_nope/rotate",
		url.Values{"csrf": {tok}, "grace": {"0"}, "confirm": {"1"}}).status)
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if strings.Compare(out[j], out[i]) < 0 {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}
