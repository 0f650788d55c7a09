package coffer

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/wallet"
)

var (
	apiCalls = UnitParams{Code: "api_calls", Exponent: 0, Name: "API calls"}
	credits2 = UnitParams{Code: "credits", Exponent: 2, Name: "Credits",
		Price: &money.UnitPrice{Amount: 150, Currency: "USD", Per: 100}}
)

// defineUnits defines api_calls and credits on v's store.
func (v *env) defineUnits() {
	v.t.Helper()
	for _, p := range []UnitParams{apiCalls, credits2} {
		_, err := v.DefineUnit(v.ctx, p)
		require.NoError(v.t, err)
	}
}

func TestDefineUnit(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		u, err := v.DefineUnit(v.ctx, credits2)
		require.NoError(t, err)
		require.Equal(t, money.Unit{Code: "credits", Exponent: 2, Name: "Credits", Price: credits2.Price, CreatedAt: t0}, u)

		// Again, later, the same: the original.
		v.clock.Advance(time.Hour)
		again, err := v.DefineUnit(v.ctx, credits2)
		require.NoError(t, err)
		require.Equal(t, u, again)

		// Otherwise: a conflict, nothing changes.
		for _, p := range []UnitParams{
			{Code: "credits", Exponent: 0, Name: "Credits", Price: credits2.Price},
			{Code: "credits", Exponent: 2, Name: "Other", Price: credits2.Price},
			{Code: "credits", Exponent: 2, Name: "Credits"},
			{Code: "credits", Exponent: 2, Name: "Credits", Price: &money.UnitPrice{Amount: 151, Currency: "USD", Per: 100}},
		} {
			_, err := v.DefineUnit(v.ctx, p)
			require.ErrorIs(t, err, ErrUnitConflict)
			require.Equal(t, "unit_conflict", ErrorCode(err))
		}
		// Malformed: invalid_unit, nothing stored.
		for _, p := range []UnitParams{{Code: "usd"}, {Code: "USD"}, {Code: "abc"}, {Code: "API_CALLS"}, {Code: "x", Exponent: 7},
			{Code: "x", Exponent: -1}, {Code: "x", Price: &money.UnitPrice{Amount: -1, Currency: "USD"}},
			{Code: "x", Price: &money.UnitPrice{Amount: 1, Currency: "api_calls"}}, {Code: strings.Repeat("x", 33)}} {
			_, err := v.DefineUnit(v.ctx, p)
			require.ErrorIs(t, err, money.ErrInvalidUnit, "%+v", p)
			require.Equal(t, "invalid_unit", ErrorCode(err))
		}
		_, err = v.Unit(v.ctx, "x")
		require.ErrorIs(t, err, money.ErrUnknownUnit)
		require.Equal(t, "unknown_unit", ErrorCode(err))

		// Another engine on the same store reads it (its cache is empty).
		other, err := New(v.store, WithClock(v.clock), WithoutProcessor())
		require.NoError(t, err)
		got, err := other.Unit(v.ctx, "credits")
		require.NoError(t, err)
		require.Equal(t, u, got)
		_, err = other.DefineUnit(v.ctx, apiCalls)
		require.NoError(t, err)
		list, err := v.Units(v.ctx)
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.Equal(t, "api_calls", list[0].Code)
		require.Equal(t, "credits", list[1].Code)
		c := v.customer()
		_, err = v.CreateEntry(v.ctx, c.ID, credit(5, "api_calls", "k"))
		require.NoError(t, err, "a unit another engine defined is usable")
	})
}

func TestWithUnits(t *testing.T) {
	v := newEnv(t, storeKinds["memory"], WithUnits(money.Unit{Code: "tokens", Name: "Tokens"}))
	c := v.customer()
	res, err := v.CreateEntry(v.ctx, c.ID, credit(100, "tokens", "k1"))
	require.NoError(t, err)
	require.Equal(t, "tokens", res.Balance.Currency)
	u, err := v.DefineUnit(v.ctx, UnitParams{Code: "tokens", Name: "Tokens"})
	require.NoError(t, err)
	require.Equal(t, "tokens", u.Code)
	_, err = v.DefineUnit(v.ctx, UnitParams{Code: "tokens", Exponent: 1})
	require.ErrorIs(t, err, ErrUnitConflict)
	list, err := v.Units(v.ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"tokens"}, unitCodes(list))

	for _, opt := range []Option{
		WithUnits(money.Unit{Code: "usd"}),
		WithUnits(money.Unit{Code: "tokens"}, money.Unit{Code: "tokens"}),
	} {
		_, err := New(v.store, opt)
		require.ErrorIs(t, err, ErrInvalidConfig)
	}
}

