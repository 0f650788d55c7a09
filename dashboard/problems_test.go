package dashboard_test

import (
	"context"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
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
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/memory"
)

// A refused refund is shown inside its dialog, open, with the values typed,
// the stable code and what to do; nothing is refunded.
func TestRefundErrorsInDialog(t *testing.T) {
	e := newEnv(t, 0)
	c := e.client()
	c.signIn(e.opSecret)
	base := "/dashboard/customers/" + e.ada.ID
	a := c.get(base)
	pid := e.adaPay.ID
	key := regexp.MustCompile(`name="idempotency_key" value="([^"]*-` + pid + `)"`).FindStringSubmatch(a.body)[1]
	post := base + "/payments/" + pid + "/refund"
	form := func(kv ...string) url.Values {
		f := url.Values{"csrf": {csrf(t, a.body)}, "idempotency_key": {key}, "amount": {"100.00"}, "destination": {"wallet"},
			"reason": {"goodwill"}, "confirm": {"1"}}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				f.Del(kv[i])
			} else {
				f.Set(kv[i], kv[i+1])
			}
		}
		return f
	}
	inDialog := func(a answer, code string) {
		t.Helper()
		require.Equal(t, http.StatusUnprocessableEntity, a.status, a.body)
		require.Contains(t, a.body, `<details class="dialog" id="refund-`+pid+`" open>`)
		i := strings.Index(a.body, `id="refund-error-`+pid+`"`)
		require.Positive(t, i, "the error is in the dialog")
		require.Less(t, strings.Index(a.body, `id="refund-`+pid+`"`), i)
		require.Contains(t, a.body, "Error code <code>"+code+"</code>")
		require.Contains(t, a.body, "<strong>What to do:</strong>")
		require.Contains(t, a.body, `aria-describedby="refund-error-`+pid+`"`)
		require.Contains(t, a.body, `<h2 id="payments">`, "the customer page around it, not an error page")
	}

	// More than the refundable part: the Engine refuses it.
	r := c.post(post, form())
	inDialog(r, "invalid_refund_amount")
	require.Contains(t, r.body, "more than the refundable part of the payment (45.00 USD)")
	require.Contains(t, r.body, `value="100.00"`, "the amount typed is kept")
	require.Contains(t, r.body, `value="goodwill"`)
	require.Contains(t, r.body, `value="wallet" checked`)
	require.Contains(t, r.body, `value="`+key+`"`, "the same idempotency key")

	// A malformed amount, and no confirmation tick.
	inDialog(c.post(post, form("amount", "ten")), "malformed_amount")
	r = c.post(post, form("amount", "5.00", "confirm", ""))
	inDialog(r, "confirmation_required")
	require.Contains(t, r.body, `value="5.00"`)

	p, err := e.eng.Payment(e.ctx, pid)
	require.NoError(t, err)
	require.Zero(t, p.RefundedAmount, "nothing refunded by refused forms")

	// The processor refuses a refund to the card: recorded as failed,
	// shown in the dialog, and the form gets a fresh key.
	e.refuseRefunds.Store(true)
	r = c.post(post, form("amount", "20.00", "destination", "payment_method"))
	inDialog(r, "refund_failed")
	require.Contains(t, r.body, "The payment processor refused the refund")
	require.NotContains(t, r.body, "refused by the test", "the processor's text stays in the log")
	require.NotContains(t, r.body, `value="`+key+`"`)
	fresh := regexp.MustCompile(`name="idempotency_key" value="([^"]*-` + pid + `)"`).FindStringSubmatch(r.body)[1]
	p, err = e.eng.Payment(e.ctx, pid)
	require.NoError(t, err)
	require.Zero(t, p.RefundedAmount)

	// Once the processor accepts, the fresh key refunds.
	e.refuseRefunds.Store(false)
	r = c.post(post, form("amount", "20.00", "destination", "payment_method", "idempotency_key", fresh))
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	require.Contains(t, r.header.Get("Location"), "notice=refunded")
	p, err = e.eng.Payment(e.ctx, pid)
	require.NoError(t, err)
	require.EqualValues(t, 2000, p.RefundedAmount)

	// An unreachable processor: the refund stays pending, and the notice
	// says so.
	e.proc.SetUnavailable(true)
	a = c.get(base)
	key = regexp.MustCompile(`name="idempotency_key" value="([^"]*-` + pid + `)"`).FindStringSubmatch(a.body)[1]
	r = c.post(post, form("amount", "1.00", "destination", "payment_method"))
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	require.Contains(t, c.get(r.header.Get("Location")).body, "the processor has not answered yet")
}

