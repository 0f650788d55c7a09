package httpapi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/webhook"
)

// newWebhook creates an endpoint over the API and returns it.
func (e *testEnv) newWebhook(body map[string]any) WebhookDetails {
	e.t.Helper()
	var w WebhookDetails
	mustOK(e.t, e.do("POST", "/webhooks", body)).Decode(e.t, &w)
	return w
}

// webhookCount counts the endpoints through the Engine.
func (e *testEnv) webhookCount() int {
	e.t.Helper()
	l, err := e.eng.ListEndpoints(e.ctx, coffer.EndpointListParams{ListParams: coffer.ListParams{Limit: 100}})
	require.NoError(e.t, err)
	return len(l.Data)
}

func TestWebhookCreateRetrieveUpdateDelete(t *testing.T) {
	e := newTestEnv(t)
	r := mustOK(t, e.do("POST", "/webhooks", map[string]any{"url": "https://example.com/hooks",
		"description": "orders", "filter_types": []string{"payment.succeeded", "payment.failed"}, "metadata": map[string]any{},
		"headers": map[string]any{}, "rate_limit": nil}))
	var w WebhookDetails
	r.Decode(t, &w)
	assert.True(t, strings.HasPrefix(w.ID, "ep_"), w.ID)
	assert.Equal(t, "https://example.com/hooks", w.URL)
	assert.Equal(t, "orders", w.Description)
	assert.Equal(t, []string{"payment.succeeded", "payment.failed"}, w.FilterTypes)
	assert.False(t, w.Disabled)
	assert.Equal(t, t0, w.CreatedAt)
	assert.True(t, strings.HasPrefix(w.SecretHint, "whsec_"), w.SecretHint)
	m := r.JSON(t)
	assert.Equal(t, map[string]any{}, m["metadata"], "Dodo's metadata is always an object")
	assert.NotContains(t, m, "secret")

	got := mustOK(t, e.do("GET", "/webhooks/"+w.ID, nil)).JSON(t)
	assert.Equal(t, "orders", got["description"])

	// The secret verifies a signature made by the Engine's signer.
	var s WebhookSecret
	mustOK(t, e.do("GET", "/webhooks/"+w.ID+"/secret", nil)).Decode(t, &s)
	assert.True(t, strings.HasPrefix(s.Secret, "whsec_"))
	_, err := webhook.ParseSecret(s.Secret)
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(s.Secret, strings.TrimPrefix(w.SecretHint, "whsec_****")))

	// PATCH: absent fields keep their value; disabled disables.
	e.clock.Advance(60e9)
	var u WebhookDetails
	mustOK(t, e.do("PATCH", "/webhooks/"+w.ID, map[string]any{"disabled": true, "description": "orders v2"})).Decode(t, &u)
	assert.True(t, u.Disabled)
	assert.Equal(t, "orders v2", u.Description)
	assert.Equal(t, w.URL, u.URL)
	assert.Equal(t, w.FilterTypes, u.FilterTypes)
	assert.True(t, u.UpdatedAt.After(w.UpdatedAt))
	ep, err := e.eng.Endpoint(e.ctx, w.ID)
	require.NoError(t, err)
	assert.True(t, ep.Disabled)
	// filter_types [] selects every event (null in the answer); re-enable.
	r = mustOK(t, e.do("PATCH", "/webhooks/"+w.ID, `{"filter_types":[],"disabled":false,"url":"https://example.org/h"}`))
	r.Decode(t, &u)
	assert.Nil(t, u.FilterTypes)
	assert.Nil(t, r.JSON(t)["filter_types"])
	assert.False(t, u.Disabled)
	assert.Equal(t, "https://example.org/h", u.URL)
	// null keeps.
	mustOK(t, e.do("PATCH", "/webhooks/"+w.ID, `{"filter_types":null,"description":null}`)).Decode(t, &u)
	assert.Equal(t, "orders v2", u.Description)

	// Headers: coffer has none.
	var hd WebhookHeaders
	r = mustOK(t, e.do("GET", "/webhooks/"+w.ID+"/headers", nil))
	r.Decode(t, &hd)
	assert.Equal(t, map[string]any{"headers": map[string]any{}, "sensitive": []any{}}, r.JSON(t))
	r = mustOK(t, e.do("PATCH", "/webhooks/"+w.ID+"/headers", `{"headers":{}}`))
	assert.Empty(t, r.Body)

	// DELETE: 200, empty; then 404.
	r = mustOK(t, e.do("DELETE", "/webhooks/"+w.ID, nil))
	assert.Empty(t, r.Body)
	for _, p := range []string{"", "/secret", "/headers"} {
		r = e.do("GET", "/webhooks/"+w.ID+p, nil)
		assert.Equal(t, http.StatusNotFound, r.Status, p)
		assert.Equal(t, "ENDPOINT_NOT_FOUND", r.Code(t), p)
	}
	r = e.do("DELETE", "/webhooks/"+w.ID, nil)
	assert.Equal(t, http.StatusNotFound, r.Status)
}

