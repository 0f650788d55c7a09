package coffer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
	"github.com/cofferhq/coffer/webhook"
)

func TestOverdue(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		t.Run("failed charges summed per currency", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			o, err := v.Overdue(v.ctx, c.ID)
			require.NoError(t, err)
			require.Empty(t, o.Payments)
			require.Empty(t, o.Due)
			require.False(t, o.Delinquent)

			soft := v.odSubscribe(c.ID, processor.CardInsufficientFunds)
			a, err := v.Charge(v.ctx, soft.ID, ChargeParams{ProductPrice: new(int64(5_00))})
			require.NoError(t, err)
			b, err := v.Charge(v.ctx, soft.ID, ChargeParams{ProductPrice: new(int64(300_00)), ProductCurrency: "INR"})
			require.NoError(t, err)
			ok := v.odSubscribe(c.ID, processor.CardOK)
			_, err = v.Charge(v.ctx, ok.ID, ChargeParams{ProductPrice: new(int64(1_00))}) // paid: not overdue
			require.NoError(t, err)
			o, err = v.Overdue(v.ctx, c.ID)
			require.NoError(t, err)
			require.Equal(t, []string{b.ID, a.ID}, odPayIDs(o.Payments))
			require.Equal(t, []money.Amount{{Minor: 300_00, Currency: "INR"}, {Minor: 5_00, Currency: "USD"}}, o.Due)
			require.False(t, o.Delinquent, "both charges have a retry pending")
			for _, p := range o.Payments {
				require.False(t, p.NextRetryAt.IsZero())
			}

			v.proc.Script(processor.CardOK, processor.Fraudulent)
			d, err := v.Charge(v.ctx, ok.ID, ChargeParams{ProductPrice: new(int64(7_25))})
			require.NoError(t, err)
			o, err = v.Overdue(v.ctx, c.ID)
			require.NoError(t, err)
			require.Equal(t, []string{d.ID, b.ID, a.ID}, odPayIDs(o.Payments))
			require.Equal(t, []money.Amount{{Minor: 300_00, Currency: "INR"}, {Minor: 12_25, Currency: "USD"}}, o.Due)
			require.True(t, o.Delinquent, "a hard decline leaves a charge with no retry")
			require.True(t, v.odCustomer(c.ID).Delinquent)
			require.Equal(t, 1, v.eventTypes()[EventCustomerDelinquent])

			// Another customer's charges are not included.
			o, err = v.Overdue(v.ctx, v.customer().ID)
			require.NoError(t, err)
			require.Empty(t, o.Payments)
			_, err = v.Overdue(v.ctx, "cus_missing")
			require.ErrorIs(t, err, customer.ErrNotFound)
			require.Equal(t, http.StatusNotFound, HTTPStatus(err))
		})

		t.Run("a successful retry settles the overdue charge", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			s := v.odSubscribe(c.ID, processor.CardOK)
			v.proc.Script(processor.CardOK, processor.InsufficientFunds) // the retry then succeeds
			p, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(8_00)), Metadata: map[string]string{"order": "1"}})
			require.NoError(t, err)
			require.Equal(t, subscription.PaymentFailed, p.Status)
			o, err := v.Overdue(v.ctx, c.ID)
			require.NoError(t, err)
			require.Len(t, o.Payments, 1)
			require.False(t, o.Delinquent)

			v.clock.Set(p.NextRetryAt)
			rep, err := v.RunDue(v.ctx)
			require.NoError(t, err)
			require.Equal(t, 1, rep.Succeeded)
			pays := v.odPayments(c.ID)
			require.Len(t, pays, 2)
			retried := pays[0]
			require.Equal(t, subscription.PaymentSucceeded, retried.Status)
			require.Equal(t, 2, retried.RetryAttempt)
			require.Equal(t, p.ID, retried.RetryOf)
			require.Equal(t, map[string]string{"order": "1", "retry_attempt": "2"}, retried.Metadata)
			first, err := v.Payment(v.ctx, p.ID)
			require.NoError(t, err)
			require.Equal(t, retried.ID, first.SettledBy)
			require.True(t, first.NextRetryAt.IsZero())
			o, err = v.Overdue(v.ctx, c.ID)
			require.NoError(t, err)
			require.Empty(t, o.Payments)
			require.Empty(t, o.Due)
			require.False(t, o.Delinquent)
			require.Zero(t, v.eventTypes()[EventCustomerDelinquent])
		})

		t.Run("exhausted retries make the customer delinquent", func(t *testing.T) {
			v := newEnv(t, newStore, WithRetryPolicy(retry.Policy{Schedule: []time.Duration{0, retry.Day}, MaxAttempts: 2}))
			c := v.customer()
			s := v.odSubscribe(c.ID, processor.CardIssuerUnavailable)
			p, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(4_00))})
			require.NoError(t, err)
			require.False(t, v.odCustomer(c.ID).Delinquent)
			v.clock.Set(p.NextRetryAt)
			rep, err := v.RunDue(v.ctx)
			require.NoError(t, err)
			require.Equal(t, 1, rep.Failed)
			sub, err := v.Subscription(v.ctx, s.ID)
			require.NoError(t, err)
			require.Equal(t, subscription.StatusOnHold, sub.Status)
			o, err := v.Overdue(v.ctx, c.ID)
			require.NoError(t, err)
			require.Equal(t, []string{p.ID}, odPayIDs(o.Payments), "the retry is not a second debt")
			require.Equal(t, []money.Amount{{Minor: 4_00, Currency: "USD"}}, o.Due)
			require.True(t, o.Delinquent)
			require.Equal(t, 1, v.eventTypes()[EventCustomerDelinquent])
			require.Zero(t, v.eventTypes()[EventCustomerInGoodStand])
		})
	})
}

