package postgres

import (
	"bytes"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/webhook"
)

// ---- outbox events ----

const eventCols = `id, type, customer_id, data, created_at, seq, dispatched`

var (
	getEvent          = lockable(`SELECT ` + eventCols + ` FROM events WHERE id = $1`)
	undispatchedEvent = skipLocked(`SELECT ` + eventCols + ` FROM events WHERE NOT dispatched ORDER BY seq LIMIT $1`)
)

const (
	insertEvent = `INSERT INTO events (id, type, customer_id, data, created_at, dispatched)
		VALUES ($1, $2, $3, $4, $5, $6)`
	eventsAfter    = `SELECT ` + eventCols + ` FROM events WHERE seq > $1 ORDER BY seq LIMIT $2`
	markDispatched = `UPDATE events SET dispatched = true WHERE id = $1`
)

func scanEvent(r pgx.Rows, e *webhook.Event) error {
	var data []byte
	err := r.Scan(&e.ID, &e.Type, &e.CustomerID, &data, &e.CreatedAt, &e.Seq, &e.Dispatched)
	e.Data = data
	e.CreatedAt = e.CreatedAt.UTC()
	return err
}

// InsertEvent appends an event to the outbox; its Seq comes from a
// sequence, so it orders events by insertion (not commit).
func (t *tx) InsertEvent(e webhook.Event) error {
	if err := t.writable(); err != nil {
		return err
	}
	var data []byte
	if e.Data != nil {
		// A copy: the queued statement reads its arguments only when it
		// is sent, and the caller may reuse its buffer at once.
		data = bytes.Clone(e.Data)
	}
	// Queued: a plain INSERT whose only possible failure (a taken id,
	// store.ErrDuplicate) aborts the transaction and is reported by the
	// next statement sent or by COMMIT, so Update returns it.
	return t.queue(insertEvent, e.ID, e.Type, e.CustomerID, data, timeArg(e.CreatedAt), e.Dispatched)
}

// Event reads (in Update: locks) an event.
func (t *tx) Event(id string) (webhook.Event, error) {
	var e webhook.Event
	err := t.getOne("event", id, t.lock(getEvent), []any{id}, func(r pgx.Rows) error { return scanEvent(r, &e) })
	return e, err
}

// Events lists events after a sequence number, ascending.
func (t *tx) Events(afterSeq int64, limit int) ([]webhook.Event, error) {
	return listAll(t, eventsAfter, []any{afterSeq, limitArg(limit)}, scanEvent)
}

// UndispatchedEvents lists events not yet dispatched, ascending Seq, through
// a partial index. In Update it locks them and skips events another
// transaction holds, so concurrent dispatchers take different events.
func (t *tx) UndispatchedEvents(limit int) ([]webhook.Event, error) {
	return listAll(t, t.lock(undispatchedEvent), []any{limitArg(limit)}, scanEvent)
}

// MarkEventDispatched flags an event as dispatched.
func (t *tx) MarkEventDispatched(id string) error {
	if err := t.writable(); err != nil {
		return err
	}
	return t.update("event", id, markDispatched, []any{id})
}

// ---- retry attempts ----

const attemptCols = `id, subscription_id, customer_id, first_payment_id, payment_id, number, amount,
	currency, description, fees_inclusive, metadata, due_at, run_at, notified, status, lease_owner,
	lease_until, decline_code, created_at, updated_at`

var (
	getAttempt  = lockable(`SELECT ` + attemptCols + ` FROM retry_attempts WHERE id = $1`)
	dueAttempts = skipLocked(`SELECT ` + attemptCols + ` FROM retry_attempts
		WHERE status IN ('scheduled', 'claimed') AND run_at <= $1 ORDER BY run_at, seq LIMIT $2`)
)

