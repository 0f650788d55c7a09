package bolt

import (
	"encoding/json"
	"fmt"

	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/store"
)

// Credit units (store.Units) live in a bucket of their own, created by the
// first unit defined (a store that never saw one has none, and a read
// finds no units):
//
//	units  code -> unit (JSON)
var bUnits = []byte("units")

var _ store.Units = (*tx)(nil)

// Unit reads a unit.
func (t *tx) Unit(code string) (money.Unit, error) {
	var u money.Unit
	if t.btx == nil {
		panic("bolt: store.Tx used after its transaction function returned")
	}
	var v []byte
	if b := t.btx.Bucket(bUnits); b != nil {
		v = b.Get([]byte(code))
	}
	if v == nil {
		return u, fmt.Errorf("%w: unit %q", store.ErrNotFound, code)
	}
	if err := json.Unmarshal(v, &u); err != nil {
		return u, fmt.Errorf("bolt: unit %q: %w", code, err)
	}
	return u, nil
}

// InsertUnit stores a new unit.
func (t *tx) InsertUnit(u money.Unit) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := u.Validate(); err != nil {
		return err
	}
	b, err := t.btx.CreateBucketIfNotExists(bUnits)
	if err != nil {
		return fmt.Errorf("bolt: %w", err)
	}
	if b.Get([]byte(u.Code)) != nil {
		return fmt.Errorf("%w: unit %q", store.ErrDuplicate, u.Code)
	}
	u.CreatedAt = u.CreatedAt.UTC()
	v, err := json.Marshal(u)
	if err != nil {
		return err
	}
	if err := b.Put([]byte(u.Code), v); err != nil {
		return fmt.Errorf("bolt: %w", err)
	}
	return nil
}

// ListUnits lists every unit, sorted by code (the bucket's key order).
func (t *tx) ListUnits() ([]money.Unit, error) {
	if t.btx == nil {
		panic("bolt: store.Tx used after its transaction function returned")
	}
	out := []money.Unit{}
	b := t.btx.Bucket(bUnits)
	if b == nil {
		return out, nil
	}
	err := b.ForEach(func(k, v []byte) error {
		var u money.Unit
		if err := json.Unmarshal(v, &u); err != nil {
			return fmt.Errorf("bolt: unit %q: %w", k, err)
		}
		out = append(out, u)
		return nil
	})
	return out, err
}
