package charge

import (
	"context"
	"errors"
	"time"

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

// ReconcileRefunds sends again each pending refund created before cutoff
// whose call this service is not making (idempotent by refund id), and
// counts the outcomes into rep.
func (s *Service) ReconcileRefunds(ctx context.Context, cutoff time.Time, rep *ReconcileReport) []error {
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
			got, err := s.RefundThroughProcessor(ctx, r, pay.ProcessorID)
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

// joinErrs is errors.Join of errs.
func joinErrs(errs []error) error { return errors.Join(errs...) }