var (
	tagRe    = regexp.MustCompile(`(?s)<[^>]*>`)
	amountRe = regexp.MustCompile(`\d+\.\d{2}\b`)
	timeRe   = regexp.MustCompile(`<time [^>]*>`)
	utcRe    = regexp.MustCompile(`\d{4}-\d{2}-\d{2} \d{2}:\d{2}( UTC)?`)
)

// Every page: every amount has its currency, every time is a <time>
// with its instant in datetime and title, and in UTC.
func TestAmountsAndTimesOnEveryPage(t *testing.T) {
	e := newEnv(t, 0)
	c := e.client()
	c.signIn(e.opSecret)
	ep := e.failingEndpoint()
	base := "/dashboard/customers/" + e.ada.ID
	pages := []string{"/dashboard/customers", base, base + "?tab=subscriptions", base + "?tab=wallet",
		"/dashboard/payments", "/dashboard/retries", "/dashboard/webhooks", "/dashboard/webhooks/" + ep,
		"/dashboard/events", "/dashboard/keys"}
	seen := 0
	for _, p := range pages {
		a := c.get(p)
		require.Equal(t, http.StatusOK, a.status, p)
		text := tagRe.ReplaceAllString(a.body, " ")
		for _, m := range amountRe.FindAllStringIndex(text, -1) {
			after := text[m[1]:min(len(text), m[1]+4)]
			require.Regexp(t, `^ [A-Z]{3}`, after, "%s: amount %q without its currency", p, text[max(0, m[0]-30):m[1]+4])
		}
		for _, m := range utcRe.FindAllString(text, -1) {
			require.True(t, strings.HasSuffix(m, " UTC"), "%s: time %q not marked UTC", p, m)
		}
		tags := timeRe.FindAllString(a.body, -1)
		seen += len(tags)
		for _, tag := range tags {
			require.Regexp(t, `datetime="\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z" title="\d{4}-`, tag, p)
		}
	}
	require.Greater(t, seen, 20)
}

// Empty states say what to do; a search with no match too.
func TestEmptyStates(t *testing.T) {
	e := newEnv(t, 0)
	c := e.client()
	c.signIn(e.opSecret)
	nc, err := e.eng.CreateCustomer(e.ctx, customer.Params{Name: new("Nobody Yet")})
	require.NoError(t, err)
	for p, want := range map[string]string{
		"/dashboard/customers?search=zzzqqq":                               "No customer matches “zzzqqq”. Try part of a name",
		"/dashboard/customers/" + nc.ID:                                    "No payments yet.",
		"/dashboard/customers/" + nc.ID + "?tab=subscriptions":             "No active subscription.",
		"/dashboard/customers/" + nc.ID + "?tab=wallet":                    "No ledger entries yet. Use",
		"/dashboard/payments?status=pending":                               "Show every status",
		"/dashboard/retries":                                               "The dunning queue is empty",
		"/dashboard/webhooks":                                              "No webhook endpoint yet",
		"/dashboard/events?type=refund.failed":                             "No events of type refund.failed",
		"/dashboard/customers?starting_after=" + url.QueryEscape(e.ada.ID): "No customers on this page",
	} {
		a := c.get(p)
		require.Equal(t, http.StatusOK, a.status, p)
		require.Contains(t, a.body, want, p)
	}
}

// flakyStore fails every transaction while fail is set, with an error text
// that must not reach a page.
type flakyStore struct {
	store.Store
	fail *atomic.Bool
}

var errDisk = errors.New("disk on fire: password=hunter2")

