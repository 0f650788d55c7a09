package coffer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/webhook"
)

// WebhookOptions configures a webhook Dispatcher. The zero value is ready
// to use.
type WebhookOptions struct {
	// Client sends the requests. Nil means a client of the dispatcher's
	// own. Redirects are never followed, whatever the client: a 3xx is a
	// failed attempt, and the endpoint's URL should be updated instead.
	// Unless AllowPrivateNetworks is set, the client's *http.Transport is
	// cloned with the destination guard as its dialer and no proxy; a
	// client whose Transport is not an *http.Transport (or dials TLS
	// itself) cannot be guarded and NewDispatcher refuses it (see
	// webhook.Sender.Client).
	Client *http.Client
	// AllowPrivateNetworks lets deliveries go to loopback, private
	// (10/8, 172.16/12, 192.168/16, fc00::/7), link-local (169.254/16, the
	// cloud metadata service), carrier-grade NAT and other special-purpose
	// addresses. By default they are refused when connecting, on the
	// resolved address, and the attempt fails with LastError "connect
	// refused: destination not allowed (...)": endpoint URLs come from
	// whoever may register one, and must not reach into the network coffer
	// runs in. Set it for development, or when every receiver is internal
	// by design. (`coffer serve` will expose it as -webhooks-allow-private.)
	AllowPrivateNetworks bool
	// Timeout bounds each attempt; default webhook.DefaultTimeout (15
	// seconds, as the Standard Webhooks specification recommends). It must be shorter
	// than Lease.
	Timeout time.Duration
	// Backoff is the retry schedule; default webhook.DefaultBackoff (eight
	// attempts over about 27 hours). After its last attempt fails the
	// delivery is dead-lettered (status failed).
	Backoff webhook.Backoff
	// Concurrency caps the attempts this dispatcher has in flight; default 8.
	Concurrency int
	// PerEndpoint caps the attempts in flight to one endpoint, so a slow or
	// hanging endpoint takes at most that many slots and the others keep
	// being served; default 2.
	PerEndpoint int
	// Lease is how long a claimed delivery belongs to this dispatcher. One
	// that crashes mid-delivery loses its claims when the lease expires, and
	// another dispatcher (or the restarted one) retakes them; default 1
	// minute.
	Lease time.Duration
	// BatchSize bounds the events one fan-out transaction handles; default
	// 100. A claim looks at up to 8 x BatchSize due deliveries to find work
	// for endpoints that are not at their PerEndpoint cap.
	BatchSize int
	// PollInterval is how often Run looks for new events and due retries
	// when it is idle; default 1 second.
	PollInterval time.Duration
	// Owner names this dispatcher in leases; default a random id. Give each
	// concurrent dispatcher its own.
	Owner string
	// OnError receives the errors Run meets (a failing store); Run keeps
	// going. Failed deliveries are not errors: they are recorded on the
	// delivery. Attempts run concurrently, but a Dispatcher serializes its
	// calls to OnError, so the hook needs no locking of its own (one shared
	// by several Dispatchers still does). A slow hook delays the attempt
	// that met the error, not the others' sending.
	OnError func(error)
}

// Webhook dispatcher defaults.
const (
	DefaultWebhookTimeout      = webhook.DefaultTimeout // one default: the sender's
	DefaultWebhookConcurrency  = 8
	DefaultWebhookPerEndpoint  = 2
	DefaultWebhookLease        = time.Minute
	DefaultWebhookBatchSize    = 100
	DefaultWebhookPollInterval = time.Second
)

// maxLastError bounds Delivery.LastError.
const maxLastError = 256

func (o WebhookOptions) withDefaults() WebhookOptions {
	if o.Timeout <= 0 {
		o.Timeout = DefaultWebhookTimeout
	}
	if o.Backoff == nil {
		o.Backoff = webhook.DefaultBackoff
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultWebhookConcurrency
	}
	if o.PerEndpoint <= 0 {
		o.PerEndpoint = DefaultWebhookPerEndpoint
	}
	if o.Lease <= 0 {
		o.Lease = DefaultWebhookLease
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultWebhookBatchSize
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultWebhookPollInterval
	}
	if o.Owner == "" {
		o.Owner = newID("disp")
	}
	return o
}

func (o WebhookOptions) validate() error {
	if len(o.Backoff) == 0 {
		return fmt.Errorf("%w: webhook backoff has no attempts", ErrInvalidConfig)
	}
	for _, d := range o.Backoff {
		if d < 0 {
			return fmt.Errorf("%w: negative webhook backoff delay", ErrInvalidConfig)
		}
	}
	if o.Lease <= o.Timeout {
		return fmt.Errorf("%w: webhook lease %v must exceed the attempt timeout %v", ErrInvalidConfig, o.Lease, o.Timeout)
	}
	return nil
}

