package coffer

import (
	"context"
	"errors"
	"fmt"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/internal/text"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

// SubscriptionUpdateParams changes a subscription's own data. Metadata
// merges as a customer's does: each key replaces the stored one, and an
// empty value removes a key. (Cancelling is CancelSubscription, the
// payment method UpdatePaymentMethod.)
type SubscriptionUpdateParams struct {
	Metadata map[string]string `json:"metadata,omitempty"`
}

// UpdateSubscription applies p to a subscription in any status and emits
// subscription.updated when something changed. The metadata is the default
// of the subscription's later charges.
func (e *Engine) UpdateSubscription(ctx context.Context, id string, p SubscriptionUpdateParams) (subscription.Subscription, error) {
	if err := checkID(subscription.ErrInvalid, "subscription_id", id); err != nil {
		return subscription.Subscription{}, err
	}
	var sub subscription.Subscription
	err := e.update(ctx, func(tx store.Tx) error {
		var err error
		sub, err = tx.Subscription(id)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: %s", subscription.ErrNotFound, text.Quote(id))
		} else if err != nil {
			return err
		}
		if len(p.Metadata) == 0 {
			return nil
		}
		m := make(map[string]string, len(sub.Metadata)+len(p.Metadata))
		for k, v := range sub.Metadata {
			m[k] = v
		}
		for k, v := range p.Metadata {
			if v == "" {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		if err := customer.ValidateMetadata(m); err != nil {
			return err
		}
		if len(m) == 0 {
			m = nil
		}
		sub.Metadata, sub.UpdatedAt = m, e.clock.Now()
		if err := tx.UpdateSubscription(sub); err != nil {
			return err
		}
		return e.emit(tx, EventSubscriptionUpdated, sub.CustomerID, sub)
	})
	return sub, err
}
