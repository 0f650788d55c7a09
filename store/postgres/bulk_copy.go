package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/cofferhq/coffer/store"
)

var _ store.RecordImporter = (*Store)(nil)

// The bulk import path (coffer.Engine.ImportCustomers): one transaction per
// batch that COPYs the batch into temporary staging tables (dropped at
// commit) and moves it into the real tables with one INSERT ... SELECT per
// table, instead of a dozen statements per row.
//
// Idempotent per row: the customers go first, INSERT ... ON CONFLICT DO
// NOTHING (the id primary key and the DID unique index), and only the rows
// that insert (RETURNING id, kept in imp_created) bring their search
// tokens, balances, entries and events; a row whose DID is stored writes
// nothing.
//
// Locks: the customer locks of customerlock.go order the row locks of an
// Update on a customer's existing rows. This path locks no existing row:
// ON CONFLICT DO NOTHING takes no lock on the row it skips, and every other
// row it writes belongs to a customer it has just inserted, which no other
// transaction can see (let alone lock) before the commit. So it takes no
// advisory lock either, as the other writes of the adapter take none. Two
// imports inserting one DID wait on each other's unique-index entry; a
// cycle among them is a deadlock PostgreSQL breaks, and the batch runs
// again, as Update runs a transaction again.
const (
	importStaging = `
CREATE TEMP TABLE imp_customers (ord int NOT NULL, id text, name text, email text, email_fold text,
	phone text, description text, did text, address jsonb, shipping jsonb, metadata jsonb,
	invoice_prefix text, delinquent boolean, livemode boolean, search_text text,
	created_at timestamptz, updated_at timestamptz) ON COMMIT DROP;
CREATE TEMP TABLE imp_tokens (customer_id text, tok bytea) ON COMMIT DROP;
CREATE TEMP TABLE imp_balances (customer_id text, currency text, amount bigint, held bigint,
	low_threshold bigint, low boolean, updated_at timestamptz) ON COMMIT DROP;
CREATE TEMP TABLE imp_entries (ord int NOT NULL, id text, customer_id text, currency text, entry_type text,
	amount bigint, balance_before bigint, balance_after bigint, reason text, idempotency_key text,
	reference_type text, reference_id text, fingerprint text, created_at timestamptz) ON COMMIT DROP;
CREATE TEMP TABLE imp_events (ord int NOT NULL, id text, type text, customer_id text, data bytea,
	created_at timestamptz, dispatched boolean) ON COMMIT DROP;
CREATE TEMP TABLE imp_created (id text PRIMARY KEY, seq bigint NOT NULL) ON COMMIT DROP`

	// importCustomers inserts the staged customers in row order (their
	// seq follows it) and returns the ids that inserted.
	importCustomers = `WITH ins AS (
	INSERT INTO customers (id, name, email, email_fold, phone, description, did,
		address, shipping, metadata, invoice_prefix, delinquent, livemode, search_text, created_at, updated_at)
	SELECT id, name, email, email_fold, phone, description, did,
		address, shipping, metadata, invoice_prefix, delinquent, livemode, search_text, created_at, updated_at
	FROM imp_customers ORDER BY ord
	ON CONFLICT DO NOTHING
	RETURNING id, seq
), kept AS (
	INSERT INTO imp_created (id, seq) SELECT id, seq FROM ins RETURNING id
)
SELECT id FROM kept`

	// importRest writes the records of the customers that inserted.
	importRest = `
INSERT INTO customer_tokens (tok, seq)
	SELECT t.tok, c.seq FROM imp_tokens t JOIN imp_created c ON c.id = t.customer_id
	ORDER BY t.tok, c.seq
	ON CONFLICT DO NOTHING;
INSERT INTO wallet_balances (` + balanceCols + `)
	SELECT b.customer_id, b.currency, b.amount, b.held, b.low_threshold, b.low, b.updated_at
	FROM imp_balances b JOIN imp_created c ON c.id = b.customer_id;
INSERT INTO ledger_entries (` + entryCols + `)
	SELECT e.id, e.customer_id, e.currency, e.entry_type, e.amount, e.balance_before, e.balance_after,
		e.reason, e.idempotency_key, e.reference_type, e.reference_id, e.fingerprint, e.created_at
	FROM imp_entries e JOIN imp_created c ON c.id = e.customer_id ORDER BY e.ord;
INSERT INTO events (id, type, customer_id, data, created_at, dispatched)
	SELECT v.id, v.type, v.customer_id, v.data, v.created_at, v.dispatched
	FROM imp_events v JOIN imp_created c ON c.id = v.customer_id ORDER BY v.ord`
)