func TestWebhookCreateDisabledAndIdempotent(t *testing.T) {
	e := newTestEnv(t)
	w := e.newWebhook(map[string]any{"url": "https://example.com/a", "disabled": true, "idempotency_key": "boot-1"})
	assert.True(t, w.Disabled)
	assert.Equal(t, "boot-1", w.IdempotencyKey)
	// The same request again returns the same endpoint, still disabled.
	again := e.newWebhook(map[string]any{"url": "https://example.com/a", "disabled": true, "idempotency_key": "boot-1"})
	assert.Equal(t, w.ID, again.ID)
	assert.True(t, again.Disabled)
	// Enabled later: a replay of the create does not disable it again.
	e.clock.Advance(1e9)
	mustOK(t, e.do("PATCH", "/webhooks/"+w.ID, map[string]any{"disabled": false}))
	again = e.newWebhook(map[string]any{"url": "https://example.com/a", "disabled": true, "idempotency_key": "boot-1"})
	assert.False(t, again.Disabled)
	// The same key for another URL: 409, not to be retried.
	r := e.do("POST", "/webhooks", map[string]any{"url": "https://example.com/b", "idempotency_key": "boot-1"})
	assert.Equal(t, http.StatusConflict, r.Status)
	assert.Equal(t, "IDEMPOTENCY_CONFLICT", r.Code(t))
	assert.Equal(t, "false", r.Header.Get("X-Should-Retry"))
	assert.Equal(t, 1, e.webhookCount())

	// coffer extension: keep an existing secret.
	sec, err := webhook.NewSecret()
	require.NoError(t, err)
	k := e.newWebhook(map[string]any{"url": "https://example.com/k", "secret": sec})
	var s WebhookSecret
	mustOK(t, e.do("GET", "/webhooks/"+k.ID+"/secret", nil)).Decode(t, &s)
	assert.Equal(t, sec, s.Secret)
}

