package httpapi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCustomersMeWinsOverCustomerID(t *testing.T) {
	e := newTestEnv(t)
	c := e.newCustomer("Ada", "ada@example.com")
	// The mux picks the literal pattern for /customers/me and /customers/search.
	for path, want := range map[string]string{
		"/customers/me":                  "GET /customers/me",
		"/customers/search":              "GET /customers/search",
		"/customers/" + c:                "GET /customers/{customer_id}",
		"/customers/me/balances":         "GET /customers/{customer_id}/balances",
		"/customers/me/overdue/invoices": "GET /customers/{customer_id}/overdue/invoices",
	} {
		_, pattern := e.h.mux.Handler(httptest.NewRequest("GET", path, nil))
		assert.Equal(t, want, pattern, path)
	}

	var me Customer
	mustOK(t, e.doKey("sk_test_for_"+c, "GET", "/customers/me", nil, nil)).Decode(t, &me)
	assert.Equal(t, c, me.CustomerID)
	assert.Equal(t, "Ada", me.Name)
	// The operator key has no "me": a clear 422, not the 404 of a customer
	// named "me".
	r := e.do("GET", "/customers/me", nil)
	assert.Equal(t, http.StatusUnprocessableEntity, r.Status)
	assert.Equal(t, "KEY_NOT_RESTRICTED", r.Code(t))
	assert.Equal(t, "false", r.Header.Get("X-Should-Retry"))
	// A key restricted to a customer that does not exist.
	r = e.doKey("sk_test_for_cus_gone", "GET", "/customers/me", nil, nil)
	assert.Equal(t, http.StatusNotFound, r.Status)
	assert.Equal(t, http.StatusUnauthorized, e.doKey("", "GET", "/customers/me", nil, nil).Status)
	assert.Equal(t, http.StatusUnauthorized, e.doKey("sk_test_wrong", "GET", "/customers/me", nil, nil).Status)
	// /customers/{id} is unaffected.
	mustOK(t, e.do("GET", "/customers/"+c, nil))
}

func TestCustomerSearch(t *testing.T) {
	e := newTestEnv(t)
	var ids []string
	for i := range 5 {
		e.clock.Advance(1e9)
		ids = append(ids, e.newCustomer(fmt.Sprintf("John %d", i), fmt.Sprintf("john%d@example.com", i)))
	}
	jane := e.newCustomer("Jane Roe", "jane@corp.example")

	var p Page[Customer]
	mustOK(t, e.do("GET", "/customers/search?query=john", nil)).Decode(t, &p)
	require.Len(t, p.Items, 5)
	assert.Equal(t, ids[4], p.Items[0].CustomerID) // newest first
	mustOK(t, e.do("GET", "/customers/search?query=corp.example", nil)).Decode(t, &p)
	require.Len(t, p.Items, 1)
	assert.Equal(t, jane, p.Items[0].CustomerID)
	mustOK(t, e.do("GET", "/customers/search?query=nobody", nil)).Decode(t, &p)
	assert.Empty(t, p.Items)
	// Pages walk in order; then an empty page.
	var seen []string
	for n := 0; ; n++ {
		var pg Page[Customer]
		mustOK(t, e.do("GET", fmt.Sprintf("/customers/search?query=john&page_size=2&page_number=%d", n), nil)).Decode(t, &pg)
		if len(pg.Items) == 0 {
			break
		}
		for _, c := range pg.Items {
			seen = append(seen, c.CustomerID)
		}
		require.Less(t, n, 4)
	}
	assert.Equal(t, []string{ids[4], ids[3], ids[2], ids[1], ids[0]}, seen)
	mustOK(t, e.do("GET", "/customers/search?query=john&limit=2&starting_after="+ids[3], nil)).Decode(t, &p)
	assert.Equal(t, []string{ids[2], ids[1]}, []string{p.Items[0].CustomerID, p.Items[1].CustomerID})
	assert.True(t, p.HasMore)

	for _, tc := range []struct {
		key, q string
		status int
		code   string
	}{
		{opKey, "", 422, "INVALID_PARAMETER"},
		{opKey, "query=%20%20", 422, "INVALID_PARAMETER"},
		{opKey, "query=john&page_size=0", 422, "INVALID_PARAMETER"},
		{opKey, "query=john&query=jane", 422, "INVALID_PARAMETER"},
		{opKey, "query=john&starting_after=cus_nope", 422, "INVALID_CURSOR"},
		{"sk_test_for_" + jane, "query=john", 403, "FORBIDDEN"},
		{"", "query=john", 401, "INVALID_API_KEY"},
	} {
		r := e.doKey(tc.key, "GET", "/customers/search?"+tc.q, nil, nil)
		assert.Equal(t, tc.status, r.Status, tc.q)
		assert.Equal(t, tc.code, r.Code(t), tc.q)
	}
}

