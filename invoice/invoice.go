// Package invoice holds coffer's invoices: the numbered Record every
// payment gets in the transaction that stores it, and the Document (line
// items, totals, issuer and customer) built from that record and the
// payments it covers, rendered as HTML or PDF. It does no I/O.
//
// # Numbers
//
// An invoice number is the customer's invoice_prefix (DefaultPrefix when it
// has none), a dash and the customer's next sequence number, at least four
// digits wide: ADA-0001, ADA-0002, ... The store assigns the sequence from a
// per-customer counter in the payment's own transaction, so numbers are
// gapless per customer: a transaction that rolls back takes its number
// with it. The prefix is captured when the number is assigned; changing
// the customer's prefix later renames no issued invoice (the counter is per
// customer, not per prefix: ADA-0003 may be followed by NEW-0004).
//
// # One invoice per debt
//
// A payment that collects an earlier failed charge (a retry or
// CollectOverdue: its RetryOf is set) takes no number: it belongs to the
// invoice of the debt it collects, as Dodo's retry carries the invoice id
// of the original charge. The invoice of a failed subscription charge is
// therefore open until a retry pays it, and then becomes a receipt.
package invoice

import (
	"fmt"
	"strings"
	"time"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/internal/text"
	"github.com/cofferhq/coffer/subscription"
)

// DefaultPrefix is the number prefix of a customer without an
// invoice_prefix.
const DefaultPrefix = "INV"

// MaxPrefix bounds the prefix an invoice captures, in characters; a
// longer customer prefix is cut.
const MaxPrefix = 32

// Record is the stored part of an invoice: its number, assigned once.
// Everything else an invoice shows is derived from the payments it covers
// (see Build), so there is no second copy of an amount to drift.
type Record struct {
	// ID is IDFor(PaymentID).
	ID         string `json:"id"`
	CustomerID string `json:"customer_id"`
	// PaymentID is the payment the invoice was issued for (never a
	// payment with RetryOf set).
	PaymentID string `json:"payment_id"`
	// Prefix and Seq are assigned by the store: the customer's prefix at
	// that moment (Prefix) and its next number (Seq, from 1, gapless).
	Prefix    string    `json:"prefix"`
	Seq       int64     `json:"seq"`
	CreatedAt time.Time `json:"created_at"`
}

// Number is the invoice number, such as "ADA-0001".
func (r Record) Number() string { return FormatNumber(r.Prefix, r.Seq) }

// FormatNumber formats an invoice number: prefix, a dash, seq zero-padded
// to four digits (longer numbers keep all their digits).
func FormatNumber(prefix string, seq int64) string {
	return fmt.Sprintf("%s-%04d", prefix, seq)
}

// Prefix is the prefix a customer's next invoice captures: its trimmed
// invoice_prefix, at most MaxPrefix bytes, or DefaultPrefix when empty.
// Every store applies exactly this rule.
func Prefix(invoicePrefix string) string {
	p := strings.TrimSpace(invoicePrefix)
	if r := []rune(p); len(r) > MaxPrefix {
		p = strings.TrimSpace(string(r[:MaxPrefix]))
	}
	if p == "" {
		return DefaultPrefix
	}
	return p
}

// IDFor is the id of the invoice of a payment: "inv_" and the payment id
// without its "pay_" prefix. The id is known before the store assigns the
// number, so a payment's JSON can name its invoice without a lookup.
func IDFor(paymentID string) string {
	return "inv_" + strings.TrimPrefix(paymentID, "pay_")
}

// InvoicedPayment is the id of the payment whose invoice covers p: p's own
// id, or the debt it collects (RetryOf).
func InvoicedPayment(p subscription.Payment) string {
	if p.RetryOf != "" {
		return p.RetryOf
	}
	return p.ID
}

// Status is the state of an invoice, derived from its payments.
type Status string

