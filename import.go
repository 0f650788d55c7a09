package coffer

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"

	"encoding/hex"
	"encoding/json"

	"github.com/google/uuid"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/internal/eventjson"
	"github.com/cofferhq/coffer/internal/text"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/wallet"
	"github.com/cofferhq/coffer/webhook"
)

// Bulk import limits and defaults.
const (
	// DefaultImportBatch is how many rows ImportCustomers commits per store
	// transaction when ImportParams.BatchSize is 0.
	DefaultImportBatch = 5000
	// MaxImportBatch bounds ImportParams.BatchSize: a transaction holds a
	// batch's writes in memory (bbolt) or its row locks (PostgreSQL).
	MaxImportBatch = 50000
	// MaxImportErrors is how many row errors an ImportReport lists; the
	// count (Failed) stays exact beyond it.
	MaxImportErrors = 1000
	// OpeningBalanceReason is the default reason of opening-balance entries.
	OpeningBalanceReason = "Opening balance"
	// OpeningBalanceKeyPrefix, followed by the currency code, is the
	// idempotency key of an opening-balance entry (unique per customer, so
	// a customer's opening balance in a currency cannot be posted twice).
	OpeningBalanceKeyPrefix = "opening-balance:"
)

// ErrImportRow wraps every row error ImportCustomers reports (with ErrInvalid
// for a row that is not valid).
var ErrImportRow = errors.New("import: row")

// ImportRow is one customer to import: its params and its opening balances.
// The customer's DID is required: it is the row's key, what makes the import
// idempotent per row (a row whose DID is already stored is skipped, see
// ImportReport.Existing).
type ImportRow struct {
	Customer customer.Params `json:"customer"`
	// Balances are opening credits, at most one per currency, each > 0
	// minor units, in enabled currencies.
	Balances []OpeningBalance `json:"balances,omitempty"`
}

// OpeningBalance is an amount a customer starts with.
type OpeningBalance struct {
	Currency string `json:"currency"`
	Amount   int64  `json:"amount"` // minor units, > 0
}

// ImportParams configures ImportCustomers.
type ImportParams struct {
	// BatchSize is how many rows commit per store transaction: 1 to
	// MaxImportBatch, 0 for DefaultImportBatch.
	BatchSize int
	// StopOnError stops the import at the first invalid row (after
	// committing the valid rows before it) instead of skipping it.
	StopOnError bool
	// Reason is the reason of every opening-balance entry
	// (OpeningBalanceReason when empty).
	Reason string
	// OnBatch, when set, is called after each committed batch with the
	// report so far (progress; the rows it counts are durable).
	OnBatch func(ImportReport)
}

// ImportReport says what ImportCustomers did. Row numbers count the rows of
// the sequence from 1.
type ImportReport struct {
	Rows     int `json:"rows"`     // rows read
	Imported int `json:"imported"` // customers created
	Existing int `json:"existing"` // rows skipped: their DID was already stored
	Failed   int `json:"failed"`   // invalid rows (skipped, or the one that stopped the import)
	Entries  int `json:"entries"`  // opening-balance entries posted
	Batches  int `json:"batches"`  // transactions committed
	// LastRow is the last row committed (imported, existing or failed
	// before it): every row up to it is durable.
	LastRow int              `json:"last_row"`
	Errors  []ImportRowError `json:"errors,omitempty"` // the first MaxImportErrors row errors
}

// ImportRowError is an invalid row.
type ImportRowError struct {
	Row int    `json:"row"`
	DID string `json:"did,omitempty"`
	Err error  `json:"-"`
}

func (e *ImportRowError) Error() string {
	if e.DID != "" {
		return fmt.Sprintf("row %d (did %s): %v", e.Row, text.Quote(e.DID), e.Err)
	}
	return fmt.Sprintf("row %d: %v", e.Row, e.Err)
}

func (e *ImportRowError) Unwrap() []error { return []error{ErrImportRow, e.Err} }

