package dashboard_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/internal/webui"
	"github.com/cofferhq/coffer/ledger"
)

// TestWalletCreditTerms: the wallet form's optional kind, priority and
// expiry make a grant; the wallet tab shows paid vs granted, what expires
// within 30 days and the grants in consumption order; every bad term is
// refused inside the form with its code and posts nothing.
func TestWalletCreditTerms(t *testing.T) {
	e := newEnv(t, 0)
	c := e.client()
	c.signIn(e.opSecret)
	base := "/dashboard/customers/" + e.ada.ID
	a := c.get(base + "?tab=wallet")
	require.Equal(t, http.StatusOK, a.status)
	for _, s := range []string{`<legend>Credit terms (credits only, optional)</legend>`, `<label for="entry-kind">Kind</label>`,
		`<label for="entry-priority">Priority</label>`, `<label for="entry-expires">Expires at (UTC)</label>`,
		`type="datetime-local" id="entry-expires" name="expires_at"`} {
		require.Contains(t, a.body, s)
	}
	tok, key := csrf(t, a.body), keyOf(t, a.body, "-entry")
	post := base + "/wallet/entries"
	entries := func() int {
		l, err := e.eng.ListEntries(e.ctx, coffer.EntryListParams{ListParams: coffer.ListParams{Limit: 100}, CustomerID: e.ada.ID})
		require.NoError(t, err)
		return len(l.Data)
	}
	n := entries()
	soon := time.Now().UTC().Add(10 * 24 * time.Hour).Truncate(time.Minute)
	late := time.Now().UTC().Add(60 * 24 * time.Hour).Truncate(time.Minute)
	form := func(typ, kind, prio, exp string) url.Values {
		return url.Values{"csrf": {tok}, "idempotency_key": {key}, "amount": {"10"}, "currency": {"USD"}, "type": {typ},
			"reason": {"Welcome bonus"}, "credit_kind": {kind}, "priority": {prio}, "expires_at": {exp}}
	}
	for _, b := range []struct {
		form url.Values
		code string
	}{
		{form("credit", "bonus", "", ""), "invalid_entry"},
		{form("credit", "granted", "abc", ""), "malformed_credit_terms"},
		{form("credit", "granted", "1.5", ""), "malformed_credit_terms"},
		{form("credit", "granted", "99999999999", ""), "malformed_credit_terms"},
		{form("credit", "granted", "1001", ""), "invalid_entry"},
		{form("credit", "granted", "", "tomorrow"), "malformed_credit_terms"},
		{form("credit", "granted", "", "2020-01-01T09:00"), "invalid_entry"},
		{form("debit", "granted", "", ""), "invalid_entry"},
		{form("debit", "paid", "3", ""), "invalid_entry"},
	} {
		a = c.post(post, b.form)
		require.Equal(t, http.StatusUnprocessableEntity, a.status, b.form)
		require.Contains(t, a.body, "Error code <code>"+b.code+"</code>", b.form)
		require.Contains(t, a.body, "<strong>What to do:</strong>", b.form)
		require.Contains(t, a.body, `<details class="dialog" open><summary>Credit or debit the wallet</summary>`, b.form)
		if p := b.form.Get("priority"); p != "" {
			require.Contains(t, a.body, `name="priority" step="1" min="-1000" max="1000" placeholder="0" value="`+p+`"`, "the value sent is kept")
		}
	}
	require.Equal(t, n, entries(), "a refused form posted nothing")

	// A granted credit of priority 1 expiring in 10 days (datetime-local),
	// then a paid one of priority 0 expiring in 60 days (RFC 3339).
	a = c.post(post, form("credit", "granted", "1", soon.Format("2006-01-02T15:04")))
	require.Equal(t, http.StatusSeeOther, a.status, a.body)
	key = keyOf(t, c.get(base+"?tab=wallet").body, "-entry")
	f := form("credit", "paid", "0", late.Format(time.RFC3339))
	f.Set("amount", "3.50")
	a = c.post(post, f)
	require.Equal(t, http.StatusSeeOther, a.status, a.body)
	s, err := e.eng.ExpiringCredits(e.ctx, e.ada.ID, "USD", 30*24*time.Hour)
	require.NoError(t, err)
	require.Len(t, s.Grants, 2)
	require.Equal(t, ledger.KindPaid, s.Grants[0].Kind) // priority 0 before 1
	require.Equal(t, late, s.Grants[0].ExpiresAt)
	require.Equal(t, ledger.KindGranted, s.Grants[1].Kind)
	require.Equal(t, 1, s.Grants[1].Priority)
	require.Equal(t, soon, s.Grants[1].ExpiresAt)
	require.EqualValues(t, 1000, s.Granted)
	require.EqualValues(t, 1000, s.Expiring)

	a = c.get(base + "?tab=wallet")
	require.Equal(t, http.StatusOK, a.status)
	body := a.body
	for _, want := range []string{
		`<h3 id="credits-USD">USD credit: paid, granted and expiring</h3>`,
		`<span class="muted">Paid</span><span class="amt">` + webui.Amount(s.Paid, "USD") + `</span>`,
		`<span class="muted">Granted</span><span class="amt">10.00 USD</span>`,
		`<span class="muted">Expiring within 30 days</span><span class="amt">10.00 USD</span>`,
		`<th scope="col" class="num">Amount left</th><th scope="col">Kind</th><th scope="col" class="num">Priority</th><th scope="col">Expires at (UTC)</th>`,
		`<td class="num">3.50 USD</td><td>Paid</td><td class="num">0</td><td><time datetime="` + webui.UTCTitle(late) + `"`,
		`<td class="num">10.00 USD</td><td>Granted</td><td class="num">1</td><td><time datetime="` + webui.UTCTitle(soon) + `"`,
	} {
		require.Contains(t, body, want)
	}
	require.Less(t, strings.Index(body, "<td>Paid</td><td class=\"num\">0</td>"), strings.Index(body, "<td>Granted</td>"),
		"grants are listed in consumption order")
	require.NotContains(t, body, "credits-EUR", "a currency without balance has no credit section")

	// The other customer's wallet shows none of it; its plain credit is
	// plain paid credit.
	_, err = e.eng.CreateEntry(e.ctx, e.bob.ID, coffer.EntryParams{Amount: 100, Currency: "USD", Type: ledger.Credit, Reason: "Plain"})
	require.NoError(t, err)
	b := c.get("/dashboard/customers/" + e.bob.ID + "?tab=wallet").body
	require.NotContains(t, b, "Granted</td>")
	require.Contains(t, b, "No credit grants: the whole USD balance is plain paid credit that never expires.")
}

