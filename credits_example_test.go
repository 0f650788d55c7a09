package coffer_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/clock"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/store/memory"
)

// A granted welcome bonus that expires: a debit takes it before the paid
// top-up (it expires, the top-up does not), ExpiringCredits shows what is
// left of it, and ExpireCredits debits its remainder once its expiry
// has passed.
func ExampleEngine_ExpireCredits() {
	ctx := context.Background()
	clk := clock.NewTest(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	eng, _ := coffer.New(memory.New(), coffer.WithClock(clk), coffer.WithoutProcessor())
	c, _ := eng.CreateCustomer(ctx, customer.Params{Name: new("Ada")})

	expiry := clk.Now().Add(30 * 24 * time.Hour)
	_, _ = eng.CreateEntry(ctx, c.ID, coffer.EntryParams{Amount: 20_00, Currency: "USD", Type: ledger.Credit, Reason: "Top-up"})
	_, err := eng.CreateEntry(ctx, c.ID, coffer.EntryParams{Amount: 10_00, Currency: "USD", Type: ledger.Credit,
		Reason: "Welcome bonus", CreditKind: ledger.KindGranted, ExpiresAt: expiry})
	if err != nil {
		panic(err)
	}
	_, _ = eng.CreateEntry(ctx, c.ID, coffer.EntryParams{Amount: 4_00, Currency: "USD", Type: ledger.Debit, Reason: "Usage"})

	s, _ := eng.ExpiringCredits(ctx, c.ID, "USD", 31*24*time.Hour)
	fmt.Println("paid:", exampleAmount(s.Paid, "USD"), "granted:", exampleAmount(s.Granted, "USD"),
		"expiring within 31 days:", exampleAmount(s.Expiring, "USD"))

	clk.Set(expiry)
	n, _ := eng.ExpireCredits(ctx)
	b, _ := eng.Balance(ctx, c.ID, "USD")
	fmt.Println("expired grants:", n, "balance:", exampleAmount(b.Amount, "USD"))
	// Output:
	// paid: 20.00 USD granted: 6.00 USD expiring within 31 days: 6.00 USD
	// expired grants: 1 balance: 20.00 USD
}
