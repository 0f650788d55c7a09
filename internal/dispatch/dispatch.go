// Package dispatch is coffer's outbox dispatcher: it fans committed outbox
// events out into webhook deliveries and makes each delivery's signed
// attempts, with leases, caps and backoff. The root package's Dispatcher,
// NewDispatcher, RunDispatcher and DispatchDue are thin wrappers over a
// Service; WebhookOptions maps onto Config.
//
// Delivery is at least once and durable: a pass first fans each committed
// event out into one Delivery per matching, enabled endpoint (in the same
// transaction that marks the event dispatched), then claims due deliveries
// with a lease, sends each signed attempt outside any transaction, and
// records the outcome only if it still holds the lease.
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/cofferhq/coffer/clock"
	"github.com/cofferhq/coffer/internal/ids"
	"github.com/cofferhq/coffer/internal/logattr"
	"github.com/cofferhq/coffer/internal/txn"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/webhook"
)

// Config configures a Service. Store is required; every other field has a
// default, applied by WithDefaults (New applies it).
type Config struct {
	// Store holds the outbox, the endpoints and the deliveries.
	Store store.Store
	// Clock stamps deliveries and signs attempts; default clock.System.
	Clock clock.Clock
	// Sender makes the attempts. Nil means one built by NewSender from
	// Client, Timeout and AllowPrivateNetworks.
	Sender *webhook.Sender
	// Client, AllowPrivateNetworks and Timeout build the Sender (see
	// coffer.WebhookOptions). Timeout also bounds each attempt and must be
	// shorter than Lease; default DefaultTimeout.
	Client               *http.Client
	AllowPrivateNetworks bool
	Timeout              time.Duration
	// Encode builds the body of a delivery; nil means webhook.Payload. An
	// error fails the attempt (recorded, retried on the backoff).
	Encode func(ctx context.Context, ev webhook.Event) ([]byte, error)
	// Backoff is the retry schedule; default webhook.DefaultBackoff.
	Backoff webhook.Backoff
	// Concurrency caps the attempts in flight; default DefaultConcurrency.
	Concurrency int
	// PerEndpoint caps the attempts in flight to one endpoint; default
	// DefaultPerEndpoint.
	PerEndpoint int
	// Lease is how long a claimed delivery belongs to this Service;
	// default DefaultLease.
	Lease time.Duration
	// BatchSize bounds the events of one fan-out transaction; a claim looks
	// at up to 8 x BatchSize due deliveries. Default DefaultBatchSize.
	BatchSize int
	// PollInterval is how often Run looks for work when idle; default
	// DefaultPollInterval.
	PollInterval time.Duration
	// Owner names this Service in leases; default a random id.
	Owner string
	// OnError receives the errors Run meets, one call at a time.
	OnError func(error)
	// Tracer makes a span per delivery attempt (coffer.webhook.deliver);
	// nil makes none.
	Tracer trace.Tracer
}

// Defaults of Config.
const (
	DefaultTimeout      = webhook.DefaultTimeout
	DefaultConcurrency  = 8
	DefaultPerEndpoint  = 2
	DefaultLease        = time.Minute
	DefaultBatchSize    = 100
	DefaultPollInterval = time.Second
)

// MaxLastError bounds Delivery.LastError, in bytes.
const MaxLastError = 256

// Reasons recorded as LastError on deliveries dead-lettered without an
// attempt.
const (
	ReasonEndpointDisabled = "endpoint disabled"
	ReasonEndpointDeleted  = "endpoint deleted"
	ReasonEventMissing     = "event not found"
)

