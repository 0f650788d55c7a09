package coffer

import (
	"errors"
	"math/big"
	"reflect"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/fx"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store/memory"
	"github.com/cofferhq/coffer/subscription"
)

// halfUp rounds a non-negative rational half up to an integer.
func halfUp(r *big.Rat) *big.Int {
	n := new(big.Int).Mul(r.Num(), big.NewInt(2))
	n.Add(n, r.Denom())
	return n.Div(n, new(big.Int).Mul(r.Denom(), big.NewInt(2)))
}

// FuzzAdaptiveCharge charges a USD subscription prices in arbitrary
// currencies at arbitrary rates and fees, and checks the payment against
// an independent big.Rat computation of the conversion and the fee: the
// converted price is price × rate × 10^(exp(USD) − exp(from)) rounded half
// up, the fee converted × bp / 10000 rounded half up, inside the amount or
// on top of it; the wallet pays min(available, amount); a refusal is a 4xx
// that charges nothing and stores no payment.
func FuzzAdaptiveCharge(f *testing.F) {
	f.Add(int64(20_00), "EUR", "1.0843", uint16(250), false, uint32(0))
	f.Add(int64(1000), "JPY", "0.0067", uint16(250), true, uint32(5_00))
	f.Add(int64(1), "KWD", "3.2525", uint16(9999), false, uint32(0))
	f.Add(int64(1), "KRW", "0.0004", uint16(0), false, uint32(0))
	f.Add(int64(9223372036854775807), "EUR", "1.5", uint16(1), false, uint32(0))
	f.Add(int64(100), "usd", "2", uint16(500), false, uint32(1))
	f.Add(int64(100), "XYZ", "1", uint16(0), true, uint32(0))
	f.Add(int64(-5), "EUR", "1", uint16(0), true, uint32(0))
	f.Add(int64(7), "", "", uint16(0), true, uint32(3))
	src := &mutableRates{rates: map[string]decimal.Decimal{}}
	w := newFzWorldOn(f, memory.New(), WithFX(src), WithAdaptiveFee(250))
	c, err := w.eng.CreateCustomer(w.ctx, customer.Params{Name: new("Fuzz")})
	if err != nil {
		f.Fatal(err)
	}
	prod, err := w.eng.CreateProduct(w.ctx, ProductParams{Name: "p", Price: 1, Currency: "USD"})
	if err != nil {
		f.Fatal(err)
	}
	res, err := w.eng.CreateSubscription(w.ctx, SubscriptionParams{ProductID: prod.ID, Quantity: 1, CustomerID: c.ID,
		PaymentMethod: processor.CardOK, OnDemand: &OnDemand{MandateOnly: new(true)}})
	if err != nil {
		f.Fatal(err)
	}
	sub := res.Subscription.ID
	f.Fuzz(func(t *testing.T, price int64, currency, rate string, bp uint16, inclusive bool, topUp uint32) {
		fee := int64(bp) % (fx.MaxFeeBP + 1)
		w.eng.fxFeeBP = fee // between charges only: the fuzz loop is sequential
		if len(rate) > 40 {
			t.Skip("rate string too long")
		}
		from, lerr := money.Lookup(currency)
		v, perr := decimal.NewFromString(rate)
		if perr == nil && (v.Exponent() < -40 || v.Exponent() > 40) {
			t.Skip("rate exponent out of the fuzzed range")
		}
		if lerr == nil {
			pair := from.Code + "/USD"
			src.set(pair, "")
			if perr == nil {
				src.set(pair, v.String())
			}
		}
		if topUp%1000 > 0 {
			if _, err := w.eng.CreateEntry(w.ctx, c.ID, EntryParams{Amount: int64(topUp % 1000), Currency: "USD",
				Type: ledger.Credit, Reason: "top up"}); err != nil {
				t.Fatal(err)
			}
		}
		before, err := w.eng.Balance(w.ctx, c.ID, "USD")
		if err != nil {
			t.Fatal(err)
		}
		charges := w.proc.ChargeCount()
		pay, err := w.eng.Charge(w.ctx, sub, ChargeParams{ProductPrice: &price, ProductCurrency: currency,
			AdaptiveCurrencyFeesInclusive: &inclusive})
		after, berr := w.eng.Balance(w.ctx, c.ID, "USD")
		if berr != nil {
			t.Fatal(berr)
		}
		if err != nil {
			if errors.Is(err, fx.ErrInvalidRate) {
				// The fuzzed rate is out of bounds: the source's fault, a 500.
				if perr != nil || fx.CheckRate(v) == nil {
					t.Fatalf("invalid rate %q reported for a valid one: %v", rate, err)
				}
			} else {
				requireClientError(t, err)
			}
			if w.proc.ChargeCount() != charges || !reflect.DeepEqual(before, after) {
				t.Fatalf("refused charge (%v) changed the wallet or charged", err)
			}
			return
		}
		if pay.Currency != "USD" || pay.Status != subscription.PaymentSucceeded ||
			pay.WalletAmount+pay.ProcessorAmount != pay.Amount || pay.WalletAmount != min(before.Available(), pay.Amount) {
			t.Fatalf("payment %+v (wallet had %d)", pay, before.Available())
		}
		if currency == "" {
			from, lerr = money.Currency{Code: "USD", Exponent: 2}, nil // the subscription's
		}
		if lerr != nil {
			t.Fatalf("charged a price in unknown currency %q", currency)
		}
		if from.Code == "USD" {
			if pay.Amount != price || pay.Fee != 0 || pay.ProductCurrency != "" || pay.FXRate != "" {
				t.Fatalf("unconverted charge %+v", pay)
			}
			return
		}
		// The independent computation.
		r, ok := new(big.Rat).SetString(v.String())
		if !ok {
			t.Fatalf("rate %s", v)
		}
		conv := new(big.Rat).Mul(new(big.Rat).SetInt64(price), r)
		exp := 2 - from.Exponent
		scale := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(max(exp, -exp))), nil))
		if exp >= 0 {
			conv.Mul(conv, scale)
		} else {
			conv.Quo(conv, scale)
		}
		converted := halfUp(conv)
		wantFee := halfUp(new(big.Rat).SetFrac(new(big.Int).Mul(converted, big.NewInt(fee)), big.NewInt(10_000)))
		total := new(big.Int).Set(converted)
		if !inclusive {
			total.Add(total, wantFee)
		}
		if !total.IsInt64() || total.Int64() != pay.Amount || wantFee.Int64() != pay.Fee || pay.FeesInclusive != inclusive {
			t.Fatalf("%d %s at %s, %d bp, inclusive %v: want amount %s fee %s, got %+v", price, from.Code, v, fee,
				inclusive, total, wantFee, pay)
		}
		if pay.ProductAmount != price || pay.ProductCurrency != from.Code || pay.FXRate != v.String() || pay.FXSource != "test-feed" {
			t.Fatalf("recorded terms %+v", pay)
		}
		stored, err := w.eng.Payment(w.ctx, pay.ID)
		if err != nil || !reflect.DeepEqual(stored, pay) {
			t.Fatalf("stored %+v, %v; returned %+v", stored, err, pay)
		}
	})
}
