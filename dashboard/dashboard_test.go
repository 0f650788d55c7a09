package dashboard_test

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/internal/session"
)

func TestSignIn(t *testing.T) {
	e := newEnv(t, 0)
	c := e.client()

	// Signed out: pages send to the sign-in form; a POST is refused.
	a := c.get("/dashboard/customers")
	require.Equal(t, http.StatusSeeOther, a.status)
	require.Equal(t, "/dashboard/login", a.header.Get("Location"))
	require.Equal(t, http.StatusUnauthorized, c.post("/dashboard/logout", nil).status)

	a = c.get("/dashboard/login")
	require.Equal(t, session.CSP, a.header.Get("Content-Security-Policy"))
	require.Contains(t, a.body, `<label for="key">`)
	require.NotContains(t, a.body, "Sign out")

	// Wrong key, restricted key, no CSRF token.
	require.Equal(t, http.StatusUnauthorized, c.signIn("sk_test_nope").status)
	a = c.signIn(e.restricted)
	require.Equal(t, http.StatusForbidden, a.status)
	require.Contains(t, a.body, "restricted")
	require.Equal(t, http.StatusForbidden, c.post("/dashboard/login", url.Values{"key": {e.opSecret}}).status)
	fresh := e.client() // a form token of another browser does not do either
	form := c.get("/dashboard/login")
	require.Equal(t, http.StatusForbidden, fresh.post("/dashboard/login", url.Values{"csrf": {csrf(t, form.body)}, "key": {e.opSecret}}).status)

	// The operator key signs in: an HttpOnly, SameSite=Strict cookie.
	a = c.signIn(e.opSecret)
	require.Equal(t, http.StatusSeeOther, a.status)
	cookie := a.header.Get("Set-Cookie")
	for _, h := range a.header.Values("Set-Cookie") {
		if strings.HasPrefix(h, "coffer_dashboard=") {
			cookie = h
		}
	}
	require.Contains(t, cookie, "HttpOnly")
	require.Contains(t, cookie, "SameSite=Strict")
	a = c.get("/dashboard/customers")
	require.Equal(t, http.StatusOK, a.status)
	require.Contains(t, a.body, "Ada Lovelace")

	// Revoking the key ends the session.
	k, err := e.eng.Authenticate(e.ctx, e.opSecret)
	require.NoError(t, err)
	_, err = e.eng.RevokeAPIKey(e.ctx, k.ID)
	require.NoError(t, err)
	require.Equal(t, http.StatusSeeOther, c.get("/dashboard/customers").status)
}

func TestSignOutAndCSRF(t *testing.T) {
	e := newEnv(t, 0)
	c := e.client()
	c.signIn(e.opSecret)
	page := c.get("/dashboard/customers")
	// A POST without the session's token is refused.
	require.Equal(t, http.StatusForbidden, c.post("/dashboard/logout", url.Values{"csrf": {"forged"}}).status)
	require.Equal(t, http.StatusForbidden, c.post("/dashboard/customers/columns", url.Values{"col_id": {"1"}}).status)
	require.Equal(t, http.StatusForbidden, c.post("/dashboard/customers/"+e.ada.ID+"/payments/"+e.adaPay.ID+"/refund",
		url.Values{"confirm": {"1"}, "idempotency_key": {"k1"}}).status)
	a := c.post("/dashboard/logout", url.Values{"csrf": {csrf(t, page.body)}})
	require.Equal(t, http.StatusSeeOther, a.status)
	require.Equal(t, http.StatusSeeOther, c.get("/dashboard/customers").status)
}

var rowRe = regexp.MustCompile(`<tr>\s*<td><span class="avatar`)