func unitCodes(us []money.Unit) []string {
	out := []string{}
	for _, u := range us {
		out = append(out, u.Code)
	}
	return out
}

// TestUnitCodesRefusedWhereUndefined: every wallet path refuses an
// undefined unit with unknown_unit, a code that is neither ISO nor a unit
// with unknown_currency, and changes nothing.
func TestUnitCodesRefusedWhereUndefined(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		c := v.customer()
		calls := map[string]func(code string) error{
			"CreateEntry": func(code string) error { _, err := v.CreateEntry(v.ctx, c.ID, credit(5, code, "")); return err },
			"Balance":     func(code string) error { _, err := v.Balance(v.ctx, c.ID, code); return err },
			"ListEntries": func(code string) error {
				_, err := v.ListEntries(v.ctx, EntryListParams{CustomerID: c.ID, Currency: code})
				return err
			},
			"SetLowBalanceThreshold": func(code string) error {
				_, err := v.SetLowBalanceThreshold(v.ctx, c.ID, LowBalanceParams{Currency: code, Threshold: 5})
				return err
			},
			"ExpiringCredits": func(code string) error { _, err := v.ExpiringCredits(v.ctx, c.ID, code, time.Hour); return err },
			"SpendingReport": func(code string) error {
				_, err := v.SpendingReport(v.ctx, c.ID, SpendingReportParams{Currency: code, From: t0, To: t0.Add(time.Hour)})
				return err
			},
			"RecordUsage": func(code string) error {
				_, err := v.RecordUsage(v.ctx, []Usage{{CustomerID: c.ID, Unit: code, Quantity: 1, IdempotencyKey: "u"}})
				return err
			},
		}
		for name, call := range calls {
			err := call("api_calls")
			require.ErrorIs(t, err, money.ErrUnknownUnit, name)
			require.Equal(t, "unknown_unit", ErrorCode(err), name)
			require.Equal(t, 422, HTTPStatus(err), name)
			for _, code := range []string{"API_CALLS", "Api_calls", "xyz"} {
				require.ErrorIs(t, call(code), money.ErrUnknownCurrency, "%s %s", name, code)
			}
		}
		bs, err := v.Balances(v.ctx, c.ID)
		require.NoError(t, err)
		for _, b := range bs {
			require.Zero(t, b.Amount, b.Currency)
			require.False(t, money.IsUnitCode(b.Currency), "no unit wallet was made")
		}
		v.defineUnits()
		for name, call := range calls {
			require.NoError(t, call("api_calls"), name)
		}
	})
}

