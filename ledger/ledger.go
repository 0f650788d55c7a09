// Package ledger holds wallet ledger entries and holds and the posting rules
// that move a wallet.Balance. Every change of a balance is an Entry that
// records the balance before and after it, so the history can be audited and
// sum(credits) - sum(debits) == balance checked at any time. It does no I/O.
package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cofferhq/coffer/internal/text"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/wallet"
)

// Errors. Validation errors wrap ErrInvalid (the 422 class).
var (
	ErrInvalid       = errors.New("ledger: invalid entry")
	ErrInvalidAmount = fmt.Errorf("%w: amount must be > 0 minor units", ErrInvalid)
	ErrInvalidType   = fmt.Errorf("%w: entry_type must be credit or debit", ErrInvalid)
	ErrInvalidReason = fmt.Errorf("%w: reason must be valid text of at most 500 characters", ErrInvalid)
	ErrInvalidKey    = fmt.Errorf("%w: idempotency key must be valid text of at most 255 bytes", ErrInvalid)
	// ErrIdempotencyConflict: the idempotency key was already used for a
	// different request (the 409 class). The original entry is unchanged.
	ErrIdempotencyConflict = errors.New("ledger: idempotency key reused with a different request")
	ErrNotFound            = errors.New("ledger: entry not found")
	ErrHoldNotFound        = errors.New("ledger: hold not found")
	ErrHoldNotPending      = errors.New("ledger: hold is not pending")
)

// Limits on free text.
const (
	MaxReasonLen = 500
	MaxKeyLen    = 255
)

// Type is the direction of an entry.
type Type string

// Entry types.
const (
	Credit Type = "credit"
	Debit  Type = "debit"
)

// RefType says what an entry refers to.
type RefType string

// Reference types.
const (
	RefManual  RefType = "manual"
	RefPayment RefType = "payment"
	RefRefund  RefType = "refund"
)

// Reference points an entry at the record that caused it.
type Reference struct {
	Type RefType `json:"type"`
	ID   string  `json:"id,omitempty"`
}

// Request asks for one entry. IdempotencyKey, when set, makes the request
// safe to retry: the same key with the same request returns the original
// entry, with a different request ErrIdempotencyConflict. Keys are scoped to
// the customer.
type Request struct {
	Amount         int64     `json:"amount"`
	Currency       string    `json:"currency"`
	Type           Type      `json:"entry_type"`
	Reason         string    `json:"reason,omitempty"`
	IdempotencyKey string    `json:"idempotency_key,omitempty"`
	Reference      Reference `json:"reference"`
	// Credit, on a credit, are its terms (kind, priority, expiry): see
	// CreditTerms. nil (or plain terms) is a plain paid credit. The engine
	// checks the expiry against its clock.
	Credit *CreditTerms `json:"credit,omitempty"`
}

// Validate checks the request's own fields (the currency is checked by the
// engine against its enabled set).
func (r Request) Validate() error {
	if r.Amount <= 0 {
		return ErrInvalidAmount
	}
	if r.Type != Credit && r.Type != Debit {
		return ErrInvalidType
	}
	if err := text.Check(r.Reason, MaxReasonLen); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidReason, err)
	}
	if err := text.CheckKey(r.IdempotencyKey, MaxKeyLen); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	if err := text.CheckKey(r.Reference.ID, MaxKeyLen); err != nil {
		return fmt.Errorf("%w: reference id %v", ErrInvalid, err)
	}
	if err := text.CheckKey(string(r.Reference.Type), 32); err != nil {
		return fmt.Errorf("%w: reference type %v", ErrInvalid, err)
	}
	if _, err := money.CanonicalCode(r.Currency); err != nil {
		return err // an ISO-4217 currency or a unit code (money/unit.go)
	}
	if r.Credit != nil && !r.Credit.Plain() && r.Type != Credit {
		return fmt.Errorf("%w: only a credit carries credit terms", ErrInvalidCredit)
	}
	return nil
}