// Invoice statuses.
const (
	// StatusOpen: not paid yet (the charge is pending, or it failed and is
	// a debt still to collect).
	StatusOpen Status = "open"
	// StatusPaid: paid (possibly partly refunded); the invoice is a
	// receipt.
	StatusPaid Status = "paid"
	// StatusVoid: the charge failed and is no debt (a declined one-time
	// payment or credit purchase): nothing is owed.
	StatusVoid Status = "void"
	// StatusRefunded: paid and then refunded in full.
	StatusRefunded Status = "refunded"
)

// Address is a postal address (customer.Address's fields).
type Address = customer.Address

// Issuer is who issues the invoices: the seller. Every field is optional.
type Issuer struct {
	Name    string   `json:"name,omitempty"`
	Address *Address `json:"address,omitempty"`
	Email   string   `json:"email,omitempty"`
	// TaxID is a VAT or other tax registration number.
	TaxID string `json:"tax_id,omitempty"`
}

// Party is who is billed.
type Party struct {
	CustomerID string   `json:"customer_id"`
	Name       string   `json:"name,omitempty"`
	Email      string   `json:"email,omitempty"`
	Address    *Address `json:"address,omitempty"`
}

// Line is one line item. Amounts are minor units of the invoice currency.
type Line struct {
	Description string `json:"description"`
	Quantity    int64  `json:"quantity"`
	UnitPrice   int64  `json:"unit_price"`
	Amount      int64  `json:"amount"`
}

// RefundLine is one refund of the paying payment.
type RefundLine struct {
	ID          string                         `json:"id"`
	Amount      int64                          `json:"amount"`
	Destination subscription.RefundDestination `json:"destination"`
	Status      subscription.RefundStatus      `json:"status"`
	Reason      string                         `json:"reason,omitempty"`
	CreatedAt   time.Time                      `json:"created_at"`
}

// Document is an invoice as shown: its number and status, the parties,
// the line items and the totals. Amounts are minor units of Currency.
type Document struct {
	ID         string `json:"id"`
	Number     string `json:"number"`
	Status     Status `json:"status"`
	CustomerID string `json:"customer_id"`
	// PaymentID is the invoiced payment; PaidBy the payment that paid it
	// (PaymentID, or the retry that collected it; "" while unpaid).
	PaymentID string    `json:"payment_id"`
	PaidBy    string    `json:"paid_by,omitempty"`
	Currency  string    `json:"currency"`
	Issuer    Issuer    `json:"issuer"`
	BillTo    Party     `json:"bill_to"`
	IssuedAt  time.Time `json:"issued_at"`
	PaidAt    time.Time `json:"paid_at,omitzero"`
	Lines     []Line    `json:"lines"`
	// Subtotal is the sum of the item lines, Fee the adaptive-currency
	// fee (0: none), Total = Subtotal + Fee: what the customer pays.
	Subtotal int64 `json:"subtotal"`
	Fee      int64 `json:"fee"`
	// FeesInclusive: the fee was carved out of the product price instead
	// of added on top of it.
	FeesInclusive bool  `json:"fees_inclusive"`
	Total         int64 `json:"total"`
	// WalletApplied and CardCharged split a paid Total by source: the
	// wallet balance applied and the payment method charged.
	WalletApplied int64  `json:"wallet_applied"`
	CardCharged   int64  `json:"card_charged"`
	PaymentMethod string `json:"payment_method,omitempty"`
	// AmountPaid is Total once paid (else 0), AmountDue what is still owed
	// (Total while open, else 0), Refunded what was refunded (pending
	// refunds included) and Net = AmountPaid - Refunded.
	AmountPaid int64        `json:"amount_paid"`
	AmountDue  int64        `json:"amount_due"`
	Refunded   int64        `json:"refunded"`
	Net        int64        `json:"net"`
	Refunds    []RefundLine `json:"refunds"`
}

// Receipt reports whether the document is a receipt (paid, possibly
// refunded since) rather than an invoice still open or void.
func (d Document) Receipt() bool { return d.Status == StatusPaid || d.Status == StatusRefunded }

// Title is "Receipt" or "Invoice".
func (d Document) Title() string {
	if d.Receipt() {
		return "Receipt"
	}
	return "Invoice"
}

