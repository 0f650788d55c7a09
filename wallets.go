package coffer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/internal/eventjson"
	"github.com/cofferhq/coffer/internal/text"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/wallet"
)

// EntryResult is the outcome of CreateEntry.
type EntryResult struct {
	Entry   ledger.Entry   `json:"entry"`
	Balance wallet.Balance `json:"balance"`
	// Replayed is true when the idempotency key had already been applied
	// with the same request: Entry is the original and nothing changed.
	Replayed bool `json:"replayed"`
}

// EntryParams is a manual ledger entry: a credit or a debit a caller makes
// (a top-up, a bonus, a purchase). Its reference type is always manual:
// only coffer's own use cases post payment and refund entries, so reports
// split by reference type (SpendingReport) can trust them.
type EntryParams struct {
	Amount   int64       `json:"amount"` // minor units, > 0
	Currency string      `json:"currency"`
	Type     ledger.Type `json:"entry_type"`
	Reason   string      `json:"reason,omitempty"`
	// IdempotencyKey, when set, makes the request safe to retry: the same
	// key with the same request returns the original entry (Replayed),
	// with another request ledger.ErrIdempotencyConflict.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// ReferenceID optionally links the entry to a record of the caller's
	// (an order id); its reference type stays manual.
	ReferenceID string `json:"reference_id,omitempty"`
	// CreditKind, Priority and ExpiresAt are a credit's terms (credits.go):
	// paid (default) or granted, consumed by priority (lower first,
	// default 0), then earliest expiry, then age; its unconsumed remainder
	// expires at ExpiresAt (zero: never). Only a credit may carry them.
	CreditKind ledger.CreditKind `json:"credit_kind,omitempty"`
	Priority   int               `json:"priority,omitempty"`
	ExpiresAt  time.Time         `json:"expires_at,omitzero"`
}

func (p EntryParams) request() ledger.Request {
	req := ledger.Request{Amount: p.Amount, Currency: p.Currency, Type: p.Type, Reason: p.Reason,
		IdempotencyKey: p.IdempotencyKey, Reference: ledger.Reference{Type: ledger.RefManual, ID: p.ReferenceID}}
	if p.CreditKind != "" || p.Priority != 0 || !p.ExpiresAt.IsZero() {
		req.Credit = &ledger.CreditTerms{Kind: p.CreditKind, Priority: p.Priority, ExpiresAt: p.ExpiresAt}
	}
	return req
}

// CreateEntry credits or debits a customer's wallet. The entry, the new
// balance and a wallet.balance_changed event commit together.
//
// A debit beyond the available balance fails with
// wallet.ErrInsufficientFunds and changes nothing. With an IdempotencyKey,
// a retry of the same request returns the original entry (Replayed) and a
// different request under the same key fails with
// ledger.ErrIdempotencyConflict.
func (e *Engine) CreateEntry(ctx context.Context, customerID string, p EntryParams) (res EntryResult, err error) {
	if e.tracer != nil {
		var end func(EntryResult, error)
		ctx, end = e.spanEntry(ctx, customerID, p)
		defer func() { end(res, err) }()
	}
	req := p.request()
	if err := checkCustomerID(customerID); err != nil {
		return EntryResult{}, err
	}
	if err := e.preloadUnit(ctx, req.Currency); err != nil {
		return EntryResult{}, err
	}
	req, err = e.checkRequest(req)
	if err != nil {
		return EntryResult{}, err
	}
	// One heap object holds what the transaction's closure shares (instead
	// of one per captured variable).
	// The ids are made before the transaction, outside the store's lock
	// (a retry of the transaction reuses them: nothing of it committed).
	c := &entryCall{e: e, customerID: customerID, req: req, ids: postIDs{entry: newID("le"), event: newID("evt"), fingerprint: req.Fingerprint()}}
	if err := e.update(ctx, c.run); err != nil {
		return EntryResult{}, err
	}
	return c.res, nil
}

// entryCall is one CreateEntry's transaction body and its result.
type entryCall struct {
	e          *Engine
	customerID string
	req        ledger.Request
	ids        postIDs
	res        EntryResult
}

