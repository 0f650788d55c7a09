// Command adaptive-currency walks through coffer's adaptive currency on the
// embedded bbolt store (a file in a temporary directory) with the
// deterministic test processor and a static table of exchange rates:
//
//  1. a customer with 10.00 USD in their wallet subscribes in USD;
//  2. a charge priced at 20.00 EUR is converted at EUR/USD 1.0843 (21.69
//     USD, rounded half up to the cent) and a 2.5 % adaptive-currency fee
//     is added on top (0.54): 22.23 USD, of which the wallet pays 10.00
//     and the card 12.23; the payment records the fee and the rate;
//  3. the same price with adaptive_currency_fees_inclusive: the customer
//     pays 21.69 USD, the fee of 0.54 inside it;
//  4. a price in GBP, which the table has no rate for, is refused with
//     fx_rate_unavailable and changes nothing.
//
// It prints the payments and exits with status 1 if any outcome is not
// the expected one.
//
//	go run ./examples/adaptive-currency
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/fx"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/subscription"
)

func main() {
	log.SetFlags(0)
	if err := run(); err != nil {
		log.Fatal("adaptive-currency: ", err)
	}
}

func check(ok bool, format string, args ...any) error {
	if ok {
		return nil
	}
	return fmt.Errorf("unexpected: "+format, args...)
}

func amt(minor int64, cur string) string { return money.Amount{Minor: minor, Currency: cur}.String() }

func show(p subscription.Payment) {
	fmt.Printf("payment %s: %s %s (price %s at %s/%s %s from %q; fee %s %s the price)\n", p.ID, p.Status,
		amt(p.Amount, p.Currency), amt(p.ProductAmount, p.ProductCurrency), p.ProductCurrency, p.Currency, p.FXRate,
		p.FXSource, amt(p.Fee, p.Currency), map[bool]string{true: "inside", false: "on top of"}[p.FeesInclusive])
	fmt.Printf("  wallet %s + card %s\n", amt(p.WalletAmount, p.Currency), amt(p.ProcessorAmount, p.Currency))
}

func run() error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "coffer-adaptive-currency-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	rates, err := fx.ParseStatic(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), "EUR/USD=1.0843,USD/JPY=151.2")
	if err != nil {
		return err
	}
	proc := processor.NewTest(nil)
	eng, err := coffer.Open(filepath.Join(dir, "billing.db"), coffer.WithProcessor(proc),
		coffer.WithFX(rates), coffer.WithAdaptiveFee(250))
	if err != nil {
		return err
	}
	defer eng.Close()

	// 1. A USD customer with 10.00 in the wallet, a USD subscription.
	c, err := eng.CreateCustomer(ctx, customer.Params{Name: new("Ada Lovelace"), Email: new("ada@example.com")})
	if err != nil {
		return err
	}
	if _, err := eng.CreateEntry(ctx, c.ID, coffer.EntryParams{Amount: 10_00, Currency: "USD", Type: ledger.Credit,
		Reason: "Prepaid deposit", IdempotencyKey: "deposit-" + c.ID}); err != nil {
		return err
	}
	prod, err := eng.CreateProduct(ctx, coffer.ProductParams{Name: "Translation", Price: 20_00, Currency: "USD"})
	if err != nil {
		return err
	}
	res, err := eng.CreateSubscription(ctx, coffer.SubscriptionParams{ProductID: prod.ID, Quantity: 1, CustomerID: c.ID,
		PaymentMethod: processor.CardOK, OnDemand: &coffer.OnDemand{MandateOnly: new(true)}})
	if err != nil {
		return err
	}
	sub := res.Subscription

	// 2. Priced in EUR, charged in USD, the fee on top.
	p, err := eng.Charge(ctx, sub.ID, coffer.ChargeParams{ProductPrice: new(int64(20_00)), ProductCurrency: "EUR",
		AdaptiveCurrencyFeesInclusive: new(false), IdempotencyKey: "order-1"})
	if err != nil {
		return err
	}
	show(p)
	if err := check(p.Status == subscription.PaymentSucceeded && p.Currency == "USD" && p.Amount == 22_23 && p.Fee == 54 &&
		p.WalletAmount == 10_00 && p.ProcessorAmount == 12_23 && p.FXRate == "1.0843", "%+v", p); err != nil {
		return err
	}

	// 3. The fee inside the price.
	p, err = eng.Charge(ctx, sub.ID, coffer.ChargeParams{ProductPrice: new(int64(20_00)), ProductCurrency: "EUR",
		AdaptiveCurrencyFeesInclusive: new(true), IdempotencyKey: "order-2"})
	if err != nil {
		return err
	}
	show(p)
	if err := check(p.Amount == 21_69 && p.Fee == 54 && p.ProcessorAmount == 21_69, "%+v", p); err != nil {
		return err
	}

	// 4. No rate for GBP: refused, nothing charged.
	before := proc.ChargeCount()
	_, err = eng.Charge(ctx, sub.ID, coffer.ChargeParams{ProductPrice: new(int64(20_00)), ProductCurrency: "GBP"})
	fmt.Printf("a GBP price: %s (%d %s)\n", coffer.ErrorCode(err), coffer.HTTPStatus(err), err)
	return check(errors.Is(err, fx.ErrNoRate) && proc.ChargeCount() == before, "GBP charge: %v", err)
}
