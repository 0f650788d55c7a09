package coffer

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

// heldSubscription returns a subscription put on hold by a hard decline of
// its initial charge, and that charge.
func (v *env) heldSubscription() (subscription.Subscription, subscription.Payment) {
	v.t.Helper()
	prod, err := v.CreateProduct(v.ctx, ProductParams{Name: "Plan", Price: 30_00, Currency: "USD"})
	require.NoError(v.t, err)
	c := v.customer()
	res, err := v.CreateSubscription(v.ctx, SubscriptionParams{ProductID: prod.ID, Quantity: 1, CustomerID: c.ID,
		PaymentMethod: processor.CardOK, OnDemand: &OnDemand{MandateOnly: new(true)}})
	require.NoError(v.t, err)
	v.proc.Script(processor.CardOK, processor.DoNotHonor)
	pay, err := v.Charge(v.ctx, res.Subscription.ID, ChargeParams{ProductPrice: new(int64(30_00))})
	require.NoError(v.t, err)
	require.Equal(v.t, subscription.PaymentFailed, pay.Status)
	sub, err := v.Subscription(v.ctx, res.Subscription.ID)
	require.NoError(v.t, err)
	require.Equal(v.t, subscription.StatusOnHold, sub.Status)
	return sub, pay
}

func TestCollectOverdue(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		t.Run("new card then collect clears delinquency and reactivates", func(t *testing.T) {
			v := newEnv(t, newStore)
			sub, pay := v.heldSubscription()
			c, err := v.Customer(v.ctx, sub.CustomerID)
			require.NoError(t, err)
			require.True(t, c.Delinquent)

			// A card the processor refuses leaves the subscription as it was.
			_, err = v.UpdatePaymentMethod(v.ctx, sub.ID, PaymentMethodParams{PaymentMethod: processor.CardStolen})
			require.ErrorIs(t, err, ErrMandateNotAuthorized)
			require.Equal(t, http.StatusUnprocessableEntity, HTTPStatus(err))
			got, _ := v.Subscription(v.ctx, sub.ID)
			require.Equal(t, processor.CardOK, got.PaymentMethod)

			v.clock.Advance(3600e9)
			upd, err := v.UpdatePaymentMethod(v.ctx, sub.ID, PaymentMethodParams{PaymentMethod: processor.CardIssuerUnavailable})
			require.NoError(t, err)
			require.Equal(t, processor.CardIssuerUnavailable, upd.PaymentMethod)
			require.Equal(t, subscription.StatusOnHold, upd.Status)
			// The new card declines softly: still overdue, nothing scheduled on hold.
			p2, err := v.CollectOverdue(v.ctx, pay.ID, CollectOverdueParams{IdempotencyKey: "collect-1"})
			require.NoError(t, err)
			require.Equal(t, subscription.PaymentFailed, p2.Status)
			require.Equal(t, pay.ID, p2.RetryOf)
			c, _ = v.Customer(v.ctx, sub.CustomerID)
			require.True(t, c.Delinquent)

			_, err = v.UpdatePaymentMethod(v.ctx, sub.ID, PaymentMethodParams{PaymentMethod: processor.CardOK})
			require.NoError(t, err)
			// Part of it comes from the wallet.
			_, err = v.CreateEntry(v.ctx, sub.CustomerID, credit(10_00, "USD", "topup"))
			require.NoError(t, err)
			p3, err := v.CollectOverdue(v.ctx, pay.ID, CollectOverdueParams{IdempotencyKey: "collect-2"})
			require.NoError(t, err)
			require.Equal(t, subscription.PaymentSucceeded, p3.Status)
			require.Equal(t, int64(10_00), p3.WalletAmount)
			require.Equal(t, int64(20_00), p3.ProcessorAmount)
			first, _ := v.Payment(v.ctx, pay.ID)
			require.Equal(t, p3.ID, first.SettledBy)
			sub, _ = v.Subscription(v.ctx, sub.ID)
			require.Equal(t, subscription.StatusActive, sub.Status)
			c, _ = v.Customer(v.ctx, sub.CustomerID)
			require.False(t, c.Delinquent)
			od, err := v.Overdue(v.ctx, sub.CustomerID)
			require.NoError(t, err)
			require.Empty(t, od.Payments)
			types := v.eventTypes()
			require.Equal(t, 1, types[EventCustomerInGoodStand])
			require.Equal(t, 2, types[EventSubscriptionUpdated])

			// A replay returns the same payment; a new collection is refused.
			again, err := v.CollectOverdue(v.ctx, pay.ID, CollectOverdueParams{IdempotencyKey: "collect-2"})
			require.NoError(t, err)
			require.Equal(t, p3.ID, again.ID)
			_, err = v.CollectOverdue(v.ctx, pay.ID, CollectOverdueParams{IdempotencyKey: "collect-3"})
			require.ErrorIs(t, err, ErrNotOverdue)
			require.Equal(t, http.StatusConflict, HTTPStatus(err))
			v.checkLedger(sub.CustomerID)
		})

		t.Run("a charge with a retry pending is left to the policy", func(t *testing.T) {
			v := newEnv(t, newStore)
			prod, _ := v.CreateProduct(v.ctx, ProductParams{Name: "Plan", Price: 5_00, Currency: "USD"})
			res, err := v.CreateSubscription(v.ctx, SubscriptionParams{ProductID: prod.ID, Quantity: 1,
				Customer: &customer.Params{Name: new("R")}, PaymentMethod: processor.CardInsufficientFunds,
				OnDemand: &OnDemand{MandateOnly: new(false)}})
			require.NoError(t, err)
			require.NotNil(t, res.Payment)
			require.Equal(t, subscription.PaymentFailed, res.Payment.Status)
			require.False(t, res.Payment.NextRetryAt.IsZero())
			_, err = v.CollectOverdue(v.ctx, res.Payment.ID, CollectOverdueParams{IdempotencyKey: ""})
			require.ErrorIs(t, err, ErrNotOverdue)
			_, err = v.CollectOverdue(v.ctx, "pay_missing", CollectOverdueParams{IdempotencyKey: ""})
			require.ErrorIs(t, err, subscription.ErrPaymentNotFound)
		})

		t.Run("unknown payment method fails the subscription with 422", func(t *testing.T) {
			v := newEnv(t, newStore)
			prod, _ := v.CreateProduct(v.ctx, ProductParams{Name: "Plan", Price: 5_00, Currency: "USD"})
			c := v.customer()
			res, err := v.CreateSubscription(v.ctx, SubscriptionParams{ProductID: prod.ID, Quantity: 1, CustomerID: c.ID,
				PaymentMethod: "pm_card_made_up", OnDemand: &OnDemand{MandateOnly: new(true)}})
			require.ErrorIs(t, err, subscription.ErrInvalid)
			require.Equal(t, http.StatusUnprocessableEntity, HTTPStatus(err))
			require.Equal(t, subscription.StatusFailed, res.Subscription.Status)
			require.Equal(t, DeclineProcessorError, res.Subscription.DeclineCode)
			require.Equal(t, 1, v.eventTypes()[EventSubscriptionFailed])
		})

		t.Run("charge idempotency covers metadata and fees flag", func(t *testing.T) {
			v := newEnv(t, newStore)
			prod, _ := v.CreateProduct(v.ctx, ProductParams{Name: "Plan", Price: 5_00, Currency: "USD"})
			res, err := v.CreateSubscription(v.ctx, SubscriptionParams{ProductID: prod.ID, Quantity: 1,
				Customer: &customer.Params{Name: new("M")}, PaymentMethod: processor.CardOK,
				OnDemand: &OnDemand{MandateOnly: new(true)}})
			require.NoError(t, err)
			p := ChargeParams{ProductPrice: new(int64(100)), Metadata: map[string]string{"order": "1"}, IdempotencyKey: "o-1"}
			first, err := v.Charge(v.ctx, res.Subscription.ID, p)
			require.NoError(t, err)
			again, err := v.Charge(v.ctx, res.Subscription.ID, p)
			require.NoError(t, err)
			require.Equal(t, first.ID, again.ID)
			p.Metadata = map[string]string{"order": "2"}
			_, err = v.Charge(v.ctx, res.Subscription.ID, p)
			require.ErrorIs(t, err, subscription.ErrIdempotencyConflict)
			p.Metadata = map[string]string{"order": "1"}
			p.AdaptiveCurrencyFeesInclusive = new(true)
			_, err = v.Charge(v.ctx, res.Subscription.ID, p)
			require.ErrorIs(t, err, subscription.ErrIdempotencyConflict)
			require.Equal(t, 1, v.proc.ChargeCount())
		})
	})
}