// postIDs are the ids a posting gives its entry and its
// wallet.balance_changed event, and the request's fingerprint, made before
// the transaction; "" makes one in it.
type postIDs struct{ entry, event, fingerprint string }

func (c *entryCall) run(tx store.Tx) (err error) {
	c.res, err = c.e.postWith(tx, c.customerID, c.req, c.ids)
	return err
}

// checkRequest validates req and normalises its currency.
func (e *Engine) checkRequest(req ledger.Request) (ledger.Request, error) {
	if err := checkIdempotencyKey(ledger.ErrInvalidKey, req.IdempotencyKey); err != nil {
		return req, err
	}
	if err := checkID(ledger.ErrInvalid, "reference_id", req.Reference.ID); err != nil {
		return req, err
	}
	code, err := e.cachedWalletCode(req.Currency)
	if err != nil {
		return req, err
	}
	req.Currency = code
	if req.Reference.Type == "" {
		req.Reference.Type = ledger.RefManual
	}
	if err := e.checkCredit(&req); err != nil {
		return req, err
	}
	return req, req.Validate()
}

// post applies one ledger request inside tx.
//
// The idempotency key is looked up before anything is read when the store
// cannot fold the lookup into the insert. When it can
// (store.EntryKeyInserter: every bundled store, memory, bbolt and PostgreSQL), the key is checked by the
// insert itself, and on every earlier failure (a debit beyond the balance,
// an unknown customer): the answer is the same, a replay or a conflict
// whenever the key is taken, one lookup fewer on the common path.
func (e *Engine) post(tx store.Tx, customerID string, req ledger.Request) (EntryResult, error) {
	return e.postWith(tx, customerID, req, postIDs{})
}

// postWith is post giving the entry and its event the ids in ids.
func (e *Engine) postWith(tx store.Tx, customerID string, req ledger.Request, ids postIDs) (EntryResult, error) {
	keyed := req.IdempotencyKey != ""
	ins, fold := tx.(store.EntryKeyInserter)
	fold = fold && keyed
	if keyed && !fold {
		res, found, err := e.replay(tx, customerID, req)
		if found || err != nil {
			return res, err
		}
	}
	b, cw, err := e.balanceGrantsForUpdate(tx, customerID, req.Currency)
	if err != nil {
		return e.replayOr(fold, tx, customerID, req, err)
	}
	if ids.entry == "" {
		ids.entry = newID("le")
	}
	entry, after, err := ledger.PostFingerprinted(b, req, ids.fingerprint, ids.entry, e.clock.Now())
	if err != nil {
		return e.replayOr(fold, tx, customerID, req, err)
	}
	if fold {
		prev, taken, err := ins.InsertEntryOrExisting(entry)
		if err != nil {
			return EntryResult{}, err
		}
		if taken {
			return e.replayOf(tx, prev, req)
		}
	} else if err := tx.InsertEntry(entry); err != nil {
		if errors.Is(err, store.ErrDuplicate) && keyed {
			// A concurrent writer committed the same key after our check.
			if res, found, err := e.replay(tx, customerID, req); found || err != nil {
				return res, err
			}
		}
		return EntryResult{}, err
	}
	if cw.tracks() || req.Credit != nil {
		if err := e.trackEntry(tx, cw, b, &entry, req); err != nil {
			return EntryResult{}, afterWrite(err)
		}
	}
	if err := e.putBalanceEvent(tx, after, &entry, ids.event); err != nil {
		return EntryResult{}, afterWrite(err)
	}
	return EntryResult{Entry: entry, Balance: after}, nil
}

// replayOr answers a failed post: when the key lookup was folded into the
// insert (fold), a taken key is still a replay or a conflict, as the
// lookup up front would have answered; otherwise err.
func (e *Engine) replayOr(fold bool, tx store.Tx, customerID string, req ledger.Request, err error) (EntryResult, error) {
	if fold {
		if res, found, rerr := e.replay(tx, customerID, req); found || rerr != nil {
			return res, rerr
		}
	}
	return EntryResult{}, err
}

