package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/cofferhq/coffer/store"
)

// Errors of host transactions.
var (
	// ErrHostTxRetry wraps a deadlock or serialization failure met inside
	// a host transaction: coffer's part was rolled back to its savepoint;
	// roll the host transaction back and run it again.
	ErrHostTxRetry = errors.New("postgres: conflict inside the host transaction: roll it back and run it again")
	// ErrHostTxSchema: the host transaction's current_schema() is not the
	// Store's schema, so coffer's statements would not reach its tables.
	ErrHostTxSchema = errors.New("postgres: host transaction runs outside the store's schema")
	// ErrHostTxNil: HostTx was given a nil transaction.
	ErrHostTxNil = errors.New("postgres: nil host transaction")
)

// hostConflictAttempts bounds the runs of a hosted function that keeps
// meeting records created concurrently (errConflict).
const hostConflictAttempts = 3

// The savepoint a hosted transaction is.
const (
	savepointSQL  = "savepoint coffer_hosted_tx"
	releaseSQL    = "release savepoint coffer_hosted_tx"
	rollbackToSQL = "rollback to savepoint coffer_hosted_tx"
)

// rollbackSavepoint undoes a hosted transaction's statements and drops its
// savepoint, leaving the host's transaction as it was before (and usable
// again even when one of coffer's statements failed).
func (t *tx) rollbackSavepoint(ctx context.Context) {
	if _, err := t.conn.Exec(ctx, rollbackToSQL); err != nil {
		return
	}
	_, _ = t.conn.Exec(ctx, releaseSQL)
}

// HostStore is the store.Store of one host transaction (Store.HostTx).
type HostStore struct {
	s  *Store
	tx pgx.Tx
	// checked: the schema of the host transaction was found right.
	checked   sync.Once
	schemaErr error
}

var _ store.Store = (*HostStore)(nil)

// HostTx returns a store.Store whose Update and View run inside a
// transaction the application opened itself (a pgx.Tx), the way River's
// InsertTx enqueues a job in the caller's transaction: the application's
// own rows (an order) and coffer's records (a ledger entry, its balance,
// its outbox event) then commit together, or not at all, when the
// application commits or rolls back. Each Update is a SAVEPOINT inside the
// host's transaction, released when the function returns nil and rolled
// back to when it returns an error, so a refused operation (bad input, a
// debit beyond the balance) leaves nothing of coffer behind and the host's
// transaction usable: the application decides whether to go on, commit
// or roll back.
//
// What the host must know:
//
//   - Nothing is durable, and no webhook is sent, before the host commits:
//     the outbox event is a row of the host's transaction, and the webhook
//     dispatcher (reading through the Store's own pool) sees it only after
//     the commit. A rollback leaves no event.
//   - coffer cannot retry the host's transaction. Store.Update runs its
//     function again after a deadlock or a serialization failure; inside a
//     host transaction it cannot (the host's own statements would have to
//     run again too), so such an error is returned, rolled back to the
//     savepoint, wrapping ErrHostTxRetry: roll the whole transaction back
//     and run it again. The one conflict coffer resolves itself is a record
//     it read as missing that a concurrent transaction created meanwhile
//     (the function runs again inside a fresh savepoint, which sees it,
//     up to three times).
//   - Locks: coffer's row locks and its per-customer advisory lock (see
//     the package documentation) are taken in the host's transaction and
//     held until it ends, so keep it short, and when it locks rows of the
//     application's too, take them in one order in every transaction.
//   - Isolation: coffer's rules are written for READ COMMITTED (the
//     default) with row locks. Under REPEATABLE READ or SERIALIZABLE a
//     concurrent change surfaces as a serialization failure
//     (ErrHostTxRetry).
//   - The host transaction must run on a connection whose search_path
//     reaches coffer's tables: begin it on Store.Pool() (or on a pool
//     configured like it, see WithSchema). HostTx checks current_schema()
//     once, on first use, and refuses another schema with
//     ErrHostTxSchema.
//   - A transaction of coffer's must never be held across a payment
//     processor call; the Engine therefore allows only the operations that
//     need none inside a host transaction (see coffer.Engine.InTx).
//   - Like the pgx.Tx itself, the returned Store must not be used by two
//     goroutines at once, nor after the host's transaction ended.
//
// Pass the result to coffer.Engine.InTx, which runs the Engine's own
// rules on it.
func (s *Store) HostTx(tx pgx.Tx) *HostStore { return &HostStore{s: s, tx: tx} }

