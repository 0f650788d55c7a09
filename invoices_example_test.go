package coffer_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/clock"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/invoice"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store/memory"
)

// Every payment gets a numbered invoice from the customer's invoice_prefix
// in the transaction that stores it; a declined one-time payment's is void.
// The document renders as HTML or PDF.
func ExampleEngine_PaymentInvoice() {
	ctx := context.Background()
	clk := clock.NewTest(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	eng, _ := coffer.New(memory.New(), coffer.WithClock(clk), coffer.WithProcessor(processor.NewTest(clk)),
		coffer.WithIssuer(invoice.Issuer{Name: "Coffer Ltd", TaxID: "FR123"}))
	c, _ := eng.CreateCustomer(ctx, customer.Params{Name: new("Ada"), InvoicePrefix: new("ADA")})
	paid, _ := eng.ChargeOneTime(ctx, c.ID, coffer.OneTimeParams{Amount: 12_50, Currency: "USD",
		PaymentMethod: processor.CardOK, Description: "Widget"})
	declined, _ := eng.ChargeOneTime(ctx, c.ID, coffer.OneTimeParams{Amount: 3_00, Currency: "USD",
		PaymentMethod: processor.CardDoNotHonor})

	for _, id := range []string{paid.ID, declined.ID} {
		d, err := eng.PaymentInvoice(ctx, id)
		if err != nil {
			panic(err)
		}
		fmt.Println(d.Number, d.Status, d.Title(), invoice.Amount(d.Total, d.Currency), "due", invoice.Amount(d.AmountDue, d.Currency))
	}
	d, _ := eng.PaymentInvoice(ctx, paid.ID)
	var html, pdf bytes.Buffer
	_ = d.HTML(&html)
	_ = d.PDF(&pdf)
	fmt.Println(strings.Contains(html.String(), "<h1>Receipt ADA-0001</h1>"), bytes.HasPrefix(pdf.Bytes(), []byte("%PDF-")))

	list, _ := eng.ListInvoices(ctx, c.ID, coffer.ListParams{})
	fmt.Println(len(list.Data), "invoices, newest first:", list.Data[0].Number)
	// Output:
	// ADA-0001 paid Receipt 12.50 USD due 0.00 USD
	// ADA-0002 void Invoice 3.00 USD due 0.00 USD
	// true true
	// 2 invoices, newest first: ADA-0002
}
