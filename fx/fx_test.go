package fx_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/fx"
	"github.com/cofferhq/coffer/money"
)

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func TestConvertRounding(t *testing.T) {
	for _, tc := range []struct {
		name     string
		amount   int64
		from, to string
		rate     string
		want     int64
	}{
		{"same exponent", 10_00, "EUR", "USD", "1.08", 10_80},
		{"half rounds up", 1, "EUR", "USD", "1.5", 2},             // 1.5 cents
		{"below half rounds down", 1, "EUR", "USD", "1.49999", 1}, // 1.49999 cents
		{"2.5 rounds up, not to even", 5, "EUR", "USD", "0.5", 3},
		{"exponent 0 to 2", 1000, "JPY", "USD", "0.0067", 6_70},
		{"exponent 0 to 2, tiny", 1, "JPY", "USD", "0.0067", 1},        // 0.67 cents
		{"exponent 0 to 2, to zero", 1, "JPY", "USD", "0.0049", 0},     // 0.49 cents
		{"exponent 2 to 0, half up", 1_00, "USD", "JPY", "151.5", 152}, // 151.5 yen
		{"exponent 2 to 0, down", 1_00, "USD", "JPY", "151.49", 151},
		{"exponent 2 to 3", 12_34, "USD", "KWD", "0.3075", 3_795}, // 3.794550 KWD
		{"exponent 3 to 2", 1_000, "KWD", "USD", "3.2525", 3_25},  // 325.25 cents -> 325
		{"exponent 3 to 2, half", 1_000, "KWD", "USD", "3.2550", 3_26},
		{"exponent 3 to 0", 1, "KWD", "JPY", "499.5", 0},   // 0.4995 yen
		{"exponent 3 to 0, up", 1, "KWD", "JPY", "500", 1}, // 0.5 yen
		{"same currency", 123, "usd", "USD", "1", 123},
		{"huge amount that fits", math.MaxInt64 / 2, "EUR", "USD", "2", math.MaxInt64 - 1},
	} {
		got, err := fx.Convert(tc.amount, tc.from, tc.to, d(tc.rate))
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.want, got, tc.name)
	}
}

func TestConvertErrors(t *testing.T) {
	_, err := fx.Convert(math.MaxInt64, "EUR", "USD", d("1.0001"))
	require.ErrorIs(t, err, money.ErrOverflow)
	_, err = fx.Convert(math.MaxInt64/100+1, "JPY", "USD", d("1"))
	require.ErrorIs(t, err, money.ErrOverflow, "exponent 0 -> 2 multiplies by 100")
	_, err = fx.Convert(1, "XYZ", "USD", d("1"))
	require.ErrorIs(t, err, money.ErrUnknownCurrency)
	_, err = fx.Convert(1, "USD", "XYZ", d("1"))
	require.ErrorIs(t, err, money.ErrUnknownCurrency)
	for _, bad := range []string{"0", "-1", "0.0000000000001", "1000000000001", "1.00000000000000000000000001"} {
		_, err = fx.Convert(1, "EUR", "USD", d(bad))
		require.ErrorIs(t, err, fx.ErrInvalidRate, bad)
	}
}

