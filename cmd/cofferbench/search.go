package main

// The search scale rows (issue 13): -search 100000,1000000 builds that many
// customers in a fresh store of each -stores and times, through the
// Engine, customer searches and the email filter:
//
//   - search hit: the email address of a random customer (one match);
//   - search miss: a random term no token starts with;
//   - search word: a first name (about 1 customer in 64);
//   - search common: a domain word most customers have (the scan path);
//   - search 2 terms: a first and a last name (selective intersection);
//   - email filter: ListCustomers with the email of a random customer.
//
// Customers are inserted through the store, -searchbatch per transaction,
// without wallets: only customers and their indexes are measured. A
// PostgreSQL store is vacuumed and analyzed after the load, as autovacuum
// would.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/bolt"
	"github.com/cofferhq/coffer/store/memory"
	"github.com/cofferhq/coffer/store/postgres"
)

var (
	firstNames = []string{"anna", "bob", "carla", "dmitri", "élodie", "farid", "greta", "hiro", "ines", "jonas",
		"kamala", "lars", "mei", "nadia", "oskar", "priya", "quentin", "rosa", "sven", "tariq", "ursula", "viktor",
		"wanda", "xavier", "yusuf", "zoë", "amir", "björn", "chloé", "diego", "emma", "felix", "gita", "hugo",
		"ivana", "jamal", "kofi", "lena", "marco", "nora", "omar", "paula", "rafael", "sofia", "tomás", "uma",
		"vera", "wei", "yara", "zeynep", "aiko", "bruno", "celine", "dario", "eva", "fatima", "goran", "hana",
		"ilya", "jana", "kenji", "lucía", "mateo", "nils"}
	lastNames = []string{"smith", "müller", "garcía", "rossi", "nguyen", "kowalski", "ivanova", "tanaka", "silva",
		"dubois", "jensen", "novak", "öztürk", "papadopoulos", "kim", "okafor", "haddad", "larsen", "moreau",
		"schmidt", "fischer", "romero", "costa", "bianchi", "yamamoto", "wong", "patel", "singh", "cohen", "lópez",
		"andersson", "horvath", "petrov", "mensah", "ferrari", "weber", "chen", "sato", "dias", "lindqvist"}
	domains = []string{"mail.example", "corp.example", "shop.example", "post.example"}
	words   = []string{"gold", "silver", "reseller", "wholesale", "priority", "net30", "eu", "apac", "trial", "legacy"}
)

// searchCustomer is customer i of a search scale store.
func searchCustomer(r *rand.Rand, i int, at time.Time) customer.Customer {
	f, l := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
	desc := ""
	if r.IntN(2) == 0 {
		desc = words[r.IntN(len(words))] + " " + words[r.IntN(len(words))]
	}
	return customer.Customer{ID: newID("cus"), Name: title(f) + " " + title(l),
		Email:       fmt.Sprintf("%s.%s%d@%s", f, l, i, domains[r.IntN(len(domains))]),
		Phone:       fmt.Sprintf("+1 555 %07d", r.IntN(10_000_000)),
		Description: desc, CreatedAt: at, UpdatedAt: at}
}

func title(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

type searchRow struct {
	store, op string
	n         int
	p50, p99  time.Duration
	note      string
}

func runSearchScale(ctx context.Context, cfg config, dir string, pg *pgEnv, stores []string) error {
	var rows []searchRow
	for _, n := range cfg.searchSizes {
		for _, st := range stores {
			fmt.Fprintf(os.Stderr, "cofferbench: search %s %d customers ...\n", st, n)
			rs, err := searchCell(ctx, cfg, dir, pg, st, n)
			if err != nil {
				return fmt.Errorf("search %s %d: %w", st, n, err)
			}
			rows = append(rows, rs...)
			for _, r := range rs {
				fmt.Fprintf(os.Stderr, "cofferbench:   %-14s p50 %-10v p99 %-10v %s\n", r.op, r.p50, r.p99, r.note)
			}
		}
	}
	if cfg.md {
		fmt.Println("| store | customers | query | p50 | p99 | note |")
		fmt.Println("|---|---:|---|---:|---:|---|")
		for _, r := range rows {
			fmt.Printf("| %s | %d | %s | %s | %s | %s |\n", r.store, r.n, r.op, fmtDur(r.p50), fmtDur(r.p99), r.note)
		}
		return nil
	}
	fmt.Printf("%-9s %9s  %-14s %10s %10s  %s\n", "store", "customers", "query", "p50", "p99", "note")
	for _, r := range rows {
		fmt.Printf("%-9s %9d  %-14s %10s %10s  %s\n", r.store, r.n, r.op, fmtDur(r.p50), fmtDur(r.p99), r.note)
	}
	return nil
}

func fmtDur(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d.Microseconds())/1000) }

