package coffer

import (
	"context"

	"github.com/cofferhq/coffer/internal/dispatch"
)

// The steps of a dispatcher pass, for the tests that stop a pass between
// them (see internal/dispatch).

func (d *Dispatcher) fanOut(ctx context.Context, rep *DispatchReport) error {
	return d.s.FanOut(ctx, (*dispatch.Report)(rep))
}

func (d *Dispatcher) claim(ctx context.Context, rep *DispatchReport) ([]dispatch.Job, bool, error) {
	return d.s.Claim(ctx, (*dispatch.Report)(rep))
}

func (d *Dispatcher) deliver(ctx context.Context, j dispatch.Job, rep *DispatchReport) error {
	return d.s.Deliver(ctx, j, (*dispatch.Report)(rep))
}

// total is the number of attempts in flight.
func (d *Dispatcher) total() int { return d.s.InFlight() }

// options is the dispatcher's configuration, defaults applied.
func (d *Dispatcher) options() dispatch.Config { return d.s.Config() }

const maxLastError = dispatch.MaxLastError

var lastError = dispatch.LastError
