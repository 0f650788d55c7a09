package httpapi

import (
	"github.com/shopspring/decimal"

	"fmt"
	"github.com/cofferhq/coffer"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCustomerCreateRetrieveUpdate(t *testing.T) {
	e := newTestEnv(t)
	r := mustOK(t, e.do("POST", "/customers", map[string]any{
		"email": "ada@example.com", "name": "Ada", "metadata": map[string]any{"plan": "pro", "seats": 3, "vip": true},
		"phone_number": "+14155550100"}))
	var c Customer
	r.Decode(t, &c)
	assert.True(t, strings.HasPrefix(c.CustomerID, "cus_"), c.CustomerID)
	assert.Equal(t, DefaultBusinessID, c.BusinessID)
	assert.Equal(t, "ada@example.com", c.Email)
	assert.Equal(t, Metadata{"plan": "pro", "seats": "3", "vip": "true"}, c.Metadata)
	require.NotNil(t, c.PhoneNumber)
	assert.Equal(t, t0, c.CreatedAt)
	// Dodo's nullable fields are present as null.
	m := r.JSON(t)
	for _, f := range []string{"blocked_at", "blocklist_entry_id"} {
		v, ok := m[f]
		assert.True(t, ok, f)
		assert.Nil(t, v, f)
	}

	got := mustOK(t, e.do("GET", "/customers/"+c.CustomerID, nil)).JSON(t)
	assert.Equal(t, "Ada", got["name"])

	// PATCH: null and absent fields keep their value.
	up := mustOK(t, e.do("PATCH", "/customers/"+c.CustomerID, `{"name":"Ada L.","email":null}`)).JSON(t)
	assert.Equal(t, "Ada L.", up["name"])
	assert.Equal(t, "ada@example.com", up["email"])
}

func TestCustomerCreateRefusesBadInput(t *testing.T) {
	e := newTestEnv(t)
	cases := []struct {
		name, body string
		status     int
		code       string
		param      string
	}{
		{"malformed", `{"name":`, 400, "MALFORMED_JSON", ""},
		{"not an object", `[1,2]`, 400, "MALFORMED_JSON", ""},
		{"trailing", `{"name":"a","email":"a@b.co"} {}`, 400, "MALFORMED_JSON", ""},
		{"wrong type", `{"name":5,"email":"a@b.co"}`, 422, "INVALID_TYPE", "name"},
		{"missing email", `{"name":"A"}`, 422, "INVALID_PARAMETER", "email"},
		{"missing name", `{"email":"a@b.co"}`, 422, "INVALID_PARAMETER", "name"},
		{"bad email", `{"name":"A","email":"nope"}`, 422, "INVALID_EMAIL", "email"},
		{"bad metadata", `{"name":"A","email":"a@b.co","metadata":{"k":[1]}}`, 422, "INVALID_PARAMETER", "metadata"},
		{"invalid utf8", "{\"name\":\"\xff\",\"email\":\"a@b.co\"}", 400, "MALFORMED_JSON", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", "/customers", tc.body)
			require.Equal(t, tc.status, r.Status, "body %s", r.Body)
			var eb ErrorBody
			r.Decode(t, &eb)
			assert.Equal(t, tc.code, eb.Code)
			assert.Equal(t, tc.param, eb.Param)
			assert.NotEmpty(t, eb.Message)
			assert.Equal(t, "false", r.Header.Get("X-Should-Retry"))
		})
	}
	// Nothing was created.
	assert.Empty(t, mustOK(t, e.do("GET", "/customers", nil)).JSON(t)["items"])

	big := `{"name":"` + strings.Repeat("a", DefaultMaxBody) + `","email":"a@b.co"}`
	r := e.do("POST", "/customers", big)
	assert.Equal(t, http.StatusRequestEntityTooLarge, r.Status)
	assert.Equal(t, "REQUEST_TOO_LARGE", r.Code(t))
}

