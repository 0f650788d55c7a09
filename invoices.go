package coffer

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/invoice"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

// Invoices. Every payment has an invoice, numbered in the transaction that
// stores the payment (see package invoice for the numbering rules); a
// retry or CollectOverdue payment belongs to the invoice of the debt it
// collects. The Engine stores only the number: the document (lines,
// totals, status) is derived from the payments when it is read.

// ErrInvoiceNotFound: no invoice has the id (or the payment has none: a
// payment made before the store had invoices).
var ErrInvoiceNotFound = errors.New("coffer: invoice not found")

// WithIssuer sets the issuer (the seller's name, address, email and tax
// id) shown on every invoice. Without it invoices show no issuer. An
// invalid issuer (see invoice.Issuer.Check) fails New.
func WithIssuer(i invoice.Issuer) Option {
	return func(e *Engine) error {
		i.Name, i.Email, i.TaxID = strings.TrimSpace(i.Name), strings.TrimSpace(i.Email), strings.TrimSpace(i.TaxID)
		if i.Address != nil {
			a := customer.NormalizeAddress(*i.Address)
			i.Address = &a
		}
		if err := i.Check(); err != nil {
			return err
		}
		e.issuer = i
		return nil
	}
}

// Issuer returns the issuer set with WithIssuer.
func (e *Engine) Issuer() invoice.Issuer { return e.issuer }

// Invoice returns an invoice document by invoice id.
func (e *Engine) Invoice(ctx context.Context, id string) (invoice.Document, error) {
	if err := checkID(ErrInvalid, "invoice_id", id); err != nil {
		return invoice.Document{}, err
	}
	return view(ctx, e, func(tx store.Tx) (invoice.Document, error) {
		r, err := tx.Invoice(id)
		if err != nil {
			return invoice.Document{}, invoiceErr(err, "invoice "+id)
		}
		return e.invoiceDocument(tx, r, nil)
	})
}

// PaymentInvoice returns the invoice of a payment: the payment's own, or,
// for a payment that collects an earlier failed charge (RetryOf), that
// charge's. An unknown payment is subscription.ErrPaymentNotFound.
func (e *Engine) PaymentInvoice(ctx context.Context, paymentID string) (invoice.Document, error) {
	if err := checkID(subscription.ErrInvalid, "payment_id", paymentID); err != nil {
		return invoice.Document{}, err
	}
	return view(ctx, e, func(tx store.Tx) (invoice.Document, error) {
		p, err := getPayment(tx, paymentID)
		if err != nil {
			return invoice.Document{}, err
		}
		if p.RetryOf != "" {
			if p, err = getPayment(tx, p.RetryOf); err != nil {
				return invoice.Document{}, err
			}
		}
		r, err := tx.InvoiceByPayment(p.ID)
		if err != nil {
			return invoice.Document{}, invoiceErr(err, "payment "+p.ID)
		}
		return e.invoiceDocument(tx, r, &p)
	})
}

// ListInvoices lists a customer's invoices, highest number (newest)
// first, as documents. Each costs a few reads (its payments and refunds),
// so a page of the largest size reads some hundred records.
func (e *Engine) ListInvoices(ctx context.Context, customerID string, p ListParams) (out List[invoice.Document], err error) {
	if err := checkCustomerID(customerID); err != nil {
		return out, err
	}
	q := store.InvoiceQuery{CustomerID: customerID}
	if q.Page, err = p.page(); err != nil {
		return out, err
	}
	err = e.store.View(ctx, func(tx store.Tx) error {
		if _, err := getCustomer(tx, customerID); err != nil {
			return err
		}
		recs, more, err := tx.ListInvoices(q)
		if err != nil {
			return listErr(err)
		}
		docs := make([]invoice.Document, 0, len(recs))
		for _, r := range recs {
			d, err := e.invoiceDocument(tx, r, nil)
			if err != nil {
				return err
			}
			docs = append(docs, d)
		}
		out = newList(docs, more, q.Page, func(d invoice.Document) string { return d.ID })
		return nil
	})
	return out, err
}

// MaxInvoiceLookup bounds the payment ids of one PaymentInvoiceRecords
// call.
const MaxInvoiceLookup = store.MaxLimit

// PaymentInvoiceRecords returns the invoice records of payments (at most
// MaxInvoiceLookup ids), keyed by payment id, for lists that show invoice
// numbers next to payments: a retry payment maps to the record of the
// debt it collects; a payment without an invoice (or unknown) is absent.
func (e *Engine) PaymentInvoiceRecords(ctx context.Context, payments []subscription.Payment) (map[string]invoice.Record, error) {
	if len(payments) > MaxInvoiceLookup {
		return nil, fmt.Errorf("%w: at most %d payments", ErrInvalid, MaxInvoiceLookup)
	}
	out := make(map[string]invoice.Record, len(payments))
	err := e.store.View(ctx, func(tx store.Tx) error {
		clear(out)
		for _, p := range payments {
			r, err := tx.InvoiceByPayment(invoice.InvoicedPayment(p))
			switch {
			case errors.Is(err, store.ErrNotFound):
				continue
			case err != nil:
				return err
			}
			out[p.ID] = r
		}
		return nil
	})
	return out, err
}

func invoiceErr(err error, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %s", ErrInvoiceNotFound, what)
	}
	return err
}

// invoiceDocument builds r's document; p is r's payment when the caller
// has read it.
func (e *Engine) invoiceDocument(tx store.Tx, r invoice.Record, p *subscription.Payment) (invoice.Document, error) {
	src := invoice.Source{Record: r, Issuer: e.issuer}
	var err error
	if p != nil {
		src.Payment = *p
	} else if src.Payment, err = getPayment(tx, r.PaymentID); err != nil {
		return invoice.Document{}, err
	}
	payer := src.Payment
	if payer.SettledBy != "" {
		c, err := getPayment(tx, payer.SettledBy)
		if err != nil {
			return invoice.Document{}, err
		}
		src.Collector, payer = &c, c
	}
	if payer.Paid() > 0 {
		if src.Refunds, err = tx.ListRefunds(payer.ID); err != nil {
			return invoice.Document{}, err
		}
	}
	if src.Customer, err = getCustomer(tx, r.CustomerID); err != nil {
		return invoice.Document{}, err
	}
	if sid := src.Payment.SubscriptionID; sid != "" {
		s, err := tx.Subscription(sid)
		switch {
		case err == nil:
			src.Quantity = int64(s.Quantity)
		case !errors.Is(err, store.ErrNotFound):
			return invoice.Document{}, err
		}
	}
	return invoice.Build(src), nil
}
