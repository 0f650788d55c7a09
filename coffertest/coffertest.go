// Package coffertest helps applications test their integration with
// coffer: an Engine on the in-memory store with a test clock and the test
// processor in one call (New), assertions on the outbox (RequireEvent),
// time travel that runs the work a deployment's background workers would
// (Env.Advance), and a webhook receiver that verifies coffer's signatures
// and records what it received (Receiver).
//
//	func TestCheckout(t *testing.T) {
//		env := coffertest.New(t)
//		rc := env.NewReceiver(t, "payment.*")
//		// ... exercise the application with env.Engine ...
//		env.Advance(t, 3*retry.Day) // reconciliation, retries, webhooks
//		coffertest.RequireEvent(t, env.Engine, coffer.EventPaymentSucceeded, nil)
//		rc.Require(t, coffer.EventPaymentSucceeded, nil)
//	}
//
// Everything here reads and drives the Engine through its public API
// only, so what a test sees is what production code would.
package coffertest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/clock"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/memory"
	"github.com/cofferhq/coffer/webhook"
)

// Start is where the test clock of New starts: Monday 2026-01-05 09:00 UTC.
var Start = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// Env is an Engine under test with its fakes. Change the clock with
// Advance (which runs the due work) or directly through Clock; script the
// processor through Processor (Script, FailAfterCharge, SetUnavailable).
type Env struct {
	Engine    *coffer.Engine
	Clock     *clock.Test
	Processor *processor.Test
	Store     *memory.Store
}

// New returns an Env: an Engine on a fresh in-memory store, a test clock at
// Start, the deterministic test processor on that clock, webhook
// deliveries allowed to loopback (so an httptest receiver such as
// Receiver can be reached: WebhookOptions.AllowPrivateNetworks) and logs
// discarded. opts are applied after these defaults, so they may replace
// any of them (WithWebhookOptions replaces the whole WebhookOptions: set
// AllowPrivateNetworks in yours to keep reaching a local receiver;
// WithoutProcessor conflicts with the test processor and is refused). New
// fails the test when the Engine cannot be built; the store is closed at
// the end of the test.
func New(t testing.TB, opts ...coffer.Option) *Env {
	t.Helper()
	clk := clock.NewTest(Start)
	proc := processor.NewTest(clk)
	st := memory.New()
	t.Cleanup(func() { _ = st.Close() })
	base := []coffer.Option{
		coffer.WithClock(clk), coffer.WithProcessor(proc),
		coffer.WithWebhookOptions(coffer.WebhookOptions{AllowPrivateNetworks: true, Timeout: 5 * time.Second}),
		coffer.WithLogger(slog.New(slog.DiscardHandler)),
	}
	eng, err := coffer.New(st, append(base, opts...)...)
	if err != nil {
		t.Fatalf("coffertest: building the engine: %v", err)
	}
	return &Env{Engine: eng, Clock: clk, Processor: proc, Store: st}
}

// Report sums what Advance ran.
type Report struct {
	// Passes counts the passes made (each: Reconcile, RunDue,
	// ExpireCredits, PruneExpiredIdempotency, DispatchDue).
	Passes int
	// Reconciled sums the Reconcile passes (Pending: the last pass's).
	Reconciled coffer.ReconcileReport
	// Retries sums the RunDue passes (Deferred: the last pass's).
	Retries coffer.RunReport
	// Webhooks sums the DispatchDue passes.
	Webhooks coffer.DispatchReport
	// CreditsExpired counts the credit grants whose remainder expired
	// (one "Expired credit" debit each).
	CreditsExpired int
	// IdempotencyExpired counts the HTTP idempotency records deleted
	// because their retention ended.
	IdempotencyExpired int
}

// maxPasses bounds the passes of one Advance: due work that keeps
// creating due work (a bug) fails the test instead of hanging it.
const maxPasses = 10_000

