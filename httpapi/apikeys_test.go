package httpapi

import (
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer"
)

// The Engine's own keys, end to end: no test authenticator.
func TestAPIKeysThroughTheEngine(t *testing.T) {
	e := newTestEnv(t)
	h, err := New(e.eng)
	require.NoError(t, err)
	srv := httptest.NewServer(validateResponses(validatorFor(t, h), t.Errorf, h))
	t.Cleanup(srv.Close)
	e.srv = srv // requests below go to the engine-authenticated handler

	op, err := e.eng.CreateAPIKey(e.ctx, coffer.APIKeyParams{Name: "operator"})
	require.NoError(t, err)
	opSecret := op.Secret
	c := e.newCustomerKey(opSecret, "Ada", "ada@example.com")

	// Create a restricted key over the API; its secret is shown once.
	r := mustOK(t, e.doKey(opSecret, "POST", "/api-keys", map[string]any{"name": "ada's app", "customer_id": c}, idem("k1")))
	var made CreatedAPIKey
	r.Decode(t, &made)
	require.NotEmpty(t, made.Secret)
	require.Equal(t, c, *made.CustomerID)
	// A retry under the same Idempotency-Key is not a replay of the secret.
	r2 := mustOK(t, e.doKey(opSecret, "POST", "/api-keys", map[string]any{"name": "ada's app", "customer_id": c}, idem("k1")))
	assert.Empty(t, r2.Header.Get("Idempotent-Replayed"))

	me := mustOK(t, e.doKey(made.Secret, "GET", "/customers/me", nil, nil)).JSON(t)
	assert.Equal(t, c, me["customer_id"])
	assert.Equal(t, http.StatusForbidden, e.doKey(made.Secret, "GET", "/api-keys", nil, nil).Status)

	var list Page[APIKey]
	mustOK(t, e.doKey(opSecret, "GET", "/api-keys", nil, nil)).Decode(t, &list)
	require.Len(t, list.Items, 3)
	assert.NotContains(t, string(mustOK(t, e.doKey(opSecret, "GET", "/api-keys", nil, nil)).Body), made.Secret)

	mustOK(t, e.doKey(opSecret, "POST", "/api-keys/"+made.ID+"/revoke", nil, nil))
	r = e.doKey(made.Secret, "GET", "/customers/me", nil, nil)
	assert.Equal(t, http.StatusUnauthorized, r.Status)
	assert.Equal(t, "INVALID_API_KEY", r.Code(t))
	assert.Equal(t, http.StatusNotFound, e.doKey(opSecret, "GET", "/api-keys/key_missing", nil, nil).Status)
	r = e.doKey(opSecret, "POST", "/api-keys", map[string]any{"customer_id": "cus_missing"}, nil)
	assert.Equal(t, http.StatusNotFound, r.Status, "a key for a customer that does not exist")
}

func (e *testEnv) newCustomerKey(key, name, email string) string {
	e.t.Helper()
	r := mustOK(e.t, e.doKey(key, "POST", "/customers", map[string]any{"name": name, "email": email}, nil))
	return r.JSON(e.t)["customer_id"].(string)
}

// TestAPIKeyCache: a verified key is remembered for keyCacheTTL; a key
// revoked through the Handler is refused at once, one revoked behind its
// back (the Engine directly) once keyCacheTTL has passed; a wrong secret is
// never remembered.
func TestAPIKeyCache(t *testing.T) {
	e := newTestEnv(t)
	h, err := New(e.eng)
	require.NoError(t, err)
	now := t0
	h.now = func() time.Time { return now }
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e.srv = srv

	op, err := e.eng.CreateAPIKey(e.ctx, coffer.APIKeyParams{Name: "operator"})
	require.NoError(t, err)
	other, err := e.eng.CreateAPIKey(e.ctx, coffer.APIKeyParams{Name: "other"})
	require.NoError(t, err)
	mustOK(t, e.doKey(op.Secret, "GET", "/customers", nil, nil))
	mustOK(t, e.doKey(other.Secret, "GET", "/customers", nil, nil))
	require.Len(t, h.keys.m, 2)

	// Revoked behind the Handler's back: served from the cache until the
	// TTL, then refused.
	_, err = e.eng.RevokeAPIKey(e.ctx, other.Key.ID)
	require.NoError(t, err)
	mustOK(t, e.doKey(other.Secret, "GET", "/customers", nil, nil))
	now = now.Add(keyCacheTTL)
	assert.Equal(t, http.StatusUnauthorized, e.doKey(other.Secret, "GET", "/customers", nil, nil).Status)

	// Revoked through the Handler: refused on the next request.
	third, err := e.eng.CreateAPIKey(e.ctx, coffer.APIKeyParams{Name: "third"})
	require.NoError(t, err)
	mustOK(t, e.doKey(third.Secret, "GET", "/customers", nil, nil))
	mustOK(t, e.doKey(op.Secret, "POST", "/api-keys/"+third.Key.ID+"/revoke", nil, nil))
	assert.Equal(t, http.StatusUnauthorized, e.doKey(third.Secret, "GET", "/customers", nil, nil).Status)

	// Wrong secrets are not kept.
	n := len(h.keys.m)
	for range 3 {
		assert.Equal(t, http.StatusUnauthorized, e.doKey("sk_test_wrong", "GET", "/customers", nil, nil).Status)
	}
	assert.Len(t, h.keys.m, n)
}

// TestKeyCacheForgetWinsOverAnOlderPut: an Authenticate that began before
// a revocation cannot put the revoked key back; the cache stays bounded.
func TestKeyCacheForgetWinsOverAnOlderPut(t *testing.T) {
	var kc keyCache
	sum := sha256.Sum256([]byte("sk_test_a"))
	p := Principal{KeyID: "key_a"}
	gen := kc.generation()
	kc.forget("key_a") // the revocation lands while Authenticate runs
	kc.put(sum, p, t0.Add(time.Hour), gen)
	_, ok := kc.get(sum, t0)
	assert.False(t, ok)
	kc.put(sum, p, t0.Add(time.Hour), kc.generation())
	got, ok := kc.get(sum, t0)
	assert.True(t, ok)
	assert.Equal(t, p, got)
	_, ok = kc.get(sum, t0.Add(time.Hour))
	assert.False(t, ok, "expired")
	for i := range 2 * keyCacheSize {
		kc.put(sha256.Sum256([]byte(strconv.Itoa(i))), Principal{KeyID: "k"}, t0.Add(time.Hour), kc.generation())
	}
	assert.Len(t, kc.m, keyCacheSize)
}