// ImportCustomers loads customers with opening balances, BatchSize rows per
// store transaction. Each imported row is what CreateCustomer and one
// CreateEntry credit per opening balance would write, with the same events
// (customer.created, wallet.balance_changed per entry, wallet.balance_low
// if a balance starts below its threshold): the outbox is the contract, so
// webhook subscribers learn of imported customers as of any other. Each
// opening balance is a manual credit with Reason (default "Opening
// balance"), idempotency key OpeningBalanceKeyPrefix+currency and, when the
// DID fits an id (ledger.MaxKeyLen bytes), the DID as reference id: it is
// auditable, and cannot be posted twice.
//
// An opening balance may be in a credit unit: a unit defined on the store
// (DefineUnit, by any Engine) is read from it the first time the import
// meets its code, once per code per import (at most maxImportUnitReads
// codes); an undefined unit is the row's unknown_unit. A store failure
// reading a unit ends the import like the sequence's I/O error.
//
// Idempotent per row: a row whose DID is already stored is skipped and
// counted as Existing, so running an import again, or again after a crash,
// imports each row once. A batch commits whole or not at all, so a crash
// (or a cancelled ctx) leaves every batch before it committed; re-running
// the same rows resumes after them.
//
// An invalid row (a bad email, an unknown currency, no DID, a DID twice in
// one batch, an error the sequence yields that wraps ErrInvalid: a line
// that does not parse) is
// reported with its row number and skipped, or, with StopOnError, ends the
// import with an *ImportRowError once the rows before it are committed. Any
// other error (the sequence's I/O error, the store's) ends the import: the
// returned report counts what was committed.
func (e *Engine) ImportCustomers(ctx context.Context, p ImportParams, rows iter.Seq2[ImportRow, error]) (ImportReport, error) {
	var rep ImportReport
	size := p.BatchSize
	switch {
	case size == 0:
		size = DefaultImportBatch
	case size < 0 || size > MaxImportBatch:
		return rep, fmt.Errorf("%w: batch size %d, want 1..%d", ErrInvalid, size, MaxImportBatch)
	}
	reason := p.Reason
	if reason == "" {
		reason = OpeningBalanceReason
	}
	if err := text.Check(reason, ledger.MaxReasonLen); err != nil {
		return rep, fmt.Errorf("%w: reason: %v", ErrInvalid, err)
	}
	batch := make([]importItem, 0, size)
	pending := importReport{} // the uncommitted batch's counts
	flush := func() error {
		if len(batch) == 0 {
			// Only invalid rows since the last commit: nothing to write.
			rep.Failed += pending.failed
			rep.Errors = append(rep.Errors, pending.errors...)
			rep.LastRow = rep.Rows
			pending = importReport{}
			return nil
		}
		recs := make([]store.ImportRecord, len(batch))
		for i := range batch {
			rec, err := e.importRecord(&batch[i])
			if err != nil {
				return fmt.Errorf("import: row %d: %w", batch[i].row, err)
			}
			recs[i] = rec
		}
		got, err := e.importBatch(ctx, batch, recs)
		if err != nil {
			return err
		}
		rep.Imported += got.imported
		rep.Existing += got.existing
		rep.Entries += got.entries
		rep.Failed += pending.failed
		rep.Errors = append(rep.Errors, pending.errors...)
		rep.LastRow = rep.Rows
		rep.Batches++
		batch, pending = batch[:0], importReport{}
		if p.OnBatch != nil {
			p.OnBatch(rep)
		}
		return nil
	}
	seen := make(map[string]int, size) // DIDs of the batch
	var units importUnits
	for row, err := range rows {
		rep.Rows++
		n := rep.Rows
		var item importItem
		if err != nil && !errors.Is(err, ErrInvalid) {
			// Not the row's fault (the source failed): stop, keeping
			// the rows before it.
			rep.Rows--
			if ferr := flush(); ferr != nil {
				return rep, ferr
			}
			return rep, fmt.Errorf("import: after row %d: %w", rep.Rows, err)
		}
		if err == nil {
			// A unit the Engine has not read yet (defined by DefineUnit
			// through another Engine) is read from the store first, once
			// per code per import.
			if uerr := units.load(ctx, e, row.Balances); uerr != nil {
				rep.Rows-- // not handled: a resumed import starts at it
				if ferr := flush(); ferr != nil {
					return rep, ferr
				}
				return rep, fmt.Errorf("import: row %d: %w", n, uerr)
			}
			item, err = e.prepareImport(n, row, reason)
		}
		if err == nil {
			if first, dup := seen[item.c.DID]; dup {
				err = fmt.Errorf("%w: %s (also row %d of this batch)", customer.ErrDuplicateDID, text.Quote(item.c.DID), first)
			}
		}
		if err != nil {
			did := ""
			if row.Customer.DID != nil {
				did = strings.TrimSpace(*row.Customer.DID)
			}
			re := &ImportRowError{Row: n, DID: did, Err: err}
			pending.failed++
			if len(rep.Errors)+len(pending.errors) < MaxImportErrors {
				pending.errors = append(pending.errors, *re)
			}
			if p.StopOnError {
				if ferr := flush(); ferr != nil {
					return rep, ferr
				}
				return rep, re
			}
			continue
		}
		seen[item.c.DID] = n
		batch = append(batch, item)
		if len(batch) == size {
			if err := flush(); err != nil {
				return rep, err
			}
			clear(seen)
		}
	}
	if err := flush(); err != nil {
		return rep, err
	}
	return rep, nil
}