func searchCell(ctx context.Context, cfg config, dir string, pg *pgEnv, name string, n int) ([]searchRow, error) {
	var (
		st    store.Store
		after = func() error { return nil }
		err   error
	)
	switch name {
	case "memory":
		st = memory.New()
	case "bolt":
		file := filepath.Join(dir, fmt.Sprintf("search-%d.db", cellSeq.Add(1)))
		after = func() error { return os.Remove(file) }
		st, err = bolt.Open(file)
	case "postgres":
		schema := pg.newSchema()
		after = func() error { return pg.dropSchema(schema) }
		st, err = postgres.Open(ctx, pg.dsn, postgres.WithSchema(schema), postgres.WithMaxConns(4))
	}
	if err != nil {
		_ = after()
		return nil, err
	}
	defer func() { st.Close(); _ = after() }()
	eng, err := coffer.New(st, coffer.WithoutProcessor())
	if err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(uint64(n), 13))
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	emails := make([]string, 0, n)
	start := time.Now()
	for i := 0; i < n; {
		err := st.Update(ctx, func(tx store.Tx) error {
			for j := 0; j < cfg.searchBatch && i+j < n; j++ {
				c := searchCustomer(r, i+j, at.Add(time.Duration(i+j)*time.Millisecond))
				if err := tx.InsertCustomer(c); err != nil {
					return err
				}
				emails = append(emails, c.Email)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		i += cfg.searchBatch
		emails = emails[:min(i, n)]
		if i%(20*cfg.searchBatch) == 0 {
			fmt.Fprintf(os.Stderr, "cofferbench:   %d customers in %v\n", i, time.Since(start).Round(time.Second))
		}
	}
	build := time.Since(start)
	note := fmt.Sprintf("built in %v", build.Round(time.Second))
	if ps, ok := st.(*postgres.Store); ok {
		// What autovacuum does after a bulk load: statistics and the
		// visibility map (index-only scans of customer_tokens).
		if _, err := ps.Pool().Exec(ctx, "VACUUM (ANALYZE) customers, customer_tokens"); err != nil {
			return nil, err
		}
		note += ", then VACUUM ANALYZE"
	}
	if name == "memory" {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		note += fmt.Sprintf(", heap %d MiB", ms.HeapAlloc>>20)
	}
	const reps = 200
	time1 := func(op string, q func(i int) (int, error)) (searchRow, error) {
		var ds []time.Duration
		found := 0
		for i := range reps {
			t := time.Now()
			k, err := q(i)
			if err != nil {
				return searchRow{}, fmt.Errorf("%s: %w", op, err)
			}
			ds = append(ds, time.Since(t))
			found += k
		}
		slices.Sort(ds)
		return searchRow{store: name, op: op, n: n, p50: ds[len(ds)/2], p99: ds[len(ds)*99/100],
			note: fmt.Sprintf("%.1f results/query", float64(found)/reps)}, nil
	}
	search := func(q string) (int, error) {
		l, err := eng.SearchCustomers(ctx, coffer.CustomerSearchParams{Query: q})
		return len(l.Data), err
	}
	qr := rand.New(rand.NewPCG(7, uint64(n)))
	ops := []struct {
		op string
		q  func(int) (int, error)
	}{
		{"search hit", func(int) (int, error) { return search(emails[qr.IntN(len(emails))]) }},
		{"search miss", func(i int) (int, error) { return search(fmt.Sprintf("qzx%06d", i)) }},
		{"search word", func(int) (int, error) { return search(firstNames[qr.IntN(len(firstNames))]) }},
		{"search common", func(int) (int, error) { return search("example") }},
		{"search 2 terms", func(int) (int, error) {
			return search(firstNames[qr.IntN(len(firstNames))] + " " + lastNames[qr.IntN(len(lastNames))])
		}},
		{"email filter", func(int) (int, error) {
			l, err := eng.ListCustomers(ctx, coffer.CustomerListParams{Email: strings.ToUpper(emails[qr.IntN(len(emails))])})
			return len(l.Data), err
		}},
	}
	var rows []searchRow
	for _, o := range ops {
		row, err := time1(o.op, o.q)
		if err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	rows[0].note += "; " + note
	return rows, nil
}