func TestFee(t *testing.T) {
	for _, tc := range []struct {
		name       string
		amount, bp int64
		inclusive  bool
		fee, total int64
	}{
		{"inclusive", 10_00, 250, true, 25, 10_00},
		{"on top", 10_00, 250, false, 25, 10_25},
		{"no fee", 10_00, 0, false, 0, 10_00},
		{"whole price", 10_00, fx.MaxFeeBP, true, 10_00, 10_00},
		{"doubling", 10_00, fx.MaxFeeBP, false, 10_00, 20_00},
		{"tiny rounds down", 1, 250, false, 0, 1},        // 0.025
		{"tiny half rounds up", 2, 2500, false, 1, 3},    // 0.5
		{"tiny below half", 1, 4999, true, 0, 1},         // 0.4999
		{"tiny at half", 1, 5000, true, 1, 1},            // 0.5
		{"exponent 0 amount", 999, 150, false, 15, 1014}, // 14.985 yen
		{"zero amount", 0, 250, false, 0, 0},
		{"huge inclusive", math.MaxInt64, 250, true, 230584300921369395, math.MaxInt64}, // ×0.025 = ...394.775
		{"huge on top that fits", math.MaxInt64 / 2, 10000, false, math.MaxInt64 / 2, math.MaxInt64 - 1},
	} {
		fee, total, err := fx.Fee(tc.amount, tc.bp, tc.inclusive)
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.fee, fee, tc.name+": fee")
		require.Equal(t, tc.total, total, tc.name+": total")
		if tc.inclusive {
			require.LessOrEqual(t, fee, total, tc.name)
		}
	}
	_, _, err := fx.Fee(math.MaxInt64, 1, false)
	require.ErrorIs(t, err, money.ErrOverflow, "a fee on top past int64")
	_, _, err = fx.Fee(math.MaxInt64-1, 10000, false)
	require.ErrorIs(t, err, money.ErrOverflow)
	for _, bp := range []int64{-1, fx.MaxFeeBP + 1} {
		_, _, err = fx.Fee(100, bp, true)
		require.ErrorIs(t, err, fx.ErrInvalidRate, bp)
	}
	_, _, err = fx.Fee(-1, 10, true)
	require.ErrorIs(t, err, fx.ErrInvalidRate)
}

func TestStatic(t *testing.T) {
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.FixedZone("x", 3600))
	s, err := fx.NewStatic(at, map[string]string{"eur/usd": "1.08", "USD/JPY": " 151.20 "})
	require.NoError(t, err)
	ctx := context.Background()
	r, err := s.Rate(ctx, "EUR", "usd")
	require.NoError(t, err)
	require.Equal(t, "EUR", r.From)
	require.Equal(t, "USD", r.To)
	require.Equal(t, "1.08", r.Value.String())
	require.Equal(t, fx.StaticSource, r.Source)
	require.Equal(t, at.UTC(), r.At)
	r, err = s.Rate(ctx, "USD", "JPY")
	require.NoError(t, err)
	require.True(t, r.Value.Equal(d("151.2")))
	_, err = s.Rate(ctx, "USD", "EUR")
	require.ErrorIs(t, err, fx.ErrNoRate, "inverses are not derived")
	r, err = s.Rate(ctx, "INR", "inr")
	require.NoError(t, err)
	require.True(t, r.Value.Equal(decimal.NewFromInt(1)))
	_, err = s.Rate(ctx, "XYZ", "USD")
	require.ErrorIs(t, err, money.ErrUnknownCurrency)
	require.Equal(t, map[string]string{"EUR/USD": "1.08", "USD/JPY": "151.2"}, s.Pairs())

	for spec, want := range map[string]error{
		"EUR/USD=1.08,EUR/USD=1.09": fx.ErrInvalidRate,
		"eur/usd=1.08,EUR/USD=1.09": fx.ErrInvalidRate,
		"EUR/USD":                   fx.ErrInvalidRate,
		"EURUSD=1":                  fx.ErrInvalidRate,
		"EUR/EUR=1":                 fx.ErrInvalidRate,
		"EUR/USD=abc":               fx.ErrInvalidRate,
		"EUR/USD=0":                 fx.ErrInvalidRate,
		"EUR/USD=-2":                fx.ErrInvalidRate,
		"XYZ/USD=1":                 money.ErrUnknownCurrency,
	} {
		_, err := fx.ParseStatic(time.Time{}, spec)
		require.ErrorIs(t, err, want, spec)
	}
	s, err = fx.ParseStatic(time.Time{}, " EUR/USD=1.08 , ,kwd/usd=3.25,")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"EUR/USD": "1.08", "KWD/USD": "3.25"}, s.Pairs())
	r, err = s.Rate(ctx, "KWD", "USD")
	require.NoError(t, err)
	require.True(t, r.At.IsZero())
	empty, err := fx.ParseStatic(time.Time{}, "")
	require.NoError(t, err)
	_, err = empty.Rate(ctx, "EUR", "USD")
	require.ErrorIs(t, err, fx.ErrNoRate)
}