// bulkStore is a store with a transaction made for large batches of
// inserts (bolt.Store.Bulk).
type bulkStore interface {
	Bulk(ctx context.Context, fn func(store.Tx) error) error
}

// importBatch writes a batch in one transaction: through the store's
// bulk path when it has one (store.RecordImporter: PostgreSQL's COPY),
// else row by row in its Bulk transaction (bbolt) or in e.update.
func (e *Engine) importBatch(ctx context.Context, batch []importItem, recs []store.ImportRecord) (importReport, error) {
	var got importReport
	count := func(created bool, rec *store.ImportRecord) {
		if created {
			got.imported++
			got.entries += len(rec.Entries)
		} else {
			got.existing++
		}
	}
	if ri, ok := e.store.(store.RecordImporter); ok {
		if err := ctx.Err(); err != nil {
			return got, err
		}
		created, err := ri.ImportRecords(ctx, recs)
		if err != nil {
			return got, err
		}
		for i := range recs {
			count(created[i], &recs[i])
		}
		return got, nil
	}
	fn := func(tx store.Tx) error {
		got = importReport{}
		for i := range recs {
			if err := ctx.Err(); err != nil {
				return err
			}
			created, err := e.importRow(tx, &recs[i])
			if err != nil {
				return fmt.Errorf("import: row %d: %w", batch[i].row, err)
			}
			count(created, &recs[i])
		}
		return nil
	}
	b, ok := e.store.(bulkStore)
	if !ok {
		return got, e.update(ctx, fn)
	}
	var err error
	for range 3 {
		if err = b.Bulk(ctx, fn); !errors.Is(err, store.ErrDuplicate) {
			return got, err
		}
	}
	return got, err
}

// maxImportUnitReads bounds the unit codes one import reads from the
// store (each distinct code once); a code past it that the Engine has not
// read is unknown_unit, as before units were read.
const maxImportUnitReads = 1024

// importUnits is the unit codes an import has read from the store.
type importUnits struct{ tried map[string]bool }

// load reads the units of bs's unit-shaped codes that e has not cached,
// each code at most once per import: a defined unit is cached by e (so
// prepareImport's cachedWalletCode finds it); an undefined one is left
// for prepareImport to refuse as unknown_unit. Only a store failure (or a
// cancelled ctx) is an error.
func (u *importUnits) load(ctx context.Context, e *Engine, bs []OpeningBalance) error {
	for _, ob := range bs {
		code := strings.TrimSpace(ob.Currency)
		if !money.IsUnitCode(code) || e.units.has(code) || u.tried[code] {
			continue
		}
		if u.tried == nil {
			u.tried = make(map[string]bool)
		}
		if len(u.tried) >= maxImportUnitReads {
			continue
		}
		u.tried[code] = true
		if _, err := e.lookupUnit(ctx, code); err != nil && !errors.Is(err, money.ErrUnknownUnit) {
			return err
		}
	}
	return nil
}

type importReport struct {
	imported, existing, entries, failed int
	errors                              []ImportRowError
}

// importItem is a validated row.
type importItem struct {
	row  int
	c    customer.Customer
	reqs []ledger.Request
}

// prepareImport validates a row outside any transaction: the customer as
// CreateCustomer would build it, and its opening credits.
func (e *Engine) prepareImport(n int, row ImportRow, reason string) (importItem, error) {
	if row.Customer.DID == nil || strings.TrimSpace(*row.Customer.DID) == "" {
		return importItem{}, &customer.FieldError{Field: "did",
			Err: fmt.Errorf("%w: did is required: it is the row's import key", customer.ErrInvalid)}
	}
	c, err := customer.New(importID("cus"), row.Customer, e.clock.Now())
	if err != nil {
		return importItem{}, err
	}
	it := importItem{row: n, c: c}
	ref := ""
	if text.CheckKey(c.DID, MaxIDLen) == nil {
		ref = c.DID
	}
	for _, ob := range row.Balances {
		req, err := e.checkRequest(ledger.Request{Amount: ob.Amount, Currency: ob.Currency, Type: ledger.Credit,
			Reason: reason, Reference: ledger.Reference{Type: ledger.RefManual, ID: ref}})
		if err != nil {
			return importItem{}, err
		}
		req.IdempotencyKey = OpeningBalanceKeyPrefix + req.Currency
		for _, prev := range it.reqs {
			if prev.Currency == req.Currency {
				return importItem{}, fmt.Errorf("%w: two opening balances in %s", ledger.ErrInvalid, req.Currency)
			}
		}
		it.reqs = append(it.reqs, req)
	}
	return it, nil
}

