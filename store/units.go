package store

import "github.com/cofferhq/coffer/money"

// Units is the part of a store's Tx that keeps credit-unit definitions
// (money.Unit: api_calls, credits, ...; see money/unit.go). Every adapter
// of this repository implements it; on a store that does not, the Engine
// knows only the units given with coffer.WithUnits, and DefineUnit fails.
//
// A unit is immutable: there is no update and no delete. Codes are
// compared exactly (unit codes are lower-case). A write in a View
// transaction returns ErrReadOnly.
type Units interface {
	// Unit reads a unit by code; a missing unit is ErrNotFound.
	Unit(code string) (money.Unit, error)
	// InsertUnit stores a new unit; an existing code is ErrDuplicate.
	InsertUnit(u money.Unit) error
	// ListUnits lists every unit, sorted by code.
	ListUnits() ([]money.Unit, error)
}
