package wallet_test

import (
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/wallet"
)

func TestAvailable(t *testing.T) {
	for _, tt := range []struct{ amount, held, want int64 }{
		{0, 0, 0},
		{100, 0, 100},
		{100, 40, 60},
		{100, 100, 0},
		{math.MaxInt64, 0, math.MaxInt64},
		{math.MaxInt64, math.MaxInt64, 0},
	} {
		b := wallet.Balance{Currency: "USD", Amount: tt.amount, Held: tt.held}
		require.Equal(t, tt.want, b.Available(), "%+v", tt)
	}
}

func TestCheck(t *testing.T) {
	for _, tt := range []struct {
		amount, held int64
		ok           bool
	}{
		{0, 0, true},
		{1, 0, true},
		{100, 100, true},
		{100, 1, true},
		{math.MaxInt64, math.MaxInt64, true},
		{-1, 0, false},
		{math.MinInt64, 0, false},
		{-5, -5, false},
		{100, 101, false},
		{0, 1, false},
		{100, -1, false},
	} {
		err := wallet.Balance{Amount: tt.amount, Held: tt.held}.Check()
		if tt.ok {
			require.NoError(t, err, "%+v", tt)
		} else {
			require.Error(t, err, "%+v", tt)
		}
	}
}

func TestErrorsAreDistinct(t *testing.T) {
	require.False(t, errors.Is(wallet.ErrInsufficientFunds, wallet.ErrNotFound))
	require.False(t, errors.Is(wallet.ErrNotFound, wallet.ErrInsufficientFunds))
	require.Contains(t, wallet.ErrInsufficientFunds.Error(), "insufficient wallet balance",
		"the seed's message for the 400 class")
}
