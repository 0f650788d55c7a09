package coffer

import (
	"context"
	"fmt"
	"time"

	"github.com/cofferhq/coffer/store"
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
	DefaultRetention      = 30 * 24 * time.Hour
	DefaultRetentionBatch = 500
	MaxRetentionBatch     = 10_000
	// KeepForever, as a Retention duration, turns pruning off.
	KeepForever time.Duration = -1
)

func (r Retention) withDefaults() Retention {
	if r.Events == 0 {
		r.Events = DefaultRetention
	}
	if r.Deliveries == 0 {
		r.Deliveries = DefaultRetention
	}
	if r.BatchSize == 0 {
		r.BatchSize = DefaultRetentionBatch
	}
	return r
}

func (r Retention) validate() error {
	if r.BatchSize < 0 || r.BatchSize > MaxRetentionBatch {
		return fmt.Errorf("%w: retention batch size %d not in 1..%d", ErrInvalidConfig, r.BatchSize, MaxRetentionBatch)
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
	Transactions int // prune transactions committed
}

// Prune deletes the dispatched events and finished deliveries older than
// the engine's Retention, at most Retention.BatchSize per transaction,
// until none is left or ctx ends. Deliveries go first, so that the events
// they referred to can go in the same Prune. Several engines may prune one
// store at once.
func (e *Engine) Prune(ctx context.Context) (PruneReport, error) {
	var rep PruneReport
	now := e.clock.Now()
	r := e.retention
	if r.Deliveries > 0 {
		n, err := e.pruneAll(ctx, &rep, func(tx store.Tx) (int, error) {
			return tx.PruneDeliveries(now.Add(-r.Deliveries), r.BatchSize)
		})
		rep.Deliveries += n
		if err != nil {
			return rep, err
		}
	}
	if r.Events > 0 {
		n, err := e.pruneAll(ctx, &rep, func(tx store.Tx) (int, error) {
			return tx.PruneEvents(now.Add(-r.Events), r.BatchSize)
		})
		rep.Events += n
		if err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// pruneAll runs prune in transactions until a batch comes back short.
func (e *Engine) pruneAll(ctx context.Context, rep *PruneReport, prune func(store.Tx) (int, error)) (int, error) {
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		var n int
		err := e.update(ctx, func(tx store.Tx) (err error) {
			n, err = prune(tx)
			return err
		})
		if err != nil {
			return total, err
		}
		rep.Transactions++
		total += n
		if n < e.retention.BatchSize {
			return total, nil
		}
	}
}