func TestAuthentication(t *testing.T) {
	e := newTestEnv(t)
	for _, key := range []string{"", "sk_test_wrong"} {
		r := e.doKey(key, "GET", "/customers", nil, nil)
		assert.Equal(t, http.StatusUnauthorized, r.Status)
		assert.Equal(t, "INVALID_API_KEY", r.Code(t))
	}
	r := e.doKey("", "GET", "/customers", nil, http.Header{"Authorization": {"Basic Zm9vOmJhcg=="}})
	assert.Equal(t, http.StatusUnauthorized, r.Status)

	a := e.newCustomer("A", "a@example.com")
	b := e.newCustomer("B", "b@example.com")
	ka := "sk_test_for_" + a
	mustOK(t, e.doKey(ka, "GET", "/customers/"+a, nil, nil))
	mustOK(t, e.doKey(ka, "GET", "/customers/"+a+"/wallets", nil, nil))
	for _, path := range []string{"/customers/" + b, "/customers/" + b + "/wallets", "/customers/cus_missing"} {
		r := e.doKey(ka, "GET", path, nil, nil)
		assert.Equal(t, http.StatusForbidden, r.Status, path)
		assert.Equal(t, "FORBIDDEN", r.Code(t))
	}
	// A restricted key lists only its customer and cannot create customers
	// or move money.
	items := mustOK(t, e.doKey(ka, "GET", "/customers", nil, nil)).JSON(t)["items"].([]any)
	require.Len(t, items, 1)
	assert.Equal(t, a, items[0].(map[string]any)["customer_id"])
	assert.Equal(t, http.StatusForbidden, e.doKey(ka, "POST", "/customers", map[string]any{"name": "x", "email": "x@y.co"}, nil).Status)
	r = e.doKey(ka, "POST", "/customers/"+a+"/wallets/ledger-entries",
		map[string]any{"amount": 100, "currency": "USD", "entry_type": "credit"}, nil)
	assert.Equal(t, http.StatusForbidden, r.Status)
}

func TestCustomerListPages(t *testing.T) {
	e := newTestEnv(t)
	var ids []string
	for i := range 25 {
		e.clock.Advance(60e9)
		ids = append(ids, e.newCustomer(fmt.Sprintf("User %02d", i), fmt.Sprintf("u%02d@example.com", i)))
	}
	// Newest first, pages of 10, then an empty page.
	var seen []string
	for n := 0; ; n++ {
		var p Page[Customer]
		mustOK(t, e.do("GET", fmt.Sprintf("/customers?page_size=10&page_number=%d", n), nil)).Decode(t, &p)
		if len(p.Items) == 0 {
			break
		}
		for _, c := range p.Items {
			seen = append(seen, c.CustomerID)
		}
		require.Less(t, n, 5)
	}
	require.Len(t, seen, 25)
	for i := range seen {
		assert.Equal(t, ids[24-i], seen[i])
	}
	// A page number nobody read (the SDK skips page 1) is still right.
	var p2 Page[Customer]
	mustOK(t, e.do("GET", "/customers?page_size=7&page_number=2", nil)).Decode(t, &p2)
	require.Len(t, p2.Items, 7)
	assert.Equal(t, ids[24-14], p2.Items[0].CustomerID)
	// Far past the end: empty, not 404.
	var p9 Page[Customer]
	mustOK(t, e.do("GET", "/customers?page_size=10&page_number=9", nil)).Decode(t, &p9)
	assert.Empty(t, p9.Items)
	assert.NotNil(t, p9.Items)

	// Filters.
	var f Page[Customer]
	mustOK(t, e.do("GET", "/customers?email=U07@EXAMPLE.com", nil)).Decode(t, &f)
	require.Len(t, f.Items, 1)
	assert.Equal(t, ids[7], f.Items[0].CustomerID)
	mustOK(t, e.do("GET", "/customers?name=user%201", nil)).Decode(t, &f)
	assert.Len(t, f.Items, 10) // User 10..19
	from := t0.Add(5 * 60e9).Format("2006-01-02T15:04:05Z")
	to := t0.Add(7 * 60e9).Format("2006-01-02T15:04:05Z")
	mustOK(t, e.do("GET", "/customers?created_at_gte="+from+"&created_at_lte="+to, nil)).Decode(t, &f)
	require.Len(t, f.Items, 3) // customers 4, 5, 6 (created at +5, +6, +7 min)
	assert.Equal(t, ids[6], f.Items[0].CustomerID)

	// coffer's cursor extension.
	var c1 Page[Customer]
	mustOK(t, e.do("GET", "/customers?page_size=5&starting_after="+ids[20], nil)).Decode(t, &c1)
	require.Len(t, c1.Items, 5)
	assert.Equal(t, ids[19], c1.Items[0].CustomerID)
	assert.True(t, c1.HasMore)
	assert.Equal(t, ids[15], c1.NextCursor)

	for _, q := range []string{"page_size=0", "page_size=101", "page_number=-1", "page_size=x",
		"created_at_gte=yesterday", "page_number=1&starting_after=" + ids[0], "page_size=1&page_size=2"} {
		r := e.do("GET", "/customers?"+q, nil)
		assert.Equal(t, http.StatusUnprocessableEntity, r.Status, q)
		assert.Equal(t, "INVALID_PARAMETER", r.Code(t), q)
	}
	r := e.do("GET", "/customers?starting_after=cus_nope", nil)
	assert.Equal(t, http.StatusUnprocessableEntity, r.Status)
	assert.Equal(t, "INVALID_CURSOR", r.Code(t))
}

