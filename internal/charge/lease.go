package charge

import (
	"context"
	"sync"
	"time"

	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

// holdCall marks a payment's processor call in flight: in this process (so
// this service's Reconcile and retries leave the payment alone however far
// its clock moves) and in the store, by renewing the payment's CallUntil
// lease every CallRenewEvery while the call lasts (so other engines sharing
// the store leave it alone too). The returned function ends the hold; call
// it after the outcome is recorded.
func (s *Service) holdCall(paymentID string) (release func()) {
	s.inflight.Store(paymentID, struct{}{})
	every := s.c.CallRenewEvery
	var (
		mu      sync.Mutex
		stopped bool
		timer   *time.Timer
	)
	renew := func() {
		ctx, cancel := context.WithTimeout(context.Background(), ReconcileAfter/4)
		defer cancel()
		// A failed renewal leaves the lease to run out: the cost is only
		// that another engine may look the charge up early, and a success
		// it then misses is still recorded by lateSuccess.
		_ = s.c.Store.Update(ctx, func(tx store.Tx) error {
			p, err := tx.Payment(paymentID)
			if err != nil || p.Status != subscription.PaymentPending {
				return err
			}
			if until := s.c.Clock.Now().Add(ReconcileAfter); until.After(p.CallUntil) {
				p.CallUntil = until
				return tx.UpdatePayment(p)
			}
			return nil
		})
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			timer.Reset(every)
		}
	}
	mu.Lock()
	timer = time.AfterFunc(every, renew)
	mu.Unlock()
	return func() {
		mu.Lock()
		stopped = true
		timer.Stop()
		mu.Unlock()
		s.inflight.Delete(paymentID)
	}
}

// callOpen reports whether a pending payment's processor call may still be
// in flight: in this process, or under a lease that has not run out.
// Payments from before call leases fall back to their age.
func (s *Service) callOpen(p subscription.Payment, now time.Time) bool {
	if _, ok := s.inflight.Load(p.ID); ok {
		return true
	}
	if !p.CallUntil.IsZero() {
		return now.Before(p.CallUntil)
	}
	return p.UpdatedAt.After(now.Add(-ReconcileAfter))
}
