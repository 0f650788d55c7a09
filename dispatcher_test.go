package coffer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/clock"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/bolt"
	"github.com/cofferhq/coffer/webhook"
)

// TestDispatchDeliversEveryEventAsSigned: every committed event reaches
// every matching endpoint once, byte for byte as webhook.Payload renders
// the stored event, with a valid signature; filters and disabled endpoints
// are respected.
func TestDispatchDeliversEveryEventAsSigned(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		all := newWHReceiver(t, v.clock, nil)
		wallet := newWHReceiver(t, v.clock, func(whReceipt, http.ResponseWriter) int { return http.StatusOK })
		off := newWHReceiver(t, v.clock, nil)
		epAll := v.whEndpoint(all)
		epWallet := v.whEndpoint(wallet, "wallet.*")
		epOff := v.whEndpoint(off)
		_, err := v.DisableEndpoint(v.ctx, epOff.ID)
		require.NoError(t, err)

		for i := range 5 {
			c := v.whCustomer(fmt.Sprintf("customer %d", i))
			v.whCredit(c.ID, int64(100*(i+1)))
			_, err := v.CreateEntry(v.ctx, c.ID, EntryParams{Amount: 50, Currency: "USD", Type: ledger.Debit, Reason: `<"quoted" & escaped>`})
			require.NoError(t, err)
		}
		events := v.events()
		require.Len(t, events, 15)
		d := v.whDispatcher(WebhookOptions{BatchSize: 4}) // several fan-out transactions

		rep := v.whDispatch(d)
		require.Equal(t, DispatchReport{Events: 15, Queued: 25, Attempted: 25, Succeeded: 25}, rep)
		require.Empty(t, off.got(), "a disabled endpoint gets nothing")

		// Each receiver got each matching event exactly once, as signed.
		check := func(rc *whReceiver, want []webhook.Event) {
			t.Helper()
			got := map[string]whReceipt{}
			for _, r := range rc.got() {
				require.NoError(t, r.VerifyErr)
				require.Len(t, r.Sigs, 1)
				require.Equal(t, strconv.FormatInt(t0.Unix(), 10), r.Timestamp)
				_, dup := got[r.ID]
				require.False(t, dup, "event %s delivered twice", r.ID)
				got[r.ID] = r
			}
			require.Len(t, got, len(want))
			for _, ev := range want {
				r, ok := got[ev.ID]
				require.True(t, ok, "event %s (%s) not delivered", ev.ID, ev.Type)
				body, err := webhook.Payload(ev)
				require.NoError(t, err)
				require.Equal(t, string(body), string(r.Body))
			}
		}
		check(all, events)
		var walletEvents []webhook.Event
		for _, ev := range events {
			if ev.Type == EventBalanceChanged {
				walletEvents = append(walletEvents, ev)
			}
		}
		require.Len(t, walletEvents, 10)
		check(wallet, walletEvents)

		// The records say so: every event dispatched, every delivery
		// succeeded on its first attempt.
		for _, ev := range v.events() {
			require.True(t, ev.Dispatched)
		}
		for _, ep := range []webhook.Endpoint{epAll, epWallet} {
			ds := v.whDeliveries(DeliveryListParams{EndpointID: ep.ID})
			for _, dl := range ds {
				require.Equal(t, webhook.DeliverySucceeded, dl.Status)
				require.Equal(t, 1, dl.Attempts)
				require.Equal(t, t0, dl.DeliveredAt)
				require.Empty(t, dl.LeaseOwner)
				require.Empty(t, dl.LastError)
			}
		}
		require.Len(t, v.whDeliveries(DeliveryListParams{EndpointID: epAll.ID, Status: webhook.DeliverySucceeded}), 15)
		require.Equal(t, 204, v.whDeliveries(DeliveryListParams{EndpointID: epAll.ID})[0].LastStatus)
		require.Equal(t, 200, v.whDeliveries(DeliveryListParams{EndpointID: epWallet.ID})[0].LastStatus)
		require.Empty(t, v.whDeliveries(DeliveryListParams{EndpointID: epOff.ID}))

		// Nothing is sent twice.
		require.Equal(t, DispatchReport{}, v.whDispatch(d))
		v.clock.Advance(48 * time.Hour)
		require.Equal(t, DispatchReport{}, v.whDispatch(d))
		require.Len(t, all.got(), 15)

		// An endpoint receives the events committed from its creation on.
		late := newWHReceiver(t, v.clock, nil)
		v.whEndpoint(late)
		c := v.whCustomer("after the late endpoint")
		rep = v.whDispatch(d)
		require.Equal(t, 2, rep.Succeeded, "all and late, not the wallet endpoint")
		require.Len(t, late.got(), 1)
		require.Contains(t, string(late.got()[0].Body), c.ID)
	})
}

