package coffer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/wallet"
)

// Usage debits for metering (credit-based billing).
//
// RecordUsage applies a batch of usage items — "customer C used Q of unit
// U, key K" — as debit entries in one store transaction: one commit (one
// fsync on bbolt, one COMMIT on PostgreSQL) for the whole batch instead of
// one per debit. Each item is a ledger debit with every rule of a
// CreateEntry debit (idempotency per customer and key, no overdraft,
// consumption of credit grants in order, wallet.balance_changed event).
//
// Outcomes are per item: an item is applied, replayed (its key was
// applied before with the same item: the original entry), or refused with
// its own typed error — insufficient_funds (the available balance does not
// cover the whole quantity: nothing is debited, there is no partial
// debit), customer_not_found, idempotency_conflict — while the batch's
// other items apply. A refused item changes nothing. A malformed batch
// (too many or no items, a bad field, an unknown unit, one key twice for a
// customer) is refused as a whole before anything is read; a store failure
// rolls the whole batch back. So a batch either commits with every item's
// outcome or leaves no trace, and retrying it with the same keys is safe.
//
// Items are applied grouped by wallet (customer, unit), in their order
// within a wallet, so that concurrent batches lock wallets in one order.

// RefUsage is the reference type of a usage debit (RecordUsage).
const RefUsage ledger.RefType = "usage"

// MaxUsageBatch bounds the items of one RecordUsage call.
const MaxUsageBatch = 1000

// UsageReason is the reason of a usage debit that gives none.
const UsageReason = "Usage"

// Usage is one metered consumption: Quantity minor units of Unit (a
// defined unit, or an enabled ISO-4217 currency) debited from CustomerID's
// wallet.
type Usage struct {
	CustomerID string `json:"customer_id"`
	Unit       string `json:"unit"`
	Quantity   int64  `json:"quantity"` // minor units, > 0
	// IdempotencyKey is required: the debit's ledger key (per customer),
	// so that a re-sent meter reading is never charged twice.
	IdempotencyKey string `json:"idempotency_key"`
	// Reason defaults to "Usage"; ReferenceID optionally links the debit to
	// the caller's record (a request id).
	Reason      string `json:"reason,omitempty"`
	ReferenceID string `json:"reference_id,omitempty"`
}

// UsageResult is the outcome of one Usage, in the order of the batch.
type UsageResult struct {
	// Entry and Balance are the debit and the wallet after it (for a
	// replay: the original entry and the current balance); zero when
	// Error is set.
	Entry    ledger.Entry   `json:"entry"`
	Balance  wallet.Balance `json:"balance"`
	Replayed bool           `json:"replayed"`
	// Error is why the item was refused (nothing of it applied): its Code
	// is insufficient_funds, customer_not_found or idempotency_conflict.
	Error *Error `json:"error,omitempty"`
}

// UsageSummary counts a batch's outcomes.
type UsageSummary struct {
	Applied, Replayed, Refused int
}

// Summarize counts the outcomes of a RecordUsage answer.
func Summarize(results []UsageResult) UsageSummary {
	var s UsageSummary
	for _, r := range results {
		switch {
		case r.Error != nil:
			s.Refused++
		case r.Replayed:
			s.Replayed++
		default:
			s.Applied++
		}
	}
	return s
}

// RecordUsage debits a batch of usage in one transaction and returns one
// result per item, in the batch's order (see the section comment of
// usage.go for the rules). It fails as a whole, changing nothing, for a
// malformed batch (ErrInvalid and the field's own errors: 1 to
// MaxUsageBatch items, valid customer ids, a known unit
// (money.ErrUnknownUnit), Quantity > 0, a valid IdempotencyKey, unique per
// customer in the batch) or a store failure.
func (e *Engine) RecordUsage(ctx context.Context, usages []Usage) ([]UsageResult, error) {
	if len(usages) == 0 || len(usages) > MaxUsageBatch {
		return nil, fmt.Errorf("%w: a usage batch has 1 to %d items", ErrInvalid, MaxUsageBatch)
	}
	reqs := make([]ledger.Request, len(usages))
	ids := make([]postIDs, len(usages))
	keys := make(map[[2]string]struct{}, len(usages))
	for i, u := range usages {
		if err := checkCustomerID(u.CustomerID); err != nil {
			return nil, fmt.Errorf("usage %d: %w", i, err)
		}
		if u.IdempotencyKey == "" {
			return nil, fmt.Errorf("usage %d: %w", i, &ParamError{Param: "idempotency_key", Err: ledger.ErrInvalidKey, Problem: errors.New("is required")})
		}
		if u.Quantity <= 0 {
			return nil, fmt.Errorf("usage %d: %w: quantity must be > 0", i, ledger.ErrInvalidAmount)
		}
		if err := e.preloadUnit(ctx, u.Unit); err != nil {
			return nil, fmt.Errorf("usage %d: %w", i, err)
		}
		reason := u.Reason
		if reason == "" {
			reason = UsageReason
		}
		req, err := e.checkRequest(ledger.Request{Amount: u.Quantity, Currency: u.Unit, Type: ledger.Debit, Reason: reason,
			IdempotencyKey: u.IdempotencyKey, Reference: ledger.Reference{Type: RefUsage, ID: u.ReferenceID}})
		if err != nil {
			return nil, fmt.Errorf("usage %d: %w", i, err)
		}
		k := [2]string{u.CustomerID, u.IdempotencyKey}
		if _, dup := keys[k]; dup {
			return nil, fmt.Errorf("usage %d: %w: idempotency key %q twice for one customer in the batch", i, ErrInvalid, u.IdempotencyKey)
		}
		keys[k] = struct{}{}
		reqs[i] = req
		ids[i] = postIDs{entry: newID("le"), event: newID("evt"), fingerprint: req.Fingerprint()}
	}
	// Apply grouped by wallet, keeping the batch's order within a wallet.
	order := make([]int, len(usages))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Or(cmp.Compare(usages[a].CustomerID, usages[b].CustomerID), cmp.Compare(reqs[a].Currency, reqs[b].Currency))
	})
	results := make([]UsageResult, len(usages))
	err := e.update(ctx, func(tx store.Tx) error {
		clear(results) // the store may run fn again
		for _, i := range order {
			res, err := e.postWith(tx, usages[i].CustomerID, reqs[i], ids[i])
			if err != nil {
				if !usageRefusal(err) {
					return err
				}
				results[i] = UsageResult{Error: AsError(err)}
				continue
			}
			results[i] = UsageResult{Entry: res.Entry, Balance: res.Balance, Replayed: res.Replayed}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// usageRefusal reports whether err refuses one usage item without having
// written anything of it (postWith fails with these before any write), so
// the batch's transaction goes on.
func usageRefusal(err error) bool {
	var w *writtenError
	if errors.As(err, &w) {
		return false
	}
	return errors.Is(err, wallet.ErrInsufficientFunds) || errors.Is(err, customer.ErrNotFound) ||
		errors.Is(err, ledger.ErrIdempotencyConflict)
}

// writtenError is an error of postWith after it wrote the entry: the
// transaction must not go on (RecordUsage rolls the batch back).
type writtenError struct{ err error }

func (w *writtenError) Error() string { return w.err.Error() }
func (w *writtenError) Unwrap() error { return w.err }

func afterWrite(err error) error { return &writtenError{err} }
