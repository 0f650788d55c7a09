package coffer

import (
	"math"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/fx"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

func TestAdaptiveCurrencyOneTime(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		t.Run("converts, records fee and rate, fee on top or inside", func(t *testing.T) {
			v := fxEnv(t, newStore, 250)
			c := v.customer()
			// 20.00 EUR x 1.0843 = 21.686 USD -> 2169 cents; fee 2.5 % of
			// 2169 = 54.225 -> 54; on top (the default): 2223.
			p, err := v.ChargeOneTime(v.ctx, c.ID, OneTimeParams{Amount: 20_00, Currency: "USD", ProductCurrency: "eur",
				PaymentMethod: processor.CardOK, Description: "order 1"})
			require.NoError(t, err)
			require.Equal(t, subscription.KindOneTime, p.Kind)
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
			require.Empty(t, p.SubscriptionID)
			ch := v.proc.Charges()[0]
			require.Equal(t, "USD", ch.Currency)
			require.Equal(t, int64(22_23), ch.Amount)
			v.requireStored(p)

			p, err = v.ChargeOneTime(v.ctx, c.ID, OneTimeParams{Amount: 20_00, Currency: "USD", ProductCurrency: "EUR",
				PaymentMethod: processor.CardOK, AdaptiveCurrencyFeesInclusive: new(true)})
			require.NoError(t, err)
			require.Equal(t, int64(21_69), p.Amount)
			require.Equal(t, int64(54), p.Fee)
			require.True(t, p.FeesInclusive)
			require.Equal(t, int64(21_69), v.proc.Charges()[1].Amount)
			v.requireStored(p)

			// Exponents: 12.34 USD x 0.3075 = 3.794550 -> 3.795 KWD; fee
			// 94.875 -> 95 fils on top.
			p, err = v.ChargeOneTime(v.ctx, c.ID, OneTimeParams{Amount: 12_34, Currency: "kwd", ProductCurrency: "USD",
				PaymentMethod: processor.CardOK})
			require.NoError(t, err)
			require.Equal(t, "KWD", p.Currency)
			require.Equal(t, int64(3_890), p.Amount)
			require.Equal(t, int64(95), p.Fee)
			v.requireStored(p)

			evs := v.events()
			last := evs[len(evs)-1]
			require.Equal(t, EventPaymentSucceeded, last.Type)
			require.Contains(t, string(last.Data), `"fx_rate":"0.3075"`)
			require.Contains(t, string(last.Data), `"fee":95`)
		})

		t.Run("same currency: no conversion, no fee", func(t *testing.T) {
			v := fxEnv(t, newStore, 250)
			c := v.customer()
			for _, cur := range []string{"", "USD", "usd"} {
				p, err := v.ChargeOneTime(v.ctx, c.ID, OneTimeParams{Amount: 20_00, Currency: "USD", ProductCurrency: cur,
					PaymentMethod: processor.CardOK, AdaptiveCurrencyFeesInclusive: new(false)})
				require.NoError(t, err)
				require.Equal(t, int64(20_00), p.Amount)
				require.Zero(t, p.Fee)
				require.Zero(t, p.ProductAmount)
				require.Empty(t, p.ProductCurrency+p.FXRate+p.FXSource)
				v.requireStored(p)
			}
		})

		t.Run("the wallet applies to the converted total", func(t *testing.T) {
			v := fxEnv(t, newStore, 250)
			c := v.customer()
			v.odFund(c.ID, 10_00, "USD")
			p, err := v.ChargeOneTime(v.ctx, c.ID, OneTimeParams{Amount: 20_00, Currency: "USD", ProductCurrency: "EUR",
				PaymentMethod: processor.CardOK})
			require.NoError(t, err)
			require.Equal(t, int64(22_23), p.Amount)
			require.Equal(t, int64(10_00), p.WalletAmount)
			require.Equal(t, int64(12_23), p.ProcessorAmount)
			require.Equal(t, int64(12_23), v.proc.Charges()[0].Amount)
			require.Zero(t, v.odBalance(c.ID, "USD").Amount)
			v.checkLedger(c.ID)
			v.requireStored(p)
		})

		t.Run("refusals change nothing", func(t *testing.T) {
			v := fxEnv(t, newStore, 250)
			c := v.customer()
			v.odFund(c.ID, 5_00, "USD")
			before, eventsBefore := v.odBalance(c.ID, "USD"), len(v.events())
			for _, tc := range []struct {
				name string
				p    OneTimeParams
				err  error
				code string
			}{
				{"no rate", OneTimeParams{Amount: 10_00, ProductCurrency: "GBP"}, fx.ErrNoRate, "fx_rate_unavailable"},
				{"no rate, with a key", OneTimeParams{Amount: 10_00, ProductCurrency: "GBP", IdempotencyKey: "gbp"},
					fx.ErrNoRate, "fx_rate_unavailable"},
				{"no inverse", OneTimeParams{Amount: 10_00, ProductCurrency: "KWD"}, fx.ErrNoRate, "fx_rate_unavailable"},
				{"unknown product currency", OneTimeParams{Amount: 10_00, ProductCurrency: "XYZ"}, money.ErrUnknownCurrency,
					"unknown_currency"},
				{"malformed product currency", OneTimeParams{Amount: 10_00, ProductCurrency: "E\x00R"}, ErrInvalidID,
					"invalid_id"},
				{"converts to zero", OneTimeParams{Amount: 1, ProductCurrency: "KRW"}, subscription.ErrInvalidPrice,
					"invalid_product_price"},
				{"conversion overflows", OneTimeParams{Amount: math.MaxInt64 / 100 * 93, ProductCurrency: "EUR"}, money.ErrOverflow,
					"amount_overflow"},
			} {
				tc.p.Currency, tc.p.PaymentMethod = "USD", processor.CardOK
				_, err := v.ChargeOneTime(v.ctx, c.ID, tc.p)
				require.ErrorIs(t, err, tc.err, tc.name)
				require.Equal(t, tc.code, ErrorCode(err), tc.name)
				require.Equal(t, http.StatusUnprocessableEntity, HTTPStatus(err), tc.name)
			}
			require.Equal(t, before, v.odBalance(c.ID, "USD"))
			require.Len(t, v.events(), eventsBefore)
			require.Empty(t, v.odPayments(c.ID))
			require.Zero(t, v.proc.ChargeCount())
		})

		t.Run("idempotent replay is by price and product currency, not by rate", func(t *testing.T) {
			src := &mutableRates{rates: map[string]decimal.Decimal{}}
			src.set("EUR/USD", "1.10")
			src.set("JPY/USD", "0.0067")
			v := newEnv(t, newStore, WithFX(src), WithAdaptiveFee(100))
			c := v.customer()
			req := OneTimeParams{Amount: 10_00, Currency: "USD", ProductCurrency: "EUR", PaymentMethod: processor.CardOK,
				IdempotencyKey: "k"}
			p, err := v.ChargeOneTime(v.ctx, c.ID, req)
			require.NoError(t, err)
			require.Equal(t, int64(11_11), p.Amount) // 1100 + 11
			require.Equal(t, "test-feed", p.FXSource)
			v.requireStored(p)
			events := len(v.events())

			src.set("EUR/USD", "1.20") // the rate moved
			again, err := v.ChargeOneTime(v.ctx, c.ID, req)
			require.NoError(t, err)
			require.Equal(t, p, again)
			src.set("EUR/USD", "") // the rate went away
			again, err = v.ChargeOneTime(v.ctx, c.ID, req)
			require.NoError(t, err)
			require.Equal(t, p, again)
			require.Equal(t, 1, v.proc.ChargeCount())
			require.Len(t, v.events(), events)

			src.set("EUR/USD", "1.10")
			with := func(f func(*OneTimeParams)) OneTimeParams { q := req; f(&q); return q }
			for name, q := range map[string]OneTimeParams{
				"other product currency": with(func(q *OneTimeParams) { q.ProductCurrency = "JPY" }),
				"the charged currency":   with(func(q *OneTimeParams) { q.ProductCurrency = "USD" }),
				"no product currency":    with(func(q *OneTimeParams) { q.ProductCurrency = "" }),
				"other price":            with(func(q *OneTimeParams) { q.Amount = 10_01 }),
				"fee inside":             with(func(q *OneTimeParams) { q.AdaptiveCurrencyFeesInclusive = new(true) }),
				"other payment method":   with(func(q *OneTimeParams) { q.PaymentMethod = processor.CardDoNotHonor }),
				"rate gone, too":         with(func(q *OneTimeParams) { q.ProductCurrency = "GBP" }),
			} {
				_, err := v.ChargeOneTime(v.ctx, c.ID, q)
				require.ErrorIs(t, err, subscription.ErrIdempotencyConflict, name)
				require.Equal(t, http.StatusConflict, HTTPStatus(err), name)
			}
			require.Equal(t, 1, v.proc.ChargeCount())
			require.Len(t, v.events(), events)

			// A key first used without conversion conflicts with a converted
			// request under it, and replays as itself.
			plain := OneTimeParams{Amount: 10_00, Currency: "USD", PaymentMethod: processor.CardOK, IdempotencyKey: "plain"}
			q, err := v.ChargeOneTime(v.ctx, c.ID, plain)
			require.NoError(t, err)
			_, err = v.ChargeOneTime(v.ctx, c.ID, with(func(q *OneTimeParams) { q.IdempotencyKey = "plain" }))
			require.ErrorIs(t, err, subscription.ErrIdempotencyConflict)
			plain.ProductCurrency = "USD"
			again, err = v.ChargeOneTime(v.ctx, c.ID, plain)
			require.NoError(t, err)
			require.Equal(t, q, again)
		})

		t.Run("without WithFX: as before, and another product currency is refused", func(t *testing.T) {
			v := newEnv(t, newStore, WithAdaptiveFee(250), WithCurrencies("USD", "INR"))
			c := v.customer()
			p, err := v.ChargeOneTime(v.ctx, c.ID, OneTimeParams{Amount: 300_00, Currency: "INR", PaymentMethod: processor.CardOK})
			require.NoError(t, err)
			require.Equal(t, "INR", p.Currency)
			require.Equal(t, int64(300_00), p.Amount)
			require.Zero(t, p.Fee)
			require.Empty(t, p.FXRate+p.ProductCurrency)
			same, err := v.ChargeOneTime(v.ctx, c.ID, OneTimeParams{Amount: 300_00, Currency: "INR", ProductCurrency: "inr",
				PaymentMethod: processor.CardOK})
			require.NoError(t, err)
			require.Equal(t, p.Amount, same.Amount)
			require.Empty(t, same.ProductCurrency)
			events := len(v.events())
			_, err = v.ChargeOneTime(v.ctx, c.ID, OneTimeParams{Amount: 300_00, Currency: "INR", ProductCurrency: "USD",
				PaymentMethod: processor.CardOK})
			require.ErrorIs(t, err, ErrFXOff)
			require.Equal(t, "invalid_request", ErrorCode(err))
			require.Len(t, v.events(), events)
			require.Equal(t, 2, v.proc.ChargeCount())
		})
	})
}