// newSender builds the Sender of a dispatcher with options o (defaults
// applied), or reports why its client cannot be used.
func (o WebhookOptions) newSender() (*webhook.Sender, error) {
	s := &webhook.Sender{Client: o.Client, Timeout: o.Timeout, AllowPrivateNetworks: o.AllowPrivateNetworks}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("%w: webhook client: %w (set AllowPrivateNetworks, or give an *http.Transport)", ErrInvalidConfig, err)
	}
	return s, nil
}

// DispatchReport says what a DispatchDue call did.
type DispatchReport struct {
	Events    int // outbox events fanned out to endpoints
	Queued    int // deliveries created by the fan-out
	Attempted int // HTTP attempts made and recorded
	Succeeded int
	// Retrying counts failed attempts with another one scheduled.
	Retrying int
	// DeadLettered counts failed attempts that exhausted the backoff.
	DeadLettered int
	// Dropped counts deliveries dead-lettered without an attempt: their
	// endpoint was deleted or disabled.
	Dropped int
	// Released counts attempts abandoned because ctx ended: the delivery is
	// pending again, and the attempt is not counted.
	Released int
	// LostLease counts outcomes not recorded because the delivery had
	// meanwhile been retaken by another dispatcher (or dead-lettered).
	LostLease int
}

// Dispatcher delivers outbox events to webhook endpoints.
//
// Delivery is at least once and durable: a pass first fans each committed
// event out into one Delivery per matching, enabled endpoint (in the same
// transaction that marks the event dispatched), then claims due deliveries
// with a lease, sends each signed attempt outside any transaction, and
// records the outcome only if it still holds the lease. A dispatcher that
// dies between claim and record loses its claims when the lease expires;
// the delivery is then attempted again (the receiver may see that attempt
// twice and deduplicates on webhook-id). Claims are made in one store
// transaction, so several dispatchers — goroutines, or processes sharing a
// PostgreSQL store — never hold the same delivery at once; give each its
// own Owner.
//
// Attempts run concurrently, at most Concurrency in all and PerEndpoint per
// endpoint; a delivery is claimed only when a slot is free for it, so a
// claimed delivery is always being sent and never waits out its lease
// behind a slow endpoint. Deliveries to one endpoint may arrive out of
// order; the envelope's timestamp orders them.
//
// A Dispatcher's methods serialize: to run several, make several.
type Dispatcher struct {
	e      *Engine
	o      WebhookOptions
	sender *webhook.Sender
	run    sync.Mutex // one DispatchDue or Run at a time
	hook   sync.Mutex // one OnError call at a time

	mu       sync.Mutex
	total    int                 // attempts in flight
	inflight map[string]int      // attempts in flight per endpoint
	sending  map[string]struct{} // deliveries in flight
	wake     chan struct{}       // an attempt finished: a slot is free
}

// NewDispatcher returns a Dispatcher for the engine's outbox.
func (e *Engine) NewDispatcher(o WebhookOptions) (*Dispatcher, error) {
	return e.newDispatcher(o, nil)
}

// newDispatcher makes a Dispatcher with sender, or a new one if nil.
func (e *Engine) newDispatcher(o WebhookOptions, sender *webhook.Sender) (*Dispatcher, error) {
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	if sender == nil {
		var err error
		if sender, err = o.newSender(); err != nil {
			return nil, err
		}
	}
	return &Dispatcher{
		e: e, o: o,
		sender:   sender,
		inflight: map[string]int{},
		sending:  map[string]struct{}{},
		wake:     make(chan struct{}, 1),
	}, nil
}

// Owner returns the name this dispatcher holds leases under.
func (d *Dispatcher) Owner() string { return d.o.Owner }

// DispatchDue delivers with a dispatcher of default options (see
// Dispatcher.DispatchDue). Applications normally run RunDispatcher instead.
func (e *Engine) DispatchDue(ctx context.Context) (DispatchReport, error) {
	// One Sender for every call, so a Client of the options keeps its
	// connection pool across calls.
	e.webhookSender.once.Do(func() {
		e.webhookSender.s, e.webhookSender.err = e.webhooks.withDefaults().newSender()
	})
	if e.webhookSender.err != nil {
		return DispatchReport{}, e.webhookSender.err
	}
	d, err := e.newDispatcher(e.webhooks, e.webhookSender.s)
	if err != nil {
		return DispatchReport{}, err
	}
	return d.DispatchDue(ctx)
}

