package otelcoffer

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/webhook"
)

// WrapStore returns s instrumented: every Update and View is timed
// (coffer.store.transaction.duration) under a span coffer.store.update or
// coffer.store.view, and the writes of a committed Update are counted
// (coffer.ledger.entries, coffer.events, coffer.retry.attempts,
// coffer.webhook.deliveries). A store with a Bulk transaction (bbolt's,
// used by imports) keeps it, instrumented as kind bulk. Close is s's.
func WrapStore(s store.Store, o Options) store.Store {
	w := &obsStore{s: s, in: newInstruments(o)}
	if b, ok := s.(bulker); ok {
		return &obsBulkStore{obsStore: w, b: b}
	}
	return w
}

type bulker interface {
	Bulk(ctx context.Context, fn func(store.Tx) error) error
}

type obsStore struct {
	s  store.Store
	in *instruments
}

func (w *obsStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	return w.run(ctx, "update", w.s.Update, fn)
}

func (w *obsStore) View(ctx context.Context, fn func(store.Tx) error) error {
	return w.run(ctx, "view", w.s.View, fn)
}

func (w *obsStore) Close() error { return w.s.Close() }

// Unwrap returns the wrapped store.
func (w *obsStore) Unwrap() store.Store { return w.s }

type obsBulkStore struct {
	*obsStore
	b bulker
}

// Bulk is the wrapped store's Bulk, instrumented as kind bulk.
func (w *obsBulkStore) Bulk(ctx context.Context, fn func(store.Tx) error) error {
	return w.run(ctx, "bulk", w.b.Bulk, fn)
}

func (w *obsStore) run(ctx context.Context, kind string, txFn func(context.Context, func(store.Tx) error) error,
	fn func(store.Tx) error) error {
	ctx, span := w.in.tracer.Start(ctx, "coffer.store."+kind, trace.WithSpanKind(trace.SpanKindInternal))
	defer span.End()
	var rec *writes
	start := time.Now()
	err := txFn(ctx, func(tx store.Tx) error {
		// An adapter may run fn again after a conflict: only the writes
		// of the last run commit.
		rec = &writes{}
		return fn(wrapTx(tx, rec))
	})
	elapsed := time.Since(start).Seconds()
	outcome := "ok"
	if err != nil {
		outcome = "error"
		span.RecordError(err)
		span.SetStatus(codes.Error, "transaction failed")
	}
	w.in.storeDuration.Record(ctx, elapsed, metric.WithAttributes(attrKind.String(kind), attrOutcome.String(outcome)))
	if err == nil && rec != nil && kind != "view" {
		rec.flush(ctx, w.in)
	}
	return err
}

// writes are the counted writes of one run of a transaction's function.
type writes struct {
	entries    []ledger.Entry
	events     []string
	attempts   []retry.AttemptStatus
	deliveries []string
}

func (r *writes) flush(ctx context.Context, in *instruments) {
	for _, e := range r.entries {
		in.entries.Add(ctx, 1, metric.WithAttributes(attrEntryType.String(label(string(e.Type))),
			attrCurrency.String(label(e.Currency))))
	}
	for _, t := range r.events {
		in.events.Add(ctx, 1, metric.WithAttributes(attrEventType.String(label(t))))
	}
	for _, s := range r.attempts {
		in.attempts.Add(ctx, 1, metric.WithAttributes(attrStatus.String(label(string(s)))))
	}
	for _, s := range r.deliveries {
		in.deliveries.Add(ctx, 1, metric.WithAttributes(attrStatus.String(s)))
	}
	if n := len(r.entries) + len(r.events); n > 0 {
		trace.SpanFromContext(ctx).SetAttributes(attribute.Int("coffer.ledger_entries", len(r.entries)),
			attribute.Int("coffer.events", len(r.events)))
	}
}

