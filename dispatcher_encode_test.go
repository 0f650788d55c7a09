package coffer

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/webhook"
)

// dodoEnvelope is the envelope Dodo Payments' webhooks use, the one the
// HTTP API will send through WebhookOptions.Encode.
type dodoEnvelope struct {
	BusinessID string          `json:"business_id"`
	Type       string          `json:"type"`
	Timestamp  time.Time       `json:"timestamp"`
	Data       json.RawMessage `json:"data"`
}

func dodoEncode(_ context.Context, ev webhook.Event) ([]byte, error) {
	return json.Marshal(dodoEnvelope{BusinessID: "bus_test", Type: ev.Type, Timestamp: ev.CreatedAt.UTC(), Data: ev.Data})
}

// TestDispatchCustomEncode: with WebhookOptions.Encode the receiver gets
// the encoder's body, byte for byte, and the signature covers exactly that
// body (the receiver's Standard Webhooks verifier accepts it); the
// headers stay those of the event.
func TestDispatchCustomEncode(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		rc := newWHReceiver(t, v.clock, nil)
		v.whEndpoint(rc)
		v.whCustomer("Ada")
		d := v.whDispatcher(WebhookOptions{Encode: dodoEncode})
		require.Equal(t, DispatchReport{Events: 1, Queued: 1, Attempted: 1, Succeeded: 1}, v.whDispatch(d))

		events := v.events()
		require.Len(t, events, 1)
		want, err := dodoEncode(v.ctx, events[0])
		require.NoError(t, err)
		got := rc.got()
		require.Len(t, got, 1)
		require.Equal(t, string(want), string(got[0].Body), "the encoder's body is what the receiver gets")
		require.NoError(t, got[0].VerifyErr, "the signature covers the encoded body")
		require.Equal(t, events[0].ID, got[0].ID)
		var env dodoEnvelope
		require.NoError(t, json.Unmarshal(got[0].Body, &env))
		require.Equal(t, "bus_test", env.BusinessID)
		require.Equal(t, EventCustomerCreated, env.Type)

		// The signature is over the body as sent: another body does not
		// verify under the same headers.
		std, err := webhook.Payload(events[0])
		require.NoError(t, err)
		require.NotEqual(t, string(std), string(got[0].Body))
	})
}

// TestDispatchEncodeError: an Encode error fails the attempt like a network
// error: nothing is sent, the error is recorded on the delivery, and the
// attempt is retried on the backoff (and succeeds once Encode does).
func TestDispatchEncodeError(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		rc := newWHReceiver(t, v.clock, nil)
		ep := v.whEndpoint(rc)
		v.whCustomer("Ada")
		var fail atomic.Bool
		fail.Store(true)
		encode := func(ctx context.Context, ev webhook.Event) ([]byte, error) {
			if fail.Load() {
				return nil, errors.New("business id\nnot configured")
			}
			return dodoEncode(ctx, ev)
		}
		backoff := webhook.Backoff{0, time.Minute, time.Hour}
		d := v.whDispatcher(WebhookOptions{Encode: encode, Backoff: backoff})
		require.Equal(t, DispatchReport{Events: 1, Queued: 1, Attempted: 1, Retrying: 1}, v.whDispatch(d))
		require.Empty(t, rc.got(), "nothing is sent when the body cannot be built")
		dl := v.whOnly(ep.ID)
		require.Equal(t, webhook.DeliveryPending, dl.Status)
		require.Equal(t, 1, dl.Attempts)
		require.Equal(t, 0, dl.LastStatus)
		require.Equal(t, "not sent: encoding the body failed: business id not configured", dl.LastError)
		require.Equal(t, v.clock.Now().Add(time.Minute), dl.RunAt, "retried on the backoff")

		require.Equal(t, DispatchReport{}, v.whDispatch(d), "not before the backoff's delay")
		v.clock.Advance(time.Minute)
		require.Equal(t, DispatchReport{Attempted: 1, Retrying: 1}, v.whDispatch(d))
		require.Equal(t, 2, v.whOnly(ep.ID).Attempts)

		fail.Store(false)
		v.clock.Advance(time.Hour)
		require.Equal(t, DispatchReport{Attempted: 1, Succeeded: 1}, v.whDispatch(d))
		got := rc.got()
		require.Len(t, got, 1)
		require.NoError(t, got[0].VerifyErr)
		require.True(t, strings.Contains(string(got[0].Body), `"business_id":"bus_test"`))
		dl = v.whOnly(ep.ID)
		require.Equal(t, webhook.DeliverySucceeded, dl.Status)
		require.Equal(t, 3, dl.Attempts)
		require.Empty(t, dl.LastError)
	})
}

// TestDispatchEncodeThroughEngineOptions: DispatchDue and Run use the
// Encode of WithWebhookOptions.
func TestDispatchEncodeThroughEngineOptions(t *testing.T) {
	v := newEnv(t, storeKinds["memory"], WithWebhookOptions(WebhookOptions{Encode: dodoEncode, AllowPrivateNetworks: true}))
	rc := newWHReceiver(t, v.clock, nil)
	v.whEndpoint(rc)
	v.whCustomer("Ada")
	rep, err := v.DispatchDue(v.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Succeeded)
	got := rc.got()
	require.Len(t, got, 1)
	require.NoError(t, got[0].VerifyErr)
	require.Contains(t, string(got[0].Body), `"business_id":"bus_test"`)
}