func TestWalletsAndLedgerEntries(t *testing.T) {
	e := newTestEnv(t)
	c := e.newCustomer("Ada", "ada@example.com")
	entry := func(amount int64, cur, typ, key string) resp {
		return e.do("POST", "/customers/"+c+"/wallets/ledger-entries", map[string]any{
			"amount": amount, "currency": cur, "entry_type": typ, "reason": "test", "idempotency_key": key})
	}
	var w CustomerWallet
	mustOK(t, entry(5000, "USD", "credit", "deposit_1")).Decode(t, &w)
	assert.Equal(t, int64(5000), w.Balance)
	assert.Equal(t, "USD", w.Currency)
	assert.Equal(t, c, w.CustomerID)
	mustOK(t, entry(1500, "USD", "debit", "purchase_1")).Decode(t, &w)
	assert.Equal(t, int64(3500), w.Balance)
	mustOK(t, entry(1500000, "INR", "credit", "inr_1"))

	// The same key again: 409, already processed, not to be retried.
	r := entry(5000, "USD", "credit", "deposit_1")
	assert.Equal(t, http.StatusConflict, r.Status)
	assert.Equal(t, "ALREADY_PROCESSED", r.Code(t))
	assert.Equal(t, "false", r.Header.Get("X-Should-Retry"))
	// The same key with another body: 409 too, a conflict.
	r = entry(7000, "USD", "credit", "deposit_1")
	assert.Equal(t, http.StatusConflict, r.Status)
	assert.Equal(t, "IDEMPOTENCY_CONFLICT", r.Code(t))
	assert.Equal(t, "false", r.Header.Get("X-Should-Retry"))

	// The seed's purchase check: a debit beyond the balance is a 400.
	r = entry(100000, "USD", "debit", "purchase_2")
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Equal(t, "INSUFFICIENT_FUNDS", r.Code(t))

	var wl WalletList
	mustOK(t, e.do("GET", "/customers/"+c+"/wallets", nil)).Decode(t, &wl)
	require.Len(t, wl.Items, 4) // one per enabled currency
	assert.Equal(t, int64(3500), wl.TotalBalanceUSD)
	assert.Equal(t, []string{"INR"}, wl.UnconvertedCurrencies)

	var p Page[LedgerEntry]
	mustOK(t, e.do("GET", "/customers/"+c+"/wallets/ledger-entries?currency=USD&page_size=50&page_number=0", nil)).Decode(t, &p)
	require.Len(t, p.Items, 2)
	d := p.Items[0]
	assert.Equal(t, int64(1500), d.Amount)
	assert.False(t, d.IsCredit)
	assert.Equal(t, int64(5000), d.BeforeBalance)
	assert.Equal(t, int64(3500), d.AfterBalance)
	assert.Equal(t, "merchant_adjustment", d.EventType)
	assert.Equal(t, "purchase_1", d.IdempotencyKey)

	for _, tc := range []struct{ body, code, param string }{
		{`{"currency":"USD","entry_type":"credit"}`, "INVALID_PARAMETER", "amount"},
		{`{"amount":1.5,"currency":"USD","entry_type":"credit"}`, "INVALID_TYPE", "amount"},
		{`{"amount":100,"currency":"USD","entry_type":"refund"}`, "INVALID_PARAMETER", "entry_type"},
		{`{"amount":100,"currency":"XXX","entry_type":"credit"}`, "UNKNOWN_CURRENCY", ""},
		{`{"amount":-5,"currency":"USD","entry_type":"credit"}`, "INVALID_AMOUNT", ""},
	} {
		r := e.do("POST", "/customers/"+c+"/wallets/ledger-entries", tc.body)
		assert.Equal(t, http.StatusUnprocessableEntity, r.Status, tc.body)
		var eb ErrorBody
		r.Decode(t, &eb)
		assert.Equal(t, tc.code, eb.Code, tc.body)
		if tc.param != "" {
			assert.Equal(t, tc.param, eb.Param, tc.body)
		}
	}
	r = e.do("POST", "/customers/cus_nope/wallets/ledger-entries", map[string]any{"amount": 1, "currency": "USD", "entry_type": "credit"})
	assert.Equal(t, http.StatusNotFound, r.Status)
	assert.Equal(t, "CUSTOMER_NOT_FOUND", r.Code(t))
	// Still 3500.
	mustOK(t, e.do("GET", "/customers/"+c+"/wallets", nil)).Decode(t, &wl)
	assert.Equal(t, int64(3500), wl.TotalBalanceUSD)
}