// Fingerprint identifies the request's content, so a replay (same key, same
// fingerprint) can be told from a conflict (same key, other fingerprint).
func (r Request) Fingerprint() string {
	// The hashed bytes are the amount (8 bytes, big-endian), then each
	// field as its length (8 bytes) and its bytes: built on the stack for
	// the common sizes and hashed at once, without a hash.Hash (the same
	// bytes, so the same fingerprints, as the streaming form before).
	var stack [256]byte
	buf := binary.BigEndian.AppendUint64(stack[:0], uint64(r.Amount))
	for _, s := range [...]string{r.Currency, string(r.Type), r.Reason, string(r.Reference.Type), r.Reference.ID} {
		buf = binary.BigEndian.AppendUint64(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	if r.Credit != nil {
		buf = r.Credit.appendFingerprint(buf)
	}
	sum := sha256.Sum256(buf)
	var out [32]byte
	hex.Encode(out[:], sum[:16])
	return string(out[:])
}

// Entry is one posted change of a wallet balance. Entries are immutable.
type Entry struct {
	ID             string    `json:"id"`
	CustomerID     string    `json:"customer_id"`
	Currency       string    `json:"currency"`
	Type           Type      `json:"entry_type"`
	Amount         int64     `json:"amount"`
	BalanceBefore  int64     `json:"balance_before"`
	BalanceAfter   int64     `json:"balance_after"`
	Reason         string    `json:"reason,omitempty"`
	IdempotencyKey string    `json:"idempotency_key,omitempty"`
	Reference      Reference `json:"reference"`
	Fingerprint    string    `json:"-"`
	CreatedAt      time.Time `json:"created_at"`
}

// internalKeyPrefixes start the idempotency keys coffer gives the entries
// it posts itself (a captured hold, the wallet part of a refund, a late
// success, an expired credit): they are its bookkeeping, not the caller's.
var internalKeyPrefixes = [...]string{"hold:", "refund:", "late:", "expire:"}

// IsInternalKey reports whether an entry's idempotency key is one coffer
// set itself. Such keys are never in an entry's JSON, and callers may not
// use them.
func IsInternalKey(key string) bool {
	for _, p := range internalKeyPrefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// MarshalJSON encodes the entry, leaving out an internal idempotency key
// (IsInternalKey): it names a hold or another internal record.
func (e Entry) MarshalJSON() ([]byte, error) {
	type plain Entry
	if IsInternalKey(e.IdempotencyKey) {
		e.IdempotencyKey = ""
	}
	return json.Marshal(plain(e))
}

// Signed is the entry's effect on the balance: +Amount for a credit,
// -Amount for a debit.
func (e Entry) Signed() int64 {
	if e.Type == Debit {
		return -e.Amount
	}
	return e.Amount
}

// Post applies req to b and returns the entry and the new balance. A debit
// may take only the available balance (posted minus held); otherwise
// wallet.ErrInsufficientFunds and b is returned unchanged.
func Post(b wallet.Balance, req Request, id string, now time.Time) (Entry, wallet.Balance, error) {
	return PostFingerprinted(b, req, "", id, now)
}

// PostFingerprinted is Post with req's fingerprint computed beforehand
// (fp == req.Fingerprint(); "" computes it), so a caller can compute it
// outside a store's lock.
func PostFingerprinted(b wallet.Balance, req Request, fp, id string, now time.Time) (Entry, wallet.Balance, error) {
	if err := req.Validate(); err != nil {
		return Entry{}, b, err
	}
	if req.Currency != b.Currency {
		if c, _ := money.CanonicalCode(req.Currency); c != b.Currency {
			return Entry{}, b, fmt.Errorf("%w: %s entry on a %s wallet", money.ErrCurrencyMismatch, c, b.Currency)
		}
	}
	after := b
	var err error
	switch req.Type {
	case Credit:
		after.Amount, err = money.AddMinor(b.Amount, req.Amount)
		if err != nil {
			return Entry{}, b, err
		}
	case Debit:
		if req.Amount > b.Available() {
			return Entry{}, b, fmt.Errorf("%w: %s available, debit of %s", wallet.ErrInsufficientFunds,
				money.Format(b.Available(), b.Currency), money.Format(req.Amount, b.Currency))
		}
		after.Amount = b.Amount - req.Amount
	}
	after.UpdatedAt = now.UTC()
	ref := req.Reference
	if ref.Type == "" {
		ref.Type = RefManual
	}
	e := Entry{
		ID: id, CustomerID: b.CustomerID, Currency: b.Currency, Type: req.Type, Amount: req.Amount,
		BalanceBefore: b.Amount, BalanceAfter: after.Amount, Reason: req.Reason,
		IdempotencyKey: req.IdempotencyKey, Reference: ref, Fingerprint: fp, CreatedAt: now.UTC(),
	}
	if fp == "" {
		e.Fingerprint = req.Fingerprint()
	}
	return e, after, nil
}