// WithDefaults returns c with every unset field given its default. It is
// the one place the defaults are applied.
func (c Config) WithDefaults() Config {
	if c.Clock == nil {
		c.Clock = clock.System{}
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Backoff == nil {
		c.Backoff = webhook.DefaultBackoff
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.PerEndpoint <= 0 {
		c.PerEndpoint = DefaultPerEndpoint
	}
	if c.Lease <= 0 {
		c.Lease = DefaultLease
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.Owner == "" {
		c.Owner = ids.New("disp")
	}
	return c
}

// Validate reports what is wrong with c (defaults applied). Its errors are
// configuration errors; the caller classifies them.
func (c Config) Validate() error {
	if c.Store == nil {
		return errors.New("webhook dispatcher has no store")
	}
	if len(c.Backoff) == 0 {
		return errors.New("webhook backoff has no attempts")
	}
	for _, d := range c.Backoff {
		if d < 0 {
			return errors.New("negative webhook backoff delay")
		}
	}
	if c.Lease <= c.Timeout {
		return fmt.Errorf("webhook lease %v must exceed the attempt timeout %v", c.Lease, c.Timeout)
	}
	return nil
}

// NewSender builds the Sender of a Service configured by c (defaults
// applied), or reports why its client cannot be used.
func NewSender(c Config) (*webhook.Sender, error) {
	s := &webhook.Sender{Client: c.Client, Timeout: c.Timeout, AllowPrivateNetworks: c.AllowPrivateNetworks}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("webhook client: %w (set AllowPrivateNetworks, or give an *http.Transport)", err)
	}
	return s, nil
}

// Report says what a DispatchDue call did (see coffer.DispatchReport).
type Report struct {
	Events       int
	Queued       int
	Attempted    int
	Succeeded    int
	Retrying     int
	DeadLettered int
	Dropped      int
	Released     int
	LostLease    int
}

// Service delivers outbox events to webhook endpoints. Its methods
// serialize: to run several, make several.
type Service struct {
	c      Config
	sender *webhook.Sender
	run    sync.Mutex // one DispatchDue or Run at a time
	hook   sync.Mutex // one OnError call at a time

	mu       sync.Mutex
	total    int                 // attempts in flight
	inflight map[string]int      // attempts in flight per endpoint
	sending  map[string]struct{} // deliveries in flight
	wake     chan struct{}       // an attempt finished: a slot is free
}

// New returns a Service configured by c, with defaults applied. Its errors
// are configuration errors.
func New(c Config) (*Service, error) {
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	sender := c.Sender
	if sender == nil {
		var err error
		if sender, err = NewSender(c); err != nil {
			return nil, err
		}
	}
	return &Service{
		c: c, sender: sender,
		inflight: map[string]int{},
		sending:  map[string]struct{}{},
		wake:     make(chan struct{}, 1),
	}, nil
}

// Owner returns the name this Service holds leases under.
func (s *Service) Owner() string { return s.c.Owner }

// DispatchDue fans out every undispatched event and makes every delivery
// attempt due now, returning when none is left due. If ctx ends, attempts
// in flight are abandoned and their deliveries released, pending again.
func (s *Service) DispatchDue(ctx context.Context) (Report, error) {
	s.run.Lock()
	defer s.run.Unlock()
	return s.serve(ctx, ctx, true)
}

// Run delivers until ctx ends, then lets the attempts in flight finish and
// records them, and returns ctx.Err(). Store errors go to OnError.
func (s *Service) Run(ctx context.Context) error {
	s.run.Lock()
	defer s.run.Unlock()
	_, _ = s.serve(ctx, context.WithoutCancel(ctx), false)
	return ctx.Err()
}

// serve is the dispatch loop. ctx stops claiming; sendCtx carries the
// attempts. With untilIdle it returns once nothing is due or in flight.
func (s *Service) serve(ctx, sendCtx context.Context, untilIdle bool) (Report, error) {
	var (
		rep  Report
		errs []error
		wg   sync.WaitGroup
	)
	var tick <-chan time.Time
	if !untilIdle {
		t := time.NewTicker(s.c.PollInterval)
		defer t.Stop()
		tick = t.C
	}
	fail := func(err error) {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return // shutting down: the store gave up because we asked it to
		}
		if !untilIdle {
			if s.c.OnError != nil {
				// Attempts fail from their own goroutines; the hook is
				// documented to be called one at a time.
				s.hook.Lock()
				defer s.hook.Unlock()
				s.c.OnError(err)
			}
			return
		}
		s.mu.Lock()
		errs = append(errs, err)
		s.mu.Unlock()
	}
	for ctx.Err() == nil {
		if err := s.fanOut(ctx, &rep); err != nil {
			fail(err)
		}
		jobs, busy, err := s.claim(ctx, &rep)
		if err != nil {
			fail(err)
		}
		for _, j := range jobs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.deliver(sendCtx, j, &rep); err != nil {
					fail(err)
				}
			}()
		}
		s.mu.Lock()
		idle := s.total == 0
		failed := len(errs) > 0
		s.mu.Unlock()
		// Idle means a round that began with nothing in flight claimed
		// nothing. Attempts that were in flight (busy) may have finished
		// since, rescheduling or freeing a slot; each finish wakes the
		// loop for another round.
		if untilIdle && (failed || len(jobs) == 0 && !busy && idle) {
			break
		}
		select {
		case <-ctx.Done():
		case <-s.wake:
		case <-tick:
		}
	}
	wg.Wait()
	if untilIdle && ctx.Err() != nil {
		errs = append(errs, ctx.Err())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return rep, errors.Join(errs...)
}

