package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEvents(t *testing.T) {
	e := newTestEnv(t)
	var custs []string
	for i := range 3 {
		e.clock.Advance(time.Minute)
		custs = append(custs, e.newCustomer(fmt.Sprintf("C%d", i), fmt.Sprintf("c%d@example.com", i)))
	}
	e.clock.Advance(time.Minute)
	mustOK(t, e.do("PATCH", "/customers/"+custs[0], map[string]any{"name": "C0 renamed"}))

	var all Page[Event]
	mustOK(t, e.do("GET", "/events?page_size=100", nil)).Decode(t, &all)
	require.NotEmpty(t, all.Items)
	// Newest first: the update, then the creations (and whatever else the
	// Engine emits with them).
	assert.Equal(t, "customer.updated", all.Items[0].Type)
	for i := 1; i < len(all.Items); i++ {
		assert.False(t, all.Items[i].Timestamp.After(all.Items[i-1].Timestamp))
	}

	var created Page[Event]
	mustOK(t, e.do("GET", "/events?type=customer.created", nil)).Decode(t, &created)
	require.Len(t, created.Items, 3)
	ev := created.Items[0]
	assert.Equal(t, "customer.created", ev.Type)
	assert.Equal(t, DefaultBusinessID, ev.BusinessID)
	require.NotNil(t, ev.CustomerID)
	assert.Equal(t, custs[2], *ev.CustomerID)
	assert.Equal(t, t0.Add(3*time.Minute), ev.Timestamp)
	var data map[string]any
	require.NoError(t, json.Unmarshal(ev.Data, &data))
	assert.NotEmpty(t, data)

	var one Event
	mustOK(t, e.do("GET", "/events/"+ev.ID, nil)).Decode(t, &one)
	assert.Equal(t, ev.ID, one.ID)
	assert.JSONEq(t, string(ev.Data), string(one.Data))

	// Created range, inclusive at both ends.
	at := t0.Add(2 * time.Minute).Format(time.RFC3339)
	var r1 Page[Event]
	mustOK(t, e.do("GET", "/events?type=customer.created&created_at_gte="+at+"&created_at_lte="+at, nil)).Decode(t, &r1)
	require.Len(t, r1.Items, 1)
	assert.Equal(t, custs[1], *r1.Items[0].CustomerID)

	// Pages: page_number (walked in order) and cursors.
	var seen []string
	for n := 0; ; n++ {
		var p Page[Event]
		mustOK(t, e.do("GET", fmt.Sprintf("/events?type=customer.created&page_size=2&page_number=%d", n), nil)).Decode(t, &p)
		if len(p.Items) == 0 {
			break
		}
		for _, it := range p.Items {
			seen = append(seen, it.ID)
		}
		require.Less(t, n, 3)
	}
	assert.Equal(t, []string{created.Items[0].ID, created.Items[1].ID, created.Items[2].ID}, seen)
	var cur Page[Event]
	mustOK(t, e.do("GET", "/events?type=customer.created&page_size=1&starting_after="+created.Items[0].ID, nil)).Decode(t, &cur)
	require.Len(t, cur.Items, 1)
	assert.Equal(t, created.Items[1].ID, cur.Items[0].ID)
	assert.True(t, cur.HasMore)

	kc := "sk_test_for_" + custs[0]
	for _, tc := range []struct {
		key, path string
		status    int
		code      string
	}{
		{opKey, "/events?type=payment.exploded", 422, "INVALID_EVENT_TYPE"},
		{opKey, "/events?created_at_gte=yesterday", 422, "INVALID_PARAMETER"},
		{opKey, "/events?created_at_gte=2026-03-05&created_at_lte=2026-03-01", 422, "INVALID_PARAMETER"},
		{opKey, "/events?page_size=0", 422, "INVALID_PARAMETER"},
		{opKey, "/events?starting_after=evt_nope", 422, "INVALID_CURSOR"},
		{opKey, "/events/evt_missing", 404, "EVENT_NOT_FOUND"},
		{opKey, "/events/" + strings.Repeat("e", 300), 422, "INVALID_PARAMETER"},
		{kc, "/events", 403, "FORBIDDEN"},
		{kc, "/events/" + ev.ID, 403, "FORBIDDEN"},
		{"", "/events", 401, "INVALID_API_KEY"},
		{"", "/events/" + ev.ID, 401, "INVALID_API_KEY"},
	} {
		r := e.doKey(tc.key, "GET", tc.path, nil, nil)
		assert.Equal(t, tc.status, r.Status, tc.path)
		assert.Equal(t, tc.code, r.Code(t), tc.path)
	}
	// No POST route: a JSON 405 naming the methods that are served.
	r := e.do("POST", "/events", `{}`)
	assert.Equal(t, http.StatusMethodNotAllowed, r.Status)
	assert.Equal(t, "GET", r.Header.Get("Allow"))
}