// HostTransaction marks a store.Store whose transactions belong to a
// transaction of the host application (coffer.HostTxStore).
func (h *HostStore) HostTransaction() {}

// Update runs fn inside a savepoint of the host transaction: released when
// fn returns nil, rolled back to when it returns an error (which Update
// returns). It does not commit: the host does. A deadlock or serialization
// failure is returned wrapping ErrHostTxRetry.
func (h *HostStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	return h.run(ctx, false, fn)
}

// View runs fn inside a savepoint of the host transaction, reading what
// the host transaction sees (its own uncommitted writes included); writes
// return store.ErrReadOnly.
func (h *HostStore) View(ctx context.Context, fn func(store.Tx) error) error {
	return h.run(ctx, true, fn)
}

// Close does nothing: the host transaction and the Store are the caller's.
func (h *HostStore) Close() error { return nil }

func (h *HostStore) run(ctx context.Context, readOnly bool, fn func(store.Tx) error) error {
	if h == nil || h.tx == nil {
		return ErrHostTxNil
	}
	s := h.s
	if s.closed.Load() {
		return store.ErrClosed
	}
	if err := h.checkSchema(ctx); err != nil {
		return err
	}
	s.stats.transactions.Add(1)
	if readOnly {
		s.stats.views.Add(1)
	}
	for attempt := 1; ; attempt++ {
		s.stats.attempts.Add(1)
		again, err := h.attempt(ctx, readOnly, fn)
		if !again {
			return err
		}
		s.stats.count(err)
		if !errors.Is(err, errConflict) || attempt >= min(s.maxAttempts, hostConflictAttempts) {
			// A deadlock or a serialization failure: the host's own
			// statements would have to run again too. (A conflict that
			// a fresh savepoint does not resolve means the host's
			// snapshot is older than the record: REPEATABLE READ.)
			s.stats.gaveUp.Add(1)
			return fmt.Errorf("%w: %w", ErrHostTxRetry, err)
		}
		s.stats.retries.Add(1)
	}
}

// checkSchema verifies once that the host transaction reaches the Store's
// schema (a Store opened without WithSchema uses the connection's default,
// which is not checked).
func (h *HostStore) checkSchema(ctx context.Context) error {
	if h.s.schema == "" {
		return nil
	}
	h.checked.Do(func() {
		var cur *string
		if err := h.tx.QueryRow(ctx, "select current_schema()").Scan(&cur); err != nil {
			h.schemaErr = fmt.Errorf("postgres: host transaction: %w", err)
			return
		}
		if cur == nil || *cur != h.s.schema {
			got := "<none>"
			if cur != nil {
				got = *cur
			}
			h.schemaErr = fmt.Errorf("%w: current_schema() is %q, want %q (begin it on Store.Pool())", ErrHostTxSchema, got, h.s.schema)
		}
	})
	return h.schemaErr
}

// attempt runs fn once in a savepoint and reports whether it should run
// again (the error is a transient conflict).
func (h *HostStore) attempt(ctx context.Context, readOnly bool, fn func(store.Tx) error) (again bool, err error) {
	conn := h.tx.Conn()
	if conn == nil || conn.IsClosed() || conn.PgConn().TxStatus() == 'I' {
		return false, fmt.Errorf("postgres: host transaction: %w", pgx.ErrTxClosed)
	}
	t := newTx(ctx, h.s, conn, readOnly)
	t.hosted = true
	return t.run(fn)
}
