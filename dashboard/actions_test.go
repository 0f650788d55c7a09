package dashboard_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/subscription"
)

// keyOf is the idempotency key on a page that contains part.
func keyOf(t *testing.T, body, part string) string {
	t.Helper()
	for _, k := range idemKeys(body) {
		if strings.Contains(k, part) {
			return k
		}
	}
	t.Fatalf("no idempotency key with %q", part)
	return ""
}

func (e *env) payments(customerID string) []subscription.Payment {
	e.t.Helper()
	l, err := e.eng.ListPayments(e.ctx, coffer.PaymentListParams{ListParams: coffer.ListParams{Limit: 100}, CustomerID: customerID})
	require.NoError(e.t, err)
	return l.Data
}

func TestChargeNow(t *testing.T) {
	e := newEnv(t, 0)
	c := e.client()
	c.signIn(e.opSecret)
	base := "/dashboard/customers/" + e.ada.ID
	a := c.get(base + "?tab=subscriptions")
	require.Equal(t, http.StatusOK, a.status)
	require.Contains(t, a.body, "<summary>Charge now</summary>")
	require.Contains(t, a.body, "<summary>Cancel</summary>")
	require.Contains(t, a.body, `id="charge-currency-`+e.adaSub.ID+`" name="currency" maxlength="3" size="4" value="USD"`)
	tok, key := csrf(t, a.body), keyOf(t, a.body, "-charge-"+e.adaSub.ID)
	charge := base + "/subscriptions/" + e.adaSub.ID + "/charge"

	// No CSRF token: refused, nothing charged.
	require.Equal(t, http.StatusForbidden, c.post(charge, url.Values{"amount": {"12.50"}, "idempotency_key": {key}}).status)
	require.Len(t, e.payments(e.ada.ID), 1)

	// Bad input: shown inside the open dialog with the values sent.
	for amt, code := range map[string]string{"": "invalid_amount", "abc": "malformed_amount", "-3": "invalid_amount",
		"0": "invalid_amount", "1.234": "amount_precision"} {
		a = c.post(charge, url.Values{"csrf": {tok}, "amount": {amt}, "description": {"March"}, "idempotency_key": {key}})
		require.Equal(t, http.StatusUnprocessableEntity, a.status, amt)
		require.Contains(t, a.body, `id="charge-error-`+e.adaSub.ID+`"`, amt)
		require.Contains(t, a.body, "Error code <code>"+code+"</code>", amt)
		require.Contains(t, a.body, "<strong>What to do:</strong>", amt)
		require.Contains(t, a.body, `<details class="dialog" open><summary>Charge now</summary>`)
		require.Contains(t, a.body, `value="March"`)
		require.Contains(t, a.body, `value="`+key+`"`, "the form keeps its idempotency key")
	}
	a = c.post(charge, url.Values{"csrf": {tok}, "amount": {"5"}, "currency": {"XYZ"}, "idempotency_key": {key}})
	require.Equal(t, http.StatusUnprocessableEntity, a.status)
	a = c.post(charge, url.Values{"csrf": {tok}, "amount": {"5"}, "currency": {"GBP"}, "idempotency_key": {key}})
	require.Equal(t, http.StatusUnprocessableEntity, a.status, "the engine refuses a currency it is not configured for")
	require.Contains(t, a.body, "Error code <code>currency_not_enabled</code>")
	require.Len(t, e.payments(e.ada.ID), 1)

	// Another customer's subscription through Ada's URL: not found.
	a = c.post(base+"/subscriptions/"+e.bobSub.ID+"/charge", url.Values{"csrf": {tok}, "amount": {"1"}, "idempotency_key": {key}})
	require.Equal(t, http.StatusNotFound, a.status)

	// Charged; a double submit of the same form charges once.
	for range 2 {
		a = c.post(charge, url.Values{"csrf": {tok}, "amount": {"12.50"}, "description": {"Extra seats"}, "idempotency_key": {key}})
		require.Equal(t, http.StatusSeeOther, a.status, a.body)
		require.Equal(t, base+"?tab=payments&notice=charged", a.header.Get("Location"))
	}
	ps := e.payments(e.ada.ID)
	require.Len(t, ps, 2)
	require.EqualValues(t, 1250, ps[0].Amount)
	require.Equal(t, "Extra seats", ps[0].Description)
	require.Contains(t, c.get(a.header.Get("Location")).body, "Charge made: the payment succeeded.")

	// A new rendering has a new key; a hard decline is a failed payment,
	// shown as overdue with a collect action.
	a = c.get(base + "?tab=subscriptions")
	key2 := keyOf(t, a.body, "-charge-"+e.adaSub.ID)
	require.NotEqual(t, key, key2)
	e.proc.Script(processor.CardOK, processor.Fraudulent)
	a = c.post(charge, url.Values{"csrf": {tok}, "amount": {"7.25"}, "idempotency_key": {key2}})
	require.Equal(t, http.StatusSeeOther, a.status)
	require.Contains(t, a.header.Get("Location"), "notice=declined")
	a = c.get(base + "?tab=payments")
	require.Contains(t, a.body, `<h2 id="overdue">Overdue charges</h2>`)
	require.Contains(t, a.body, "<strong>7.25 USD</strong>")
	require.Contains(t, a.body, "delinquent")
	failed := e.payments(e.ada.ID)[0]
	require.Equal(t, subscription.PaymentFailed, failed.Status)
	collect := base + "/payments/" + failed.ID + "/collect"
	ckey := keyOf(t, a.body, "-collect-"+failed.ID)

	require.Equal(t, http.StatusForbidden, c.post(collect, url.Values{"idempotency_key": {ckey}}).status)
	require.Equal(t, http.StatusNotFound, c.post("/dashboard/customers/"+e.bob.ID+"/payments/"+failed.ID+"/collect",
		url.Values{"csrf": {tok}, "idempotency_key": {ckey}}).status)
	a = c.post(base+"/payments/"+e.adaPay.ID+"/collect", url.Values{"csrf": {tok}, "idempotency_key": {ckey + "x"}})
	require.Equal(t, http.StatusUnprocessableEntity, a.status, "a paid charge is not overdue")
	require.Contains(t, a.body, "Not collected:")
	a = c.post(collect, url.Values{"csrf": {tok}, "idempotency_key": {ckey}})
	require.Equal(t, http.StatusSeeOther, a.status, a.body)
	require.Contains(t, a.header.Get("Location"), "notice=collected")
	a = c.get(a.header.Get("Location"))
	require.Contains(t, a.body, "Overdue charge collected.")
	require.NotContains(t, a.body, `id="overdue"`)
	o, err := e.eng.Overdue(e.ctx, e.ada.ID)
	require.NoError(t, err)
	require.Empty(t, o.Payments)
}

