package coffer

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
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
//   - the webhook dispatcher, with the engine's WebhookOptions
//     (WithWebhookOptions), which also DispatchDue uses: attempts in flight
//     when ctx ends finish and are recorded;
//
// Errors of every worker are logged (WithLogger) and passed to the error
// handler (WithErrorHandler), one at a time; they do not stop the workers.
// Errors caused by the shutdown itself are not reported. A configuration
// error (webhook options that do not validate) is returned at once.
func (e *Engine) Run(ctx context.Context) error {
	var hook sync.Mutex
	report := func(worker string, err error) {
		if err == nil || (ctx.Err() != nil && errors.Is(err, ctx.Err())) {
			return
		}
		e.log.LogAttrs(ctx, slog.LevelError, "coffer: background worker error",
			slog.String("worker", worker), slog.String("error", err.Error()))
		if e.onError != nil {
			hook.Lock()
			defer hook.Unlock()
			e.onError(err)
		}
	}
	o := e.webhooks
	prev := o.OnError
	o.OnError = func(err error) {
		report("webhooks", err)
		if prev != nil {
			prev(err)
		}
	}
	d, err := e.NewDispatcher(o)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		_ = d.Run(ctx)
	}()
	go func() {
		defer wg.Done()
		e.runScheduler(ctx, func(err error) { report("scheduler", err) })
	}()
	e.log.LogAttrs(ctx, slog.LevelInfo, "coffer: background workers started",
		slog.Duration("retry_poll", e.retry.PollInterval), slog.String("retry_owner", e.retry.Owner))
	wg.Wait()
	return ctx.Err()
}

// runScheduler is the scheduler worker of Run: reconciliation and one
// retry pass every RetryOptions.PollInterval until ctx ends.
func (e *Engine) runScheduler(ctx context.Context, report func(error)) {
	t := time.NewTicker(e.retry.PollInterval)
	defer t.Stop()
	for {
		rep, err := e.Reconcile(ctx)
		report(err)
		if rep.Payments+rep.Refunds > 0 {
			e.log.LogAttrs(ctx, slog.LevelInfo, "coffer: reconciled", slog.Int("payments", rep.Payments),
				slog.Int("refunds", rep.Refunds), slog.Int("still_pending", rep.Pending))
		}
		due, err := e.RunDue(ctx)
		report(err)
		if due.Attempted > 0 {
			e.log.LogAttrs(ctx, slog.LevelInfo, "coffer: retry pass", slog.Int("attempted", due.Attempted),
				slog.Int("succeeded", due.Succeeded), slog.Int("failed", due.Failed), slog.Int("deferred", due.Deferred))
		}
		pruned, err := e.Prune(ctx)
		report(err)
		if pruned.Events+pruned.Deliveries > 0 {
			e.log.LogAttrs(ctx, slog.LevelInfo, "coffer: pruned", slog.Int("events", pruned.Events),
				slog.Int("deliveries", pruned.Deliveries))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
