package coffer

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/cofferhq/coffer/internal/dispatch"
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
	// Encode builds the body of a delivery of ev; nil means
	// webhook.Payload's envelope (Standard Webhooks: type, timestamp,
	// data). The body is signed as is, and sent with the same webhook-id,
	// webhook-timestamp and webhook-signature headers. An error fails the
	// attempt like a network error: it is recorded on the delivery
	// (LastError "not sent: encoding the body failed: ...") and the
	// attempt is retried on the backoff. Encode runs for every attempt,
	// concurrently, so it must be safe for concurrent use.
	Encode func(ctx context.Context, ev webhook.Event) ([]byte, error)
}

// Webhook dispatcher defaults.
const (
	DefaultWebhookTimeout      = dispatch.DefaultTimeout // one default: the sender's
	DefaultWebhookConcurrency  = dispatch.DefaultConcurrency
	DefaultWebhookPerEndpoint  = dispatch.DefaultPerEndpoint
	DefaultWebhookLease        = dispatch.DefaultLease
	DefaultWebhookBatchSize    = dispatch.DefaultBatchSize
	DefaultWebhookPollInterval = dispatch.DefaultPollInterval
)

// config maps o onto the dispatcher service's configuration (defaults are
// the service's to apply).
func (e *Engine) dispatchConfig(o WebhookOptions) dispatch.Config {
	return dispatch.Config{
		Store: e.store, Clock: e.clock, Client: o.Client, AllowPrivateNetworks: o.AllowPrivateNetworks,
		Timeout: o.Timeout, Encode: o.Encode, Backoff: o.Backoff, Concurrency: o.Concurrency,
		PerEndpoint: o.PerEndpoint, Lease: o.Lease, BatchSize: o.BatchSize, PollInterval: o.PollInterval,
		Owner: o.Owner, OnError: o.OnError, Tracer: e.tracer,
	}
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
	s *dispatch.Service
}

// NewDispatcher returns a Dispatcher for the engine's outbox.
func (e *Engine) NewDispatcher(o WebhookOptions) (*Dispatcher, error) {
	return e.newDispatcher(o, nil)
}

// newDispatcher makes a Dispatcher with sender, or a new one if nil.
func (e *Engine) newDispatcher(o WebhookOptions, sender *webhook.Sender) (*Dispatcher, error) {
	c := e.dispatchConfig(o)
	c.Sender = sender
	s, err := dispatch.New(c)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return &Dispatcher{s: s}, nil
}

// Owner returns the name this dispatcher holds leases under.
func (d *Dispatcher) Owner() string { return d.s.Owner() }

// DispatchDue delivers with a dispatcher of default options (see
// Dispatcher.DispatchDue). Applications normally run RunDispatcher instead.
func (e *Engine) DispatchDue(ctx context.Context) (DispatchReport, error) {
	// One Sender for every call, so a Client of the options keeps its
	// connection pool across calls.
	e.webhookSender.once.Do(func() {
		e.webhookSender.s, e.webhookSender.err = dispatch.NewSender(e.dispatchConfig(e.webhooks).WithDefaults())
		if e.webhookSender.err != nil {
			e.webhookSender.err = fmt.Errorf("%w: %w", ErrInvalidConfig, e.webhookSender.err)
		}
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
	rep, err := d.s.DispatchDue(ctx)
	return DispatchReport(rep), err
}

// Run delivers webhooks until ctx ends: it attempts due deliveries as soon
// as slots are free, and looks for new events and due retries every
// PollInterval. Store errors go to OnError and do not stop it. When ctx
// ends, Run stops claiming, lets the attempts in flight finish (each bounded
// by Timeout) and records them, then returns ctx.Err().
func (d *Dispatcher) Run(ctx context.Context) error { return d.s.Run(ctx) }
