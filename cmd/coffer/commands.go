package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/store/postgres"
)

// parseInterleaved parses fs from args, allowing flags after positional
// arguments (coffer ledger cus_1 -currency USD), and returns the
// positional arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// migrateCmd applies the PostgreSQL migrations, or prints them.
func migrateCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", stderr)
	var sc storeConfig
	sc.register(fs, getenv)
	print := fs.Bool("print", false, "print the SQL for a DBA to apply instead of applying it (no database needed)")
	since := fs.Int("since", 0, "with -print: only the migrations after this schema `version` (an upgrade)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("migrate takes no arguments")
	}
	if err := sc.check(); err != nil && !*print {
		return err
	}
	if *print {
		return printMigrations(stdout, sc.schema, *since)
	}
	if sc.postgres == "" {
		return usageErr("migrate is for PostgreSQL: give -postgres DSN or set DATABASE_URL (a bbolt file needs no migration)")
	}
	s, err := openStore(ctx, sc) // Open migrates
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Fprintf(stdout, "schema at version %d (%s)\n", postgres.LatestVersion(), sc.describe())
	return nil
}

// printMigrations writes one transaction applying the migrations after
// since and recording them in schema_migrations, as Open does.
func printMigrations(w io.Writer, schema string, since int) error {
	ms, err := postgres.Migrations()
	if err != nil {
		return err
	}
	if since < 0 || since > len(ms) {
		return usageErr("-since %d: this build has versions 1..%d", since, len(ms))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "-- coffer schema, versions %d..%d (coffer migrate -print)\n", since+1, len(ms))
	b.WriteString("BEGIN;\n")
	if schema != "" {
		id := pgx.Identifier{schema}.Sanitize()
		fmt.Fprintf(&b, "CREATE SCHEMA IF NOT EXISTS %s;\nSET LOCAL search_path TO %s;\n", id, id)
	}
	b.WriteString(`CREATE TABLE IF NOT EXISTS schema_migrations (
	version    integer     PRIMARY KEY,
	name       text        NOT NULL,
	applied_at timestamptz NOT NULL);
`)
	for _, m := range ms[since:] {
		fmt.Fprintf(&b, "\n-- %s\n%s\n", m.Name, strings.TrimRight(m.SQL, "\n"))
		fmt.Fprintf(&b, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (%d, '%s', now());\n",
			m.Version, strings.ReplaceAll(m.Name, "'", "''"))
	}
	b.WriteString("COMMIT;\n")
	_, err = io.WriteString(w, b.String())
	return err
}

// readEngine opens an engine for operator reads (no processor needed).
func readEngine(ctx context.Context, sc storeConfig) (*coffer.Engine, func(), error) {
	if err := sc.check(); err != nil {
		return nil, nil, err
	}
	return openEngine(ctx, sc, coffer.WithoutProcessor())
}

// customersCmd: customers list [-limit N] | customers search <query>.
func customersCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "search") {
		return usageErr("customers list [-limit N] | customers search <query> [-limit N]")
	}
	sub := args[0]
	fs := newFlagSet("customers "+sub, stderr)
	var sc storeConfig
	sc.register(fs, getenv)
	limit := fs.Int("limit", 20, "how many customers to show (newest first)")
	pos, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return err
	}
	if *limit < 1 || *limit > 10000 {
		return usageErr("-limit must be 1..10000")
	}
	var query string
	switch {
	case sub == "list" && len(pos) > 0:
		return usageErr("customers list takes no arguments")
	case sub == "search" && len(pos) == 0:
		return usageErr("customers search <query>")
	case sub == "search":
		query = strings.Join(pos, " ")
	}
	eng, closeEngine, err := readEngine(ctx, sc)
	if err != nil {
		return err
	}
	defer closeEngine()
	var rows []customer.Customer
	lp := coffer.ListParams{Limit: min(*limit, 100)}
	for len(rows) < *limit {
		var l coffer.List[customer.Customer]
		if sub == "search" {
			l, err = eng.SearchCustomers(ctx, coffer.CustomerSearchParams{ListParams: lp, Query: query})
		} else {
			l, err = eng.ListCustomers(ctx, coffer.CustomerListParams{ListParams: lp})
		}
		if err != nil {
			return err
		}
		rows = append(rows, l.Data...)
		if !l.HasMore {
			break
		}
		lp.StartingAfter = l.NextCursor
	}
	rows = rows[:min(len(rows), *limit)]
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tEMAIL\tCREATED\tDELINQUENT")
	for _, c := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\n", c.ID, cell(c.Name), cell(c.Email), c.CreatedAt.UTC().Format(time.RFC3339), c.Delinquent)
	}
	return tw.Flush()
}

