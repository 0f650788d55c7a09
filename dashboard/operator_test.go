package dashboard_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/webhook"
)

var nextRe = regexp.MustCompile(`href="([^"]+)" rel="next"`)
var prevRe = regexp.MustCompile(`href="([^"]+)" rel="prev"`)

func link(t *testing.T, re *regexp.Regexp, body string) string {
	t.Helper()
	m := re.FindStringSubmatch(body)
	require.NotNil(t, m, "no %s link", re)
	return strings.ReplaceAll(m[1], "&amp;", "&")
}

func TestOperatorNav(t *testing.T) {
	e := newEnv(t, 0)
	c := e.client()
	c.signIn(e.opSecret)
	for _, p := range []string{"payments", "retries", "webhooks", "events", "keys"} {
		a := c.get("/dashboard/" + p)
		require.Equal(t, http.StatusOK, a.status, p)
		require.Contains(t, a.body, `<a href="/dashboard/`+p+`" aria-current="page">`, p)
		// Signed out: the sign-in form.
		require.Equal(t, http.StatusSeeOther, e.client().get("/dashboard/"+p).status, p)
	}
	a := c.get("/dashboard/static/dashboard.css")
	require.Equal(t, http.StatusOK, a.status)
	require.Contains(t, a.body, "figure.chart")
}

func TestPaymentsPage(t *testing.T) {
	e := newEnv(t, 0)
	c := e.client()
	c.signIn(e.opSecret)
	for range 30 {
		_, err := e.eng.Charge(e.ctx, e.adaSub.ID, coffer.ChargeParams{ProductPrice: new(int64(100))})
		require.NoError(t, err)
	}
	e.proc.Script(processor.CardOK, processor.Fraudulent)
	failed, err := e.eng.Charge(e.ctx, e.bobSub.ID, coffer.ChargeParams{ProductPrice: new(int64(999))})
	require.NoError(t, err)

	a := c.get("/dashboard/payments")
	require.Equal(t, http.StatusOK, a.status)
	require.Contains(t, a.body, failed.ID, "newest first")
	require.Equal(t, 25, strings.Count(a.body, `<td class="mono">pay_`))
	p2 := c.get(link(t, nextRe, a.body))
	require.Equal(t, 8, strings.Count(p2.body, `<td class="mono">pay_`)) // 33 payments
	require.Contains(t, p2.body, e.adaPay.ID)
	back := c.get(link(t, prevRe, p2.body))
	require.Contains(t, back.body, failed.ID)

	a = c.get("/dashboard/payments?status=failed")
	require.Equal(t, 1, strings.Count(a.body, `<td class="mono">pay_`))
	require.Contains(t, a.body, failed.ID)
	require.Contains(t, a.body, "FRAUDULENT")
	require.Contains(t, a.body, `<option selected>failed</option>`)
	require.Contains(t, a.body, `href="/dashboard/customers/`+e.bob.ID+`?tab=payments"`)
	a = c.get("/dashboard/payments?status=refunded")
	require.Contains(t, a.body, "No payments with status refunded.")
	a = c.get("/dashboard/payments?status=lost")
	require.Equal(t, http.StatusUnprocessableEntity, a.status)
	require.Contains(t, a.body, "There is no payment status lost")
	a = c.get("/dashboard/payments?status=failed&starting_after=pay_nope")
	require.Equal(t, http.StatusSeeOther, a.status, "a stale cursor restarts")
	require.Equal(t, "/dashboard/payments?status=failed", a.header.Get("Location"))
}

func TestRetriesPage(t *testing.T) {
	e := newEnv(t, 0)
	c := e.client()
	c.signIn(e.opSecret)
	a := c.get("/dashboard/retries")
	require.Contains(t, a.body, "The dunning queue is empty")

	e.proc.Script(processor.CardOK, processor.InsufficientFunds, processor.InsufficientFunds)
	_, err := e.eng.Charge(e.ctx, e.adaSub.ID, coffer.ChargeParams{ProductPrice: new(int64(300))})
	require.NoError(t, err)
	_, err = e.eng.Charge(e.ctx, e.bobSub.ID, coffer.ChargeParams{ProductPrice: new(int64(700))})
	require.NoError(t, err)
	l, err := e.eng.ListAttempts(e.ctx, coffer.AttemptListParams{})
	require.NoError(t, err)
	require.Len(t, l.Data, 2)

	a = c.get("/dashboard/retries")
	require.Equal(t, http.StatusOK, a.status)
	require.Contains(t, a.body, "#2")
	require.Contains(t, a.body, "3.00 USD")
	require.Contains(t, a.body, "7.00 USD")
	first, second := strings.Index(a.body, l.Data[0].CustomerID), strings.Index(a.body, l.Data[1].CustomerID)
	require.True(t, first >= 0 && second > first, "soonest first, as ListAttempts")
	a = c.get("/dashboard/retries?status=scheduled")
	require.Contains(t, a.body, "3.00 USD")
	a = c.get("/dashboard/retries?status=failed")
	require.Contains(t, a.body, "The dunning queue is empty for status failed")
	require.Equal(t, http.StatusUnprocessableEntity, c.get("/dashboard/retries?status=soon").status)
}

