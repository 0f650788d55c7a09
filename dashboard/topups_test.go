package dashboard_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/topup"
)

// TestWalletTopUpRules: the wallet tab lists a customer's auto top-up
// rules in every currency with what they do, their cap and status, and
// says how to create one when there is none.
func TestWalletTopUpRules(t *testing.T) {
	e := newEnv(t, 0)
	c := e.client()
	c.signIn(e.opSecret)
	base := "/dashboard/customers/" + e.ada.ID + "?tab=wallet"
	a := c.get(base)
	require.Equal(t, http.StatusOK, a.status)
	require.Contains(t, a.body, `<h3 id="topups">Auto top-up rules</h3>`)
	require.Contains(t, a.body, "No auto top-up rules.")

	_, err := e.eng.CreateTopUp(e.ctx, e.ada.ID, "USD", coffer.TopUpParams{Trigger: topup.TriggerThreshold, Threshold: 5_00,
		Method: topup.MethodTarget, Target: 20_00, PaymentMethod: processor.CardOK, MaxPerDay: 3, MaxAmountPerDay: 50_00})
	require.NoError(t, err)
	_, err = e.eng.CreateTopUp(e.ctx, e.ada.ID, "EUR", coffer.TopUpParams{Trigger: topup.TriggerInterval, Unit: topup.UnitWeek,
		Amount: 10_00, PaymentMethod: "pm_card_<eur>", MaxPerDay: 1, Paused: true, ExpiresAfter: 72 * time.Hour})
	require.NoError(t, err)
	a = c.get(base)
	require.Equal(t, http.StatusOK, a.status)
	require.NotContains(t, a.body, "No auto top-up rules.")
	for _, s := range []string{"Below 5.00 USD: up to 20.00 USD", "3 a day, 50.00 USD a day", "<td>Active</td>",
		"Every week: add 10.00 EUR", "expires after 72h0m0s", "<td>Paused</td>", "<code>pm_card_&lt;eur&gt;</code>"} {
		require.Contains(t, a.body, s)
	}
	// Other customers' rules are not shown.
	b := c.get("/dashboard/customers/" + e.bob.ID + "?tab=wallet")
	require.Equal(t, http.StatusOK, b.status)
	require.Equal(t, 0, strings.Count(b.body, "Below 5.00 USD"))
}

// TestPortalTopUpRules: the portal shows the customer's own rules,
// read-only, and nothing when there are none.
func TestPortalTopUpRules(t *testing.T) {
	e := newEnv(t, 0)
	c := e.client()
	c.get("/portal/session/" + e.signer.Sign(e.ada.ID, "", time.Now()))
	require.NotContains(t, c.get("/portal/").body, "Automatic top-ups")
	_, err := e.eng.CreateTopUp(e.ctx, e.ada.ID, "USD", coffer.TopUpParams{Trigger: topup.TriggerThreshold, Threshold: 5_00,
		Method: topup.MethodTarget, Target: 20_00, PaymentMethod: processor.CardOK, MaxPerDay: 3})
	require.NoError(t, err)
	_, err = e.eng.CreateTopUp(e.ctx, e.bob.ID, "USD", coffer.TopUpParams{Trigger: topup.TriggerInterval, Unit: topup.UnitMonth,
		Amount: 99_00, PaymentMethod: processor.CardOK, MaxPerDay: 1})
	require.NoError(t, err)
	home := c.get("/portal/")
	require.Equal(t, http.StatusOK, home.status)
	require.Contains(t, home.body, `<h3 id="topups">Automatic top-ups</h3>`)
	require.Contains(t, home.body, "When your USD balance is below 5.00 USD, we charge your payment method to bring it back to 20.00 USD, at most 3 times a day.")
	require.NotContains(t, home.body, "99.00 USD", "another customer's rule")
	require.NotContains(t, home.body, "<form method=\"post\" action=\"/portal/top", "read-only")
}

// TestWalletTopUpPauseResume: the wallet tab's Pause and Resume buttons
// change the rule, with a notice; another customer's rule, a missing one
// and a post without the CSRF token are refused and change nothing.
func TestWalletTopUpPauseResume(t *testing.T) {
	e := newEnv(t, 0)
	c := e.client()
	c.signIn(e.opSecret)
	r, err := e.eng.CreateTopUp(e.ctx, e.ada.ID, "USD", coffer.TopUpParams{Trigger: topup.TriggerThreshold, Threshold: 5_00,
		Method: topup.MethodFixed, Amount: 10_00, PaymentMethod: processor.CardOK, MaxPerDay: 1})
	require.NoError(t, err)
	page := c.get("/dashboard/customers/" + e.ada.ID + "?tab=wallet")
	require.Contains(t, page.body, `aria-label="Pause the USD rule `+r.ID+`">Pause</button>`)
	tok := csrf(t, page.body)
	post := "/dashboard/customers/" + e.ada.ID + "/auto-top-ups/" + r.ID + "/state"

	require.Equal(t, http.StatusForbidden, c.post(post, url.Values{"state": {"paused"}}).status, "no CSRF token")
	got, err := e.eng.TopUp(e.ctx, r.ID)
	require.NoError(t, err)
	require.False(t, got.Paused)

	a := c.post(post, url.Values{"csrf": {tok}, "state": {"paused"}})
	require.Equal(t, http.StatusSeeOther, a.status)
	require.Contains(t, a.header.Get("Location"), "notice=topup_paused")
	got, err = e.eng.TopUp(e.ctx, r.ID)
	require.NoError(t, err)
	require.True(t, got.Paused)
	page = c.get(a.header.Get("Location"))
	require.Contains(t, page.body, "Auto top-up rule paused.")
	require.Contains(t, page.body, `">Resume</button>`)

	a = c.post(post, url.Values{"csrf": {tok}, "state": {"active"}})
	require.Equal(t, http.StatusSeeOther, a.status)
	got, err = e.eng.TopUp(e.ctx, r.ID)
	require.NoError(t, err)
	require.False(t, got.Paused)

	other := "/dashboard/customers/" + e.bob.ID + "/auto-top-ups/" + r.ID + "/state"
	require.Equal(t, http.StatusNotFound, c.post(other, url.Values{"csrf": {tok}, "state": {"paused"}}).status)
	missing := "/dashboard/customers/" + e.ada.ID + "/auto-top-ups/tur_missing/state"
	require.Equal(t, http.StatusNotFound, c.post(missing, url.Values{"csrf": {tok}, "state": {"paused"}}).status)
	got, err = e.eng.TopUp(e.ctx, r.ID)
	require.NoError(t, err)
	require.False(t, got.Paused, "refused posts change nothing")
}
