package crashkit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/clock"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/bolt"
	"github.com/cofferhq/coffer/store/postgres"
)

// Target is the store the children write and the checker reads.
type Target struct {
	Kind   string // "bolt" or "postgres"
	Path   string // bbolt file
	DSN    string // PostgreSQL
	Schema string // PostgreSQL schema (fresh for a run)
	// AppName, when set, is the application_name of the store's PostgreSQL
	// sessions, by which the driver finds a killed child's backends.
	AppName string
}

// Open opens the target store.
func (t Target) Open(ctx context.Context) (store.Store, error) {
	switch t.Kind {
	case "bolt":
		return bolt.Open(t.Path)
	case "postgres":
		var opts []postgres.Option
		if t.Schema != "" {
			opts = append(opts, postgres.WithSchema(t.Schema))
		}
		if t.AppName != "" {
			opts = append(opts, postgres.WithPoolConfig(func(c *pgxpool.Config) {
				c.ConnConfig.RuntimeParams["application_name"] = t.AppName
			}))
		}
		return postgres.Open(ctx, t.DSN, opts...)
	}
	return nil, fmt.Errorf("crashkit: unknown store kind %q", t.Kind)
}

// ChildConfig is one child process's run.
type ChildConfig struct {
	Target
	Journal, Proc string
	Run           int
	Seed          uint64
	Workers       int
	NewCustomers  int
	// MaxTime stops a child nobody killed (its driver died), so no child
	// outlives a test run by long.
	MaxTime   time.Duration
	ProcDelay time.Duration
}

// Args are the command-line arguments of `crashtest child` for c.
func (c ChildConfig) Args() []string {
	args := []string{"child", "-store", c.Kind, "-journal", c.Journal, "-proc", c.Proc,
		"-run", strconv.Itoa(c.Run), "-seed", strconv.FormatUint(c.Seed, 10), "-workers", strconv.Itoa(c.Workers),
		"-customers", strconv.Itoa(c.NewCustomers), "-max-time", c.MaxTime.String(), "-proc-delay", c.ProcDelay.String()}
	if c.Kind == "postgres" {
		return append(args, "-dsn", c.DSN, "-schema", c.Schema, "-app", c.AppName)
	}
	return append(args, "-db", c.Path)
}