// TestDispatchEventsBeforeEndpoint: events committed before an endpoint
// existed (but not yet dispatched) are not sent to it.
func TestDispatchEventsBeforeEndpoint(t *testing.T) {
	v := newEnv(t, storeKinds["memory"])
	v.whCustomer("early")
	v.clock.Advance(time.Second)
	rc := newWHReceiver(t, v.clock, nil)
	v.whEndpoint(rc)
	rep := v.whDispatch(v.whDispatcher(WebhookOptions{}))
	require.Equal(t, DispatchReport{Events: 1}, rep)
	require.Empty(t, rc.got())
}

// TestDispatchRetriesPerBackoff: an endpoint answering 500 is retried
// exactly when the backoff says, and the delivery records each failure.
func TestDispatchRetriesPerBackoff(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		rc := newWHReceiver(t, v.clock, func(r whReceipt, w http.ResponseWriter) int {
			if r.N <= 2 {
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = w.Write([]byte("  database\nunavailable "))
				return 0
			}
			return http.StatusOK
		})
		ep := v.whEndpoint(rc)
		d := v.whDispatcher(WebhookOptions{})
		v.whCustomer("Ada")

		rep := v.whDispatch(d)
		require.Equal(t, DispatchReport{Events: 1, Queued: 1, Attempted: 1, Retrying: 1}, rep)
		dl := v.whOnly(ep.ID)
		require.Equal(t, webhook.DeliveryPending, dl.Status)
		require.Equal(t, 1, dl.Attempts)
		require.Equal(t, 500, dl.LastStatus)
		require.Equal(t, "HTTP 500 Internal Server Error", dl.LastError, "the status line, never the body")
		require.Equal(t, t0.Add(webhook.DefaultBackoff[1]), dl.RunAt)
		require.Empty(t, dl.LeaseOwner)

		// Not before its time.
		v.clock.Advance(webhook.DefaultBackoff[1] - time.Second)
		require.Equal(t, DispatchReport{}, v.whDispatch(d))
		v.clock.Advance(time.Second)
		require.Equal(t, DispatchReport{Attempted: 1, Retrying: 1}, v.whDispatch(d))
		dl = v.whOnly(ep.ID)
		require.Equal(t, 2, dl.Attempts)
		require.Equal(t, v.clock.Now().Add(webhook.DefaultBackoff[2]), dl.RunAt)

		v.clock.Advance(webhook.DefaultBackoff[2])
		require.Equal(t, DispatchReport{Attempted: 1, Succeeded: 1}, v.whDispatch(d))
		dl = v.whOnly(ep.ID)
		require.Equal(t, webhook.DeliverySucceeded, dl.Status)
		require.Equal(t, 3, dl.Attempts)
		require.Equal(t, 200, dl.LastStatus)
		require.Empty(t, dl.LastError)
		require.Equal(t, v.clock.Now(), dl.DeliveredAt)

		got := rc.got()
		require.Len(t, got, 3)
		for i, r := range got {
			require.NoError(t, r.VerifyErr, "attempt %d", i+1)
			require.Equal(t, got[0].Body, r.Body, "every attempt sends the same body")
			require.Equal(t, got[0].ID, r.ID, "and the same webhook-id")
		}
		require.Equal(t, strconv.FormatInt(v.clock.Now().Unix(), 10), got[2].Timestamp, "each attempt is signed when sent")
	})
}