func (e *Engine) replay(tx store.Tx, customerID string, req ledger.Request) (EntryResult, bool, error) {
	prev, found, err := entryByKey(tx, customerID, req.IdempotencyKey)
	if err != nil || !found {
		return EntryResult{}, false, err
	}
	res, err := e.replayOf(tx, prev, req)
	return res, true, err
}

// replayOf answers req with prev, the entry its idempotency key holds: the
// original (Replayed) when the requests match, a conflict otherwise.
func (e *Engine) replayOf(tx store.Tx, prev ledger.Entry, req ledger.Request) (EntryResult, error) {
	if prev.Fingerprint != req.Fingerprint() {
		return EntryResult{}, fmt.Errorf("%w: key %s", ledger.ErrIdempotencyConflict, text.Quote(req.IdempotencyKey))
	}
	b, err := tx.Balance(prev.CustomerID, req.Currency)
	if err != nil {
		return EntryResult{}, err
	}
	return EntryResult{Entry: prev, Balance: b, Replayed: true}, nil
}

// entryByKey looks an idempotency key up, without allocating an error for
// a miss when the store can (store.EntryKeyFinder).
func entryByKey(tx store.Tx, customerID, key string) (ledger.Entry, bool, error) {
	if f, ok := tx.(store.EntryKeyFinder); ok {
		return f.FindEntryByKey(customerID, key)
	}
	prev, err := tx.EntryByKey(customerID, key)
	if errors.Is(err, store.ErrNotFound) {
		return ledger.Entry{}, false, nil
	}
	return prev, err == nil, err
}

// balanceForUpdate reads (and, on PostgreSQL, locks) a balance. A customer
// created before a currency was enabled gets that wallet lazily.
func (e *Engine) balanceForUpdate(tx store.Tx, customerID, currency string) (wallet.Balance, error) {
	b, err := tx.Balance(customerID, currency)
	if err == nil {
		return b, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return b, err
	}
	if _, err := getCustomer(tx, customerID); err != nil {
		return b, err
	}
	if !e.walletKnownTx(tx, currency) {
		return b, fmt.Errorf("%w: %s", money.ErrCurrencyDisabled, currency)
	}
	return wallet.Balance{CustomerID: customerID, Currency: currency, UpdatedAt: e.clock.Now()}, nil
}

// ledgerTx is what a balance change touches: the ledger and the outbox
// (wallet.balance_changed, wallet.balance_low).
type ledgerTx interface {
	store.Ledger
	store.Outbox
}

// putBalance stores b, emits wallet.balance_changed for entry (when not
// nil), and wallet.balance_low when the available balance crosses below the
// threshold (once per crossing: the flag re-arms when it rises back).
func (e *Engine) putBalance(tx ledgerTx, b wallet.Balance, entry *ledger.Entry) error {
	return e.putBalanceEvent(tx, b, entry, "")
}

// putBalanceEvent is putBalance giving the wallet.balance_changed event
// the id evtID ("" makes one).
func (e *Engine) putBalanceEvent(tx ledgerTx, b wallet.Balance, entry *ledger.Entry, evtID string) error {
	threshold := b.LowThreshold
	if threshold == 0 {
		threshold = e.lowBalance[b.Currency]
	}
	low := threshold > 0 && b.Available() < threshold
	crossed := low && !b.Low
	b.Low = low
	if err := tx.PutBalance(b); err != nil {
		return err
	}
	if entry != nil {
		if evtID == "" {
			evtID = newID("evt")
		}
		if err := e.emitBalanceChanged(tx, evtID, entry, &b); err != nil {
			return err
		}
	}
	if crossed {
		return e.emit(tx, EventBalanceLow, b.CustomerID, BalanceLow{Balance: b, Threshold: threshold})
	}
	return nil
}