// fanOut turns undispatched events into deliveries, BatchSize events per
// transaction: each event's deliveries and its dispatched mark commit
// together, so a crash never loses or duplicates them.
func (s *Service) fanOut(ctx context.Context, rep *Report) error {
	for ctx.Err() == nil {
		// A read-only look first: most passes find nothing, and a write
		// transaction costs an fsync on bolt.
		var pending bool
		err := s.c.Store.View(ctx, func(tx store.Tx) error {
			evs, err := tx.UndispatchedEvents(1)
			pending = len(evs) > 0
			return err
		})
		if err != nil || !pending {
			return err
		}
		var events, queued int
		err = txn.Update(ctx, s.c.Store, func(tx store.Tx) error {
			var err error
			events, queued, err = s.fanOutBatch(tx)
			return err
		})
		if err != nil {
			return err
		}
		s.mu.Lock()
		rep.Events += events
		rep.Queued += queued
		s.mu.Unlock()
		if events < s.c.BatchSize {
			return nil
		}
	}
	return ctx.Err()
}

// fanOutBatch fans out one batch of undispatched events in tx.
func (s *Service) fanOutBatch(tx interface {
	store.Outbox
	store.Webhooks
}) (events, queued int, err error) {
	evs, err := tx.UndispatchedEvents(s.c.BatchSize)
	if err != nil || len(evs) == 0 {
		return 0, 0, err
	}
	eps, err := tx.Endpoints()
	if err != nil {
		return 0, 0, err
	}
	now := s.c.Clock.Now()
	for _, ev := range evs {
		for _, ep := range eps {
			if ep.Disabled || !webhook.Matches(ep, ev.Type) || ev.CreatedAt.Before(ep.CreatedAt) {
				continue
			}
			err := tx.PutDelivery(webhook.Delivery{
				ID: ids.New("dlv"), EventID: ev.ID, EndpointID: ep.ID, Status: webhook.DeliveryPending,
				RunAt: now, CreatedAt: now, UpdatedAt: now,
			})
			if err != nil {
				return 0, 0, err
			}
			queued++
		}
		if err := tx.MarkEventDispatched(ev.ID); err != nil {
			return 0, 0, err
		}
		events++
	}
	return events, queued, nil
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
func (s *Service) claim(ctx context.Context, rep *Report) (jobs []job, busy bool, err error) {
	s.mu.Lock()
	free := s.c.Concurrency - s.total
	inflight := make(map[string]int, len(s.inflight))
	for k, v := range s.inflight {
		inflight[k] = v
	}
	sending := make(map[string]struct{}, len(s.sending))
	for k := range s.sending {
		sending[k] = struct{}{}
	}
	busyBefore := s.total > 0
	s.mu.Unlock()
	if free <= 0 {
		return nil, true, nil
	}

	var due bool
	err = s.c.Store.View(ctx, func(tx store.Tx) error {
		// Our own attempts in flight may be listed (lease expired while
		// sending); one more than those shows real work.
		list, err := tx.DueDeliveries(s.c.Clock.Now(), len(sending)+1)
		due = !allIn(list, sending)
		return err
	})
	if err != nil || !due {
		return nil, busyBefore, err
	}

	var dropped int
	err = txn.Update(ctx, s.c.Store, func(tx store.Tx) error {
		var full bool
		jobs, dropped, full, err = s.claimIn(tx, free, inflight, sending)
		busy = busyBefore || full
		return err
	})
	if err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	rep.Dropped += dropped
	for _, j := range jobs {
		s.total++
		s.inflight[j.ep.ID]++
		s.sending[j.d.ID] = struct{}{}
	}
	s.mu.Unlock()
	return jobs, busy, nil
}

// claimIn is the transaction of claim: it claims up to free deliveries and
// dead-letters those that cannot be sent. full reports that it filled
// every free slot (more may be due).
func (s *Service) claimIn(tx interface {
	store.Outbox
	store.Webhooks
}, free int, inflight map[string]int, sending map[string]struct{}) (jobs []job, dropped int, full bool, err error) {
	now := s.c.Clock.Now()
	eps := map[string]*webhook.Endpoint{}
	claimed := map[string]int{}
	for k, v := range inflight {
		claimed[k] = v
	}
	// Deliveries whose endpoint is gone or disabled, or whose event is
	// missing, are dead-lettered instead of sent and take no slot: claim
	// again for the slots they would have taken. Each round removes what it
	// dead-letters from the due set, and the rounds are bounded like the
	// scan of the old claim.
	for round := 0; round < 8 && len(jobs) < free; round++ {
		list, err := tx.ClaimDueDeliveries(now, store.DeliveryClaim{
			Limit: free - len(jobs), Scan: 8 * s.c.BatchSize, PerEndpoint: s.c.PerEndpoint,
			InFlight: claimed, Skip: sending, Owner: s.c.Owner, LeaseUntil: now.Add(s.c.Lease),
		})
		if err != nil {
			return nil, 0, false, err
		}
		before := dropped
		for _, dl := range list {
			ep, seen := eps[dl.EndpointID]
			if !seen {
				e, err := tx.Endpoint(dl.EndpointID)
				switch {
				case errors.Is(err, store.ErrNotFound):
				case err != nil:
					return nil, 0, false, err
				default:
					// A previous secret past its grace period no longer
					// signs; take it out of the store too.
					if e.RetirePreviousSecret(now) {
						if err := tx.PutEndpoint(e); err != nil {
							return nil, 0, false, err
						}
					}
					ep = &e
				}
				eps[dl.EndpointID] = ep
			}
			reason := ""
			switch {
			case ep == nil:
				reason = ReasonEndpointDeleted
			case ep.Disabled:
				reason = ReasonEndpointDisabled
			}
			var ev webhook.Event
			if reason == "" {
				ev, err = tx.Event(dl.EventID)
				if errors.Is(err, store.ErrNotFound) {
					reason = ReasonEventMissing
				} else if err != nil {
					return nil, 0, false, err
				}
			}
			if reason != "" {
				DeadLetter(&dl, reason, now)
				dropped++
				if err := tx.PutDelivery(dl); err != nil {
					return nil, 0, false, err
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
	return jobs, dropped, len(jobs) >= free, nil
}

func allIn(list []webhook.Delivery, set map[string]struct{}) bool {
	for _, d := range list {
		if _, ok := set[d.ID]; !ok {
			return false
		}
	}
	return true
}

// errEncode marks an attempt that failed because Config.Encode did.
var errEncode = errors.New("not sent: encoding the body failed")

// attempt makes one attempt of a claimed delivery: its body from Encode (or
// webhook.Payload), signed and sent. It returns the outcome and the line
// to record as LastError when it failed.
func (s *Service) attempt(ctx context.Context, j job) (webhook.Result, string) {
	now := s.c.Clock.Now()
	if s.c.Encode == nil {
		res := s.sender.Send(ctx, j.ep, j.ev, now)
		return res, res.Summary()
	}
	body, err := s.c.Encode(ctx, j.ev)
	if err != nil {
		// The application's encoder failed: its message is the
		// application's own, not an endpoint's answer, so it is recorded.
		return webhook.Result{Err: fmt.Errorf("%w: %w", errEncode, err)}, errEncode.Error() + ": " + err.Error()
	}
	res := s.sender.SendBody(ctx, j.ep, j.ev, body, now)
	return res, res.Summary()
}

// deliver makes one attempt of a claimed delivery and records it.
func (s *Service) deliver(ctx context.Context, j job, rep *Report) error {
	defer func() {
		s.mu.Lock()
		s.total--
		if s.inflight[j.ep.ID]--; s.inflight[j.ep.ID] <= 0 {
			delete(s.inflight, j.ep.ID)
		}
		delete(s.sending, j.d.ID)
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}()
	var span trace.Span
	if s.c.Tracer != nil {
		ctx, span = s.c.Tracer.Start(ctx, "coffer.webhook.deliver", trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.String("coffer.delivery_id", j.d.ID), attribute.String("coffer.event_id", j.ev.ID),
				attribute.String("coffer.endpoint_id", j.ep.ID), attribute.String("event_type", j.ev.Type),
				attribute.String("coffer.customer_id", j.ev.CustomerID), attribute.Int("coffer.attempt", j.d.Attempts+1)))
		defer span.End()
	}
	res, summary := s.attempt(ctx, j)
	abandoned := ctx.Err() != nil && !res.OK()
	if span != nil {
		if res.StatusCode != 0 {
			span.SetAttributes(attribute.Int("http.response.status_code", res.StatusCode))
		}
		if !res.OK() {
			span.SetStatus(codes.Error, LastError(summary))
		}
	}

	var outcome func(*Report)
	result := "lost_lease"
	// The outcome is recorded even when ctx has ended: the attempt was made.
	err := txn.Update(context.WithoutCancel(ctx), s.c.Store, func(tx store.Tx) error {
		cur, err := tx.Delivery(j.d.ID)
		if errors.Is(err, store.ErrNotFound) {
			outcome = func(r *Report) { r.LostLease++ }
			return nil
		}
		if err != nil {
			return err
		}
		if cur.Status != webhook.DeliveryClaimed || cur.LeaseOwner != s.c.Owner {
			outcome = func(r *Report) { r.LostLease++ }
			return nil // retaken after our lease expired, or dead-lettered
		}
		now := s.c.Clock.Now()
		cur.LeaseOwner, cur.UpdatedAt = "", now
		switch {
		case abandoned:
			cur.Status, cur.RunAt = webhook.DeliveryPending, now
			outcome, result = func(r *Report) { r.Released++ }, "released"
		case res.OK():
			cur.Attempts++
			cur.Status, cur.LastStatus, cur.LastError, cur.DeliveredAt = webhook.DeliverySucceeded, res.StatusCode, "", now
			outcome, result = func(r *Report) { r.Attempted++; r.Succeeded++ }, "succeeded"
		default:
			cur.Attempts++
			cur.LastStatus, cur.LastError = res.StatusCode, LastError(summary)
			if delay, ok := s.retryDelay(cur.Attempts, res.RetryAfter); ok {
				cur.Status, cur.RunAt = webhook.DeliveryPending, now.Add(delay)
				outcome, result = func(r *Report) { r.Attempted++; r.Retrying++ }, "retrying"
			} else {
				cur.Status = webhook.DeliveryFailed
				outcome, result = func(r *Report) { r.Attempted++; r.DeadLettered++ }, "failed"
			}
		}
		return tx.PutDelivery(cur)
	})
	if err != nil {
		// The lease expires and the delivery is attempted again.
		if span != nil {
			span.RecordError(err)
		}
		return logattr.Wrap(fmt.Errorf("coffer: recording webhook delivery %s: %w", j.d.ID, err),
			slog.String("delivery_id", j.d.ID), slog.String("event_id", j.ev.ID), slog.String("endpoint_id", j.ep.ID),
			slog.String("customer_id", j.ev.CustomerID))
	}
	if span != nil {
		span.SetAttributes(attribute.String("outcome", result))
	}
	s.mu.Lock()
	outcome(rep)
	s.mu.Unlock()
	return nil
}

// retryDelay is the wait before the next attempt after attempts failed
// ones, and false when the schedule is exhausted. An endpoint's Retry-After
// can lengthen the wait up to the schedule's longest delay, never shorten it.
func (s *Service) retryDelay(attempts int, retryAfter time.Duration) (time.Duration, bool) {
	delay, ok := s.c.Backoff.Next(attempts)
	if !ok || retryAfter <= delay {
		return delay, ok
	}
	longest := delay
	for _, b := range s.c.Backoff {
		longest = max(longest, b)
	}
	return min(retryAfter, longest), true
}

// DeadLetter marks d failed without an attempt, recording why.
func DeadLetter(d *webhook.Delivery, reason string, now time.Time) {
	d.Status, d.LeaseOwner, d.LastError, d.UpdatedAt = webhook.DeliveryFailed, "", reason, now
}

// LastError renders an attempt's outcome for Delivery.LastError: one line
// of valid UTF-8, at most MaxLastError bytes. It is given
// webhook.Result.Summary, which never holds the response body, the URL or
// its query and credentials: ListDeliveries shows LastError to whoever
// registered the endpoint, and that must not let them read what an
// arbitrary host answers.
func LastError(s string) string {
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "\uFFFD")), " ")
	if len(s) <= MaxLastError {
		return s
	}
	cut := MaxLastError - len("...")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
