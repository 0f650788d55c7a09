// Command crashtest kills a coffer process at random moments and checks
// that nothing acknowledged is lost and nothing is applied twice.
//
//	crashtest drive [-store bolt|postgres] [-kills 200] [-dir D]   the kill loop (what the root package's TestCrash runs)
//	crashtest child -store bolt -db F -journal J -proc P ...        one child: mixed load until killed
//	crashtest check -store bolt -db F -journal J -proc P            reconcile and check a store left behind
//
// A child runs credits and debits with idempotency keys, charges (covered
// by the wallet, partly, or not at all; some declined) and refunds to the
// wallet and to the card against a bbolt file or a PostgreSQL schema, with
// a file-backed processor whose record survives the kill. It journals an
// intent before each call and, fsynced, an ack after it returned; the next
// child retries unfinished intents with the same keys. After each kill the
// driver reopens the store, runs Reconcile with a clock past
// coffer.ReconcileAfter, and checks the invariants (crashkit.Check).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cofferhq/coffer/cmd/crashtest/crashkit"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var err error
	switch os.Args[1] {
	case "child":
		err = child(ctx, os.Args[2:])
	case "check":
		err = check(ctx, os.Args[2:])
	case "drive":
		err = drive(ctx, os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "crashtest:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: crashtest drive|child|check [flags] (crashtest <mode> -h for flags)")
	os.Exit(2)
}

func targetFlags(fs *flag.FlagSet) *crashkit.Target {
	t := &crashkit.Target{}
	fs.StringVar(&t.Kind, "store", "bolt", "bolt or postgres")
	fs.StringVar(&t.Path, "db", "", "bbolt file")
	fs.StringVar(&t.DSN, "dsn", os.Getenv("COFFER_POSTGRES_DSN"), "PostgreSQL DSN")
	fs.StringVar(&t.Schema, "schema", "", "PostgreSQL schema")
	fs.StringVar(&t.AppName, "app", "", "PostgreSQL application_name of the store's sessions")
	return t
}

func child(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("child", flag.ExitOnError)
	var c crashkit.ChildConfig
	tp := targetFlags(fs)
	fs.StringVar(&c.Journal, "journal", "", "journal file")
	fs.StringVar(&c.Proc, "proc", "", "processor file")
	fs.IntVar(&c.Run, "run", 1, "run number (keys are unique per run)")
	fs.Uint64Var(&c.Seed, "seed", 1, "random seed")
	fs.IntVar(&c.Workers, "workers", 4, "concurrent clients")
	fs.IntVar(&c.NewCustomers, "customers", 2, "new customers to create")
	fs.DurationVar(&c.MaxTime, "max-time", time.Minute, "stop after this long if not killed")
	fs.DurationVar(&c.ProcDelay, "proc-delay", 0, "processor delay after recording a charge or refund")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c.Target = *tp
	if c.Journal == "" || c.Proc == "" {
		return fmt.Errorf("child: -journal and -proc are required")
	}
	err := crashkit.RunChild(ctx, c, func() { fmt.Println("ready") })
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func check(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("check", flag.ExitOnError)
	t := targetFlags(fs)
	journal := fs.String("journal", "", "journal file")
	proc := fs.String("proc", "", "processor file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rep, st, err := crashkit.Recover(ctx, *t, *journal, *proc, true)
	if err != nil {
		return err
	}
	fmt.Printf("ok: reconciled %+v; %s\n", rep, st)
	return nil
}

func drive(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("drive", flag.ExitOnError)
	t := targetFlags(fs)
	dir := fs.String("dir", "", "working directory (default: a new temporary one, removed on success)")
	c := crashkit.DriveConfig{}
	fs.IntVar(&c.Kills, "kills", 200, "how many times to kill the child")
	fs.DurationVar(&c.MinDelay, "min", 20*time.Millisecond, "shortest run before the kill")
	fs.DurationVar(&c.MaxDelay, "max", 300*time.Millisecond, "longest run before the kill")
	fs.IntVar(&c.EarlyEvery, "early-every", 5, "every Nth child is killed counting from its start, not from ready")
	fs.IntVar(&c.Workers, "workers", 4, "concurrent clients per child")
	fs.Uint64Var(&c.Seed, "seed", uint64(time.Now().UnixNano()), "random seed")
	fs.DurationVar(&c.ProcDelay, "proc-delay", 2*time.Millisecond, "processor delay after recording a charge or refund")
	fs.IntVar(&c.PreCheckEvery, "precheck-every", 1, "also check before Reconcile on every Nth kill")
	verbose := fs.Bool("v", false, "log every kill")
	if err := fs.Parse(args); err != nil {
		return err
	}
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	c.Binary, c.Target = bin, *t
	keep := *dir != ""
	dropSchema := false
	if !keep {
		if *dir, err = os.MkdirTemp("", "crashtest-"); err != nil {
			return err
		}
	}
	c.Dir = *dir
	switch c.Target.Kind {
	case "bolt":
		if c.Target.Path == "" {
			c.Target.Path = filepath.Join(c.Dir, "coffer.db")
		}
	case "postgres":
		if c.Target.Schema == "" {
			c.Target.Schema = fmt.Sprintf("crashtest_%d", time.Now().UnixNano())
			dropSchema = true
		}
		c.Target.Schema = strings.ToLower(c.Target.Schema)
	}
	if *verbose {
		c.Logf = func(f string, a ...any) { fmt.Printf(f+"\n", a...) }
	}
	fmt.Printf("crashtest: %s, %d kills, seed %d, files in %s\n", c.Target.Kind, c.Kills, c.Seed, c.Dir)
	start := time.Now()
	res, err := crashkit.Drive(ctx, c)
	if err != nil {
		return fmt.Errorf("%w\n(files kept in %s; seed %d)", err, c.Dir, c.Seed)
	}
	fmt.Printf("ok: %d kills (%d early) in %s; reconcile settled %d payments, %d refunds; checks %s total, %s max\n%s\n",
		res.Kills, res.Early, time.Since(start).Round(time.Millisecond), res.Reconciled, res.Refunds,
		res.CheckTime.Round(time.Millisecond), res.MaxCheck.Round(time.Millisecond), res.Last)
	if c.Target.Kind == "postgres" {
		fmt.Printf("%d kills left a backend of the dead child running (awaited before checking; longest %s)\n",
			res.Lingered, res.MaxLinger.Round(time.Millisecond))
	}
	if dropSchema {
		conn, err := pgx.Connect(ctx, c.Target.DSN)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+c.Target.Schema+" CASCADE"); err != nil {
			return err
		}
	}
	if !keep {
		return os.RemoveAll(c.Dir)
	}
	return nil
}
