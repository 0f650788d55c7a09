package httpapi

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/processor"
)

func idem(k string) http.Header { return http.Header{"Idempotency-Key": {k}} }

func TestIdempotencyKeyReplaysTheFirstAnswer(t *testing.T) {
	e := newTestEnv(t)
	body := map[string]any{"name": "Ada", "email": "ada@example.com"}
	first := mustOK(t, e.doKey(opKey, "POST", "/customers", body, idem("create-ada")))
	assert.Empty(t, first.Header.Get("Idempotent-Replayed"))
	again := mustOK(t, e.doKey(opKey, "POST", "/customers", body, idem("create-ada")))
	assert.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
	assert.JSONEq(t, string(first.Body), string(again.Body))
	var p Page[Customer]
	mustOK(t, e.do("GET", "/customers", nil)).Decode(t, &p)
	assert.Len(t, p.Items, 1, "the replay created nothing")

	// The same key with another body: 422, and nothing created.
	r := e.doKey(opKey, "POST", "/customers", map[string]any{"name": "Bob", "email": "bob@example.com"}, idem("create-ada"))
	assert.Equal(t, http.StatusUnprocessableEntity, r.Status)
	assert.Equal(t, "IDEMPOTENCY_KEY_REUSED", r.Code(t))
	assert.Equal(t, "false", r.Header.Get("X-Should-Retry"))
	mustOK(t, e.do("GET", "/customers", nil)).Decode(t, &p)
	assert.Len(t, p.Items, 1)

	// Keys are per API key: another key's identical request runs.
	c := p.Items[0].CustomerID
	mustOK(t, e.doKey(opKey, "POST", "/customers/"+c+"/wallets/ledger-entries",
		map[string]any{"amount": 100, "currency": "USD", "entry_type": "credit"}, idem("k1")))

	// A 4xx answer is kept too: the same request gets the same answer.
	bad := map[string]any{"amount": 10_000, "currency": "USD", "entry_type": "debit"}
	r1 := e.doKey(opKey, "POST", "/customers/"+c+"/wallets/ledger-entries", bad, idem("k2"))
	require.Equal(t, http.StatusBadRequest, r1.Status)
	r2 := e.doKey(opKey, "POST", "/customers/"+c+"/wallets/ledger-entries", bad, idem("k2"))
	assert.Equal(t, http.StatusBadRequest, r2.Status)
	assert.Equal(t, "true", r2.Header.Get("Idempotent-Replayed"))

	// A malformed key is refused before anything runs.
	r = e.doKey(opKey, "POST", "/customers", body, idem(strings.Repeat("k", 256)))
	assert.Equal(t, http.StatusUnprocessableEntity, r.Status)
}

func TestIdempotencyKeyInUseIsRetryable(t *testing.T) {
	e := newTestEnv(t)
	body := []byte(`{"name":"Ada","email":"ada@example.com"}`)
	req := coffer.IdempotentRequest{Scope: "key_operator", Key: "slow",
		RequestHash: coffer.HashRequest("POST", "/customers", body)}
	st, err := e.eng.BeginIdempotent(e.ctx, req) // a first request, still running
	require.NoError(t, err)
	require.Nil(t, st)
	r := e.doKey(opKey, "POST", "/customers", body, idem("slow"))
	assert.Equal(t, http.StatusConflict, r.Status)
	assert.Equal(t, "IDEMPOTENCY_KEY_IN_USE", r.Code(t))
	assert.Equal(t, "true", r.Header.Get("X-Should-Retry"))
	assert.Equal(t, "1", r.Header.Get("Retry-After"))
	var p Page[Customer]
	mustOK(t, e.do("GET", "/customers", nil)).Decode(t, &p)
	assert.Empty(t, p.Items)
}

// The SDK resends the same charge; with an Idempotency-Key it is made once,
// however the resends interleave.
func TestIdempotentChargeRacesChargeOnce(t *testing.T) {
	e := newTestEnv(t)
	c := e.newCustomer("Ada", "ada@example.com")
	sub := e.newSub(c, e.newProduct(0), processor.CardOK)
	before := e.proc.ChargeCount()
	const n = 8
	var wg sync.WaitGroup
	ids := make([]string, n)
	statuses := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.doKey(opKey, "POST", "/subscriptions/"+sub+"/charge", map[string]any{"product_price": 1234}, idem("usage-nov"))
			statuses[i] = r.Status
			if r.Status == http.StatusOK {
				ids[i] = r.JSON(t)["payment_id"].(string)
			}
		}()
	}
	wg.Wait()
	var paid string
	for i := range n {
		switch statuses[i] {
		case http.StatusOK:
			if paid == "" {
				paid = ids[i]
			}
			assert.Equal(t, paid, ids[i], "every answer names the one payment")
		case http.StatusConflict: // in use: the SDK resends
		default:
			t.Fatalf("status %d", statuses[i])
		}
	}
	require.NotEmpty(t, paid)
	assert.Equal(t, before+1, e.proc.ChargeCount(), "one processor charge")
	// After the race, a resend replays.
	r := mustOK(t, e.doKey(opKey, "POST", "/subscriptions/"+sub+"/charge", map[string]any{"product_price": 1234}, idem("usage-nov")))
	assert.Equal(t, paid, r.JSON(t)["payment_id"])
	assert.Equal(t, "true", r.Header.Get("Idempotent-Replayed"))
}
