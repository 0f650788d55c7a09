package memory

import (
	"slices"
	"strings"

	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/store"
)

// unitTable holds the credit units (store.Units), by code. Inserts are
// undone through opFunc closures.
type unitTable struct {
	byCode map[string]money.Unit
}

var _ store.Units = (*tx)(nil)

// Unit reads a unit.
func (t *tx) Unit(code string) (money.Unit, error) {
	u, ok := t.s.units.byCode[code]
	if !ok {
		return money.Unit{}, notFound("unit", code)
	}
	return copyUnit(u), nil
}

// InsertUnit stores a new unit.
func (t *tx) InsertUnit(u money.Unit) error {
	if err := t.write(); err != nil {
		return err
	}
	if err := u.Validate(); err != nil {
		return err
	}
	ut := &t.s.units
	if ut.byCode == nil {
		ut.byCode = make(map[string]money.Unit)
	}
	if _, ok := ut.byCode[u.Code]; ok {
		return duplicate("unit", u.Code)
	}
	u = copyUnit(u)
	u.CreatedAt = u.CreatedAt.UTC()
	ut.byCode[u.Code] = u
	t.s.w.add(opFunc, func() { delete(ut.byCode, u.Code) }, "", 0)
	return nil
}

// ListUnits lists every unit, sorted by code.
func (t *tx) ListUnits() ([]money.Unit, error) {
	out := make([]money.Unit, 0, len(t.s.units.byCode))
	for _, u := range t.s.units.byCode {
		out = append(out, copyUnit(u))
	}
	slices.SortFunc(out, func(a, b money.Unit) int { return strings.Compare(a.Code, b.Code) })
	return out, nil
}

// copyUnit returns u with its own price (records never alias stored ones).
func copyUnit(u money.Unit) money.Unit {
	if u.Price != nil {
		p := *u.Price
		u.Price = &p
	}
	return u
}
