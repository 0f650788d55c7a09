// Command credits shows paid and granted credits that expire, on the
// embedded bbolt store (a file in a temporary directory) with a test clock:
//
//  1. a paid top-up (a plain credit: paid, priority 0, never expires);
//  2. the seed's welcome bonus, $10 of granted credit that expires in 30
//     days, and a $5 promotion of priority -1 that expires in 7 days;
//  3. a debit takes the promotion first (lowest priority), then the bonus
//     (it expires, the top-up does not), and leaves the top-up alone;
//  4. the clock passes the bonus's expiry and ExpireCredits (run by
//     Engine.Run in production) posts one "Expired credit" debit of its
//     remainder with a wallet.credit_expired event;
//  5. an auto top-up rule (below $25.00 available, buy up to $40.00 with
//     the card; RunTopUps is run by Engine.Run in production) tops the
//     wallet up once;
//  6. the top-up's payment has an invoice (INV-0001), a receipt once paid,
//     rendered as HTML and PDF.
//
// It prints the wallet's credit after each step and exits with status 1 if
// an outcome is not the expected one. After step 4 it shows credit-based
// billing: an api_calls unit (exponent 0), a monthly allowance of 1,000
// calls that expires, and a batch of metered usage (RecordUsage) in one
// transaction, one item of which the allowance cannot cover.
//
//	go run ./examples/credits
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/clock"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/topup"
	"github.com/cofferhq/coffer/webhook"
)

func main() {
	log.SetFlags(0)
	if err := run(); err != nil {
		log.Fatal("credits: ", err)
	}
}

func check(ok bool, format string, args ...any) error {
	if ok {
		return nil
	}
	return fmt.Errorf("unexpected: "+format, args...)
}

func usd(minor int64) string { return money.Amount{Minor: minor, Currency: "USD"}.String() }