// Advance moves the clock d forward (d >= 0; 0 runs what is due now) and
// runs the due work as the deployment's background workers (Engine.Run)
// would: reconciliation of payments whose outcome is unknown
// (Engine.Reconcile), upcoming-retry notices and retry attempts of failed
// payments (Engine.RunDue), expiry of credit grants (Engine.ExpireCredits),
// expiry of HTTP idempotency records
// (Engine.PruneExpiredIdempotency) and webhook deliveries, first attempts
// and retries (Engine.DispatchDue).
//
// Work that falls due between now and now+d runs at its own time: the
// clock stops at each retry attempt, notice, credit expiry and delivery
// retry in order
// (as a scheduler that never sleeps through one would), and at each stop
// the passes repeat until one finds nothing to do. Outbox retention
// (Engine.Prune) is not run, so RequireEvent still sees old events; call
// Prune to test it. Advance fails the test on an error of any pass.
func (env *Env) Advance(t testing.TB, d time.Duration) Report {
	t.Helper()
	if d < 0 {
		t.Fatalf("coffertest: Advance(%v): the clock does not go back", d)
	}
	ctx := context.Background()
	target := env.Clock.Now().Add(d)
	var rep Report
	env.settle(t, ctx, &rep)
	for {
		next, ok := env.nextDue(t, ctx, target)
		if !ok || next.After(target) || !next.After(env.Clock.Now()) {
			// Nothing more before target; or work due now that the passes
			// left (a concurrency cap): it runs again at target.
			break
		}
		env.Clock.Set(next)
		env.settle(t, ctx, &rep)
	}
	env.Clock.Set(target)
	env.settle(t, ctx, &rep)
	return rep
}

// settle makes passes at the current time until one does nothing.
func (env *Env) settle(t testing.TB, ctx context.Context, rep *Report) {
	t.Helper()
	eng := env.Engine
	for {
		if rep.Passes >= maxPasses {
			t.Fatalf("coffertest: Advance: due work still left after %d passes", maxPasses)
		}
		rep.Passes++
		rec, err := eng.Reconcile(ctx)
		if err != nil {
			t.Fatalf("coffertest: Reconcile: %v", err)
		}
		run, err := eng.RunDue(ctx)
		if err != nil {
			t.Fatalf("coffertest: RunDue: %v", err)
		}
		expired, err := eng.ExpireCredits(ctx)
		if err != nil {
			t.Fatalf("coffertest: ExpireCredits: %v", err)
		}
		rep.CreditsExpired += expired
		idem, err := eng.PruneExpiredIdempotency(ctx)
		if err != nil {
			t.Fatalf("coffertest: PruneExpiredIdempotency: %v", err)
		}
		dis, err := eng.DispatchDue(ctx)
		if err != nil {
			t.Fatalf("coffertest: DispatchDue: %v", err)
		}
		addReconcile(&rep.Reconciled, rec)
		addRun(&rep.Retries, run)
		addDispatch(&rep.Webhooks, dis)
		rep.IdempotencyExpired += idem
		if rec.Payments+rec.Refunds+run.Notified+run.Attempted+run.Cancelled+expired+dis.Events+dis.Attempted+dis.Dropped+idem == 0 {
			return
		}
	}
}

// nextDue is the earliest time at which a scheduled retry attempt (or its
// notice), a credit grant's expiry (up to target) or a pending webhook
// delivery is due.
func (env *Env) nextDue(t testing.TB, ctx context.Context, target time.Time) (time.Time, bool) {
	t.Helper()
	var (
		next time.Time
		ok   bool
	)
	take := func(at time.Time) {
		if !ok || at.Before(next) {
			next, ok = at, true
		}
	}
	att, err := env.Engine.ListAttempts(ctx, coffer.AttemptListParams{Status: retry.AttemptScheduled, ListParams: coffer.ListParams{Limit: 1}})
	if err != nil {
		t.Fatalf("coffertest: ListAttempts: %v", err)
	}
	for _, a := range att.Data {
		take(a.RunAt)
	}
	// The earliest grant expiring by target with a free remainder, through
	// the store's expiry index (the Engine lists grants per wallet only).
	err = env.Store.View(ctx, func(tx store.Tx) error {
		cg, ok := store.As[store.CreditGrants](tx)
		if !ok {
			return nil
		}
		due, err := cg.DueGrants(target, 1)
		for _, g := range due {
			take(g.ExpiresAt)
		}
		return err
	})
	if err != nil {
		t.Fatalf("coffertest: DueGrants: %v", err)
	}
	// Deliveries are listed newest first: look at a page of the pending
	// ones (a test rarely has more).
	dl, err := env.Engine.ListDeliveries(ctx, coffer.DeliveryListParams{Status: webhook.DeliveryPending, ListParams: coffer.ListParams{Limit: 100}})
	if err != nil {
		t.Fatalf("coffertest: ListDeliveries: %v", err)
	}
	for _, d := range dl.Data {
		take(d.RunAt)
	}
	return next, ok
}