func (s flakyStore) View(ctx context.Context, fn func(store.Tx) error) error {
	if s.fail.Load() {
		return errDisk
	}
	return s.Store.View(ctx, fn)
}

func (s flakyStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	if s.fail.Load() {
		return errDisk
	}
	return s.Store.Update(ctx, fn)
}

// A store failure is a short page that says what to do, with nothing of
// the error's text, on every page and form.
func TestStoreErrorPage(t *testing.T) {
	fail := new(atomic.Bool)
	eng, err := coffer.New(flakyStore{memory.New(), fail}, coffer.WithoutProcessor(), coffer.WithCurrencies("USD"))
	require.NoError(t, err)
	t.Cleanup(func() { eng.Close() })
	var logs strings.Builder
	h, err := dashboard.New(eng, dashboard.Options{Secret: []byte(strings.Repeat("s", 32)),
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e := &env{t: t, srv: srv, ctx: context.Background(), eng: eng}
	k, err := eng.CreateAPIKey(e.ctx, coffer.APIKeyParams{Name: "op"})
	require.NoError(t, err)
	c := e.client()
	a := c.signIn(k.Secret)
	require.Equal(t, http.StatusSeeOther, a.status)
	tok := csrf(t, c.get("/dashboard/customers").body)
	fail.Store(true)
	check := func(a answer, what string) {
		t.Helper()
		require.Equal(t, http.StatusInternalServerError, a.status, what)
		require.Contains(t, a.body, "Something went wrong", what)
		require.Contains(t, a.body, "Try again; if it keeps failing, check the server log.", what)
		require.NotContains(t, a.body, "hunter2", what)
		require.NotContains(t, a.body, "disk on fire", what)
		require.NotContains(t, a.body, "goroutine", what)
	}
	for _, p := range []string{"/dashboard/customers", "/dashboard/customers/cus_x", "/dashboard/payments",
		"/dashboard/webhooks", "/dashboard/events", "/dashboard/keys"} {
		check(c.get(p), p)
	}
	check(c.post("/dashboard/webhooks", url.Values{"csrf": {tok}, "url": {"https://x.example/h"}, "idempotency_key": {"k"}}), "create endpoint")
	require.Contains(t, logs.String(), "disk on fire", "the cause is in the server log")
	fail.Store(false)
	require.Equal(t, http.StatusOK, c.get("/dashboard/customers").status, "the session survives the outage")
}

// A search of common words whose page runs out of its read budget says so
// and continues from where it stopped.
func TestSearchPartialPage(t *testing.T) {
	st := memory.New()
	ctx := context.Background()
	now := time.Now().UTC()
	n := store.DefaultSearchScan + 1
	require.NoError(t, st.Update(ctx, func(tx store.Tx) error {
		for i := range 2 * n {
			name := "Common Alpha"
			if i >= n { // newer: read first
				name = "Common Beta"
			}
			if err := tx.InsertCustomer(customer.Customer{ID: fmt.Sprintf("cus_p%06d", i), Name: name,
				CreatedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
		}
		return nil
	}))
	eng, err := coffer.New(st, coffer.WithoutProcessor(), coffer.WithCurrencies("USD"))
	require.NoError(t, err)
	t.Cleanup(func() { eng.Close() })
	h, err := dashboard.New(eng, dashboard.Options{Secret: []byte(strings.Repeat("s", 32))})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e := &env{t: t, srv: srv, ctx: ctx, eng: eng}
	k, err := eng.CreateAPIKey(ctx, coffer.APIKeyParams{Name: "op"})
	require.NoError(t, err)
	c := e.client()
	c.signIn(k.Secret)
	a := c.get("/dashboard/customers?search=common+alpha")
	require.Equal(t, http.StatusOK, a.status)
	require.Contains(t, a.body, "No match among the customers searched so far")
	require.NotContains(t, a.body, "No customer matches")
	next := regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(a.body)
	require.NotNil(t, next, "a link to search on")
	a = c.get(html.UnescapeString(next[1]))
	require.Equal(t, http.StatusOK, a.status)
	require.Contains(t, a.body, "Common Alpha", "the next page finds them")
}