func TestUnknownRouteIsJSON404(t *testing.T) {
	e := newTestEnv(t)
	r := e.do("GET", "/nope", nil)
	assert.Equal(t, http.StatusNotFound, r.Status)
	assert.Equal(t, "NOT_FOUND", r.Code(t))
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
}

func TestMeInCustomerPaths(t *testing.T) {
	e := newTestEnv(t)
	a := e.newCustomer("A", "a@example.com")
	r := mustOK(t, e.doKey("sk_test_for_"+a, "GET", "/customers/me/wallets", nil, nil))
	var wl WalletList
	r.Decode(t, &wl)
	require.NotEmpty(t, wl.Items)
	assert.Equal(t, a, wl.Items[0].CustomerID)
	r = e.do("GET", "/customers/me/wallets", nil)
	assert.Equal(t, http.StatusUnprocessableEntity, r.Status)
}

func TestWrongMethodIs405(t *testing.T) {
	e := newTestEnv(t)
	r := e.do("DELETE", "/customers", nil)
	assert.Equal(t, http.StatusMethodNotAllowed, r.Status)
	assert.Equal(t, "METHOD_NOT_ALLOWED", r.Code(t))
	assert.Contains(t, r.Header.Get("Allow"), "GET")
	assert.Contains(t, r.Header.Get("Allow"), "POST")
}

func TestUncleanPathIsJSON404(t *testing.T) {
	e := newTestEnv(t)
	for _, p := range []string{"//customers", "/customers/./x", "/a/../customers"} {
		req, err := http.NewRequest("GET", e.srv.URL+p, nil)
		require.NoError(t, err)
		req.URL.Opaque = p // send the path as is
		req.Header.Set("Authorization", "Bearer "+opKey)
		res, err := e.srv.Client().Do(req)
		require.NoError(t, err)
		res.Body.Close()
		assert.Equal(t, http.StatusNotFound, res.StatusCode, p)
		assert.Equal(t, "application/json", res.Header.Get("Content-Type"), p)
	}
}

func TestTotalBalanceUSDWithRates(t *testing.T) {
	e := newTestEnv(t, WithUSDRates(map[string]decimal.Decimal{
		"INR": decimal.RequireFromString("0.012"), "JPY": decimal.RequireFromString("0.0067")}))
	c := e.newCustomer("Ada", "ada@example.com")
	for _, en := range []map[string]any{
		{"amount": 3500, "currency": "USD", "entry_type": "credit"},
		{"amount": 1500000, "currency": "INR", "entry_type": "credit"}, // Rs 15,000 = $180.00
		{"amount": 1001, "currency": "JPY", "entry_type": "credit"},    // ¥1001 = $6.7067 -> 671 cents
		{"amount": 100, "currency": "EUR", "entry_type": "credit"},     // no rate
	} {
		mustOK(t, e.do("POST", "/customers/"+c+"/wallets/ledger-entries", en))
	}
	var wl WalletList
	mustOK(t, e.do("GET", "/customers/"+c+"/wallets", nil)).Decode(t, &wl)
	assert.Equal(t, int64(3500+18000+671), wl.TotalBalanceUSD)
	assert.Equal(t, []string{"EUR"}, wl.UnconvertedCurrencies)

	for _, bad := range []map[string]decimal.Decimal{{"XXX": decimal.NewFromInt(1)}, {"INR": decimal.Zero}, {"USD": decimal.NewFromInt(2)}} {
		_, err := New(e.eng, WithUSDRates(bad))
		assert.ErrorIs(t, err, coffer.ErrInvalidConfig)
	}
}
