package httpapi

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLedgerEntryKnownCustomer: once a customer has been read, its entries
// skip the customer read (createdCache); the answers, refusals and codes
// stay those of the first entry.
func TestLedgerEntryKnownCustomer(t *testing.T) {
	e := newTestEnv(t)
	c := e.newCustomer("Ada", "ada@example.com")
	other := e.newCustomer("Bob", "bob@example.com")
	did := mustOK(t, e.do("POST", "/customers", `{"name":"Cy","email":"cy@example.com","did":"did:web:cy"}`)).JSON(t)["customer_id"].(string)
	e.clock.Advance(time.Hour)
	credit := `{"amount":100,"currency":"USD","entry_type":"credit"}`
	for i, want := range []int64{100, 200, 300} {
		var w CustomerWallet
		mustOK(t, e.do("POST", "/customers/"+c+"/wallets/ledger-entries", credit)).Decode(t, &w)
		assert.Equal(t, want, w.Balance, i)
		assert.Equal(t, c, w.CustomerID, i)
		assert.Equal(t, t0, w.CreatedAt, i) // the customer's, read or remembered
		assert.Equal(t, t0.Add(time.Hour), w.UpdatedAt, i)
	}
	_, known := e.h.created.get(c)
	require.True(t, known)
	// By DID, twice: the DID is resolved every time, the id remembered.
	for i := range 2 {
		var w CustomerWallet
		mustOK(t, e.do("POST", "/customers/did:web:cy/wallets/ledger-entries", credit)).Decode(t, &w)
		assert.Equal(t, did, w.CustomerID, i)
		assert.Equal(t, t0, w.CreatedAt, i)
	}
	_, known = e.h.created.get("did:web:cy")
	assert.False(t, known)

	for _, tc := range []struct {
		key, path, body string
		status          int
		code            string
	}{
		// A restricted key is refused on a remembered customer, its own or not.
		{"sk_test_for_" + c, "/customers/" + c, credit, 403, "FORBIDDEN"},
		{"sk_test_for_" + other, "/customers/" + c, credit, 403, "FORBIDDEN"},
		{"sk_test_for_" + c, "/customers/me", credit, 403, "FORBIDDEN"},
		{opKey, "/customers/me", credit, 422, "KEY_NOT_RESTRICTED"},
		{opKey, "/customers/cus_nope", credit, 404, "CUSTOMER_NOT_FOUND"},
		{opKey, "/customers/cus_nope", `{"amount":`, 404, "CUSTOMER_NOT_FOUND"},
		{opKey, "/customers/" + c, `{"amount":`, 400, "MALFORMED_JSON"},
		{opKey, "/customers/" + c, `{"amount":1,"currency":"USD","entry_type":"debit","idempotency_key":"x"}`, 200, ""},
		{opKey, "/customers/" + c, `{"amount":1,"currency":"USD","entry_type":"debit","idempotency_key":"x"}`, 409, "ALREADY_PROCESSED"},
		{opKey, "/customers/" + c, `{"amount":100000,"currency":"USD","entry_type":"debit"}`, 400, "INSUFFICIENT_FUNDS"},
	} {
		r := e.doKey(tc.key, "POST", tc.path+"/wallets/ledger-entries", tc.body, nil)
		assert.Equal(t, tc.status, r.Status, "%s %s: %s", tc.path, tc.body, r.Body)
		if tc.code != "" {
			assert.Equal(t, tc.code, r.Code(t), "%s %s", tc.path, tc.body)
		}
	}
	var wl WalletList
	mustOK(t, e.do("GET", "/customers/"+c+"/wallets", nil)).Decode(t, &wl)
	assert.Equal(t, int64(299), wl.TotalBalanceUSD)
}

func TestCreatedCacheBounded(t *testing.T) {
	var cc createdCache
	for i := range createdCacheSize + 10 {
		cc.put(string(rune('a'+i%26))+time.Duration(i).String(), t0)
	}
	assert.Equal(t, createdCacheSize, len(cc.m))
	cc.put("x", t0.Add(time.Second))
	got, ok := cc.get("x")
	assert.True(t, ok)
	assert.Equal(t, t0.Add(time.Second), got)
}

func TestRequestBodyBounds(t *testing.T) {
	e := newTestEnv(t)
	big := `{"name":"A","email":"a@b.co","description":"` + strings.Repeat("x", DefaultMaxBody) + `"}`
	// Chunked (no Content-Length): the MaxBytesReader stops it.
	req, err := http.NewRequest("POST", e.srv.URL+"/customers", io.MultiReader(strings.NewReader(big)))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+opKey)
	require.Equal(t, int64(0), req.ContentLength)
	req.ContentLength = -1
	res, err := e.srv.Client().Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
	// Chunked within the bound is read whole.
	req, err = http.NewRequest("POST", e.srv.URL+"/customers", io.MultiReader(strings.NewReader(`{"name":"A","email":"a@b.co"}`)))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+opKey)
	req.ContentLength = -1
	res, err = e.srv.Client().Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)
	// With a Content-Length over the bound.
	assert.Equal(t, http.StatusRequestEntityTooLarge, e.do("POST", "/customers", big).Status)
}

func TestNewRequestID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := newRequestID()
		require.Len(t, id, 28)
		require.True(t, strings.HasPrefix(id, "req_"), id)
		require.True(t, validRequestID(id), id)
		require.False(t, seen[id], id)
		seen[id] = true
	}
}
