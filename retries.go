package coffer

import (
	"context"
	"time"

	"github.com/cofferhq/coffer/internal/maintenance"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

// RetryOptions configures the retry scheduler.
type RetryOptions struct {
	// PerCustomer caps the attempts in flight (claimed, lease not expired)
	// for one customer; default 1.
	PerCustomer int
	// PerAccount caps the attempts in flight across the whole store (every
	// runner sharing it); default 16.
	PerAccount int
	// Lease is how long a claimed attempt belongs to its runner; a runner
	// that crashes loses it when it expires and another retakes the
	// attempt. Default 5 minutes (longer than any processor call).
	Lease time.Duration
	// BatchSize bounds the attempts one pass looks at; default 100.
	BatchSize int
	// PollInterval is how often Run makes a pass; default 30 seconds.
	PollInterval time.Duration
	// Owner names this runner in leases; default a random id.
	Owner string
}

func (o RetryOptions) withDefaults() RetryOptions {
	c := o.retrierConfig().WithDefaults()
	return RetryOptions{PerCustomer: c.PerCustomer, PerAccount: c.PerAccount, Lease: c.Lease,
		BatchSize: c.BatchSize, PollInterval: c.PollInterval, Owner: c.Owner}
}

// retrierConfig maps o onto the retry scheduler's configuration (defaults
// are the scheduler's to apply).
func (o RetryOptions) retrierConfig() maintenance.RetrierConfig {
	return maintenance.RetrierConfig{PerCustomer: o.PerCustomer, PerAccount: o.PerAccount, Lease: o.Lease,
		BatchSize: o.BatchSize, PollInterval: o.PollInterval, Owner: o.Owner}
}

// RunReport says what one scheduler pass did.
type RunReport struct {
	Notified  int // upcoming-retry notices written
	Attempted int // attempts charged
	Succeeded int
	Failed    int
	Cancelled int // attempts whose subscription could no longer be charged
	Deferred  int // due attempts left for later by the concurrency caps
}

// RunDue makes one pass of the retry scheduler: it writes the upcoming-retry
// notices that are due, claims due attempts with a lease (respecting the
// per-customer and per-account caps) in one transaction, charges each
// through the normal charge path (wallet first, then processor) with
// retry_attempt in the payment metadata, and records each outcome.
//
// Several runners (goroutines, or processes sharing a PostgreSQL store) may
// run RunDue at once: an attempt is claimed by exactly one; an attempt whose
// runner crashed is retaken when its lease expires, and its charge is
// idempotent (keyed by the attempt), so it is never made twice.
func (e *Engine) RunDue(ctx context.Context) (RunReport, error) {
	rep, err := e.retrier.RunDue(ctx)
	return RunReport(rep), err
}

// retryAttempts is the engine's side of the retry scheduler
// (maintenance.Attempts).
type retryAttempts struct{ e *Engine }

// Announce writes the payment.retry_upcoming event of a.
func (r retryAttempts) Announce(tx store.Outbox, a retry.Attempt) error {
	return r.e.emit(tx, EventRetryUpcoming, a.CustomerID, a)
}

// Charge charges one claimed attempt through the normal charge path and
// says what became of it.
func (r retryAttempts) Charge(ctx context.Context, a retry.Attempt) (subscription.Payment, retry.AttemptStatus, error) {
	return r.e.charges.ChargeAttempt(ctx, a)
}

// ChainEnded clears the chain's NextRetryAt: with no retry pending the
// customer may be delinquent now.
func (r retryAttempts) ChainEnded(tx store.Tx, firstPaymentID string) error {
	return r.e.billing.ChainEnded(tx, firstPaymentID)
}