// TestPortalExpiringCredit: the portal's wallet shows what expires within
// 30 days, to its customer only.
func TestPortalExpiringCredit(t *testing.T) {
	e := newEnv(t, 0)
	soon := time.Now().UTC().Add(5 * 24 * time.Hour).Truncate(time.Second)
	for _, p := range []coffer.EntryParams{
		{Amount: 700, Currency: "USD", Type: ledger.Credit, Reason: "Promo", CreditKind: ledger.KindGranted, ExpiresAt: soon},
		{Amount: 900, Currency: "USD", Type: ledger.Credit, Reason: "Later", ExpiresAt: soon.Add(90 * 24 * time.Hour)},
	} {
		_, err := e.eng.CreateEntry(e.ctx, e.ada.ID, p)
		require.NoError(t, err)
	}
	c := e.client()
	require.Equal(t, http.StatusOK, c.get("/portal/session/"+e.signer.Sign(e.ada.ID, "", time.Now())).status)
	home := c.get("/portal/")
	require.Equal(t, http.StatusOK, home.status)
	require.Contains(t, home.body, `<h3 id="expiring-USD">7.00 USD of your USD balance expires within 30 days</h3>`)
	require.Contains(t, home.body, `<td class="num">7.00 USD</td><td>Bonus credit</td><td><time datetime="`+webui.UTCTitle(soon)+`">`+webui.UTC(soon)+`</time></td>`)
	require.NotContains(t, home.body, "9.00 USD</td><td>Paid credit", "credit expiring after the window is not listed")

	// Bob's portal: nothing expires.
	c = e.client()
	require.Equal(t, http.StatusOK, c.get("/portal/session/"+e.signer.Sign(e.bob.ID, "", time.Now())).status)
	home = c.get("/portal/")
	require.Equal(t, http.StatusOK, home.status)
	require.NotContains(t, home.body, "expires within 30 days")
	require.NotContains(t, home.body, "Bonus credit")
}

// TestWalletEntryInUnit: the wallet form posts an entry in a credit unit
// defined on the engine, its code kept lower case and its amount read with
// the unit's exponent; an undefined unit is refused inside the form with
// unknown_unit and posts nothing.
func TestWalletEntryInUnit(t *testing.T) {
	e := newEnv(t, 0)
	_, err := e.eng.DefineUnit(e.ctx, coffer.UnitParams{Code: "api_calls"})
	require.NoError(t, err)
	c := e.client()
	c.signIn(e.opSecret)
	base := "/dashboard/customers/" + e.ada.ID
	a := c.get(base + "?tab=wallet")
	tok, key := csrf(t, a.body), keyOf(t, a.body, "-entry")
	form := func(cur, amount string) url.Values {
		return url.Values{"csrf": {tok}, "idempotency_key": {key}, "amount": {amount}, "currency": {cur}, "type": {"credit"},
			"reason": {"Included calls"}}
	}
	a = c.post(base+"/wallet/entries", form("tokens_v2", "10"))
	require.Equal(t, http.StatusUnprocessableEntity, a.status)
	require.Contains(t, a.body, "Error code <code>unknown_unit</code>")
	a = c.post(base+"/wallet/entries", form("api_calls", "1.5"))
	require.Equal(t, http.StatusUnprocessableEntity, a.status, "api_calls has exponent 0")
	a = c.post(base+"/wallet/entries", form("api_calls", "1500"))
	require.Equal(t, http.StatusSeeOther, a.status, a.body)
	b, err := e.eng.Balance(e.ctx, e.ada.ID, "api_calls")
	require.NoError(t, err)
	require.Equal(t, int64(1500), b.Available())
}
