package coffer

import (
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/clock"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/webhook"
)

// whReceipt is one request a whReceiver got.
type whReceipt struct {
	ID        string
	Timestamp string
	Sigs      []string
	Body      []byte
	N         int   // 1-based count of receipts of this webhook-id so far
	VerifyErr error // against the receiver's secret, at the test clock
	// Ctx is the request's context: done when the sender gives up.
	Ctx context.Context
}

// whReceiver is a real HTTP endpoint that verifies and records every
// delivery. respond picks the status from the receipt (nil: 204).
type whReceiver struct {
	URL     string
	Secret  string
	clk     *clock.Test
	respond func(r whReceipt, w http.ResponseWriter) int

	mu       sync.Mutex
	receipts []whReceipt
	counts   map[string]int
}

func newWHReceiver(t *testing.T, clk *clock.Test, respond func(r whReceipt, w http.ResponseWriter) int) *whReceiver {
	t.Helper()
	secret, err := webhook.NewSecret()
	require.NoError(t, err)
	rc := &whReceiver{Secret: secret, clk: clk, respond: respond, counts: map[string]int{}}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	rc.URL = srv.URL + "/hooks"
	return rc
}

func (rc *whReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	v, err := webhook.NewVerifier(rc.Secret, webhook.WithClock(rc.clk.Now))
	if err != nil {
		panic(err)
	}
	rec := whReceipt{
		ID: r.Header.Get("webhook-id"), Timestamp: r.Header.Get("webhook-timestamp"),
		Sigs: strings.Fields(r.Header.Get("webhook-signature")), Body: body, VerifyErr: v.Verify(r.Header, body), Ctx: r.Context(),
	}
	rc.mu.Lock()
	rc.counts[rec.ID]++
	rec.N = rc.counts[rec.ID]
	rc.receipts = append(rc.receipts, rec)
	rc.mu.Unlock()
	status := http.StatusNoContent
	if rc.respond != nil {
		status = rc.respond(rec, w)
	}
	if status != 0 {
		w.WriteHeader(status)
	}
}

func (rc *whReceiver) got() []whReceipt {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]whReceipt(nil), rc.receipts...)
}

func (rc *whReceiver) count(id string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.counts[id]
}

// whEndpoint registers rc with the engine under rc's secret.
func (v *env) whEndpoint(rc *whReceiver, types ...string) webhook.Endpoint {
	v.t.Helper()
	ep, err := v.CreateEndpoint(v.ctx, EndpointParams{URL: rc.URL, Secret: rc.Secret, EventTypes: types})
	require.NoError(v.t, err)
	return ep
}

// whDispatcher makes a dispatcher for whReceivers, which listen on
// loopback: it allows private networks (refused by default, see
// TestDispatchRefusesPrivateDestinations).
func (v *env) whDispatcher(o WebhookOptions) *Dispatcher {
	v.t.Helper()
	o.AllowPrivateNetworks = true
	d, err := v.NewDispatcher(o)
	require.NoError(v.t, err)
	return d
}

// endpointSecret reveals an endpoint's secret through the Engine.
func (v *env) endpointSecret(id string) string {
	v.t.Helper()
	s, err := v.EndpointSecret(v.ctx, id)
	require.NoError(v.t, err)
	return s
}

// storedEndpoint reads an endpoint from the store, secrets included.
func (v *env) storedEndpoint(id string) webhook.Endpoint {
	v.t.Helper()
	var ep webhook.Endpoint
	require.NoError(v.t, v.store.View(v.ctx, func(tx store.Tx) (err error) {
		ep, err = tx.Endpoint(id)
		return err
	}))
	return ep
}

func (v *env) whDispatch(d *Dispatcher) DispatchReport {
	v.t.Helper()
	rep, err := d.DispatchDue(v.ctx)
	require.NoError(v.t, err)
	return rep
}

