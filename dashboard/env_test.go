package dashboard_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/dashboard"
	"github.com/cofferhq/coffer/internal/portaltoken"
	"github.com/cofferhq/coffer/invoice"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/portal"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store/memory"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/webhook"
)

// env is a server with the dashboard at /dashboard/ and the portal at
// /portal/ over a memory engine with the test processor, and seed data.
type env struct {
	t          *testing.T
	ctx        context.Context
	eng        *coffer.Engine
	srv        *httptest.Server
	signer     *portaltoken.Signer
	opSecret   string
	restricted string
	ada, bob   customer.Customer
	adaSub     subscription.Subscription
	bobSub     subscription.Subscription
	adaPay     subscription.Payment
	bobPay     subscription.Payment
	proc       *processor.Test
	// refuseRefunds makes the processor refuse every refund.
	refuseRefunds *atomic.Bool
}

// refusingProc is the test processor, refusing refunds while refuse is set.
type refusingProc struct {
	*processor.Test
	refuse *atomic.Bool
}

func (p refusingProc) Refund(ctx context.Context, req processor.RefundRequest) (processor.Refund, error) {
	if p.refuse.Load() {
		return processor.Refund{}, fmt.Errorf("%w: refused by the test", processor.ErrNotRefundable)
	}
	return p.Test.Refund(ctx, req)
}

func newEnv(t *testing.T, fillers int) *env {
	t.Helper()
	return newEnvWith(t, fillers)
}

