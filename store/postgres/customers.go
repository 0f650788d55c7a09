package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/store"
)

const customerCols = `id, name, email, phone, description, did, address, shipping, metadata,
	invoice_prefix, delinquent, livemode, created_at, updated_at`

var (
	getCustomer      = lockable(`SELECT ` + customerCols + ` FROM customers WHERE id = $1`)
	getCustomerByDID = lockable(`SELECT ` + customerCols + ` FROM customers WHERE did = $1`)
)

// insertCustomer writes the customer and its search tokens ($17), and
// reports whether it was inserted.
const insertCustomer = `WITH ins AS (
		INSERT INTO customers (id, name, email, email_fold, phone, description, did,
			address, shipping, metadata, invoice_prefix, delinquent, livemode, search_text, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
		ON CONFLICT DO NOTHING
		RETURNING seq
	), tok AS (
		INSERT INTO customer_tokens (tok, seq) SELECT t, ins.seq FROM ins, unnest($17::bytea[]) AS t
	)
	SELECT EXISTS (SELECT 1 FROM ins)`

// updateCustomer reports whether another customer holds the new DID (then
// nothing is written) and whether the customer exists, without the unique
// violation that would abort the transaction. It moves the customer's
// search tokens to $17: the ones no longer held go, new ones come.
const updateCustomer = `WITH taken AS (
		SELECT 1 FROM customers WHERE $7 <> '' AND did = $7 AND id <> $1 LIMIT 1
	), upd AS (
		UPDATE customers SET name = $2, email = $3, email_fold = $4, phone = $5, description = $6,
			did = $7, address = $8, shipping = $9, metadata = $10, invoice_prefix = $11,
			delinquent = $12, livemode = $13, search_text = $14, created_at = $15, updated_at = $16
		WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM taken)
		RETURNING seq
	), gone AS (
		DELETE FROM customer_tokens d USING upd WHERE d.seq = upd.seq AND NOT (d.tok = ANY ($17::bytea[]))
	), added AS (
		INSERT INTO customer_tokens (tok, seq) SELECT t, upd.seq FROM upd, unnest($17::bytea[]) AS t
		ON CONFLICT DO NOTHING
	)
	SELECT EXISTS (SELECT 1 FROM taken), EXISTS (SELECT 1 FROM upd)`

func scanCustomer(r pgx.Rows, c *customer.Customer) error {
	var addr, ship, meta []byte
	err := r.Scan(&c.ID, &c.Name, &c.Email, &c.Phone, &c.Description, &c.DID, &addr, &ship, &meta,
		&c.InvoicePrefix, &c.Delinquent, &c.Livemode, &c.CreatedAt, &c.UpdatedAt)
	if err != nil {
		return err
	}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	if c.Address, err = decodePtr[customer.Address](addr); err != nil {
		return err
	}
	if c.Shipping, err = decodePtr[customer.Shipping](ship); err != nil {
		return err
	}
	c.Metadata, err = decodeMeta(meta)
	return err
}

func customerArgs(c customer.Customer) ([]any, error) {
	addr, err := jsonArg(c.Address, c.Address == nil)
	if err != nil {
		return nil, err
	}
	ship, err := jsonArg(c.Shipping, c.Shipping == nil)
	if err != nil {
		return nil, err
	}
	meta, err := metaArg(c.Metadata)
	if err != nil {
		return nil, err
	}
	return []any{c.ID, c.Name, c.Email, customer.Fold(c.Email), c.Phone, c.Description, c.DID,
		addr, ship, meta, c.InvoicePrefix, c.Delinquent, c.Livemode, customer.SearchText(c),
		timeArg(c.CreatedAt), timeArg(c.UpdatedAt), tokenArgs(c)}, nil
}

// InsertCustomer stores a new customer; an existing id or DID is
// store.ErrDuplicate.
func (t *tx) InsertCustomer(c customer.Customer) error {
	if err := t.writable(); err != nil {
		return err
	}
	args, err := customerArgs(c)
	if err != nil {
		return err
	}
	if err := t.writable(); err != nil {
		return err
	}
	inserted := false
	if err := t.query(insertCustomer, args, func(r pgx.Rows) error { return r.Scan(&inserted) }); err != nil {
		return err
	}
	if !inserted {
		return fmt.Errorf("%w: customer %q", store.ErrDuplicate, c.ID)
	}
	return nil
}