func (v *env) whCustomer(name string) customer.Customer {
	v.t.Helper()
	c, err := v.CreateCustomer(v.ctx, customer.Params{Name: new(name)})
	require.NoError(v.t, err)
	return c
}

func (v *env) whCredit(customerID string, amount int64) {
	v.t.Helper()
	_, err := v.CreateEntry(v.ctx, customerID, EntryParams{Amount: amount, Currency: "USD", Type: ledger.Credit, Reason: "top-up"})
	require.NoError(v.t, err)
}

// whDeliveries lists every delivery matching q, newest first.
func (v *env) whDeliveries(p DeliveryListParams) []webhook.Delivery {
	v.t.Helper()
	var out []webhook.Delivery
	p.Limit = 100
	for {
		page, err := v.ListDeliveries(v.ctx, p)
		require.NoError(v.t, err)
		out = append(out, page.Data...)
		if !page.HasMore {
			return out
		}
		p.StartingAfter = page.Data[len(page.Data)-1].ID
	}
}

// whOnly returns the single delivery of an endpoint.
func (v *env) whOnly(endpointID string) webhook.Delivery {
	v.t.Helper()
	list := v.whDeliveries(DeliveryListParams{EndpointID: endpointID})
	require.Len(v.t, list, 1)
	return list[0]
}

// closedURL is an http URL on which nothing listens: connections are refused.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return "http://" + addr + "/hooks"
}

func TestEndpointCRUD(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)

		a, err := v.CreateEndpoint(v.ctx, EndpointParams{URL: " https://example.com/hooks ", Description: "billing"})
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(a.ID, "ep_"))
		require.Equal(t, "https://example.com/hooks", a.URL)
		require.Empty(t, a.Secret, "endpoints come back redacted")
		aSecret, err := v.EndpointSecret(v.ctx, a.ID)
		require.NoError(t, err)
		key, err := webhook.ParseSecret(aSecret)
		require.NoError(t, err, "a generated secret is a valid whsec_ secret")
		require.Len(t, key, 32)
		require.Equal(t, webhook.MaskSecret(aSecret), a.SecretHint)
		require.Nil(t, a.EventTypes)
		require.False(t, a.Disabled)
		require.Equal(t, t0, a.CreatedAt)

		given := "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef01234567"))
		v.clock.Advance(time.Second)
		b, err := v.CreateEndpoint(v.ctx, EndpointParams{
			URL: "http://127.0.0.1:8080/in", Secret: given,
			EventTypes: []string{"payment.*", "customer.created", "payment.*"},
		})
		require.NoError(t, err)
		require.Equal(t, given, v.endpointSecret(b.ID))
		require.Equal(t, []string{"payment.*", "customer.created"}, b.EventTypes, "duplicates dropped")

		got, err := v.Endpoint(v.ctx, a.ID)
		require.NoError(t, err)
		require.Equal(t, a, got)
		list, err := pageData(v.ListEndpoints(v.ctx, EndpointListParams{}))
		require.NoError(t, err)
		require.Equal(t, []webhook.Endpoint{b, a}, list, "newest first")

		v.clock.Advance(time.Second)
		url, desc, none := "https://example.com/v2", "", []string{}
		up, err := v.UpdateEndpoint(v.ctx, b.ID, UpdateEndpointParams{URL: &url, Description: &desc, EventTypes: &none})
		require.NoError(t, err)
		require.Equal(t, url, up.URL)
		require.Nil(t, up.EventTypes, "an empty filter selects every event")
		require.Equal(t, given, v.endpointSecret(b.ID), "update never touches the secret")
		require.Equal(t, b.SecretHint, up.SecretHint)
		require.Equal(t, t0.Add(2*time.Second), up.UpdatedAt)
		require.Equal(t, b.CreatedAt, up.CreatedAt)

		// nil fields keep their values.
		same, err := v.UpdateEndpoint(v.ctx, b.ID, UpdateEndpointParams{})
		require.NoError(t, err)
		require.Equal(t, up, same)

		dis, err := v.DisableEndpoint(v.ctx, a.ID)
		require.NoError(t, err)
		require.True(t, dis.Disabled)
		en, err := v.EnableEndpoint(v.ctx, a.ID)
		require.NoError(t, err)
		require.False(t, en.Disabled)

		require.NoError(t, v.DeleteEndpoint(v.ctx, a.ID))
		_, err = v.Endpoint(v.ctx, a.ID)
		require.ErrorIs(t, err, ErrEndpointNotFound)
		require.Equal(t, http.StatusNotFound, HTTPStatus(err))
		list, err = pageData(v.ListEndpoints(v.ctx, EndpointListParams{}))
		require.NoError(t, err)
		require.Len(t, list, 1)

		for name, call := range map[string]func() error{
			"update":  func() error { _, err := v.UpdateEndpoint(v.ctx, a.ID, UpdateEndpointParams{URL: &url}); return err },
			"disable": func() error { _, err := v.DisableEndpoint(v.ctx, a.ID); return err },
			"delete":  func() error { return v.DeleteEndpoint(v.ctx, a.ID) },
			"rotate": func() error {
				_, err := v.RotateEndpointSecret(v.ctx, a.ID, RotateSecretParams{Grace: time.Hour})
				return err
			},
		} {
			err := call()
			require.ErrorIs(t, err, ErrEndpointNotFound, name)
			require.Equal(t, http.StatusNotFound, HTTPStatus(err), name)
		}
	})
}

