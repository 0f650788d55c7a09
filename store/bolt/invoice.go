package bolt

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	bbolt "go.etcd.io/bbolt"

	"github.com/cofferhq/coffer/invoice"
	"github.com/cofferhq/coffer/store"
)

// Invoice records (store.Invoices) live in one bucket of their own,
// created by the first write that needs it (a store that never issued an
// invoice has none, and a read finds none). Each invoice is three keys of
// that bucket, told apart by their first byte:
//
//	r customer \0 seq (8 bytes)  -> record (JSON), in the customer's number order
//	i invoice id                 -> its r key
//	p payment id                 -> its r key
//
// The customer's last number is the last r key under the customer's
// prefix (a cursor seek), so numbering needs no counter key: a pending
// payment's invoice costs 3 keys in 1 bucket. bbolt has one writer at a
// time, so numbers are assigned one transaction at a time, and a
// rolled-back transaction takes its number with it.
var bInvoices = []byte("invoices")

var _ store.Invoices = (*tx)(nil)

// ib returns the invoice bucket (see lazyBucket).
func (t *tx) ib() (*bbolt.Bucket, error) { return t.lazyBucket(bInvoices, [][]byte{bInvoices}) }

// invoiceCustomerKey is the r key of a customer's invoice number seq.
func invoiceCustomerKey(customerID string, seq int64) []byte {
	return binary.BigEndian.AppendUint64([]byte("r"+customerID+"\x00"), uint64(seq))
}

// lastInvoiceSeq is the customer's highest invoice number (0: none).
func lastInvoiceSeq(b *bbolt.Bucket, customerID string) int64 {
	prefix := []byte("r" + customerID + "\x00")
	c := b.Cursor()
	k, _ := c.Seek(invoiceCustomerKey(customerID, math.MaxInt64))
	if k == nil {
		k, _ = c.Last()
	} else if !bytes.Equal(k, invoiceCustomerKey(customerID, math.MaxInt64)) {
		k, _ = c.Prev()
	}
	if k == nil || !bytes.HasPrefix(k, prefix) || len(k) != len(prefix)+8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(k[len(prefix):]))
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
	b, err := t.ib()
	if err != nil {
		return err
	}
	if b.Get([]byte("i"+r.ID)) != nil {
		return fmt.Errorf("%w: invoice %q", store.ErrDuplicate, r.ID)
	}
	if b.Get([]byte("p"+r.PaymentID)) != nil {
		return fmt.Errorf("%w: invoice of payment %q", store.ErrDuplicate, r.PaymentID)
	}
	r.Prefix, r.Seq, r.CreatedAt = invoice.Prefix(c.InvoicePrefix), lastInvoiceSeq(b, r.CustomerID)+1, r.CreatedAt.UTC()
	v, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("bolt: invoice %q: %w", r.ID, err)
	}
	rk := invoiceCustomerKey(r.CustomerID, r.Seq)
	for _, kv := range [][2][]byte{{rk, v}, {[]byte("i" + r.ID), rk}, {[]byte("p" + r.PaymentID), rk}} {
		if err := b.Put(kv[0], kv[1]); err != nil {
			return fmt.Errorf("bolt: %w", err)
		}
	}
	return nil
}

// Invoice reads an invoice.
func (t *tx) Invoice(id string) (invoice.Record, error) {
	return t.invoiceAt("i"+id, "invoice "+strconv.Quote(id))
}

// InvoiceByPayment reads a payment's invoice.
func (t *tx) InvoiceByPayment(paymentID string) (invoice.Record, error) {
	return t.invoiceAt("p"+paymentID, "invoice of payment "+strconv.Quote(paymentID))
}

// invoiceAt reads the record an i or p key points at.
func (t *tx) invoiceAt(key, what string) (invoice.Record, error) {
	var r invoice.Record
	b, err := t.ib()
	if err != nil {
		return r, err
	}
	var v []byte
	if b != nil {
		if rk := b.Get([]byte(key)); rk != nil {
			v = b.Get(rk)
		}
	}
	if v == nil {
		return r, fmt.Errorf("%w: %s", store.ErrNotFound, what)
	}
	if err := json.Unmarshal(v, &r); err != nil {
		return r, fmt.Errorf("bolt: %s: %w", what, err)
	}
	return r, nil
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
	b, err := t.ib()
	if err != nil || b == nil {
		return nil, false, err
	}
	limit := q.Size()
	prefix := []byte("r" + q.CustomerID + "\x00")
	var vals [][]byte
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
		if len(vals) == limit {
			more = true
			return false
		}
		vals = append(vals, v)
		return true
	}
	if q.EndingBefore != "" && q.StartingAfter == "" {
		for k, v := c.Seek(invoiceCustomerKey(q.CustomerID, lo+1)); take(k, v); k, v = c.Next() {
		}
		for a, z := 0, len(vals)-1; a < z; a, z = a+1, z-1 {
			vals[a], vals[z] = vals[z], vals[a]
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
	out := make([]invoice.Record, len(vals))
	for i, v := range vals {
		if err := json.Unmarshal(v, &out[i]); err != nil {
			return nil, false, fmt.Errorf("bolt: invoice of customer %q: %w", q.CustomerID, err)
		}
	}
	return out, more, nil
}
