package charge

import (
	"context"
	"errors"
	"time"

	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

// ReconcileReport says what Reconcile resolved (the root package's
// ReconcileReport has the same fields).
type ReconcileReport struct {
	Payments int // pending payments settled
	Refunds  int // pending refunds completed or failed
	Pending  int // still unknown (processor unreachable)
}

// Reconcile resolves what a crash between the processor call and the
// settling transaction left behind: each pending payment whose call lease
// ran out is looked up at the processor by its idempotency key (the payment
// id) and settled; each pending refund older than ReconcileAfter is sent
// again (idempotent by refund id).
func (s *Service) Reconcile(ctx context.Context) (ReconcileReport, error) {
	var rep ReconcileReport
	if s.c.Processor == nil {
		return rep, nil
	}
	now := s.c.Clock.Now()
	cutoff := now.Add(-ReconcileAfter)
	var pending []subscription.Payment
	err := s.c.Store.View(ctx, func(tx store.Tx) error {
		pending = nil
		q := store.PaymentQuery{Statuses: []subscription.PaymentStatus{subscription.PaymentPending}, Page: store.Page{Limit: store.MaxLimit}}
		for {
			list, more, err := tx.ListPayments(q)
			if err != nil {
				return err
			}
			for _, p := range list {
				if !s.callOpen(p, now) {
					pending = append(pending, p)
				}
			}
			if !more || len(list) == 0 {
				break
			}
			q.StartingAfter = list[len(list)-1].ID
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	var errs []error
	for _, p := range pending {
		got, err := s.reconcilePayment(ctx, p.ID)
		switch {
		case err != nil:
			errs = append(errs, err)
		case got.Status == subscription.PaymentPending:
			rep.Pending++
		default:
			rep.Payments++
		}
	}
	errs = append(errs, s.reconcileRefunds(ctx, cutoff, &rep)...)
	return rep, errors.Join(errs...)
}

// reconcilePayment settles one pending payment from the processor's
// record, unless its processor call is still in flight in this service
// (the store-side lease is checked again when settling).
func (s *Service) reconcilePayment(ctx context.Context, id string) (subscription.Payment, error) {
	if _, ok := s.inflight.Load(id); ok {
		return s.Payment(ctx, id)
	}
	proc := s.c.Processor
	if proc == nil {
		return subscription.Payment{}, ErrNoProcessor
	}
	ch, err := proc.LookupCharge(ctx, id)
	switch {
	case errors.Is(err, processor.ErrNotFound):
		// Never charged (the crash came before the call): release the hold.
		ch = processor.Charge{Status: processor.ChargeFailed, DeclineCode: processor.NetworkError}
	case err != nil:
		return s.Payment(ctx, id)
	}
	return s.finish(ctx, id, ch, true)
}

// ChargeAttempt charges one claimed retry attempt through the charge path
// and says what became of it (the retry scheduler's side of a retry):
// cancelled when the subscription can no longer be charged or the debt
// was collected by another charge, "" (left to a later pass once the
// attempt's lease expires) when another charge is collecting it, the
// outcome is still unknown or the call failed.
func (s *Service) ChargeAttempt(ctx context.Context, a retry.Attempt) (subscription.Payment, retry.AttemptStatus, error) {
	pay, err := s.Charge(ctx, Input{
		SubscriptionID: a.SubscriptionID, Amount: a.Amount, Currency: a.Currency, Description: a.Description,
		FeesInclusive: a.FeesInclusive, Metadata: a.Metadata, IdempotencyKey: "retry:" + a.ID,
		RetryAttempt: a.Number, RetryOf: a.FirstPaymentID,
	})
	status := retry.AttemptFailed
	switch {
	case errors.Is(err, subscription.ErrNotActive), errors.Is(err, subscription.ErrNotFound),
		errors.Is(err, ErrNotOverdue):
		// The subscription can no longer be charged, or the debt was
		// collected by another charge: nothing left to retry.
		return pay, retry.AttemptCancelled, nil
	case errors.Is(err, ErrCollectionInProgress):
		return pay, "", nil // another charge is collecting it; the lease expires and a later pass looks again
	case err != nil:
		return pay, "", err // the lease expires and another pass retries
	case pay.Status == subscription.PaymentPending:
		// Either the processor's answer is unknown, or this is a retaken
		// attempt whose runner crashed or is still waiting mid-charge. Ask
		// the processor only once no call for it can still be in flight
		// (its lease ran out, as Reconcile does): a lookup that races the
		// original call would find nothing and fail a charge the
		// processor is about to make.
		if s.callOpen(pay, s.c.Clock.Now()) {
			return pay, "", nil // the lease expires and a later pass looks again
		}
		if pay, err = s.reconcilePayment(ctx, pay.ID); err != nil || pay.Status == subscription.PaymentPending {
			return pay, "", err
		}
	}
	if pay.Status == subscription.PaymentSucceeded {
		status = retry.AttemptSucceeded
	}
	return pay, status, nil
}

// reconcileRefunds sends again each pending refund created before cutoff
// whose call this service is not making (idempotent by refund id), and
// counts the outcomes into rep.
func (s *Service) reconcileRefunds(ctx context.Context, cutoff time.Time, rep *ReconcileReport) []error {
	var errs []error
	// Pending refunds are listed oldest first, without a cursor. The ones
	// settled here leave the list; the ones that stay pending (too recent,
	// or the processor still does not answer) stay at its head, so each
	// batch asks for that many more: they never hide the refunds behind
	// them, and one call gets through every pending refund.
	seen := map[string]bool{}
	for ctx.Err() == nil {
		limit := len(seen) + store.MaxLimit
		var batch []subscription.Refund
		err := s.c.Store.View(ctx, func(tx store.Tx) (err error) {
			batch, err = tx.PendingRefunds(limit)
			return err
		})
		if err != nil {
			errs = append(errs, err)
			break
		}
		fresh := 0
		for _, r := range batch {
			if seen[r.ID] {
				continue
			}
			seen[r.ID] = true
			fresh++
			if _, inFlight := s.inflight.Load(r.ID); inFlight || r.CreatedAt.After(cutoff) {
				continue
			}
			pay, err := s.Payment(ctx, r.PaymentID)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			got, err := s.refundThroughProcessor(ctx, r, pay.ProcessorID)
			switch {
			case err != nil:
				errs = append(errs, err)
			case got.Status == subscription.RefundPending:
				rep.Pending++
			default:
				rep.Refunds++
			}
		}
		if len(batch) < limit || fresh == 0 {
			break
		}
	}
	return errs
}

// ApplyOutcome records what the processor reports, on its own initiative
// (a webhook), about the charge of payment id: a succeeded or failed
// charge settles a pending payment at once (as Reconcile would after
// LookupCharge, without waiting for the call's lease: the processor's word
// is final), and a success for a payment already failed is a late success.
// Any other status changes nothing. Applying the same outcome twice is
// harmless.
func (s *Service) ApplyOutcome(ctx context.Context, id string, ch processor.Charge) (subscription.Payment, error) {
	if ch.Status != processor.ChargeSucceeded && ch.Status != processor.ChargeFailed {
		return s.Payment(ctx, id)
	}
	return s.finish(ctx, id, ch, false)
}