// obsTx records the writes it passes on; everything else is the
// adapter's Tx. It keeps the adapter's optional fast paths
// (store.EntryKeyFinder, store.EntryKeyInserter, store.EventDataCopier:
// answered from the adapter's plain methods when it lacks them, which is
// what the Engine would do itself), and it is a store.TxWrapper: the
// Engine finds the adapter's other optional interfaces (credit grants,
// units, auto top-up rules) through it with store.As, exactly when the
// adapter has them.
type obsTx struct {
	store.Tx
	w *writes
}

// WrappedTx is the adapter's Tx (store.TxWrapper).
func (t *obsTx) WrappedTx() any { return t.Tx }

func wrapTx(tx store.Tx, w *writes) store.Tx {
	return &obsTx{Tx: tx, w: w}
}

// FindEntryByKey is the adapter's, or EntryByKey with a miss as found == false.
func (t *obsTx) FindEntryByKey(customerID, key string) (ledger.Entry, bool, error) {
	if f, ok := t.Tx.(store.EntryKeyFinder); ok {
		return f.FindEntryByKey(customerID, key)
	}
	e, err := t.Tx.EntryByKey(customerID, key)
	if errors.Is(err, store.ErrNotFound) {
		return ledger.Entry{}, false, nil
	}
	return e, err == nil, err
}

// InsertEntryOrExisting is the adapter's, or a lookup and then InsertEntry.
func (t *obsTx) InsertEntryOrExisting(e ledger.Entry) (ledger.Entry, bool, error) {
	var (
		existing ledger.Entry
		taken    bool
		err      error
	)
	if ins, ok := t.Tx.(store.EntryKeyInserter); ok {
		existing, taken, err = ins.InsertEntryOrExisting(e)
	} else {
		if e.IdempotencyKey != "" {
			existing, taken, err = t.FindEntryByKey(e.CustomerID, e.IdempotencyKey)
			if err != nil || taken {
				return existing, taken, err
			}
		}
		err = t.Tx.InsertEntry(e)
	}
	if err == nil && !taken {
		t.w.entries = append(t.w.entries, e)
	}
	return existing, taken, err
}

// CopiesEventData is the adapter's answer (false when it gives none).
func (t *obsTx) CopiesEventData() bool {
	c, ok := t.Tx.(store.EventDataCopier)
	return ok && c.CopiesEventData()
}

func (t *obsTx) InsertEntry(e ledger.Entry) error {
	err := t.Tx.InsertEntry(e)
	if err == nil {
		t.w.entries = append(t.w.entries, e)
	}
	return err
}

func (t *obsTx) InsertEvent(e webhook.Event) error {
	err := t.Tx.InsertEvent(e)
	if err == nil {
		t.w.events = append(t.w.events, e.Type)
	}
	return err
}

func (t *obsTx) PutAttempt(a retry.Attempt) error {
	err := t.Tx.PutAttempt(a)
	if err == nil {
		t.w.attempts = append(t.w.attempts, a.Status)
	}
	return err
}

func (t *obsTx) ClaimDueAttempts(now time.Time, c store.AttemptClaim) ([]retry.Attempt, int, error) {
	claimed, deferred, err := t.Tx.ClaimDueAttempts(now, c)
	if err == nil {
		for range claimed {
			t.w.attempts = append(t.w.attempts, retry.AttemptClaimed)
		}
	}
	return claimed, deferred, err
}

func (t *obsTx) PutDelivery(d webhook.Delivery) error {
	err := t.Tx.PutDelivery(d)
	if err == nil {
		t.w.deliveries = append(t.w.deliveries, deliveryStatus(d))
	}
	return err
}

// deliveryStatus names a delivery write: queued (pending, never
// attempted: a new delivery or a redelivery), retrying (pending after a
// failed attempt), succeeded, failed (dead letter), claimed.
func deliveryStatus(d webhook.Delivery) string {
	switch d.Status {
	case webhook.DeliveryPending:
		if d.Attempts == 0 {
			return "queued"
		}
		return "retrying"
	case webhook.DeliverySucceeded, webhook.DeliveryFailed, webhook.DeliveryClaimed:
		return string(d.Status)
	}
	return "other"
}
