// Command on-demand walks through coffer's on-demand subscription flow on
// the embedded bbolt store (a file in a temporary directory) with the
// deterministic test processor:
//
//  1. a customer gets a welcome bonus in their wallet and authorises a
//     mandate (mandate_only: no charge yet);
//  2. a charge is paid partly by the wallet, the rest by the card;
//  3. a charge is declined (insufficient funds): the payment fails, the
//     wallet is untouched, a retry is scheduled and the charge is overdue;
//  4. part of the first payment is refunded to the wallet.
//
// It prints balances, payments, the ledger and the outbox events, and exits
// with status 1 if any outcome is not the expected one.
//
//	go run ./examples/on-demand
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

func main() {
	log.SetFlags(0)
	if err := run(); err != nil {
		log.Fatal("on-demand: ", err)
	}
}

// check turns an unexpected outcome into an error.
func check(ok bool, format string, args ...any) error {
	if ok {
		return nil
	}
	return fmt.Errorf("unexpected: "+format, args...)
}

func usd(minor int64) string { return money.Amount{Minor: minor, Currency: "USD"}.String() }

func run() error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "coffer-on-demand-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	proc := processor.NewTest(nil)
	eng, err := coffer.Open(filepath.Join(dir, "billing.db"), coffer.WithProcessor(proc))
	if err != nil {
		return err
	}
	defer eng.Close()

	// 1. Customer, welcome bonus, mandate.
	c, err := eng.CreateCustomer(ctx, customer.Params{Name: new("Ada Lovelace"), Email: new("ada@example.com")})
	if err != nil {
		return err
	}
	if _, err := eng.CreateEntry(ctx, c.ID, coffer.EntryParams{Amount: 5_00, Currency: "USD", Type: ledger.Credit,
		Reason: "Welcome bonus", IdempotencyKey: "welcome-" + c.ID,
		// The welcome bonus is granted credit that expires in 30 days
		// (examples/credits shows expiry and the consumption order).
		CreditKind: ledger.KindGranted, ExpiresAt: time.Now().Add(30 * 24 * time.Hour)}); err != nil {
		return err
	}
	prod, err := eng.CreateProduct(ctx, coffer.ProductParams{Name: "Coffee beans", Description: "Beans on demand", Price: 12_00, Currency: "USD"})
	if err != nil {
		return err
	}
	res, err := eng.CreateSubscription(ctx, coffer.SubscriptionParams{
		ProductID: prod.ID, Quantity: 1, CustomerID: c.ID, PaymentMethod: processor.CardOK,
		OnDemand: &coffer.OnDemand{MandateOnly: new(true)},
	})
	if err != nil {
		return err
	}
	sub := res.Subscription
	fmt.Printf("customer %s: wallet %s\n", c.ID, balance(ctx, eng, c.ID))
	fmt.Printf("subscription %s: %s, mandate %s (no charge: mandate_only)\n", sub.ID, sub.Status, sub.MandateID)
	if err := check(sub.Status == subscription.StatusActive && proc.ChargeCount() == 0, "mandate: %s", sub.Status); err != nil {
		return err
	}

	// 2. A charge partly paid by the wallet.
	paid, err := eng.Charge(ctx, sub.ID, coffer.ChargeParams{ProductPrice: new(int64(12_00)), IdempotencyKey: "order-1001",
		Metadata: map[string]string{"order": "1001"}})
	if err != nil {
		return err
	}
	fmt.Printf("\ncharge %s: %s %s = %s from the wallet + %s to %s (%s)\n", paid.ID, paid.Status, usd(paid.Amount),
		usd(paid.WalletAmount), usd(paid.ProcessorAmount), paid.PaymentMethod, paid.ProcessorID)
	fmt.Printf("wallet now %s\n", balance(ctx, eng, c.ID))
	if err := check(paid.Status == subscription.PaymentSucceeded && paid.WalletAmount == 5_00 && paid.ProcessorAmount == 7_00,
		"charge: %+v", paid); err != nil {
		return err
	}

	// 3. A declined charge: the card is short of funds this time.
	proc.Script(processor.CardOK, processor.InsufficientFunds)
	declined, err := eng.Charge(ctx, sub.ID, coffer.ChargeParams{ProductPrice: new(int64(8_00)), IdempotencyKey: "order-1002"})
	if err != nil {
		return err
	}
	fmt.Printf("\ncharge %s: %s %s, decline %s, next retry %s\n", declined.ID, declined.Status, usd(declined.Amount),
		declined.DeclineCode, declined.NextRetryAt.Format(time.RFC1123))
	od, err := eng.Overdue(ctx, c.ID)
	if err != nil {
		return err
	}
	fmt.Printf("overdue: %d charge(s), due %v, delinquent %v (a retry is pending)\n", len(od.Payments), od.Due, od.Delinquent)
	if err := check(declined.Status == subscription.PaymentFailed && declined.DeclineCode == processor.InsufficientFunds &&
		len(od.Payments) == 1 && !od.Delinquent, "decline: %+v", declined); err != nil {
		return err
	}

	// 4. Part of the first payment goes back to the wallet.
	r, err := eng.Refund(ctx, paid.ID, coffer.RefundParams{Amount: 3_00, Destination: subscription.ToWallet,
		Reason: "damaged bag", IdempotencyKey: "refund-1001"})
	if err != nil {
		return err
	}
	again, err := eng.Refund(ctx, paid.ID, coffer.RefundParams{Amount: 3_00, Destination: subscription.ToWallet,
		Reason: "damaged bag", IdempotencyKey: "refund-1001"})
	if err != nil {
		return err
	}
	fmt.Printf("\nrefund %s: %s %s to the %s (replayed: same refund %v)\n", r.ID, r.Status, usd(r.Amount), r.Destination, again.ID == r.ID)
	fmt.Printf("wallet now %s\n", balance(ctx, eng, c.ID))
	b, err := eng.Balance(ctx, c.ID, "USD")
	if err != nil {
		return err
	}
	if err := check(r.Status == subscription.RefundSucceeded && b.Amount == 3_00, "refund: %+v, balance %d", r, b.Amount); err != nil {
		return err
	}

	// What is on record.
	pays, err := eng.ListPayments(ctx, coffer.PaymentListParams{CustomerID: c.ID})
	if err != nil {
		return err
	}
	fmt.Println("\npayments (newest first):")
	for _, p := range pays.Data {
		fmt.Printf("  %s  %-18s %10s  wallet %s  card %s  refunded %s %s\n", p.ID, p.Status, usd(p.Amount),
			usd(p.WalletAmount), usd(p.ProcessorAmount), usd(p.RefundedAmount), p.DeclineCode)
	}
	entries, err := eng.ListEntries(ctx, coffer.EntryListParams{CustomerID: c.ID})
	if err != nil {
		return err
	}
	fmt.Println("ledger (newest first):")
	for _, e := range entries.Data {
		fmt.Printf("  %-6s %s  %s -> %s  %q (%s)\n", e.Type, usd(e.Amount), usd(e.BalanceBefore), usd(e.BalanceAfter),
			e.Reason, e.Reference.Type)
	}
	var events []string
	err = eng.View(ctx, func(tx store.ReadTx) error {
		list, err := tx.Events(0, store.MaxLimit)
		for _, e := range list {
			events = append(events, e.Type)
		}
		return err
	})
	if err != nil {
		return err
	}
	fmt.Println("outbox events:", strings.Join(events, ", "))
	return nil
}

func balance(ctx context.Context, eng *coffer.Engine, customerID string) string {
	b, err := eng.Balance(ctx, customerID, "USD")
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%s (held %s)", usd(b.Amount), usd(b.Held))
}
