package coffer

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/store"
)

// importRows is n rows: row i (from 1) has did ext-i, a USD opening balance
// of 1000+i and, every third row, an INR one. bad maps a row to a broken
// variant of it.
func importRows(n int, bad map[int]func(*ImportRow)) []ImportRow {
	rows := make([]ImportRow, n)
	for i := 1; i <= n; i++ {
		r := ImportRow{Customer: customer.Params{Name: new(fmt.Sprint("Imported ", i)),
			Email: new(fmt.Sprintf("imp%d@example.com", i)), DID: new(fmt.Sprintf("ext-%d", i))},
			Balances: []OpeningBalance{{Currency: "USD", Amount: int64(1000 + i)}}}
		if i%3 == 0 {
			r.Balances = append(r.Balances, OpeningBalance{Currency: "INR", Amount: int64(50 * i)})
		}
		if f := bad[i]; f != nil {
			f(&r)
		}
		rows[i-1] = r
	}
	return rows
}

func seqOf(rows []ImportRow) iter.Seq2[ImportRow, error] {
	return func(yield func(ImportRow, error) bool) {
		for _, r := range rows {
			if !yield(r, nil) {
				return
			}
		}
	}
}

var badRows = map[int]func(*ImportRow){
	7:  func(r *ImportRow) { r.Customer.Email = new("not an email") },
	12: func(r *ImportRow) { r.Customer.DID = nil },
	15: func(r *ImportRow) { r.Balances[0].Currency = "XXX" },
	18: func(r *ImportRow) { r.Balances[0].Amount = -5 },
}

// importState is what an import leaves, by DID: balances, the opening
// entries, and the events by type.
type importState struct {
	balances map[string]map[string]int64
	entries  map[string][]string // did -> "USD 1001 key ref"
	events   map[string]int
}

func (v *env) importState() importState {
	v.t.Helper()
	st := importState{balances: map[string]map[string]int64{}, entries: map[string][]string{}, events: v.eventTypes()}
	for c, err := range Iterate(v.ctx, CustomerListParams{}, v.ListCustomers) {
		require.NoError(v.t, err)
		bs, err := v.Balances(v.ctx, c.ID)
		require.NoError(v.t, err)
		st.balances[c.DID] = map[string]int64{}
		for _, b := range bs {
			st.balances[c.DID][b.Currency] = b.Amount
		}
		es, err := v.ListEntries(v.ctx, EntryListParams{CustomerID: c.ID, ListParams: ListParams{Limit: 100}})
		require.NoError(v.t, err)
		for _, e := range es.Data {
			st.entries[c.DID] = append(st.entries[c.DID], fmt.Sprintf("%s %s %d %q %s %s:%s", e.Type, e.Currency, e.Amount,
				e.Reason, e.IdempotencyKey, e.Reference.Type, e.Reference.ID))
		}
		slices.Sort(st.entries[c.DID])
	}
	return st
}

