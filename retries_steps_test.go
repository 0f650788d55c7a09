package coffer

import (
	"context"

	"github.com/cofferhq/coffer/internal/maintenance"
	"github.com/cofferhq/coffer/retry"
)

// The two halves of a retry pass, for the tests that stop a pass between
// them (see internal/maintenance.Retrier).

func (e *Engine) claimAttempts(ctx context.Context, rep *RunReport) ([]retry.Attempt, error) {
	return e.retrier.Claim(ctx, (*maintenance.RetryReport)(rep))
}

func (e *Engine) runAttempt(ctx context.Context, a retry.Attempt) (retry.AttemptStatus, error) {
	return e.retrier.RunAttempt(ctx, a)
}
