package coffer

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cofferhq/coffer/internal/charge"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

// Errors of overdue collection.
var (
	// ErrNotOverdue: the payment is not an unpaid charge, or the retry
	// policy still has an attempt scheduled for it (409 class).
	ErrNotOverdue = charge.ErrNotOverdue
	// ErrMandateNotAuthorized: the processor did not authorise the new
	// payment method (422 class); the subscription keeps its old one.
	ErrMandateNotAuthorized = fmt.Errorf("%w: payment method not authorised", subscription.ErrInvalid)
)

// PaymentMethodParams names the payment method UpdatePaymentMethod
// authorises.
type PaymentMethodParams struct {
	PaymentMethod string `json:"payment_method"`
}

// UpdatePaymentMethod authorises a new payment method for an active or
// on-hold subscription (a new mandate) and makes it the one later charges
// and scheduled retries use. It is how a customer in dunning fixes their
// card; collect what is overdue with CollectOverdue afterwards.
func (e *Engine) UpdatePaymentMethod(ctx context.Context, subscriptionID string, p PaymentMethodParams) (subscription.Subscription, error) {
	paymentMethod := p.PaymentMethod
	if err := checkID(subscription.ErrInvalid, "subscription_id", subscriptionID); err != nil {
		return subscription.Subscription{}, err
	}
	paymentMethod = strings.TrimSpace(paymentMethod)
	if paymentMethod == "" {
		return subscription.Subscription{}, subscription.ErrMissingMethod
	}
	if err := checkKey(subscription.ErrInvalid, "payment_method", paymentMethod); err != nil {
		return subscription.Subscription{}, err
	}
	if e.processor == nil {
		return subscription.Subscription{}, ErrNoProcessor
	}
	sub, err := e.Subscription(ctx, subscriptionID)
	if err != nil {
		return sub, err
	}
	if sub.Status != subscription.StatusActive && sub.Status != subscription.StatusOnHold {
		return sub, fmt.Errorf("%w: %s is %s", subscription.ErrNotActive, sub.ID, sub.Status)
	}
	m, err := e.processor.AuthorizeMandate(ctx, processor.MandateRequest{
		IdempotencyKey: newID("mreq"), CustomerID: sub.CustomerID, PaymentMethod: paymentMethod, ReturnURL: sub.ReturnURL,
	})
	switch {
	case err != nil && (errors.Is(err, processor.ErrUnavailable) || unknownOutcome(err)):
		return sub, fmt.Errorf("coffer: authorising payment method for %s: %w", sub.ID, err)
	case err != nil:
		return sub, fmt.Errorf("%w: %v", ErrMandateNotAuthorized, err)
	case m.Status != processor.MandateAuthorized:
		return sub, fmt.Errorf("%w: mandate %s, decline %s", ErrMandateNotAuthorized, m.Status, m.DeclineCode)
	}
	err = e.update(ctx, func(tx store.Tx) error {
		if sub, err = getSubscription(tx, subscriptionID); err != nil {
			return err
		}
		// Checked again where it is written: the subscription may have
		// been cancelled while the processor authorised the method.
		if sub.Status != subscription.StatusActive && sub.Status != subscription.StatusOnHold {
			return fmt.Errorf("%w: %s is %s", subscription.ErrNotActive, sub.ID, sub.Status)
		}
		now := e.clock.Now()
		sub.PaymentMethod, sub.MandateID, sub.UpdatedAt = paymentMethod, m.ID, now
		sub.MandateAuthorizedAt = m.AuthorizedAt.UTC()
		if sub.MandateAuthorizedAt.IsZero() {
			sub.MandateAuthorizedAt = now
		}
		if err := tx.UpdateSubscription(sub); err != nil {
			return err
		}
		return e.emit(tx, EventSubscriptionUpdated, sub.CustomerID, sub)
	})
	return sub, err
}

// CollectOverdueParams collects an overdue payment. IdempotencyKey, when
// set, makes the call safe to retry.
type CollectOverdueParams struct {
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// CollectOverdue charges an overdue payment again now — typically after
// UpdatePaymentMethod — through the normal charge path (wallet first). It
// works on a subscription on hold; success settles the overdue charge,
// reactivates the subscription and clears the customer's delinquent flag
// when nothing else is overdue. A payment with a retry still scheduled is
// left to the retry policy (ErrNotOverdue).
//
// One debt is collected at most once: the debt is claimed in the
// transaction that reserves the charge, so of concurrent callers one
// charges and the others get ErrCollectionInProgress (while it is in
// flight) or ErrDebtSettled (once it succeeded), without a processor call.
// A payment that is not overdue is ErrNotOverdue and changes nothing.
//
// p.IdempotencyKey, when set, makes the call safe to retry: the same key for
// the same debt returns the collecting payment; the same key for anything
// else is subscription.ErrIdempotencyConflict.
func (e *Engine) CollectOverdue(ctx context.Context, paymentID string, p CollectOverdueParams) (subscription.Payment, error) {
	idempotencyKey := p.IdempotencyKey
	if err := checkID(subscription.ErrInvalid, "payment_id", paymentID); err != nil {
		return subscription.Payment{}, err
	}
	if err := checkIdempotencyKey(subscription.ErrInvalid, idempotencyKey); err != nil {
		return subscription.Payment{}, err
	}
	return e.charges.CollectOverdue(ctx, paymentID, idempotencyKey)
}