func TestEndpointValidation(t *testing.T) {
	v := newEnv(t, storeKinds["memory"])
	ok := "https://example.com/hooks"
	cases := []struct {
		name  string
		p     EndpointParams
		cause error
	}{
		{name: "empty url", p: EndpointParams{}},
		{name: "relative url", p: EndpointParams{URL: "/hooks"}},
		{name: "no scheme", p: EndpointParams{URL: "example.com/hooks"}},
		{name: "ftp", p: EndpointParams{URL: "ftp://example.com/hooks"}},
		{name: "no host", p: EndpointParams{URL: "https:///hooks"}},
		{name: "port only", p: EndpointParams{URL: "http://:8080/hooks"}},
		{name: "fragment", p: EndpointParams{URL: ok + "#x"}},
		{name: "unparsable", p: EndpointParams{URL: "http://exa mple.com/%zz"}},
		{name: "too long", p: EndpointParams{URL: ok + "?" + strings.Repeat("a", maxEndpointURL)}},
		{name: "long description", p: EndpointParams{URL: ok, Description: strings.Repeat("d", maxEndpointDescription+1)}},
		{name: "bad description", p: EndpointParams{URL: ok, Description: "\xff"}},
		{name: "star without dot", p: EndpointParams{URL: ok, EventTypes: []string{"payment*"}}, cause: webhook.ErrInvalidEventType},
		{name: "space in type", p: EndpointParams{URL: ok, EventTypes: []string{"payment. failed"}}, cause: webhook.ErrInvalidEventType},
		{name: "empty type", p: EndpointParams{URL: ok, EventTypes: []string{""}}, cause: webhook.ErrInvalidEventType},
		{name: "too many types", p: EndpointParams{URL: ok, EventTypes: make([]string, maxEndpointEventTypes+1)}},
		{name: "short secret", p: EndpointParams{URL: ok, Secret: "whsec_c2hvcnQ="}, cause: webhook.ErrInvalidSecret},
		{name: "secret not base64", p: EndpointParams{URL: ok, Secret: "whsec_!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"}, cause: webhook.ErrInvalidSecret},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.CreateEndpoint(v.ctx, tc.p)
			require.ErrorIs(t, err, ErrInvalidEndpoint)
			require.ErrorIs(t, err, ErrInvalid)
			require.Equal(t, http.StatusUnprocessableEntity, HTTPStatus(err))
			if tc.cause != nil {
				require.ErrorIs(t, err, tc.cause)
			}
			if tc.p.Secret != "" {
				require.NotContains(t, err.Error(), tc.p.Secret, "the secret is not echoed")
			}
		})
	}
	list, err := pageData(v.ListEndpoints(v.ctx, EndpointListParams{}))
	require.NoError(t, err)
	require.Empty(t, list, "nothing stored for an invalid request")

	ep, err := v.CreateEndpoint(v.ctx, EndpointParams{URL: "HTTPS://Example.com/hooks", EventTypes: []string{"*"}})
	require.NoError(t, err, "scheme case does not matter")
	bad := "mailto:ops@example.com"
	_, err = v.UpdateEndpoint(v.ctx, ep.ID, UpdateEndpointParams{URL: &bad})
	require.ErrorIs(t, err, ErrInvalidEndpoint)
	badTypes := []string{"wallet.*.x"}
	_, err = v.UpdateEndpoint(v.ctx, ep.ID, UpdateEndpointParams{EventTypes: &badTypes})
	require.ErrorIs(t, err, webhook.ErrInvalidEventType)
	_, err = v.RotateEndpointSecret(v.ctx, ep.ID, RotateSecretParams{Grace: -time.Second})
	require.ErrorIs(t, err, ErrInvalidEndpoint)
	got, err := v.Endpoint(v.ctx, ep.ID)
	require.NoError(t, err)
	require.Equal(t, ep, got, "failed updates change nothing")
}

