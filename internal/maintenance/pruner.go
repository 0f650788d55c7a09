package maintenance

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cofferhq/coffer/clock"
	"github.com/cofferhq/coffer/internal/txn"
	"github.com/cofferhq/coffer/store"
)

// Defaults and bounds of PrunerConfig.
const (
	DefaultRetention      = 30 * 24 * time.Hour
	DefaultRetentionBatch = 500
	MaxRetentionBatch     = 10_000
)

// PrunerConfig configures a Pruner (see coffer.Retention).
type PrunerConfig struct {
	Store store.Store
	Clock clock.Clock
	// Events is how long a dispatched event is kept; 0 means
	// DefaultRetention, negative keeps every event.
	Events time.Duration
	// Deliveries is how long a finished delivery is kept; 0 means
	// DefaultRetention, negative keeps every delivery.
	Deliveries time.Duration
	// BatchSize bounds the records one prune transaction deletes; 0 means
	// DefaultRetentionBatch, at most MaxRetentionBatch.
	BatchSize int
}

// WithDefaults returns c with every unset field given its default.
func (c PrunerConfig) WithDefaults() PrunerConfig {
	if c.Clock == nil {
		c.Clock = clock.System{}
	}
	if c.Events == 0 {
		c.Events = DefaultRetention
	}
	if c.Deliveries == 0 {
		c.Deliveries = DefaultRetention
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultRetentionBatch
	}
	return c
}

// Validate reports what is wrong with c (defaults applied).
func (c PrunerConfig) Validate() error {
	if c.BatchSize < 0 || c.BatchSize > MaxRetentionBatch {
		return fmt.Errorf("retention batch size %d not in 1..%d", c.BatchSize, MaxRetentionBatch)
	}
	return nil
}

// PruneReport says what a Prune deleted (see coffer.PruneReport).
type PruneReport struct {
	Events       int
	Deliveries   int
	Transactions int
}

// Pruner deletes the dispatched events and finished deliveries older than
// its retention.
type Pruner struct{ c PrunerConfig }

// NewPruner returns a Pruner configured by c, defaults applied.
func NewPruner(c PrunerConfig) (*Pruner, error) {
	c = c.WithDefaults()
	if c.Store == nil {
		return nil, errors.New("pruner has no store")
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &Pruner{c: c}, nil
}

// Prune deletes what is past retention, at most BatchSize records per
// transaction, until none is left or ctx ends. Deliveries go first, so
// that the events they referred to can go in the same Prune.
func (p *Pruner) Prune(ctx context.Context) (PruneReport, error) {
	var rep PruneReport
	now := p.c.Clock.Now()
	if p.c.Deliveries > 0 {
		n, err := p.pruneAll(ctx, &rep, func(tx store.Webhooks) (int, error) {
			return tx.PruneDeliveries(now.Add(-p.c.Deliveries), p.c.BatchSize)
		}, nil)
		rep.Deliveries += n
		if err != nil {
			return rep, err
		}
	}
	if p.c.Events > 0 {
		n, err := p.pruneAll(ctx, &rep, nil, func(tx store.Outbox) (int, error) {
			return tx.PruneEvents(now.Add(-p.c.Events), p.c.BatchSize)
		})
		rep.Events += n
		if err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// pruneAll runs one of the prunes in transactions until a batch comes
// back short.
func (p *Pruner) pruneAll(ctx context.Context, rep *PruneReport,
	deliveries func(store.Webhooks) (int, error), events func(store.Outbox) (int, error)) (int, error) {
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		var n int
		err := txn.Update(ctx, p.c.Store, func(tx store.Tx) (err error) {
			if deliveries != nil {
				n, err = deliveries(tx)
			} else {
				n, err = events(tx)
			}
			return err
		})
		if err != nil {
			return total, err
		}
		rep.Transactions++
		total += n
		if n < p.c.BatchSize {
			return total, nil
		}
	}
}
