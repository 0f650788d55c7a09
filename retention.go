package coffer

import (
	"context"
	"fmt"
	"time"

	"github.com/cofferhq/coffer/internal/maintenance"
)

// Retention says how long the outbox keeps what no one needs any more:
// events already fanned out to the endpoints, and deliveries that
// finished (succeeded or dead-lettered). The ledger, payments, refunds,
// subscriptions, customers, retry attempts and undispatched events or
// active deliveries are never pruned.
type Retention struct {
	// Events is how long a dispatched event is kept after it was created;
	// 0 means DefaultRetention, KeepForever (or any negative value) keeps
	// every event. An event a kept delivery refers to is kept with it.
	Events time.Duration
	// Deliveries is how long a finished delivery is kept after its last
	// attempt (UpdatedAt); 0 means DefaultRetention, KeepForever keeps
	// every delivery.
	Deliveries time.Duration
	// BatchSize bounds the records one prune transaction deletes; 0 means
	// DefaultRetentionBatch, at most MaxRetentionBatch.
	BatchSize int
}

// Retention defaults.
const (
	DefaultRetention      = maintenance.DefaultRetention
	DefaultRetentionBatch = maintenance.DefaultRetentionBatch
	MaxRetentionBatch     = maintenance.MaxRetentionBatch
	// KeepForever, as a Retention duration, turns pruning off.
	KeepForever time.Duration = -1
)

// prunerConfig maps r onto the pruner's configuration (defaults are the
// pruner's to apply).
func (r Retention) prunerConfig() maintenance.PrunerConfig {
	return maintenance.PrunerConfig{Events: r.Events, Deliveries: r.Deliveries, BatchSize: r.BatchSize}
}

func (r Retention) withDefaults() Retention {
	c := r.prunerConfig().WithDefaults()
	return Retention{Events: c.Events, Deliveries: c.Deliveries, BatchSize: c.BatchSize}
}

func (r Retention) validate() error {
	if err := r.prunerConfig().Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil
}

// WithRetention sets how long dispatched events and finished deliveries
// are kept (default: 30 days each, pruned 500 per transaction). Engine.Run
// prunes on every pass; Engine.Prune does one prune.
func WithRetention(r Retention) Option {
	return func(e *Engine) error {
		r = r.withDefaults()
		if err := r.validate(); err != nil {
			return err
		}
		e.retention = r
		return nil
	}
}

// PruneReport says what a Prune deleted.
type PruneReport struct {
	Events       int // dispatched events deleted
	Deliveries   int // finished deliveries deleted
	Transactions int // prune transactions committed (events and deliveries)
	// IdempotencyRecords is the number of expired HTTP idempotency records
	// deleted (see BeginIdempotent).
	IdempotencyRecords int
}

// Prune deletes the dispatched events and finished deliveries older than
// the engine's Retention, at most Retention.BatchSize per transaction,
// until none is left or ctx ends. Deliveries go first, so that the events
// they referred to can go in the same Prune. Several engines may prune one
// store at once.
func (e *Engine) Prune(ctx context.Context) (PruneReport, error) {
	rep, err := e.pruner.Prune(ctx)
	out := PruneReport{Events: rep.Events, Deliveries: rep.Deliveries, Transactions: rep.Transactions}
	if err != nil {
		return out, err
	}
	// HTTP idempotency records past their retention (24 hours by
	// default): BeginIdempotent already ignores them; this reclaims them.
	n, err := e.PruneExpiredIdempotency(ctx)
	out.IdempotencyRecords = n
	return out, err
}