func TestWebhookSecretRotation(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		rc := newWHReceiver(t, v.clock, nil)
		ep := v.whEndpoint(rc)
		d := v.whDispatcher(WebhookOptions{})
		old := v.endpointSecret(ep.ID)

		// verify checks one receipt against one secret at the test clock.
		verify := func(r whReceipt, secret string) error {
			vf, err := webhook.NewVerifier(secret, webhook.WithClock(v.clock.Now))
			require.NoError(t, err)
			h := http.Header{}
			h.Set("webhook-id", r.ID)
			h.Set("webhook-timestamp", r.Timestamp)
			h.Set("webhook-signature", strings.Join(r.Sigs, " "))
			return vf.Verify(h, r.Body)
		}

		rotated, err := v.RotateEndpointSecret(v.ctx, ep.ID, RotateSecretParams{Grace: time.Hour})
		require.NoError(t, err)
		read, err := v.Endpoint(v.ctx, ep.ID)
		require.NoError(t, err)
		require.Equal(t, rotated, read)
		require.Equal(t, t0.Add(time.Hour), rotated.PreviousExpiresAt)
		rot := v.storedEndpoint(ep.ID)
		require.NotEqual(t, old, rot.Secret)
		require.Equal(t, rot.Secret, v.endpointSecret(ep.ID))
		require.Equal(t, old, rot.PreviousSecret)

		// During the grace period both secrets sign.
		v.clock.Advance(59 * time.Minute)
		v.whCustomer("during grace")
		require.Equal(t, 1, v.whDispatch(d).Succeeded)
		got := rc.got()
		require.Len(t, got, 1)
		require.Len(t, got[0].Sigs, 2)
		require.NoError(t, verify(got[0], old), "receivers still on the old secret verify")
		require.NoError(t, verify(got[0], rot.Secret), "receivers already on the new secret verify")
		for i, secret := range []string{rot.Secret, old} {
			sig, err := webhook.Sign(secret, got[0].ID, v.clock.Now(), got[0].Body)
			require.NoError(t, err)
			require.Equal(t, sig, got[0].Sigs[i], "one signature per secret, the new one first")
		}

		// After it only the new one does.
		v.clock.Advance(time.Minute)
		v.whCustomer("after grace")
		require.Equal(t, 1, v.whDispatch(d).Succeeded)
		got = rc.got()
		require.Len(t, got, 2)
		require.Len(t, got[1].Sigs, 1)
		require.NoError(t, verify(got[1], rot.Secret))
		require.ErrorIs(t, verify(got[1], old), webhook.ErrInvalidSignature)

		// A zero grace retires the current secret at once.
		_, err = v.RotateEndpointSecret(v.ctx, ep.ID, RotateSecretParams{Grace: 0})
		require.NoError(t, err)
		rot2 := v.storedEndpoint(ep.ID)
		require.Empty(t, rot2.PreviousSecret)
		require.True(t, rot2.PreviousExpiresAt.IsZero())
		v.whCustomer("hard rotation")
		require.Equal(t, 1, v.whDispatch(d).Succeeded)
		got = rc.got()
		require.Len(t, got[2].Sigs, 1)
		require.NoError(t, verify(got[2], rot2.Secret))
		require.ErrorIs(t, verify(got[2], rot.Secret), webhook.ErrInvalidSignature)

		// Rotating twice within a grace period keeps only the latest two.
		_, err = v.RotateEndpointSecret(v.ctx, ep.ID, RotateSecretParams{Grace: time.Hour})
		require.NoError(t, err)
		rot3 := v.storedEndpoint(ep.ID)
		_, err = v.RotateEndpointSecret(v.ctx, ep.ID, RotateSecretParams{Grace: time.Hour})
		require.NoError(t, err)
		rot4 := v.storedEndpoint(ep.ID)
		require.Equal(t, rot3.Secret, rot4.PreviousSecret)
		require.Equal(t, []string{rot4.Secret, rot3.Secret}, webhook.SigningSecrets(rot4, v.clock.Now()))
	})
}

