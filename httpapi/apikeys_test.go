package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"

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
