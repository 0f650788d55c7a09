package coffer_test

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/clock"
	"github.com/cofferhq/coffer/cmd/crashtest/crashkit"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/memory"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/webhook"
)

// The crash test: cmd/crashtest runs a mixed load (credits, debits,
// charges, refunds) in a child process that is killed with SIGKILL at a
// random moment, again and again on the same store; after each kill this
// process reopens the store, runs Reconcile and checks every invariant
// (crashkit.Check). COFFER_CRASH_KILLS sets the number of kills per store
// (default 50); PostgreSQL runs when COFFER_POSTGRES_DSN is set.

// crashEpoch is how many kills share one store before the test starts
// over on an empty one: the checks read the whole store, so this keeps a
// long run's cost linear in its kills.
const crashEpoch = 25

// crashKills is how many times each store's child is killed.
func crashKills(t *testing.T) int {
	n := 50
	if v := os.Getenv("COFFER_CRASH_KILLS"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(t, err, "COFFER_CRASH_KILLS")
	} else if testing.Short() {
		n = 10
	}
	return n
}

// raceEnabled reports whether this test binary was built with -race; the
// child is then built the same way, which reuses the packages the test
// build already compiled and races the child too.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// buildCrashtest builds cmd/crashtest into dir.
func buildCrashtest(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "crashtest")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	args := []string{"build", "-o", bin}
	if raceEnabled() {
		args = append(args, "-race")
	}
	goBin, err := exec.LookPath("go")
	require.NoError(t, err, "the crash test builds cmd/crashtest with the go command")
	start := time.Now()
	out, err := exec.Command(goBin, append(args, "./cmd/crashtest")...).CombinedOutput()
	require.NoError(t, err, "go build ./cmd/crashtest: %s", out)
	t.Logf("built cmd/crashtest (race=%v) in %s", raceEnabled(), time.Since(start).Round(time.Millisecond))
	return bin
}

// crashDSN returns the PostgreSQL DSN, or "" (skip) when unset; with CI=true
// an unreachable server fails the test.
func crashDSN(t *testing.T) string {
	t.Helper()
	d := os.Getenv("COFFER_POSTGRES_DSN")
	if d == "" {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, d)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL at COFFER_POSTGRES_DSN unreachable in CI: %v", err)
		}
		t.Logf("PostgreSQL at COFFER_POSTGRES_DSN unreachable: %v", err)
		return ""
	}
	_ = conn.Close(ctx)
	return d
}

// freshSchema returns a new schema name, dropped at cleanup.
func freshSchema(t *testing.T, dsn, prefix string) string {
	t.Helper()
	var b [6]byte
	_, _ = crand.Read(b[:])
	name := prefix + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Logf("drop schema %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+name+" CASCADE"); err != nil {
			t.Logf("drop schema %s: %v", name, err)
		}
	})
	return name
}

func TestCrash(t *testing.T) {
	if testing.Short() && os.Getenv("COFFER_CRASH_KILLS") == "" {
		t.Log("short mode: 10 kills per store")
	}
	kills := crashKills(t)
	dsn := crashDSN(t)
	bin := buildCrashtest(t, t.TempDir())
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("COFFER_CRASH_SEED"); v != "" {
		var err error
		seed, err = strconv.ParseUint(v, 10, 64)
		require.NoError(t, err, "COFFER_CRASH_SEED")
	}
	t.Logf("seed %d (COFFER_CRASH_SEED replays the kill schedule)", seed)
	for _, kind := range []string{"bolt", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			if kind == "postgres" && dsn == "" {
				t.Skip("COFFER_POSTGRES_DSN not set")
			}
			t.Parallel() // the children mostly wait to be killed: the two stores overlap well
			dir := t.TempDir()
			newTarget := func(epoch int) crashkit.Target {
				if kind == "postgres" {
					return crashkit.Target{Kind: kind, DSN: dsn, Schema: freshSchema(t, dsn, "coffer_crash_")}
				}
				return crashkit.Target{Kind: kind, Path: filepath.Join(dir, fmt.Sprintf("coffer-%d.db", epoch))}
			}
			// A long run (COFFER_CRASH_KILLS=1000) needs more than the
			// default bound; go test's own -timeout must allow it too.
			ctx, cancel := context.WithTimeout(context.Background(), max(10*time.Minute, time.Duration(kills)*3*time.Second))
			defer cancel()
			start := time.Now()
			res, err := crashkit.Drive(ctx, crashkit.DriveConfig{
				Binary: bin, Target: newTarget(0), NewTarget: newTarget, Epoch: crashEpoch, Dir: dir, Kills: kills,
				MinDelay: 20 * time.Millisecond, MaxDelay: 300 * time.Millisecond, EarlyEvery: 5,
				Workers: 4, Seed: seed, ProcDelay: 2 * time.Millisecond, PreCheckEvery: 5, Logf: progress(t, kills),
			})
			require.NoError(t, err, "seed %d", seed)
			require.Equal(t, kills, res.Kills)
			t.Logf("%d kills (%d early, a fresh store every %d) in %s (children %s, recover+check %s, slowest check %s); Reconcile settled %d payments, %d refunds",
				res.Kills, res.Early, crashEpoch, time.Since(start).Round(time.Millisecond), res.ChildTime.Round(time.Millisecond),
				res.CheckTime.Round(time.Millisecond), res.MaxCheck.Round(time.Millisecond), res.Reconciled, res.Refunds)
			t.Logf("last store: %s; %d ops acknowledged in all", res.Last, res.Acked)
			if kind == "postgres" {
				t.Logf("%d kills left a backend of the dead child running (waited for it before checking; longest %s)",
					res.Lingered, res.MaxLinger.Round(time.Millisecond))
			}
			require.Greater(t, res.Acked, kills, "the children acknowledged too little work to prove anything")
		})
	}
}

