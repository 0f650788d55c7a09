// Command coffer runs coffer as a service and operates its data.
//
//	coffer serve [flags]                 the HTTP API and every background worker
//	coffer migrate [-print] [flags]      apply (or print) the PostgreSQL schema
//	coffer customers list [-limit N]     newest customers, as a table
//	coffer customers search <query>      customers matching a free-text query
//	coffer ledger <customer_id> [-currency USD]   a customer's balances and entries
//
// Every command takes the store flags: -db FILE (bbolt, the default
// coffer.db), or -postgres DSN (default $DATABASE_URL) with an optional
// -postgres-schema NAME. `coffer <command> -h` lists a command's flags.
//
// Quick start, with demo data and the test processor (no real money moves):
//
//	go run ./cmd/coffer serve -demo
//
// Environment: COFFER_API_KEY (the operator API key serve accepts),
// COFFER_SESSION_SECRET (signs customer portal links; at least 32 bytes),
// DATABASE_URL (the PostgreSQL DSN when -postgres is not given).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, stop, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

const usage = `usage: coffer <command> [flags]

commands:
  serve                          run the HTTP API and the background workers
  migrate [-print]               apply (or print) the PostgreSQL migrations
  customers list [-limit N]      list customers, newest first
  customers search <query>       search customers by name, email, phone, id, description
  keys create [-name N] [-customer cus_...] [-live]
                                 make an API key (the secret is shown once)
  keys list                      list API keys (never their secrets)
  keys revoke <key_id>           revoke an API key
  ledger <customer_id> [-currency C] [-limit N]
                                 a customer's balances and ledger entries
  import [-format csv|jsonl] [-batch N] [-stop-on-error] FILE
                                 load customers with opening balances (idempotent per did)

Run 'coffer <command> -h' for a command's flags.
`

// run runs one command and returns the exit code. stop, when not nil, is
// called once a shutdown signal has been received, so that a second
// signal ends the process at once.
func run(ctx context.Context, stop func(), args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		var cfg serveConfig
		cfg, err = parseServe(rest, getenv, stderr)
		if err == nil {
			err = serve(ctx, stop, cfg, stdout, stderr)
		}
	case "migrate":
		err = migrateCmd(ctx, rest, getenv, stdout, stderr)
	case "customers":
		err = customersCmd(ctx, rest, getenv, stdout, stderr)
	case "keys":
		err = keysCmd(ctx, rest, getenv, stdout, stderr)
	case "ledger":
		err = ledgerCmd(ctx, rest, getenv, stdout, stderr)
	case "import":
		err = importCmd(ctx, rest, getenv, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "coffer: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintln(stderr, "coffer:", err)
		return 2
	default:
		fmt.Fprintln(stderr, "coffer:", err)
		return 1
	}
}

// errUsage marks a command line that cannot be run (exit code 2).
var errUsage = errors.New("usage")

func usageErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, a...))
}
