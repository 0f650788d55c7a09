package dashboard_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/internal/session"
	"github.com/cofferhq/coffer/subscription"
)

// The portal's tests live here, next to the dashboard's, because they share
// one server (env_test.go) with both mounted.

func TestPortalEntry(t *testing.T) {
	e := newEnv(t, 0)
	c := e.client()
	// No session: nothing.
	a := c.get("/portal/")
	require.Equal(t, http.StatusUnauthorized, a.status)
	require.NotContains(t, a.body, "Ada")
	// Bad and tampered links.
	require.Equal(t, http.StatusNotFound, c.get("/portal/session/nope").status)
	old := e.signer.Sign(e.ada.ID, "", time.Now().Add(-2*time.Hour))
	require.Equal(t, http.StatusGone, c.get("/portal/session/"+old).status) // expired
	tok := e.signer.Sign(e.ada.ID, "", time.Now())
	require.Equal(t, http.StatusNotFound, c.get("/portal/session/"+tok+"x").status)
	require.Equal(t, http.StatusUnauthorized, c.get("/portal/").status)

	a = c.get("/portal/session/" + tok)
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, session.CSP, a.header.Get("Content-Security-Policy"))
	require.Equal(t, "no-referrer", a.header.Get("Referrer-Policy"))
	require.Contains(t, a.header.Get("Set-Cookie"), "SameSite=Strict")
	require.Contains(t, a.header.Get("Set-Cookie"), "HttpOnly")
	require.Contains(t, a.body, `http-equiv="refresh" content="0;url=/portal/"`)
	home := c.get("/portal/")
	require.Equal(t, http.StatusOK, home.status)
	for _, s := range []string{"Ada Lovelace", e.adaPay.ID[:0] + "45.00 USD", "Receipt", e.adaSub.ID, "Cancel…", "Welcome credit",
		`<label for="name">`, `value="ada@example.com"`} {
		require.Contains(t, home.body, s)
	}
	require.NotContains(t, home.body, "Bob")
	require.NotContains(t, home.body, e.bobSub.ID)

	// Leaving ends the session.
	require.Equal(t, http.StatusOK, c.post("/portal/logout", url.Values{"csrf": {csrf(t, home.body)}}).status)
	require.Equal(t, http.StatusUnauthorized, c.get("/portal/").status)
}

func TestPortalIsolation(t *testing.T) {
	e := newEnv(t, 0)
	c := e.client()
	home := c.openPortal(e.ada.ID)
	tok := csrf(t, home.body)
	// Ada's own receipt; Bob's records are not found by any URL.
	r := c.get("/portal/payments/" + e.adaPay.ID + "/receipt")
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, r.body, "45.00 USD")
	require.Contains(t, r.body, "Ada Lovelace")
	for _, u := range []string{"/portal/payments/" + e.bobPay.ID + "/receipt", "/portal/subscriptions/" + e.bobSub.ID + "/cancel",
		"/portal/payments/pay_nope/receipt", "/portal/?customer_id=" + e.bob.ID} {
		a := c.get(u)
		require.NotContains(t, a.body, "Bob", u)
		require.NotContains(t, a.body, "bob@example.com", u)
		if !strings.Contains(u, "?") {
			require.Equal(t, http.StatusNotFound, a.status, u)
		}
	}
	a := c.post("/portal/subscriptions/"+e.bobSub.ID+"/cancel", url.Values{"csrf": {tok}, "confirm": {"1"}})
	require.Equal(t, http.StatusNotFound, a.status)
	s, err := e.eng.Subscription(e.ctx, e.bobSub.ID)
	require.NoError(t, err)
	require.Equal(t, subscription.StatusActive, s.Status)
	// The profile form changes the session's customer only, whatever the form says.
	a = c.post("/portal/profile", url.Values{"csrf": {tok}, "name": {"Ada King"}, "email": {"ada@example.com"},
		"phone": {"+15550199"}, "id": {e.bob.ID}, "customer_id": {e.bob.ID}})
	require.Equal(t, http.StatusSeeOther, a.status)
	bob, err := e.eng.Customer(e.ctx, e.bob.ID)
	require.NoError(t, err)
	require.Equal(t, "Bob Builder", bob.Name)
	// A dashboard session cookie is not a portal session and the other way round.
	dash := e.client()
	dash.signIn(e.opSecret)
	require.Equal(t, http.StatusUnauthorized, dash.get("/portal/").status)
	require.Equal(t, http.StatusSeeOther, c.get("/dashboard/customers").status)
}

func TestPortalProfileAndCancel(t *testing.T) {
	e := newEnv(t, 0)
	c := e.client()
	home := c.openPortal(e.ada.ID)
	tok := csrf(t, home.body)

	// CSRF refusals.
	require.Equal(t, http.StatusForbidden, c.post("/portal/profile", url.Values{"name": {"X"}}).status)
	require.Equal(t, http.StatusForbidden, c.post("/portal/subscriptions/"+e.adaSub.ID+"/cancel", url.Values{"confirm": {"1"}}).status)
	other := e.client()
	other.openPortal(e.bob.ID) // Bob's session with Ada's token
	require.Equal(t, http.StatusForbidden, other.post("/portal/profile", url.Values{"csrf": {tok}, "name": {"X"}}).status)

	a := c.post("/portal/profile", url.Values{"csrf": {tok}, "name": {"Ada King"}, "email": {"ada.king@example.com"}, "phone": {"+15550199"}})
	require.Equal(t, http.StatusSeeOther, a.status)
	cu, err := e.eng.Customer(e.ctx, e.ada.ID)
	require.NoError(t, err)
	require.Equal(t, "Ada King", cu.Name)
	require.Equal(t, "ada.king@example.com", cu.Email)
	require.Equal(t, "+15550199", cu.Phone)
	require.Contains(t, c.get("/portal/?notice=profile").body, "Your details are saved.")
	require.Equal(t, http.StatusUnprocessableEntity,
		c.post("/portal/profile", url.Values{"csrf": {tok}, "name": {"Ada"}, "email": {"not an email"}}).status)

	// Cancel: a confirmation page, refused without the tick, then done.
	f := c.get("/portal/subscriptions/" + e.adaSub.ID + "/cancel")
	require.Equal(t, http.StatusOK, f.status)
	require.Contains(t, f.body, "Yes, cancel this subscription")
	require.Equal(t, http.StatusUnprocessableEntity, c.post("/portal/subscriptions/"+e.adaSub.ID+"/cancel", url.Values{"csrf": {tok}}).status)
	a = c.post("/portal/subscriptions/"+e.adaSub.ID+"/cancel", url.Values{"csrf": {tok}, "confirm": {"1"}})
	require.Equal(t, http.StatusSeeOther, a.status)
	s, err := e.eng.Subscription(e.ctx, e.adaSub.ID)
	require.NoError(t, err)
	require.Equal(t, subscription.StatusCancelled, s.Status)
	require.Contains(t, c.get("/portal/?notice=cancelled").body, "The subscription is cancelled.")
}