// progress logs every 50th kill of a long run (more than 100 kills), so
// that go test -v shows how far it got.
func progress(t *testing.T, kills int) func(string, ...any) {
	if kills <= 100 {
		return nil
	}
	n := 0
	start := time.Now()
	return func(format string, args ...any) {
		if n++; n%50 == 0 {
			t.Logf("%s: "+format, append([]any{time.Since(start).Round(time.Second)}, args...)...)
		}
	}
}

// TestCrashCheckerDetects proves the checker is not vacuous: a clean
// workload passes, and each kind of damage a crash could do is reported.
func TestCrashCheckerDetects(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T) (store.Store, *crashkit.MemJournal, *crashkit.FileProcessor) {
		s := memory.New()
		proc, err := crashkit.OpenFileProcessor(filepath.Join(t.TempDir(), "proc.jsonl"), crashkit.NoSync())
		require.NoError(t, err)
		t.Cleanup(func() { proc.Close() })
		eng, err := coffer.New(s, coffer.WithProcessor(proc))
		require.NoError(t, err)
		j := &crashkit.MemJournal{}
		r := &crashkit.Runner{Eng: eng, J: j, Pool: &crashkit.Pool{}, Run: 1}
		require.NoError(t, r.Setup(ctx))
		for range 3 {
			require.NoError(t, r.NewCustomer(ctx))
		}
		rnd := rand.New(rand.NewPCG(1, 2))
		for range 300 {
			require.NoError(t, r.Step(ctx, rnd))
		}
		_, err = crashkit.Check(ctx, s, crashkit.CheckOptions{Ops: j.Ops(), Proc: proc, Settled: true})
		require.NoError(t, err, "a clean run passes")
		return s, j, proc
	}
	firstAck := func(ops []crashkit.Op, kind string) crashkit.Op {
		for _, op := range ops {
			if op.Phase == crashkit.PhaseAck && op.Kind == kind {
				return op
			}
		}
		t.Fatalf("no %s ack", kind)
		return crashkit.Op{}
	}
	// Each damage returns the journal to check and the violation expected.
	cases := map[string]func(t *testing.T, s store.Store, ops []crashkit.Op) ([]crashkit.Op, string){
		"acknowledged credit missing": func(t *testing.T, s store.Store, ops []crashkit.Op) ([]crashkit.Op, string) {
			op := firstAck(ops, crashkit.KindCredit)
			op.Key += "-lost"
			return append(ops, op), "is not in the store"
		},
		"refused debit applied": func(t *testing.T, s store.Store, ops []crashkit.Op) ([]crashkit.Op, string) {
			key := firstAck(ops, crashkit.KindDebit).Key
			var out []crashkit.Op
			for _, op := range ops {
				if op.Key == key {
					op.Phase = crashkit.PhaseNack
				}
				out = append(out, op)
			}
			return out, "was refused"
		},
		"acked charge with another result": func(t *testing.T, s store.Store, ops []crashkit.Op) ([]crashkit.Op, string) {
			op := firstAck(ops, crashkit.KindCharge)
			op.Payment = "pay_other"
			return append(ops, op), "acknowledged twice with different results"
		},
		"balance off its entries": func(t *testing.T, s store.Store, ops []crashkit.Op) ([]crashkit.Op, string) {
			op := firstAck(ops, crashkit.KindCredit)
			require.NoError(t, s.Update(ctx, func(tx store.Tx) error {
				b, err := tx.Balance(op.Customer, op.Currency)
				if err != nil {
					return err
				}
				b.Amount++
				return tx.PutBalance(b)
			}))
			return ops, "its entries add up to"
		},
		"entry without its event": func(t *testing.T, s store.Store, ops []crashkit.Op) ([]crashkit.Op, string) {
			op := firstAck(ops, crashkit.KindCredit)
			require.NoError(t, s.Update(ctx, func(tx store.Tx) error {
				b, err := tx.Balance(op.Customer, op.Currency)
				if err != nil {
					return err
				}
				e, after, err := ledger.Post(b, ledger.Request{Amount: 1, Currency: op.Currency, Type: ledger.Credit,
					IdempotencyKey: "silent"}, "le_silent", time.Now())
				if err != nil {
					return err
				}
				if err := tx.InsertEntry(e); err != nil {
					return err
				}
				return tx.PutBalance(after)
			}))
			return ops, "wallet.balance_changed events, want 1"
		},
		"event without its change": func(t *testing.T, s store.Store, ops []crashkit.Op) ([]crashkit.Op, string) {
			op := firstAck(ops, crashkit.KindCredit)
			require.NoError(t, s.Update(ctx, func(tx store.Tx) error {
				return tx.InsertEvent(webhook.Event{ID: "evt_ghost", Type: coffer.EventPaymentSucceeded, CustomerID: op.Customer,
					Data: []byte(`{"id":"pay_ghost"}`), CreatedAt: time.Now()})
			}))
			return ops, "which the store does not have"
		},
		"held without a pending hold": func(t *testing.T, s store.Store, ops []crashkit.Op) ([]crashkit.Op, string) {
			require.NoError(t, s.Update(ctx, func(tx store.Tx) error {
				for _, op := range ops {
					if op.Phase != crashkit.PhaseAck || op.Kind != crashkit.KindCredit {
						continue
					}
					b, err := tx.Balance(op.Customer, op.Currency)
					if err != nil {
						return err
					}
					if b.Available() > 0 {
						b.Held++
						return tx.PutBalance(b)
					}
				}
				return errors.New("no wallet with money left to hold")
			}))
			return ops, "pending holds add up to"
		},
		"payment left pending": func(t *testing.T, s store.Store, ops []crashkit.Op) ([]crashkit.Op, string) {
			op := firstAck(ops, crashkit.KindCharge)
			require.NoError(t, s.Update(ctx, func(tx store.Tx) error {
				p, err := tx.Payment(op.Payment)
				if err != nil {
					return err
				}
				p.Status = subscription.PaymentPending
				return tx.UpdatePayment(p)
			}))
			return ops, "still pending after reconcile"
		},
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			s, j, proc := setup(t)
			ops, want := damage(t, s, j.Ops())
			_, err := crashkit.Check(ctx, s, crashkit.CheckOptions{Ops: ops, Proc: proc, Settled: true})
			var ve *crashkit.ViolationError
			require.ErrorAs(t, err, &ve)
			require.Contains(t, err.Error(), want)
		})
	}
}