// ImportRecords writes a bulk import's batch (store.RecordImporter): the
// records of every customer whose id and DID are not stored yet, in one
// transaction, through COPY into staging tables. It runs the batch again
// after a deadlock or serialization failure, as Update does.
func (s *Store) ImportRecords(ctx context.Context, recs []store.ImportRecord) ([]bool, error) {
	staged, err := stageImport(recs)
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		if s.closed.Load() {
			return nil, store.ErrClosed
		}
		s.stats.transactions.Add(1)
		s.stats.attempts.Add(1)
		created, err := s.importOnce(ctx, recs, staged)
		if err == nil || !retryable(err) || ctx.Err() != nil {
			return created, err
		}
		s.stats.retries.Add(1)
		s.stats.count(err)
		if attempt >= s.maxAttempts {
			s.stats.gaveUp.Add(1)
			return nil, fmt.Errorf("postgres: gave up after %d attempts: %w", attempt, err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return nil, err
		}
	}
}

// stagedImport is a batch as COPY rows, per staging table.
type stagedImport struct {
	customers, tokens, balances, entries, events [][]any
}

func stageImport(recs []store.ImportRecord) (*stagedImport, error) {
	st := &stagedImport{customers: make([][]any, 0, len(recs))}
	for i, r := range recs {
		c := r.Customer
		args, err := customerArgs(c)
		if err != nil {
			return nil, err
		}
		st.customers = append(st.customers, append([]any{i}, args[:16]...))
		for _, tok := range args[16].([][]byte) {
			st.tokens = append(st.tokens, []any{c.ID, tok})
		}
		for _, b := range r.Balances {
			st.balances = append(st.balances, []any{b.CustomerID, b.Currency, b.Amount, b.Held, b.LowThreshold, b.Low, timeArg(b.UpdatedAt)})
		}
		for _, e := range r.Entries {
			st.entries = append(st.entries, []any{len(st.entries), e.ID, e.CustomerID, e.Currency, string(e.Type), e.Amount,
				e.BalanceBefore, e.BalanceAfter, e.Reason, e.IdempotencyKey, string(e.Reference.Type),
				e.Reference.ID, e.Fingerprint, timeArg(e.CreatedAt)})
		}
		for _, v := range r.Events {
			var data []byte
			if v.Data != nil {
				data = []byte(v.Data)
			}
			st.events = append(st.events, []any{len(st.events), v.ID, v.Type, v.CustomerID, data, timeArg(v.CreatedAt), v.Dispatched})
		}
	}
	return st, nil
}

var importColumns = map[string][]string{
	"imp_customers": {"ord", "id", "name", "email", "email_fold", "phone", "description", "did", "address", "shipping",
		"metadata", "invoice_prefix", "delinquent", "livemode", "search_text", "created_at", "updated_at"},
	"imp_tokens":   {"customer_id", "tok"},
	"imp_balances": {"customer_id", "currency", "amount", "held", "low_threshold", "low", "updated_at"},
	"imp_entries": {"ord", "id", "customer_id", "currency", "entry_type", "amount", "balance_before", "balance_after",
		"reason", "idempotency_key", "reference_type", "reference_id", "fingerprint", "created_at"},
	"imp_events": {"ord", "id", "type", "customer_id", "data", "created_at", "dispatched"},
}

// importOnce runs the batch's transaction once.
func (s *Store) importOnce(ctx context.Context, recs []store.ImportRecord, st *stagedImport) ([]bool, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		if s.closed.Load() {
			return nil, store.ErrClosed
		}
		return nil, fmt.Errorf("postgres: %w", err)
	}
	defer conn.Release()
	ids := map[string]int{}
	var created []bool
	err = pgx.BeginFunc(ctx, conn.Conn(), func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, importStaging); err != nil {
			return err
		}
		for _, t := range []struct {
			name string
			rows [][]any
		}{{"imp_customers", st.customers}, {"imp_tokens", st.tokens}, {"imp_balances", st.balances},
			{"imp_entries", st.entries}, {"imp_events", st.events}} {
			if len(t.rows) == 0 {
				continue
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{t.name}, importColumns[t.name], pgx.CopyFromRows(t.rows)); err != nil {
				return fmt.Errorf("copy %s: %w", t.name, err)
			}
		}
		rows, err := tx.Query(ctx, importCustomers)
		if err != nil {
			return err
		}
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if len(got) > 0 {
			if _, err := tx.Exec(ctx, importRest); err != nil {
				return err
			}
		}
		clear(ids)
		for _, id := range got {
			ids[id] = 1
		}
		return nil
	})
	if err != nil {
		if retryable(err) {
			return nil, err
		}
		return nil, fmt.Errorf("postgres: import: %w", err)
	}
	created = make([]bool, len(recs))
	for i, r := range recs {
		created[i] = ids[r.Customer.ID] == 1
	}
	return created, nil
}
