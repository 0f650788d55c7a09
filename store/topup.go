package store

import (
	"time"

	"github.com/cofferhq/coffer/topup"
)

// TopUps is the part of a store's Tx that keeps auto top-up rules
// (package topup). Every adapter of this repository implements it; the
// Engine refuses top-up rules on a store that does not.
//
// A write in a View transaction returns ErrReadOnly.
type TopUps interface {
	// InsertTopUp stores a new rule; an existing id is ErrDuplicate.
	InsertTopUp(r topup.Rule) error
	// UpdateTopUp replaces a rule (all of it but its id, customer,
	// currency and CreatedAt); a missing rule is ErrNotFound.
	UpdateTopUp(r topup.Rule) error
	// DeleteTopUp removes a rule; a missing rule is ErrNotFound.
	DeleteTopUp(id string) error
	// TopUp reads (in Update: locks, until the transaction ends) a rule.
	TopUp(id string) (topup.Rule, error)
	// WalletTopUps lists a wallet's rules, oldest first (by CreatedAt,
	// then id).
	WalletTopUps(customerID, currency string) ([]topup.Rule, error)
	// DueTopUps lists up to limit (<= 0: DefaultLimit) rules whose
	// State.NextCheck is set and at or before now, earliest first, through
	// an index by next check: the cost grows with what is due, not with
	// the rules kept.
	DueTopUps(now time.Time, limit int) ([]topup.Rule, error)
}
