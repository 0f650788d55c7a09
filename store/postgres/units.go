package postgres

import (
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/store"
)

// Credit units (store.Units): table units (migration 0012), one row per
// unit, never updated.

const unitCols = `code, exponent, name, price_amount, price_currency, price_per, created_at`

const (
	getUnitSQL    = `SELECT ` + unitCols + ` FROM units WHERE code = $1`
	listUnitsSQL  = `SELECT ` + unitCols + ` FROM units ORDER BY code COLLATE "C"`
	insertUnitSQL = `INSERT INTO units (` + unitCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`
)

var _ store.Units = (*tx)(nil)

func scanUnit(r pgx.Rows, u *money.Unit) error {
	var amount, per pgtype.Int8
	var cur pgtype.Text
	if err := r.Scan(&u.Code, &u.Exponent, &u.Name, &amount, &cur, &per, &u.CreatedAt); err != nil {
		return err
	}
	u.CreatedAt = u.CreatedAt.UTC()
	if amount.Valid {
		u.Price = &money.UnitPrice{Amount: amount.Int64, Currency: cur.String, Per: per.Int64}
	}
	return nil
}

// Unit reads a unit.
func (t *tx) Unit(code string) (money.Unit, error) {
	var u money.Unit
	err := t.getOne("unit", code, getUnitSQL, []any{code}, func(r pgx.Rows) error { return scanUnit(r, &u) })
	return u, err
}

// InsertUnit stores a new unit.
func (t *tx) InsertUnit(u money.Unit) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := u.Validate(); err != nil {
		return err
	}
	var amount, per, cur any
	if p := u.Price; p != nil {
		amount, cur, per = p.Amount, p.Currency, p.Per
	}
	return t.insert("unit", u.Code, insertUnitSQL, []any{u.Code, u.Exponent, u.Name, amount, cur, per, timeArg(u.CreatedAt)})
}

// ListUnits lists every unit, sorted by code.
func (t *tx) ListUnits() ([]money.Unit, error) {
	out, err := listAll(t, listUnitsSQL, nil, scanUnit)
	if out == nil && err == nil {
		out = []money.Unit{}
	}
	return out, err
}
