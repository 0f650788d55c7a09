package invoice_test

import (
	"fmt"
	"time"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/invoice"
	"github.com/cofferhq/coffer/subscription"
)

// Build derives the document of an invoice from its record and payment;
// Totals lists what the HTML and PDF renderings show under the lines.
func ExampleBuild() {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	p := subscription.Payment{ID: "pay_1", CustomerID: "cus_1", Kind: subscription.KindOneTime, Amount: 10_30, Fee: 30,
		Currency: "EUR", WalletAmount: 2_00, ProcessorAmount: 8_30, Status: subscription.PaymentSucceeded,
		PaymentMethod: "pm_card_ok", Description: "Widget", CreatedAt: at, UpdatedAt: at}
	d := invoice.Build(invoice.Source{
		Record:   invoice.Record{ID: invoice.IDFor(p.ID), CustomerID: "cus_1", PaymentID: p.ID, Prefix: invoice.Prefix("ADA"), Seq: 1, CreatedAt: at},
		Payment:  p,
		Customer: customer.Customer{ID: "cus_1", Name: "Ada"},
	})
	fmt.Println(d.Title(), d.Number, d.Status)
	for _, r := range d.Totals() {
		fmt.Printf("%s: %s\n", r.Label, r.Value)
	}
	// Output:
	// Receipt ADA-0001 paid
	// Subtotal: 10.00 EUR
	// Adaptive-currency fee: 0.30 EUR
	// Total: 10.30 EUR
	// Paid from wallet: 2.00 EUR
	// Charged to payment method pm_card_ok: 8.30 EUR
	// Amount paid: 10.30 EUR
}