// ledgerCmd: ledger <customer_id> [-currency C] [-limit N].
func ledgerCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("ledger", stderr)
	var sc storeConfig
	sc.register(fs, getenv)
	currency := fs.String("currency", "", "only this currency's entries (ISO-4217, e.g. USD)")
	limit := fs.Int("limit", 50, "how many entries to show (newest first), 1..100")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErr("ledger <customer_id> [-currency C] [-limit N]")
	}
	if *limit < 1 || *limit > 100 {
		return usageErr("-limit must be 1..100")
	}
	cur := strings.ToUpper(*currency)
	eng, closeEngine, err := readEngine(ctx, sc)
	if err != nil {
		return err
	}
	defer closeEngine()
	c, err := eng.Customer(ctx, pos[0])
	if err != nil {
		return err
	}
	bals, err := eng.Balances(ctx, c.ID)
	if err != nil {
		return err
	}
	entries, err := eng.ListEntries(ctx, coffer.EntryListParams{CustomerID: c.ID, Currency: cur,
		ListParams: coffer.ListParams{Limit: *limit}})
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%s  %s  %s\n\nCURRENCY\tBALANCE\tHELD\n", c.ID, cell(c.Name), cell(c.Email))
	for _, b := range bals {
		if cur == "" || b.Currency == cur {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", b.Currency, money.Format(b.Amount, b.Currency), money.Format(b.Held, b.Currency))
		}
	}
	fmt.Fprintln(tw, "\nCREATED\tENTRY\tTYPE\tAMOUNT\tCURRENCY\tBEFORE\tAFTER\tREASON")
	for _, e := range entries.Data {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.CreatedAt.UTC().Format(time.RFC3339), e.ID, e.Type,
			money.Format(e.Amount, e.Currency), e.Currency, money.Format(e.BalanceBefore, e.Currency),
			money.Format(e.BalanceAfter, e.Currency), cell(e.Reason))
	}
	if entries.HasMore {
		fmt.Fprintf(tw, "... more (raise -limit, up to 100)\n")
	}
	return tw.Flush()
}

// cell makes a value safe for one table cell: no tabs, newlines or
// terminal control characters, at most 60 runes.
func cell(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 60 {
		s = string(r[:59]) + "…"
	}
	if s == "" {
		return "-"
	}
	return s
}

// keysCmd: keys create [-name N] [-customer cus_...] [-live] | keys list |
// keys revoke <key_id>.
func keysCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "create" && args[0] != "list" && args[0] != "revoke") {
		return usageErr("keys create [-name N] [-customer cus_...] [-live] | keys list | keys revoke <key_id>")
	}
	sub := args[0]
	fs := newFlagSet("keys "+sub, stderr)
	var sc storeConfig
	sc.register(fs, getenv)
	name := fs.String("name", "operator", "a name that tells the key apart (keys create)")
	cust := fs.String("customer", "", "restrict the key to this customer (keys create)")
	live := fs.Bool("live", false, "make a live-mode key, sk_live_ (keys create)")
	pos, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return err
	}
	switch {
	case sub == "revoke" && len(pos) != 1:
		return usageErr("keys revoke <key_id>")
	case sub != "revoke" && len(pos) > 0:
		return usageErr("keys %s takes no arguments", sub)
	}
	eng, closeEngine, err := readEngine(ctx, sc)
	if err != nil {
		return err
	}
	defer closeEngine()
	switch sub {
	case "create":
		k, err := eng.CreateAPIKey(ctx, coffer.APIKeyParams{Name: *name, CustomerID: *cust, Livemode: *live})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "id:       %s\nname:     %s\n", k.Key.ID, k.Key.Name)
		if k.Key.CustomerID != "" {
			fmt.Fprintf(stdout, "customer: %s\n", k.Key.CustomerID)
		}
		fmt.Fprintf(stdout, "secret:   %s\n\nThe secret is shown once: coffer keeps only its hash.\n", k.Secret)
		return nil
	case "revoke":
		k, err := eng.RevokeAPIKey(ctx, pos[0])
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked %s (%s) at %s\n", k.ID, cell(k.Name), k.RevokedAt.UTC().Format(time.RFC3339))
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tPREFIX\tCUSTOMER\tCREATED\tREVOKED")
	for k, err := range coffer.Iterate(ctx, coffer.APIKeyListParams{}, eng.ListAPIKeys) {
		if err != nil {
			return err
		}
		revoked := "-"
		if !k.RevokedAt.IsZero() {
			revoked = k.RevokedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s...\t%s\t%s\t%s\n", k.ID, cell(k.Name), k.Prefix, cell(k.CustomerID),
			k.CreatedAt.UTC().Format(time.RFC3339), revoked)
	}
	return tw.Flush()
}