func TestCustomersPageSearchAndPaging(t *testing.T) {
	e := newEnv(t, 25)
	c := e.client()
	c.signIn(e.opSecret)

	a := c.get("/dashboard/customers?limit=10")
	require.Equal(t, http.StatusOK, a.status)
	require.Len(t, rowRe.FindAllString(a.body, -1), 10)
	for _, col := range []string{"Name", "Customer ID", "Email", "Phone", "Created (UTC)"} {
		require.Contains(t, a.body, `<th scope="col"`)
		require.Contains(t, a.body, ">"+col+"</th>")
	}
	require.Contains(t, a.body, `class="avatar`)
	require.Contains(t, a.body, ">BB</span>") // Bob Builder's initials, newest first
	require.Contains(t, a.body, "Portal invite")
	require.NotContains(t, a.body, `rel="prev"`)

	// Page forward twice and back once.
	next := regexp.MustCompile(`href="([^"]+)" rel="next"`)
	prev := regexp.MustCompile(`href="([^"]+)" rel="prev"`)
	m := next.FindStringSubmatch(a.body)
	require.NotNil(t, m)
	u := strings.ReplaceAll(m[1], "&amp;", "&")
	require.Contains(t, u, "starting_after=")
	require.Contains(t, u, "limit=10")
	p2 := c.get(u)
	require.Len(t, rowRe.FindAllString(p2.body, -1), 10)
	require.NotContains(t, p2.body, "Bob Builder")
	p3 := c.get(strings.ReplaceAll(next.FindStringSubmatch(p2.body)[1], "&amp;", "&"))
	require.Len(t, rowRe.FindAllString(p3.body, -1), 7) // 27 customers
	require.Nil(t, next.FindStringSubmatch(p3.body))
	back := c.get(strings.ReplaceAll(prev.FindStringSubmatch(p3.body)[1], "&amp;", "&"))
	require.Equal(t, rowRe.FindAllString(p2.body, -1), rowRe.FindAllString(back.body, -1))
	require.Contains(t, back.body, `rel="prev"`)

	// An unknown page size falls back to 20; a bad cursor restarts.
	require.Len(t, rowRe.FindAllString(c.get("/dashboard/customers?limit=7").body, -1), 20)
	require.Equal(t, http.StatusSeeOther, c.get("/dashboard/customers?starting_after=cus_nope").status)

	// Search by name, email and id.
	for _, q := range []string{"Ada", "ada@example.com", e.ada.ID} {
		s := c.get("/dashboard/customers?search=" + url.QueryEscape(q))
		require.Equal(t, http.StatusOK, s.status)
		require.Contains(t, s.body, "Ada Lovelace", q)
		require.NotContains(t, s.body, "Bob Builder", q)
	}
	s := c.get("/dashboard/customers?search=zzzz")
	require.Contains(t, s.body, "No customer matches")
}

func TestEditColumns(t *testing.T) {
	e := newEnv(t, 0)
	c := e.client()
	c.signIn(e.opSecret)
	page := c.get("/dashboard/customers")
	a := c.post("/dashboard/customers/columns", url.Values{"csrf": {csrf(t, page.body)}, "col_name": {"1"}, "col_email": {"1"}})
	require.Equal(t, http.StatusSeeOther, a.status)
	require.Contains(t, a.header.Get("Location"), "notice=columns")
	page = c.get("/dashboard/customers")
	require.Contains(t, page.body, ">Email</th>")
	require.NotContains(t, page.body, ">Phone</th>")
	require.NotContains(t, page.body, ">Customer ID</th>")
	require.NotContains(t, page.body, "+15550100")
	// A choice without name and id keeps the name (a row links its customer).
	c.post("/dashboard/customers/columns", url.Values{"csrf": {csrf(t, page.body)}, "col_phone": {"1"}})
	page = c.get("/dashboard/customers")
	require.Contains(t, page.body, ">Name</th>")
	require.Contains(t, page.body, ">Phone</th>")
	require.NotContains(t, page.body, ">Email</th>")
	// Another browser keeps every column.
	other := e.client()
	other.signIn(e.opSecret)
	require.Contains(t, other.get("/dashboard/customers").body, ">Phone</th>")
}

func TestReport(t *testing.T) {
	e := newEnv(t, 150)
	c := e.client()
	c.signIn(e.opSecret)
	a := c.get("/dashboard/customers/report.csv")
	require.Equal(t, http.StatusOK, a.status)
	require.Contains(t, a.header.Get("Content-Disposition"), "attachment; filename=\"customers-")
	require.Equal(t, "text/csv; charset=utf-8", a.header.Get("Content-Type"))
	rows, err := csv.NewReader(strings.NewReader(a.body)).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 1+152) // more than one page of Iterate
	require.Equal(t, []string{"id", "name", "email", "phone_number", "created_at"}, rows[0])

	a = c.get("/dashboard/customers/report.csv?search=bob")
	rows, err = csv.NewReader(strings.NewReader(a.body)).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 2)
	require.Equal(t, e.bob.ID, rows[1][0])
	require.Equal(t, "+15550100", rows[1][3])
	// Signed out: no report.
	require.Equal(t, http.StatusSeeOther, e.client().get("/dashboard/customers/report.csv").status)
}

