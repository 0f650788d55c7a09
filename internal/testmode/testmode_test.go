package testmode

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store/memory"
	"github.com/cofferhq/coffer/subscription"
)

type env struct {
	eng  *coffer.Engine
	proc *Processor
	srv  *httptest.Server
	prod string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	test := processor.NewTest(nil)
	proc := NewProcessor(test)
	eng, err := coffer.New(memory.New(), coffer.WithProcessor(proc))
	require.NoError(t, err)
	t.Cleanup(func() { eng.Close() })
	srv := httptest.NewServer(NewHandler(eng, proc, nil))
	t.Cleanup(srv.Close)
	test.SetLinkBase(srv.URL + strings.TrimSuffix(Path, "/"))
	prod, err := eng.CreateProduct(context.Background(), coffer.ProductParams{Name: "API calls", Price: 1500, Currency: "USD"})
	require.NoError(t, err)
	return &env{eng: eng, proc: proc, srv: srv, prod: prod.ID}
}

// pending creates a subscription whose mandate needs the page.
func (e *env) pending(t *testing.T, mandateOnly bool, returnURL string) subscription.Subscription {
	t.Helper()
	res, err := e.eng.CreateSubscription(context.Background(), coffer.SubscriptionParams{
		ProductID: e.prod, Quantity: 1, Customer: &customer.Params{Name: new("Ada <Lovelace>"), Email: new("ada@example.com")},
		PaymentMethod: processor.CardRequiresAction, PaymentLink: true, ReturnURL: returnURL,
		OnDemand: &coffer.OnDemand{MandateOnly: &mandateOnly},
	})
	require.NoError(t, err)
	require.Equal(t, subscription.StatusPending, res.Subscription.Status)
	require.True(t, strings.HasPrefix(res.Subscription.PaymentLink, e.srv.URL+Path+"mdt_test_"), res.Subscription.PaymentLink)
	return res.Subscription
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func post(t *testing.T, link, action string, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, link, strings.NewReader(url.Values{"action": {action}}.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := (&http.Client{CheckRedirect: noRedirect}).Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	return string(b)
}

func TestApproveRedirectsAndCharges(t *testing.T) {
	e := newEnv(t)
	sub := e.pending(t, false, "https://shop.example/done?order=7")

	// The page: an accessible form, escaped customer name, POST only.
	resp, err := http.Get(sub.PaymentLink)
	require.NoError(t, err)
	page := body(t, resp)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, page, `<html lang="en">`)
	require.Contains(t, page, "TEST MODE")
	require.Contains(t, page, "Ada &lt;Lovelace&gt;")
	require.Contains(t, page, `<form method="post"`)
	require.Contains(t, page, `name="action" value="approve"`)
	require.Contains(t, page, `name="action" value="decline"`)
	require.Contains(t, page, "15.00 USD")

	resp = post(t, sub.PaymentLink, "approve", nil)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, "shop.example", loc.Host)
	require.Equal(t, "7", loc.Query().Get("order"))
	require.Equal(t, sub.ID, loc.Query().Get("subscription_id"))
	require.Equal(t, "active", loc.Query().Get("status"))

	got, err := e.eng.Subscription(context.Background(), sub.ID)
	require.NoError(t, err)
	require.Equal(t, subscription.StatusActive, got.Status)
	require.Equal(t, 1, e.proc.ChargeCount(), "the initial charge was made")

	// The mandate is done: the link no longer serves a form.
	resp, err = http.Get(sub.PaymentLink)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

func TestDeclineJSON(t *testing.T) {
	e := newEnv(t)
	sub := e.pending(t, true, "https://shop.example/done")
	resp := post(t, sub.PaymentLink, "decline", http.Header{"Accept": {"application/json"}})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var res Result
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&res))
	require.Equal(t, Result{MandateID: sub.PaymentLink[len(e.srv.URL+Path):strings.Index(sub.PaymentLink, "?")],
		SubscriptionID: sub.ID, Status: "failed", DeclineCode: processor.AuthenticationFailure}, res)
	got, err := e.eng.Subscription(context.Background(), sub.ID)
	require.NoError(t, err)
	require.Equal(t, subscription.StatusFailed, got.Status)
	require.Zero(t, e.proc.ChargeCount())
}

func TestApproveWithoutReturnURLShowsResult(t *testing.T) {
	e := newEnv(t)
	sub := e.pending(t, true, "")
	resp := post(t, sub.PaymentLink, "approve", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	page := body(t, resp)
	require.Contains(t, page, "<strong>active</strong>")
	require.NotContains(t, page, "<form")
}

func TestBadRequests(t *testing.T) {
	e := newEnv(t)
	sub := e.pending(t, true, "")
	resp := post(t, sub.PaymentLink, "maybe", nil)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp = post(t, e.srv.URL+Path+"mdt_test_99", "approve", nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	// GET never acts; other methods are refused.
	req, _ := http.NewRequest(http.MethodPut, sub.PaymentLink, nil)
	r, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	r.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, r.StatusCode)
	got, err := e.eng.Subscription(context.Background(), sub.ID)
	require.NoError(t, err)
	require.Equal(t, subscription.StatusPending, got.Status)
}
