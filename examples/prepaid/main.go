// Command prepaid shows a prepaid wallet: a customer deposits money in USD
// and INR, purchases are debited from the balance, a purchase larger than
// the balance is refused, and a low-balance check warns before the money
// runs out. It runs on the embedded bbolt store in a temporary directory.
//
//	go run ./examples/prepaid
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/wallet"
)

func main() {
	dbPath := flag.String("db", "", "bbolt file (default: a new file in a temp dir)")
	flag.Parse()
	if *dbPath == "" {
		dir, err := os.MkdirTemp("", "coffer-prepaid-")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(dir)
		*dbPath = filepath.Join(dir, "coffer.db")
	}
	ctx := context.Background()
	// A wallet.balance_low event fires when USD drops below $10.00.
	eng, err := coffer.Open(*dbPath, coffer.WithoutProcessor(), coffer.WithLowBalanceThreshold("USD", 10_00))
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close()

	c, err := eng.CreateCustomer(ctx, customer.Params{
		Name: new("Priya Sharma"), Email: new("priya@example.com"),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("customer %s (%s), wallet opened in %v\n\n", c.ID, c.Name, eng.Currencies())

	post := func(req coffer.EntryParams) {
		res, err := eng.CreateEntry(ctx, c.ID, req)
		switch {
		case errors.Is(err, wallet.ErrInsufficientFunds):
			fmt.Printf("  REFUSED %-28s %s %s: %v (HTTP %d)\n", req.Reason, money.Format(req.Amount, req.Currency), req.Currency, err, coffer.HTTPStatus(err))
			return
		case err != nil:
			log.Fatal(err)
		}
		sign := "+"
		if req.Type == ledger.Debit {
			sign = "-"
		}
		fmt.Printf("  %-36s %s%s %s -> balance %s\n", req.Reason, sign, money.Format(req.Amount, req.Currency), req.Currency,
			money.Format(res.Balance.Amount, req.Currency))
	}
	amount := func(s, cur string) int64 {
		a, err := money.Parse(s, cur)
		if err != nil {
			log.Fatal(err)
		}
		return a.Minor
	}

	fmt.Println("deposits (multi-currency funding):")
	post(coffer.EntryParams{Amount: amount("25.00", "USD"), Currency: "USD", Type: ledger.Credit, Reason: "Prepaid deposit", IdempotencyKey: "dep-usd-1"})
	post(coffer.EntryParams{Amount: amount("1500.00", "INR"), Currency: "INR", Type: ledger.Credit, Reason: "Prepaid deposit", IdempotencyKey: "dep-inr-1"})
	post(coffer.EntryParams{Amount: amount("5.00", "USD"), Currency: "USD", Type: ledger.Credit, Reason: "Welcome bonus", IdempotencyKey: "welcome"})
	// A network retry of the same deposit is a replay, not a second deposit.
	again, err := eng.CreateEntry(ctx, c.ID, coffer.EntryParams{Amount: amount("25.00", "USD"), Currency: "USD", Type: ledger.Credit, Reason: "Prepaid deposit", IdempotencyKey: "dep-usd-1"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("  retried deposit dep-usd-1: replayed=%v, balance still %s USD\n\n", again.Replayed, money.Format(again.Balance.Amount, "USD"))

	fmt.Println("purchases:")
	for i, p := range []struct{ what, price, cur string }{
		{"API credits pack", "12.50", "USD"}, {"Storage add-on", "9.99", "USD"},
		{"Regional plan", "799.00", "INR"}, {"Premium support", "10.00", "USD"},
	} {
		post(coffer.EntryParams{Amount: amount(p.price, p.cur), Currency: p.cur, Type: ledger.Debit, Reason: p.what,
			IdempotencyKey: fmt.Sprintf("order-%d", i+1)})
		lowCheck(ctx, eng, c.ID)
	}

	fmt.Println("\nbalances:")
	bs, err := eng.Balances(ctx, c.ID)
	if err != nil {
		log.Fatal(err)
	}
	for _, b := range bs {
		fmt.Printf("  %s %12s  (held %s)\n", b.Currency, money.Format(b.Amount, b.Currency), money.Format(b.Held, b.Currency))
	}
	fmt.Println("\nledger (newest first):")
	list, err := eng.ListEntries(ctx, coffer.EntryListParams{CustomerID: c.ID, ListParams: coffer.ListParams{Limit: 100}})
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range list.Data {
		fmt.Printf("  %-6s %-3s %10s  %10s -> %-10s %s\n", e.Type, e.Currency, money.Format(e.Amount, e.Currency),
			money.Format(e.BalanceBefore, e.Currency), money.Format(e.BalanceAfter, e.Currency), e.Reason)
	}
}

// lowCheck is the low-balance check an application runs (or reacts to the
// wallet.balance_low event instead).
func lowCheck(ctx context.Context, eng *coffer.Engine, customerID string) {
	b, err := eng.Balance(ctx, customerID, "USD")
	if err != nil {
		log.Fatal(err)
	}
	if b.Low {
		fmt.Printf("    low balance: only %s USD left, ask the customer to top up\n", money.Format(b.Available(), "USD"))
	}
}