func TestImportCustomers(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		rows := importRows(25, badRows)
		var progress []int
		rep, err := v.ImportCustomers(v.ctx, ImportParams{BatchSize: 10, OnBatch: func(r ImportReport) { progress = append(progress, r.LastRow) }}, seqOf(rows))
		require.NoError(t, err)
		assert.Equal(t, 25, rep.Rows)
		assert.Equal(t, 21, rep.Imported)
		assert.Equal(t, 4, rep.Failed)
		assert.Equal(t, 0, rep.Existing)
		assert.Equal(t, 21+5, rep.Entries) // USD for each, INR for 3, 6, 9, 21, 24
		assert.Equal(t, 25, rep.LastRow)
		var failed []int
		for _, e := range rep.Errors {
			failed = append(failed, e.Row)
			assert.ErrorIs(t, &e, ErrImportRow)
		}
		assert.Equal(t, []int{7, 12, 15, 18}, failed)
		assert.ErrorIs(t, rep.Errors[0].Err, customer.ErrInvalidEmail)
		assert.Equal(t, "ext-7", rep.Errors[0].DID)
		assert.ErrorIs(t, rep.Errors[3].Err, ledger.ErrInvalid)
		// 21 valid rows in batches of 10 valid rows: 10, 10, 1.
		assert.Equal(t, 3, rep.Batches)
		assert.Len(t, progress, 3)

		st := v.importState()
		require.Len(t, st.balances, 21)
		assert.Equal(t, map[string]int64{"USD": 1001, "INR": 0}, st.balances["ext-1"])
		assert.Equal(t, map[string]int64{"USD": 1003, "INR": 150}, st.balances["ext-3"])
		assert.NotContains(t, st.balances, "ext-7")
		assert.Equal(t, []string{
			`credit INR 150 "Opening balance" opening-balance:INR manual:ext-3`,
			`credit USD 1003 "Opening balance" opening-balance:USD manual:ext-3`,
		}, st.entries["ext-3"])
		assert.Equal(t, 21, st.events[EventCustomerCreated])
		assert.Equal(t, rep.Entries, st.events[EventBalanceChanged])

		// A re-run imports nothing twice.
		again, err := v.ImportCustomers(v.ctx, ImportParams{BatchSize: 10}, seqOf(rows))
		require.NoError(t, err)
		assert.Equal(t, ImportReport{Rows: 25, Existing: 21, Failed: 4, Batches: 3, LastRow: 25}, withoutErrors(again))
		assert.Equal(t, st, v.importState())
	})
}

func withoutErrors(r ImportReport) ImportReport { r.Errors = nil; return r }

func TestImportStopOnError(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		rows := importRows(20, map[int]func(*ImportRow){7: badRows[7]})
		rep, err := v.ImportCustomers(v.ctx, ImportParams{BatchSize: 4, StopOnError: true}, seqOf(rows))
		var re *ImportRowError
		require.ErrorAs(t, err, &re)
		assert.Equal(t, 7, re.Row)
		assert.ErrorIs(t, err, customer.ErrInvalidEmail)
		assert.ErrorIs(t, err, ErrImportRow)
		// Rows 1-6 are committed: the batch of 1-4 and, before stopping, 5-6.
		assert.Equal(t, 6, rep.Imported)
		assert.Equal(t, 1, rep.Failed)
		assert.Equal(t, 7, rep.LastRow)
		assert.Len(t, v.importState().balances, 6)

		// Fix the row and run the file again: the rest is imported.
		rows = importRows(20, nil)
		rep, err = v.ImportCustomers(v.ctx, ImportParams{BatchSize: 4, StopOnError: true}, seqOf(rows))
		require.NoError(t, err)
		assert.Equal(t, 6, rep.Existing)
		assert.Equal(t, 14, rep.Imported)
		assert.Len(t, v.importState().balances, 20)
	})
}

func TestImportDuplicateDIDs(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		// A customer made by the API keeps its DID: the row is Existing.
		_, err := v.CreateCustomer(v.ctx, customer.Params{Name: new("Before"), DID: new("ext-2")})
		require.NoError(t, err)
		rows := importRows(6, map[int]func(*ImportRow){4: func(r *ImportRow) { r.Customer.DID = new("ext-3") }})
		rep, err := v.ImportCustomers(v.ctx, ImportParams{BatchSize: 10}, seqOf(rows))
		require.NoError(t, err)
		assert.Equal(t, 1, rep.Existing)
		assert.Equal(t, 4, rep.Imported)
		require.Len(t, rep.Errors, 1)
		assert.Equal(t, 4, rep.Errors[0].Row)
		assert.ErrorIs(t, rep.Errors[0].Err, customer.ErrDuplicateDID)
		st := v.importState()
		assert.Equal(t, int64(0), st.balances["ext-2"]["USD"], "an existing customer gets no opening balance")
	})
}

// importFailStore fails the InsertEntry number failAt (counting from 1) of
// every transaction it runs, as a crash in the middle of a batch would
// (nothing of the transaction is committed), and counts the customers each
// transaction inserts.
type importFailStore struct {
	store.Store
	failAt  int64
	entries atomic.Int64
	maxRows atomic.Int64
}