// newEnvWith is newEnv with more engine options.
func newEnvWith(t *testing.T, fillers int, engOpts ...coffer.Option) *env {
	t.Helper()
	ctx := context.Background()
	proc := processor.NewTest(nil)
	refuse := new(atomic.Bool)
	// One webhook attempt, to loopback: a failing endpoint is dead-lettered
	// by the first DispatchDue.
	eng, err := coffer.New(memory.New(), append([]coffer.Option{coffer.WithProcessor(refusingProc{proc, refuse}), coffer.WithCurrencies("USD", "EUR"),
		coffer.WithIssuer(invoice.Issuer{Name: "Coffer Demo Ltd", Email: "billing@coffer.test", TaxID: "FR12345678901",
			Address: &customer.Address{Line1: "1 rue de Rivoli", City: "Paris", PostalCode: "75001", Country: "FR"}}),
		coffer.WithWebhookOptions(coffer.WebhookOptions{AllowPrivateNetworks: true, Backoff: webhook.Backoff{0}})}, engOpts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { eng.Close() })
	e := &env{t: t, ctx: ctx, eng: eng, signer: portaltoken.Random(), proc: proc, refuseRefunds: refuse}
	secret := []byte(strings.Repeat("s", 32))
	mux := http.NewServeMux()
	var base string
	dash, err := dashboard.New(eng, dashboard.Options{Secret: secret,
		PortalLink: func(_ context.Context, id, ret string) (string, error) {
			return base + "/portal/session/" + e.signer.Sign(id, ret, time.Now()), nil
		}})
	require.NoError(t, err)
	port, err := portal.New(eng, portal.Options{Secret: secret,
		VerifyLink: func(_ context.Context, tok string) (string, string, error) {
			c, err := e.signer.Verify(tok, time.Now())
			if errors.Is(err, portaltoken.ErrExpired) {
				return "", "", portal.ErrExpiredLink
			}
			return c.CustomerID, c.ReturnURL, err
		}})
	require.NoError(t, err)
	mux.Handle("/dashboard/", dash)
	mux.Handle("/portal/", port)
	e.srv = httptest.NewServer(mux)
	base = e.srv.URL
	t.Cleanup(e.srv.Close)

	op, err := eng.CreateAPIKey(ctx, coffer.APIKeyParams{Name: "operator"})
	require.NoError(t, err)
	e.opSecret = op.Secret
	for i := range fillers {
		_, err := eng.CreateCustomer(ctx, customer.Params{Name: new(fmt.Sprintf("Filler %05d", i)),
			Email: new(fmt.Sprintf("filler%05d@example.org", i))})
		require.NoError(t, err)
	}
	prod, err := eng.CreateProduct(ctx, coffer.ProductParams{Name: "API usage", Price: 1000, Currency: "USD"})
	require.NoError(t, err)
	mk := func(name, email string) (customer.Customer, subscription.Subscription, subscription.Payment) {
		c, err := eng.CreateCustomer(ctx, customer.Params{Name: new(name), Email: new(email), Phone: new("+15550100")})
		require.NoError(t, err)
		_, err = eng.CreateEntry(ctx, c.ID, coffer.EntryParams{Amount: 500, Currency: "USD", Type: ledger.Credit, Reason: "Welcome credit"})
		require.NoError(t, err)
		res, err := eng.CreateSubscription(ctx, coffer.SubscriptionParams{ProductID: prod.ID, Quantity: 1, CustomerID: c.ID,
			PaymentMethod: processor.CardOK, OnDemand: &coffer.OnDemand{MandateOnly: new(true)}})
		require.NoError(t, err)
		p, err := eng.Charge(ctx, res.Subscription.ID, coffer.ChargeParams{ProductPrice: new(int64(4500)), ProductDescription: "API usage, March"})
		require.NoError(t, err)
		require.Equal(t, subscription.PaymentSucceeded, p.Status)
		return c, res.Subscription, p
	}
	e.ada, e.adaSub, e.adaPay = mk("Ada Lovelace", "ada@example.com")
	e.bob, e.bobSub, e.bobPay = mk("Bob Builder", "bob@example.com")
	r, err := eng.CreateAPIKey(ctx, coffer.APIKeyParams{Name: "ada only", CustomerID: e.ada.ID})
	require.NoError(t, err)
	e.restricted = r.Secret
	return e
}

// client is a browser-like client: a cookie jar, no redirect following.
type client struct {
	e   *env
	c   *http.Client
	jar http.CookieJar
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, jar: jar, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (c *client) get(path string) answer {
	c.e.t.Helper()
	u := path
	if strings.HasPrefix(path, "/") {
		u = c.e.srv.URL + path
	}
	resp, err := c.c.Get(u)
	require.NoError(c.e.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func (c *client) post(path string, form url.Values) answer {
	c.e.t.Helper()
	resp, err := c.c.PostForm(c.e.srv.URL+path, form)
	require.NoError(c.e.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the CSRF token of a page.
func csrf(t *testing.T, body string) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(body)
	require.NotNil(t, m, "no csrf field in %s", body)
	return m[1]
}

// signIn signs c in to the dashboard with secret and returns the
// customers page.
func (c *client) signIn(secret string) answer {
	c.e.t.Helper()
	a := c.get("/dashboard/login")
	require.Equal(c.e.t, http.StatusOK, a.status)
	return c.post("/dashboard/login", url.Values{"csrf": {csrf(c.e.t, a.body)}, "key": {secret}})
}

// openPortal opens the portal of customerID through a signed link.
func (c *client) openPortal(customerID string) answer {
	c.e.t.Helper()
	a := c.get("/portal/session/" + c.e.signer.Sign(customerID, "https://shop.example/back", time.Now()))
	require.Equal(c.e.t, http.StatusOK, a.status, a.body)
	return c.get("/portal/")
}

var keyRe = regexp.MustCompile(`name="idempotency_key" value="([^"]+)"`)

// idemKeys are the idempotency keys of a page's forms, in order.
func idemKeys(body string) []string {
	var out []string
	for _, m := range keyRe.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// failingEndpoint registers an endpoint on a closed loopback port and
// dead-letters one delivery to it; it returns the endpoint id.
func (e *env) failingEndpoint() string {
	e.t.Helper()
	ep, err := e.eng.CreateEndpoint(e.ctx, coffer.EndpointParams{URL: "http://127.0.0.1:1/hook"})
	require.NoError(e.t, err)
	_, err = e.eng.UpdateCustomer(e.ctx, e.ada.ID, customer.Params{Phone: new("+15550111")})
	require.NoError(e.t, err)
	_, err = e.eng.DispatchDue(e.ctx)
	require.NoError(e.t, err)
	return ep.ID
}