func TestWebhookDeliveryAPI(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		rc := newWHReceiver(t, v.clock, nil)
		ep := v.whEndpoint(rc)
		d := v.whDispatcher(WebhookOptions{})

		_, err := v.Delivery(v.ctx, "dlv_missing")
		require.ErrorIs(t, err, ErrDeliveryNotFound)
		_, err = v.Redeliver(v.ctx, "dlv_missing")
		require.ErrorIs(t, err, ErrDeliveryNotFound)
		_, err = v.ListDeliveries(v.ctx, DeliveryListParams{Status: "lost"})
		require.ErrorIs(t, err, ErrInvalid)
		_, err = v.ListDeliveries(v.ctx, DeliveryListParams{ListParams: ListParams{Limit: 101}})
		require.ErrorIs(t, err, ErrInvalidLimit)
		_, err = v.ListDeliveries(v.ctx, DeliveryListParams{ListParams: ListParams{StartingAfter: "dlv_nope"}})
		require.ErrorIs(t, err, ErrInvalidCursor)

		c := v.whCustomer("Ada")
		v.whCredit(c.ID, 500)
		evs := v.events()
		require.Len(t, evs, 2)

		rep := v.whDispatch(d)
		require.Equal(t, DispatchReport{Events: 2, Queued: 2, Attempted: 2, Succeeded: 2}, rep)

		all := v.whDeliveries(DeliveryListParams{})
		require.Len(t, all, 2)
		byEvent := v.whDeliveries(DeliveryListParams{EventID: evs[0].ID})
		require.Len(t, byEvent, 1)
		require.Equal(t, ep.ID, byEvent[0].EndpointID)
		got, err := v.Delivery(v.ctx, byEvent[0].ID)
		require.NoError(t, err)
		require.Equal(t, byEvent[0], got)
		require.Len(t, v.whDeliveries(DeliveryListParams{EndpointID: ep.ID, Status: webhook.DeliverySucceeded}), 2)
		require.Empty(t, v.whDeliveries(DeliveryListParams{Status: webhook.DeliveryFailed}))

		// Manual redelivery of a succeeded delivery: same webhook-id and
		// body, a fresh signature, the attempt count restarted.
		v.clock.Advance(time.Hour)
		re, err := v.Redeliver(v.ctx, got.ID)
		require.NoError(t, err)
		require.Equal(t, webhook.DeliveryPending, re.Status)
		require.Equal(t, 0, re.Attempts)
		require.Equal(t, v.clock.Now(), re.RunAt)
		require.True(t, re.DeliveredAt.IsZero())
		_, err = v.Redeliver(v.ctx, got.ID)
		require.ErrorIs(t, err, ErrDeliveryActive, "already queued")
		require.Equal(t, http.StatusUnprocessableEntity, HTTPStatus(err))

		require.Equal(t, DispatchReport{Attempted: 1, Succeeded: 1}, v.whDispatch(d))
		receipts := rc.got()
		require.Len(t, receipts, 3)
		first, again := receipts[0], receipts[2]
		if first.ID != got.EventID {
			first = receipts[1]
		}
		require.Equal(t, got.EventID, again.ID)
		require.Equal(t, 2, again.N)
		require.Equal(t, first.Body, again.Body)
		require.NoError(t, again.VerifyErr)
		require.Equal(t, strconv.FormatInt(v.clock.Now().Unix(), 10), again.Timestamp, "signed at the redelivery")
		done, err := v.Delivery(v.ctx, got.ID)
		require.NoError(t, err)
		require.Equal(t, webhook.DeliverySucceeded, done.Status)
		require.Equal(t, 1, done.Attempts)
		require.Equal(t, v.clock.Now(), done.DeliveredAt)

		// Redelivery to a disabled or deleted endpoint is refused.
		_, err = v.DisableEndpoint(v.ctx, ep.ID)
		require.NoError(t, err)
		_, err = v.Redeliver(v.ctx, got.ID)
		require.ErrorIs(t, err, ErrEndpointDisabled)
		require.NoError(t, v.DeleteEndpoint(v.ctx, ep.ID))
		_, err = v.Redeliver(v.ctx, got.ID)
		require.ErrorIs(t, err, ErrEndpointNotFound)
		// Deleting an endpoint keeps its delivery history listable.
		require.Len(t, v.whDeliveries(DeliveryListParams{EndpointID: ep.ID}), 2)
	})
}

