package coffer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/webhook"
)

// TestDispatchRefusesPrivateDestinations: by default no delivery reaches a
// loopback or link-local address; the attempt records why, and a dispatcher
// that allows private networks delivers.
func TestDispatchRefusesPrivateDestinations(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		rc := newWHReceiver(t, v.clock, nil)
		ep := v.whEndpoint(rc)
		meta, err := v.CreateEndpoint(v.ctx, EndpointParams{URL: "http://169.254.169.254/latest/meta-data/"})
		require.NoError(t, err)
		v.whCustomer("Ada")

		// The engine's own DispatchDue, default options.
		rep, err := v.DispatchDue(v.ctx)
		require.NoError(t, err)
		require.Equal(t, DispatchReport{Events: 1, Queued: 2, Attempted: 2, Retrying: 2}, rep)
		require.Empty(t, rc.got(), "the loopback receiver got nothing")
		for id, want := range map[string]string{
			ep.ID:   "connect refused: destination not allowed (loopback address)",
			meta.ID: "connect refused: destination not allowed (link-local address)",
		} {
			dl := v.whOnly(id)
			require.Equal(t, webhook.DeliveryPending, dl.Status)
			require.Equal(t, 1, dl.Attempts)
			require.Zero(t, dl.LastStatus)
			require.Equal(t, want, dl.LastError)
		}

		// An explicit dispatcher with default options refuses too.
		v.clock.Advance(webhook.DefaultBackoff[1])
		d, err := v.NewDispatcher(WebhookOptions{})
		require.NoError(t, err)
		rep, err = d.DispatchDue(v.ctx)
		require.NoError(t, err)
		require.Equal(t, 2, rep.Retrying)
		require.Empty(t, rc.got())

		// Opting in delivers.
		v.clock.Advance(webhook.DefaultBackoff[2])
		allowed, err := v.NewDispatcher(WebhookOptions{AllowPrivateNetworks: true})
		require.NoError(t, err)
		rep, err = allowed.DispatchDue(v.ctx)
		require.NoError(t, err)
		require.Equal(t, 1, rep.Succeeded)
		require.Len(t, rc.got(), 1)
		require.NoError(t, rc.got()[0].VerifyErr)
		require.Equal(t, webhook.DeliverySucceeded, v.whOnly(ep.ID).Status)
	})
}

// TestDispatcherRefusesUnguardableClient: a client whose transport the
// guard cannot wrap is a configuration error, unless private networks are
// allowed.
func TestDispatcherRefusesUnguardableClient(t *testing.T) {
	v := newEnv(t, storeKinds["memory"])
	custom := &http.Client{Transport: http.NewFileTransport(http.Dir(t.TempDir()))}
	_, err := v.NewDispatcher(WebhookOptions{Client: custom})
	require.ErrorIs(t, err, ErrInvalidConfig)
	require.ErrorIs(t, err, webhook.ErrUnguardedClient)
	_, err = v.NewDispatcher(WebhookOptions{Client: custom, AllowPrivateNetworks: true})
	require.NoError(t, err)
	_, err = v.NewDispatcher(WebhookOptions{Client: &http.Client{Transport: &http.Transport{}}})
	require.NoError(t, err, "an *http.Transport is cloned and guarded")

	e, err := New(v.store, WithoutProcessor(), WithClock(v.clock), WithWebhookOptions(WebhookOptions{Client: custom}))
	require.NoError(t, err)
	_, err = e.DispatchDue(v.ctx)
	require.ErrorIs(t, err, webhook.ErrUnguardedClient)
}

// TestDispatchLastErrorHidesURLSecrets: what ListDeliveries shows of a
// failed attempt holds neither the URL's query nor the response body.
func TestDispatchLastErrorHidesURLSecrets(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		refused, err := v.CreateEndpoint(v.ctx, EndpointParams{URL: closedURL(t) + "?token=tok_SECRET"})
		require.NoError(t, err)
		unknown, err := v.CreateEndpoint(v.ctx, EndpointParams{URL: "http://no-such-host.invalid/hooks?token=tok_SECRET"})
		require.NoError(t, err)
		rc := newWHReceiver(t, v.clock, func(_ whReceipt, w http.ResponseWriter) int {
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte("upstream 10.0.0.7 said: aws_secret_access_key=tok_SECRET"))
			return 0
		})
		body, err := v.CreateEndpoint(v.ctx, EndpointParams{URL: rc.URL + "?token=tok_SECRET", Secret: rc.Secret})
		require.NoError(t, err)
		v.whCustomer("Ada")
		rep := v.whDispatch(v.whDispatcher(WebhookOptions{Timeout: 5 * time.Second}))
		require.Equal(t, 3, rep.Retrying)

		want := map[string]string{
			refused.ID: "connect refused: connection refused",
			unknown.ID: "dns:",
			body.ID:    "HTTP 502 Bad Gateway",
		}
		page, err := v.ListDeliveries(v.ctx, DeliveryListParams{})
		require.NoError(t, err)
		require.Len(t, page.Data, 3)
		for _, dl := range page.Data {
			require.NotContains(t, dl.LastError, "tok_SECRET")
			require.NotContains(t, dl.LastError, "http")
			require.LessOrEqual(t, len(dl.LastError), maxLastError)
			require.True(t, strings.HasPrefix(dl.LastError, want[dl.EndpointID]), "%s: %q", dl.EndpointID, dl.LastError)
		}
	})
}

