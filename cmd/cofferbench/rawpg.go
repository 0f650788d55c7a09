package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store/postgres"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
)

// pgEnv is the PostgreSQL side of a run: an admin pool that creates and
// drops the per-cell schemas (all of them dropped at the end, whatever
// happened).
type pgEnv struct {
	dsn     string
	conns   int
	admin   *pgxpool.Pool
	prefix  string
	n       atomic.Int64
	version string

	mu      sync.Mutex
	schemas map[string]bool
}

func newPgEnv(ctx context.Context, dsn string, conns int) (*pgEnv, error) {
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	pc.MaxConns = 2
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	admin, err := pgxpool.NewWithConfig(cctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	pg := &pgEnv{dsn: dsn, conns: conns, admin: admin, schemas: map[string]bool{},
		prefix: fmt.Sprintf("cofferbench_%d_%d", os.Getpid(), time.Now().Unix()%1_000_000)}
	if err := admin.QueryRow(cctx, "SHOW server_version").Scan(&pg.version); err != nil {
		admin.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	var sc string
	if err := admin.QueryRow(cctx, "SHOW synchronous_commit").Scan(&sc); err == nil {
		pg.version += ", synchronous_commit=" + sc
	}
	return pg, nil
}

// newSchema names a fresh schema and remembers it for the final cleanup.
func (pg *pgEnv) newSchema() string {
	name := fmt.Sprintf("%s_%d", pg.prefix, pg.n.Add(1))
	pg.mu.Lock()
	pg.schemas[name] = true
	pg.mu.Unlock()
	return name
}

func (pg *pgEnv) dropSchema(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := pg.admin.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE")
	if err == nil {
		pg.mu.Lock()
		delete(pg.schemas, name)
		pg.mu.Unlock()
	}
	return err
}

// close drops every schema still there and closes the admin pool.
func (pg *pgEnv) close() {
	pg.mu.Lock()
	var left []string
	for s := range pg.schemas {
		left = append(left, s)
	}
	pg.mu.Unlock()
	for _, s := range left {
		if err := pg.dropSchema(s); err != nil {
			fmt.Fprintf(os.Stderr, "cofferbench: dropping schema %s: %v\n", s, err)
		}
	}
	pg.admin.Close()
}

// rawPg is the hand-written pgx baseline, on coffer's own tables (created
// by the adapter's migrations in a fresh schema) so both write the same
// rows through the same indexes and constraints.
type rawPg struct {
	path   string
	pool   *pgxpool.Pool
	schema string
	pg     *pgEnv
	custs  []string
	subs   []string
	proc   *processor.Test
	keys   atomic.Int64 // idempotency keys, unique across rounds
}

func newRawPg(ctx context.Context, c cell, pg *pgEnv) (*rawPg, error) {
	schema := pg.newSchema()
	rp := &rawPg{path: c.path, schema: schema, pg: pg, proc: processor.NewTest(nil)}
	st, err := postgres.Open(ctx, pg.dsn, postgres.WithSchema(schema), postgres.WithMaxConns(2))
	if err != nil {
		_ = pg.dropSchema(schema)
		return nil, err
	}
	st.Close()
	pc, err := pgxpool.ParseConfig(pg.dsn)
	if err != nil {
		_ = pg.dropSchema(schema)
		return nil, err
	}
	pc.ConnConfig.RuntimeParams["search_path"] = schema
	pc.MaxConns = int32(pg.conns)
	if rp.pool, err = pgxpool.NewWithConfig(ctx, pc); err != nil {
		_ = pg.dropSchema(schema)
		return nil, err
	}
	if err := rp.seed(ctx, c.wallets); err != nil {
		rp.close()
		return nil, fmt.Errorf("seeding: %w", err)
	}
	return rp, nil
}

func (rp *rawPg) seed(ctx context.Context, n int) error {
	type stmt struct {
		sql  string
		args []any
	}
	stmts := []stmt{
		{`INSERT INTO customers (id, name, created_at, updated_at)
			SELECT 'cus_' || md5(g::text), 'bench ' || g, now(), now() FROM generate_series(1, $1) g`, []any{n}},
		{`INSERT INTO wallet_balances (customer_id, currency, amount, updated_at)
			SELECT id, cur, 0, now() FROM customers, unnest(ARRAY['INR', 'USD']) cur`, nil},
	}
	if rp.path == pathCharge {
		stmts = append(stmts,
			stmt{`INSERT INTO products (id, name, price, currency, created_at) VALUES ('prod_bench', 'bench', 100, 'USD', now())`, nil},
			stmt{`INSERT INTO subscriptions (id, customer_id, product_id, quantity, status, payment_method, mandate_id,
				mandate_authorized_at, price, currency, description, mandate_only, created_at, updated_at)
			SELECT 'sub_' || md5(id), id, 'prod_bench', 1, 'active', 'pm_card_ok', 'mdt_' || md5(id),
				now(), 100, 'USD', 'bench', true, now(), now() FROM customers`, nil})
	}
	for _, s := range stmts {
		if _, err := rp.pool.Exec(ctx, s.sql, s.args...); err != nil {
			return err
		}
	}
	rows, err := rp.pool.Query(ctx, `SELECT c.id, coalesce(s.id, '') FROM customers c
		LEFT JOIN subscriptions s ON s.customer_id = c.id ORDER BY c.id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var cus, sub string
		if err := rows.Scan(&cus, &sub); err != nil {
			return err
		}
		rp.custs, rp.subs = append(rp.custs, cus), append(rp.subs, sub)
	}
	return rows.Err()
}

// balanceChanged is the shape of coffer's wallet.balance_changed payload.
type balanceChanged struct {
	Entry   ledger.Entry   `json:"entry"`
	Balance wallet.Balance `json:"balance"`
}

func (rp *rawPg) op(ctx context.Context) error {
	if rp.path == pathEntry {
		return rp.entry(ctx)
	}
	return rp.charge(ctx)
}

// entry posts a 1-unit credit: SELECT the balance FOR UPDATE, INSERT the
// entry, UPDATE the balance, INSERT the outbox event, COMMIT.
func (rp *rawPg) entry(ctx context.Context) error {
	cus := rp.custs[pick(len(rp.custs))]
	req := ledger.Request{Amount: 1, Currency: "USD", Type: ledger.Credit, Reason: "bench",
		IdempotencyKey: fmt.Sprintf("bench-%d", rp.keys.Add(1)), Reference: ledger.Reference{Type: ledger.RefManual}}
	now := time.Now().UTC()
	return pgx.BeginFunc(ctx, rp.pool, func(tx pgx.Tx) error {
		var amount, held int64
		err := tx.QueryRow(ctx, `SELECT amount, held FROM wallet_balances
			WHERE customer_id = $1 AND currency = $2 FOR UPDATE`, cus, req.Currency).Scan(&amount, &held)
		if err != nil {
			return err
		}
		e := ledger.Entry{ID: newID("le"), CustomerID: cus, Currency: req.Currency, Type: req.Type, Amount: req.Amount,
			BalanceBefore: amount, BalanceAfter: amount + req.Amount, Reason: req.Reason, IdempotencyKey: req.IdempotencyKey,
			Reference: req.Reference, Fingerprint: req.Fingerprint(), CreatedAt: now}
		_, err = tx.Exec(ctx, `INSERT INTO ledger_entries (id, customer_id, currency, entry_type, amount,
			balance_before, balance_after, reason, idempotency_key, reference_type, reference_id, fingerprint, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			e.ID, e.CustomerID, e.Currency, string(e.Type), e.Amount, e.BalanceBefore, e.BalanceAfter, e.Reason,
			e.IdempotencyKey, string(e.Reference.Type), e.Reference.ID, e.Fingerprint, e.CreatedAt)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE wallet_balances SET amount = $3, updated_at = $4
			WHERE customer_id = $1 AND currency = $2`, cus, req.Currency, e.BalanceAfter, now)
		if err != nil {
			return err
		}
		data, err := json.Marshal(balanceChanged{Entry: e, Balance: wallet.Balance{CustomerID: cus, Currency: req.Currency,
			Amount: e.BalanceAfter, Held: held, UpdatedAt: now}})
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO events (id, type, customer_id, data, created_at) VALUES ($1, $2, $3, $4, $5)`,
			newID("evt"), "wallet.balance_changed", cus, data, now)
		return err
	})
}