func TestDispatcherOptions(t *testing.T) {
	v := newEnv(t, storeKinds["memory"])
	for name, o := range map[string]WebhookOptions{
		"lease shorter than timeout": {Timeout: time.Minute, Lease: 30 * time.Second},
		"lease equal to timeout":     {Timeout: time.Minute, Lease: time.Minute},
		"default lease vs timeout":   {Timeout: 2 * DefaultWebhookLease},
		"empty backoff":              {Backoff: webhook.Backoff{}},
		"negative backoff":           {Backoff: webhook.Backoff{0, -time.Second}},
	} {
		_, err := v.NewDispatcher(o)
		require.ErrorIs(t, err, ErrInvalidConfig, name)
		require.ErrorIs(t, v.RunDispatcher(context.Background(), o), ErrInvalidConfig, name)
	}
	d, err := v.NewDispatcher(WebhookOptions{})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(d.Owner(), "disp_"))
	o := d.options()
	require.Equal(t, DefaultWebhookTimeout, o.Timeout)
	require.Equal(t, webhook.DefaultBackoff, o.Backoff)
	require.Equal(t, DefaultWebhookConcurrency, o.Concurrency)
	require.Equal(t, DefaultWebhookPerEndpoint, o.PerEndpoint)
	require.Equal(t, DefaultWebhookLease, o.Lease)
	d2, err := v.NewDispatcher(WebhookOptions{Owner: "web-1"})
	require.NoError(t, err)
	require.Equal(t, "web-1", d2.Owner())

	// lastError keeps messages bounded and valid UTF-8.
	long := lastError(strings.Repeat("é", maxLastError))
	require.LessOrEqual(t, len(long), maxLastError)
	require.True(t, strings.HasSuffix(long, "..."))
	require.Equal(t, "a\uFFFDb", lastError("a\xffb"))
	require.Equal(t, "one line", lastError("one\n  line"))
}