// failRecording makes every write of an attempt's outcome fail, so each
// attempt ends in an error for OnError.
type failRecording struct{ store.Store }

type failRecordingTx struct{ store.Tx }

var errRecordingFails = errors.New("injected: recording fails")

func (s failRecording) Update(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.Update(ctx, func(tx store.Tx) error { return fn(failRecordingTx{tx}) })
}

func (tx failRecordingTx) PutDelivery(d webhook.Delivery) error {
	if d.Attempts > 0 {
		return errRecordingFails
	}
	return tx.Tx.PutDelivery(d)
}

// TestDispatchOnErrorSerialized: attempts fail concurrently, but OnError
// is never entered by two goroutines at once (the hook below keeps an
// unsynchronized counter: -race would flag concurrent calls, and the
// overlap check catches them without it).
func TestDispatchOnErrorSerialized(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, func(t *testing.T) store.Store { return failRecording{newStore(t)} })
		const endpoints, customers = 4, 4
		for range endpoints {
			v.whEndpoint(newWHReceiver(t, v.clock, nil))
		}
		for i := range customers {
			v.whCustomer(fmt.Sprintf("c%d", i))
		}

		var (
			inside  atomic.Int32
			overlap atomic.Bool
			calls   int // deliberately unsynchronized
			seen    = make(chan error, 2*endpoints*customers)
		)
		ctx, cancel := context.WithCancel(v.ctx)
		defer cancel()
		done := make(chan error, 1)
		go func() {
			done <- v.RunDispatcher(ctx, WebhookOptions{
				AllowPrivateNetworks: true,
				Concurrency:          8, PerEndpoint: 2, PollInterval: 5 * time.Millisecond,
				OnError: func(err error) {
					if inside.Add(1) > 1 {
						overlap.Store(true)
					}
					calls++
					time.Sleep(2 * time.Millisecond) // widen the window for a concurrent call
					inside.Add(-1)
					select {
					case seen <- err:
					default:
					}
				},
			})
		}()
		for range endpoints * customers {
			select {
			case err := <-seen:
				require.ErrorIs(t, err, errRecordingFails)
			case <-time.After(20 * time.Second):
				t.Fatal("too few errors reported")
			}
		}
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
		require.False(t, overlap.Load(), "OnError ran in two goroutines at once")
		require.GreaterOrEqual(t, calls, endpoints*customers)
	})
}

// TestEndpointURLRefusesCredentials: a URL with userinfo is refused at
// creation and update (422), and no validation error echoes the URL.
func TestEndpointURLRefusesCredentials(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		ep, err := v.CreateEndpoint(v.ctx, EndpointParams{URL: "https://example.com/hooks"})
		require.NoError(t, err)
		for _, raw := range []string{
			"https://alice:hunter2@example.com/hooks",
			"https://alice@example.com/hooks",
			"https://:hunter2@example.com/hooks",
			"http://alice:hunter2@127.0.0.1:8080/hooks?token=tok_SECRET",
			"http://alice:hunter2@exa mple.com/%zz?token=tok_SECRET",
		} {
			_, err := v.CreateEndpoint(v.ctx, EndpointParams{URL: raw})
			require.ErrorIs(t, err, ErrInvalidEndpoint, raw)
			require.Equal(t, http.StatusUnprocessableEntity, HTTPStatus(err), raw)
			u := raw
			_, uerr := v.UpdateEndpoint(v.ctx, ep.ID, UpdateEndpointParams{URL: &u})
			require.ErrorIs(t, uerr, ErrInvalidEndpoint, raw)
			for _, leak := range []string{"hunter2", "tok_SECRET"} {
				require.NotContains(t, err.Error(), leak)
				require.NotContains(t, uerr.Error(), leak)
			}
		}
		got, err := v.Endpoint(v.ctx, ep.ID)
		require.NoError(t, err)
		require.Equal(t, "https://example.com/hooks", got.URL, "failed updates change nothing")
		list, err := pageData(v.ListEndpoints(v.ctx, EndpointListParams{}))
		require.NoError(t, err)
		require.Len(t, list, 1)
	})
}
