package store

import "github.com/cofferhq/coffer/invoice"

// InvoiceQuery pages one customer's invoices, newest (highest number)
// first. A cursor is an invoice id of that customer; any other id is
// ErrNotFound.
type InvoiceQuery struct {
	CustomerID string
	Page
}

// InvoiceReader reads invoice records.
type InvoiceReader interface {
	// Invoice reads an invoice by id.
	Invoice(id string) (invoice.Record, error)
	// InvoiceByPayment reads the invoice issued for a payment (ErrNotFound
	// for a payment without one, such as a retry: see package invoice).
	InvoiceByPayment(paymentID string) (invoice.Record, error)
	// ListInvoices lists one page of a customer's invoices, highest Seq
	// first, through an index: the cost grows with the page.
	ListInvoices(q InvoiceQuery) (list []invoice.Record, hasMore bool, err error)
}

// Invoices stores invoice records and the per-customer counter that
// numbers them.
//
// InsertInvoice stores r with the customer's next number: Seq is the
// customer's counter plus one (the first invoice is 1) and Prefix the
// customer's invoice_prefix at that moment as invoice.Prefix normalizes it;
// the values r carries in those fields are ignored. The counter moves in
// the caller's transaction: a rolled-back transaction leaves it (and so
// the numbers) as it was, and concurrent transactions of one customer
// serialize on it, so a customer's committed numbers are 1..n without a
// gap. r.ID and r.PaymentID are unique (ErrDuplicate); a missing customer
// is an error. An adapter may defer the write to a later statement of the
// transaction (PostgreSQL sends it with the next statement or COMMIT), so
// its error may come from there; reads in the same transaction see it.
type Invoices interface {
	InvoiceReader
	InsertInvoice(r invoice.Record) error
}