// TestCrashFileProcessor checks the crash test's processor: its record
// survives a reopen (a new process), calls are idempotent by key, and a torn
// last line is dropped.
func TestCrashFileProcessor(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "proc.jsonl")
	p, err := crashkit.OpenFileProcessor(path)
	require.NoError(t, err)
	ok, err := p.Charge(ctx, processor.ChargeRequest{IdempotencyKey: "pay_1", PaymentMethod: processor.CardOK, Amount: 500, Currency: "USD"})
	require.NoError(t, err)
	require.Equal(t, processor.ChargeSucceeded, ok.Status)
	declined, err := p.Charge(ctx, processor.ChargeRequest{IdempotencyKey: "pay_2", PaymentMethod: processor.CardInsufficientFunds, Amount: 700, Currency: "USD"})
	require.NoError(t, err)
	require.Equal(t, processor.ChargeFailed, declined.Status)
	require.Equal(t, processor.InsufficientFunds, declined.DeclineCode)
	_, err = p.Charge(ctx, processor.ChargeRequest{IdempotencyKey: "pay_3", PaymentMethod: processor.CardNetworkError, Amount: 1, Currency: "USD"})
	require.ErrorIs(t, err, processor.ErrUnavailable)
	_, err = p.Refund(ctx, processor.RefundRequest{IdempotencyKey: "re_1", ChargeID: ok.ID, Amount: 200})
	require.NoError(t, err)
	_, err = p.Refund(ctx, processor.RefundRequest{IdempotencyKey: "re_2", ChargeID: ok.ID, Amount: 400})
	require.ErrorIs(t, err, processor.ErrRefundExceedsCharge)
	require.NoError(t, p.Close())

	// A killed writer left half a line behind.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"t":"charge","key":"pay_torn","id":"ch_pay_t`)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	p, err = crashkit.OpenFileProcessor(path)
	require.NoError(t, err)
	defer p.Close()
	again, err := p.LookupCharge(ctx, "pay_1")
	require.NoError(t, err)
	require.Equal(t, ok, again)
	replay, err := p.Charge(ctx, processor.ChargeRequest{IdempotencyKey: "pay_1", PaymentMethod: processor.CardOK, Amount: 500, Currency: "USD"})
	require.NoError(t, err)
	require.Equal(t, ok, replay, "a replay returns the recorded charge")
	_, err = p.Charge(ctx, processor.ChargeRequest{IdempotencyKey: "pay_1", PaymentMethod: processor.CardOK, Amount: 501, Currency: "USD"})
	require.ErrorIs(t, err, processor.ErrIdempotencyMismatch)
	for _, key := range []string{"pay_3", "pay_torn"} {
		_, err = p.LookupCharge(ctx, key)
		require.ErrorIs(t, err, processor.ErrNotFound, key)
	}
	_, err = p.Refund(ctx, processor.RefundRequest{IdempotencyKey: "re_3", ChargeID: ok.ID, Amount: 300})
	require.NoError(t, err, "the first refund's 200 still counts: 300 more is the rest")
	_, err = p.Refund(ctx, processor.RefundRequest{IdempotencyKey: "re_4", ChargeID: ok.ID, Amount: 1})
	require.ErrorIs(t, err, processor.ErrRefundExceedsCharge)
	charges, refunds := p.Record()
	require.Len(t, charges, 2)
	require.Len(t, refunds, 2)

	// Appending after the cut-off line leaves a well-formed file.
	_, err = p.Charge(ctx, processor.ChargeRequest{IdempotencyKey: "pay_4", PaymentMethod: processor.CardOK, Amount: 9, Currency: "INR"})
	require.NoError(t, err)
	require.NoError(t, p.Close())
	p2, err := crashkit.OpenFileProcessor(path)
	require.NoError(t, err)
	defer p2.Close()
	charges, _ = p2.Record()
	require.Len(t, charges, 3)
}