// RunDispatcher delivers webhooks until ctx ends (see Dispatcher.Run).
func (e *Engine) RunDispatcher(ctx context.Context, o WebhookOptions) error {
	d, err := e.NewDispatcher(o)
	if err != nil {
		return err
	}
	return d.Run(ctx)
}

// DispatchDue fans out every undispatched event and makes every delivery
// attempt that is due now, returning when none is left due (failed attempts
// are rescheduled per the backoff, usually for later). It is one pass of Run,
// for tests, cron-style jobs and serverless callers. If ctx ends, attempts in
// flight are abandoned and their deliveries released, pending again.
func (d *Dispatcher) DispatchDue(ctx context.Context) (DispatchReport, error) {
	d.run.Lock()
	defer d.run.Unlock()
	return d.serve(ctx, ctx, true)
}

// Run delivers webhooks until ctx ends: it attempts due deliveries as soon
// as slots are free, and looks for new events and due retries every
// PollInterval. Store errors go to OnError and do not stop it. When ctx
// ends, Run stops claiming, lets the attempts in flight finish (each bounded
// by Timeout) and records them, then returns ctx.Err().
func (d *Dispatcher) Run(ctx context.Context) error {
	d.run.Lock()
	defer d.run.Unlock()
	_, _ = d.serve(ctx, context.WithoutCancel(ctx), false)
	return ctx.Err()
}

// serve is the dispatch loop. ctx stops claiming; sendCtx carries the
// attempts. With untilIdle it returns once nothing is due or in flight.
func (d *Dispatcher) serve(ctx, sendCtx context.Context, untilIdle bool) (DispatchReport, error) {
	var (
		rep  DispatchReport
		errs []error
		wg   sync.WaitGroup
	)
	var tick <-chan time.Time
	if !untilIdle {
		t := time.NewTicker(d.o.PollInterval)
		defer t.Stop()
		tick = t.C
	}
	fail := func(err error) {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return // shutting down: the store gave up because we asked it to
		}
		if !untilIdle {
			if d.o.OnError != nil {
				// Attempts fail from their own goroutines; the hook is
				// documented to be called one at a time.
				d.hook.Lock()
				defer d.hook.Unlock()
				d.o.OnError(err)
			}
			return
		}
		d.mu.Lock()
		errs = append(errs, err)
		d.mu.Unlock()
	}
	for ctx.Err() == nil {
		if err := d.fanOut(ctx, &rep); err != nil {
			fail(err)
		}
		jobs, busy, err := d.claim(ctx, &rep)
		if err != nil {
			fail(err)
		}
		for _, j := range jobs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := d.deliver(sendCtx, j, &rep); err != nil {
					fail(err)
				}
			}()
		}
		d.mu.Lock()
		idle := d.total == 0
		failed := len(errs) > 0
		d.mu.Unlock()
		// Idle means a round that began with nothing in flight claimed
		// nothing. Attempts that were in flight (busy) may have finished
		// since, rescheduling or freeing a slot; each finish wakes the
		// loop for another round.
		if untilIdle && (failed || len(jobs) == 0 && !busy && idle) {
			break
		}
		select {
		case <-ctx.Done():
		case <-d.wake:
		case <-tick:
		}
	}
	wg.Wait()
	if untilIdle && ctx.Err() != nil {
		errs = append(errs, ctx.Err())
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return rep, errors.Join(errs...)
}

// fanOut turns undispatched events into deliveries, BatchSize events per
// transaction: each event's deliveries and its dispatched mark commit
// together, so a crash never loses or duplicates them.
func (d *Dispatcher) fanOut(ctx context.Context, rep *DispatchReport) error {
	for ctx.Err() == nil {
		// A read-only look first: most passes find nothing, and a write
		// transaction costs an fsync on bolt.
		var pending bool
		err := d.e.store.View(ctx, func(tx store.Tx) error {
			evs, err := tx.UndispatchedEvents(1)
			pending = len(evs) > 0
			return err
		})
		if err != nil || !pending {
			return err
		}
		var events, queued int
		err = d.e.update(ctx, func(tx store.Tx) error {
			events, queued = 0, 0
			evs, err := tx.UndispatchedEvents(d.o.BatchSize)
			if err != nil || len(evs) == 0 {
				return err
			}
			eps, err := tx.Endpoints()
			if err != nil {
				return err
			}
			now := d.e.clock.Now()
			for _, ev := range evs {
				for _, ep := range eps {
					if ep.Disabled || !webhook.Matches(ep, ev.Type) || ev.CreatedAt.Before(ep.CreatedAt) {
						continue
					}
					err := tx.PutDelivery(webhook.Delivery{
						ID: newID("dlv"), EventID: ev.ID, EndpointID: ep.ID, Status: webhook.DeliveryPending,
						RunAt: now, CreatedAt: now, UpdatedAt: now,
					})
					if err != nil {
						return err
					}
					queued++
				}
				if err := tx.MarkEventDispatched(ev.ID); err != nil {
					return err
				}
				events++
			}
			return nil
		})
		if err != nil {
			return err
		}
		d.mu.Lock()
		rep.Events += events
		rep.Queued += queued
		d.mu.Unlock()
		if events < d.o.BatchSize {
			return nil
		}
	}
	return ctx.Err()
}

