package coffer

import (
	"context"

	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/subscription"
)

// ApplyChargeOutcome records a charge outcome the processor reports on its
// own (a processor webhook such as Stripe's payment_intent.succeeded), so
// a pending payment settles without waiting for Reconcile: a succeeded or
// failed charge settles it through the same path as the call's own answer
// (the wallet part captured or released, retries scheduled, events), a
// success for a payment already failed is recorded as a late success (and a
// duplicate collection refunded), and any other status changes nothing.
// Applying an outcome twice, or after the call's own answer, changes
// nothing more. ch.ID is the processor's charge id.
func (e *Engine) ApplyChargeOutcome(ctx context.Context, paymentID string, ch processor.Charge) (subscription.Payment, error) {
	if err := checkID(subscription.ErrInvalid, "payment_id", paymentID); err != nil {
		return subscription.Payment{}, err
	}
	return e.charges.ApplyOutcome(ctx, paymentID, ch)
}