func TestWebhookRefusesBadInput(t *testing.T) {
	e := newTestEnv(t)
	w := e.newWebhook(map[string]any{"url": "https://example.com/keep", "description": "keep"})
	cases := []struct {
		name, method, path, body string
		status                   int
		code, param              string
	}{
		{"malformed", "POST", "/webhooks", `{"url":`, 400, "MALFORMED_JSON", ""},
		{"not an object", "POST", "/webhooks", `"x"`, 400, "MALFORMED_JSON", ""},
		{"url wrong type", "POST", "/webhooks", `{"url":5}`, 422, "INVALID_TYPE", "url"},
		{"missing url", "POST", "/webhooks", `{}`, 422, "INVALID_PARAMETER", "url"},
		{"relative url", "POST", "/webhooks", `{"url":"/hooks"}`, 422, "INVALID_PARAMETER", "url"},
		{"ftp url", "POST", "/webhooks", `{"url":"ftp://example.com/x"}`, 422, "INVALID_PARAMETER", "url"},
		{"credentials in url", "POST", "/webhooks", `{"url":"https://u:p@example.com/x"}`, 422, "INVALID_ENDPOINT", ""},
		{"unknown filter type", "POST", "/webhooks", `{"url":"https://example.com/x","filter_types":["dispute.opened"]}`, 422, "INVALID_EVENT_TYPE", ""},
		{"bad filter syntax", "POST", "/webhooks", `{"url":"https://example.com/x","filter_types":["payment*"]}`, 422, "INVALID_EVENT_TYPE", ""},
		{"filter types wrong type", "POST", "/webhooks", `{"url":"https://example.com/x","filter_types":"payment.failed"}`, 422, "INVALID_TYPE", "filter_types"},
		{"disabled wrong type", "POST", "/webhooks", `{"url":"https://example.com/x","disabled":"yes"}`, 422, "INVALID_TYPE", "disabled"},
		{"metadata", "POST", "/webhooks", `{"url":"https://example.com/x","metadata":{"env":"prod"}}`, 422, "UNSUPPORTED_PARAMETER", "metadata"},
		{"headers", "POST", "/webhooks", `{"url":"https://example.com/x","headers":{"X-A":"1"}}`, 422, "UNSUPPORTED_PARAMETER", "headers"},
		{"headers wrong type", "POST", "/webhooks", `{"url":"https://example.com/x","headers":{"X-A":1}}`, 422, "INVALID_TYPE", "headers"},
		{"rate limit", "POST", "/webhooks", `{"url":"https://example.com/x","rate_limit":10}`, 422, "UNSUPPORTED_PARAMETER", "rate_limit"},
		{"rate limit fraction", "POST", "/webhooks", `{"url":"https://example.com/x","rate_limit":1.5}`, 422, "INVALID_TYPE", "rate_limit"},
		{"bad secret", "POST", "/webhooks", `{"url":"https://example.com/x","secret":"whsec_short"}`, 422, "INVALID_ENDPOINT", ""},
		{"reserved key", "POST", "/webhooks", `{"url":"https://example.com/x","idempotency_key":"` + strings.Repeat("k", 300) + `"}`, 422, "", ""},
		{"patch malformed", "PATCH", "/webhooks/" + w.ID, `{"url"`, 400, "MALFORMED_JSON", ""},
		{"patch bad url", "PATCH", "/webhooks/" + w.ID, `{"url":"nope"}`, 422, "INVALID_PARAMETER", "url"},
		{"patch unknown type", "PATCH", "/webhooks/" + w.ID, `{"filter_types":["payments.succeded"]}`, 422, "INVALID_EVENT_TYPE", ""},
		{"patch disabled type", "PATCH", "/webhooks/" + w.ID, `{"disabled":1}`, 422, "INVALID_TYPE", "disabled"},
		{"patch metadata", "PATCH", "/webhooks/" + w.ID, `{"metadata":{"a":"b"},"description":"changed"}`, 422, "UNSUPPORTED_PARAMETER", "metadata"},
		{"patch rate limit", "PATCH", "/webhooks/" + w.ID, `{"rate_limit":5,"description":"changed"}`, 422, "UNSUPPORTED_PARAMETER", "rate_limit"},
		{"patch missing", "PATCH", "/webhooks/ep_missing", `{"description":"x"}`, 404, "ENDPOINT_NOT_FOUND", ""},
		{"headers set", "PATCH", "/webhooks/" + w.ID + "/headers", `{"headers":{"X-A":"1"}}`, 422, "UNSUPPORTED_PARAMETER", "headers"},
		{"headers missing", "PATCH", "/webhooks/" + w.ID + "/headers", `{}`, 422, "INVALID_PARAMETER", "headers"},
		{"headers malformed", "PATCH", "/webhooks/" + w.ID + "/headers", `{`, 400, "MALFORMED_JSON", ""},
		{"headers unknown endpoint", "PATCH", "/webhooks/ep_missing/headers", `{"headers":{}}`, 404, "ENDPOINT_NOT_FOUND", ""},
		{"bad id", "GET", "/webhooks/" + strings.Repeat("x", 300), ``, 422, "INVALID_PARAMETER", "webhook_id"},
		{"rotate negative", "POST", "/webhooks/" + w.ID + "/rotate-secret", `{"grace_seconds":-1}`, 422, "INVALID_PARAMETER", "grace_seconds"},
		{"rotate huge", "POST", "/webhooks/" + w.ID + "/rotate-secret", `{"grace_seconds":99999999999}`, 422, "INVALID_PARAMETER", "grace_seconds"},
		{"rotate wrong type", "POST", "/webhooks/" + w.ID + "/rotate-secret", `{"grace_seconds":"1h"}`, 422, "INVALID_TYPE", "grace_seconds"},
		{"rotate missing", "POST", "/webhooks/ep_missing/rotate-secret", `{}`, 404, "ENDPOINT_NOT_FOUND", ""},
		{"list bad limit", "GET", "/webhooks?limit=0", ``, 422, "INVALID_PARAMETER", "limit"},
		{"list limit too big", "GET", "/webhooks?limit=101", ``, 422, "INVALID_PARAMETER", "limit"},
		{"list bad iterator", "GET", "/webhooks?iterator=ep_nope", ``, 422, "INVALID_CURSOR", ""},
		{"list empty iterator", "GET", "/webhooks?iterator=", ``, 422, "INVALID_PARAMETER", "iterator"},
		{"list repeated", "GET", "/webhooks?limit=1&limit=2", ``, 422, "INVALID_PARAMETER", "limit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			r := e.do(tc.method, tc.path, body)
			require.Equal(t, tc.status, r.Status, "body %s", r.Body)
			var eb ErrorBody
			r.Decode(t, &eb)
			if tc.code != "" {
				assert.Equal(t, tc.code, eb.Code)
			}
			if tc.param != "" {
				assert.Equal(t, tc.param, eb.Param)
			}
			assert.NotEmpty(t, eb.Message)
			assert.Equal(t, "false", r.Header.Get("X-Should-Retry"))
		})
	}
	// Nothing changed: one endpoint, as it was, with its secret.
	require.Equal(t, 1, e.webhookCount())
	var got WebhookDetails
	mustOK(t, e.do("GET", "/webhooks/"+w.ID, nil)).Decode(t, &got)
	assert.Equal(t, w, got)
}