// TestDispatchEndpointFailures runs each way an endpoint can fail through
// a real server: the attempt is recorded with its status and error and
// retried per the backoff; a late 2xx within the timeout is a success.
func TestDispatchEndpointFailures(t *testing.T) {
	type failure struct {
		name       string
		url        func(t *testing.T, v *env) string // nil: a receiver using respond
		respond    func(r whReceipt, w http.ResponseWriter) int
		ok         bool
		wantStatus int
		wantErr    string
		wantRunAt  time.Duration // after t0
	}
	cases := []failure{
		{name: "500", respond: func(whReceipt, http.ResponseWriter) int { return 500 }, wantStatus: 500, wantErr: "500 Internal Server Error", wantRunAt: 5 * time.Second},
		{name: "404", respond: func(whReceipt, http.ResponseWriter) int { return 404 }, wantStatus: 404, wantErr: "404 Not Found", wantRunAt: 5 * time.Second},
		{
			name: "redirect is not followed", wantStatus: 302, wantErr: "302 Found", wantRunAt: 5 * time.Second,
			respond: func(_ whReceipt, w http.ResponseWriter) int { w.Header().Set("Location", "/elsewhere"); return 302 },
		},
		{
			name: "429 with Retry-After waits longer", wantStatus: 429, wantErr: "429", wantRunAt: time.Hour,
			respond: func(_ whReceipt, w http.ResponseWriter) int { w.Header().Set("Retry-After", "3600"); return 429 },
		},
		{
			name: "Retry-After is capped by the schedule", wantStatus: 503, wantErr: "503", wantRunAt: 10 * time.Hour,
			respond: func(_ whReceipt, w http.ResponseWriter) int { w.Header().Set("Retry-After", "9999999"); return 503 },
		},
		{
			name: "Retry-After never shortens the backoff", wantStatus: 503, wantErr: "503", wantRunAt: 5 * time.Second,
			respond: func(_ whReceipt, w http.ResponseWriter) int { w.Header().Set("Retry-After", "1"); return 503 },
		},
		{
			name: "timeout", wantErr: "timed out", wantRunAt: 5 * time.Second,
			respond: func(r whReceipt, _ http.ResponseWriter) int {
				<-r.Ctx.Done() // hangs until the sender gives up
				return 200
			},
		},
		{name: "connection refused", url: func(t *testing.T, _ *env) string { return closedURL(t) }, wantErr: "refused", wantRunAt: 5 * time.Second},
		{
			name: "late 2xx within the timeout", ok: true, wantStatus: 202,
			respond: func(whReceipt, http.ResponseWriter) int { time.Sleep(100 * time.Millisecond); return 202 },
		},
	}
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				v := newEnv(t, newStore)
				var url string
				var rc *whReceiver
				if tc.url != nil {
					url = tc.url(t, v)
				} else {
					rc = newWHReceiver(t, v.clock, tc.respond)
					url = rc.URL
				}
				secret, err := webhook.NewSecret()
				require.NoError(t, err)
				if rc != nil {
					secret = rc.Secret
				}
				ep, err := v.CreateEndpoint(v.ctx, EndpointParams{URL: url, Secret: secret})
				require.NoError(t, err)
				v.whCustomer("Ada")
				d := v.whDispatcher(WebhookOptions{Timeout: 500 * time.Millisecond})

				rep := v.whDispatch(d)
				dl := v.whOnly(ep.ID)
				require.Equal(t, 1, rep.Attempted)
				require.Equal(t, 1, dl.Attempts)
				require.Equal(t, tc.wantStatus, dl.LastStatus)
				if tc.ok {
					require.Equal(t, 1, rep.Succeeded)
					require.Equal(t, webhook.DeliverySucceeded, dl.Status)
					return
				}
				require.Equal(t, 1, rep.Retrying)
				require.Equal(t, webhook.DeliveryPending, dl.Status)
				require.Contains(t, dl.LastError, tc.wantErr)
				require.Equal(t, t0.Add(tc.wantRunAt), dl.RunAt)
				if rc != nil {
					require.Len(t, rc.got(), 1)
					require.NoError(t, rc.got()[0].VerifyErr)
				}
			})
		}
	})
}

// TestDispatchDeadLetter: after the last attempt of the backoff fails, the
// delivery is dead-lettered with the last status and error; a manual
// redelivery then gets it through.
func TestDispatchDeadLetter(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		var mu sync.Mutex
		healthy := false
		rc := newWHReceiver(t, v.clock, func(_ whReceipt, w http.ResponseWriter) int {
			mu.Lock()
			defer mu.Unlock()
			if healthy {
				return http.StatusOK
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("down for maintenance"))
			return 0
		})
		ep := v.whEndpoint(rc)
		d := v.whDispatcher(WebhookOptions{})
		v.whCustomer("Ada")

		sched := webhook.DefaultBackoff
		for i := range sched {
			v.clock.Advance(sched[i])
			rep := v.whDispatch(d)
			require.Equal(t, 1, rep.Attempted, "attempt %d", i+1)
			dl := v.whOnly(ep.ID)
			require.Equal(t, i+1, dl.Attempts)
			if i < len(sched)-1 {
				require.Equal(t, 1, rep.Retrying)
				require.Equal(t, webhook.DeliveryPending, dl.Status)
				require.Equal(t, v.clock.Now().Add(sched[i+1]), dl.RunAt)
			} else {
				require.Equal(t, 1, rep.DeadLettered)
			}
		}
		dead := v.whOnly(ep.ID)
		require.Equal(t, webhook.DeliveryFailed, dead.Status)
		require.Equal(t, len(sched), dead.Attempts)
		require.Equal(t, 503, dead.LastStatus)
		require.Equal(t, "HTTP 503 Service Unavailable", dead.LastError)
		require.NotContains(t, dead.LastError, "maintenance", "the response body is not stored")
		require.True(t, dead.DeliveredAt.IsZero())
		require.Equal(t, []webhook.Delivery{dead}, v.whDeliveries(DeliveryListParams{Status: webhook.DeliveryFailed}))
		require.Equal(t, 27*time.Hour+35*time.Minute+5*time.Second, v.clock.Now().Sub(t0), "the whole schedule")

		// A dead letter is never attempted again by itself.
		v.clock.Advance(100 * time.Hour)
		require.Equal(t, DispatchReport{}, v.whDispatch(d))
		require.Len(t, rc.got(), len(sched))

		mu.Lock()
		healthy = true
		mu.Unlock()
		_, err := v.Redeliver(v.ctx, dead.ID)
		require.NoError(t, err)
		require.Equal(t, DispatchReport{Attempted: 1, Succeeded: 1}, v.whDispatch(d))
		ok := v.whOnly(ep.ID)
		require.Equal(t, webhook.DeliverySucceeded, ok.Status)
		require.Equal(t, 1, ok.Attempts)
		require.Equal(t, 200, ok.LastStatus)
		require.Empty(t, ok.LastError)
		got := rc.got()
		require.Len(t, got, len(sched)+1)
		require.Equal(t, len(sched)+1, got[len(got)-1].N, "same webhook-id on every attempt")
		require.NoError(t, got[len(got)-1].VerifyErr)
	})
}

