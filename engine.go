package coffer

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/cofferhq/coffer/clock"
	"github.com/cofferhq/coffer/fx"
	"github.com/cofferhq/coffer/internal/billing"
	"github.com/cofferhq/coffer/internal/charge"
	"github.com/cofferhq/coffer/internal/ids"
	"github.com/cofferhq/coffer/internal/maintenance"
	"github.com/cofferhq/coffer/internal/txn"
	"github.com/cofferhq/coffer/invoice"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/bolt"
	"github.com/cofferhq/coffer/webhook"
)

// Engine is the billing engine: it runs every use case as one store
// transaction, calls the payment processor outside any transaction, and
// writes an outbox event with every state change. An Engine is safe for
// concurrent use; several Engines may share one PostgreSQL store.
type Engine struct {
	store      store.Store
	clock      clock.Clock
	currencies money.Set
	processor  processor.Processor
	policy     retry.Policy
	retry      RetryOptions
	lowBalance map[string]int64
	webhooks   WebhookOptions
	retention  Retention
	// idemRetention is WithIdempotencyRetention's (0: the default).
	idemRetention time.Duration
	// retrier and pruner are the background services of RunDue and
	// Prune, built by New from retry and retention.
	retrier *maintenance.Retrier
	pruner  *maintenance.Pruner
	// billing holds the rules of what a settled payment does to its
	// subscription, its retry chain and the customer's standing.
	billing *billing.Service
	// charges is the money path: charges, refunds, reconciliation.
	charges   *charge.Service
	ownsStore bool
	// fx and fxFeeBP are WithFX's and WithAdaptiveFee's: adaptive
	// currency is on when fx is set (see fxcharge.go).
	fx      fx.Source
	fxFeeBP int64
	// noProcessor records WithoutProcessor: no processor on purpose.
	noProcessor bool
	log         *slog.Logger
	onError     func(error)
	tracer      trace.Tracer // WithTracerProvider; nil: no spans of the engine's own
	units       *unitCache   // credit units: WithUnits and those read from the store (units.go)

	// issuer is WithIssuer's: the seller shown on invoices.
	issuer invoice.Issuer
	// webhookSender is DispatchDue's, built from webhooks on first use.
	webhookSender struct {
		once sync.Once
		s    *webhook.Sender
		err  error
	}
}

// Option configures an Engine.
type Option func(*Engine) error

// WithClock sets the clock (default clock.System). Tests pass a *clock.Test.
func WithClock(c clock.Clock) Option {
	return func(e *Engine) error { e.clock = c; return nil }
}

// WithCurrencies sets the ISO-4217 currencies the engine accepts (default
// USD and INR). Every customer gets a wallet balance in each.
func WithCurrencies(codes ...string) Option {
	return func(e *Engine) error {
		if len(codes) == 0 {
			return fmt.Errorf("%w: at least one currency", ErrInvalidConfig)
		}
		s, err := money.NewSet(codes...)
		if err != nil {
			return err
		}
		e.currencies = s
		return nil
	}
}

// WithProcessor sets the payment processor used for mandates, charges and
// refunds. An engine needs it, or WithoutProcessor.
func WithProcessor(p processor.Processor) Option {
	return func(e *Engine) error { e.processor = p; return nil }
}

// WithoutProcessor declares an engine with no payment processor: wallets,
// ledgers, customers and webhooks work; every call that needs a processor
// (subscriptions, charges, refunds to the card) fails with ErrNoProcessor
// (503, no_processor). New refuses an engine given neither WithProcessor
// nor WithoutProcessor, so a forgotten processor is found when the engine
// is built, not at the first charge.
func WithoutProcessor() Option {
	return func(e *Engine) error { e.noProcessor = true; return nil }
}

// WithRetryPolicy sets the payment retry policy (default retry.DefaultPolicy).
func WithRetryPolicy(p retry.Policy) Option {
	return func(e *Engine) error {
		if err := p.Validate(); err != nil {
			return err
		}
		e.policy = p
		return nil
	}
}

// WithRetryOptions sets the scheduler's concurrency caps and lease.
func WithRetryOptions(o RetryOptions) Option {
	return func(e *Engine) error { e.retry = o.withDefaults(); return nil }
}

// WithWebhookOptions sets the options DispatchDue uses (RunDispatcher and
// NewDispatcher take theirs explicitly).
func WithWebhookOptions(o WebhookOptions) Option {
	return func(e *Engine) error { e.webhooks = o; return nil }
}

// WithLowBalanceThreshold makes a wallet.balance_low event fire when a
// balance in currency crosses below minor units. A per-customer threshold
// (SetLowBalanceThreshold) overrides it.
func WithLowBalanceThreshold(currency string, minor int64) Option {
	return func(e *Engine) error {
		c, err := money.Lookup(currency)
		if err != nil {
			return err
		}
		if minor < 0 {
			return fmt.Errorf("%w: negative low-balance threshold", ErrInvalidConfig)
		}
		e.lowBalance[c.Code] = minor
		return nil
	}
}