// TestUnitWalletRules: a unit wallet has the rules of a money wallet:
// idempotency, no overdraft, credit terms and expiry, events.
func TestUnitWalletRules(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		v.defineUnits()
		c := v.customer()
		res, err := v.CreateEntry(v.ctx, c.ID, credit(1000, "api_calls", "topup"))
		require.NoError(t, err)
		require.Equal(t, "api_calls", res.Entry.Currency)
		require.Equal(t, int64(1000), res.Balance.Amount)
		again, err := v.CreateEntry(v.ctx, c.ID, credit(1000, "api_calls", "topup"))
		require.NoError(t, err)
		require.True(t, again.Replayed)
		require.Equal(t, res.Entry.ID, again.Entry.ID)
		_, err = v.CreateEntry(v.ctx, c.ID, credit(999, "api_calls", "topup"))
		require.ErrorIs(t, err, ledger.ErrIdempotencyConflict)
		_, err = v.CreateEntry(v.ctx, c.ID, debit(1001, "api_calls", "big"))
		require.ErrorIs(t, err, wallet.ErrInsufficientFunds)

		// Granted credits that expire, consumed first.
		exp := t0.Add(24 * time.Hour)
		bonus := credit(250_00, "credits", "bonus")
		bonus.CreditKind, bonus.ExpiresAt = ledger.KindGranted, exp
		_, err = v.CreateEntry(v.ctx, c.ID, bonus)
		require.NoError(t, err)
		_, err = v.CreateEntry(v.ctx, c.ID, credit(100_00, "credits", "paid"))
		require.NoError(t, err)
		_, err = v.CreateEntry(v.ctx, c.ID, debit(50_00, "credits", "use1"))
		require.NoError(t, err)
		sum, err := v.ExpiringCredits(v.ctx, c.ID, "credits", 48*time.Hour)
		require.NoError(t, err)
		require.Equal(t, int64(200_00), sum.Expiring)
		require.Equal(t, int64(100_00), sum.Paid)
		v.checkGrants(c.ID, "credits")

		n := len(v.events())
		v.clock.Set(exp.Add(-time.Second))
		require.Zero(t, v.expire())
		v.clock.Set(exp.Add(time.Second))
		require.Equal(t, 1, v.expire())
		b, err := v.Balance(v.ctx, c.ID, "credits")
		require.NoError(t, err)
		require.Equal(t, int64(100_00), b.Amount)
		require.Equal(t, []string{EventBalanceChanged, EventCreditExpired}, whTypes(v.events()[n:]))
		v.checkGrants(c.ID, "credits")
		_, err = v.CreateEntry(v.ctx, c.ID, debit(100_01, "credits", "over"))
		require.ErrorIs(t, err, wallet.ErrInsufficientFunds)

		// Low-balance events in a unit.
		_, err = v.SetLowBalanceThreshold(v.ctx, c.ID, LowBalanceParams{Currency: "api_calls", Threshold: 100})
		require.NoError(t, err)
		n = len(v.events())
		_, err = v.CreateEntry(v.ctx, c.ID, debit(950, "api_calls", "burn"))
		require.NoError(t, err)
		require.Equal(t, []string{EventBalanceChanged, EventBalanceLow}, whTypes(v.events()[n:]))

		list, err := v.ListEntries(v.ctx, EntryListParams{CustomerID: c.ID, Currency: "api_calls"})
		require.NoError(t, err)
		require.Len(t, list.Data, 2)
		for _, e := range list.Data {
			require.Equal(t, "api_calls", e.Currency)
		}
		v.checkLedger(c.ID)
	})
}

// TestUnitWalletNeverPaysACharge: charges stay in ISO currencies; a unit
// wallet is never applied to a money charge, and a unit is refused as a
// charge's currency.
func TestUnitWalletNeverPaysACharge(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		v.defineUnits()
		c := v.customer()
		_, err := v.CreateEntry(v.ctx, c.ID, credit(5000, "api_calls", "calls"))
		require.NoError(t, err)
		_, err = v.CreateEntry(v.ctx, c.ID, credit(5000, "credits", "credits"))
		require.NoError(t, err)
		pay, err := v.ChargeOneTime(v.ctx, c.ID, OneTimeParams{Amount: 10_00, Currency: "USD", PaymentMethod: processor.CardOK, IdempotencyKey: "p1"})
		require.NoError(t, err)
		require.Zero(t, pay.WalletAmount)
		require.Equal(t, int64(10_00), pay.ProcessorAmount)
		for _, code := range []string{"api_calls", "credits"} {
			b, err := v.Balance(v.ctx, c.ID, code)
			require.NoError(t, err)
			require.Equal(t, int64(5000), b.Amount, code)
			require.Zero(t, b.Held, code)

			_, err = v.ChargeOneTime(v.ctx, c.ID, OneTimeParams{Amount: 10, Currency: code, PaymentMethod: processor.CardOK, IdempotencyKey: "p-" + code})
			require.ErrorIs(t, err, money.ErrUnknownCurrency, code)
			_, err = v.BuyCredit(v.ctx, c.ID, BuyCreditParams{Amount: 10, Currency: code, PaymentMethod: processor.CardOK, IdempotencyKey: "b-" + code})
			require.ErrorIs(t, err, money.ErrUnknownCurrency, code)
		}
		require.Len(t, v.proc.Charges(), 1)
		v.checkLedger(c.ID)
	})
}

var _ = errors.Is
