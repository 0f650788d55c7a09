package memory

import (
	"github.com/cofferhq/coffer/invoice"
	"github.com/cofferhq/coffer/store"
)

// invoiceTable holds the invoice records (store.Invoices): by id, the id
// of each payment's invoice, each customer's invoices in ascending Seq
// (the counter is the length of that list: numbers are never removed, so
// the next one is len+1) and its next number. Writes are undone through
// opFunc closures, so a rolled-back Update leaves no number taken.
type invoiceTable struct {
	byID  map[string]*invoice.Record
	byPay map[string]string
	byCus map[string][]*invoice.Record
}

func (it *invoiceTable) init() {
	if it.byID == nil {
		it.byID = make(map[string]*invoice.Record)
		it.byPay = make(map[string]string)
		it.byCus = make(map[string][]*invoice.Record)
	}
}

var _ store.Invoices = (*tx)(nil)

// InsertInvoice stores r with the customer's next number.
func (t *tx) InsertInvoice(r invoice.Record) error {
	if err := t.write(); err != nil {
		return err
	}
	it := &t.s.invoices
	it.init()
	if _, ok := it.byID[r.ID]; ok || r.ID == "" {
		return duplicate("invoice", r.ID)
	}
	if _, ok := it.byPay[r.PaymentID]; ok {
		return duplicate("invoice of payment", r.PaymentID)
	}
	c, err := t.Customer(r.CustomerID)
	if err != nil {
		return err
	}
	if _, ok := t.s.payments[r.PaymentID]; !ok {
		return notFound("payment", r.PaymentID)
	}
	list := it.byCus[r.CustomerID]
	r.Prefix, r.Seq, r.CreatedAt = invoice.Prefix(c.InvoicePrefix), int64(len(list))+1, r.CreatedAt.UTC()
	n := &r
	it.byID[r.ID], it.byPay[r.PaymentID], it.byCus[r.CustomerID] = n, r.ID, append(list, n)
	t.s.w.add(opFunc, func() {
		delete(it.byID, r.ID)
		delete(it.byPay, r.PaymentID)
		l := it.byCus[r.CustomerID]
		l[len(l)-1] = nil
		if l = l[:len(l)-1]; len(l) == 0 {
			delete(it.byCus, r.CustomerID)
		} else {
			it.byCus[r.CustomerID] = l
		}
	}, "", 0)
	return nil
}

// Invoice reads an invoice.
func (t *tx) Invoice(id string) (invoice.Record, error) {
	n, ok := t.s.invoices.byID[id]
	if !ok {
		return invoice.Record{}, notFound("invoice", id)
	}
	return *n, nil
}

// InvoiceByPayment reads a payment's invoice.
func (t *tx) InvoiceByPayment(paymentID string) (invoice.Record, error) {
	id, ok := t.s.invoices.byPay[paymentID]
	if !ok {
		return invoice.Record{}, notFound("invoice of payment", paymentID)
	}
	return t.Invoice(id)
}

// ListInvoices pages a customer's invoices, highest number first.
func (t *tx) ListInvoices(q store.InvoiceQuery) ([]invoice.Record, bool, error) {
	list := t.s.invoices.byCus[q.CustomerID]
	seqOf := func(id string) (int64, bool) {
		n, ok := t.s.invoices.byID[id]
		if !ok || n.CustomerID != q.CustomerID {
			return 0, false
		}
		return n.Seq, true
	}
	lo, hi, err := cursor(q.Page, "invoice", seqOf)
	if err != nil {
		return nil, false, err
	}
	out, more := pageIdx(len(list), func(i int) int64 { return list[i].Seq }, q.Page, lo, hi, nil,
		func(i int) invoice.Record { return *list[i] })
	return out, more, nil
}
