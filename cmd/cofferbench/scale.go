package main

// The scale section (issue 13 item 7): -scale N loads N customers, each
// with a USD opening balance, through Engine.ImportCustomers (the bulk
// import), plus one customer with a ledger of -scaleentries entries, into
// a store of each -stores, and times, through the Engine:
//
//   - first page: ListCustomers, 20 newest;
//   - deep cursor: ListCustomers after a customer in the middle;
//   - email filter: ListCustomers with the email of a random customer;
//   - search hit: SearchCustomers with a random customer's email (1 match);
//   - search miss: a term no token starts with;
//   - ledger newest / ledger oldest / ledger middle: ListEntries of the
//     big ledger, its first page, the page of its 20 oldest entries and a
//     page after its middle entry.
//
// The fixtures are cached: a bolt file and a PostgreSQL schema named after
// N and the entry count (in -cache, default the user cache directory, and
// schema cofferbench_scale_<N>_<entries>), marked complete by a last
// customer (DID scale-done) only once everything is in; a re-run finds it
// and skips the build. An interrupted build resumes (the import is
// idempotent per row). The memory store is built each run.

import (
	"context"
	"fmt"
	"iter"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/bolt"
	"github.com/cofferhq/coffer/store/memory"
	"github.com/cofferhq/coffer/store/postgres"
)

const (
	scaleDoneDID   = "scale-done"
	scaleLedgerDID = "scale-ledger"
)

// scaleParams is customer i of a scale fixture: deterministic, so a cached
// fixture's emails and DIDs are known without reading it.
func scaleParams(i int) customer.Params {
	f := firstNames[i%len(firstNames)]
	l := lastNames[(i/len(firstNames))%len(lastNames)]
	return customer.Params{Name: new(title(f) + " " + title(l)), Email: new(scaleEmail(i)),
		DID: new(fmt.Sprintf("scale-%09d", i))}
}

func scaleEmail(i int) string {
	f := firstNames[i%len(firstNames)]
	l := lastNames[(i/len(firstNames))%len(lastNames)]
	return fmt.Sprintf("%s.%s%d@%s", f, l, i, domains[i%len(domains)])
}

func scaleEntryKey(i int) string { return fmt.Sprintf("scale-entry-%09d", i) }

// scaleFixture opens (building when missing) the scale store of kind name.
func scaleFixture(ctx context.Context, cfg config, pg *pgEnv, name string, n, entries int) (store.Store, string, error) {
	var st store.Store
	var err error
	switch name {
	case "memory":
		st = memory.New()
	case "bolt":
		dir := cfg.cache
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, "", err
		}
		st, err = bolt.Open(filepath.Join(dir, fmt.Sprintf("scale-%d-%d.db", n, entries)))
	case "postgres":
		st, err = postgres.Open(ctx, pg.dsn, postgres.WithSchema(fmt.Sprintf("cofferbench_scale_%d_%d", n, entries)),
			postgres.WithMaxConns(4))
	}
	if err != nil {
		return nil, "", err
	}
	done := false
	if err := st.View(ctx, func(tx store.Tx) error {
		_, err := tx.CustomerByDID(scaleDoneDID)
		done = err == nil
		return nil
	}); err != nil {
		st.Close()
		return nil, "", err
	}
	if done {
		return st, "cached fixture", nil
	}
	eng, err := coffer.New(st, coffer.WithoutProcessor())
	if err != nil {
		st.Close()
		return nil, "", err
	}
	start := time.Now()
	rows := func(yield func(coffer.ImportRow, error) bool) {
		for i := range n {
			if !yield(coffer.ImportRow{Customer: scaleParams(i),
				Balances: []coffer.OpeningBalance{{Currency: "USD", Amount: int64(100 + i%10000)}}}, nil) {
				return
			}
		}
		yield(coffer.ImportRow{Customer: customer.Params{Name: new("Ledger Owner"), DID: new(scaleLedgerDID)}}, nil)
	}
	rep, err := eng.ImportCustomers(ctx, coffer.ImportParams{BatchSize: cfg.scaleBatch, OnBatch: func(r coffer.ImportReport) {
		if r.Batches%20 == 0 {
			fmt.Fprintf(os.Stderr, "cofferbench:   %s: %d rows in %v\n", name, r.LastRow, time.Since(start).Round(time.Second))
		}
	}}, iter.Seq2[coffer.ImportRow, error](rows))
	if err != nil {
		st.Close()
		return nil, "", fmt.Errorf("import: %w", err)
	}
	imported := time.Since(start)
	if err := scaleLedger(ctx, st, entries); err != nil {
		st.Close()
		return nil, "", fmt.Errorf("ledger: %w", err)
	}
	built := time.Since(start)
	if ps, ok := st.(*postgres.Store); ok {
		if _, err := ps.Pool().Exec(ctx, "VACUUM (ANALYZE)"); err != nil {
			st.Close()
			return nil, "", err
		}
	}
	if _, err := eng.CreateCustomer(ctx, customer.Params{Name: new("done"), DID: new(scaleDoneDID)}); err != nil {
		st.Close()
		return nil, "", err
	}
	return st, fmt.Sprintf("built: import of %d rows %v (%d new), ledger %v", rep.Rows, imported.Round(time.Second),
		rep.Imported, (built - imported).Round(time.Second)), nil
}

