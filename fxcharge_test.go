package coffer

import (
	"context"
	"math"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/fx"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/memory"
	"github.com/cofferhq/coffer/subscription"
)

// fxAt is when the test table's rates were fixed.
var fxAt = time.Date(2026, 11, 30, 16, 0, 0, 123456789, time.UTC)

// fxTestRates is the test table: EUR/USD 1.0843, JPY/USD 0.0067 (exponent
// 0 to 2), USD/KWD 0.3075 (2 to 3), USD/JPY 151.5 (2 to 0), KRW/USD 0.0004
// (a won rounds to no cent).
const fxTestRates = "EUR/USD=1.0843,JPY/USD=0.0067,USD/KWD=0.3075,USD/JPY=151.5,KRW/USD=0.0004"

// mutableRates is a Source whose rates a test changes.
type mutableRates struct {
	mu    sync.Mutex
	rates map[string]decimal.Decimal
	calls int
}

func (m *mutableRates) set(pair, v string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v == "" {
		delete(m.rates, pair)
		return
	}
	m.rates[pair] = decimal.RequireFromString(v)
}

func (m *mutableRates) Rate(_ context.Context, from, to string) (fx.Rate, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	v, ok := m.rates[from+"/"+to]
	if !ok {
		return fx.Rate{}, fx.ErrNoRate
	}
	return fx.Rate{From: from, To: to, Value: v, Source: "test-feed"}, nil
}

func fxEnv(t *testing.T, newStore func(t *testing.T) store.Store, feeBP int64, opts ...Option) *env {
	t.Helper()
	rates, err := fx.ParseStatic(fxAt, fxTestRates)
	require.NoError(t, err)
	return newEnv(t, newStore, append([]Option{WithFX(rates), WithAdaptiveFee(feeBP),
		WithCurrencies("USD", "INR", "KWD", "JPY")}, opts...)...)
}

// fxSubscribe creates a mandate-only subscription in currency.
func (v *env) fxSubscribe(customerID, pm, currency string, feesInclusive bool) subscription.Subscription {
	v.t.Helper()
	prod := v.odProduct(5_00, currency)
	res, err := v.CreateSubscription(v.ctx, SubscriptionParams{
		ProductID: prod.ID, Quantity: 1, CustomerID: customerID, PaymentMethod: pm,
		OnDemand: &OnDemand{MandateOnly: new(true), AdaptiveCurrencyFeesInclusive: feesInclusive},
	})
	require.NoError(v.t, err)
	return res.Subscription
}

// requireStored checks the payment reads back from the store as returned.
func (v *env) requireStored(p subscription.Payment) {
	v.t.Helper()
	got, err := v.Payment(v.ctx, p.ID)
	require.NoError(v.t, err)
	require.Equal(v.t, p, got)
}

