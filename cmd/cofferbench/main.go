// Command cofferbench prints one table comparing coffer's write throughput
// with the raw storage substrate doing the same storage work, by store
// (memory, bolt, postgres), concurrent writers and wallet spread, for two
// paths:
//
//   - entry: Engine.CreateEntry, a 1-unit credit with a fresh idempotency
//     key (idempotency lookup, balance read, entry, balance, outbox event in
//     one transaction).
//   - charge: Engine.Charge on an active mandate_only subscription whose
//     wallet is empty, so the charge takes the processor path: a
//     transaction recording the pending payment, the call to the in-process
//     test processor (processor.NewTest) outside any transaction, and a
//     transaction settling the payment (payment, outbox event, subscription).
//     Every charge carries a fresh idempotency key.
//   - mixed: the mixed load of the root package's TestMixedLoadOneWallet on
//     each wallet: 35% Charge (50..399 cents, wallet first, the rest on the
//     card), 25% Refund of one of the wallet's recent payments (to the
//     wallet or the card, 1..119 cents or the rest), 40% CreateEntry (60%
//     credits of 1..300, 40% debits). Typed refusals (insufficient funds,
//     nothing left to refund) count as operations done. It has no raw
//     substrate; with one hot wallet it is the lock-order stress of one
//     customer's rows. For PostgreSQL the note gives the store's retries.
//   - http: the entry path's CreateEntry POSTed to the HTTP API (httpapi on a
//     net/http server on 127.0.0.1, a keep-alive connection per writer); its
//     raw column is Engine.CreateEntry on a store of its own (http.go).
//
// With -scale N, a scale section follows the table: list, search and
// ledger-page latencies on N customers loaded with ImportCustomers, the
// fixtures cached between runs (scale.go).
//
// The raw substrate runs in the same invocation, on a fresh file or schema
// of its own, under the same concurrency:
//
//   - bolt: bbolt puts of the same number and encoded size of records per
//     operation (entry + balance + event; for a charge the pending payment,
//     then payment + event + subscription) with the same bbolt options,
//     DB.Batch when several writers run (DB.Update for a lone writer, as the
//     coffer adapter does; the adapter's concurrent writers share commits
//     through its own committer goroutine, bbolt's substrate for that is
//     DB.Batch), fsync on;
//   - postgres: a hand-written pgx transaction on coffer's own tables (entry:
//     SELECT balance FOR UPDATE, INSERT entry, UPDATE balance, INSERT event;
//     charge: SELECT subscription and balance FOR UPDATE, INSERT payment,
//     the processor call, then SELECT payment FOR UPDATE, UPDATE payment,
//     INSERT event, UPDATE subscription), on a pool of the same size.
//
// The memory store has no substrate, so its raw columns are empty. Each
// cell runs for -duration, split into -rounds that alternate coffer and raw
// so a drifting machine load affects both alike. Every cell is time-bounded.
//
//	go run ./cmd/cofferbench                       # memory and bolt
//	COFFER_POSTGRES_DSN=postgres://... go run ./cmd/cofferbench   # + postgres
//	go run ./cmd/cofferbench -duration 5s -md      # Markdown for the README
//	go run ./cmd/cofferbench -search 100000,1000000  # customer search scale rows (search.go)
//	go run ./cmd/cofferbench -md -scale 1000000 > table.md   # the README table, with the scale section
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cofferhq/coffer"
)

