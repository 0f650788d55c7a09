package subscription_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/subscription"
)

var statuses = []subscription.Status{
	subscription.StatusPending, subscription.StatusActive, subscription.StatusOnHold,
	subscription.StatusCancelled, subscription.StatusFailed,
}

func TestTransitionTable(t *testing.T) {
	allowed := map[subscription.Status][]subscription.Status{
		subscription.StatusPending:   {subscription.StatusActive, subscription.StatusFailed, subscription.StatusCancelled},
		subscription.StatusActive:    {subscription.StatusOnHold, subscription.StatusCancelled},
		subscription.StatusOnHold:    {subscription.StatusActive, subscription.StatusCancelled},
		subscription.StatusCancelled: nil, // terminal
		subscription.StatusFailed:    nil, // terminal
	}
	for _, from := range statuses {
		for _, to := range append(statuses, "", "paused") {
			s := subscription.Subscription{ID: "sub_1", Status: from}
			err := s.Transition(to)
			want := false
			for _, a := range allowed[from] {
				want = want || a == to
			}
			if want {
				require.NoError(t, err, "%s -> %s", from, to)
				continue
			}
			require.ErrorIs(t, err, subscription.ErrNotActive, "%s -> %s", from, to)
			require.Contains(t, err.Error(), "sub_1")
			require.Contains(t, err.Error(), string(from))
		}
	}
	// An unknown current status can go nowhere.
	for _, to := range statuses {
		require.ErrorIs(t, subscription.Subscription{Status: "bogus"}.Transition(to), subscription.ErrNotActive)
	}
}

func TestTransitionIsPure(t *testing.T) {
	s := subscription.Subscription{ID: "sub_1", Status: subscription.StatusActive}
	require.NoError(t, s.Transition(subscription.StatusCancelled))
	require.Equal(t, subscription.StatusActive, s.Status, "Transition only validates")
}

func TestCanCharge(t *testing.T) {
	for _, st := range append(statuses, "") {
		err := subscription.Subscription{ID: "sub_9", Status: st}.CanCharge()
		if st == subscription.StatusActive {
			require.NoError(t, err)
			continue
		}
		require.ErrorIs(t, err, subscription.ErrNotActive, "status %q", st)
		require.NotErrorIs(t, err, subscription.ErrInvalid, "not active is the 409 class, not 422")
		require.Contains(t, err.Error(), "sub_9")
	}
}

func TestPaymentPaidAndRefundable(t *testing.T) {
	tests := []struct {
		status     subscription.PaymentStatus
		refunded   int64
		paid       int64
		refundable int64
		overdue    bool
	}{
		{subscription.PaymentPending, 0, 0, 0, false},
		{subscription.PaymentFailed, 0, 0, 0, true},
		{subscription.PaymentSucceeded, 0, 1000, 1000, false},
		{subscription.PaymentPartiallyRefunded, 300, 1000, 700, false},
		{subscription.PaymentRefunded, 1000, 1000, 0, false},
		{"", 0, 0, 0, false},
	}
	for _, tt := range tests {
		p := subscription.Payment{Amount: 1000, Currency: "USD", Status: tt.status, RefundedAmount: tt.refunded,
			WalletAmount: 400, ProcessorAmount: 600}
		require.Equal(t, tt.paid, p.Paid(), "Paid, %s", tt.status)
		require.Equal(t, tt.refundable, p.Refundable(), "Refundable, %s", tt.status)
		require.Equal(t, tt.overdue, p.Overdue(), "Overdue, %s", tt.status)
		require.GreaterOrEqual(t, p.Refundable(), int64(0))
	}
}

func TestPaymentPaidIncludesWalletPart(t *testing.T) {
	// A payment taken wholly from the wallet is paid in full.
	p := subscription.Payment{Amount: 500, WalletAmount: 500, Status: subscription.PaymentSucceeded}
	require.Equal(t, int64(500), p.Paid())
	require.Equal(t, int64(500), p.Refundable())
}

func TestSentinels(t *testing.T) {
	for _, e := range []error{subscription.ErrMissingMandateOnly, subscription.ErrMissingPrice, subscription.ErrInvalidPrice,
		subscription.ErrInvalidQuantity, subscription.ErrUnknownProduct, subscription.ErrMissingCustomer,
		subscription.ErrMissingMethod, subscription.ErrInvalidRefund} {
		require.ErrorIs(t, e, subscription.ErrInvalid, "%v is the 422 class", e)
	}
	for _, e := range []error{subscription.ErrNotFound, subscription.ErrProductNotFound, subscription.ErrPaymentNotFound,
		subscription.ErrNotActive, subscription.ErrNotRefundable, subscription.ErrIdempotencyConflict} {
		require.False(t, errors.Is(e, subscription.ErrInvalid), "%v is not the 422 class", e)
	}
}