func TestWebhooksPages(t *testing.T) {
	e := newEnv(t, 0)
	c := e.client()
	c.signIn(e.opSecret)
	require.Contains(t, c.get("/dashboard/webhooks").body, "No webhook endpoint yet")

	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer recv.Close()
	ep, err := e.eng.CreateEndpoint(e.ctx, coffer.EndpointParams{URL: recv.URL + "/hook", Description: "shop",
		EventTypes: []string{"customer.*"}})
	require.NoError(t, err)
	other, err := e.eng.CreateEndpoint(e.ctx, coffer.EndpointParams{URL: recv.URL + "/other", EventTypes: []string{"payment.*"}})
	require.NoError(t, err)
	_, err = e.eng.UpdateCustomer(e.ctx, e.ada.ID, customer.Params{Name: new("Ada K")})
	require.NoError(t, err)
	_, err = e.eng.DispatchDue(e.ctx)
	require.NoError(t, err)
	dl, err := e.eng.ListDeliveries(e.ctx, coffer.DeliveryListParams{EndpointID: ep.ID})
	require.NoError(t, err)
	require.NotEmpty(t, dl.Data)
	d := dl.Data[0]
	require.Equal(t, webhook.DeliveryFailed, d.Status, "one attempt: dead-lettered")

	a := c.get("/dashboard/webhooks")
	require.Contains(t, a.body, recv.URL+"/hook")
	require.Contains(t, a.body, "<code>customer.*</code>")
	require.NotContains(t, a.body, "whsec_"+"A", "no secret, only its hint")

	page := "/dashboard/webhooks/" + ep.ID
	a = c.get(page)
	require.Equal(t, http.StatusOK, a.status)
	require.Contains(t, a.body, d.ID)
	require.Contains(t, a.body, "HTTP 500")
	require.Contains(t, a.body, ">Redeliver</button>")
	require.Contains(t, c.get(page+"?status=succeeded").body, "No deliveries with status succeeded")
	require.Equal(t, http.StatusUnprocessableEntity, c.get(page+"?status=dead").status)
	require.Equal(t, http.StatusNotFound, c.get("/dashboard/webhooks/ep_nope").status)

	tok := csrf(t, a.body)
	redeliver := page + "/deliveries/" + d.ID + "/redeliver"
	require.Equal(t, http.StatusForbidden, c.post(redeliver, url.Values{"csrf": {"forged"}}).status)
	require.Equal(t, http.StatusNotFound, c.post("/dashboard/webhooks/"+other.ID+"/deliveries/"+d.ID+"/redeliver",
		url.Values{"csrf": {tok}}).status, "a delivery of another endpoint")
	a = c.post(redeliver, url.Values{"csrf": {tok}})
	require.Equal(t, http.StatusSeeOther, a.status, a.body)
	require.Contains(t, c.get(a.header.Get("Location")).body, "Delivery queued again")
	got, err := e.eng.Delivery(e.ctx, d.ID)
	require.NoError(t, err)
	require.Equal(t, webhook.DeliveryPending, got.Status)
	a = c.post(redeliver, url.Values{"csrf": {tok}})
	require.Equal(t, http.StatusUnprocessableEntity, a.status, "a pending delivery is not redelivered: the Engine's answer")
	require.Contains(t, a.body, "pending")
}

func TestEventsPage(t *testing.T) {
	e := newEnv(t, 0)
	c := e.client()
	c.signIn(e.opSecret)
	a := c.get("/dashboard/events")
	require.Equal(t, http.StatusOK, a.status)
	require.Contains(t, a.body, "<code>customer.created</code>")
	require.Contains(t, a.body, "<code>payment.succeeded</code>")
	require.Contains(t, a.body, `<option>wallet.balance_low</option>`, "every type coffer writes is offered")
	a = c.get("/dashboard/events?type=payment.succeeded")
	require.Equal(t, 2, strings.Count(a.body, "<code>payment.succeeded</code>"))
	require.NotContains(t, a.body, "<code>customer.created</code>")
	a = c.get("/dashboard/events?type=payment.succeded")
	require.Equal(t, http.StatusUnprocessableEntity, a.status)
	require.Contains(t, a.body, "coffer writes no event of type payment.succeded")
}

