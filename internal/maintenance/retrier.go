package maintenance

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/cofferhq/coffer/clock"
	"github.com/cofferhq/coffer/internal/ids"
	"github.com/cofferhq/coffer/internal/logattr"
	"github.com/cofferhq/coffer/internal/txn"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

// Defaults of RetrierConfig.
const (
	DefaultPerCustomer       = 1
	DefaultPerAccount        = 16
	DefaultRetryLease        = 5 * time.Minute
	DefaultRetryBatchSize    = 100
	DefaultRetryPollInterval = 30 * time.Second
)

// RetrierConfig configures a Retrier (see coffer.RetryOptions).
type RetrierConfig struct {
	Store store.Store
	Clock clock.Clock
	// Attempts is what the Retrier asks of the engine: announcing and
	// charging attempts.
	Attempts Attempts
	// PerCustomer caps the attempts in flight for one customer; default
	// DefaultPerCustomer.
	PerCustomer int
	// PerAccount caps the attempts in flight across the store, and those a
	// pass charges at once; default DefaultPerAccount.
	PerAccount int
	// Lease is how long a claimed attempt belongs to its runner; default
	// DefaultRetryLease.
	Lease time.Duration
	// BatchSize bounds the attempts one pass looks at; default
	// DefaultRetryBatchSize.
	BatchSize int
	// PollInterval is how often the engine's loop makes a pass; default
	// DefaultRetryPollInterval.
	PollInterval time.Duration
	// Owner names this runner in leases; default a random id.
	Owner string
	// Tracer makes a span per attempt (coffer.retry.attempt), the parent
	// of the attempt's charge; nil makes none.
	Tracer trace.Tracer
}

// WithDefaults returns c with every unset field given its default.
func (c RetrierConfig) WithDefaults() RetrierConfig {
	if c.Clock == nil {
		c.Clock = clock.System{}
	}
	if c.PerCustomer <= 0 {
		c.PerCustomer = DefaultPerCustomer
	}
	if c.PerAccount <= 0 {
		c.PerAccount = DefaultPerAccount
	}
	if c.Lease <= 0 {
		c.Lease = DefaultRetryLease
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultRetryBatchSize
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultRetryPollInterval
	}
	if c.Owner == "" {
		c.Owner = ids.New("runner")
	}
	return c
}

// Attempts is the engine's side of the retry scheduler.
type Attempts interface {
	// Announce writes the payment.retry_upcoming event of a in tx.
	Announce(tx store.Outbox, a retry.Attempt) error
	// Charge charges a claimed attempt through the engine's charge path,
	// outside any transaction, and returns the payment and what became of
	// the attempt; status "" leaves the attempt claimed (its lease expires
	// and a later pass looks again), err with it.
	Charge(ctx context.Context, a retry.Attempt) (pay subscription.Payment, status retry.AttemptStatus, err error)
	// ChainEnded records, in the transaction that cancels an attempt, that
	// the chain of the failed payment firstPaymentID has no retry pending
	// any more (which may make the customer delinquent).
	ChainEnded(tx store.Tx, firstPaymentID string) error
}

// RetryReport says what one pass did (see coffer.RunReport).
type RetryReport struct {
	Notified  int
	Attempted int
	Succeeded int
	Failed    int
	Cancelled int
	Deferred  int
}

// Retrier is the retry scheduler: it announces upcoming attempts, claims
// due ones with a lease under the caps, charges them and records each
// outcome if it still holds the lease.
type Retrier struct{ c RetrierConfig }

// NewRetrier returns a Retrier configured by c, defaults applied.
func NewRetrier(c RetrierConfig) (*Retrier, error) {
	c = c.WithDefaults()
	if c.Store == nil || c.Attempts == nil {
		return nil, errors.New("retrier needs a store and the engine's attempts")
	}
	return &Retrier{c: c}, nil
}

// Config returns the Retrier's configuration, defaults applied.
func (r *Retrier) Config() RetrierConfig { return r.c }

// RunDue makes one pass: it writes the due notices, claims the due
// attempts the caps allow, charges each (at most PerAccount at once) and
// records each outcome.
func (r *Retrier) RunDue(ctx context.Context) (RetryReport, error) {
	var rep RetryReport
	claimed, err := r.Claim(ctx, &rep)
	if err != nil {
		return rep, err
	}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
	)
	sem := make(chan struct{}, r.c.PerAccount)
	for _, a := range claimed {
		wg.Add(1)
		sem <- struct{}{}
		go func(a retry.Attempt) {
			defer func() { <-sem; wg.Done() }()
			status, err := r.RunAttempt(ctx, a)
			mu.Lock()
			defer mu.Unlock()
			rep.Attempted++
			switch status {
			case retry.AttemptSucceeded:
				rep.Succeeded++
			case retry.AttemptFailed:
				rep.Failed++
			case retry.AttemptCancelled:
				rep.Cancelled++
			}
			if err != nil {
				errs = append(errs, err)
			}
		}(a)
	}
	wg.Wait()
	return rep, errors.Join(errs...)
}