// scaleLedger gives the ledger customer its entries (1-unit credits with
// keys scaleEntryKey(i)), 5,000 per transaction, through the store: what
// CreateEntry writes, minus the events. It resumes after the last key
// written.
func scaleLedger(ctx context.Context, st store.Store, entries int) error {
	var owner string
	if err := st.View(ctx, func(tx store.Tx) error {
		c, err := tx.CustomerByDID(scaleLedgerDID)
		owner = c.ID
		return err
	}); err != nil {
		return err
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const batch = 5000
	for i := 0; i < entries; i += batch {
		err := st.Update(ctx, func(tx store.Tx) error {
			if _, err := tx.EntryByKey(owner, scaleEntryKey(min(i+batch, entries)-1)); err == nil {
				return nil // this batch is in
			}
			b, err := tx.Balance(owner, "USD")
			if err != nil {
				return err
			}
			for j := i; j < min(i+batch, entries); j++ {
				e, after, err := ledger.Post(b, ledger.Request{Amount: 1, Currency: "USD", Type: ledger.Credit,
					Reason: "scale", IdempotencyKey: scaleEntryKey(j)}, newID("le"), at.Add(time.Duration(j)*time.Millisecond))
				if err != nil {
					return err
				}
				if err := tx.InsertEntry(e); err != nil {
					return err
				}
				b = after
			}
			return tx.PutBalance(b)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func runScale(ctx context.Context, cfg config, pg *pgEnv, stores []string) ([]searchRow, error) {
	n := cfg.scale
	entries := min(cfg.scaleEntries, max(n, 1000))
	var rows []searchRow
	for _, name := range stores {
		fmt.Fprintf(os.Stderr, "cofferbench: scale %s: %d customers, a ledger of %d entries ...\n", name, n, entries)
		rs, err := scaleCell(ctx, cfg, pg, name, n, entries)
		if err != nil {
			return nil, fmt.Errorf("scale %s: %w", name, err)
		}
		rows = append(rows, rs...)
	}
	return rows, nil
}

func scaleCell(ctx context.Context, cfg config, pg *pgEnv, name string, n, entries int) ([]searchRow, error) {
	st, note, err := scaleFixture(ctx, cfg, pg, name, n, entries)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	eng, err := coffer.New(st, coffer.WithoutProcessor())
	if err != nil {
		return nil, err
	}
	var mid, owner string
	entryID := map[int]string{}
	if err := st.View(ctx, func(tx store.Tx) error {
		c, err := tx.CustomerByDID(fmt.Sprintf("scale-%09d", n/2))
		if err != nil {
			return err
		}
		mid = c.ID
		if c, err = tx.CustomerByDID(scaleLedgerDID); err != nil {
			return err
		}
		owner = c.ID
		for _, i := range []int{20, entries / 2} {
			e, err := tx.EntryByKey(owner, scaleEntryKey(i))
			if err != nil {
				return err
			}
			entryID[i] = e.ID
		}
		return nil
	}); err != nil {
		return nil, err
	}
	qr := rand.New(rand.NewPCG(7, uint64(n)))
	list := func(p coffer.CustomerListParams) (int, error) {
		l, err := eng.ListCustomers(ctx, p)
		return len(l.Data), err
	}
	search := func(q string) (int, error) {
		l, err := eng.SearchCustomers(ctx, coffer.CustomerSearchParams{Query: q})
		return len(l.Data), err
	}
	entriesPage := func(p coffer.ListParams) (int, error) {
		l, err := eng.ListEntries(ctx, coffer.EntryListParams{CustomerID: owner, ListParams: p})
		return len(l.Data), err
	}
	ops := []struct {
		op   string
		want int // results per query; -1: any
		q    func(int) (int, error)
	}{
		{"first page", 20, func(int) (int, error) { return list(coffer.CustomerListParams{}) }},
		{"deep cursor", 20, func(int) (int, error) {
			return list(coffer.CustomerListParams{ListParams: coffer.ListParams{StartingAfter: mid}})
		}},
		{"email filter", 1, func(int) (int, error) {
			return list(coffer.CustomerListParams{Email: strings.ToUpper(scaleEmail(qr.IntN(n)))})
		}},
		{"search hit", 1, func(int) (int, error) { return search(scaleEmail(qr.IntN(n))) }},
		{"search miss", 0, func(i int) (int, error) { return search(fmt.Sprintf("qzx%06d", i)) }},
		{"ledger newest", 20, func(int) (int, error) { return entriesPage(coffer.ListParams{}) }},
		// The 20 oldest: after the 21st oldest, newest first.
		{"ledger oldest", 20, func(int) (int, error) { return entriesPage(coffer.ListParams{StartingAfter: entryID[20]}) }},
		{"ledger middle", 20, func(int) (int, error) {
			return entriesPage(coffer.ListParams{StartingAfter: entryID[entries/2]})
		}},
	}
	const reps = 200
	var rows []searchRow
	for _, o := range ops {
		var ds []time.Duration
		for i := range reps {
			t := time.Now()
			k, err := o.q(i)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", o.op, err)
			}
			ds = append(ds, time.Since(t))
			if k != o.want {
				return nil, fmt.Errorf("%s: %d results, want %d", o.op, k, o.want)
			}
		}
		slices.Sort(ds)
		rows = append(rows, searchRow{store: name, op: o.op, n: n, p50: ds[len(ds)/2], p99: ds[len(ds)*99/100],
			note: fmt.Sprintf("%d results", o.want)})
	}
	rows[0].note += "; " + note
	rows[len(rows)-3].note += fmt.Sprintf("; ledger of %d entries", entries)
	return rows, nil
}

func printScale(md bool, rows []searchRow) {
	if md {
		fmt.Println("| store | customers | query | p50 | p99 | note |")
		fmt.Println("|---|---:|---|---:|---:|---|")
		for _, r := range rows {
			fmt.Printf("| %s | %d | %s | %s | %s | %s |\n", r.store, r.n, r.op, fmtDur(r.p50), fmtDur(r.p99), r.note)
		}
		return
	}
	fmt.Printf("%-9s %9s  %-14s %10s %10s  %s\n", "store", "customers", "query", "p50", "p99", "note")
	for _, r := range rows {
		fmt.Printf("%-9s %9d  %-14s %10s %10s  %s\n", r.store, r.n, r.op, fmtDur(r.p50), fmtDur(r.p99), r.note)
	}
}