// TestDispatchDisabledAndDeletedEndpoints: disabling or deleting an endpoint
// dead-letters its pending deliveries without an attempt; enabling resumes
// delivery for new events, and Redeliver recovers what was missed.
func TestDispatchDisabledAndDeletedEndpoints(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		var mu sync.Mutex
		status := http.StatusInternalServerError
		rc := newWHReceiver(t, v.clock, func(whReceipt, http.ResponseWriter) int {
			mu.Lock()
			defer mu.Unlock()
			return status
		})
		ep := v.whEndpoint(rc)
		d := v.whDispatcher(WebhookOptions{})
		v.whCustomer("Ada")
		require.Equal(t, 1, v.whDispatch(d).Retrying)

		// Disabled with a retry pending: dead-lettered, never attempted.
		_, err := v.DisableEndpoint(v.ctx, ep.ID)
		require.NoError(t, err)
		dl := v.whOnly(ep.ID)
		require.Equal(t, webhook.DeliveryFailed, dl.Status)
		require.Equal(t, "endpoint disabled", dl.LastError)
		require.Equal(t, 1, dl.Attempts)
		require.Equal(t, 500, dl.LastStatus, "the last real attempt stays recorded")

		// Events while disabled are not queued for it.
		v.whCustomer("Bob")
		v.clock.Advance(time.Hour)
		rep := v.whDispatch(d)
		require.Equal(t, DispatchReport{Events: 1}, rep)
		require.Len(t, rc.got(), 1)

		// Enabled again: new events flow; the missed one can be redelivered.
		mu.Lock()
		status = http.StatusOK
		mu.Unlock()
		_, err = v.EnableEndpoint(v.ctx, ep.ID)
		require.NoError(t, err)
		v.whCustomer("Cy")
		_, err = v.Redeliver(v.ctx, dl.ID)
		require.NoError(t, err)
		require.Equal(t, DispatchReport{Events: 1, Queued: 1, Attempted: 2, Succeeded: 2}, v.whDispatch(d))
		require.Len(t, rc.got(), 3)

		// Deleted with a retry pending: dead-lettered as well.
		mu.Lock()
		status = http.StatusBadGateway
		mu.Unlock()
		v.whCustomer("Di")
		require.Equal(t, 1, v.whDispatch(d).Retrying)
		require.NoError(t, v.DeleteEndpoint(v.ctx, ep.ID))
		failed := v.whDeliveries(DeliveryListParams{EndpointID: ep.ID, Status: webhook.DeliveryFailed})
		require.Len(t, failed, 1)
		require.Equal(t, "endpoint deleted", failed[0].LastError)
		require.Equal(t, 502, failed[0].LastStatus)
		v.clock.Advance(time.Hour)
		require.Equal(t, DispatchReport{}, v.whDispatch(d))
	})
}

// TestDispatchDropsAtClaim: a delivery whose endpoint was disabled or
// deleted behind the engine's back (another process, a restored backup) is
// dead-lettered when claimed, never sent.
func TestDispatchDropsAtClaim(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		a := newWHReceiver(t, v.clock, nil)
		b := newWHReceiver(t, v.clock, nil)
		epA, epB := v.whEndpoint(a), v.whEndpoint(b)
		d := v.whDispatcher(WebhookOptions{})
		v.whCustomer("Ada")
		require.NoError(t, d.fanOut(v.ctx, &DispatchReport{}))
		require.NoError(t, v.store.Update(v.ctx, func(tx store.Tx) error {
			ep, err := tx.Endpoint(epA.ID)
			if err != nil {
				return err
			}
			ep.Disabled = true
			if err := tx.PutEndpoint(ep); err != nil {
				return err
			}
			return tx.DeleteEndpoint(epB.ID)
		}))
		rep := v.whDispatch(d)
		require.Equal(t, DispatchReport{Dropped: 2}, rep)
		require.Empty(t, a.got())
		require.Empty(t, b.got())
		require.Equal(t, "endpoint disabled", v.whOnly(epA.ID).LastError)
		require.Equal(t, "endpoint deleted", v.whOnly(epB.ID).LastError)
		require.Equal(t, 0, v.whOnly(epB.ID).Attempts)
	})
}

