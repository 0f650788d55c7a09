package postgres

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/topup"
)

// Auto top-up rules (store.TopUps): table topup_rules (migration 0011), one
// JSON document per rule beside the columns it is looked up by. A rule read
// in Update locks its customer first (as every locking read of a
// customer's rows does), then its row.

var (
	getTopUp = lockable(`SELECT rule FROM topup_rules WHERE id = $1`)
)

const (
	insertTopUpSQL = `INSERT INTO topup_rules (id, customer_id, currency, created_at, next_check, rule)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`
	updateTopUpSQL  = `UPDATE topup_rules SET next_check = $2, rule = $3 WHERE id = $1`
	deleteTopUpSQL  = `DELETE FROM topup_rules WHERE id = $1`
	walletTopUpsSQL = `SELECT rule FROM topup_rules WHERE customer_id = $1 AND currency = $2 ORDER BY created_at, id`
	dueTopUpsSQL    = `SELECT rule FROM topup_rules WHERE next_check IS NOT NULL AND next_check <= $1
		ORDER BY next_check, id LIMIT $2`
)

func init() {
	// A rule belongs to its customer: its locking read locks that
	// customer first (customerlock.go).
	customerLocks[getTopUp.lock] = customerLock{arg: 0, via: lockVia("topup_rules", "customer_id", "id")}
}

var _ store.TopUps = (*tx)(nil)

func scanTopUp(r pgx.Rows, out *topup.Rule) error {
	var raw []byte
	if err := r.Scan(&raw); err != nil {
		return err
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("postgres: top-up rule: %w", err)
	}
	normTopUp(out)
	return nil
}

func normTopUp(r *topup.Rule) {
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	r.State.NextCheck, r.State.Anchor = r.State.NextCheck.UTC(), r.State.Anchor.UTC()
	r.State.FirstFailure, r.State.LastTopUpAt = r.State.FirstFailure.UTC(), r.State.LastTopUpAt.UTC()
	if p := r.State.Pending; p != nil {
		p.At, p.ExpiresAt = p.At.UTC(), p.ExpiresAt.UTC()
	}
}

func topUpDoc(r topup.Rule) ([]byte, error) {
	normTopUp(&r)
	return json.Marshal(r)
}

// InsertTopUp stores a new rule.
func (t *tx) InsertTopUp(r topup.Rule) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := r.Check(); err != nil {
		return err
	}
	v, err := topUpDoc(r)
	if err != nil {
		return err
	}
	return t.insert("top-up rule", r.ID, insertTopUpSQL, []any{r.ID, r.CustomerID, r.Currency,
		timeArg(r.CreatedAt), nullTimeArg(r.State.NextCheck), v})
}

// UpdateTopUp replaces a rule.
func (t *tx) UpdateTopUp(r topup.Rule) error {
	if err := t.writable(); err != nil {
		return err
	}
	old, err := t.TopUp(r.ID)
	if err != nil {
		return err
	}
	r.CustomerID, r.Currency, r.CreatedAt = old.CustomerID, old.Currency, old.CreatedAt
	if err := r.Check(); err != nil {
		return err
	}
	v, err := topUpDoc(r)
	if err != nil {
		return err
	}
	return t.update("top-up rule", r.ID, updateTopUpSQL, []any{r.ID, nullTimeArg(r.State.NextCheck), v})
}

// DeleteTopUp removes a rule.
func (t *tx) DeleteTopUp(id string) error {
	if err := t.writable(); err != nil {
		return err
	}
	return t.update("top-up rule", id, deleteTopUpSQL, []any{id})
}

// TopUp reads (in Update: locks) a rule.
func (t *tx) TopUp(id string) (topup.Rule, error) {
	var r topup.Rule
	err := t.getOne("top-up rule", id, t.lock(getTopUp), []any{id}, func(rows pgx.Rows) error { return scanTopUp(rows, &r) })
	return r, err
}

// WalletTopUps lists a wallet's rules, oldest first.
func (t *tx) WalletTopUps(customerID, currency string) ([]topup.Rule, error) {
	return listAll(t, walletTopUpsSQL, []any{customerID, currency}, scanTopUp)
}

// DueTopUps lists the rules due for a check, earliest first, through the
// topup_rules_due index.
func (t *tx) DueTopUps(now time.Time, limit int) ([]topup.Rule, error) {
	if limit <= 0 {
		limit = store.DefaultLimit
	}
	return listAll(t, dueTopUpsSQL, []any{timeArg(now), limit}, scanTopUp)
}
