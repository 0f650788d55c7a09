package postgres

import (
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/webhook"
)

// The claim and prune methods. Work-queue reads in an Update lock what they
// return and skip rows another transaction holds (FOR NO KEY UPDATE SKIP
// LOCKED), so concurrent claimers take disjoint rows without waiting for
// each other.

var (
	// dueNotices walks the partial index of active attempts.
	dueNotices = skipLocked(`SELECT ` + attemptCols + ` FROM retry_attempts
		WHERE status IN ('scheduled', 'claimed') AND run_at <= $1 AND NOT notified
		ORDER BY run_at, seq LIMIT $2`)
	claimableAttempts = skipLocked(`SELECT ` + attemptCols + ` FROM retry_attempts
		WHERE status IN ('scheduled', 'claimed') AND run_at <= $1 AND due_at <= $1
		ORDER BY run_at, seq LIMIT $2`)
)

const (
	// pruneEvents and pruneDeliveries walk the partial indexes of migration
	// 0003 from the oldest, so they cost what they delete.
	pruneEvents = `DELETE FROM events WHERE id IN (
		SELECT e.id FROM events e
		WHERE e.dispatched AND e.created_at < $1
			AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id)
		ORDER BY e.created_at, e.seq LIMIT $2
		FOR UPDATE SKIP LOCKED)`
	pruneDeliveries = `DELETE FROM webhook_deliveries WHERE id IN (
		SELECT id FROM webhook_deliveries
		WHERE status IN ('succeeded', 'failed') AND updated_at < $1
		ORDER BY updated_at, seq LIMIT $2
		FOR UPDATE SKIP LOCKED)`
)

// DueNotices lists active, un-notified attempts with RunAt <= now, ascending
// RunAt, through the partial index of active attempts; in Update it locks
// them and skips attempts another transaction holds.
func (t *tx) DueNotices(now time.Time, limit int) ([]retry.Attempt, error) {
	return listAll(t, t.lock(dueNotices), []any{timeArg(now), limitArg(limit)}, scanAttempt)
}

// ClaimDueAttempts first takes a transaction-level advisory lock, then reads
// the due attempts and the in-flight counts in later statements, whose
// snapshots (READ COMMITTED) are taken after the lock: a concurrent claimer
// waits until this transaction commits its claims, then sees them, so the
// caps hold across claimers. One lock serves every customer: a claim
// checks several customers' caps and the global one, and per-customer
// locks taken in varying orders would deadlock.
func (t *tx) ClaimDueAttempts(now time.Time, c store.AttemptClaim) ([]retry.Attempt, int, error) {
	if err := t.writable(); err != nil {
		return nil, 0, err
	}
	if !t.claimLocked {
		t.claimLocked = true
		// Sent with the next statement, in one round trip.
		t.q = append(t.q, queued{sql: advisoryLock, args: []any{lockClassInFlight, t.s.schema}})
	}
	due, err := listAll(t, claimableAttempts.lock, []any{timeArg(now), limitArg(c.Limit)}, scanAttempt)
	if err != nil {
		return nil, 0, err
	}
	return store.ClaimAttempts(due, now, c, func(customerID string) (int, error) {
		sql, args := countInFlight, []any{timeArg(now)}
		if customerID != "" {
			sql, args = countInFlightFor, append(args, customerID)
		}
		var n int
		err := t.query(sql, args, func(r pgx.Rows) error { return r.Scan(&n) })
		return n, err
	}, t.PutAttempt)
}

// ClaimDueDeliveries locks the due deliveries it looks at, skipping those
// another transaction holds, and claims the ones c allows.
func (t *tx) ClaimDueDeliveries(now time.Time, c store.DeliveryClaim) ([]webhook.Delivery, error) {
	if err := t.writable(); err != nil {
		return nil, err
	}
	due, err := listAll(t, dueDeliveries.lock, []any{timeArg(now), c.ScanSize()}, scanDelivery)
	if err != nil {
		return nil, err
	}
	return store.ClaimDeliveries(due, now, c, t.PutDelivery)
}

// PruneEvents deletes old dispatched events no delivery refers to.
func (t *tx) PruneEvents(before time.Time, limit int) (int, error) {
	tag, err := t.exec(pruneEvents, timeArg(before), limitArg(limit))
	return int(tag.RowsAffected()), err
}

// PruneDeliveries deletes old finished deliveries.
func (t *tx) PruneDeliveries(before time.Time, limit int) (int, error) {
	tag, err := t.exec(pruneDeliveries, timeArg(before), limitArg(limit))
	return int(tag.RowsAffected()), err
}
