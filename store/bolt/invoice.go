package bolt

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"

	bbolt "go.etcd.io/bbolt"

	"github.com/cofferhq/coffer/invoice"
	"github.com/cofferhq/coffer/store"
)

// Invoice records (store.Invoices) live in buckets of their own, created
// by the first write that needs them (a store that never issued an
// invoice has none, and a read finds none):
//
//	invoices           id -> record (JSON)
//	invoices.payment   payment id -> invoice id
//	invoices.customer  customer \0 seq (8 bytes) -> invoice id
//	invoices.counter   customer -> last seq (8 bytes)
//
// bbolt has one writer at a time, so the counter is bumped by one
// transaction at a time, and a rolled-back transaction takes its bump
// with it.
var (
	bInvoices        = []byte("invoices")
	bInvoicePayment  = []byte("invoices.payment")
	bInvoiceCustomer = []byte("invoices.customer")
	bInvoiceCounter  = []byte("invoices.counter")
	invoiceBuckets   = [][]byte{bInvoices, bInvoicePayment, bInvoiceCustomer, bInvoiceCounter}
)

var _ store.Invoices = (*tx)(nil)

// ib returns an invoice bucket, creating them all in a write transaction;
// nil in a read transaction of a store that has none.
func (t *tx) ib(name []byte) (*bbolt.Bucket, error) {
	if t.btx == nil {
		panic("bolt: store.Tx used after its transaction function returned")
	}
	if b := t.btx.Bucket(name); b != nil || !t.btx.Writable() {
		return b, nil
	}
	for _, n := range invoiceBuckets {
		if _, err := t.btx.CreateBucketIfNotExists(n); err != nil {
			return nil, fmt.Errorf("bolt: %w", err)
		}
	}
	return t.btx.Bucket(name), nil
}

func invoiceCustomerKey(customerID string, seq int64) []byte {
	return binary.BigEndian.AppendUint64([]byte(customerID+"\x00"), uint64(seq))
}

// InsertInvoice stores r with the customer's next number.
func (t *tx) InsertInvoice(r invoice.Record) error {
	if err := t.writable(); err != nil {
		return err
	}
	if r.ID == "" {
		return fmt.Errorf("%w: invoice with an empty id", store.ErrDuplicate)
	}
	c, err := t.Customer(r.CustomerID)
	if err != nil {
		return err
	}
	if t.btx.Bucket(kPayments.ids).Get([]byte(r.PaymentID)) == nil {
		return fmt.Errorf("%w: payment %q", store.ErrNotFound, r.PaymentID)
	}
	bi, err := t.ib(bInvoices)
	if err != nil {
		return err
	}
	bp, bc, bn := t.btx.Bucket(bInvoicePayment), t.btx.Bucket(bInvoiceCustomer), t.btx.Bucket(bInvoiceCounter)
	if bi.Get([]byte(r.ID)) != nil {
		return fmt.Errorf("%w: invoice %q", store.ErrDuplicate, r.ID)
	}
	if bp.Get([]byte(r.PaymentID)) != nil {
		return fmt.Errorf("%w: invoice of payment %q", store.ErrDuplicate, r.PaymentID)
	}
	var last int64
	if v := bn.Get([]byte(r.CustomerID)); len(v) == 8 {
		last = int64(binary.BigEndian.Uint64(v))
	}
	r.Prefix, r.Seq, r.CreatedAt = invoice.Prefix(c.InvoicePrefix), last+1, r.CreatedAt.UTC()
	v, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("bolt: invoice %q: %w", r.ID, err)
	}
	for _, put := range []struct {
		b    *bbolt.Bucket
		k, v []byte
	}{
		{bi, []byte(r.ID), v},
		{bp, []byte(r.PaymentID), []byte(r.ID)},
		{bc, invoiceCustomerKey(r.CustomerID, r.Seq), []byte(r.ID)},
		{bn, []byte(r.CustomerID), binary.BigEndian.AppendUint64(nil, uint64(r.Seq))},
	} {
		if err := put.b.Put(put.k, put.v); err != nil {
			return fmt.Errorf("bolt: %w", err)
		}
	}
	return nil
}