func TestAdaptiveCurrencyCharge(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		t.Run("converts, records fee and rate, fee on top or inside", func(t *testing.T) {
			v := fxEnv(t, newStore, 250)
			c := v.customer()
			s := v.fxSubscribe(c.ID, processor.CardOK, "USD", false)
			// 20.00 EUR x 1.0843 = 21.686 USD -> 2169 cents; fee 2.5 % of
			// 2169 = 54.225 -> 54; on top: 2223.
			p, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(20_00)), ProductCurrency: "eur"})
			require.NoError(t, err)
			require.Equal(t, subscription.PaymentSucceeded, p.Status)
			require.Equal(t, "USD", p.Currency)
			require.Equal(t, int64(22_23), p.Amount)
			require.Equal(t, int64(54), p.Fee)
			require.False(t, p.FeesInclusive)
			require.Equal(t, int64(20_00), p.ProductAmount)
			require.Equal(t, "EUR", p.ProductCurrency)
			require.Equal(t, "1.0843", p.FXRate)
			require.Equal(t, fx.StaticSource, p.FXSource)
			require.Equal(t, fxAt.Truncate(time.Microsecond), p.FXRateAt)
			ch := v.proc.Charges()[0]
			require.Equal(t, "USD", ch.Currency)
			require.Equal(t, int64(22_23), ch.Amount)
			v.requireStored(p)

			// Inside the price: the customer pays the converted price.
			p, err = v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(20_00)), ProductCurrency: "EUR",
				AdaptiveCurrencyFeesInclusive: new(true)})
			require.NoError(t, err)
			require.Equal(t, int64(21_69), p.Amount)
			require.Equal(t, int64(54), p.Fee)
			require.True(t, p.FeesInclusive)
			require.Equal(t, int64(21_69), v.proc.Charges()[1].Amount)
			v.requireStored(p)

			// The event carries the same payment.
			evs := v.events()
			last := evs[len(evs)-1]
			require.Equal(t, EventPaymentSucceeded, last.Type)
			require.Contains(t, string(last.Data), `"fx_rate":"1.0843"`)
			require.Contains(t, string(last.Data), `"fee":54`)
		})

		t.Run("the subscription's fees flag is the default", func(t *testing.T) {
			v := fxEnv(t, newStore, 250)
			s := v.fxSubscribe(v.customer().ID, processor.CardOK, "USD", true)
			p, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(20_00)), ProductCurrency: "EUR"})
			require.NoError(t, err)
			require.True(t, p.FeesInclusive)
			require.Equal(t, int64(21_69), p.Amount)
			require.Equal(t, int64(54), p.Fee)
		})

		t.Run("same currency: no conversion, no fee", func(t *testing.T) {
			v := fxEnv(t, newStore, 250)
			s := v.fxSubscribe(v.customer().ID, processor.CardOK, "USD", false)
			for _, cur := range []string{"", "USD"} {
				p, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(20_00)), ProductCurrency: cur})
				require.NoError(t, err)
				require.Equal(t, int64(20_00), p.Amount)
				require.Zero(t, p.Fee)
				require.Zero(t, p.ProductAmount)
				require.Empty(t, p.ProductCurrency+p.FXRate+p.FXSource)
				require.True(t, p.FXRateAt.IsZero())
				v.requireStored(p)
			}
		})

		t.Run("exponents 0 and 3", func(t *testing.T) {
			v := fxEnv(t, newStore, 250)
			c := v.customer()
			usd := v.fxSubscribe(c.ID, processor.CardOK, "USD", false)
			kwd := v.fxSubscribe(c.ID, processor.CardOK, "KWD", false)
			jpy := v.fxSubscribe(c.ID, processor.CardOK, "JPY", false)
			for _, tc := range []struct {
				name           string
				sub            string
				price          int64
				from           string
				amount, fee    int64
				inclusive      bool
				currency, rate string
			}{
				// 1000 JPY x 0.0067 = 6.70 USD; fee 16.75 -> 17.
				{"yen to dollars", usd.ID, 1000, "JPY", 6_87, 17, false, "USD", "0.0067"},
				// 12.34 USD x 0.3075 = 3.794550 KWD -> 3.795; fee 94.875 -> 95 fils.
				{"dollars to dinars", kwd.ID, 12_34, "USD", 3_890, 95, false, "KWD", "0.3075"},
				{"dollars to dinars, inclusive", kwd.ID, 12_34, "USD", 3_795, 95, true, "KWD", "0.3075"},
				// 1.00 USD x 151.5 = 151.5 JPY -> 152 (half up); fee 3.8 -> 4.
				{"dollars to yen", jpy.ID, 1_00, "USD", 156, 4, false, "JPY", "151.5"},
				// 0.01 USD = 1.515 JPY -> 2 yen; fee 0.05 -> 0.
				{"a cent to yen", jpy.ID, 1, "USD", 2, 0, true, "JPY", "151.5"},
			} {
				p, err := v.Charge(v.ctx, tc.sub, ChargeParams{ProductPrice: &tc.price, ProductCurrency: tc.from,
					AdaptiveCurrencyFeesInclusive: &tc.inclusive})
				require.NoError(t, err, tc.name)
				require.Equal(t, tc.currency, p.Currency, tc.name)
				require.Equal(t, tc.amount, p.Amount, tc.name)
				require.Equal(t, tc.fee, p.Fee, tc.name)
				require.Equal(t, tc.rate, p.FXRate, tc.name)
				require.Equal(t, tc.price, p.ProductAmount, tc.name)
				v.requireStored(p)
			}
		})

		t.Run("the wallet applies to the converted total", func(t *testing.T) {
			v := fxEnv(t, newStore, 250)
			c := v.customer()
			s := v.fxSubscribe(c.ID, processor.CardOK, "USD", false)
			v.odFund(c.ID, 10_00, "USD")
			p, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(20_00)), ProductCurrency: "EUR"})
			require.NoError(t, err)
			require.Equal(t, int64(22_23), p.Amount)
			require.Equal(t, int64(10_00), p.WalletAmount)
			require.Equal(t, int64(12_23), p.ProcessorAmount)
			require.Equal(t, int64(12_23), v.proc.Charges()[0].Amount)
			require.Zero(t, v.odBalance(c.ID, "USD").Amount)
			v.checkLedger(c.ID)

			// Covered by the wallet in full: no processor call.
			v.odFund(c.ID, 30_00, "USD")
			p, err = v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(20_00)), ProductCurrency: "EUR"})
			require.NoError(t, err)
			require.Equal(t, subscription.PaymentSucceeded, p.Status)
			require.Equal(t, int64(22_23), p.WalletAmount)
			require.Len(t, v.proc.Charges(), 1)
			require.Equal(t, int64(30_00-22_23), v.odBalance(c.ID, "USD").Amount)
			v.requireStored(p)
		})

		t.Run("refusals change nothing", func(t *testing.T) {
			v := fxEnv(t, newStore, 250)
			c := v.customer()
			s := v.fxSubscribe(c.ID, processor.CardOK, "USD", false)
			v.odFund(c.ID, 5_00, "USD")
			// Just below the largest EUR price whose conversion fits: the
			// fee on top overflows.
			nearMax := decimal.NewFromInt(math.MaxInt64).Div(decimal.RequireFromString("1.0843")).IntPart() - 10
			before, eventsBefore := v.odBalance(c.ID, "USD"), len(v.events())
			for _, tc := range []struct {
				name   string
				p      ChargeParams
				err    error
				code   string
				status int
			}{
				{"no rate", ChargeParams{ProductPrice: new(int64(10_00)), ProductCurrency: "GBP"}, fx.ErrNoRate,
					"fx_rate_unavailable", http.StatusUnprocessableEntity},
				{"no rate, with a key", ChargeParams{ProductPrice: new(int64(10_00)), ProductCurrency: "GBP", IdempotencyKey: "gbp"},
					fx.ErrNoRate, "fx_rate_unavailable", http.StatusUnprocessableEntity},
				{"no inverse", ChargeParams{ProductPrice: new(int64(10_00)), ProductCurrency: "KWD"}, fx.ErrNoRate,
					"fx_rate_unavailable", http.StatusUnprocessableEntity},
				{"unknown currency", ChargeParams{ProductPrice: new(int64(10_00)), ProductCurrency: "XYZ"}, money.ErrUnknownCurrency,
					"unknown_currency", http.StatusUnprocessableEntity},
				{"conversion overflows", ChargeParams{ProductPrice: new(int64(math.MaxInt64 / 100 * 93)), ProductCurrency: "EUR"},
					money.ErrOverflow, "amount_overflow", http.StatusUnprocessableEntity},
				{"fee on top overflows", ChargeParams{ProductPrice: &nearMax, ProductCurrency: "EUR"},
					money.ErrOverflow, "amount_overflow", http.StatusUnprocessableEntity},
				{"converts to zero", ChargeParams{ProductPrice: new(int64(1)), ProductCurrency: "KRW"},
					subscription.ErrInvalidPrice, "invalid_product_price", http.StatusUnprocessableEntity},
			} {
				_, err := v.Charge(v.ctx, s.ID, tc.p)
				require.ErrorIs(t, err, tc.err, tc.name)
				require.Equal(t, tc.code, ErrorCode(err), tc.name)
				require.Equal(t, tc.status, HTTPStatus(err), tc.name)
			}
			require.Equal(t, before, v.odBalance(c.ID, "USD"))
			require.Len(t, v.events(), eventsBefore)
			require.Empty(t, v.odPayments(c.ID))
			require.Zero(t, v.proc.ChargeCount())
			// The same price with the fee inside fits.
			p, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: &nearMax, ProductCurrency: "EUR",
				AdaptiveCurrencyFeesInclusive: new(true)})
			require.NoError(t, err)
			require.Greater(t, p.Amount, int64(math.MaxInt64-20))
			require.Equal(t, p.Amount, p.WalletAmount+p.ProcessorAmount)
			v.requireStored(p)
		})

		t.Run("idempotent replay is by price and product currency, not by rate", func(t *testing.T) {
			src := &mutableRates{rates: map[string]decimal.Decimal{}}
			src.set("EUR/USD", "1.10")
			src.set("JPY/USD", "0.0067")
			v := newEnv(t, newStore, WithFX(src), WithAdaptiveFee(100))
			c := v.customer()
			s := v.fxSubscribe(c.ID, processor.CardOK, "USD", false)
			p, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(10_00)), ProductCurrency: "EUR", IdempotencyKey: "k"})
			require.NoError(t, err)
			require.Equal(t, int64(11_11), p.Amount) // 1100 + 11
			require.Equal(t, "test-feed", p.FXSource)
			require.True(t, p.FXRateAt.IsZero())
			v.requireStored(p)
			events := len(v.events())

			src.set("EUR/USD", "1.20") // the rate moved
			again, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(10_00)), ProductCurrency: "eur", IdempotencyKey: "k"})
			require.NoError(t, err)
			require.Equal(t, p, again)
			src.set("EUR/USD", "") // the rate went away
			again, err = v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(10_00)), ProductCurrency: "EUR", IdempotencyKey: "k"})
			require.NoError(t, err)
			require.Equal(t, p, again)
			require.Equal(t, 1, v.proc.ChargeCount())
			require.Len(t, v.events(), events)

			src.set("EUR/USD", "1.10")
			for name, cp := range map[string]ChargeParams{
				"other product currency":      {ProductPrice: new(int64(10_00)), ProductCurrency: "JPY", IdempotencyKey: "k"},
				"the charged currency":        {ProductPrice: new(int64(10_00)), ProductCurrency: "USD", IdempotencyKey: "k"},
				"no product currency":         {ProductPrice: new(int64(10_00)), IdempotencyKey: "k"},
				"other price":                 {ProductPrice: new(int64(10_01)), ProductCurrency: "EUR", IdempotencyKey: "k"},
				"fee inside":                  {ProductPrice: new(int64(10_00)), ProductCurrency: "EUR", IdempotencyKey: "k", AdaptiveCurrencyFeesInclusive: new(true)},
				"other price, rate gone, too": {ProductPrice: new(int64(10_00)), ProductCurrency: "GBP", IdempotencyKey: "k"},
			} {
				_, err := v.Charge(v.ctx, s.ID, cp)
				require.ErrorIs(t, err, subscription.ErrIdempotencyConflict, name)
				require.Equal(t, http.StatusConflict, HTTPStatus(err), name)
			}
			require.Equal(t, 1, v.proc.ChargeCount())
			require.Len(t, v.events(), events)

			// A key first used without conversion conflicts with a converted
			// request under it, and replays as itself.
			q, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(10_00)), IdempotencyKey: "plain"})
			require.NoError(t, err)
			_, err = v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(10_00)), ProductCurrency: "EUR", IdempotencyKey: "plain"})
			require.ErrorIs(t, err, subscription.ErrIdempotencyConflict)
			again, err = v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(10_00)), ProductCurrency: "USD", IdempotencyKey: "plain"})
			require.NoError(t, err)
			require.Equal(t, q, again)
		})

		t.Run("a collection of a converted debt carries its terms", func(t *testing.T) {
			v := fxEnv(t, newStore, 250)
			c := v.customer()
			s := v.fxSubscribe(c.ID, processor.CardOK, "USD", false)
			v.proc.Script(processor.CardOK, processor.DoNotHonor)
			debt, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(20_00)), ProductCurrency: "EUR"})
			require.NoError(t, err)
			require.Equal(t, subscription.PaymentFailed, debt.Status)
			require.Equal(t, int64(22_23), debt.Amount)
			v.requireStored(debt)
			p, err := v.CollectOverdue(v.ctx, debt.ID, CollectOverdueParams{IdempotencyKey: "collect"})
			require.NoError(t, err)
			require.Equal(t, subscription.PaymentSucceeded, p.Status)
			require.Equal(t, debt.ID, p.RetryOf)
			require.Equal(t, debt.Amount, p.Amount)
			require.Equal(t, [6]any{debt.Fee, debt.ProductAmount, debt.ProductCurrency, debt.FXRate, debt.FXSource, debt.FXRateAt},
				[6]any{p.Fee, p.ProductAmount, p.ProductCurrency, p.FXRate, p.FXSource, p.FXRateAt})
			v.requireStored(p)
			again, err := v.CollectOverdue(v.ctx, debt.ID, CollectOverdueParams{IdempotencyKey: "collect"})
			require.NoError(t, err)
			require.Equal(t, p, again)
		})

		t.Run("a cancelled subscription: not active, and replays", func(t *testing.T) {
			src := &mutableRates{rates: map[string]decimal.Decimal{}}
			src.set("EUR/USD", "1.10")
			v := newEnv(t, newStore, WithFX(src))
			s := v.fxSubscribe(v.customer().ID, processor.CardOK, "USD", false)
			p, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(10_00)), ProductCurrency: "EUR", IdempotencyKey: "k"})
			require.NoError(t, err)
			_, err = v.CancelSubscription(v.ctx, s.ID)
			require.NoError(t, err)
			calls := src.calls
			_, err = v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(10_00)), ProductCurrency: "GBP"})
			require.ErrorIs(t, err, subscription.ErrNotActive, "not active comes first, whatever the rate")
			again, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(10_00)), ProductCurrency: "EUR", IdempotencyKey: "k"})
			require.NoError(t, err)
			require.Equal(t, p, again)
			require.Equal(t, calls, src.calls, "no rate asked for a subscription that cannot be charged")
			require.Equal(t, 1, v.proc.ChargeCount())
		})

		t.Run("without WithFX the product currency is the currency charged", func(t *testing.T) {
			v := newEnv(t, newStore, WithAdaptiveFee(250))
			s := v.fxSubscribe(v.customer().ID, processor.CardOK, "USD", false)
			p, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(300_00)), ProductCurrency: "INR"})
			require.NoError(t, err)
			require.Equal(t, "INR", p.Currency)
			require.Equal(t, int64(300_00), p.Amount)
			require.Zero(t, p.Fee)
			require.Empty(t, p.FXRate)
		})
	})
}

