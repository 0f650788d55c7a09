package store

import (
	"time"

	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/wallet"
)

// CreditGrants is the part of a store's Tx that keeps credit grants (the
// tracked credits of package ledger: kind, priority, expiry, remainder) and
// the allocations that consumed or reserve them. Every adapter of this
// repository implements it; the Engine tracks grants only on a store that
// does, and refuses credit terms on one that does not.
//
// A grant is keyed by the id of its credit entry, inserted in the same
// transaction. Its terms and Amount never change; Remaining, Held and
// Expired are derived data the Engine maintains in the transaction of each
// entry or hold that moves them, so a grant agrees with the allocations at
// every commit. Allocations are immutable: one list per owner (a debit
// entry id or a hold id), written once.
//
// A write in a View transaction returns ErrReadOnly.
type CreditGrants interface {
	// BalanceGrants reads (in Update: locks) a balance, as Balance does,
	// and the wallet's open grants (Remaining > 0), in any order, read
	// after the lock: one step, so an adapter may do it in one round trip.
	// A missing balance is ErrNotFound (and no grants).
	BalanceGrants(customerID, currency string) (wallet.Balance, []ledger.Grant, error)
	// OpenGrants lists a wallet's open grants, in any order.
	OpenGrants(customerID, currency string) ([]ledger.Grant, error)
	// Grant reads a grant by its entry's id.
	Grant(id string) (ledger.Grant, error)
	// ListGrants lists every grant of a wallet, open or not, in any order
	// (audits and tests).
	ListGrants(customerID, currency string) ([]ledger.Grant, error)
	// InsertGrant stores a new grant; an existing id is ErrDuplicate.
	InsertGrant(g ledger.Grant) error
	// UpdateGrant stores a grant's derived amounts (Remaining, Held,
	// Expired); a missing grant is ErrNotFound.
	UpdateGrant(g ledger.Grant) error
	// PutAllocations stores the allocations of an owner (a debit entry, a
	// hold); an owner that has them already is ErrDuplicate.
	PutAllocations(ownerID string, a []ledger.Allocation) error
	// Allocations reads an owner's allocations; none is an empty list.
	Allocations(ownerID string) ([]ledger.Allocation, error)
	// DueGrants lists up to limit (<= 0: DefaultLimit) grants whose
	// ExpiresAt is at or before now and that have a free remainder
	// (Remaining > Held), earliest expiry first, through an index by
	// expiry: the cost grows with what is due.
	DueGrants(now time.Time, limit int) ([]ledger.Grant, error)
}