type importFailTx struct {
	store.Tx
	s         *importFailStore
	customers int64
}

func (s *importFailStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.Update(ctx, func(tx store.Tx) error {
		ft := &importFailTx{Tx: tx, s: s}
		err := fn(ft)
		if ft.customers > s.maxRows.Load() {
			s.maxRows.Store(ft.customers)
		}
		return err
	})
}

var errInjected = errors.New("injected failure")

func (t *importFailTx) InsertEntry(e ledger.Entry) error {
	if t.s.entries.Add(1) == t.s.failAt {
		return errInjected
	}
	return t.Tx.InsertEntry(e)
}

func (t *importFailTx) InsertCustomer(c customer.Customer) error {
	t.customers++
	return t.Tx.InsertCustomer(c)
}

func TestImportCrashResume(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		rows := importRows(30, badRows)
		// The reference: one clean import.
		ref := newEnv(t, newStore)
		_, err := ref.ImportCustomers(ref.ctx, ImportParams{BatchSize: 8}, seqOf(rows))
		require.NoError(t, err)
		want := ref.importState()

		v := newEnv(t, newStore)
		fs := &importFailStore{Store: v.store, failAt: 14} // in the second batch
		crashing, err := New(fs, WithClock(v.clock), WithProcessor(v.proc))
		require.NoError(t, err)
		rep, err := crashing.ImportCustomers(v.ctx, ImportParams{BatchSize: 8}, seqOf(rows))
		require.ErrorIs(t, err, errInjected)
		assert.Equal(t, 8, rep.Imported, "the first batch only")
		assert.Equal(t, 1, rep.Batches)
		assert.LessOrEqual(t, fs.maxRows.Load(), int64(8), "a transaction holds at most BatchSize rows")
		assert.Len(t, v.importState().balances, 8)

		// A cancelled context mid-batch: nothing of that batch commits.
		ctx, cancel := context.WithCancel(v.ctx)
		n := 0
		cancelling := func(yield func(ImportRow, error) bool) {
			for _, r := range rows {
				if n++; n == 20 {
					cancel()
				}
				if !yield(r, nil) {
					return
				}
			}
		}
		rep, err = v.ImportCustomers(ctx, ImportParams{BatchSize: 8}, cancelling)
		require.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, 8, rep.Existing)
		assert.Equal(t, 0, rep.Imported, "the batch of rows 10-20 was cancelled")

		// Resume: the same end state as the clean import.
		rep, err = v.ImportCustomers(v.ctx, ImportParams{BatchSize: 8}, seqOf(rows))
		require.NoError(t, err)
		assert.Equal(t, 8, rep.Existing)
		assert.Equal(t, 26-8, rep.Imported)
		assert.Equal(t, want, v.importState())
	})
}

func TestImportLimits(t *testing.T) {
	v := newEnv(t, storeKinds["memory"])
	for _, size := range []int{-1, MaxImportBatch + 1} {
		_, err := v.ImportCustomers(v.ctx, ImportParams{BatchSize: size}, seqOf(nil))
		assert.ErrorIs(t, err, ErrInvalid, "batch size %d", size)
	}
	_, err := v.ImportCustomers(v.ctx, ImportParams{Reason: "bad\x00reason"}, seqOf(nil))
	assert.ErrorIs(t, err, ErrInvalid)

	// A source error that is not the row's (I/O) stops after committing
	// the rows before it; one wrapping ErrInvalid is a row error.
	rows := importRows(5, nil)
	src := func(yield func(ImportRow, error) bool) {
		for i, r := range rows {
			var err error
			switch i {
			case 1:
				err = fmt.Errorf("%w: line 3: bad amount", ErrInvalid)
			case 3:
				err = errors.New("disk on fire")
			}
			if !yield(r, err) {
				return
			}
		}
	}
	rep, err := v.ImportCustomers(v.ctx, ImportParams{}, src)
	require.ErrorContains(t, err, "disk on fire")
	assert.Equal(t, ImportReport{Rows: 3, Imported: 2, Failed: 1, Entries: 3, Batches: 1, LastRow: 3}, withoutErrors(rep))
	assert.Equal(t, 2, rep.Errors[0].Row)

	// Errors are listed up to MaxImportErrors, counted beyond.
	many := func(yield func(ImportRow, error) bool) {
		for range MaxImportErrors + 5 {
			if !yield(ImportRow{}, nil) {
				return
			}
		}
	}
	rep, err = v.ImportCustomers(v.ctx, ImportParams{}, many)
	require.NoError(t, err)
	assert.Equal(t, MaxImportErrors+5, rep.Failed)
	assert.Len(t, rep.Errors, MaxImportErrors)
}