// TestDispatchRestartRedelivers: a dispatcher that claims deliveries and
// dies before recording them loses them only until its lease expires; an
// Engine on the reopened bolt file then delivers each exactly once.
func TestDispatchRestartRedelivers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "coffer.db")
	clk := clock.NewTest(t0)
	rc := newWHReceiver(t, clk, nil)

	s1, err := bolt.Open(path)
	require.NoError(t, err)
	e1, err := New(s1, WithoutProcessor(), WithClock(clk))
	require.NoError(t, err)
	ctx := context.Background()
	_, err = e1.CreateEndpoint(ctx, EndpointParams{URL: rc.URL, Secret: rc.Secret})
	require.NoError(t, err)
	for i := range 3 {
		_, err := e1.CreateCustomer(ctx, whParams(i))
		require.NoError(t, err)
	}
	crashed, err := e1.NewDispatcher(WebhookOptions{Owner: "crashed", Lease: time.Minute, AllowPrivateNetworks: true})
	require.NoError(t, err)
	require.NoError(t, crashed.fanOut(ctx, &DispatchReport{}))
	jobs, _, err := crashed.claim(ctx, &DispatchReport{})
	require.NoError(t, err)
	require.Len(t, jobs, 2, "PerEndpoint caps the claim")
	// ... and the process dies: nothing sent, nothing recorded.
	require.NoError(t, s1.Close())

	s2, err := bolt.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { s2.Close() })
	e2, err := New(s2, WithoutProcessor(), WithClock(clk))
	require.NoError(t, err)
	v := &env{Engine: e2, t: t, ctx: ctx, clock: clk, store: s2}
	claimed := v.whDeliveries(DeliveryListParams{Status: webhook.DeliveryClaimed})
	require.Len(t, claimed, 2, "the claims survived the restart")
	for _, dl := range claimed {
		require.Equal(t, "crashed", dl.LeaseOwner)
		require.Equal(t, t0.Add(time.Minute), dl.RunAt)
	}

	restarted := v.whDispatcher(WebhookOptions{Owner: "restarted"})
	rep := v.whDispatch(restarted)
	require.Equal(t, DispatchReport{Attempted: 1, Succeeded: 1}, rep, "the unclaimed one goes; the claimed ones wait out the lease")
	v.clock.Advance(time.Minute - time.Second)
	require.Equal(t, DispatchReport{}, v.whDispatch(restarted))
	v.clock.Advance(time.Second)
	rep = v.whDispatch(restarted)
	require.Equal(t, DispatchReport{Attempted: 2, Succeeded: 2}, rep)

	got := rc.got()
	require.Len(t, got, 3)
	ids := map[string]bool{}
	for _, r := range got {
		require.NoError(t, r.VerifyErr)
		require.Equal(t, 1, r.N, "each event delivered once")
		ids[r.ID] = true
	}
	for _, ev := range v.events() {
		require.True(t, ids[ev.ID], "event %s lost across the restart", ev.ID)
	}
	for _, dl := range v.whDeliveries(DeliveryListParams{}) {
		require.Equal(t, webhook.DeliverySucceeded, dl.Status)
		require.Equal(t, 1, dl.Attempts)
	}
}

// TestDispatchLostLease: a dispatcher that comes back after its lease was
// retaken does not overwrite the other's record.
func TestDispatchLostLease(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		rc := newWHReceiver(t, v.clock, nil)
		ep := v.whEndpoint(rc)
		v.whCustomer("Ada")
		slow := v.whDispatcher(WebhookOptions{Owner: "slow"})
		require.NoError(t, slow.fanOut(v.ctx, &DispatchReport{}))
		var rep DispatchReport
		jobs, _, err := slow.claim(v.ctx, &rep)
		require.NoError(t, err)
		require.Len(t, jobs, 1)

		v.clock.Advance(DefaultWebhookLease)
		other := v.whDispatcher(WebhookOptions{Owner: "other"})
		require.Equal(t, DispatchReport{Attempted: 1, Succeeded: 1}, v.whDispatch(other))
		before := v.whOnly(ep.ID)

		v.clock.Advance(time.Second)
		require.NoError(t, slow.deliver(v.ctx, jobs[0], &rep))
		require.Equal(t, 1, rep.LostLease)
		require.Equal(t, 0, rep.Attempted)
		require.Equal(t, before, v.whOnly(ep.ID), "the late outcome is not recorded")
		require.Equal(t, 0, slow.total(), "its slot is free again")
	})
}