func TestKeysPage(t *testing.T) {
	e := newEnv(t, 0)
	c := e.client()
	c.signIn(e.opSecret)
	a := c.get("/dashboard/keys")
	require.Equal(t, http.StatusOK, a.status)
	require.Contains(t, a.body, "operator <span class=\"muted\">(this session)</span>")
	require.Contains(t, a.body, "ada only")
	require.NotContains(t, a.body, e.opSecret)
	require.NotContains(t, a.body, e.restricted)
	tok := csrf(t, a.body)

	// Create: CSRF, bad input inside the form, then the secret once.
	require.Equal(t, http.StatusForbidden, c.post("/dashboard/keys", url.Values{"name": {"ci"}}).status)
	a = c.post("/dashboard/keys", url.Values{"csrf": {tok}, "name": {"  "}})
	require.Equal(t, http.StatusUnprocessableEntity, a.status)
	require.Contains(t, a.body, "<div class=\"error problem\" role=\"alert\" id=\"key-error\">\n<p>Give the key a name")
	a = c.post("/dashboard/keys", url.Values{"csrf": {tok}, "name": {"ci"}, "customer_id": {"cus_nope"}})
	require.Equal(t, http.StatusUnprocessableEntity, a.status)
	require.Contains(t, a.body, "The key was not created")
	require.Contains(t, a.body, `value="cus_nope"`)
	a = c.post("/dashboard/keys", url.Values{"csrf": {tok}, "name": {"ci"}})
	require.Equal(t, http.StatusCreated, a.status, a.body)
	require.Equal(t, "no-store", a.header.Get("Cache-Control"))
	m := regexp.MustCompile(`id="secret" readonly value="(sk_test_[^"]+)"`).FindStringSubmatch(a.body)
	require.NotNil(t, m)
	k, err := e.eng.Authenticate(e.ctx, m[1])
	require.NoError(t, err)
	require.Equal(t, "ci", k.Name)
	list := c.get("/dashboard/keys")
	require.Contains(t, list.body, k.Prefix+"…")
	require.NotContains(t, list.body, m[1], "never shown again")

	// Revoke: a confirmation page, the tick required.
	a = c.get("/dashboard/keys/" + k.ID + "/revoke")
	require.Equal(t, http.StatusOK, a.status)
	require.NotContains(t, a.body, "signs you out")
	require.Equal(t, http.StatusForbidden, c.post("/dashboard/keys/"+k.ID+"/revoke", url.Values{"confirm": {"1"}}).status)
	a = c.post("/dashboard/keys/"+k.ID+"/revoke", url.Values{"csrf": {tok}})
	require.Equal(t, http.StatusUnprocessableEntity, a.status)
	require.Contains(t, a.body, "Tick “I confirm”")
	require.Equal(t, http.StatusNotFound, c.post("/dashboard/keys/key_nope/revoke", url.Values{"csrf": {tok}, "confirm": {"1"}}).status)
	_, err = e.eng.Authenticate(e.ctx, m[1])
	require.NoError(t, err)
	a = c.post("/dashboard/keys/"+k.ID+"/revoke", url.Values{"csrf": {tok}, "confirm": {"1"}})
	require.Equal(t, http.StatusSeeOther, a.status)
	require.Equal(t, "/dashboard/keys?notice=revoked", a.header.Get("Location"))
	_, err = e.eng.Authenticate(e.ctx, m[1])
	require.ErrorIs(t, err, coffer.ErrUnauthenticated)
	require.Contains(t, c.get("/dashboard/keys").body, `status-failed">revoked</span>`)

	// Revoking the session's own key warns, then signs out.
	self, err := e.eng.Authenticate(e.ctx, e.opSecret)
	require.NoError(t, err)
	require.Contains(t, c.get("/dashboard/keys/"+self.ID+"/revoke").body, "revoking it signs you out")
	a = c.post("/dashboard/keys/"+self.ID+"/revoke", url.Values{"csrf": {tok}, "confirm": {"1"}})
	require.Equal(t, http.StatusSeeOther, a.status)
	require.Equal(t, "/dashboard/login", a.header.Get("Location"))
	require.Equal(t, http.StatusSeeOther, c.get("/dashboard/keys").status)
}