// Imported customers are found like created ones: the search index and the
// email filter are written in the import's transactions too (bbolt's Bulk
// path defers its index writes to the end of the transaction).
func TestImportedCustomersAreSearchable(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		e := newEnv(t, newStore)
		_, err := e.ImportCustomers(e.ctx, ImportParams{BatchSize: 7}, seqOf(importRows(30, nil)))
		require.NoError(t, err)
		page, err := e.SearchCustomers(e.ctx, CustomerSearchParams{Query: "imp17@example.com"})
		require.NoError(t, err)
		require.Len(t, page.Data, 1)
		require.Equal(t, "ext-17", page.Data[0].DID)
		byEmail, err := e.ListCustomers(e.ctx, CustomerListParams{Email: "IMP23@example.com"})
		require.NoError(t, err)
		require.Len(t, byEmail.Data, 1)
		all, err := e.SearchCustomers(e.ctx, CustomerSearchParams{Query: "imported", ListParams: ListParams{Limit: 100}})
		require.NoError(t, err)
		require.Len(t, all.Data, 30)
	})
}

// crashAt fails the n-th batch transaction (from 1) of an import after its
// writes and before its commit, through whichever path the store's import
// takes: the bulk path (store.RecordImporter, PostgreSQL's COPY: the batch
// is sent with one entry the database rejects, after the customers are
// inserted), bbolt's Bulk, or Update. Nothing of that batch commits, as in
// a crash.
func crashAt(s store.Store, n int64) store.Store {
	c := &crashCounter{n: n}
	switch inner := s.(type) {
	case store.RecordImporter:
		return &crashImporter{Store: s, inner: inner, c: c}
	case bulkStore:
		return &crashBulk{Store: s, inner: inner, c: c}
	default:
		return &crashUpdate{Store: s, c: c}
	}
}

type crashCounter struct{ n, calls int64 }

func (c *crashCounter) hit() bool { c.calls++; return c.calls == c.n }

type crashImporter struct {
	store.Store
	inner store.RecordImporter
	c     *crashCounter
}

func (s *crashImporter) ImportRecords(ctx context.Context, recs []store.ImportRecord) ([]bool, error) {
	if s.c.hit() {
		recs = slices.Clone(recs)
		last := &recs[len(recs)-1]
		last.Entries = slices.Clone(last.Entries)
		last.Entries[0].Amount = 0 // ledger_entries: CHECK (amount > 0)
	}
	return s.inner.ImportRecords(ctx, recs)
}

type crashBulk struct {
	store.Store
	inner bulkStore
	c     *crashCounter
}

func (s *crashBulk) Bulk(ctx context.Context, fn func(store.Tx) error) error {
	crash := s.c.hit()
	return s.inner.Bulk(ctx, func(tx store.Tx) error {
		if err := fn(tx); err != nil || !crash {
			return err
		}
		return errInjected
	})
}

type crashUpdate struct {
	store.Store
	c *crashCounter
}

func (s *crashUpdate) Update(ctx context.Context, fn func(store.Tx) error) error {
	crash := s.c.hit()
	return s.Store.Update(ctx, func(tx store.Tx) error {
		if err := fn(tx); err != nil || !crash {
			return err
		}
		return errInjected
	})
}

