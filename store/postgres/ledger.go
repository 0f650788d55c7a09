package postgres

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/wallet"
)

// ---- wallet balances ----

const balanceCols = `customer_id, currency, amount, held, low_threshold, low, updated_at`

var getBalance = lockable(`SELECT ` + balanceCols + ` FROM wallet_balances WHERE customer_id = $1 AND currency = $2`)

const (
	listBalances = `SELECT ` + balanceCols + ` FROM wallet_balances WHERE customer_id = $1 ORDER BY currency`
	// A balance this transaction locked exists, so a plain UPDATE does;
	// an upsert covers a balance written without reading it first.
	upsertBalance = `INSERT INTO wallet_balances (` + balanceCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (customer_id, currency) DO UPDATE SET amount = EXCLUDED.amount, held = EXCLUDED.held,
		low_threshold = EXCLUDED.low_threshold, low = EXCLUDED.low, updated_at = EXCLUDED.updated_at`
	insertBalance = `INSERT INTO wallet_balances (` + balanceCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT DO NOTHING`
	updateBalance = `UPDATE wallet_balances SET amount = $3, held = $4, low_threshold = $5, low = $6,
		updated_at = $7 WHERE customer_id = $1 AND currency = $2`
)

var putBalance = putSQL{upsert: upsertBalance, update: updateBalance, insert: insertBalance}

func scanBalance(r pgx.Rows, b *wallet.Balance) error {
	err := r.Scan(&b.CustomerID, &b.Currency, &b.Amount, &b.Held, &b.LowThreshold, &b.Low, &b.UpdatedAt)
	b.UpdatedAt = b.UpdatedAt.UTC()
	return err
}

func balanceKey(customerID, currency string) string { return "b\x00" + customerID + "\x00" + currency }

// Balance reads (in Update: locks) one currency of a wallet.
func (t *tx) Balance(customerID, currency string) (wallet.Balance, error) {
	var b wallet.Balance
	err := t.getOne("balance", customerID+"/"+currency, t.lock(getBalance), []any{customerID, currency},
		func(r pgx.Rows) error { return scanBalance(r, &b) })
	t.noteRead(balanceKey(customerID, currency), err)
	return b, err
}

// PutBalance stores a balance. The balance checks (amount >= 0,
// 0 <= held <= amount) are tested here first, so a bad balance fails at
// once and not at the next round trip; the table enforces them too.
func (t *tx) PutBalance(b wallet.Balance) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := b.Check(); err != nil {
		return fmt.Errorf("postgres: balance %s/%s: %w", b.CustomerID, b.Currency, err)
	}
	return t.put(balanceKey(b.CustomerID, b.Currency), putBalance,
		b.CustomerID, b.Currency, b.Amount, b.Held, b.LowThreshold, b.Low, timeArg(b.UpdatedAt))
}

// Balances lists a wallet's balances by currency.
func (t *tx) Balances(customerID string) ([]wallet.Balance, error) {
	var out []wallet.Balance
	err := t.query(listBalances, []any{customerID}, func(r pgx.Rows) error {
		var b wallet.Balance
		if err := scanBalance(r, &b); err != nil {
			return err
		}
		out = append(out, b)
		return nil
	})
	return out, err
}

// ---- ledger entries ----

const entryCols = `id, customer_id, currency, entry_type, amount, balance_before, balance_after, reason,
	idempotency_key, reference_type, reference_id, fingerprint, created_at`

