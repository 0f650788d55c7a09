package coffer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/cofferhq/coffer/internal/text"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/wallet"
)

// Usage reservations: a hold on a wallet (a unit wallet above all) for
// work whose cost is known only once it is done — reserve an upper bound
// before an LLM request, settle the tokens it used after. A reservation
// has the rules of a payment's hold: it reserves available balance (no
// overdraft: a reservation beyond it is wallet.ErrInsufficientFunds), in
// the credit grants' consumption order (priority, earliest expiry, age),
// and what it reserves is not expired while held; settling releases it and
// debits what was used in one transaction; releasing frees it.

// ReserveParams reserves Quantity minor units of Unit (a defined unit or
// an enabled currency) on a customer's wallet. IdempotencyKey is required
// (per customer): the same key with the same params answers the original
// reservation, with other params ledger.ErrIdempotencyConflict.
type ReserveParams struct {
	Unit           string `json:"unit"`
	Quantity       int64  `json:"quantity"`
	IdempotencyKey string `json:"idempotency_key"`
}

// SettleParams settles a reservation: Quantity (>= 0) minor units used.
// Up to the reserved quantity the debit cannot fail for lack of funds;
// beyond it the excess must be available.
type SettleParams struct {
	Quantity int64  `json:"quantity"`
	Reason   string `json:"reason,omitempty"` // default "Usage"
}

// reservationID is the hold id of a customer's reservation key: the same
// key always names the same hold, which makes ReserveUsage idempotent
// without a key index.
func reservationID(customerID, key string) string {
	h := sha256.Sum256([]byte(customerID + "\x00" + key))
	return "hold_u" + hex.EncodeToString(h[:16])
}

