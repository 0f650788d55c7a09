package charge

import (
	"context"
	"fmt"

	"github.com/cofferhq/coffer/internal/ids"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

// CollectOverdue charges the overdue payment paymentID again now, through
// the charge path (wallet first), on a subscription active or on hold. The
// debt is claimed in the transaction that reserves the charge, so of
// concurrent collectors one charges and the others get
// ErrCollectionInProgress or ErrDebtSettled without a processor call. A
// payment that is not overdue, or has a retry scheduled, is ErrNotOverdue.
//
// key, when set, makes the call safe to retry: the same key for the same
// debt returns the collecting payment, even once it settled the debt.
func (s *Service) CollectOverdue(ctx context.Context, paymentID, key string) (subscription.Payment, error) {
	pay, err := s.Payment(ctx, paymentID)
	if err != nil {
		return pay, err
	}
	in := Input{
		SubscriptionID: pay.SubscriptionID, Amount: pay.Amount, Currency: pay.Currency, Description: pay.Description,
		FeesInclusive: pay.FeesInclusive, Metadata: pay.Metadata, IdempotencyKey: key, RetryOf: pay.ID, AllowOnHold: true,
	}
	if !pay.Delinquent() || pay.SubscriptionID == "" {
		// Only a replay of this very collection (it settled the payment)
		// returns a payment; anything else is a typed refusal.
		if key != "" {
			if prev, err := s.paymentByKey(ctx, pay.CustomerID, key); err == nil && prev.Fingerprint == in.Fingerprint() {
				return prev, nil
			}
		}
		switch {
		case pay.SettledBy != "":
			return subscription.Payment{}, fmt.Errorf("%w: %s by %s", ErrDebtSettled, pay.ID, pay.SettledBy)
		case pay.Overdue():
			return subscription.Payment{}, fmt.Errorf("%w: %s has a retry scheduled", ErrNotOverdue, pay.ID)
		}
		return subscription.Payment{}, fmt.Errorf("%w: %s is %s", ErrNotOverdue, pay.ID, pay.Status)
	}
	if in.IdempotencyKey == "" {
		in.IdempotencyKey = ids.New("collect")
	}
	return s.Charge(ctx, in)
}

func (s *Service) paymentByKey(ctx context.Context, customerID, key string) (p subscription.Payment, err error) {
	err = s.c.Store.View(ctx, func(tx store.Tx) error {
		p, err = tx.PaymentByKey(customerID, key)
		return err
	})
	return p, err
}