// RunChild is the child: it opens the store, the processor file and the
// journal, retries the intents its killed predecessors left unfinished
// (same keys), creates a few customers beside the last ones it knows from
// the journal, calls ready, and then runs Workers goroutines of mixed load
// until it is killed, ctx ends or MaxTime passes.
func RunChild(ctx context.Context, c ChildConfig, ready func()) error {
	if c.MaxTime > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.MaxTime)
		defer cancel()
	}
	s, err := c.Target.Open(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	proc, err := OpenFileProcessor(c.Proc, Delay(c.ProcDelay))
	if err != nil {
		return err
	}
	defer proc.Close()
	eng, err := coffer.New(s, coffer.WithProcessor(proc))
	if err != nil {
		return err
	}
	j, ops, err := OpenJournal(c.Journal)
	if err != nil {
		return err
	}
	defer j.Close()
	pool := &Pool{}
	pool.Load(ops, 12, 64)
	r := &Runner{Eng: eng, J: j, Pool: pool, Run: c.Run}
	if err := r.Setup(ctx); err != nil {
		return err
	}
	if _, err := r.RetryUnfinished(ctx, ops); err != nil {
		return err
	}
	for i := 0; i < c.NewCustomers || pool.Customers() == 0; i++ {
		if err := r.NewCustomer(ctx); err != nil {
			return err
		}
	}
	ready()
	errc := make(chan error, c.Workers)
	for w := range max(c.Workers, 1) {
		go func() {
			rnd := rand.New(rand.NewPCG(c.Seed, uint64(w)))
			for ctx.Err() == nil {
				if err := r.Step(ctx, rnd); err != nil {
					if ctx.Err() != nil {
						break
					}
					errc <- err
					return
				}
			}
			errc <- nil
		}()
	}
	var first error
	for range max(c.Workers, 1) {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Recover is the checker's side of a crash: with the child dead, it opens
// the store and the processor record, checks (when precheck is set) the
// invariants that hold even mid-flight, runs Reconcile with a clock past
// ReconcileAfter, and checks again with nothing allowed in flight.
func Recover(ctx context.Context, t Target, journal, proc string, precheck bool) (coffer.ReconcileReport, Stats, error) {
	var rep coffer.ReconcileReport
	s, err := t.Open(ctx)
	if err != nil {
		return rep, Stats{}, err
	}
	defer s.Close()
	p, err := OpenFileProcessor(proc)
	if err != nil {
		return rep, Stats{}, err
	}
	defer p.Close()
	ops, err := ReadJournal(journal)
	if err != nil {
		return rep, Stats{}, err
	}
	if precheck {
		if _, err := Check(ctx, s, CheckOptions{Ops: ops, Proc: p}); err != nil {
			return rep, Stats{}, fmt.Errorf("before reconcile: %w", err)
		}
	}
	clk := clock.NewTest(time.Now().Add(coffer.ReconcileAfter + time.Minute))
	eng, err := coffer.New(s, coffer.WithClock(clk), coffer.WithProcessor(p))
	if err != nil {
		return rep, Stats{}, err
	}
	if rep, err = eng.Reconcile(ctx); err != nil {
		return rep, Stats{}, fmt.Errorf("reconcile: %w", err)
	}
	st, err := Check(ctx, s, CheckOptions{Ops: ops, Proc: p, Settled: true})
	if err != nil {
		return rep, st, fmt.Errorf("after reconcile (%+v): %w", rep, err)
	}
	return rep, st, nil
}

// DriveConfig is a kill loop.
type DriveConfig struct {
	Binary string // the crashtest command
	Target Target
	// Epoch, when > 0, starts over every Epoch kills with an empty store
	// (NewTarget's) and new journal and processor files, which bounds the
	// cost of the checks (they read the whole store) on long runs.
	Epoch     int
	NewTarget func(epoch int) Target
	Dir       string // where the journal and the processor file live
	Kills     int
	// The child is killed a random MinDelay..MaxDelay after it reported
	// ready; one iteration in EarlyEvery is instead killed that long after
	// it started, often in the middle of its recovery.
	MinDelay, MaxDelay time.Duration
	EarlyEvery         int
	// PreCheckEvery runs the full check before Reconcile too on every Nth
	// kill (and the first); 1 does it every time. Checks read the whole
	// store, so on a long run they dominate.
	PreCheckEvery int
	Workers       int
	Seed          uint64
	ProcDelay     time.Duration
	Logf          func(format string, args ...any)
}

// DriveResult sums a kill loop.
type DriveResult struct {
	Kills, Early         int
	Acked                int // acknowledged ops, over all epochs
	Reconciled, Refunds  int // payments and refunds Reconcile settled
	Last                 Stats
	ChildTime, CheckTime time.Duration
	MaxCheck             time.Duration
	// Lingered counts the kills after which a PostgreSQL backend of the
	// dead child was still running (and could still commit) when the child
	// had exited; MaxLinger is the longest the driver waited for one.
	Lingered  int
	MaxLinger time.Duration
}

// Drive runs the kill loop: start a child on the target, kill it with
// SIGKILL a random moment later, Recover and check, Kills times. It stops
// at the first violation or child failure.
func Drive(ctx context.Context, c DriveConfig) (DriveResult, error) {
	var res DriveResult
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	if c.MaxDelay < c.MinDelay {
		c.MaxDelay = c.MinDelay
	}
	rnd := rand.New(rand.NewPCG(c.Seed, 0x5eed))
	journal, proc := filepath.Join(c.Dir, "journal.jsonl"), filepath.Join(c.Dir, "processor.jsonl")
	run := 0
	for i := range c.Kills {
		if c.Epoch > 0 && i > 0 && i%c.Epoch == 0 {
			e := i / c.Epoch
			journal = filepath.Join(c.Dir, fmt.Sprintf("journal-%d.jsonl", e))
			proc = filepath.Join(c.Dir, fmt.Sprintf("processor-%d.jsonl", e))
			if c.NewTarget == nil {
				return res, errors.New("crashkit: Epoch needs NewTarget")
			}
			c.Target = c.NewTarget(e)
			res.Acked += res.Last.Acked
			res.Last, run = Stats{}, 0
		}
		run++
		delay := c.MinDelay + time.Duration(rnd.Int64N(int64(c.MaxDelay-c.MinDelay)+1))
		early := c.EarlyEvery > 0 && i%c.EarlyEvery == c.EarlyEvery-1
		cc := ChildConfig{Target: c.Target, Journal: journal, Proc: proc, Run: run, Seed: rnd.Uint64(),
			Workers: c.Workers, NewCustomers: 1 + rnd.IntN(2), MaxTime: time.Minute, ProcDelay: c.ProcDelay}
		if run == 1 {
			cc.NewCustomers = 4
		}
		if cc.Kind == "postgres" {
			cc.AppName = fmt.Sprintf("crashtest-%d-%d", os.Getpid(), i+1)
		}
		start := time.Now()
		if err := killChild(ctx, c.Binary, cc, delay, early); err != nil {
			return res, fmt.Errorf("kill %d: %w", i+1, err)
		}
		if cc.Kind == "postgres" {
			waited, err := awaitBackends(ctx, cc.DSN, cc.AppName)
			if err != nil {
				return res, fmt.Errorf("kill %d: %w", i+1, err)
			}
			if waited > 0 {
				res.Lingered++
				res.MaxLinger = max(res.MaxLinger, waited)
			}
		}
		res.ChildTime += time.Since(start)
		res.Kills++
		if early {
			res.Early++
		}
		t := time.Now()
		pre := c.PreCheckEvery > 0 && (run-1)%c.PreCheckEvery == 0
		rep, st, err := Recover(ctx, c.Target, journal, proc, pre)
		d := time.Since(t)
		res.CheckTime += d
		res.MaxCheck = max(res.MaxCheck, d)
		if err != nil {
			return res, fmt.Errorf("kill %d (child run %d, killed %v after %s): %w", i+1, cc.Run, delay,
				map[bool]string{true: "start", false: "ready"}[early], err)
		}
		res.Reconciled += rep.Payments
		res.Refunds += rep.Refunds
		res.Last = st
		c.Logf("kill %d: %v after %s; reconciled %+v; %s", i+1, delay, map[bool]string{true: "start", false: "ready"}[early], rep, st)
	}
	res.Acked += res.Last.Acked
	return res, nil
}

// killChild starts one child and kills it delay after it is ready (or,
// when early, after it started).
func killChild(ctx context.Context, bin string, cc ChildConfig, delay time.Duration, early bool) error {
	cmd := exec.CommandContext(ctx, bin, cc.Args()...)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	ready := make(chan struct{})
	cmd.Stdout = &readyWriter{ready: ready}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if !early {
		select {
		case <-ready:
		case err := <-exited:
			return fmt.Errorf("child exited before it was ready: %v\n%s", err, stderr.String())
		case <-time.After(45 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("child not ready after 45s\n%s", stderr.String())
		}
	}
	select {
	case <-time.After(delay):
	case err := <-exited:
		return fmt.Errorf("child exited before it was killed: %v\n%s", err, stderr.String())
	}
	if err := cmd.Process.Kill(); err != nil {
		return err
	}
	err := <-exited
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Exited() {
		// Exited() is true when the child ended by itself (it finished or
		// failed just before the signal): that is a failure too.
		return fmt.Errorf("child was not killed by the signal: %v\n%s", err, stderr.String())
	}
	return nil
}

// lingerTimeout bounds the wait for a dead child's backends.
const lingerTimeout = time.Minute

// awaitBackends waits until no PostgreSQL session of the application name
// is left and returns how long that took (0: none was left).
//
// SIGKILL ends the child, not its server sessions: a backend that was
// running a statement (a COMMIT already received, or a statement waiting
// for a lock) notices the closed socket only when it next reads from or
// writes to the client, and until then it can still commit. A check that
// ran meanwhile could see a store that later changes under it (Reconcile
// finds nothing pending, then the child's pending payment commits), so
// the checker must start only once the child's backends are gone, as
// they are once a real crashed process's are.
func awaitBackends(ctx context.Context, dsn, appName string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, lingerTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, fmt.Errorf("crashkit: connecting to wait for the child's backends: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	start := time.Now()
	for seen := false; ; seen = true {
		var n int
		err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, appName).Scan(&n)
		if err == nil && n == 0 {
			if !seen {
				return 0, nil
			}
			return time.Since(start), nil
		}
		if err == nil {
			select {
			case <-ctx.Done():
				err = ctx.Err()
			case <-time.After(2 * time.Millisecond):
				continue
			}
		}
		return time.Since(start), fmt.Errorf("crashkit: waiting %s for the %d backends of the killed child %s: %w",
			time.Since(start).Round(time.Millisecond), n, appName, err)
	}
}

// readyWriter closes ready when the child prints its "ready" line.
type readyWriter struct {
	ready chan struct{}
	buf   []byte
	done  bool
}

func (w *readyWriter) Write(p []byte) (int, error) {
	if !w.done {
		w.buf = append(w.buf, p...)
		if bytes.Contains(w.buf, []byte("ready\n")) {
			w.done = true
			close(w.ready)
		}
	}
	return len(p), nil
}

// lockedBuffer is a bytes.Buffer safe for the exec copier and a reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
