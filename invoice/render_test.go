package invoice_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/internal/pdfcheck"
	"github.com/cofferhq/coffer/invoice"
	"github.com/cofferhq/coffer/subscription"
)

var at = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func paidSource() invoice.Source {
	p := subscription.Payment{ID: "pay_1", CustomerID: "cus_1", SubscriptionID: "sub_1", Kind: subscription.KindSubscription,
		Amount: 30_90, Fee: 90, Currency: "EUR", WalletAmount: 10_00, ProcessorAmount: 20_90, RefundedAmount: 5_00,
		Status: subscription.PaymentPartiallyRefunded, PaymentMethod: "pm_card_ok", Description: "Pro plan <March>",
		CreatedAt: at, UpdatedAt: at.Add(time.Minute)}
	return invoice.Source{
		Record:  invoice.Record{ID: invoice.IDFor(p.ID), CustomerID: "cus_1", PaymentID: p.ID, Prefix: "ADA", Seq: 7, CreatedAt: at},
		Payment: p,
		Refunds: []subscription.Refund{{ID: "ref_1", PaymentID: p.ID, Amount: 5_00, Currency: "EUR",
			Destination: subscription.ToWallet, Status: subscription.RefundSucceeded, Reason: "goodwill", CreatedAt: at.Add(time.Hour)}},
		Customer: customer.Customer{ID: "cus_1", Name: "Ada Lovelace", Email: "ada@example.com",
			Address: &customer.Address{Line1: "12 St James's Square", City: "London", PostalCode: "SW1Y 4JH", Country: "GB"}},
		Issuer: invoice.Issuer{Name: "Coffer Ltd", Email: "billing@coffer.test", TaxID: "GB123456789",
			Address: &customer.Address{Line1: "1 Main St", City: "Paris", PostalCode: "75001", Country: "FR"}},
		Quantity: 3,
	}
}

func TestNumberAndPrefix(t *testing.T) {
	require.Equal(t, "ADA-0001", invoice.FormatNumber("ADA", 1))
	require.Equal(t, "ADA-12345", invoice.FormatNumber("ADA", 12345))
	require.Equal(t, invoice.DefaultPrefix, invoice.Prefix("  "))
	require.Equal(t, "ADA", invoice.Prefix(" ADA "))
	long := strings.Repeat("é", invoice.MaxPrefix+5)
	require.Equal(t, strings.Repeat("é", invoice.MaxPrefix), invoice.Prefix(long))
	require.Equal(t, "inv_abc", invoice.IDFor("pay_abc"))
	require.Equal(t, "pay_debt", invoice.InvoicedPayment(subscription.Payment{ID: "pay_retry", RetryOf: "pay_debt"}))
}

func TestBuildPaid(t *testing.T) {
	d := invoice.Build(paidSource())
	require.Equal(t, invoice.StatusPaid, d.Status)
	require.True(t, d.Receipt())
	require.Equal(t, "ADA-0007", d.Number)
	require.Equal(t, []invoice.Line{{Description: "Pro plan <March>", Quantity: 3, UnitPrice: 10_00, Amount: 30_00}}, d.Lines)
	require.Equal(t, int64(30_00), d.Subtotal)
	require.Equal(t, int64(90), d.Fee)
	require.Equal(t, int64(30_90), d.Total)
	require.Equal(t, int64(10_00), d.WalletApplied)
	require.Equal(t, int64(20_90), d.CardCharged)
	require.Equal(t, int64(5_00), d.Refunded)
	require.Equal(t, int64(25_90), d.Net)
	require.Zero(t, d.AmountDue)
	require.Equal(t, "pay_1", d.PaidBy)
	require.Len(t, d.Refunds, 1)
}

