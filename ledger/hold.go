package ledger

import (
	"fmt"
	"time"

	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/wallet"
)

// HoldStatus is the state of a hold: pending until captured (posted as a
// debit entry) or released (returned to the available balance).
type HoldStatus string

// Hold statuses.
const (
	HoldPending  HoldStatus = "pending"
	HoldCaptured HoldStatus = "captured"
	HoldReleased HoldStatus = "released"
)

// Hold reserves part of a wallet balance while a charge is in flight, the
// first phase of a two-phase transfer (as TigerBeetle's pending transfers):
// the reserved amount cannot be spent twice, and nothing is posted until the
// outcome is known.
type Hold struct {
	ID         string     `json:"id"`
	CustomerID string     `json:"customer_id"`
	Currency   string     `json:"currency"`
	Amount     int64      `json:"amount"`
	Status     HoldStatus `json:"status"`
	Reference  Reference  `json:"reference"`
	EntryID    string     `json:"entry_id,omitempty"` // the debit posted on capture
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
}

// PlaceHold reserves amount of b's available balance.
func PlaceHold(b wallet.Balance, id string, amount int64, ref Reference, now time.Time) (Hold, wallet.Balance, error) {
	if amount <= 0 {
		return Hold{}, b, ErrInvalidAmount
	}
	if amount > b.Available() {
		return Hold{}, b, fmt.Errorf("%w: %s available, hold of %s", wallet.ErrInsufficientFunds,
			money.Format(b.Available(), b.Currency), money.Format(amount, b.Currency))
	}
	after := b
	after.Held += amount
	after.UpdatedAt = now.UTC()
	h := Hold{ID: id, CustomerID: b.CustomerID, Currency: b.Currency, Amount: amount, Status: HoldPending,
		Reference: ref, CreatedAt: now.UTC(), UpdatedAt: now.UTC()}
	return h, after, nil
}

// ReleaseHold returns a pending hold to the available balance.
func ReleaseHold(b wallet.Balance, h Hold, now time.Time) (Hold, wallet.Balance, error) {
	if h.Status != HoldPending {
		return h, b, fmt.Errorf("%w: %s is %s", ErrHoldNotPending, h.ID, h.Status)
	}
	if err := holdOf(b, h); err != nil {
		return h, b, err
	}
	after := b
	after.Held -= h.Amount
	after.UpdatedAt = now.UTC()
	h.Status = HoldReleased
	h.UpdatedAt = now.UTC()
	return h, after, nil
}

// CaptureHold posts a pending hold as a debit entry: the held amount leaves
// both Held and Amount. The debit cannot fail for lack of funds, because the
// hold already reserved them.
func CaptureHold(b wallet.Balance, h Hold, entryID, reason string, now time.Time) (Hold, Entry, wallet.Balance, error) {
	if h.Status != HoldPending {
		return h, Entry{}, b, fmt.Errorf("%w: %s is %s", ErrHoldNotPending, h.ID, h.Status)
	}
	if err := holdOf(b, h); err != nil {
		return h, Entry{}, b, err
	}
	released := b
	released.Held -= h.Amount
	req := Request{Amount: h.Amount, Currency: h.Currency, Type: Debit, Reason: reason,
		IdempotencyKey: "hold:" + h.ID, Reference: h.Reference}
	e, after, err := Post(released, req, entryID, now)
	if err != nil {
		return h, Entry{}, b, err
	}
	h.Status = HoldCaptured
	h.EntryID = e.ID
	h.UpdatedAt = now.UTC()
	return h, e, after, nil
}

// holdOf checks that b carries the pending hold h, so that releasing or
// capturing it cannot drive Held below zero or move another wallet.
func holdOf(b wallet.Balance, h Hold) error {
	if h.CustomerID != b.CustomerID || h.Currency != b.Currency || h.Amount <= 0 || h.Amount > b.Held {
		return fmt.Errorf("%w: %s (%s %s %d) is not held on %s %s (held %d)", ErrHoldNotFound,
			h.ID, h.CustomerID, h.Currency, h.Amount, b.CustomerID, b.Currency, b.Held)
	}
	return nil
}