// TestDispatchTwoDispatchers: dispatchers racing on one store never both
// make the same attempt: with every first attempt failing, each event
// reaches each endpoint exactly twice.
func TestDispatchTwoDispatchers(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		failFirst := func(r whReceipt, _ http.ResponseWriter) int {
			if r.N == 1 {
				return http.StatusInternalServerError
			}
			return http.StatusOK
		}
		rcs := []*whReceiver{newWHReceiver(t, v.clock, failFirst), newWHReceiver(t, v.clock, failFirst)}
		for _, rc := range rcs {
			v.whEndpoint(rc)
		}
		for i := range 20 {
			v.whCustomer(fmt.Sprintf("c%d", i))
		}
		ds := []*Dispatcher{
			v.whDispatcher(WebhookOptions{Owner: "one", BatchSize: 3, PerEndpoint: 4}),
			v.whDispatcher(WebhookOptions{Owner: "two", BatchSize: 3, PerEndpoint: 4}),
		}
		race := func() DispatchReport {
			var wg sync.WaitGroup
			reps := make([]DispatchReport, len(ds))
			errs := make([]error, len(ds))
			for i, d := range ds {
				wg.Add(1)
				go func() {
					defer wg.Done()
					reps[i], errs[i] = d.DispatchDue(v.ctx)
				}()
			}
			wg.Wait()
			var sum DispatchReport
			for i := range ds {
				require.NoError(t, errs[i])
				sum.Events += reps[i].Events
				sum.Queued += reps[i].Queued
				sum.Attempted += reps[i].Attempted
				sum.Succeeded += reps[i].Succeeded
				sum.Retrying += reps[i].Retrying
				sum.LostLease += reps[i].LostLease
			}
			return sum
		}
		require.Equal(t, DispatchReport{Events: 20, Queued: 40, Attempted: 40, Retrying: 40}, race())
		v.clock.Advance(webhook.DefaultBackoff[1])
		require.Equal(t, DispatchReport{Attempted: 40, Succeeded: 40}, race())

		for _, rc := range rcs {
			require.Len(t, rc.got(), 40)
			for _, ev := range v.events() {
				require.Equal(t, 2, rc.count(ev.ID), "event %s", ev.ID)
			}
		}
		for _, dl := range v.whDeliveries(DeliveryListParams{}) {
			require.Equal(t, webhook.DeliverySucceeded, dl.Status)
			require.Equal(t, 2, dl.Attempts)
		}
	})
}

// TestDispatchSlowEndpointDoesNotBlockOthers: while a hanging endpoint
// holds its PerEndpoint slots, Run keeps delivering to a fast one.
func TestDispatchSlowEndpointDoesNotBlockOthers(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		release := make(chan struct{})
		var once sync.Once
		unblock := func() { once.Do(func() { close(release) }) }
		var mu sync.Mutex
		hanging := 0
		slow := newWHReceiver(t, v.clock, func(whReceipt, http.ResponseWriter) int {
			mu.Lock()
			hanging++
			mu.Unlock()
			<-release
			return http.StatusOK
		})
		fast := newWHReceiver(t, v.clock, nil)
		t.Cleanup(unblock) // before the servers close
		epSlow, epFast := v.whEndpoint(slow), v.whEndpoint(fast)
		for i := range 6 {
			v.whCustomer(fmt.Sprintf("c%d", i))
		}

		ctx, cancel := context.WithCancel(v.ctx)
		defer cancel()
		errs := make(chan error, 1)
		var runErrs []error
		var errMu sync.Mutex
		go func() {
			errs <- v.RunDispatcher(ctx, WebhookOptions{
				AllowPrivateNetworks: true, // the receivers are on loopback
				Concurrency:          4, PerEndpoint: 2, Timeout: 20 * time.Second, PollInterval: 10 * time.Millisecond,
				OnError: func(err error) { errMu.Lock(); runErrs = append(runErrs, err); errMu.Unlock() },
			})
		}()

		require.Eventually(t, func() bool { return len(fast.got()) == 6 }, 10*time.Second, 5*time.Millisecond,
			"the fast endpoint gets everything while the slow one hangs")
		require.Eventually(t, func() bool {
			return len(v.whDeliveries(DeliveryListParams{EndpointID: epFast.ID, Status: webhook.DeliverySucceeded})) == 6
		}, 10*time.Second, 5*time.Millisecond)
		hangs := func() int { mu.Lock(); defer mu.Unlock(); return hanging }
		require.Eventually(t, func() bool { return hangs() == 2 }, 10*time.Second, 5*time.Millisecond)
		require.Len(t, v.whDeliveries(DeliveryListParams{EndpointID: epSlow.ID, Status: webhook.DeliveryClaimed}), 2)
		require.Len(t, v.whDeliveries(DeliveryListParams{EndpointID: epSlow.ID, Status: webhook.DeliveryPending}), 4)

		require.Equal(t, 2, hangs(), "the slow endpoint holds exactly its PerEndpoint slots")
		unblock()
		require.Eventually(t, func() bool {
			return len(v.whDeliveries(DeliveryListParams{EndpointID: epSlow.ID, Status: webhook.DeliverySucceeded})) == 6
		}, 10*time.Second, 5*time.Millisecond)

		// Run picks up new events by itself.
		v.whCustomer("late")
		require.Eventually(t, func() bool { return len(fast.got()) == 7 && len(slow.got()) == 7 }, 10*time.Second, 5*time.Millisecond)

		cancel()
		require.ErrorIs(t, <-errs, context.Canceled)
		errMu.Lock()
		require.Empty(t, runErrs)
		errMu.Unlock()
	})
}

