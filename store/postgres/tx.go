package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

// errTxDone reports use of a Tx after its function returned.
var errTxDone = errors.New("postgres: transaction already finished")

// queued is a statement waiting to be sent with the next one. Its result
// is discarded, or read by each (row by row) when each is set.
type queued struct {
	sql  string
	args []any
	each func(pgx.Rows) error
}

// tx is the store.Tx of one Update or View attempt.
//
// It saves round trips by pipelining: BEGIN is not sent on its own but in
// front of the first statement, and writes whose only possible result is an
// error (the Put upserts) are queued and sent in front of the next statement
// or with COMMIT. A transaction that only writes therefore costs a single
// round trip. Since the statements still run in order inside one
// transaction, reads see every earlier write; the only visible difference
// is that a failed queued write (a foreign key pointing nowhere) reports its
// error from the next call that reaches the server, or from commit.
type tx struct {
	ctx      context.Context
	s        *Store
	conn     *pgx.Conn
	readOnly bool
	begun    bool     // BEGIN has been sent
	q        []queued // statements to send before the next one
	// err is the first error after which the PostgreSQL transaction cannot
	// continue; every later call returns it.
	err error
	// retry marks err as a transient conflict: run the function again.
	retry bool
	done  bool
	// seen holds keys of Put records this transaction read: true when it
	// found (and locked) the record, false when it found it missing. A
	// locked record is written with a plain UPDATE. A missing one must not
	// be overwritten if another transaction creates it first (that would
	// lose its write), so Put reports a conflict and the function runs
	// again instead.
	seen map[string]bool
	// claimLocked: the advisory lock of ClaimDueAttempts is held.
	claimLocked bool
	// customers holds the ids of the customers whose advisory lock
	// (customerlock.go) this transaction has taken by id.
	customers map[string]bool
	// prefetched is the subscription locked and read with a pending
	// payment (billing.go, prefetchSubscription), until Subscription uses
	// it or UpdateSubscription writes it.
	prefetched *subscription.Subscription
	// hosted: the transaction is a savepoint inside a transaction the
	// host application holds (hosttx.go): it begins with SAVEPOINT, ends
	// with RELEASE or ROLLBACK TO, and never commits.
	hosted bool
}

func newTx(ctx context.Context, s *Store, conn *pgx.Conn, readOnly bool) *tx {
	return &tx{ctx: ctx, s: s, conn: conn, readOnly: readOnly}
}

var _ store.Tx = (*tx)(nil)

// usable returns the error that prevents the next statement, if any.
func (t *tx) usable() error {
	if t.done {
		return errTxDone
	}
	return t.err
}

// writable is usable for writes.
func (t *tx) writable() error {
	if t.readOnly {
		return store.ErrReadOnly
	}
	return t.usable()
}

// fail records err, which aborted the PostgreSQL transaction, and returns it
// wrapped. A unique violation, which only an UPDATE can still raise (inserts
// use ON CONFLICT DO NOTHING), is reported as store.ErrDuplicate.
func (t *tx) fail(err error) error {
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe) && pe.Code == "23505":
		err = fmt.Errorf("%w: %s (%w)", store.ErrDuplicate, pe.ConstraintName, err)
	case errors.Is(err, errConflict):
	default:
		err = fmt.Errorf("postgres: %w", err)
	}
	if t.err == nil {
		t.err = err
		t.retry = retryable(err)
	}
	return err
}

// pending returns the statements to send in front of the next one and
// clears the queue.
func (t *tx) pending() []queued {
	var out []queued
	if !t.begun {
		begin := beginSQL(t.readOnly)
		if t.hosted {
			begin = savepointSQL
		}
		out = append(out, queued{sql: begin})
		t.begun = true
	}
	out = append(out, t.q...)
	t.q = t.q[:0]
	return out
}

// queue defers a write whose only result can be an error.
func (t *tx) queue(sql string, args ...any) error {
	if err := t.writable(); err != nil {
		return err
	}
	t.q = append(t.q, queued{sql: sql, args: args})
	return nil
}