// job is one claimed delivery with what sending it needs.
type job struct {
	d  webhook.Delivery
	ep webhook.Endpoint
	ev webhook.Event
}

// claim leases as many due deliveries as there are free slots, respecting
// the per-endpoint cap, in one transaction. Deliveries whose endpoint is
// gone or disabled are dead-lettered on the way. busy reports attempts in
// flight when the claim began, or due deliveries left for want of a slot:
// either way, more may be due once those attempts finish.
func (d *Dispatcher) claim(ctx context.Context, rep *DispatchReport) (jobs []job, busy bool, err error) {
	d.mu.Lock()
	free := d.o.Concurrency - d.total
	inflight := make(map[string]int, len(d.inflight))
	for k, v := range d.inflight {
		inflight[k] = v
	}
	sending := make(map[string]struct{}, len(d.sending))
	for k := range d.sending {
		sending[k] = struct{}{}
	}
	busyBefore := d.total > 0
	d.mu.Unlock()
	if free <= 0 {
		return nil, true, nil
	}
	scan := 8 * d.o.BatchSize

	var due bool
	err = d.e.store.View(ctx, func(tx store.Tx) error {
		// Our own attempts in flight may be listed (lease expired while
		// sending); one more than those shows real work.
		list, err := tx.DueDeliveries(d.e.clock.Now(), len(sending)+1)
		due = !allIn(list, sending)
		return err
	})
	if err != nil || !due {
		return nil, busyBefore, err
	}

	var dropped int
	err = d.e.update(ctx, func(tx store.Tx) error {
		jobs, dropped, busy = jobs[:0], 0, busyBefore
		now := d.e.clock.Now()
		eps := map[string]*webhook.Endpoint{}
		claimed := map[string]int{}
		for k, v := range inflight {
			claimed[k] = v
		}
		// Deliveries whose endpoint is gone or disabled, or whose event
		// is missing, are dead-lettered instead of sent and take no slot:
		// claim again for the slots they would have taken. Each round
		// removes what it dead-letters from the due set, and the rounds
		// are bounded like the scan of the old claim.
		for round := 0; round < 8 && len(jobs) < free; round++ {
			list, err := tx.ClaimDueDeliveries(now, store.DeliveryClaim{
				Limit: free - len(jobs), Scan: scan, PerEndpoint: d.o.PerEndpoint,
				InFlight: claimed, Skip: sending, Owner: d.o.Owner, LeaseUntil: now.Add(d.o.Lease),
			})
			if err != nil {
				return err
			}
			before := dropped
			for _, dl := range list {
				ep, seen := eps[dl.EndpointID]
				if !seen {
					e, err := tx.Endpoint(dl.EndpointID)
					switch {
					case errors.Is(err, store.ErrNotFound):
					case err != nil:
						return err
					default:
						// A previous secret past its grace period no
						// longer signs; take it out of the store too.
						if e.RetirePreviousSecret(now) {
							if err := tx.PutEndpoint(e); err != nil {
								return err
							}
						}
						ep = &e
					}
					eps[dl.EndpointID] = ep
				}
				reason := ""
				switch {
				case ep == nil:
					reason = reasonEndpointDeleted
				case ep.Disabled:
					reason = reasonEndpointDisabled
				}
				var ev webhook.Event
				if reason == "" {
					ev, err = tx.Event(dl.EventID)
					if errors.Is(err, store.ErrNotFound) {
						reason = reasonEventMissing
					} else if err != nil {
						return err
					}
				}
				if reason != "" {
					deadLetter(&dl, reason, now)
					dropped++
					if err := tx.PutDelivery(dl); err != nil {
						return err
					}
					continue
				}
				claimed[ep.ID]++
				jobs = append(jobs, job{d: dl, ep: *ep, ev: ev})
			}
			if dropped == before {
				break // nothing dead-lettered: the claim found all it could
			}
		}
		if len(jobs) >= free {
			busy = true // more may be due than there were slots
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	d.mu.Lock()
	rep.Dropped += dropped
	for _, j := range jobs {
		d.total++
		d.inflight[j.ep.ID]++
		d.sending[j.d.ID] = struct{}{}
	}
	d.mu.Unlock()
	return jobs, busy, nil
}

func allIn(list []webhook.Delivery, set map[string]struct{}) bool {
	for _, d := range list {
		if _, ok := set[d.ID]; !ok {
			return false
		}
	}
	return true
}

// deliver makes one attempt of a claimed delivery and records it.
func (d *Dispatcher) deliver(ctx context.Context, j job, rep *DispatchReport) error {
	defer func() {
		d.mu.Lock()
		d.total--
		if d.inflight[j.ep.ID]--; d.inflight[j.ep.ID] <= 0 {
			delete(d.inflight, j.ep.ID)
		}
		delete(d.sending, j.d.ID)
		d.mu.Unlock()
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}()
	res := d.sender.Send(ctx, j.ep, j.ev, d.e.clock.Now())
	abandoned := ctx.Err() != nil && !res.OK()

	var outcome func(*DispatchReport)
	// The outcome is recorded even when ctx has ended: the attempt was made.
	err := d.e.update(context.WithoutCancel(ctx), func(tx store.Tx) error {
		cur, err := tx.Delivery(j.d.ID)
		if errors.Is(err, store.ErrNotFound) {
			outcome = func(r *DispatchReport) { r.LostLease++ }
			return nil
		}
		if err != nil {
			return err
		}
		if cur.Status != webhook.DeliveryClaimed || cur.LeaseOwner != d.o.Owner {
			outcome = func(r *DispatchReport) { r.LostLease++ }
			return nil // retaken after our lease expired, or dead-lettered
		}
		now := d.e.clock.Now()
		cur.LeaseOwner, cur.UpdatedAt = "", now
		switch {
		case abandoned:
			cur.Status, cur.RunAt = webhook.DeliveryPending, now
			outcome = func(r *DispatchReport) { r.Released++ }
		case res.OK():
			cur.Attempts++
			cur.Status, cur.LastStatus, cur.LastError, cur.DeliveredAt = webhook.DeliverySucceeded, res.StatusCode, "", now
			outcome = func(r *DispatchReport) { r.Attempted++; r.Succeeded++ }
		default:
			cur.Attempts++
			cur.LastStatus, cur.LastError = res.StatusCode, lastError(res.Summary())
			if delay, ok := d.retryDelay(cur.Attempts, res.RetryAfter); ok {
				cur.Status, cur.RunAt = webhook.DeliveryPending, now.Add(delay)
				outcome = func(r *DispatchReport) { r.Attempted++; r.Retrying++ }
			} else {
				cur.Status = webhook.DeliveryFailed
				outcome = func(r *DispatchReport) { r.Attempted++; r.DeadLettered++ }
			}
		}
		return tx.PutDelivery(cur)
	})
	if err != nil {
		// The lease expires and the delivery is attempted again.
		return fmt.Errorf("coffer: recording webhook delivery %s: %w", j.d.ID, err)
	}
	d.mu.Lock()
	outcome(rep)
	d.mu.Unlock()
	return nil
}

// retryDelay is the wait before the next attempt after attempts failed
// ones, and false when the schedule is exhausted. An endpoint's Retry-After
// can lengthen the wait up to the schedule's longest delay, never shorten it.
func (d *Dispatcher) retryDelay(attempts int, retryAfter time.Duration) (time.Duration, bool) {
	delay, ok := d.o.Backoff.Next(attempts)
	if !ok || retryAfter <= delay {
		return delay, ok
	}
	longest := delay
	for _, b := range d.o.Backoff {
		longest = max(longest, b)
	}
	return min(retryAfter, longest), true
}

// lastError renders an attempt's outcome for Delivery.LastError: one line
// of valid UTF-8, bounded. It is given webhook.Result.Summary, which never
// holds the response body, the URL or its query and credentials: ListDeliveries
// shows LastError to whoever registered the endpoint, and that must not let
// them read what an arbitrary host answers.
func lastError(s string) string {
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "\uFFFD")), " ")
	if len(s) <= maxLastError {
		return s
	}
	cut := maxLastError - len("...")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