// charge does by hand what a processor-paid charge does: one transaction
// recording the pending payment (subscription and balance read FOR
// UPDATE) and numbering its invoice, the processor call outside it, and one transaction settling it
// (payment FOR UPDATE, UPDATE payment, INSERT event, UPDATE subscription).
func (rp *rawPg) charge(ctx context.Context) error {
	w := pick(len(rp.subs))
	subID := rp.subs[w]
	now := time.Now().UTC()
	pay := subscription.Payment{ID: newID("pay"), SubscriptionID: subID, Kind: subscription.KindSubscription,
		Amount: chargeAmount, Currency: "USD", Status: subscription.PaymentPending, IdempotencyKey: fmt.Sprintf("bench-%d", rp.keys.Add(1)),
		Description: "bench", CreatedAt: now, UpdatedAt: now}
	var mandate string
	err := pgx.BeginFunc(ctx, rp.pool, func(tx pgx.Tx) error {
		var status string
		err := tx.QueryRow(ctx, `SELECT customer_id, status, payment_method, mandate_id FROM subscriptions
			WHERE id = $1 FOR UPDATE`, subID).Scan(&pay.CustomerID, &status, &pay.PaymentMethod, &mandate)
		if err != nil {
			return err
		}
		if status != string(subscription.StatusActive) {
			return fmt.Errorf("raw pgx: subscription %s is %s", subID, status)
		}
		var amount, held int64
		err = tx.QueryRow(ctx, `SELECT amount, held FROM wallet_balances
			WHERE customer_id = $1 AND currency = $2 FOR UPDATE`, pay.CustomerID, pay.Currency).Scan(&amount, &held)
		if err != nil {
			return err
		}
		if amount-held > 0 {
			return errors.New("raw pgx: the benchmark wallets are meant to be empty")
		}
		pay.ProcessorAmount = pay.Amount
		_, err = tx.Exec(ctx, `INSERT INTO payments (id, customer_id, subscription_id, kind, amount, currency,
			wallet_amount, processor_amount, status, payment_method, idempotency_key, description, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
			pay.ID, pay.CustomerID, pay.SubscriptionID, string(pay.Kind), pay.Amount, pay.Currency, pay.WalletAmount,
			pay.ProcessorAmount, string(pay.Status), pay.PaymentMethod, pay.IdempotencyKey, pay.Description, now, now)
		if err != nil {
			return err
		}
		// The invoice, numbered from the customer's counter in the
		// payment's transaction.
		_, err = tx.Exec(ctx, `WITH n AS (
				INSERT INTO invoice_counters AS c (customer_id, last) VALUES ($2, 1)
				ON CONFLICT (customer_id) DO UPDATE SET last = c.last + 1 RETURNING last)
			INSERT INTO invoices (id, customer_id, payment_id, prefix, seq, created_at)
			SELECT $1, $2, $3, 'INV', n.last, $4 FROM n`, "inv_"+pay.ID[len("pay_"):], pay.CustomerID, pay.ID, now)
		return err
	})
	if err != nil {
		return err
	}
	ch, err := rp.proc.Charge(ctx, processor.ChargeRequest{IdempotencyKey: pay.ID, MandateID: mandate,
		PaymentMethod: pay.PaymentMethod, Amount: pay.ProcessorAmount, Currency: pay.Currency, Description: pay.Description})
	if err != nil {
		return err
	}
	if ch.Status != processor.ChargeSucceeded {
		return fmt.Errorf("raw pgx: charge %s", ch.Status)
	}
	return pgx.BeginFunc(ctx, rp.pool, func(tx pgx.Tx) error {
		var status string
		if err := tx.QueryRow(ctx, `SELECT status FROM payments WHERE id = $1 FOR UPDATE`, pay.ID).Scan(&status); err != nil {
			return err
		}
		if status != string(subscription.PaymentPending) {
			return nil
		}
		done := time.Now().UTC()
		pay.Status, pay.ProcessorID, pay.UpdatedAt = subscription.PaymentSucceeded, ch.ID, done
		_, err := tx.Exec(ctx, `UPDATE payments SET status = $2, processor_id = $3, updated_at = $4 WHERE id = $1`,
			pay.ID, string(pay.Status), pay.ProcessorID, done)
		if err != nil {
			return err
		}
		data, err := json.Marshal(pay)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO events (id, type, customer_id, data, created_at) VALUES ($1, $2, $3, $4, $5)`,
			newID("evt"), "payment.succeeded", pay.CustomerID, data, done)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE subscriptions SET last_payment_at = $2, updated_at = $2 WHERE id = $1`, subID, done)
		return err
	})
}

func (rp *rawPg) close() error {
	rp.pool.Close()
	return rp.pg.dropSchema(rp.schema)
}