func run() error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "coffer-credits-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	clk := clock.NewTest(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	// The test processor stands in for a card processor (step 5).
	eng, err := coffer.Open(filepath.Join(dir, "billing.db"), coffer.WithProcessor(processor.NewTest(clk)), coffer.WithClock(clk))
	if err != nil {
		return err
	}
	defer eng.Close()

	c, err := eng.CreateCustomer(ctx, customer.Params{Name: new("Ada Lovelace"), Email: new("ada@example.com")})
	if err != nil {
		return err
	}
	post := func(p coffer.EntryParams) (coffer.EntryResult, error) {
		res, err := eng.CreateEntry(ctx, c.ID, p)
		if err == nil {
			fmt.Printf("  %-6s %8s  %-42s balance %s\n", res.Entry.Type, usd(res.Entry.Amount), res.Entry.Reason, usd(res.Balance.Amount))
		}
		return res, err
	}
	show := func(within time.Duration) (coffer.CreditSummary, error) {
		s, err := eng.ExpiringCredits(ctx, c.ID, "USD", within)
		if err != nil {
			return s, err
		}
		fmt.Printf("  credit: %s (paid %s, granted %s); expiring by %s: %s\n", usd(s.Balance.Amount), usd(s.Paid),
			usd(s.Granted), s.ExpiringBefore.Format(time.DateOnly), usd(s.Expiring))
		for _, g := range s.Grants {
			exp := "never"
			if !g.ExpiresAt.IsZero() {
				exp = g.ExpiresAt.Format(time.DateOnly)
			}
			fmt.Printf("    grant %-7s priority %2d  expires %-10s  %s of %s left\n", g.Kind, g.Priority, exp, usd(g.Remaining), usd(g.Amount))
		}
		return s, nil
	}
	now := clk.Now()

	fmt.Println("1. a paid top-up")
	if _, err := post(coffer.EntryParams{Amount: 20_00, Currency: "USD", Type: ledger.Credit, Reason: "Top-up", IdempotencyKey: "topup-1"}); err != nil {
		return err
	}

	fmt.Println("2. the welcome bonus (granted, expires in 30 days) and a promotion (priority -1, expires in 7 days)")
	bonusExpiry := now.Add(30 * 24 * time.Hour)
	bonus, err := post(coffer.EntryParams{Amount: 10_00, Currency: "USD", Type: ledger.Credit,
		Reason: "Welcome bonus - $10 promotional balance", IdempotencyKey: "welcome_" + c.ID,
		CreditKind: ledger.KindGranted, ExpiresAt: bonusExpiry})
	if err != nil {
		return err
	}
	if _, err := post(coffer.EntryParams{Amount: 5_00, Currency: "USD", Type: ledger.Credit, Reason: "Spring promotion",
		IdempotencyKey: "promo-spring", CreditKind: ledger.KindGranted, Priority: -1, ExpiresAt: now.Add(7 * 24 * time.Hour)}); err != nil {
		return err
	}
	s, err := show(7 * 24 * time.Hour)
	if err != nil {
		return err
	}
	if err := check(s.Expiring == 5_00 && s.Granted == 15_00 && s.Paid == 20_00, "credit after the grants: %+v", s); err != nil {
		return err
	}

	fmt.Println("3. a debit of $8.00: the promotion first, then the bonus; the top-up is untouched")
	if _, err := post(coffer.EntryParams{Amount: 8_00, Currency: "USD", Type: ledger.Debit, Reason: "API usage", IdempotencyKey: "usage-1"}); err != nil {
		return err
	}
	s, err = show(31 * 24 * time.Hour)
	if err != nil {
		return err
	}
	if err := check(s.Granted == 7_00 && s.Paid == 20_00 && s.Expiring == 7_00, "credit after the debit: %+v", s); err != nil {
		return err
	}

	fmt.Println("4. one second before the bonus expires: nothing expires")
	clk.Set(bonusExpiry.Add(-time.Second))
	n, err := eng.ExpireCredits(ctx)
	if err != nil {
		return err
	}
	if err := check(n == 0, "%d grants expired before the expiry", n); err != nil {
		return err
	}
	fmt.Println("   one second after: its remainder expires")
	clk.Set(bonusExpiry.Add(time.Second))
	if n, err = eng.ExpireCredits(ctx); err != nil {
		return err
	}
	if err := check(n == 1, "%d grants expired, want 1", n); err != nil {
		return err
	}
	s, err = show(0)
	if err != nil {
		return err
	}
	if err := check(s.Balance.Amount == 20_00 && s.Granted == 0, "credit after the expiry: %+v", s); err != nil {
		return err
	}
	if err := apiCalls(ctx, eng, c.ID, clk.Now()); err != nil {
		return err
	}

	var expired []webhook.Event
	err = eng.View(ctx, func(tx store.ReadTx) error {
		evs, err := tx.Events(0, 500)
		for _, ev := range evs {
			if ev.Type == coffer.EventCreditExpired {
				expired = append(expired, ev)
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	if err := check(len(expired) == 1, "%d wallet.credit_expired events", len(expired)); err != nil {
		return err
	}
	var d coffer.CreditExpired
	if err := json.Unmarshal(expired[0].Data, &d); err != nil {
		return err
	}
	fmt.Printf("  event %s: grant %s, %s expired (entry %q, reference %s %s)\n", expired[0].Type, d.Grant.ID,
		usd(d.Entry.Amount), d.Entry.Reason, d.Entry.Reference.Type, d.Entry.Reference.ID)
	if err := check(d.Grant.ID == bonus.Entry.ID && d.Entry.Amount == 7_00, "the expired grant: %+v", d); err != nil {
		return err
	}

	fmt.Println("5. an auto top-up rule: below $25.00 available, buy up to $40.00 with the card")
	if _, err := eng.CreateTopUp(ctx, c.ID, "USD", coffer.TopUpParams{Trigger: topup.TriggerThreshold, Threshold: 25_00,
		Method: topup.MethodTarget, Target: 40_00, PaymentMethod: processor.CardOK, MaxPerDay: 2}); err != nil {
		return err
	}
	for range 2 { // the second pass finds the wallet above the threshold
		if _, err := eng.RunTopUps(ctx); err != nil {
			return err
		}
		clk.Advance(time.Minute)
	}
	s, err = show(0)
	if err != nil {
		return err
	}
	if err := check(s.Balance.Amount == 40_00 && s.Paid == 40_00, "credit after the top-up: %+v", s); err != nil {
		return err
	}
	return receipt(ctx, eng, c.ID)
}

// receipt shows step 6: the top-up's payment has an invoice, numbered in
// the payment's own transaction (INV-0001: the customer has no
// invoice_prefix), a receipt once paid, rendered as HTML and PDF.
func receipt(ctx context.Context, eng *coffer.Engine, customerID string) error {
	l, err := eng.ListInvoices(ctx, customerID, coffer.ListParams{Limit: 10})
	if err != nil {
		return err
	}
	if err := check(len(l.Data) == 1, "%d invoices, want the top-up's", len(l.Data)); err != nil {
		return err
	}
	d := l.Data[0]
	var html, pdf bytes.Buffer
	if err := d.HTML(&html); err != nil {
		return err
	}
	if err := d.PDF(&pdf); err != nil {
		return err
	}
	fmt.Printf("6. the top-up's %s %s: %s, card charged %s (HTML %d bytes, PDF %d bytes)\n",
		d.Title(), d.Number, d.Status, usd(d.CardCharged), html.Len(), pdf.Len())
	return check(d.Number == "INV-0001" && d.Receipt() && d.Total == 20_00 && bytes.HasPrefix(pdf.Bytes(), []byte("%PDF-")),
		"the top-up's invoice: %+v", d)
}

// apiCalls gives the customer an api_calls wallet, a monthly allowance of
// 1,000 granted calls that expires, and meters a batch of usage.
func apiCalls(ctx context.Context, eng *coffer.Engine, customerID string, now time.Time) error {
	fmt.Println("api_calls: a credit unit, a monthly allowance, metered usage")
	if _, err := eng.DefineUnit(ctx, coffer.UnitParams{Code: "api_calls", Name: "API calls"}); err != nil {
		return err
	}
	if _, err := eng.CreateEntry(ctx, customerID, coffer.EntryParams{Amount: 1000, Currency: "api_calls", Type: ledger.Credit,
		Reason: "March allowance", IdempotencyKey: "allowance-2026-03", CreditKind: ledger.KindGranted,
		ExpiresAt: now.Add(31 * 24 * time.Hour)}); err != nil {
		return err
	}
	res, err := eng.RecordUsage(ctx, []coffer.Usage{
		{CustomerID: customerID, Unit: "api_calls", Quantity: 600, IdempotencyKey: "meter-1", Reason: "search"},
		{CustomerID: customerID, Unit: "api_calls", Quantity: 500, IdempotencyKey: "meter-2", Reason: "export"},
		{CustomerID: customerID, Unit: "api_calls", Quantity: 350, IdempotencyKey: "meter-3", Reason: "search"},
	})
	if err != nil {
		return err
	}
	for _, r := range res {
		if r.Error != nil {
			fmt.Printf("  refused: %s\n", r.Error.Code)
			continue
		}
		fmt.Printf("  debit %4d api_calls  %-7s balance %d api_calls\n", r.Entry.Amount, r.Entry.Reason, r.Balance.Amount)
	}
	b, err := eng.Balance(ctx, customerID, "api_calls")
	if err != nil {
		return err
	}
	sum := coffer.Summarize(res)
	return check(sum.Applied == 2 && sum.Refused == 1 && b.Amount == 50 && res[1].Error.Code == "insufficient_funds",
		"usage outcomes %+v, balance %d", sum, b.Amount)
}