func TestBalancesAndLowBalanceThreshold(t *testing.T) {
	e := newTestEnv(t)
	c := e.newCustomer("Ada", "ada@example.com")
	other := e.newCustomer("Bob", "bob@example.com")
	mustOK(t, e.do("POST", "/customers/"+c+"/wallets/ledger-entries",
		map[string]any{"amount": 2500, "currency": "USD", "entry_type": "credit"}))

	var bl BalanceList
	mustOK(t, e.do("GET", "/customers/"+c+"/balances", nil)).Decode(t, &bl)
	require.Len(t, bl.Items, 4) // one per enabled currency
	byCur := map[string]Balance{}
	for _, b := range bl.Items {
		byCur[b.Currency] = b
	}
	usd := byCur["USD"]
	assert.Equal(t, c, usd.CustomerID)
	assert.Equal(t, int64(2500), usd.Balance)
	assert.Equal(t, int64(0), usd.Held)
	assert.Equal(t, int64(2500), usd.Available)
	assert.Equal(t, int64(0), byCur["JPY"].Balance)

	// Set a threshold (operator), then read it back.
	var b Balance
	mustOK(t, e.do("PUT", "/customers/"+c+"/wallets/USD/low-balance-threshold", map[string]any{"threshold": 5000})).Decode(t, &b)
	assert.Equal(t, int64(5000), b.LowBalanceThreshold)
	assert.Equal(t, "USD", b.Currency)
	assert.Equal(t, int64(2500), b.Balance)
	// Lower-case currency in the path is accepted.
	mustOK(t, e.do("PUT", "/customers/"+c+"/wallets/inr/low-balance-threshold", map[string]any{"threshold": 100})).Decode(t, &b)
	assert.Equal(t, "INR", b.Currency)

	kc := "sk_test_for_" + c
	var mine BalanceList
	mustOK(t, e.doKey(kc, "GET", "/customers/me/balances", nil, nil)).Decode(t, &mine)
	require.Len(t, mine.Items, 4)
	for _, it := range mine.Items {
		if it.Currency == "USD" {
			assert.Equal(t, int64(5000), it.LowBalanceThreshold)
		}
	}
	mustOK(t, e.doKey(kc, "GET", "/customers/"+c+"/balances", nil, nil))

	for _, tc := range []struct {
		name, key, method, path string
		body                    any
		status                  int
		code, param             string
	}{
		{"other's balances", kc, "GET", "/customers/" + other + "/balances", nil, 403, "FORBIDDEN", ""},
		{"operator me", opKey, "GET", "/customers/me/balances", nil, 422, "KEY_NOT_RESTRICTED", ""},
		{"missing customer", opKey, "GET", "/customers/cus_missing/balances", nil, 404, "CUSTOMER_NOT_FOUND", ""},
		{"unauthenticated", "", "GET", "/customers/" + c + "/balances", nil, 401, "INVALID_API_KEY", ""},
		{"restricted threshold", kc, "PUT", "/customers/" + c + "/wallets/USD/low-balance-threshold", map[string]any{"threshold": 1}, 403, "FORBIDDEN", ""},
		{"unauthenticated threshold", "", "PUT", "/customers/" + c + "/wallets/USD/low-balance-threshold", map[string]any{"threshold": 1}, 401, "INVALID_API_KEY", ""},
		{"missing threshold", opKey, "PUT", "/customers/" + c + "/wallets/USD/low-balance-threshold", `{}`, 422, "INVALID_PARAMETER", "threshold"},
		{"negative", opKey, "PUT", "/customers/" + c + "/wallets/USD/low-balance-threshold", `{"threshold":-1}`, 422, "INVALID_PARAMETER", "threshold"},
		{"fraction", opKey, "PUT", "/customers/" + c + "/wallets/USD/low-balance-threshold", `{"threshold":1.5}`, 422, "INVALID_TYPE", "threshold"},
		{"string", opKey, "PUT", "/customers/" + c + "/wallets/USD/low-balance-threshold", `{"threshold":"10"}`, 422, "INVALID_TYPE", "threshold"},
		{"malformed", opKey, "PUT", "/customers/" + c + "/wallets/USD/low-balance-threshold", `{"threshold"`, 400, "MALFORMED_JSON", ""},
		{"unknown currency", opKey, "PUT", "/customers/" + c + "/wallets/XXX/low-balance-threshold", `{"threshold":1}`, 422, "UNKNOWN_CURRENCY", ""},
		{"disabled currency", opKey, "PUT", "/customers/" + c + "/wallets/GBP/low-balance-threshold", `{"threshold":1}`, 422, "CURRENCY_NOT_ENABLED", ""},
		{"long currency", opKey, "PUT", "/customers/" + c + "/wallets/DOLLARSSS/low-balance-threshold", `{"threshold":1}`, 422, "INVALID_PARAMETER", "currency"},
		{"missing customer threshold", opKey, "PUT", "/customers/cus_missing/wallets/USD/low-balance-threshold", `{"threshold":1}`, 404, "CUSTOMER_NOT_FOUND", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.doKey(tc.key, tc.method, tc.path, tc.body, nil)
			require.Equal(t, tc.status, r.Status, "body %s", r.Body)
			var eb ErrorBody
			r.Decode(t, &eb)
			assert.Equal(t, tc.code, eb.Code)
			if tc.param != "" {
				assert.Equal(t, tc.param, eb.Param)
			}
		})
	}
	// The refusals changed nothing.
	bal, err := e.eng.Balance(e.ctx, c, "USD")
	require.NoError(t, err)
	assert.Equal(t, int64(5000), bal.LowThreshold)
	assert.Equal(t, int64(2500), bal.Amount)
}