// TestWebhookIterationContract walks /webhooks the way the Dodo SDK's
// CursorPagePagination does: follow iterator until data or iterator is
// empty.
func TestWebhookIterationContract(t *testing.T) {
	e := newTestEnv(t)
	// No endpoints: one empty page, done.
	var p WebhookPage
	r := mustOK(t, e.do("GET", "/webhooks", nil))
	r.Decode(t, &p)
	assert.Empty(t, p.Data)
	assert.NotNil(t, p.Data)
	assert.Equal(t, "", p.Iterator)
	assert.True(t, p.Done)
	assert.Equal(t, map[string]any{"data": []any{}, "iterator": "", "done": true}, r.JSON(t))

	var ids []string
	for i := range 5 {
		e.clock.Advance(1e9)
		ids = append(ids, e.newWebhook(map[string]any{"url": fmt.Sprintf("https://example.com/%d", i)}).ID)
	}
	seen := map[string]int{}
	var order []string
	query := "/webhooks?limit=2"
	requests := 0
	for {
		requests++
		require.Less(t, requests, 10)
		var page WebhookPage
		mustOK(t, e.do("GET", query, nil)).Decode(t, &page)
		for _, w := range page.Data {
			seen[w.ID]++
			order = append(order, w.ID)
		}
		if len(page.Data) == 0 || page.Iterator == "" {
			assert.True(t, page.Done)
			break
		}
		assert.False(t, page.Done)
		query = "/webhooks?limit=2&iterator=" + page.Iterator
	}
	assert.Equal(t, 3, requests) // 2 + 2 + 1
	require.Len(t, seen, 5)
	for _, id := range ids {
		assert.Equal(t, 1, seen[id], id)
	}
	// Newest first.
	assert.Equal(t, []string{ids[4], ids[3], ids[2], ids[1], ids[0]}, order)

	// An exact multiple of the page size ends with done on the last full
	// page (no extra request).
	e.newWebhook(map[string]any{"url": "https://example.com/6"})
	requests = 0
	query = "/webhooks?limit=3"
	for {
		requests++
		var page WebhookPage
		mustOK(t, e.do("GET", query, nil)).Decode(t, &page)
		if len(page.Data) == 0 || page.Iterator == "" {
			break
		}
		query = "/webhooks?limit=3&iterator=" + page.Iterator
	}
	assert.Equal(t, 2, requests)
	// Default limit is 10.
	mustOK(t, e.do("GET", "/webhooks", nil)).Decode(t, &p)
	assert.Len(t, p.Data, 6)
	assert.True(t, p.Done)
}

