package httpapi

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCustomerListTokenBalance: every item of GET /customers (plain,
// filtered, paged by cursor, restricted key) and of the search list
// carries the token_balance of the single read (answers validated against
// the OpenAPI document).
func TestCustomerListTokenBalance(t *testing.T) {
	e := newTestEnv(t)
	mustOK(t, e.do("POST", "/units", map[string]any{"code": "credits", "exponent": 2, "name": "Credits"}))
	mustOK(t, e.do("POST", "/units", map[string]any{"code": "api_calls", "name": "API calls"}))
	a := e.newCustomer("Ada", "ada@example.com")
	b := e.newCustomer("Bob", "bob@example.com")
	c := e.newCustomer("Cy", "cy@example.com")
	entries := func(id string) string { return "/customers/" + id + "/wallets/ledger-entries" }
	mustOK(t, e.do("POST", entries(a), map[string]any{"amount": 1234, "currency": "credits", "entry_type": "credit"}))
	mustOK(t, e.do("POST", entries(a), map[string]any{"amount": 500, "currency": "USD", "entry_type": "credit"}))
	mustOK(t, e.do("POST", entries(b), map[string]any{"amount": 1000, "currency": "api_calls", "entry_type": "credit"}))
	mustOK(t, e.do("POST", entries(b), map[string]any{"amount": 1, "currency": "credits", "entry_type": "credit"}))

	single := map[string]map[string]string{}
	for _, id := range []string{a, b, c} {
		var cu Customer
		mustOK(t, e.do("GET", "/customers/"+id, nil)).Decode(t, &cu)
		single[id] = cu.TokenBalance
	}
	require.Equal(t, map[string]string{"credits": "12.34"}, single[a])
	require.Equal(t, map[string]string{"api_calls": "1000", "credits": "0.01"}, single[b])
	require.Equal(t, map[string]string{}, single[c])

	check := func(key, path string, want int) {
		t.Helper()
		var page Page[Customer]
		mustOK(t, e.doKey(key, "GET", path, nil, nil)).Decode(t, &page)
		require.Len(t, page.Items, want, path)
		for _, it := range page.Items {
			assert.Equal(t, single[it.CustomerID], it.TokenBalance, "%s: %s", path, it.CustomerID)
		}
		raw := mustOK(t, e.doKey(key, "GET", path, nil, nil)).JSON(t)
		for _, it := range raw["items"].([]any) {
			_, ok := it.(map[string]any)["token_balance"]
			assert.True(t, ok, "%s: token_balance present even when empty", path)
		}
	}
	check(opKey, "/customers", 3)
	check(opKey, "/customers?page_size=2", 2)
	check(opKey, "/customers?page_size=2&page_number=1", 1)
	check(opKey, "/customers?email=bob@example.com", 1)
	check(opKey, "/customers?search=example.com", 3)
	check(opKey, "/customers?search=ada", 1)
	check("sk_test_for_"+b, "/customers", 1)
}
