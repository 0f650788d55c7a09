package charge

import (
	"github.com/cofferhq/coffer/invoice"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

// issueInvoice numbers the invoice of a payment just inserted, in the
// payment's own transaction: the customer's next number, or none if the
// transaction rolls back. A payment that collects an earlier charge
// (RetryOf) belongs to that charge's invoice and takes no number.
func issueInvoice(tx store.Tx, pay subscription.Payment) error {
	if pay.RetryOf != "" {
		return nil
	}
	return tx.InsertInvoice(invoice.Record{ID: invoice.IDFor(pay.ID), CustomerID: pay.CustomerID,
		PaymentID: pay.ID, CreatedAt: pay.CreatedAt})
}