func addReconcile(s *coffer.ReconcileReport, r coffer.ReconcileReport) {
	s.Payments += r.Payments
	s.Refunds += r.Refunds
	s.Pending = r.Pending // a state, not a count: the last pass's
}

func addRun(s *coffer.RunReport, r coffer.RunReport) {
	s.Notified += r.Notified
	s.Attempted += r.Attempted
	s.Succeeded += r.Succeeded
	s.Failed += r.Failed
	s.Cancelled += r.Cancelled
	s.Deferred = r.Deferred // the last pass's
}

func addDispatch(s *coffer.DispatchReport, r coffer.DispatchReport) {
	s.Events += r.Events
	s.Queued += r.Queued
	s.Attempted += r.Attempted
	s.Succeeded += r.Succeeded
	s.Retrying += r.Retrying
	s.DeadLettered += r.DeadLettered
	s.Dropped += r.Dropped
	s.Released += r.Released
	s.LostLease += r.LostLease
}

// maxEventPages bounds the outbox pages RequireEvent and Events read
// (100 events each).
const maxEventPages = 1000

// Events returns the outbox events of type typ ("" for every type), oldest
// first, read through Engine.ListEvents. It fails the test on an error
// (an event type the Engine never emits is one).
func Events(t testing.TB, eng *coffer.Engine, typ string) []webhook.Event {
	t.Helper()
	out, err := events(eng, typ)
	if err != nil {
		t.Fatalf("coffertest: %v", err)
	}
	return out
}

func events(eng *coffer.Engine, typ string) ([]webhook.Event, error) {
	var out []webhook.Event
	p := coffer.EventListParams{Type: typ, ListParams: coffer.ListParams{Limit: 100}}
	for range maxEventPages {
		page, err := eng.ListEvents(context.Background(), p)
		if err != nil {
			return nil, fmt.Errorf("ListEvents(%q): %w", typ, err)
		}
		out = append(out, page.Data...)
		if !page.HasMore || len(page.Data) == 0 {
			break
		}
		p.StartingAfter = page.Data[len(page.Data)-1].ID
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// RequireEvent fails the test unless the outbox holds an event of type typ
// for which match returns true (nil matches any), and returns the oldest
// such event. Events are read through Engine.ListEvents, so they are the
// committed ones, dispatched or not.
func RequireEvent(t testing.TB, eng *coffer.Engine, typ string, match func(webhook.Event) bool) webhook.Event {
	t.Helper()
	list, err := events(eng, typ)
	if err != nil {
		t.Fatalf("coffertest: RequireEvent: %v", err)
		return webhook.Event{}
	}
	for _, ev := range list {
		if match == nil || match(ev) {
			return ev
		}
	}
	t.Fatalf("coffertest: no %s event matches (%d events of that type)", typ, len(list))
	return webhook.Event{}
}

// Decode unmarshals an event's data (or a delivery's) into a T, failing
// the test when it does not decode: the payload types are coffer's
// (wallet.Balance, subscription.Payment, coffer.BalanceChanged, ...).
func Decode[T any](t testing.TB, data json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("coffertest: decoding %T: %v", v, err)
	}
	return v
}