// Claim is the transactional half of a pass: it writes the due
// upcoming-retry notices, then claims the due attempts the caps allow, with
// a lease, in one transaction. The store's claim guarantees that two
// runners never claim one attempt and that the caps hold across runners.
func (r *Retrier) Claim(ctx context.Context, rep *RetryReport) ([]retry.Attempt, error) {
	var claimed []retry.Attempt
	var rr RetryReport
	err := txn.Update(ctx, r.c.Store, func(tx store.Tx) error {
		var err error
		rr = RetryReport{}
		claimed, err = r.claimIn(tx, &rr)
		return err
	})
	*rep = rr
	return claimed, err
}

func (r *Retrier) claimIn(tx interface {
	store.Retries
	store.Outbox
}, rr *RetryReport) ([]retry.Attempt, error) {
	now := r.c.Clock.Now()
	notices, err := tx.DueNotices(now, r.c.BatchSize)
	if err != nil {
		return nil, err
	}
	for _, a := range notices {
		if err := r.notify(tx, &a, now, rr); err != nil {
			return nil, err
		}
	}
	claimed, deferred, err := tx.ClaimDueAttempts(now, store.AttemptClaim{
		Limit: r.c.BatchSize, PerCustomer: r.c.PerCustomer, PerAccount: r.c.PerAccount,
		Owner: r.c.Owner, LeaseUntil: now.Add(r.c.Lease),
	})
	rr.Deferred = deferred
	if err != nil {
		return nil, err
	}
	for i := range claimed {
		a := &claimed[i]
		if a.Notified {
			continue
		}
		// Due and never announced (NoticeLead 0, the runners were down
		// through the notice time, or more notices were due than one batch
		// takes): announce it with the attempt, as it was before the claim,
		// so every attempt is announced once.
		a.Notified = true
		notice := *a
		notice.Status, notice.LeaseOwner, notice.LeaseUntil = retry.AttemptScheduled, "", time.Time{}
		if err := r.c.Attempts.Announce(tx, notice); err != nil {
			return nil, err
		}
		rr.Notified++
		if err := tx.PutAttempt(*a); err != nil {
			return nil, err
		}
	}
	return claimed, nil
}

// notify writes the payment.retry_upcoming event of a, marks it notified
// and, when its notice time came before its due time, moves its RunAt to
// the due time.
func (r *Retrier) notify(tx interface {
	store.Retries
	store.Outbox
}, a *retry.Attempt, now time.Time, rr *RetryReport) error {
	a.Notified, a.UpdatedAt = true, now
	if err := r.c.Attempts.Announce(tx, *a); err != nil {
		return err
	}
	rr.Notified++
	if now.Before(a.DueAt) {
		// The notice time came: look again at the due time.
		a.RunAt = a.DueAt
	}
	return tx.PutAttempt(*a)
}

// RunAttempt charges one claimed attempt and records its outcome, if the
// attempt is still this runner's.
func (r *Retrier) RunAttempt(ctx context.Context, a retry.Attempt) (status retry.AttemptStatus, err error) {
	if r.c.Tracer != nil {
		var span trace.Span
		ctx, span = r.c.Tracer.Start(ctx, "coffer.retry.attempt", trace.WithAttributes(
			attribute.String("coffer.attempt_id", a.ID), attribute.String("coffer.subscription_id", a.SubscriptionID),
			attribute.String("coffer.customer_id", a.CustomerID), attribute.String("coffer.first_payment_id", a.FirstPaymentID),
			attribute.Int("coffer.attempt", a.Number), attribute.Int64("coffer.amount", a.Amount),
			attribute.String("currency", a.Currency)))
		defer func() {
			span.SetAttributes(attribute.String("outcome", string(status)))
			if err != nil {
				span.RecordError(err)
				span.SetStatus(codes.Error, "retry attempt failed")
			}
			span.End()
		}()
	}
	var pay subscription.Payment
	defer func() {
		if err == nil {
			return
		}
		attrs := []slog.Attr{slog.String("attempt_id", a.ID), slog.String("first_payment_id", a.FirstPaymentID),
			slog.String("subscription_id", a.SubscriptionID), slog.String("customer_id", a.CustomerID)}
		if pay.ID != "" {
			attrs = append(attrs, slog.String("payment_id", pay.ID))
		}
		err = logattr.Wrap(err, attrs...)
	}()
	pay, status, err = r.c.Attempts.Charge(ctx, a)
	if status == "" || err != nil {
		return "", err
	}
	if r.c.Tracer != nil {
		trace.SpanFromContext(ctx).SetAttributes(attribute.String("coffer.payment_id", pay.ID),
			attribute.String("decline_code", pay.DeclineCode))
	}
	err = txn.Update(context.WithoutCancel(ctx), r.c.Store, func(tx store.Tx) error {
		cur, err := tx.Attempt(a.ID)
		if err != nil {
			return err
		}
		if cur.Status != retry.AttemptClaimed || cur.LeaseOwner != r.c.Owner {
			return nil // lease lost to another runner; it records the outcome
		}
		now := r.c.Clock.Now()
		cur.Status, cur.PaymentID, cur.DeclineCode, cur.UpdatedAt = status, pay.ID, pay.DeclineCode, now
		cur.LeaseOwner, cur.LeaseUntil = "", time.Time{}
		if err := tx.PutAttempt(cur); err != nil {
			return err
		}
		if status != retry.AttemptCancelled {
			return nil
		}
		// The subscription can no longer be charged: the chain has no
		// retry pending any more.
		return r.c.Attempts.ChainEnded(tx, cur.FirstPaymentID)
	})
	return status, err
}