// TestAdaptiveCurrencyOneTimeInHostTx: a converted one-time payment is
// refused in a host transaction (the wallet check there is on the price as
// given), and writes nothing; an unconverted one still runs.
func TestAdaptiveCurrencyOneTimeInHostTx(t *testing.T) {
	rates, err := fx.ParseStatic(fxAt, fxTestRates)
	require.NoError(t, err)
	h := newHostEnv(t, WithFX(rates), WithAdaptiveFee(250))
	c := h.customer()
	_, err = h.CreateEntry(h.ctx, c.ID, EntryParams{Amount: 100_00, Currency: "USD", Type: ledger.Credit})
	require.NoError(t, err)
	events := len(h.events())

	tx := h.begin()
	te := h.InTx(h.pg.HostTx(tx))
	_, err = te.ChargeOneTime(h.ctx, c.ID, OneTimeParams{Amount: 10_00, Currency: "USD", ProductCurrency: "EUR",
		PaymentMethod: processor.CardOK})
	require.ErrorIs(t, err, ErrProcessorInHostTx)
	require.Equal(t, "processor_in_host_tx", ErrorCode(err))
	pay, err := te.ChargeOneTime(h.ctx, c.ID, OneTimeParams{Amount: 10_00, Currency: "USD", ProductCurrency: "USD",
		PaymentMethod: processor.CardOK})
	require.NoError(t, err)
	require.Equal(t, int64(10_00), pay.WalletAmount)
	require.Empty(t, pay.FXRate)
	require.NoError(t, tx.Commit(h.ctx))
	require.Equal(t, int64(90_00), h.balance(c.ID).Amount)
	require.Len(t, h.events(), events+2) // payment.succeeded and the balance change
	require.Zero(t, h.proc.ChargeCount())
}

// TestAdaptiveCurrencyOneTimeConcurrentReplays: one key raced while the
// rate moves: one payment, one processor call, the wallet debited once.
func TestAdaptiveCurrencyOneTimeConcurrentReplays(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		src := &mutableRates{rates: map[string]decimal.Decimal{}}
		src.set("EUR/USD", "1.10")
		v := newEnv(t, newStore, WithFX(src), WithAdaptiveFee(100))
		c := v.customer()
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
				got[i], errs[i] = v.ChargeOneTime(v.ctx, c.ID, OneTimeParams{Amount: 10_00, ProductCurrency: "EUR",
					Currency: "USD", PaymentMethod: processor.CardOK, IdempotencyKey: "race"})
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
