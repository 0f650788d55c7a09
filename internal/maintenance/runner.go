// Package maintenance holds coffer's background services — the retry
// scheduler (Retrier), retention (Pruner) — and the small runner that
// Engine.Run starts them, and the webhook dispatcher, with: one logger and
// one error hook for all of them. Each service has its own Config, whose
// WithDefaults is the one place its defaults are applied, and can also be
// driven one pass at a time (the Engine's RunDue and Prune).
//
// The model is river's internal/maintenance: a service is a loop with a
// start and a stop, its knobs in a struct, and its errors reported rather
// than fatal.
package maintenance

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/cofferhq/coffer/internal/logattr"
)

// Service is one background worker: Run works until ctx ends and reports
// the errors it meets, without stopping for them.
type Service interface {
	Name() string
	Run(ctx context.Context, report func(error))
}

// Runner starts services and gives them one error path: every error is
// logged to Log and passed to OnError, one call at a time; errors caused by
// the shutdown itself (ctx ended) are not reported.
type Runner struct {
	Log     *slog.Logger
	OnError func(error)

	hook sync.Mutex // one OnError call at a time
}

// Reporter returns the error hook of the worker named name, for a service
// started by Run or for a worker with its own loop (the dispatcher).
func (r *Runner) Reporter(ctx context.Context, name string) func(error) {
	return func(err error) {
		if err == nil || (ctx.Err() != nil && errors.Is(err, ctx.Err())) {
			return
		}
		// One line per joined error (a pass's failed attempts), each with
		// the ids its error carries (payment_id, endpoint_id, ...).
		for _, e := range logattr.Split(err) {
			attrs := append([]slog.Attr{slog.String("worker", name), slog.String("error", e.Error())}, logattr.Attrs(e)...)
			r.Log.LogAttrs(ctx, slog.LevelError, "coffer: background worker error", attrs...)
		}
		if r.OnError != nil {
			r.hook.Lock()
			defer r.hook.Unlock()
			r.OnError(err)
		}
	}
}

// Run runs every service, each in its own goroutine, until ctx ends, and
// returns once all of them have stopped.
func (r *Runner) Run(ctx context.Context, services ...Service) {
	var wg sync.WaitGroup
	for _, s := range services {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Run(ctx, r.Reporter(ctx, s.Name()))
		}()
	}
	wg.Wait()
}

// Func makes a Service of a function.
type Func struct {
	ServiceName string
	Fn          func(ctx context.Context, report func(error))
}

// Name returns the service's name.
func (f Func) Name() string { return f.ServiceName }

// Run runs the function.
func (f Func) Run(ctx context.Context, report func(error)) { f.Fn(ctx, report) }

// Loop is a Service that runs its passes in order, once at start and then
// every Interval, until ctx ends. A failing pass is reported and the next
// one runs.
type Loop struct {
	ServiceName string
	Interval    time.Duration
	Passes      []func(ctx context.Context) error
}

// Name returns the loop's name.
func (l Loop) Name() string { return l.ServiceName }

// Run runs the passes until ctx ends.
func (l Loop) Run(ctx context.Context, report func(error)) {
	t := time.NewTicker(l.Interval)
	defer t.Stop()
	for {
		for _, pass := range l.Passes {
			report(pass(ctx))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