// TestDispatchRunFinishesAttemptsOnShutdown: cancelling Run lets the
// attempt in flight complete and records it, instead of abandoning a
// request the receiver may already have processed.
func TestDispatchRunFinishesAttemptsOnShutdown(t *testing.T) {
	v := newEnv(t, storeKinds["bolt"])
	entered, release := make(chan struct{}), make(chan struct{})
	rc := newWHReceiver(t, v.clock, func(whReceipt, http.ResponseWriter) int {
		close(entered)
		<-release
		return http.StatusOK
	})
	ep := v.whEndpoint(rc)
	v.whCustomer("Ada")
	ctx, cancel := context.WithCancel(v.ctx)
	done := make(chan error, 1)
	go func() { done <- v.RunDispatcher(ctx, WebhookOptions{AllowPrivateNetworks: true}) }()
	<-entered
	cancel()
	close(release)
	require.ErrorIs(t, <-done, context.Canceled)
	dl := v.whOnly(ep.ID)
	require.Equal(t, webhook.DeliverySucceeded, dl.Status)
	require.Equal(t, 1, dl.Attempts)
}

// TestDispatchDueCancelled: a DispatchDue whose ctx ends mid-attempt
// releases the delivery, pending at once and with no attempt counted.
func TestDispatchDueCancelled(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		entered := make(chan struct{})
		rc := newWHReceiver(t, v.clock, func(r whReceipt, _ http.ResponseWriter) int {
			if r.N == 1 {
				close(entered)
				<-r.Ctx.Done() // hang until the dispatcher gives up
			}
			return http.StatusOK
		})
		ep := v.whEndpoint(rc)
		v.whCustomer("Ada")
		d := v.whDispatcher(WebhookOptions{})
		ctx, cancel := context.WithCancel(v.ctx)
		go func() { <-entered; cancel() }()
		rep, err := d.DispatchDue(ctx)
		require.ErrorIs(t, err, context.Canceled)
		require.Equal(t, DispatchReport{Events: 1, Queued: 1, Released: 1}, rep)
		dl := v.whOnly(ep.ID)
		require.Equal(t, webhook.DeliveryPending, dl.Status)
		require.Equal(t, 0, dl.Attempts)
		require.Equal(t, t0, dl.RunAt)
		require.Empty(t, dl.LeaseOwner)

		require.Equal(t, DispatchReport{Attempted: 1, Succeeded: 1}, v.whDispatch(d))
	})
}

func whParams(i int) customer.Params {
	return customer.Params{Name: new(fmt.Sprintf("customer %d", i))}
}

// TestDispatchImmediateRetries: with a schedule of immediate retries one
// DispatchDue makes every attempt, up to the dead letter.
func TestDispatchImmediateRetries(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		rc := newWHReceiver(t, v.clock, func(whReceipt, http.ResponseWriter) int { return http.StatusBadRequest })
		ep := v.whEndpoint(rc)
		v.whCustomer("Ada")
		v.whCustomer("Bob")
		d := v.whDispatcher(WebhookOptions{Backoff: webhook.Backoff{0, 0, 0}, PerEndpoint: 1})
		rep := v.whDispatch(d)
		require.Equal(t, DispatchReport{Events: 2, Queued: 2, Attempted: 6, Retrying: 4, DeadLettered: 2}, rep)
		for _, dl := range v.whDeliveries(DeliveryListParams{EndpointID: ep.ID}) {
			require.Equal(t, webhook.DeliveryFailed, dl.Status)
			require.Equal(t, 3, dl.Attempts)
			require.Equal(t, 400, dl.LastStatus)
		}
		require.Len(t, rc.got(), 6)
	})
}

// whRejectRefunds is a processor whose refunds the issuer rejects, to
// produce refund.failed.
type whRejectRefunds struct{ *processor.Test }

func (whRejectRefunds) Refund(context.Context, processor.RefundRequest) (processor.Refund, error) {
	return processor.Refund{}, errors.New("test: refund rejected by the issuer")
}