func TestCancelFromDashboard(t *testing.T) {
	e := newEnv(t, 0)
	c := e.client()
	c.signIn(e.opSecret)
	base := "/dashboard/customers/" + e.ada.ID
	tok := csrf(t, c.get(base+"?tab=subscriptions").body)
	cancel := base + "/subscriptions/" + e.adaSub.ID + "/cancel"

	require.Equal(t, http.StatusForbidden, c.post(cancel, url.Values{"confirm": {"1"}}).status)
	a := c.post(cancel, url.Values{"csrf": {tok}})
	require.Equal(t, http.StatusUnprocessableEntity, a.status)
	require.Contains(t, a.body, "I confirm the cancellation")
	require.Contains(t, a.body, `<details class="dialog" open><summary>Cancel</summary>`)
	require.Equal(t, http.StatusNotFound, c.post(base+"/subscriptions/"+e.bobSub.ID+"/cancel",
		url.Values{"csrf": {tok}, "confirm": {"1"}}).status)
	s, err := e.eng.Subscription(e.ctx, e.adaSub.ID)
	require.NoError(t, err)
	require.Equal(t, subscription.StatusActive, s.Status)

	a = c.post(cancel, url.Values{"csrf": {tok}, "confirm": {"1"}})
	require.Equal(t, http.StatusSeeOther, a.status)
	a = c.get(a.header.Get("Location"))
	require.Contains(t, a.body, "Subscription cancelled.")
	require.Contains(t, a.body, "No active subscription.")
	s, err = e.eng.Subscription(e.ctx, e.adaSub.ID)
	require.NoError(t, err)
	require.Equal(t, subscription.StatusCancelled, s.Status)
	b, err := e.eng.Subscription(e.ctx, e.bobSub.ID)
	require.NoError(t, err)
	require.Equal(t, subscription.StatusActive, b.Status)
}