func TestBillingEvents(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		c := v.customer()
		v.odFund(c.ID, 2_00, "USD")
		s := v.odSubscribe(c.ID, processor.CardOK)
		paid, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(5_00))})
		require.NoError(t, err)
		_, err = v.Refund(v.ctx, paid.ID, RefundParams{Amount: 1_00, Destination: subscription.ToWallet, IdempotencyKey: "r"})
		require.NoError(t, err)
		v.proc.Script(processor.CardOK, processor.PickupCard)
		failed, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(3_00))})
		require.NoError(t, err)

		// Rejected requests write nothing.
		n := len(v.events())
		_, err = v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(1_00))})
		require.ErrorIs(t, err, subscription.ErrNotActive)
		_, err = v.Refund(v.ctx, failed.ID, RefundParams{IdempotencyKey: "x"})
		require.ErrorIs(t, err, subscription.ErrNotRefundable)
		_, err = v.Refund(v.ctx, paid.ID, RefundParams{Amount: 1_01, Destination: subscription.ToWallet, IdempotencyKey: "r"})
		require.ErrorIs(t, err, subscription.ErrIdempotencyConflict)
		require.Len(t, v.events(), n)

		var types []string
		for _, e := range v.events() {
			types = append(types, e.Type)
			require.Equal(t, c.ID, e.CustomerID)
			require.True(t, json.Valid(e.Data))
		}
		require.Equal(t, []string{
			EventCustomerCreated,
			EventBalanceChanged,     // deposit
			EventSubscriptionActive, // mandate
			EventBalanceChanged,     // wallet part of the charge captured
			EventPaymentSucceeded,
			EventBalanceChanged, // refund to the wallet
			EventRefundSucceeded,
			EventPaymentFailed,
			EventSubscriptionOnHold, // caused by the hard decline
			EventCustomerDelinquent,
		}, types)

		evs := v.events()
		var got subscription.Payment
		require.NoError(t, json.Unmarshal(odEvent(t, evs, EventPaymentSucceeded).Data, &got))
		require.Equal(t, paid.ID, got.ID)
		require.Equal(t, subscription.PaymentSucceeded, got.Status)
		require.Equal(t, int64(2_00), got.WalletAmount)
		require.NoError(t, json.Unmarshal(odEvent(t, evs, EventPaymentFailed).Data, &got))
		require.Equal(t, failed.ID, got.ID)
		require.Equal(t, processor.PickupCard, got.DeclineCode)
		var r subscription.Refund
		require.NoError(t, json.Unmarshal(odEvent(t, evs, EventRefundSucceeded).Data, &r))
		require.Equal(t, paid.ID, r.PaymentID)
		require.Equal(t, subscription.RefundSucceeded, r.Status)
		var sub subscription.Subscription
		require.NoError(t, json.Unmarshal(odEvent(t, evs, EventSubscriptionOnHold).Data, &sub))
		require.Equal(t, subscription.StatusOnHold, sub.Status)
		require.Equal(t, processor.PickupCard, sub.DeclineCode)
	})
}