func TestSpendingReport(t *testing.T) {
	e := newTestEnv(t)
	c := e.newCustomer("Ada", "ada@example.com")
	other := e.newCustomer("Bob", "bob@example.com")
	entry := func(amount int64, typ string) {
		mustOK(t, e.do("POST", "/customers/"+c+"/wallets/ledger-entries",
			map[string]any{"amount": amount, "currency": "USD", "entry_type": typ}))
	}
	entry(5000, "credit")
	e.clock.Advance(24 * time.Hour)
	entry(1200, "debit")
	e.clock.Advance(24 * time.Hour)
	entry(300, "debit")

	from := t0.Format("2006-01-02")
	to := t0.Add(72 * time.Hour).Format("2006-01-02")
	var rep SpendingReport
	r := mustOK(t, e.do("GET", "/customers/"+c+"/spending-report?currency=USD&from="+from+"&to="+to, nil))
	r.Decode(t, &rep)
	assert.Equal(t, c, rep.CustomerID)
	assert.Equal(t, "USD", rep.Currency)
	assert.Equal(t, int64(0), rep.OpeningBalance)
	assert.Equal(t, int64(3500), rep.ClosingBalance)
	assert.Equal(t, int64(5000), rep.Credited)
	assert.Equal(t, int64(1500), rep.Debited)
	assert.Equal(t, 3, rep.Entries)
	require.Len(t, rep.Days, 3)
	assert.Equal(t, int64(5000), rep.Days[0].ClosingBalance)
	assert.Equal(t, int64(3800), rep.Days[1].ClosingBalance)
	assert.Equal(t, int64(3500), rep.Days[2].ClosingBalance)
	require.Len(t, rep.ByReference, 1)
	assert.Equal(t, "manual", rep.ByReference[0].Type)
	assert.Equal(t, int64(1500), rep.ByReference[0].Debited)

	// A later window: opening balance carried; lower-case currency.
	var later SpendingReport
	mustOK(t, e.do("GET", "/customers/"+c+"/spending-report?currency=usd&from="+
		t0.Add(48*time.Hour).Format(time.RFC3339)+"&to="+t0.Add(49*time.Hour).Format(time.RFC3339), nil)).Decode(t, &later)
	assert.Equal(t, int64(3800), later.OpeningBalance)
	assert.Equal(t, int64(3500), later.ClosingBalance)

	// The customer's own key (also as "me").
	kc := "sk_test_for_" + c
	mustOK(t, e.doKey(kc, "GET", "/customers/me/spending-report?currency=USD&from="+from+"&to="+to, nil, nil)).Decode(t, &rep)
	assert.Equal(t, int64(3500), rep.ClosingBalance)

	q := "?currency=USD&from=" + from + "&to=" + to
	for _, tc := range []struct {
		name, key, path string
		status          int
		code, param     string
	}{
		{"other's", kc, "/customers/" + other + "/spending-report" + q, 403, "FORBIDDEN", ""},
		{"operator me", opKey, "/customers/me/spending-report" + q, 422, "KEY_NOT_RESTRICTED", ""},
		{"unauthenticated", "", "/customers/" + c + "/spending-report" + q, 401, "INVALID_API_KEY", ""},
		{"missing customer", opKey, "/customers/cus_missing/spending-report" + q, 404, "CUSTOMER_NOT_FOUND", ""},
		{"no currency", opKey, "/customers/" + c + "/spending-report?from=" + from + "&to=" + to, 422, "INVALID_PARAMETER", "currency"},
		{"unknown currency", opKey, "/customers/" + c + "/spending-report?currency=XXX&from=" + from + "&to=" + to, 422, "UNKNOWN_CURRENCY", ""},
		{"bad from", opKey, "/customers/" + c + "/spending-report?currency=USD&from=last-week", 422, "INVALID_PARAMETER", "from"},
		{"bad to", opKey, "/customers/" + c + "/spending-report?currency=USD&to=2026-13-01", 422, "INVALID_PARAMETER", "to"},
		{"reversed", opKey, "/customers/" + c + "/spending-report?currency=USD&from=" + to + "&to=" + from, 422, "INVALID_PARAMETER", "from"},
		{"too long", opKey, "/customers/" + c + "/spending-report?currency=USD&from=2024-01-01&to=2026-01-01", 422, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.doKey(tc.key, "GET", tc.path, nil, nil)
			require.Equal(t, tc.status, r.Status, "body %s", r.Body)
			var eb ErrorBody
			r.Decode(t, &eb)
			if tc.code != "" {
				assert.Equal(t, tc.code, eb.Code)
			}
			if tc.param != "" {
				assert.Equal(t, tc.param, eb.Param)
			}
		})
	}

	// Defaults: to = now, from = 30 days before (a Handler of its own, to
	// set its clock before it serves).
	h2, err := New(e.eng, WithAuthenticator(testAuth))
	require.NoError(t, err)
	h2.now = func() time.Time { return t0.Add(72 * time.Hour) }
	srv2 := httptest.NewServer(h2)
	t.Cleanup(srv2.Close)
	e2 := *e
	e2.srv = srv2
	var def SpendingReport
	mustOK(t, e2.do("GET", "/customers/"+c+"/spending-report?currency=USD", nil)).Decode(t, &def)
	assert.Equal(t, t0.Add(72*time.Hour), def.To)
	assert.Equal(t, t0.Add(72*time.Hour-defaultReportPeriod), def.From)
	assert.Equal(t, int64(3500), def.ClosingBalance)
}