func TestAdaptiveCurrencyOptions(t *testing.T) {
	for _, o := range []Option{WithFX(nil), WithAdaptiveFee(-1), WithAdaptiveFee(fx.MaxFeeBP + 1)} {
		_, err := New(memory.New(), WithoutProcessor(), o)
		require.ErrorIs(t, err, ErrInvalidConfig)
	}
	rates, err := fx.ParseStatic(time.Time{}, "EUR/USD=1.1")
	require.NoError(t, err)
	e, err := New(memory.New(), WithoutProcessor(), WithFX(rates), WithAdaptiveFee(fx.MaxFeeBP))
	require.NoError(t, err)
	on, bp := e.AdaptiveCurrency()
	require.True(t, on)
	require.Equal(t, int64(fx.MaxFeeBP), bp)
	e, err = New(memory.New(), WithoutProcessor())
	require.NoError(t, err)
	on, bp = e.AdaptiveCurrency()
	require.False(t, on)
	require.Zero(t, bp)
}

// TestAdaptiveCurrencyConcurrentReplays races converted charges under one
// key while the rate moves between them: one processor charge, one
// payment, every caller gets it.
func TestAdaptiveCurrencyConcurrentReplays(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		src := &mutableRates{rates: map[string]decimal.Decimal{}}
		src.set("EUR/USD", "1.10")
		v := newEnv(t, newStore, WithFX(src), WithAdaptiveFee(100))
		c := v.customer()
		s := v.fxSubscribe(c.ID, processor.CardOK, "USD", false)
		v.odFund(c.ID, 3_00, "USD")
		const n = 16
		var wg sync.WaitGroup
		got := make([]subscription.Payment, n)
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if i%4 == 0 {
					src.set("EUR/USD", []string{"1.10", "1.20"}[i%8/4])
				}
				got[i], errs[i] = v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(10_00)), ProductCurrency: "EUR",
					IdempotencyKey: "race"})
			}()
		}
		wg.Wait()
		for i := range n {
			require.NoError(t, errs[i], i)
			require.Equal(t, got[0].ID, got[i].ID, i)
		}
		require.Len(t, v.odPayments(c.ID), 1)
		p := v.odPayments(c.ID)[0]
		require.Contains(t, []int64{11_11, 12_12}, p.Amount) // 1100 + 11 or 1200 + 12
		require.Equal(t, int64(3_00), p.WalletAmount)
		require.Equal(t, 1, v.proc.ChargeCount())
		require.Zero(t, v.odBalance(c.ID, "USD").Amount)
		v.checkLedger(c.ID)
	})
}