// eventBufs are the buffers wallet.balance_changed payloads are encoded in
// for a store that copies them (store.EventDataCopier).
var eventBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// emitBalanceChanged writes the wallet.balance_changed event of entry,
// encoded in a pooled buffer when the store copies event data.
func (e *Engine) emitBalanceChanged(tx ledgerTx, evtID string, entry *ledger.Entry, b *wallet.Balance) error {
	if c, ok := tx.(store.EventDataCopier); ok && c.CopiesEventData() {
		bp := eventBufs.Get().(*[]byte)
		*bp = eventjson.AppendBalanceChanged((*bp)[:0], entry, b)
		err := e.emitRawID(tx, evtID, EventBalanceChanged, b.CustomerID, *bp)
		if cap(*bp) <= 4096 {
			eventBufs.Put(bp)
		}
		return err
	}
	return e.emitRawID(tx, evtID, EventBalanceChanged, b.CustomerID, eventjson.BalanceChanged(entry, b))
}

// Balances returns the customer's wallet balances in every currency, sorted
// by currency.
func (e *Engine) Balances(ctx context.Context, customerID string) (out []wallet.Balance, err error) {
	if err := checkCustomerID(customerID); err != nil {
		return nil, err
	}
	err = e.store.View(ctx, func(tx store.Tx) error {
		if _, err := getCustomer(tx, customerID); err != nil {
			return err
		}
		out, err = tx.Balances(customerID)
		return err
	})
	return out, err
}

// Balance returns one currency of the customer's wallet.
func (e *Engine) Balance(ctx context.Context, customerID, currency string) (b wallet.Balance, err error) {
	if err := checkCustomerID(customerID); err != nil {
		return b, err
	}
	code, err := e.walletCode(ctx, currency)
	if err != nil {
		return b, err
	}
	err = e.store.View(ctx, func(tx store.Tx) error {
		b, err = e.balanceForUpdate(tx, customerID, code)
		return err
	})
	return b, err
}

// LowBalanceParams sets a customer's low-balance threshold in one
// currency, in its minor units (0 falls back to the engine's threshold).
type LowBalanceParams struct {
	Currency  string `json:"currency"`
	Threshold int64  `json:"threshold"`
}

// SetLowBalanceThreshold sets the customer's own low-balance threshold in a
// currency (0 falls back to the engine's per-currency threshold).
func (e *Engine) SetLowBalanceThreshold(ctx context.Context, customerID string, p LowBalanceParams) (wallet.Balance, error) {
	currency, minor := p.Currency, p.Threshold
	if err := checkCustomerID(customerID); err != nil {
		return wallet.Balance{}, err
	}
	code, err := e.walletCode(ctx, currency)
	if err != nil {
		return wallet.Balance{}, err
	}
	if minor < 0 {
		return wallet.Balance{}, fmt.Errorf("%w: negative threshold", ErrInvalid)
	}
	var out wallet.Balance
	err = e.update(ctx, func(tx store.Tx) error {
		b, err := e.balanceForUpdate(tx, customerID, code)
		if err != nil {
			return err
		}
		b.LowThreshold = minor
		if err := e.putBalance(tx, b, nil); err != nil {
			return err
		}
		out, err = tx.Balance(customerID, code)
		return err
	})
	return out, err
}

// EntryListParams filters ListEntries. CustomerID is required (a ledger
// is per customer); Currency "" lists every currency.
type EntryListParams struct {
	ListParams
	CustomerID string `json:"customer_id"`
	Currency   string `json:"currency,omitempty"`
}

// ListEntries lists a customer's ledger entries, newest first.
func (e *Engine) ListEntries(ctx context.Context, p EntryListParams) (out List[ledger.Entry], err error) {
	customerID := p.CustomerID
	if customerID == "" {
		return out, &customer.FieldError{Field: "customer_id", Err: fmt.Errorf("%w: customer_id is required", customer.ErrInvalid)}
	}
	if err := checkCustomerID(customerID); err != nil {
		return out, err
	}
	q := store.EntryQuery{CustomerID: customerID}
	if q.Page, err = p.page(); err != nil {
		return out, err
	}
	if p.Currency != "" {
		code, err := e.filterCode(ctx, p.Currency)
		if err != nil {
			return out, err
		}
		q.Currency = code
	}
	err = e.store.View(ctx, func(tx store.Tx) error {
		if _, err := getCustomer(tx, customerID); err != nil {
			return err
		}
		data, more, err := tx.ListEntries(q)
		out = newList(data, more, q.Page, func(e ledger.Entry) string { return e.ID })
		return listErr(err)
	})
	return out, err
}