// query runs sql and calls each for every row. Anything queued goes first,
// in the same round trip.
func (t *tx) query(sql string, args []any, each func(pgx.Rows) error) error {
	if err := t.usable(); err != nil {
		return err
	}
	before := t.pending()
	t.s.stats.roundTrips.Add(1)
	if len(before) == 0 {
		rows, err := t.conn.Query(t.ctx, sql, args...)
		if err != nil {
			return t.fail(err)
		}
		return t.readRows(rows, each)
	}
	br := t.send(before, sql, args)
	defer br.Close()
	if err := t.results(br, before); err != nil {
		return err
	}
	rows, err := br.Query()
	if err != nil {
		return t.fail(err)
	}
	if err := t.readRows(rows, each); err != nil {
		return err
	}
	if err := br.Close(); err != nil {
		return t.fail(err)
	}
	return nil
}

func (t *tx) readRows(rows pgx.Rows, each func(pgx.Rows) error) error {
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			// A record that does not decode is not a PostgreSQL error, but
			// the statement is left half read: end the transaction too.
			rows.Close()
			return t.fail(err)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return t.fail(err)
	}
	return nil
}

// exec runs a write and returns its command tag; anything queued goes first.
func (t *tx) exec(sql string, args ...any) (pgconn.CommandTag, error) {
	if err := t.writable(); err != nil {
		return pgconn.CommandTag{}, err
	}
	return t.execAny(sql, args...)
}

// execAny is exec without the read-only check, for statements a View may
// run too.
func (t *tx) execAny(sql string, args ...any) (pgconn.CommandTag, error) {
	if err := t.usable(); err != nil {
		return pgconn.CommandTag{}, err
	}
	return t.roundTrip(sql, args...)
}

// roundTrip sends what is queued and sql.
func (t *tx) roundTrip(sql string, args ...any) (pgconn.CommandTag, error) {
	before := t.pending()
	t.s.stats.roundTrips.Add(1)
	if len(before) == 0 {
		tag, err := t.conn.Exec(t.ctx, sql, args...)
		if err != nil {
			return tag, t.fail(err)
		}
		return tag, nil
	}
	br := t.send(before, sql, args)
	defer br.Close()
	if err := t.results(br, before); err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	if err != nil {
		return tag, t.fail(err)
	}
	if err := br.Close(); err != nil {
		return tag, t.fail(err)
	}
	return tag, nil
}

// results reads the results of the statements sent before the last one.
func (t *tx) results(br pgx.BatchResults, before []queued) error {
	for _, q := range before {
		if q.each == nil {
			if _, err := br.Exec(); err != nil {
				return t.fail(err)
			}
			continue
		}
		rows, err := br.Query()
		if err != nil {
			return t.fail(err)
		}
		if err := t.readRows(rows, q.each); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) send(before []queued, sql string, args []any) pgx.BatchResults {
	b := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(before)+1)}
	for _, q := range before {
		b.Queue(q.sql, q.args...)
	}
	b.Queue(sql, args...)
	return t.conn.SendBatch(t.ctx, b)
}

// commit sends what is queued and COMMIT in one round trip. A transaction
// that never reached the server has nothing to commit.
func (t *tx) commit() error {
	if !t.begun && len(t.q) == 0 {
		return nil
	}
	end, idle := "commit", byte('I')
	if t.hosted {
		end, idle = releaseSQL, 'T' // still in the host's transaction
	}
	_, err := t.roundTrip(end)
	if err != nil {
		t.rollback()
		return err
	}
	if t.conn.PgConn().TxStatus() != idle {
		// COMMIT of a failed transaction answers ROLLBACK without an error.
		t.rollback()
		return errors.New("postgres: transaction rolled back at commit")
	}
	return nil
}

// rollback ends the transaction on the server, if it reached it. It runs
// even when the caller's context is cancelled; if it fails, the pool
// destroys the connection on release.
func (t *tx) rollback() {
	t.q = nil
	if !t.begun || t.conn.IsClosed() || t.conn.PgConn().TxStatus() == 'I' {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.ctx), 5*time.Second)
	defer cancel()
	if t.hosted {
		t.rollbackSavepoint(ctx)
		return
	}
	t.s.stats.roundTrips.Add(1)
	_, _ = t.conn.Exec(ctx, "rollback")
}

// getOne runs a query that returns at most one row and scans it with scan;
// no row is store.ErrNotFound.
func (t *tx) getOne(what, id, sql string, args []any, scan func(pgx.Rows) error) error {
	if err := t.usable(); err != nil {
		return err
	}
	found := false
	sql, args, each := t.lockedRead(sql, args, func(r pgx.Rows) error {
		found = true
		return scan(r)
	})
	err := t.query(sql, args, each)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("%w: %s %q", store.ErrNotFound, what, id)
	}
	return nil
}