// New returns an Engine on s. The caller keeps ownership of s (Close on the
// Engine does not close it).
func New(s store.Store, opts ...Option) (*Engine, error) {
	if s == nil {
		return nil, fmt.Errorf("%w: nil store", ErrInvalidConfig)
	}
	cur, _ := money.NewSet(money.DefaultCurrencies...)
	e := &Engine{
		store:      s,
		clock:      clock.System{},
		currencies: cur,
		policy:     retry.DefaultPolicy(),
		retry:      RetryOptions{}.withDefaults(),
		lowBalance: map[string]int64{},
		log:        slog.Default(),
		retention:  Retention{}.withDefaults(),
		units:      &unitCache{},
	}
	for _, o := range opts {
		if err := o(e); err != nil {
			return nil, err
		}
	}
	switch {
	case e.processor == nil && !e.noProcessor:
		return nil, fmt.Errorf("%w: %w: pass WithProcessor, or WithoutProcessor for an engine of wallets and ledgers only",
			ErrInvalidConfig, ErrNoProcessor)
	case e.processor != nil && e.noProcessor:
		return nil, fmt.Errorf("%w: both WithProcessor and WithoutProcessor", ErrInvalidConfig)
	}
	// Every time coffer records is cut to microseconds, the precision
	// PostgreSQL keeps: an answer then reads back equal on every store.
	e.clock = microClock{e.clock}
	rc := e.retry.retrierConfig()
	rc.Store, rc.Clock, rc.Attempts, rc.Tracer = s, e.clock, retryAttempts{e}, e.tracer
	pc := e.retention.prunerConfig()
	pc.Store, pc.Clock = s, e.clock
	var err error
	if e.billing, err = billing.New(billing.Config{Clock: e.clock, Policy: e.policy, Emit: e.emit}); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if e.charges, err = charge.New(charge.Config{Store: s, Clock: e.clock, Processor: e.processor, Billing: e.billing,
		Wallet: engineWallet{e}, Emit: e.emit, Log: e.log}); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if e.retrier, err = maintenance.NewRetrier(rc); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if e.pruner, err = maintenance.NewPruner(pc); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return e, nil
}

// Open returns an Engine on the embedded default store: a bbolt file at path,
// created if missing. Close on the Engine closes the file.
func Open(path string, opts ...Option) (*Engine, error) {
	s, err := bolt.Open(path)
	if err != nil {
		return nil, err
	}
	e, err := New(s, opts...)
	if err != nil {
		s.Close()
		return nil, err
	}
	e.ownsStore = true
	return e, nil
}

// Close releases the store if the Engine opened it.
func (e *Engine) Close() error {
	if e.ownsStore {
		return e.store.Close()
	}
	return nil
}

// View runs fn in a read-only transaction of the engine's store, for
// applications that read records directly. fn gets only the read methods
// (store.ReadTx): every write goes through the Engine, which keeps the
// ledger, the payments and the outbox consistent. fn may run while other
// transactions commit; reads need not agree with each other (see
// store.Store.View).
func (e *Engine) View(ctx context.Context, fn func(store.ReadTx) error) error {
	// The wrapper has the read methods only, so fn cannot assert its way
	// back to a store.Tx (whose writes would fail anyway: it is a View).
	return e.store.View(ctx, func(tx store.Tx) error { return fn(readTx{tx}) })
}

// readTx hides every method of a store.Tx but the reads.
type readTx struct{ store.ReadTx }

// Currencies returns the enabled currency codes.
func (e *Engine) Currencies() []string { return e.currencies.Codes() }

// newID returns prefix_ followed by 32 random hex digits.
func newID(prefix string) string { return ids.New(prefix) }

// update runs fn in a store transaction, again when a concurrent writer won
// a unique key meanwhile (see txn.Update).
func (e *Engine) update(ctx context.Context, fn func(store.Tx) error) error {
	return txn.Update(ctx, e.store, fn)
}

// view runs get in a read-only transaction and returns what it read: the
// shape of every single-record lookup of the Engine.
func view[T any](ctx context.Context, e *Engine, get func(store.Tx) (T, error)) (T, error) {
	var v T
	err := e.store.View(ctx, func(tx store.Tx) error {
		var err error
		v, err = get(tx)
		return err
	})
	return v, err
}

// microClock truncates the times of its clock to microseconds.
type microClock struct{ c clock.Clock }

// Now implements clock.Clock.
func (m microClock) Now() time.Time { return m.c.Now().Truncate(time.Microsecond) }