// Invoice reads an invoice.
func (t *tx) Invoice(id string) (invoice.Record, error) {
	var r invoice.Record
	b, err := t.ib(bInvoices)
	if err != nil {
		return r, err
	}
	var v []byte
	if b != nil {
		v = b.Get([]byte(id))
	}
	if v == nil {
		return r, fmt.Errorf("%w: invoice %q", store.ErrNotFound, id)
	}
	if err := json.Unmarshal(v, &r); err != nil {
		return r, fmt.Errorf("bolt: invoice %q: %w", id, err)
	}
	return r, nil
}

// InvoiceByPayment reads a payment's invoice.
func (t *tx) InvoiceByPayment(paymentID string) (invoice.Record, error) {
	b, err := t.ib(bInvoicePayment)
	if err != nil {
		return invoice.Record{}, err
	}
	var id []byte
	if b != nil {
		id = b.Get([]byte(paymentID))
	}
	if id == nil {
		return invoice.Record{}, fmt.Errorf("%w: invoice of payment %q", store.ErrNotFound, paymentID)
	}
	return t.Invoice(string(id))
}

// ListInvoices pages a customer's invoices, highest number first.
func (t *tx) ListInvoices(q store.InvoiceQuery) ([]invoice.Record, bool, error) {
	lo, hi := int64(0), int64(math.MaxInt64)
	seqOf := func(id string) (int64, error) {
		r, err := t.Invoice(id)
		if err == nil && r.CustomerID != q.CustomerID {
			err = fmt.Errorf("%w: invoice %q of another customer", store.ErrNotFound, id)
		}
		return r.Seq, err
	}
	var err error
	if q.StartingAfter != "" {
		if hi, err = seqOf(q.StartingAfter); err != nil {
			return nil, false, fmt.Errorf("starting_after: %w", err)
		}
	}
	if q.EndingBefore != "" {
		if lo, err = seqOf(q.EndingBefore); err != nil {
			return nil, false, fmt.Errorf("ending_before: %w", err)
		}
	}
	b, err := t.ib(bInvoiceCustomer)
	if err != nil || b == nil {
		return nil, false, err
	}
	limit := q.Size()
	prefix := []byte(q.CustomerID + "\x00")
	var ids [][]byte
	more := false
	c := b.Cursor()
	take := func(k, v []byte) bool { // false: stop
		if k == nil || !bytes.HasPrefix(k, prefix) {
			return false
		}
		seq := int64(binary.BigEndian.Uint64(k[len(prefix):]))
		if seq <= lo || seq >= hi {
			return false
		}
		if len(ids) == limit {
			more = true
			return false
		}
		ids = append(ids, append([]byte(nil), v...))
		return true
	}
	if q.EndingBefore != "" && q.StartingAfter == "" {
		for k, v := c.Seek(invoiceCustomerKey(q.CustomerID, lo+1)); take(k, v); k, v = c.Next() {
		}
		for a, z := 0, len(ids)-1; a < z; a, z = a+1, z-1 {
			ids[a], ids[z] = ids[z], ids[a]
		}
	} else {
		k, v := c.Seek(invoiceCustomerKey(q.CustomerID, hi))
		switch {
		case k == nil:
			k, v = c.Last()
		case !bytes.HasPrefix(k, prefix) || int64(binary.BigEndian.Uint64(k[len(prefix):])) >= hi:
			k, v = c.Prev()
		}
		for ; take(k, v); k, v = c.Prev() {
		}
	}
	out := make([]invoice.Record, 0, len(ids))
	for _, id := range ids {
		r, err := t.Invoice(string(id))
		if err != nil {
			return nil, false, err
		}
		out = append(out, r)
	}
	return out, more, nil
}