// lock returns the locking form of a single-record read in an Update
// transaction. FOR NO KEY UPDATE excludes other writers of the row but not
// the foreign-key checks of inserts that reference it.
func (t *tx) lock(s stmt) string {
	if t.readOnly {
		return s.read
	}
	return s.lock
}

// stmt is a single-record read in its plain and locking forms.
type stmt struct{ read, lock string }

func lockable(sql string) stmt {
	s := stmt{read: sql, lock: sql + " FOR NO KEY UPDATE"}
	lockingReads = append(lockingReads, s.lock)
	return s
}

// lockingReads lists every locking single-record read, for the test that
// each is classified in customerLocks or notCustomerScoped.
var lockingReads []string

// skipLocked is the form of a work-queue read (due attempts, due deliveries,
// undispatched events) that skips rows another Update holds.
func skipLocked(sql string) stmt {
	return stmt{read: sql, lock: sql + " FOR NO KEY UPDATE SKIP LOCKED"}
}

// putSQL is how a Put writes its record: upsert when this transaction has
// not read it, update (if not empty) when it read and locked it, insert
// (ON CONFLICT DO NOTHING) when it read it as missing.
type putSQL struct{ upsert, update, insert string }

// put writes a record. The upsert and the update are queued (their only
// result can be an error); the insert of a record read as missing waits for
// its answer: no row inserted means a concurrent transaction created the
// record since, and the function must run again to see it.
func (t *tx) put(key string, q putSQL, args ...any) error {
	if err := t.writable(); err != nil {
		return err
	}
	found, read := t.seen[key]
	switch {
	case !read:
		return t.queue(q.upsert, args...)
	case found && q.update != "":
		return t.queue(q.update, args...)
	case found:
		return t.queue(q.upsert, args...)
	}
	delete(t.seen, key) // from now on the record is this transaction's
	tag, err := t.exec(q.insert, args...)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return t.fail(fmt.Errorf("%w: %s", errConflict, key))
	}
	return nil
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// noteRead records the outcome of a single-record read in an Update for
// put.
func (t *tx) noteRead(key string, err error) {
	if t.readOnly || (err != nil && !isNotFound(err)) {
		return
	}
	if t.seen == nil {
		t.seen = make(map[string]bool)
	}
	t.seen[key] = err == nil
}

// insert runs an INSERT ... ON CONFLICT DO NOTHING: no row inserted means
// the id or a unique key is taken, store.ErrDuplicate, and the transaction
// goes on.
func (t *tx) insert(what, id, sql string, args []any) error {
	tag, err := t.exec(sql, args...)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: %s %q", store.ErrDuplicate, what, id)
	}
	return nil
}

// update runs an UPDATE of one record by id: no row is store.ErrNotFound.
func (t *tx) update(what, id, sql string, args []any) error {
	tag, err := t.exec(sql, args...)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: %s %q", store.ErrNotFound, what, id)
	}
	return nil
}

// updateLocked is update for a record that is never deleted: when this
// transaction has read (and so locked) it, the row is there until commit
// and the UPDATE can only fail (a constraint), so it is queued and sent in
// front of the next statement or with COMMIT instead of costing a round
// trip of its own. Otherwise it is update.
func (t *tx) updateLocked(key, what, id, sql string, args []any) error {
	if t.seen[key] {
		return t.queue(sql, args...)
	}
	return t.update(what, id, sql, args)
}

// listAll collects every row of a query.
func listAll[T any](t *tx, sql string, args []any, scan func(pgx.Rows, *T) error) ([]T, error) {
	var out []T
	err := t.query(sql, args, func(r pgx.Rows) error {
		var v T
		if err := scan(r, &v); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// run runs fn in t and ends it: COMMIT (RELEASE in a host transaction)
// when fn and every statement succeeded, else ROLLBACK (to the savepoint).
// again reports a transient conflict (deadlock, serialization) after which
// the caller may run fn again in a new transaction.
func (t *tx) run(fn func(store.Tx) error) (again bool, err error) {
	defer func() {
		t.done = true
		if p := recover(); p != nil {
			t.rollback()
			panic(p)
		}
	}()
	ferr := fn(t)
	t.done = true
	switch {
	case t.retry:
		t.rollback()
		return true, t.err
	case ferr != nil:
		t.rollback()
		return false, ferr
	case t.err != nil:
		// fn ignored an error that aborted the transaction.
		t.rollback()
		return false, t.err
	}
	if err := t.commit(); err != nil {
		return retryable(err), err
	}
	return false, nil
}
