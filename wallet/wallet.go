// Package wallet holds the per-currency balance record of a customer's
// wallet. Postings to it are made through package ledger; it does no I/O.
package wallet

import (
	"errors"
	"time"
)

// Errors.
var (
	// ErrInsufficientFunds: a debit or hold larger than the available balance
	// (the 400 class, "insufficient wallet balance"). Nothing is changed.
	ErrInsufficientFunds = errors.New("wallet: insufficient wallet balance")
	// ErrNotFound: the customer has no wallet in that currency.
	ErrNotFound = errors.New("wallet: not found")
)

// Balance is one currency of a customer's wallet, in minor units.
//
// Amount is the posted balance: the sum of credit entries minus the sum of
// debit entries, never negative. Held is the part of it reserved by pending
// holds (a charge in flight); Available = Amount - Held is what a new debit or
// hold may take.
type Balance struct {
	CustomerID string    `json:"customer_id"`
	Currency   string    `json:"currency"`
	Amount     int64     `json:"amount"`
	Held       int64     `json:"held"`
	UpdatedAt  time.Time `json:"updated_at"`

	// LowThreshold, when > 0, overrides the engine's per-currency low-balance
	// threshold for this wallet. Low records that the balance is below the
	// threshold, so the low-balance event fires once per crossing.
	LowThreshold int64 `json:"low_threshold,omitempty"`
	Low          bool  `json:"low,omitempty"`
}

// Available is the balance a debit or a hold may take.
func (b Balance) Available() int64 { return b.Amount - b.Held }

// Check reports a violated invariant of b, or nil. Stores and property tests
// use it; a correct engine never produces a balance that fails it.
func (b Balance) Check() error {
	if b.Amount < 0 {
		return errors.New("wallet: negative balance")
	}
	if b.Held < 0 || b.Held > b.Amount {
		return errors.New("wallet: held amount outside [0, amount]")
	}
	return nil
}