func odEvent(t *testing.T, evs []webhook.Event, typ string) webhook.Event {
	t.Helper()
	for _, e := range evs {
		if e.Type == typ {
			return e
		}
	}
	t.Fatalf("no %s event", typ)
	return webhook.Event{}
}

func TestNoProcessor(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		st := newStore(t)
		e, err := New(st, WithoutProcessor())
		require.NoError(t, err)
		v := &env{Engine: e, t: t, ctx: t.Context(), store: st}
		c := v.customer()
		prod := v.odProduct(1_00, "USD")
		_, err = e.CreateSubscription(v.ctx, SubscriptionParams{ProductID: prod.ID, Quantity: 1, CustomerID: c.ID,
			PaymentMethod: processor.CardOK, OnDemand: &OnDemand{MandateOnly: new(true)}})
		require.ErrorIs(t, err, ErrNoProcessor)
		require.Equal(t, http.StatusServiceUnavailable, HTTPStatus(err), "a missing processor is not a server bug")
		list, err := e.ListSubscriptions(v.ctx, SubscriptionListParams{CustomerID: c.ID})
		require.NoError(t, err)
		require.Empty(t, list.Data)
	})
}

func TestHTTPStatusOfBillingErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, http.StatusOK},
		{wallet.ErrInsufficientFunds, http.StatusBadRequest},
		{subscription.ErrNotFound, http.StatusNotFound},
		{subscription.ErrProductNotFound, http.StatusNotFound},
		{subscription.ErrPaymentNotFound, http.StatusNotFound},
		{customer.ErrNotFound, http.StatusNotFound},
		{ledger.ErrHoldNotFound, http.StatusNotFound},
		{subscription.ErrNotActive, http.StatusConflict},
		{subscription.ErrNotRefundable, http.StatusConflict},
		{subscription.ErrIdempotencyConflict, http.StatusConflict},
		{ledger.ErrIdempotencyConflict, http.StatusConflict},
		{ledger.ErrHoldNotPending, http.StatusConflict},
		{subscription.ErrInvalid, http.StatusUnprocessableEntity},
		{subscription.ErrMissingMandateOnly, http.StatusUnprocessableEntity},
		{subscription.ErrMissingPrice, http.StatusUnprocessableEntity},
		{subscription.ErrInvalidPrice, http.StatusUnprocessableEntity},
		{subscription.ErrInvalidQuantity, http.StatusUnprocessableEntity},
		{subscription.ErrUnknownProduct, http.StatusUnprocessableEntity},
		{subscription.ErrMissingCustomer, http.StatusUnprocessableEntity},
		{subscription.ErrMissingMethod, http.StatusUnprocessableEntity},
		{subscription.ErrInvalidRefund, http.StatusUnprocessableEntity},
		{money.ErrCurrencyDisabled, http.StatusUnprocessableEntity},
		{money.ErrUnknownCurrency, http.StatusUnprocessableEntity},
		{customer.ErrInvalidMeta, http.StatusUnprocessableEntity},
		{&customer.FieldError{Field: "billing.country", Err: customer.ErrInvalidCountry}, http.StatusUnprocessableEntity},
		{retry.ErrInvalidPolicy, http.StatusUnprocessableEntity},
		{ErrInvalidLimit, http.StatusUnprocessableEntity},
		{ErrInvalidCursor, http.StatusUnprocessableEntity},
		{ErrNoProcessor, http.StatusServiceUnavailable},
		{processor.ErrUnavailable, http.StatusServiceUnavailable},
		{context.Canceled, StatusClientClosedRequest},
		{fmt.Errorf("charging: %w", context.DeadlineExceeded), http.StatusGatewayTimeout},
		{errors.New("boom"), http.StatusInternalServerError},
	} {
		require.Equal(t, tc.want, HTTPStatus(tc.err), "%v", tc.err)
		if tc.err != nil {
			require.Equal(t, tc.want, HTTPStatus(fmt.Errorf("context: %w", tc.err)), "wrapped %v", tc.err)
		}
	}
}