func TestWebhookRoutesAreOperatorOnly(t *testing.T) {
	e := newTestEnv(t)
	c := e.newCustomer("Ada", "ada@example.com")
	w := e.newWebhook(map[string]any{"url": "https://example.com/a"})
	kc := "sk_test_for_" + c
	routes := []struct{ method, path, body string }{
		{"GET", "/webhooks", ""},
		{"POST", "/webhooks", `{"url":"https://example.com/evil"}`},
		{"GET", "/webhooks/" + w.ID, ""},
		{"PATCH", "/webhooks/" + w.ID, `{"url":"https://example.com/evil"}`},
		{"DELETE", "/webhooks/" + w.ID, ""},
		{"GET", "/webhooks/" + w.ID + "/secret", ""},
		{"GET", "/webhooks/" + w.ID + "/headers", ""},
		{"PATCH", "/webhooks/" + w.ID + "/headers", `{"headers":{}}`},
		{"POST", "/webhooks/" + w.ID + "/rotate-secret", `{}`},
		{"GET", "/webhooks/" + w.ID + "/deliveries", ""},
		{"GET", "/webhook-deliveries/whd_x", ""},
		{"POST", "/webhook-deliveries/whd_x/redeliver", ""},
	}
	before, err := e.eng.EndpointSecret(e.ctx, w.ID)
	require.NoError(t, err)
	for _, rt := range routes {
		var body any
		if rt.body != "" {
			body = rt.body
		}
		r := e.doKey(kc, rt.method, rt.path, body, nil)
		assert.Equal(t, http.StatusForbidden, r.Status, rt.method+" "+rt.path)
		assert.Equal(t, "FORBIDDEN", r.Code(t))
		for _, key := range []string{"", "sk_test_wrong"} {
			r = e.doKey(key, rt.method, rt.path, body, nil)
			assert.Equal(t, http.StatusUnauthorized, r.Status, rt.method+" "+rt.path)
			assert.Equal(t, "INVALID_API_KEY", r.Code(t))
		}
	}
	// Nothing changed.
	assert.Equal(t, 1, e.webhookCount())
	ep, err := e.eng.Endpoint(e.ctx, w.ID)
	require.NoError(t, err)
	assert.Equal(t, "https://example.com/a", ep.URL)
	after, err := e.eng.EndpointSecret(e.ctx, w.ID)
	require.NoError(t, err)
	assert.Equal(t, before, after)
}