// ReserveUsage places a hold of p.Quantity on the customer's wallet in
// p.Unit, atomically with the balance change and its grants' reservation.
// It returns the hold (status pending) and the wallet after it.
func (e *Engine) ReserveUsage(ctx context.Context, customerID string, p ReserveParams) (ledger.Hold, wallet.Balance, error) {
	var h ledger.Hold
	var after wallet.Balance
	if err := checkCustomerID(customerID); err != nil {
		return h, after, err
	}
	if p.IdempotencyKey == "" {
		return h, after, &ParamError{Param: "idempotency_key", Err: ledger.ErrInvalidKey, Problem: errors.New("is required")}
	}
	if err := checkIdempotencyKey(ledger.ErrInvalidKey, p.IdempotencyKey); err != nil {
		return h, after, err
	}
	if p.Quantity <= 0 {
		return h, after, fmt.Errorf("%w: quantity must be > 0", ledger.ErrInvalidAmount)
	}
	code, err := e.walletCode(ctx, p.Unit)
	if err != nil {
		return h, after, err
	}
	id := reservationID(customerID, p.IdempotencyKey)
	err = e.update(ctx, func(tx store.Tx) error {
		prev, err := tx.Hold(id)
		if err == nil {
			if prev.CustomerID != customerID || prev.Currency != code || prev.Amount != p.Quantity {
				return fmt.Errorf("%w: key %s", ledger.ErrIdempotencyConflict, text.Quote(p.IdempotencyKey))
			}
			h = prev
			after, err = tx.Balance(customerID, code)
			return err
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		b, err := e.balanceForUpdate(tx, customerID, code)
		if err != nil {
			return err
		}
		h, after, err = ledger.PlaceHold(b, id, p.Quantity, ledger.Reference{Type: RefUsage, ID: p.IdempotencyKey}, e.clock.Now())
		if err != nil {
			return err
		}
		if err := tx.PutHold(h); err != nil {
			return err
		}
		if err := e.holdGrants(tx, b, h); err != nil {
			return err
		}
		return e.putBalance(tx, after, nil)
	})
	return h, after, err
}

// ReleaseUsage releases a pending reservation: what it held is available
// again. Releasing a released reservation answers it again; a settled one
// is ledger.ErrHoldNotPending.
func (e *Engine) ReleaseUsage(ctx context.Context, holdID string) (ledger.Hold, wallet.Balance, error) {
	var h ledger.Hold
	var after wallet.Balance
	if err := checkID(ledger.ErrInvalid, "hold_id", holdID); err != nil {
		return h, after, err
	}
	err := e.update(ctx, func(tx store.Tx) error {
		cur, b, err := e.reservation(tx, holdID)
		if err != nil {
			return err
		}
		if cur.Status == ledger.HoldReleased {
			h, after = cur, b
			return nil
		}
		h, after, err = ledger.ReleaseHold(b, cur, e.clock.Now())
		if err != nil {
			return err
		}
		if err := tx.PutHold(h); err != nil {
			return err
		}
		if err := e.holdGrants(tx, b, h); err != nil {
			return err
		}
		return e.putBalance(tx, after, nil)
	})
	return h, after, err
}

// SettleUsage ends a pending reservation with what was used: in one
// transaction it releases the hold and posts a usage debit of p.Quantity
// (none for 0) — reference type usage, the hold's id, keyed
// "hold:<hold id>" — with its wallet.balance_changed event. Settling a
// settled reservation with the same quantity answers the original entry
// (Replayed); with another quantity, or a released one, it is
// ledger.ErrHoldNotPending.
func (e *Engine) SettleUsage(ctx context.Context, holdID string, p SettleParams) (EntryResult, error) {
	var res EntryResult
	if err := checkID(ledger.ErrInvalid, "hold_id", holdID); err != nil {
		return res, err
	}
	if p.Quantity < 0 {
		return res, fmt.Errorf("%w: quantity must be >= 0", ledger.ErrInvalidAmount)
	}
	reason := p.Reason
	if reason == "" {
		reason = UsageReason
	}
	err := e.update(ctx, func(tx store.Tx) error {
		res = EntryResult{}
		cur, b, err := e.reservation(tx, holdID)
		if err != nil {
			return err
		}
		req := ledger.Request{Amount: p.Quantity, Currency: cur.Currency, Type: ledger.Debit, Reason: reason,
			IdempotencyKey: "hold:" + cur.ID, Reference: ledger.Reference{Type: RefUsage, ID: cur.ID}}
		if cur.Status != ledger.HoldPending {
			if cur.Status == ledger.HoldCaptured && cur.EntryID != "" {
				prev, found, err := entryByKey(tx, cur.CustomerID, req.IdempotencyKey)
				if err != nil {
					return err
				}
				if found && prev.Amount == p.Quantity {
					res = EntryResult{Entry: prev, Balance: b, Replayed: true}
					return nil
				}
			}
			return fmt.Errorf("%w: %s is %s", ledger.ErrHoldNotPending, cur.ID, cur.Status)
		}
		released, freed, err := ledger.ReleaseHold(b, cur, e.clock.Now())
		if err != nil {
			return err
		}
		if err := e.holdGrants(tx, b, released); err != nil {
			return err
		}
		if err := tx.PutBalance(freed); err != nil {
			return err
		}
		final := released
		if p.Quantity > 0 {
			if err := req.Validate(); err != nil {
				return err
			}
			res, err = e.post(tx, cur.CustomerID, req)
			if err != nil {
				return err
			}
			final.Status, final.EntryID = ledger.HoldCaptured, res.Entry.ID
		} else {
			res.Balance = freed
		}
		return tx.PutHold(final)
	})
	return res, err
}

// reservation reads a usage reservation (a hold of reference type usage)
// and its wallet.
func (e *Engine) reservation(tx store.Tx, holdID string) (ledger.Hold, wallet.Balance, error) {
	h, err := tx.Hold(holdID)
	if errors.Is(err, store.ErrNotFound) || err == nil && h.Reference.Type != RefUsage {
		return ledger.Hold{}, wallet.Balance{}, fmt.Errorf("%w: %s", ledger.ErrHoldNotFound, text.Quote(holdID))
	}
	if err != nil {
		return h, wallet.Balance{}, err
	}
	b, err := tx.Balance(h.CustomerID, h.Currency)
	return h, b, err
}