// importRecord is everything importing a validated row writes: the
// customer, its wallet (a balance in every enabled currency), the opening
// entries, and the events CreateCustomer and CreateEntry emit, in their
// order.
func (e *Engine) importRecord(it *importItem) (store.ImportRecord, error) {
	c := it.c
	rec := store.ImportRecord{Customer: c}
	for _, code := range e.currencies.Codes() {
		if hasCurrency(it.reqs, code) {
			continue // the opening entry's balance below
		}
		rec.Balances = append(rec.Balances, wallet.Balance{CustomerID: c.ID, Currency: code, UpdatedAt: c.CreatedAt})
	}
	raw, err := json.Marshal(c)
	if err != nil {
		return rec, err
	}
	rec.Events = append(rec.Events, e.importEvent(EventCustomerCreated, c.ID, raw))
	for _, req := range it.reqs {
		b := wallet.Balance{CustomerID: c.ID, Currency: req.Currency, UpdatedAt: c.CreatedAt}
		entry, after, err := ledger.Post(b, req, importID("le"), e.clock.Now())
		if err != nil {
			return rec, err
		}
		// putBalance's rules for a fresh wallet (no threshold of its own,
		// not low yet), with importEvent's ids.
		threshold := e.lowBalance[after.Currency]
		after.Low = threshold > 0 && after.Available() < threshold
		rec.Entries = append(rec.Entries, entry)
		rec.Balances = append(rec.Balances, after)
		rec.Events = append(rec.Events, e.importEvent(EventBalanceChanged, c.ID, eventjson.BalanceChanged(&entry, &after)))
		if after.Low {
			raw, err := json.Marshal(BalanceLow{Balance: after, Threshold: threshold})
			if err != nil {
				return rec, err
			}
			rec.Events = append(rec.Events, e.importEvent(EventBalanceLow, c.ID, raw))
		}
	}
	return rec, nil
}

// importRow writes one row's record in tx, unless its DID is stored.
func (e *Engine) importRow(tx store.Tx, rec *store.ImportRecord) (created bool, err error) {
	switch _, err := tx.CustomerByDID(rec.Customer.DID); {
	case err == nil:
		return false, nil
	case !errors.Is(err, store.ErrNotFound):
		return false, err
	}
	if err := tx.InsertCustomer(rec.Customer); err != nil {
		// store.ErrDuplicate: a concurrent writer took the DID since the
		// lookup; e.update runs the batch again, and the row is Existing.
		return false, err
	}
	for _, b := range rec.Balances {
		if err := tx.PutBalance(b); err != nil {
			return false, err
		}
	}
	for _, en := range rec.Entries {
		if err := tx.InsertEntry(en); err != nil {
			return false, err
		}
	}
	for _, ev := range rec.Events {
		if err := tx.InsertEvent(ev); err != nil {
			return false, err
		}
	}
	return true, nil
}

// importEvent is emitRaw's event with an importID.
func (e *Engine) importEvent(typ, customerID string, raw []byte) webhook.Event {
	return webhook.Event{ID: importID("evt"), Type: typ, CustomerID: customerID, Data: raw, CreatedAt: e.clock.Now()}
}

// importID is an id shaped as newID's (prefix_ and 32 hex digits) from a
// version 7 UUID: time-ordered (a millisecond timestamp, then a counter
// and random bits), so the records of an import are appended to the
// stores' id indexes instead of landing on random pages. That makes bbolt
// batches several times faster (README, bulk import). The id still
// carries 74 random bits; its first digits tell the creation time, which
// the record's created_at tells anyway.
func importID(prefix string) string {
	u, err := uuid.NewV7()
	if err != nil {
		return newID(prefix)
	}
	var b [64]byte
	n := copy(b[:], prefix)
	b[n] = '_'
	hex.Encode(b[n+1:], u[:])
	return string(b[:n+33])
}

func hasCurrency(reqs []ledger.Request, code string) bool {
	for _, r := range reqs {
		if r.Currency == code {
			return true
		}
	}
	return false
}
