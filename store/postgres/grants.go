package postgres

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/wallet"
)

// Credit grants (store.CreditGrants): tables credit_grants and
// credit_allocations (migration 0008). The open grants of a wallet are read
// with its balance in one round trip (BalanceGrants): the balance's locking
// read is sent first, the grants' read after it in the same batch, so it
// sees every grant change committed before the lock was granted.

const grantCols = `id, entry_id, customer_id, currency, kind, priority, expires_at, amount, remaining, held,
	expired, source, created_at`

const (
	openGrantsSQL = `SELECT ` + grantCols + ` FROM credit_grants
		WHERE customer_id = $1 AND currency = $2 AND remaining > 0`
	walletGrantsSQL = `SELECT ` + grantCols + ` FROM credit_grants WHERE customer_id = $1 AND currency = $2`
	getGrantSQL     = `SELECT ` + grantCols + ` FROM credit_grants WHERE id = $1`
	insertGrantSQL  = `INSERT INTO credit_grants (` + grantCols + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING`
	updateGrantSQL = `UPDATE credit_grants SET remaining = $2, held = $3, expired = $4 WHERE id = $1`
	dueGrantsSQL   = `SELECT ` + grantCols + ` FROM credit_grants
		WHERE remaining > 0 AND expires_at IS NOT NULL AND expires_at <= $1 AND remaining > held
		ORDER BY expires_at, id LIMIT $2`
	insertAllocSQL = `INSERT INTO credit_allocations (owner_id, allocations) VALUES ($1, $2) ON CONFLICT DO NOTHING`
	getAllocSQL    = `SELECT allocations FROM credit_allocations WHERE owner_id = $1`
)

var _ store.CreditGrants = (*tx)(nil)

func scanGrant(r pgx.Rows, g *ledger.Grant) error {
	var kind string
	var exp pgtype.Timestamptz
	err := r.Scan(&g.ID, &g.EntryID, &g.CustomerID, &g.Currency, &kind, &g.Priority, &exp, &g.Amount,
		&g.Remaining, &g.Held, &g.Expired, &g.Source, &g.CreatedAt)
	g.Kind = ledger.CreditKind(kind)
	if exp.Valid {
		g.ExpiresAt = exp.Time.UTC()
	}
	g.CreatedAt = g.CreatedAt.UTC()
	return err
}

// BalanceGrants reads (in Update: locks) a balance and reads its open
// grants, in one round trip.
func (t *tx) BalanceGrants(customerID, currency string) (wallet.Balance, []ledger.Grant, error) {
	var b wallet.Balance
	if err := t.usable(); err != nil {
		return b, nil, err
	}
	sql, args := t.lock(getBalance), []any{customerID, currency}
	t.lockCustomerFor(sql, args)
	found := false
	t.q = append(t.q, queued{sql: sql, args: args, each: func(r pgx.Rows) error {
		found = true
		return scanBalance(r, &b)
	}})
	grants, err := listAll(t, openGrantsSQL, args, scanGrant)
	if err != nil {
		return b, nil, err
	}
	if !found {
		err = fmt.Errorf("%w: balance %q", store.ErrNotFound, customerID+"/"+currency)
		t.noteRead(balanceKey(customerID, currency), err)
		return b, nil, err
	}
	t.noteRead(balanceKey(customerID, currency), nil)
	return b, grants, nil
}

// OpenGrants lists a wallet's open grants.
func (t *tx) OpenGrants(customerID, currency string) ([]ledger.Grant, error) {
	return listAll(t, openGrantsSQL, []any{customerID, currency}, scanGrant)
}

// ListGrants lists every grant of a wallet.
func (t *tx) ListGrants(customerID, currency string) ([]ledger.Grant, error) {
	return listAll(t, walletGrantsSQL, []any{customerID, currency}, scanGrant)
}

// Grant reads a grant.
func (t *tx) Grant(id string) (ledger.Grant, error) {
	var g ledger.Grant
	err := t.getOne("grant", id, getGrantSQL, []any{id}, func(r pgx.Rows) error { return scanGrant(r, &g) })
	return g, err
}

// InsertGrant stores a new grant.
func (t *tx) InsertGrant(g ledger.Grant) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := g.Check(); err != nil {
		return err
	}
	return t.insert("grant", g.ID, insertGrantSQL, []any{g.ID, g.EntryID, g.CustomerID, g.Currency, string(g.Kind),
		g.Priority, nullTimeArg(g.ExpiresAt), g.Amount, g.Remaining, g.Held, g.Expired, g.Source, timeArg(g.CreatedAt)})
}

// UpdateGrant stores a grant's derived amounts.
func (t *tx) UpdateGrant(g ledger.Grant) error {
	if err := t.writable(); err != nil {
		return err
	}
	if g.Remaining < 0 || g.Held < 0 || g.Held > g.Remaining || g.Expired < 0 {
		return fmt.Errorf("postgres: grant %s: amounts outside their bounds", g.ID)
	}
	return t.update("grant", g.ID, updateGrantSQL, []any{g.ID, g.Remaining, g.Held, g.Expired})
}

// PutAllocations stores an owner's allocations.
func (t *tx) PutAllocations(ownerID string, a []ledger.Allocation) error {
	if err := t.writable(); err != nil {
		return err
	}
	v, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return t.insert("allocations", ownerID, insertAllocSQL, []any{ownerID, v})
}

// Allocations reads an owner's allocations.
func (t *tx) Allocations(ownerID string) ([]ledger.Allocation, error) {
	var out []ledger.Allocation
	err := t.query(getAllocSQL, []any{ownerID}, func(r pgx.Rows) error {
		var raw []byte
		if err := r.Scan(&raw); err != nil {
			return err
		}
		return json.Unmarshal(raw, &out)
	})
	return out, err
}

// DueGrants lists the due grants with a free remainder, earliest expiry
// first, through the credit_grants_due index.
func (t *tx) DueGrants(now time.Time, limit int) ([]ledger.Grant, error) {
	if limit <= 0 {
		limit = store.DefaultLimit
	}
	return listAll(t, dueGrantsSQL, []any{timeArg(now), limit}, scanGrant)
}
