package coffer

import (
	"context"
	"errors"
	"log/slog"

	"github.com/cofferhq/coffer/internal/maintenance"
)

// WithLogger sets the structured logger the engine's background workers
// (Run) and its money-safety paths (a late processor success, an automatic
// refund of a duplicate charge) write to. Default slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(e *Engine) error {
		if l == nil {
			return errors.Join(ErrInvalidConfig, errors.New("coffer: nil logger"))
		}
		e.log = l
		return nil
	}
}

// WithErrorHandler sets the one hook that receives every error a
// background worker of Run meets (a failing store, an unreachable
// processor) besides the log; the workers keep going. Run calls it one
// error at a time, from any of its goroutines.
func WithErrorHandler(h func(error)) Option {
	return func(e *Engine) error { e.onError = h; return nil }
}

// Run runs every background worker of the engine until ctx ends, and then
// returns ctx.Err() once all of them have stopped:
//
//   - the retry scheduler, reconciliation and retention: Reconcile, RunDue
//     and Prune every RetryOptions.PollInterval (WithRetryOptions,
//     WithRetention);
//   - credit expiry and auto top-ups: ExpireCredits and RunTopUps every
//     RetryOptions.PollInterval;
//   - the webhook dispatcher, with the engine's WebhookOptions
//     (WithWebhookOptions), which also DispatchDue uses: attempts in flight
//     when ctx ends finish and are recorded;
//
// Errors of every worker are logged (WithLogger) and passed to the error
// handler (WithErrorHandler), one at a time; they do not stop the workers.
// Errors caused by the shutdown itself are not reported. A configuration
// error (webhook options that do not validate) is returned at once.
func (e *Engine) Run(ctx context.Context) error {
	runner := &maintenance.Runner{Log: e.log, OnError: e.onError}
	o := e.webhooks
	prev, report := o.OnError, runner.Reporter(ctx, "webhooks")
	o.OnError = func(err error) {
		report(err)
		if prev != nil {
			prev(err)
		}
	}
	d, err := e.NewDispatcher(o)
	if err != nil {
		return err
	}
	dispatcher := maintenance.Func{ServiceName: "webhooks", Fn: func(ctx context.Context, _ func(error)) { _ = d.Run(ctx) }}
	scheduler := maintenance.Loop{ServiceName: "scheduler", Interval: e.retry.PollInterval, Passes: []func(context.Context) error{
		e.reconcilePass, e.retryPass, e.prunePass,
	}}
	credits := maintenance.Loop{ServiceName: "credits", Interval: e.retry.PollInterval, Passes: []func(context.Context) error{
		e.expirePass, e.topUpPass,
	}}
	e.log.LogAttrs(ctx, slog.LevelInfo, "coffer: background workers started",
		slog.Duration("retry_poll", e.retry.PollInterval), slog.String("retry_owner", e.retry.Owner))
	runner.Run(ctx, dispatcher, scheduler, credits)
	return ctx.Err()
}

// The passes of the scheduler worker of Run, in order: reconciliation, one
// retry pass, retention. Each logs what it did.

func (e *Engine) reconcilePass(ctx context.Context) error {
	rep, err := e.Reconcile(ctx)
	if rep.Payments+rep.Refunds > 0 {
		e.log.LogAttrs(ctx, slog.LevelInfo, "coffer: reconciled", slog.Int("payments", rep.Payments),
			slog.Int("refunds", rep.Refunds), slog.Int("still_pending", rep.Pending))
	}
	return err
}

func (e *Engine) retryPass(ctx context.Context) error {
	due, err := e.RunDue(ctx)
	if due.Attempted > 0 {
		e.log.LogAttrs(ctx, slog.LevelInfo, "coffer: retry pass", slog.Int("attempted", due.Attempted),
			slog.Int("succeeded", due.Succeeded), slog.Int("failed", due.Failed), slog.Int("deferred", due.Deferred))
	}
	return err
}

func (e *Engine) prunePass(ctx context.Context) error {
	pruned, err := e.Prune(ctx)
	if pruned.Events+pruned.Deliveries > 0 {
		e.log.LogAttrs(ctx, slog.LevelInfo, "coffer: pruned", slog.Int("events", pruned.Events),
			slog.Int("deliveries", pruned.Deliveries))
	}
	return err
}