// TestCrashJournalUnfinished: intents without an ack or a nack are what
// the next child retries, once per key.
func TestCrashJournalUnfinished(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	j, ops, err := crashkit.OpenJournal(path)
	require.NoError(t, err)
	require.Empty(t, ops)
	for _, op := range []crashkit.Op{
		{Phase: crashkit.PhaseIntent, Kind: crashkit.KindCredit, Key: "a"},
		{Phase: crashkit.PhaseAck, Kind: crashkit.KindCredit, Key: "a"},
		{Phase: crashkit.PhaseIntent, Kind: crashkit.KindDebit, Key: "b"},
		{Phase: crashkit.PhaseNack, Kind: crashkit.KindDebit, Key: "b"},
		{Phase: crashkit.PhaseIntent, Kind: crashkit.KindCharge, Key: "c"},
		{Phase: crashkit.PhaseIntent, Kind: crashkit.KindCharge, Key: "c"},
		{Phase: crashkit.PhaseIntent, Kind: crashkit.KindRefund, Key: "d"},
	} {
		require.NoError(t, j.Write(op, true))
	}
	require.NoError(t, j.Close())
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"phase":"ack","kind":"refund","key":"d"`) // torn: never acknowledged
	require.NoError(t, err)
	require.NoError(t, f.Close())

	read, err := crashkit.ReadJournal(path)
	require.NoError(t, err)
	require.Len(t, read, 7)
	j, ops, err = crashkit.OpenJournal(path)
	require.NoError(t, err)
	defer j.Close()
	require.Len(t, ops, 7)
	un := crashkit.Unfinished(ops)
	require.Len(t, un, 2)
	require.Equal(t, "c", un[0].Key)
	require.Equal(t, "d", un[1].Key)
}

// stuckRefunds is a processor whose refunds are unreachable (the outcome
// unknown, ErrUnavailable) while their key is marked stuck.
type stuckRefunds struct {
	*processor.Test
	mu    sync.Mutex
	stuck map[string]bool // refund id -> unreachable
	all   bool            // every refund not yet seen is stuck
}

func (p *stuckRefunds) Refund(ctx context.Context, req processor.RefundRequest) (processor.Refund, error) {
	p.mu.Lock()
	if p.all {
		p.stuck[req.IdempotencyKey] = true
	}
	stuck := p.stuck[req.IdempotencyKey]
	p.mu.Unlock()
	if stuck {
		return processor.Refund{}, fmt.Errorf("%w: refund %s timed out", processor.ErrUnavailable, req.IdempotencyKey)
	}
	return p.Test.Refund(ctx, req)
}

// TestCrashReconcileManyPendingRefunds is the regression test of a bug
// the long soak found: Reconcile read one batch of pending refunds
// (store.MaxLimit, 100) and stopped there, so one call left the rest
// pending, and 100 refunds the processor kept failing to answer for
// starved every refund behind them forever (each pass fetched the same 100
// oldest ones).
func TestCrashReconcileManyPendingRefunds(t *testing.T) {
	ctx := context.Background()
	const n = 130
	setup := func(t *testing.T) (*coffer.Engine, *clock.Test, *stuckRefunds, []string) {
		clk := clock.NewTest(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
		proc := &stuckRefunds{Test: processor.NewTest(clk), stuck: map[string]bool{}, all: true}
		eng, err := coffer.New(memory.New(), coffer.WithClock(clk), coffer.WithProcessor(proc))
		require.NoError(t, err)
		c, err := eng.CreateCustomer(ctx, customer.Params{Name: new("Many refunds")})
		require.NoError(t, err)
		prod, err := eng.CreateProduct(ctx, coffer.ProductParams{Name: "Plan", Price: 100, Currency: "USD"})
		require.NoError(t, err)
		sub, err := eng.CreateSubscription(ctx, coffer.SubscriptionParams{ProductID: prod.ID, Quantity: 1, CustomerID: c.ID,
			PaymentMethod: processor.CardOK, OnDemand: &coffer.OnDemand{MandateOnly: new(true)}})
		require.NoError(t, err)
		var ids []string
		for i := range n {
			p, err := eng.Charge(ctx, sub.Subscription.ID, coffer.ChargeParams{ProductPrice: new(int64(100))})
			require.NoError(t, err)
			require.Equal(t, subscription.PaymentSucceeded, p.Status)
			r, err := eng.Refund(ctx, p.ID, coffer.RefundParams{IdempotencyKey: fmt.Sprint("refund-", i)})
			require.NoError(t, err)
			require.Equal(t, subscription.RefundPending, r.Status, "the processor's answer was lost")
			ids = append(ids, r.ID)
		}
		clk.Advance(coffer.ReconcileAfter)
		return eng, clk, proc, ids
	}
	status := func(t *testing.T, eng *coffer.Engine, id string) subscription.RefundStatus {
		var r subscription.Refund
		require.NoError(t, eng.View(ctx, func(tx store.ReadTx) (err error) { r, err = tx.Refund(id); return err }))
		return r.Status
	}

	t.Run("one call settles them all", func(t *testing.T) {
		eng, _, proc, ids := setup(t)
		proc.mu.Lock()
		proc.all, proc.stuck = false, map[string]bool{}
		proc.mu.Unlock()
		rep, err := eng.Reconcile(ctx)
		require.NoError(t, err)
		require.Equal(t, coffer.ReconcileReport{Refunds: n}, rep)
		for _, id := range ids {
			require.Equal(t, subscription.RefundSucceeded, status(t, eng, id))
		}
	})
	t.Run("refunds still unanswered do not starve the others", func(t *testing.T) {
		eng, _, proc, ids := setup(t)
		proc.mu.Lock()
		proc.all = false
		for _, id := range ids[n-10:] {
			delete(proc.stuck, id) // the 10 newest now get an answer; the 120 oldest still do not
		}
		proc.mu.Unlock()
		rep, err := eng.Reconcile(ctx)
		require.NoError(t, err)
		require.Equal(t, coffer.ReconcileReport{Refunds: 10, Pending: n - 10}, rep)
		for i, id := range ids {
			want := subscription.RefundPending
			if i >= n-10 {
				want = subscription.RefundSucceeded
			}
			require.Equal(t, want, status(t, eng, id), "refund %d", i)
		}
	})
}