// Customer reads a customer.
func (t *tx) Customer(id string) (customer.Customer, error) {
	var c customer.Customer
	err := t.getOne("customer", id, t.lock(getCustomer), []any{id}, func(r pgx.Rows) error {
		return scanCustomer(r, &c)
	})
	return c, err
}

// CustomerByDID reads the customer with an external identity.
func (t *tx) CustomerByDID(did string) (customer.Customer, error) {
	var c customer.Customer
	if did == "" {
		return c, fmt.Errorf("%w: customer with an empty did", store.ErrNotFound)
	}
	err := t.getOne("customer with did", did, t.lock(getCustomerByDID), []any{did}, func(r pgx.Rows) error {
		return scanCustomer(r, &c)
	})
	return c, err
}

// UpdateCustomer replaces a stored customer. A DID that belongs to another
// customer is store.ErrDuplicate.
func (t *tx) UpdateCustomer(c customer.Customer) error {
	if err := t.writable(); err != nil {
		return err
	}
	args, err := customerArgs(c)
	if err != nil {
		return err
	}
	var taken, updated bool
	err = t.query(updateCustomer, args, func(r pgx.Rows) error { return r.Scan(&taken, &updated) })
	switch {
	case err != nil:
		return err
	case taken:
		return fmt.Errorf("%w: did %q belongs to another customer", store.ErrDuplicate, c.DID)
	case !updated:
		return fmt.Errorf("%w: customer %q", store.ErrNotFound, c.ID)
	}
	return nil
}

// ListCustomers lists customers newest first. The email filter uses an
// index on email_fold (customer.Fold, computed in Go on every write).
func (t *tx) ListCustomers(q store.CustomerQuery) ([]customer.Customer, bool, error) {
	l := listQuery{table: "customers", cols: customerCols}
	if q.Email != "" {
		l.filter("email_fold = ?", customer.Fold(q.Email))
	}
	return listPage(t, l, q.Page, scanCustomer)
}

// refoldBatch is how many customers one RefoldCustomers transaction reads.
const refoldBatch = 500

// RefoldCustomers recomputes email_fold and search_text of every customer
// with customer.Fold and customer.SearchText, and reports how many rows it
// rewrote. Rows written before coffer folded with customer.Fold (it used
// strings.ToLower, which differs for a few non-ASCII letters: the long s,
// the dotted capital I, the final sigma, ...) are otherwise missed by the
// email filter and the search until they are next updated. It is safe to
// run at any time and more than once; each batch commits on its own.
func (s *Store) RefoldCustomers(ctx context.Context) (int, error) {
	var after int64
	total := 0
	for {
		n, last, more := 0, after, false
		err := s.Update(ctx, func(stx store.Tx) error {
			t := stx.(*tx)
			type row struct {
				c          customer.Customer
				fold, text string
			}
			var rows []row
			n, last, more = 0, after, false
			err := t.query(`SELECT seq, id, name, email, phone, description, email_fold, search_text
				FROM customers WHERE seq > $1 ORDER BY seq LIMIT $2 FOR UPDATE`, []any{after, refoldBatch},
				func(r pgx.Rows) error {
					var w row
					if err := r.Scan(&last, &w.c.ID, &w.c.Name, &w.c.Email, &w.c.Phone, &w.c.Description, &w.fold, &w.text); err != nil {
						return err
					}
					rows = append(rows, w)
					return nil
				})
			if err != nil {
				return err
			}
			more = len(rows) == refoldBatch
			for _, w := range rows {
				fold, text := customer.Fold(w.c.Email), customer.SearchText(w.c)
				if fold == w.fold && text == w.text {
					continue
				}
				if _, err := t.exec(`UPDATE customers SET email_fold = $2, search_text = $3 WHERE id = $1`, w.c.ID, fold, text); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += n
		after = last
		if !more {
			return total, nil
		}
	}
}