// config is the parsed command line.
type config struct {
	duration time.Duration
	rounds   int
	stores   []string
	paths    []string
	writers  []int
	wallets  []int
	md       bool
	dsn      string
	pgConns  int
	dir      string

	scale        int    // -scale: customers of the scale section (scale.go); 0: none
	scaleEntries int    // -scaleentries: entries of its big ledger
	scaleBatch   int    // -scalebatch: ImportCustomers batch size
	cache        string // -cache: directory of cached bolt fixtures

	searchSizes []int // -search: customer counts of the search scale rows (search.go)
	searchBatch int
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cofferbench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "cofferbench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("cofferbench", flag.ContinueOnError)
	var (
		cfg                            config
		stores, paths, writers, wallet string
		searchSizes                    string
	)
	fs.DurationVar(&cfg.duration, "duration", 2*time.Second, "measured time per cell and contender")
	fs.IntVar(&cfg.rounds, "rounds", 2, "alternating coffer/raw rounds the duration is split into")
	fs.StringVar(&stores, "stores", "memory,bolt,postgres", "stores to measure (postgres needs -dsn or COFFER_POSTGRES_DSN)")
	fs.StringVar(&paths, "paths", "entry,charge,mixed,http", "paths to measure: entry (CreateEntry), charge (Charge), mixed (Charge, Refund, CreateEntry), http (ledger entry POSTs to the HTTP API vs Engine.CreateEntry)")
	fs.StringVar(&writers, "writers", "1,64", "concurrent writers")
	fs.StringVar(&wallet, "wallets", "1,10000", "wallet spread: 1 is one hot wallet")
	fs.BoolVar(&cfg.md, "md", false, "print a Markdown table")
	fs.StringVar(&cfg.dsn, "dsn", "", "PostgreSQL DSN (default $COFFER_POSTGRES_DSN)")
	fs.IntVar(&cfg.pgConns, "pgconns", 32, "PostgreSQL pool size, for coffer and the raw pgx baseline alike")
	fs.StringVar(&cfg.dir, "dir", "", "directory for the bolt files (default: a new temporary directory)")
	fs.StringVar(&searchSizes, "search", "", "instead of the write table, time customer search and the email filter at these customer counts (e.g. 100000,1000000)")
	fs.IntVar(&cfg.searchBatch, "searchbatch", 5000, "customers inserted per transaction when building a -search store")
	fs.IntVar(&cfg.scale, "scale", 0, "after the write table, the scale section: list, search and ledger pages on this many imported customers (e.g. 1000000; fixtures cached)")
	fs.IntVar(&cfg.scaleEntries, "scaleentries", 100000, "entries of the scale section's big ledger (at most max(-scale, 1000))")
	fs.IntVar(&cfg.scaleBatch, "scalebatch", 20000, "ImportCustomers batch size when building a scale fixture")
	fs.StringVar(&cfg.cache, "cache", defaultCache(), "directory of the cached bolt scale fixtures")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if cfg.dsn == "" {
		cfg.dsn = os.Getenv("COFFER_POSTGRES_DSN")
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if cfg.duration <= 0 || cfg.rounds < 1 || cfg.pgConns < 1 {
		return cfg, fmt.Errorf("-duration, -rounds and -pgconns must be positive")
	}
	var err error
	cfg.stores = splitList(stores)
	for _, s := range cfg.stores {
		if s != "memory" && s != "bolt" && s != "postgres" {
			return cfg, fmt.Errorf("unknown store %q", s)
		}
	}
	cfg.paths = splitList(paths)
	for _, p := range cfg.paths {
		if p != pathEntry && p != pathCharge && p != pathMixed && p != pathHTTP {
			return cfg, fmt.Errorf("unknown path %q", p)
		}
	}
	if cfg.writers, err = intList(writers); err != nil {
		return cfg, fmt.Errorf("-writers: %w", err)
	}
	if cfg.wallets, err = intList(wallet); err != nil {
		return cfg, fmt.Errorf("-wallets: %w", err)
	}
	if cfg.scale < 0 || cfg.scaleEntries < 1 || cfg.scaleBatch < 1 || cfg.scaleBatch > coffer.MaxImportBatch {
		return cfg, fmt.Errorf("-scale must be >= 0, -scaleentries positive, -scalebatch 1..%d", coffer.MaxImportBatch)
	}
	if searchSizes != "" {
		if cfg.searchSizes, err = intList(searchSizes); err != nil {
			return cfg, fmt.Errorf("-search: %w", err)
		}
		if cfg.searchBatch < 1 {
			return cfg, fmt.Errorf("-searchbatch must be positive")
		}
	}
	return cfg, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func intList(s string) ([]int, error) {
	var out []int
	for _, p := range splitList(s) {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive integer", p)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty list")
	}
	return out, nil
}

func run(ctx context.Context, cfg config) error {
	dir := cfg.dir
	if dir == "" {
		d, err := os.MkdirTemp("", "cofferbench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	var pg *pgEnv
	var stores []string
	for _, s := range cfg.stores {
		if s == "postgres" {
			if cfg.dsn == "" {
				fmt.Fprintln(os.Stderr, "cofferbench: COFFER_POSTGRES_DSN not set: skipping postgres")
				continue
			}
			var err error
			if pg, err = newPgEnv(ctx, cfg.dsn, cfg.pgConns); err != nil {
				return err
			}
			defer pg.close()
		}
		stores = append(stores, s)
	}
	if len(cfg.searchSizes) > 0 {
		return runSearchScale(ctx, cfg, dir, pg, stores)
	}
	var sizes map[string]recordSizes
	if contains(stores, "bolt") {
		var err error
		if sizes, err = probeSizes(ctx, dir); err != nil {
			return fmt.Errorf("measuring coffer's record sizes: %w", err)
		}
	}
	m := describeMachine(ctx, pg)
	printHeader(os.Stdout, cfg, m, sizes)

	var rows []row
	for _, path := range cfg.paths {
		for _, st := range stores {
			for _, wallets := range cfg.wallets {
				for _, writers := range cfg.writers {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					c := cell{path: path, store: st, writers: writers, wallets: wallets}
					fmt.Fprintf(os.Stderr, "cofferbench: %s ...\n", c)
					r := runCell(ctx, cfg, c, dir, pg, sizes)
					if r.note != "" {
						fmt.Fprintf(os.Stderr, "cofferbench: %s: %s\n", c, r.note)
					}
					rows = append(rows, r)
				}
			}
		}
	}
	if len(rows) > 0 {
		printTable(os.Stdout, cfg.md, rows)
	}
	if cfg.scale > 0 {
		srows, err := runScale(ctx, cfg, pg, stores)
		if err != nil {
			return err
		}
		fmt.Println()
		if cfg.md {
			fmt.Printf("Scale: %d customers imported with ImportCustomers (one USD opening balance each), %d runs per query, through the Engine:\n\n", cfg.scale, 200)
		}
		printScale(cfg.md, srows)
	}
	return nil
}

// defaultCache is where scale fixtures are kept between runs.
func defaultCache() string {
	d, err := os.UserCacheDir()
	if err != nil {
		d = os.TempDir()
	}
	return filepath.Join(d, "cofferbench")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