func TestWalletEntryAndChart(t *testing.T) {
	e := newEnv(t, 0)
	c := e.client()
	c.signIn(e.opSecret)
	base := "/dashboard/customers/" + e.ada.ID
	a := c.get(base + "?tab=wallet")
	require.Equal(t, http.StatusOK, a.status)
	require.Contains(t, a.body, "Credit or debit the wallet")
	require.Contains(t, a.body, `<option>EUR</option><option>USD</option>`)
	// The seed credit and the charge that spent it make a USD wallet: its
	// chart is there with its text alternatives.
	require.Contains(t, a.body, `role="img" aria-labelledby="trend-usd-title trend-usd-desc"`)
	require.Contains(t, a.body, `<title id="trend-usd-title">USD wallet balance at the end of each day</title>`)
	require.Contains(t, a.body, "<summary>Data table</summary>")
	require.NotContains(t, a.body, "<script>")
	require.NotContains(t, a.body, "trend-eur", "a wallet without movements has no chart")
	tok, key := csrf(t, a.body), keyOf(t, a.body, "-entry")
	post := base + "/wallet/entries"

	require.Equal(t, http.StatusForbidden, c.post(post, url.Values{"amount": {"20"}, "currency": {"USD"}, "type": {"credit"},
		"reason": {"x"}, "idempotency_key": {key}}).status)
	bad := []struct {
		form url.Values
		msg  string
	}{
		{url.Values{"amount": {"abc"}, "currency": {"USD"}, "type": {"credit"}, "reason": {"r"}}, "<code>malformed_amount</code>"},
		{url.Values{"amount": {"5"}, "currency": {"XYZ"}, "type": {"credit"}, "reason": {"r"}}, "<code>unknown_currency</code>"},
		{url.Values{"amount": {"5"}, "currency": {"USD"}, "type": {"gift"}, "reason": {"r"}}, "Choose credit"},
		{url.Values{"amount": {"5"}, "currency": {"USD"}, "type": {"credit"}, "reason": {" "}}, "Give a reason"},
		{url.Values{"amount": {"5"}, "currency": {"GBP"}, "type": {"credit"}, "reason": {"r"}}, "<code>currency_not_enabled</code>"},
	}
	for _, b := range bad {
		b.form.Set("csrf", tok)
		b.form.Set("idempotency_key", key)
		a = c.post(post, b.form)
		require.Equal(t, http.StatusUnprocessableEntity, a.status, b.form)
		require.Contains(t, a.body, b.msg)
		require.Contains(t, a.body, `<details class="dialog" open><summary>Credit or debit the wallet</summary>`)
	}

	// Insufficient funds: inside the form, values kept, nothing posted.
	a = c.post(post, url.Values{"csrf": {tok}, "amount": {"1000"}, "currency": {"USD"}, "type": {"debit"},
		"reason": {"too much"}, "idempotency_key": {key}})
	require.Equal(t, http.StatusUnprocessableEntity, a.status)
	require.Contains(t, a.body, "<div class=\"error problem\" role=\"alert\" id=\"entry-error\">\n<p>Insufficient funds")
	require.Contains(t, a.body, "Error code <code>insufficient_funds</code>")
	require.Contains(t, a.body, `value="too much"`)
	require.Contains(t, a.body, `value="debit" checked`)
	require.Contains(t, a.body, `<h2 id="ledger">`, "the page around the form is the customer page, not an error page")

	// A credit, submitted twice, posts once.
	for range 2 {
		a = c.post(post, url.Values{"csrf": {tok}, "amount": {"20.00"}, "currency": {"USD"}, "type": {"credit"},
			"reason": {"Goodwill"}, "idempotency_key": {key}})
		require.Equal(t, http.StatusSeeOther, a.status, a.body)
	}
	l, err := e.eng.ListEntries(e.ctx, coffer.EntryListParams{CustomerID: e.ada.ID})
	require.NoError(t, err)
	require.Equal(t, "Goodwill", l.Data[0].Reason)
	require.Equal(t, ledger.Credit, l.Data[0].Type)
	require.EqualValues(t, 2000, l.Data[0].Amount)
	require.NotEqual(t, "Goodwill", l.Data[1].Reason)
	a = c.get(a.header.Get("Location"))
	require.Contains(t, a.body, "Wallet entry recorded.")
	require.Contains(t, a.body, "+20.00 USD")
	require.Contains(t, a.body, "now 20.00 USD")

	// A debit of what is there.
	key = keyOf(t, a.body, "-entry")
	a = c.post(post, url.Values{"csrf": {tok}, "amount": {"7.5"}, "currency": {"usd"}, "type": {"debit"},
		"reason": {"Correction"}, "idempotency_key": {key}})
	require.Equal(t, http.StatusSeeOther, a.status, a.body)
	bs, err := e.eng.Balances(e.ctx, e.ada.ID)
	require.NoError(t, err)
	require.Len(t, bs, 2)
	require.Equal(t, "USD", bs[1].Currency)
	require.EqualValues(t, 1250, bs[1].Amount)
}