const (
	upsertAttempt = `INSERT INTO retry_attempts (` + attemptCols + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
		ON CONFLICT (id) DO UPDATE SET subscription_id = EXCLUDED.subscription_id,
		customer_id = EXCLUDED.customer_id, first_payment_id = EXCLUDED.first_payment_id,
		payment_id = EXCLUDED.payment_id, number = EXCLUDED.number, amount = EXCLUDED.amount,
		currency = EXCLUDED.currency, description = EXCLUDED.description,
		fees_inclusive = EXCLUDED.fees_inclusive, metadata = EXCLUDED.metadata, due_at = EXCLUDED.due_at,
		run_at = EXCLUDED.run_at, notified = EXCLUDED.notified, status = EXCLUDED.status,
		lease_owner = EXCLUDED.lease_owner, lease_until = EXCLUDED.lease_until,
		decline_code = EXCLUDED.decline_code, created_at = EXCLUDED.created_at,
		updated_at = EXCLUDED.updated_at`
	insertAttempt = `INSERT INTO retry_attempts (` + attemptCols + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
		ON CONFLICT DO NOTHING`
	attemptsBySubscription = `SELECT ` + attemptCols + ` FROM retry_attempts WHERE subscription_id = $1
		ORDER BY number, seq`
	// Two statements, not one with an OR, so each keeps its index plan
	// when PostgreSQL switches the prepared statement to a generic plan.
	countInFlight    = `SELECT count(*) FROM retry_attempts WHERE status = 'claimed' AND lease_until > $1`
	countInFlightFor = `SELECT count(*) FROM retry_attempts
		WHERE status = 'claimed' AND lease_until > $1 AND customer_id = $2`
	// The two-key form of the advisory lock keeps coffer's keys (class
	// lockClass*) apart from the application's one-key locks.
	advisoryLock = `SELECT pg_advisory_xact_lock($1::int4, hashtext($2))`
)

// Advisory lock classes.
const (
	lockClassMigrate  int32 = 0x636f6600 // "cof\0": schema migrations
	lockClassInFlight int32 = 0x636f6601 // claims of retry attempts
)

func scanAttempt(r pgx.Rows, a *retry.Attempt) error {
	var (
		status string
		meta   []byte
		lease  pgtype.Timestamptz
	)
	err := r.Scan(&a.ID, &a.SubscriptionID, &a.CustomerID, &a.FirstPaymentID, &a.PaymentID, &a.Number,
		&a.Amount, &a.Currency, &a.Description, &a.FeesInclusive, &meta, &a.DueAt, &a.RunAt, &a.Notified,
		&status, &a.LeaseOwner, &lease, &a.DeclineCode, &a.CreatedAt, &a.UpdatedAt)
	if err != nil {
		return err
	}
	a.Status = retry.AttemptStatus(status)
	a.LeaseUntil = fromNullTime(lease)
	a.DueAt, a.RunAt = a.DueAt.UTC(), a.RunAt.UTC()
	a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
	a.Metadata, err = decodeMeta(meta)
	return err
}

// PutAttempt stores a retry attempt.
func (t *tx) PutAttempt(a retry.Attempt) error {
	if err := t.writable(); err != nil {
		return err
	}
	meta, err := metaArg(a.Metadata)
	if err != nil {
		return err
	}
	return t.put("a\x00"+a.ID, putSQL{upsert: upsertAttempt, insert: insertAttempt}, a.ID, a.SubscriptionID, a.CustomerID,
		a.FirstPaymentID, a.PaymentID, a.Number, a.Amount, a.Currency, a.Description, a.FeesInclusive,
		meta, timeArg(a.DueAt), timeArg(a.RunAt), a.Notified, string(a.Status), a.LeaseOwner,
		nullTimeArg(a.LeaseUntil), a.DeclineCode, timeArg(a.CreatedAt), timeArg(a.UpdatedAt))
}

// Attempt reads (in Update: locks) an attempt.
func (t *tx) Attempt(id string) (retry.Attempt, error) {
	var a retry.Attempt
	err := t.getOne("attempt", id, t.lock(getAttempt), []any{id}, func(r pgx.Rows) error {
		return scanAttempt(r, &a)
	})
	t.noteRead("a\x00"+id, err)
	return a, err
}

// AttemptsBySubscription lists a subscription's attempts by number.
func (t *tx) AttemptsBySubscription(subscriptionID string) ([]retry.Attempt, error) {
	return listAll(t, attemptsBySubscription, []any{subscriptionID}, scanAttempt)
}

// ---- webhook endpoints ----

const endpointCols = `id, url, description, secret, previous_secret, previous_expires_at, event_types,
	disabled, created_at, updated_at, idempotency_key`

var getEndpoint = lockable(`SELECT ` + endpointCols + ` FROM webhook_endpoints WHERE id = $1`)

const (
	upsertEndpoint = `INSERT INTO webhook_endpoints (` + endpointCols + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (id) DO UPDATE SET url = EXCLUDED.url, description = EXCLUDED.description,
		secret = EXCLUDED.secret, previous_secret = EXCLUDED.previous_secret,
		previous_expires_at = EXCLUDED.previous_expires_at, event_types = EXCLUDED.event_types,
		disabled = EXCLUDED.disabled, created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at,
		idempotency_key = EXCLUDED.idempotency_key`
	insertEndpoint = `INSERT INTO webhook_endpoints (` + endpointCols + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING`
	deleteEndpoint = `DELETE FROM webhook_endpoints WHERE id = $1`
	listEndpoints  = `SELECT ` + endpointCols + ` FROM webhook_endpoints ORDER BY seq`
)

func scanEndpoint(r pgx.Rows, e *webhook.Endpoint) error {
	var expires pgtype.Timestamptz
	err := r.Scan(&e.ID, &e.URL, &e.Description, &e.Secret, &e.PreviousSecret, &expires, &e.EventTypes,
		&e.Disabled, &e.CreatedAt, &e.UpdatedAt, &e.IdempotencyKey)
	e.PreviousExpiresAt = fromNullTime(expires)
	e.CreatedAt, e.UpdatedAt = e.CreatedAt.UTC(), e.UpdatedAt.UTC()
	return err
}

// PutEndpoint stores a webhook endpoint.
func (t *tx) PutEndpoint(e webhook.Endpoint) error {
	return t.put("w\x00"+e.ID, putSQL{upsert: upsertEndpoint, insert: insertEndpoint}, e.ID, e.URL, e.Description, e.Secret,
		e.PreviousSecret, nullTimeArg(e.PreviousExpiresAt), cloneStrings(e.EventTypes), e.Disabled,
		timeArg(e.CreatedAt), timeArg(e.UpdatedAt), e.IdempotencyKey)
}

// Endpoint reads (in Update: locks) an endpoint.
func (t *tx) Endpoint(id string) (webhook.Endpoint, error) {
	var e webhook.Endpoint
	err := t.getOne("endpoint", id, t.lock(getEndpoint), []any{id}, func(r pgx.Rows) error {
		return scanEndpoint(r, &e)
	})
	t.noteRead("w\x00"+id, err)
	return e, err
}

// DeleteEndpoint removes an endpoint.
func (t *tx) DeleteEndpoint(id string) error {
	if err := t.writable(); err != nil {
		return err
	}
	return t.update("endpoint", id, deleteEndpoint, []any{id})
}

// Endpoints lists endpoints oldest first.
func (t *tx) Endpoints() ([]webhook.Endpoint, error) {
	return listAll(t, listEndpoints, nil, scanEndpoint)
}

// ---- webhook deliveries ----

const deliveryCols = `id, event_id, endpoint_id, status, attempts, run_at, lease_owner, last_status,
	last_error, delivered_at, created_at, updated_at`

var (
	getDelivery   = lockable(`SELECT ` + deliveryCols + ` FROM webhook_deliveries WHERE id = $1`)
	dueDeliveries = skipLocked(`SELECT ` + deliveryCols + ` FROM webhook_deliveries
		WHERE status IN ('pending', 'claimed') AND run_at <= $1 ORDER BY run_at, seq LIMIT $2`)
)

const (
	upsertDelivery = `INSERT INTO webhook_deliveries (` + deliveryCols + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (id) DO UPDATE SET event_id = EXCLUDED.event_id, endpoint_id = EXCLUDED.endpoint_id,
		status = EXCLUDED.status, attempts = EXCLUDED.attempts, run_at = EXCLUDED.run_at,
		lease_owner = EXCLUDED.lease_owner, last_status = EXCLUDED.last_status,
		last_error = EXCLUDED.last_error, delivered_at = EXCLUDED.delivered_at,
		created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at`
	insertDelivery = `INSERT INTO webhook_deliveries (` + deliveryCols + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING`
)

func scanDelivery(r pgx.Rows, d *webhook.Delivery) error {
	var (
		status    string
		delivered pgtype.Timestamptz
	)
	err := r.Scan(&d.ID, &d.EventID, &d.EndpointID, &status, &d.Attempts, &d.RunAt, &d.LeaseOwner,
		&d.LastStatus, &d.LastError, &delivered, &d.CreatedAt, &d.UpdatedAt)
	d.Status = webhook.DeliveryStatus(status)
	d.DeliveredAt = fromNullTime(delivered)
	d.RunAt, d.CreatedAt, d.UpdatedAt = d.RunAt.UTC(), d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	return err
}

// PutDelivery stores a delivery.
func (t *tx) PutDelivery(d webhook.Delivery) error {
	return t.put("d\x00"+d.ID, putSQL{upsert: upsertDelivery, insert: insertDelivery}, d.ID, d.EventID, d.EndpointID,
		string(d.Status), d.Attempts, timeArg(d.RunAt), d.LeaseOwner, d.LastStatus, d.LastError,
		nullTimeArg(d.DeliveredAt), timeArg(d.CreatedAt), timeArg(d.UpdatedAt))
}

// Delivery reads (in Update: locks) a delivery.
func (t *tx) Delivery(id string) (webhook.Delivery, error) {
	var d webhook.Delivery
	err := t.getOne("delivery", id, t.lock(getDelivery), []any{id}, func(r pgx.Rows) error {
		return scanDelivery(r, &d)
	})
	t.noteRead("d\x00"+id, err)
	return d, err
}

// DueDeliveries lists active deliveries with RunAt <= now, ascending RunAt,
// through a partial index; in Update it skips deliveries another
// transaction holds, as ClaimDueAttempts does.
func (t *tx) DueDeliveries(now time.Time, limit int) ([]webhook.Delivery, error) {
	return listAll(t, t.lock(dueDeliveries), []any{timeArg(now), limitArg(limit)}, scanDelivery)
}

// ListDeliveries lists deliveries newest first, through the index of
// whichever filter is given.
func (t *tx) ListDeliveries(q store.DeliveryQuery) ([]webhook.Delivery, bool, error) {
	l := listQuery{table: "webhook_deliveries", cols: deliveryCols}
	if q.EventID != "" {
		l.filter("event_id = ?", q.EventID)
	}
	if q.EndpointID != "" {
		l.filter("endpoint_id = ?", q.EndpointID)
	}
	if q.Status != "" {
		l.filter("status = ?", string(q.Status))
	}
	return listPage(t, l, q.Page, scanDelivery)
}