// TestWebhookEventCatalogue drives a realistic billing run through the
// engine and checks that every event type it can produce reaches an
// endpoint, verified and byte for byte as stored. With
// COFFER_WEBHOOK_CATALOGUE=file it also writes the first envelope of each
// type to file (the README's event catalogue is made from it).
func TestWebhookEventCatalogue(t *testing.T) {
	v := newEnv(t, storeKinds["bolt"], WithLowBalanceThreshold("USD", 5_00))
	rc := newWHReceiver(t, v.clock, nil)
	v.whEndpoint(rc)
	ctx := v.ctx

	c, err := v.CreateCustomer(ctx, customer.Params{Name: new("Ada Lovelace"), Email: new("ada@example.com")})
	require.NoError(t, err)
	_, err = v.UpdateCustomer(ctx, c.ID, customer.Params{Phone: new("+14155550100")})
	require.NoError(t, err)
	_, err = v.CreateEntry(ctx, c.ID, EntryParams{Amount: 20_00, Currency: "USD", Type: ledger.Credit, Reason: "Top-up", IdempotencyKey: "topup-1"})
	require.NoError(t, err)
	_, err = v.CreateEntry(ctx, c.ID, EntryParams{Amount: 16_00, Currency: "USD", Type: ledger.Debit, Reason: "API usage"})
	require.NoError(t, err)

	prod, err := v.CreateProduct(ctx, ProductParams{Name: "Pro", Description: "Pro plan", Price: 12_00, Currency: "USD"})
	require.NoError(t, err)
	sub := func(pm string, link bool) SubscriptionResult {
		res, err := v.CreateSubscription(ctx, SubscriptionParams{ProductID: prod.ID, Quantity: 1, CustomerID: c.ID,
			PaymentMethod: pm, PaymentLink: link, ReturnURL: "https://shop.example/done", OnDemand: &OnDemand{MandateOnly: new(true)}})
		require.NoError(t, err)
		return res
	}
	pending := sub(processor.CardRequiresAction, true)
	_, err = v.proc.CompleteMandate(pending.Subscription.MandateID, true)
	require.NoError(t, err)
	_, err = v.ConfirmMandate(ctx, pending.Subscription.ID)
	require.NoError(t, err)
	sub(processor.CardStolen, false)

	paid, err := v.Charge(ctx, pending.Subscription.ID, ChargeParams{ProductPrice: new(int64(9_00)), IdempotencyKey: "order-1"})
	require.NoError(t, err)
	_, err = v.Refund(ctx, paid.ID, RefundParams{Amount: 2_00, Reason: "goodwill", IdempotencyKey: "refund-1"})
	require.NoError(t, err)
	v.setProcessor(whRejectRefunds{v.proc})
	_, err = v.Refund(ctx, paid.ID, RefundParams{IdempotencyKey: "refund-2"}) // the rest: reaches the processor
	require.Error(t, err)
	v.setProcessor(v.proc)

	soft := sub(processor.CardInsufficientFunds, false)
	failed, err := v.Charge(ctx, soft.Subscription.ID, ChargeParams{ProductPrice: new(int64(7_00)), IdempotencyKey: "order-2"})
	require.NoError(t, err)
	require.False(t, failed.NextRetryAt.IsZero())
	attempts, err := pageData(v.ListAttempts(ctx, AttemptListParams{SubscriptionID: soft.Subscription.ID}))
	require.NoError(t, err)
	v.clock.Set(attempts[0].RunAt)
	_, err = v.RunDue(ctx)
	require.NoError(t, err)

	v.proc.Script(processor.CardRequiresAction, processor.Fraudulent) // a hard decline
	_, err = v.Charge(ctx, pending.Subscription.ID, ChargeParams{ProductPrice: new(int64(3_00)), IdempotencyKey: "order-3"})
	require.NoError(t, err)
	_, err = v.CancelSubscription(ctx, soft.Subscription.ID)
	require.NoError(t, err)

	rep := v.whDispatch(v.whDispatcher(WebhookOptions{}))
	events := v.events()
	require.Equal(t, len(events), rep.Succeeded)
	byID := map[string]whReceipt{}
	for _, r := range rc.got() {
		require.NoError(t, r.VerifyErr)
		byID[r.ID] = r
	}
	first := map[string][]byte{}
	var order []string
	for _, ev := range events {
		r, ok := byID[ev.ID]
		require.True(t, ok, "%s not delivered", ev.Type)
		body, err := webhook.Payload(ev)
		require.NoError(t, err)
		require.Equal(t, string(body), string(r.Body))
		if _, seen := first[ev.Type]; !seen {
			first[ev.Type] = r.Body
			order = append(order, ev.Type)
		}
	}
	for _, typ := range []string{
		EventCustomerCreated, EventCustomerUpdated, EventCustomerDelinquent,
		EventBalanceChanged, EventBalanceLow,
		EventSubscriptionPending, EventSubscriptionActive, EventSubscriptionFailed, EventSubscriptionOnHold, EventSubscriptionCancelled,
		EventPaymentSucceeded, EventPaymentFailed, EventRefundSucceeded, EventRefundFailed,
		EventRetryScheduled, EventRetryUpcoming,
	} {
		_, ok := first[typ]
		require.True(t, ok, "no %s event in the run", typ)
	}

	if path := os.Getenv("COFFER_WEBHOOK_CATALOGUE"); path != "" {
		var out []byte
		for _, typ := range order {
			var pretty bytes.Buffer
			require.NoError(t, json.Indent(&pretty, first[typ], "", "  "))
			out = append(out, "### "+typ+"\n"+pretty.String()+"\n\n"...)
		}
		require.NoError(t, os.WriteFile(path, out, 0o644))
	}
}