// An import stopped after N batches (its context cancelled, or its next
// batch failing at the end of its transaction, through each store's own
// import path) leaves exactly those N batches; running the same rows again
// completes it with no row, entry or event twice.
func TestImportResumeAfterBatches(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		rows := importRows(40, nil)
		ref := newEnv(t, newStore)
		_, err := ref.ImportCustomers(ref.ctx, ImportParams{BatchSize: 6}, seqOf(rows))
		require.NoError(t, err)
		want := ref.importState()
		require.Len(t, want.balances, 40)

		v := newEnv(t, newStore)
		// Stop after 3 batches: the context is cancelled as the third
		// commits.
		ctx, cancel := context.WithCancel(v.ctx)
		rep, err := v.ImportCustomers(ctx, ImportParams{BatchSize: 6, OnBatch: func(r ImportReport) {
			if r.Batches == 3 {
				cancel()
			}
		}}, seqOf(rows))
		require.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, 3, rep.Batches)
		assert.Equal(t, 18, rep.Imported)
		assert.Equal(t, 18, rep.LastRow)
		assert.Len(t, v.importState().balances, 18)

		// Resume, crashing in the fifth batch of this run (rows 25-30):
		// rows 1-18 exist (three batches), 19-24 commit, the crashed
		// batch leaves nothing.
		crashing, err := New(crashAt(v.store, 5), WithClock(v.clock), WithProcessor(v.proc))
		require.NoError(t, err)
		rep, err = crashing.ImportCustomers(v.ctx, ImportParams{BatchSize: 6}, seqOf(rows))
		require.Error(t, err)
		assert.Equal(t, 4, rep.Batches)
		assert.Equal(t, 18, rep.Existing)
		assert.Equal(t, 6, rep.Imported)
		assert.Equal(t, 24, rep.LastRow)
		assert.Len(t, v.importState().balances, 24)

		// Resume: every row once, the same end state as the clean import.
		rep, err = v.ImportCustomers(v.ctx, ImportParams{BatchSize: 6}, seqOf(rows))
		require.NoError(t, err)
		assert.Equal(t, 24, rep.Existing)
		assert.Equal(t, 16, rep.Imported)
		assert.Equal(t, 16+5, rep.Entries) // USD for each, INR for 27, 30, 33, 36, 39
		assert.Equal(t, want, v.importState())
	})
}

// Idempotent per row: a file that has grown (new rows between and after
// the imported ones) imports the new rows only and changes nothing of the
// others: no second entry, no second event.
func TestImportIdempotentPerRow(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		all := importRows(30, nil)
		var odd []ImportRow
		for i, r := range all {
			if i%2 == 0 {
				odd = append(odd, r) // ext-1, ext-3, ...
			}
		}
		rep, err := v.ImportCustomers(v.ctx, ImportParams{BatchSize: 4}, seqOf(odd))
		require.NoError(t, err)
		require.Equal(t, 15, rep.Imported)
		before := v.importState()

		rep, err = v.ImportCustomers(v.ctx, ImportParams{BatchSize: 4}, seqOf(all))
		require.NoError(t, err)
		assert.Equal(t, 15, rep.Existing)
		assert.Equal(t, 15, rep.Imported)
		after := v.importState()
		for did, bs := range before.balances {
			assert.Equal(t, bs, after.balances[did], did)
			assert.Equal(t, before.entries[did], after.entries[did], did)
		}
		assert.Len(t, after.balances, 30)
		assert.Equal(t, 30, after.events[EventCustomerCreated])
		assert.Equal(t, rep.Entries+before.events[EventBalanceChanged], after.events[EventBalanceChanged])

		// Once more: nothing changes at all.
		rep, err = v.ImportCustomers(v.ctx, ImportParams{BatchSize: 7}, seqOf(all))
		require.NoError(t, err)
		assert.Equal(t, ImportReport{Rows: 30, Existing: 30, Batches: 5, LastRow: 30}, withoutErrors(rep))
		assert.Equal(t, after, v.importState())
	})
}
