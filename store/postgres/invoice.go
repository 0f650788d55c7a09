package postgres

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/cofferhq/coffer/invoice"
	"github.com/cofferhq/coffer/store"
)

// Invoices (migration 0009): InsertInvoice is one statement that bumps the
// customer's counter (an upsert whose row lock serializes the customer's
// numbering until commit), reads the customer's prefix and inserts the
// record. It has no answer to wait for, so it is queued and sent with the
// next statement or with COMMIT: numbering a payment costs no round trip.

var _ store.Invoices = (*tx)(nil)

const invoiceCols = `id, customer_id, payment_id, prefix, seq, created_at`

// insertInvoice: $1 id, $2 customer, $3 payment, $4 created_at, $5 the
// default prefix, $6 the longest prefix (invoice.Prefix's rule: trimmed,
// cut to MaxPrefix characters, the default when empty).
const insertInvoice = `WITH n AS (
		INSERT INTO invoice_counters AS c (customer_id, last) VALUES ($2, 1)
		ON CONFLICT (customer_id) DO UPDATE SET last = c.last + 1
		RETURNING last)
	INSERT INTO invoices (` + invoiceCols + `)
	SELECT $1, $2, $3, COALESCE(NULLIF(btrim(left(btrim(cu.invoice_prefix), $6)), ''), $5), n.last, $4
	FROM n LEFT JOIN customers cu ON cu.id = $2`

// InsertInvoice queues the numbering of r (see store.Invoices).
func (t *tx) InsertInvoice(r invoice.Record) error {
	if r.ID == "" {
		return fmt.Errorf("%w: invoice with an empty id", store.ErrDuplicate)
	}
	return t.queue(insertInvoice, r.ID, r.CustomerID, r.PaymentID, r.CreatedAt, invoice.DefaultPrefix, invoice.MaxPrefix)
}

func scanInvoice(row pgx.Rows, r *invoice.Record) error {
	if err := row.Scan(&r.ID, &r.CustomerID, &r.PaymentID, &r.Prefix, &r.Seq, &r.CreatedAt); err != nil {
		return err
	}
	r.CreatedAt = r.CreatedAt.UTC()
	return nil
}

// Invoice reads an invoice.
func (t *tx) Invoice(id string) (invoice.Record, error) {
	var r invoice.Record
	err := t.getOne("invoice", id, `SELECT `+invoiceCols+` FROM invoices WHERE id = $1`, []any{id},
		func(row pgx.Rows) error { return scanInvoice(row, &r) })
	return r, err
}

// InvoiceByPayment reads a payment's invoice.
func (t *tx) InvoiceByPayment(paymentID string) (invoice.Record, error) {
	var r invoice.Record
	err := t.getOne("invoice of payment", paymentID, `SELECT `+invoiceCols+` FROM invoices WHERE payment_id = $1`,
		[]any{paymentID}, func(row pgx.Rows) error { return scanInvoice(row, &r) })
	return r, err
}

// ListInvoices pages a customer's invoices, highest number first, through
// the (customer_id, seq) unique index. A cursor must be an invoice of the
// same customer.
func (t *tx) ListInvoices(q store.InvoiceQuery) ([]invoice.Record, bool, error) {
	n := q.Size()
	var sb strings.Builder
	sb.WriteString(`SELECT ` + invoiceCols + ` FROM invoices WHERE customer_id = $1`)
	args := []any{q.CustomerID}
	if q.StartingAfter != "" {
		args = append(args, q.StartingAfter)
		fmt.Fprintf(&sb, ` AND seq < (SELECT seq FROM invoices WHERE id = $%d AND customer_id = $1)`, len(args))
	}
	asc := false
	if q.EndingBefore != "" {
		args = append(args, q.EndingBefore)
		fmt.Fprintf(&sb, ` AND seq > (SELECT seq FROM invoices WHERE id = $%d AND customer_id = $1)`, len(args))
		asc = q.StartingAfter == ""
	}
	if asc {
		sb.WriteString(` ORDER BY seq ASC`)
	} else {
		sb.WriteString(` ORDER BY seq DESC`)
	}
	args = append(args, n+1)
	fmt.Fprintf(&sb, ` LIMIT $%d`, len(args))
	out, err := listAll(t, sb.String(), args, scanInvoice)
	if err != nil {
		return nil, false, err
	}
	if len(out) == 0 {
		for _, c := range []string{q.StartingAfter, q.EndingBefore} {
			if c == "" {
				continue
			}
			found := false
			err := t.query(`SELECT 1 FROM invoices WHERE id = $1 AND customer_id = $2`, []any{c, q.CustomerID},
				func(pgx.Rows) error { found = true; return nil })
			if err != nil {
				return nil, false, err
			}
			if !found {
				return nil, false, fmt.Errorf("%w: cursor invoice %q", store.ErrNotFound, c)
			}
		}
	}
	more := len(out) > n
	if more {
		out = out[:n]
	}
	if asc {
		for a, z := 0, len(out)-1; a < z; a, z = a+1, z-1 {
			out[a], out[z] = out[z], out[a]
		}
	}
	return out, more, nil
}