func TestBuildStatuses(t *testing.T) {
	src := paidSource()
	src.Refunds = nil
	src.Payment.RefundedAmount = 0
	src.Quantity = 7 // 30.00 is not a multiple of 7: one line of 1
	for _, c := range []struct {
		status subscription.PaymentStatus
		kind   subscription.Kind
		want   invoice.Status
		due    int64
	}{
		{subscription.PaymentPending, subscription.KindSubscription, invoice.StatusOpen, 30_90},
		{subscription.PaymentFailed, subscription.KindSubscription, invoice.StatusOpen, 30_90},
		{subscription.PaymentFailed, subscription.KindOneTime, invoice.StatusVoid, 0},
		{subscription.PaymentFailed, subscription.KindCreditPurchase, invoice.StatusVoid, 0},
		{subscription.PaymentRefunded, subscription.KindOneTime, invoice.StatusRefunded, 0},
		{subscription.PaymentSucceeded, subscription.KindOneTime, invoice.StatusPaid, 0},
	} {
		s := src
		s.Payment.Status, s.Payment.Kind = c.status, c.kind
		d := invoice.Build(s)
		require.Equal(t, c.want, d.Status, "%s %s", c.kind, c.status)
		require.Equal(t, c.due, d.AmountDue, "%s %s", c.kind, c.status)
		require.Equal(t, int64(1), d.Lines[0].Quantity)
		if !d.Receipt() {
			require.Zero(t, d.WalletApplied)
			require.Zero(t, d.AmountPaid)
			require.Equal(t, "Invoice", d.Title())
		}
	}
	// A failed charge collected by a retry: paid by the retry.
	s := src
	s.Payment.Status, s.Payment.SettledBy = subscription.PaymentFailed, "pay_2"
	retry := s.Payment
	retry.ID, retry.RetryOf, retry.SettledBy, retry.Status = "pay_2", "pay_1", "", subscription.PaymentSucceeded
	s.Collector = &retry
	d := invoice.Build(s)
	require.Equal(t, invoice.StatusPaid, d.Status)
	require.Equal(t, "pay_1", d.PaymentID)
	require.Equal(t, "pay_2", d.PaidBy)
	require.Equal(t, "Receipt", d.Title())
}

func TestHTMLShowsEveryLine(t *testing.T) {
	d := invoice.Build(paidSource())
	var b bytes.Buffer
	require.NoError(t, d.HTML(&b))
	h := b.String()
	for _, want := range []string{
		"<h1>Receipt ADA-0007</h1>", "Pro plan &lt;March&gt;", // escaped
		"10.00 EUR", "30.00 EUR", // unit price, line amount
		"Adaptive-currency fee", "0.90 EUR", "30.90 EUR", // fee, total
		"Paid from wallet", "Charged to payment method pm_card_ok", "20.90 EUR",
		"Refunded", "-5.00 EUR", "Net paid", "25.90 EUR", "ref_1", "goodwill",
		"Coffer Ltd", "GB123456789", "75001 Paris", "Ada Lovelace", "St James&#39;s Square", "SW1Y 4JH London", "GB",
	} {
		require.Contains(t, h, want)
	}
	require.NotContains(t, h, "<March>")
	require.NotContains(t, h, "Amount due")

	src := paidSource()
	src.Payment.Status, src.Payment.Fee, src.Refunds = subscription.PaymentFailed, 0, nil
	b.Reset()
	require.NoError(t, invoice.Build(src).HTML(&b))
	require.Contains(t, b.String(), "<h1>Invoice ADA-0007</h1>")
	require.Contains(t, b.String(), "Amount due")
	require.NotContains(t, b.String(), "Adaptive-currency fee", "no fee line when the fee is 0")
	require.NotContains(t, b.String(), "Paid from wallet")
	require.Contains(t, b.String(), `<h2 id="from">From</h2>`)

	src.Issuer = invoice.Issuer{}
	b.Reset()
	require.NoError(t, invoice.Build(src).HTML(&b))
	require.NotContains(t, b.String(), `<h2 id="from">`, "no issuer: no From section")
	require.Contains(t, b.String(), `<h2 id="billto">Bill to</h2>`)
}

func TestPDFIsValid(t *testing.T) {
	d := invoice.Build(paidSource())
	var b bytes.Buffer
	require.NoError(t, d.PDF(&b))
	require.True(t, bytes.HasPrefix(b.Bytes(), []byte("%PDF-")))
	doc, err := pdfcheck.Parse(b.Bytes())
	require.NoError(t, err)
	require.Equal(t, 1, doc.Pages)
	for _, want := range []string{"Receipt ADA-0007", "Pro plan <March>", "30.90 EUR", "-5.00 EUR", "Coffer Ltd", "Ada Lovelace"} {
		require.Contains(t, doc.Text, want)
	}
	// Corruption is noticed.
	bad := bytes.Replace(b.Bytes(), []byte("xref"), []byte("xxxx"), 1)
	_, err = pdfcheck.Parse(bad)
	require.Error(t, err)
	_, err = pdfcheck.Parse(b.Bytes()[:b.Len()/2])
	require.Error(t, err)
}

func TestAmount(t *testing.T) {
	require.Equal(t, "12.34 USD", invoice.Amount(12_34, "USD"))
	require.Equal(t, "-0.05 USD", invoice.Amount(-5, "USD"))
	require.Equal(t, "500 JPY", invoice.Amount(500, "JPY"))
}