func TestCustomerPageAndRefund(t *testing.T) {
	e := newEnv(t, 0)
	c := e.client()
	c.signIn(e.opSecret)
	base := "/dashboard/customers/" + e.ada.ID
	a := c.get(base)
	require.Equal(t, http.StatusOK, a.status)
	for _, s := range []string{"About", "ada@example.com", e.ada.ID, e.adaPay.ID, "45.00 USD", "succeeded", "Subscription",
		"pm_card_ok", "Refund payment", `name="idempotency_key"`} {
		require.Contains(t, a.body, s)
	}
	require.NotContains(t, a.body, e.bobPay.ID)
	require.Contains(t, c.get(base+"?tab=subscriptions").body, e.adaSub.ID)
	w := c.get(base + "?tab=wallet")
	require.Contains(t, w.body, "Welcome credit")
	require.Contains(t, w.body, "USD balance")

	key := regexp.MustCompile(`name="idempotency_key" value="([^"]+)"`).FindStringSubmatch(a.body)[1]
	form := url.Values{"csrf": {csrf(t, a.body)}, "idempotency_key": {key}, "amount": {"10.00"}, "destination": {"wallet"},
		"reason": {"goodwill"}}
	// Without the confirmation: refused, nothing refunded.
	require.Equal(t, http.StatusUnprocessableEntity, c.post(base+"/payments/"+e.adaPay.ID+"/refund", form).status)
	// Bob's payment under Ada's path: not found.
	form.Set("confirm", "1")
	require.Equal(t, http.StatusNotFound, c.post(base+"/payments/"+e.bobPay.ID+"/refund", form).status)
	// A bad amount.
	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set("amount", "ten")
	require.Equal(t, http.StatusUnprocessableEntity, c.post(base+"/payments/"+e.adaPay.ID+"/refund", bad).status)

	r := c.post(base+"/payments/"+e.adaPay.ID+"/refund", form)
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	// The same form again (a double submit) refunds once.
	require.Equal(t, http.StatusSeeOther, c.post(base+"/payments/"+e.adaPay.ID+"/refund", form).status)
	p, err := e.eng.Payment(e.ctx, e.adaPay.ID)
	require.NoError(t, err)
	require.EqualValues(t, 1000, p.RefundedAmount)
	a = c.get(r.header.Get("Location"))
	require.Contains(t, a.body, "Refund created.")
	require.Contains(t, a.body, "refunded 10.00 USD")
	w = c.get(base + "?tab=wallet")
	require.Regexp(t, `<span class="amt">10.00 USD</span>`, w.body) // 5.00 went to the charge, 10.00 came back
	require.Contains(t, w.body, "+10.00 USD")

	require.Equal(t, http.StatusNotFound, c.get("/dashboard/customers/cus_nope").status)
}

func TestPortalInvite(t *testing.T) {
	e := newEnv(t, 0)
	c := e.client()
	c.signIn(e.opSecret)
	page := c.get("/dashboard/customers")
	a := c.post("/dashboard/customers/"+e.ada.ID+"/portal-invite", url.Values{"csrf": {csrf(t, page.body)}})
	require.Equal(t, http.StatusOK, a.status)
	m := regexp.MustCompile(`id="link" readonly value="([^"]+)"`).FindStringSubmatch(a.body)
	require.NotNil(t, m)
	link := strings.ReplaceAll(m[1], "&amp;", "&")
	require.True(t, strings.HasPrefix(link, e.srv.URL+"/portal/session/"))
	// The link opens Ada's portal in another browser.
	p := e.client()
	require.Equal(t, http.StatusOK, p.get(link).status)
	require.Contains(t, p.get("/portal/").body, "Ada Lovelace")
}