// Entries are immutable, so reading one needs no lock.
const (
	getEntry      = `SELECT ` + entryCols + ` FROM ledger_entries WHERE id = $1`
	getEntryByKey = `SELECT ` + entryCols + ` FROM ledger_entries WHERE customer_id = $1 AND idempotency_key = $2`
	insertEntry   = `INSERT INTO ledger_entries (` + entryCols + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING`
)

func scanEntry(r pgx.Rows, e *ledger.Entry) error {
	var typ, refType string
	err := r.Scan(&e.ID, &e.CustomerID, &e.Currency, &typ, &e.Amount, &e.BalanceBefore, &e.BalanceAfter,
		&e.Reason, &e.IdempotencyKey, &refType, &e.Reference.ID, &e.Fingerprint, &e.CreatedAt)
	e.Type, e.Reference.Type = ledger.Type(typ), ledger.RefType(refType)
	e.CreatedAt = e.CreatedAt.UTC()
	return err
}

// InsertEntry stores an entry; an existing id, or an idempotency key the
// customer already used, is store.ErrDuplicate and leaves the transaction
// usable.
func (t *tx) InsertEntry(e ledger.Entry) error {
	tag, err := t.exec(insertEntry, e.ID, e.CustomerID, e.Currency, string(e.Type), e.Amount,
		e.BalanceBefore, e.BalanceAfter, e.Reason, e.IdempotencyKey, string(e.Reference.Type),
		e.Reference.ID, e.Fingerprint, timeArg(e.CreatedAt))
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: entry %q (or its idempotency key)", store.ErrDuplicate, e.ID)
	}
	return nil
}

// InsertEntryOrExisting is InsertEntry with the idempotency lookup folded
// in (store.EntryKeyInserter): the insert is ON CONFLICT DO NOTHING, which
// leaves the transaction usable, so only when it inserts nothing is the
// key looked up, and a fresh key costs no lookup at all. Under READ
// COMMITTED the insert waits for a concurrent transaction holding the same
// key; once that one commits, the lookup (a new statement, a new snapshot)
// sees its entry.
func (t *tx) InsertEntryOrExisting(e ledger.Entry) (ledger.Entry, bool, error) {
	err := t.InsertEntry(e)
	if err == nil || !errors.Is(err, store.ErrDuplicate) || e.IdempotencyKey == "" {
		return ledger.Entry{}, false, err
	}
	prev, ferr := t.EntryByKey(e.CustomerID, e.IdempotencyKey)
	switch {
	case ferr == nil:
		return prev, true, nil
	case errors.Is(ferr, store.ErrNotFound):
		return ledger.Entry{}, false, err // the id was taken, not the key
	}
	return ledger.Entry{}, false, ferr
}

var _ store.EntryKeyInserter = (*tx)(nil)

// Entry reads an entry.
func (t *tx) Entry(id string) (ledger.Entry, error) {
	var e ledger.Entry
	err := t.getOne("entry", id, getEntry, []any{id}, func(r pgx.Rows) error { return scanEntry(r, &e) })
	return e, err
}

// EntryByKey reads the entry a customer posted with an idempotency key.
func (t *tx) EntryByKey(customerID, key string) (ledger.Entry, error) {
	var e ledger.Entry
	if key == "" {
		return e, fmt.Errorf("%w: entry with an empty idempotency key", store.ErrNotFound)
	}
	err := t.getOne("entry with key", key, getEntryByKey, []any{customerID, key},
		func(r pgx.Rows) error { return scanEntry(r, &e) })
	return e, err
}

// ListEntries lists a customer's entries newest first, through the
// (customer_id, seq) or (customer_id, currency, seq) index.
func (t *tx) ListEntries(q store.EntryQuery) ([]ledger.Entry, bool, error) {
	l := listQuery{table: "ledger_entries", cols: entryCols}
	l.filter("customer_id = ?", q.CustomerID)
	if q.Currency != "" {
		l.filter("currency = ?", q.Currency)
	}
	return listPage(t, l, q.Page, scanEntry)
}

// ---- holds ----

const holdCols = `id, customer_id, currency, amount, status, reference_type, reference_id, entry_id,
	created_at, updated_at`

var getHold = lockable(`SELECT ` + holdCols + ` FROM holds WHERE id = $1`)

const (
	upsertHold = `INSERT INTO holds (` + holdCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (id) DO UPDATE SET customer_id = EXCLUDED.customer_id, currency = EXCLUDED.currency,
		amount = EXCLUDED.amount, status = EXCLUDED.status, reference_type = EXCLUDED.reference_type,
		reference_id = EXCLUDED.reference_id, entry_id = EXCLUDED.entry_id,
		created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at`
	insertHold = `INSERT INTO holds (` + holdCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT DO NOTHING`
)

func scanHold(r pgx.Rows, h *ledger.Hold) error {
	var status, refType string
	err := r.Scan(&h.ID, &h.CustomerID, &h.Currency, &h.Amount, &status, &refType, &h.Reference.ID,
		&h.EntryID, &h.CreatedAt, &h.UpdatedAt)
	h.Status, h.Reference.Type = ledger.HoldStatus(status), ledger.RefType(refType)
	h.CreatedAt, h.UpdatedAt = h.CreatedAt.UTC(), h.UpdatedAt.UTC()
	return err
}

// PutHold stores a hold.
func (t *tx) PutHold(h ledger.Hold) error {
	return t.put("h\x00"+h.ID, putSQL{upsert: upsertHold, insert: insertHold}, h.ID, h.CustomerID, h.Currency, h.Amount,
		string(h.Status), string(h.Reference.Type), h.Reference.ID, h.EntryID,
		timeArg(h.CreatedAt), timeArg(h.UpdatedAt))
}

// Hold reads (in Update: locks) a hold.
func (t *tx) Hold(id string) (ledger.Hold, error) {
	var h ledger.Hold
	err := t.getOne("hold", id, t.lock(getHold), []any{id}, func(r pgx.Rows) error { return scanHold(r, &h) })
	t.noteRead("h\x00"+id, err)
	return h, err
}