func TestWebhookRotateDeliveriesRedeliver(t *testing.T) {
	e := newTestEnv(t)
	var hits atomic.Int32
	var status atomic.Int32
	status.Store(http.StatusNoContent)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(int(status.Load()))
	}))
	t.Cleanup(recv.Close)
	w := e.newWebhook(map[string]any{"url": recv.URL + "/hook", "filter_types": []string{"customer.created"}})

	// Rotation with a grace period: a new secret, the old one still signs.
	var old WebhookSecret
	mustOK(t, e.do("GET", "/webhooks/"+w.ID+"/secret", nil)).Decode(t, &old)
	var rot RotatedSecret
	mustOK(t, e.do("POST", "/webhooks/"+w.ID+"/rotate-secret", map[string]any{"grace_seconds": 3600})).Decode(t, &rot)
	assert.NotEqual(t, old.Secret, rot.Secret)
	assert.Equal(t, w.ID, rot.Webhook.ID)
	require.NotNil(t, rot.Webhook.PreviousSecretExpiresAt)
	assert.Equal(t, t0.Add(3600e9), *rot.Webhook.PreviousSecretExpiresAt)
	var now WebhookSecret
	mustOK(t, e.do("GET", "/webhooks/"+w.ID+"/secret", nil)).Decode(t, &now)
	assert.Equal(t, rot.Secret, now.Secret)
	// Empty body: no grace.
	var rot2 RotatedSecret
	mustOK(t, e.do("POST", "/webhooks/"+w.ID+"/rotate-secret", nil)).Decode(t, &rot2)
	assert.Nil(t, rot2.Webhook.PreviousSecretExpiresAt)
	assert.NotEqual(t, rot.Secret, rot2.Secret)

	// One event, delivered.
	c := e.newCustomer("Ada", "ada@example.com")
	d, err := e.eng.NewDispatcher(coffer.WebhookOptions{AllowPrivateNetworks: true})
	require.NoError(t, err)
	_, err = d.DispatchDue(e.ctx)
	require.NoError(t, err)
	require.Equal(t, int32(1), hits.Load())

	var p Page[WebhookDelivery]
	mustOK(t, e.do("GET", "/webhooks/"+w.ID+"/deliveries", nil)).Decode(t, &p)
	require.Len(t, p.Items, 1)
	dl := p.Items[0]
	assert.Equal(t, "succeeded", dl.Status)
	assert.Equal(t, w.ID, dl.WebhookID)
	assert.Equal(t, 1, dl.Attempts)
	assert.Equal(t, http.StatusNoContent, dl.LastStatus)
	assert.Nil(t, dl.NextAttemptAt)
	require.NotNil(t, dl.DeliveredAt)
	// The event behind it.
	var ev Event
	mustOK(t, e.do("GET", "/events/"+dl.EventID, nil)).Decode(t, &ev)
	assert.Equal(t, "customer.created", ev.Type)
	require.NotNil(t, ev.CustomerID)
	assert.Equal(t, c, *ev.CustomerID)

	// Filters.
	mustOK(t, e.do("GET", "/webhooks/"+w.ID+"/deliveries?status=failed", nil)).Decode(t, &p)
	assert.Empty(t, p.Items)
	mustOK(t, e.do("GET", "/webhooks/"+w.ID+"/deliveries?status=succeeded&event_id="+dl.EventID, nil)).Decode(t, &p)
	assert.Len(t, p.Items, 1)
	var one WebhookDelivery
	mustOK(t, e.do("GET", "/webhook-deliveries/"+dl.ID, nil)).Decode(t, &one)
	assert.Equal(t, dl, one)

	// Redeliver: pending again, then delivered a second time.
	var re WebhookDelivery
	mustOK(t, e.do("POST", "/webhook-deliveries/"+dl.ID+"/redeliver", nil)).Decode(t, &re)
	assert.Equal(t, "pending", re.Status)
	assert.Equal(t, 0, re.Attempts)
	require.NotNil(t, re.NextAttemptAt)
	// Still active: a second redeliver is refused and changes nothing.
	r := e.do("POST", "/webhook-deliveries/"+dl.ID+"/redeliver", nil)
	assert.Equal(t, http.StatusUnprocessableEntity, r.Status)
	assert.Equal(t, "DELIVERY_ACTIVE", r.Code(t))
	_, err = d.DispatchDue(e.ctx)
	require.NoError(t, err)
	assert.Equal(t, int32(2), hits.Load())

	// A disabled endpoint cannot be redelivered to.
	mustOK(t, e.do("PATCH", "/webhooks/"+w.ID, map[string]any{"disabled": true}))
	r = e.do("POST", "/webhook-deliveries/"+dl.ID+"/redeliver", nil)
	assert.Equal(t, http.StatusUnprocessableEntity, r.Status)
	assert.Equal(t, "ENDPOINT_DISABLED", r.Code(t))
	got, err := e.eng.Delivery(e.ctx, dl.ID)
	require.NoError(t, err)
	assert.Equal(t, webhook.DeliverySucceeded, got.Status)

	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/webhook-deliveries/whd_missing", 404, "DELIVERY_NOT_FOUND"},
		{"POST", "/webhook-deliveries/whd_missing/redeliver", 404, "DELIVERY_NOT_FOUND"},
		{"GET", "/webhooks/ep_missing/deliveries", 404, "ENDPOINT_NOT_FOUND"},
		{"GET", "/webhooks/" + w.ID + "/deliveries?status=lost", 422, "INVALID_PARAMETER"},
		{"GET", "/webhooks/" + w.ID + "/deliveries?page_size=0", 422, "INVALID_PARAMETER"},
		{"GET", "/webhooks/" + w.ID + "/deliveries?starting_after=whd_nope", 422, "INVALID_CURSOR"},
		{"GET", "/webhook-deliveries/" + strings.Repeat("d", 300), 422, "INVALID_PARAMETER"},
	} {
		r := e.do(tc.method, tc.path, nil)
		assert.Equal(t, tc.status, r.Status, tc.path)
		assert.Equal(t, tc.code, r.Code(t), tc.path)
	}
}