// Source is what Build reads: the record, the invoiced payment, the
// payment that collected it when it failed and a retry paid it, the
// refunds of the paying payment, the customer and the issuer.
type Source struct {
	Record    Record
	Payment   subscription.Payment
	Collector *subscription.Payment
	Refunds   []subscription.Refund
	Customer  customer.Customer
	Issuer    Issuer
	// Quantity is the subscription's quantity (0 or 1: a single line).
	Quantity int64
}

// Build derives the invoice document from its source.
func Build(src Source) Document {
	p := src.Payment
	payer := p
	if src.Collector != nil && src.Collector.Paid() > 0 {
		payer = *src.Collector
	}
	cu := src.Customer
	d := Document{
		ID: src.Record.ID, Number: src.Record.Number(), CustomerID: src.Record.CustomerID, PaymentID: p.ID,
		Currency: payer.Currency, Issuer: src.Issuer, IssuedAt: src.Record.CreatedAt,
		BillTo: Party{CustomerID: cu.ID, Name: cu.Name, Email: cu.Email, Address: cu.Address},
		Fee:    payer.Fee, FeesInclusive: payer.FeesInclusive, Total: payer.Amount,
		PaymentMethod: payer.PaymentMethod, Refunds: []RefundLine{},
	}
	d.Subtotal = payer.Amount - payer.Fee
	desc := payer.Description
	if desc == "" {
		desc = defaultDescription(p.Kind)
	}
	qty, unit := int64(1), d.Subtotal
	if q := src.Quantity; q > 1 && d.Subtotal%q == 0 {
		qty, unit = q, d.Subtotal/q
	}
	d.Lines = []Line{{Description: desc, Quantity: qty, UnitPrice: unit, Amount: d.Subtotal}}
	switch payer.Status {
	case subscription.PaymentSucceeded, subscription.PaymentPartiallyRefunded:
		d.Status = StatusPaid
	case subscription.PaymentRefunded:
		d.Status = StatusRefunded
	case subscription.PaymentPending:
		d.Status = StatusOpen
	default: // failed
		d.Status = StatusVoid
		if p.Overdue() || p.SettledBy != "" {
			d.Status = StatusOpen
		}
	}
	if d.Receipt() {
		d.PaidBy, d.PaidAt = payer.ID, payer.UpdatedAt
		d.WalletApplied, d.CardCharged = payer.WalletAmount, payer.ProcessorAmount
		d.AmountPaid = payer.Amount
		d.Refunded = payer.RefundedAmount
		for _, r := range src.Refunds {
			d.Refunds = append(d.Refunds, RefundLine{ID: r.ID, Amount: r.Amount, Destination: r.Destination,
				Status: r.Status, Reason: r.Reason, CreatedAt: r.CreatedAt})
		}
	} else if d.Status == StatusOpen {
		d.AmountDue = d.Total
	}
	d.Net = d.AmountPaid - d.Refunded
	return d
}

func defaultDescription(k subscription.Kind) string {
	switch k {
	case subscription.KindSubscription:
		return "Subscription charge"
	case subscription.KindCreditPurchase:
		return "Wallet credit"
	}
	return "Payment"
}

// MaxIssuerField bounds each text field of an Issuer, in characters.
const MaxIssuerField = 500

// Check validates an issuer: every field valid text (UTF-8, no NUL) of at
// most MaxIssuerField characters, the address as customer addresses are
// (country an ISO-3166 alpha-2 code). The errors wrap customer.ErrInvalid.
func (i Issuer) Check() error {
	for _, f := range [...]struct{ name, v string }{{"name", i.Name}, {"email", i.Email}, {"tax_id", i.TaxID}} {
		if err := text.Check(f.v, MaxIssuerField); err != nil {
			return &customer.FieldError{Field: "issuer." + f.name, Err: fmt.Errorf("%w: %w", customer.ErrInvalid, err)}
		}
	}
	if i.Address != nil {
		return customer.ValidateAddress("issuer.address", *i.Address)
	}
	return nil
}
