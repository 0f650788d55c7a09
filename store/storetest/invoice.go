package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/invoice"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

// RunInvoices tests store.Invoices: numbering, reads, lists, rollback and
// concurrent numbering.
func RunInvoices(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("Numbering", func(t *testing.T) { testInvoiceNumbering(t, newStore) })
	t.Run("List", func(t *testing.T) { testInvoiceList(t, newStore) })
	t.Run("Refusals", func(t *testing.T) { testInvoiceRefusals(t, newStore) })
	t.Run("Rollback", func(t *testing.T) { testInvoiceRollback(t, newStore) })
	t.Run("Concurrent", func(t *testing.T) { testInvoiceConcurrent(t, newStore) })
}

func invoiceCustomer(t *testing.T, s store.Store, prefix string) string {
	t.Helper()
	c := newCustomer(1)
	c.InvoicePrefix = prefix
	update(t, s, func(tx store.Tx) { require.NoError(t, tx.InsertCustomer(c)) })
	return c.ID
}

// payAndInvoice inserts a payment of customerID and its invoice in tx.
func payAndInvoice(tx store.Tx, customerID string) (invoice.Record, error) {
	p := newPayment(customerID, "", subscription.PaymentSucceeded)
	p.RetryOf = ""
	if err := tx.InsertPayment(p); err != nil {
		return invoice.Record{}, err
	}
	r := invoice.Record{ID: invoice.IDFor(p.ID), CustomerID: customerID, PaymentID: p.ID, CreatedAt: t0,
		Prefix: "IGNORED", Seq: 99}
	return r, tx.InsertInvoice(r)
}

func issue(t *testing.T, s store.Store, customerID string) invoice.Record {
	t.Helper()
	var r invoice.Record
	update(t, s, func(tx store.Tx) {
		var err error
		r, err = payAndInvoice(tx, customerID)
		require.NoError(t, err)
		// A read in the same transaction sees the number.
		r, err = tx.Invoice(r.ID)
		require.NoError(t, err)
	})
	return r
}

func testInvoiceNumbering(t *testing.T, newStore newStoreFunc) {
	s := newStore(t)
	ada := invoiceCustomer(t, s, "ADA")
	bob := invoiceCustomer(t, s, "")
	a1, a2 := issue(t, s, ada), issue(t, s, ada)
	b1 := issue(t, s, bob)
	require.Equal(t, "ADA-0001", a1.Number())
	require.Equal(t, "ADA-0002", a2.Number())
	require.Equal(t, invoice.DefaultPrefix+"-0001", b1.Number(), "numbers are per customer; the default prefix")
	require.Equal(t, t0, a1.CreatedAt)
	// A long prefix is cut to invoice.MaxPrefix characters, the same on
	// every store.
	long := strings.Repeat("é", invoice.MaxPrefix) + " tail"
	l1 := issue(t, s, invoiceCustomer(t, s, long))
	require.Equal(t, invoice.Prefix(long), l1.Prefix)
	require.Equal(t, strings.Repeat("é", invoice.MaxPrefix), l1.Prefix)

	// The prefix is captured when the number is assigned.
	update(t, s, func(tx store.Tx) {
		c, err := tx.Customer(ada)
		require.NoError(t, err)
		c.InvoicePrefix = "LOVE"
		require.NoError(t, tx.UpdateCustomer(c))
	})
	a3 := issue(t, s, ada)
	require.Equal(t, "LOVE-0003", a3.Number(), "one counter per customer, whatever the prefix")

	view(t, s, func(tx store.Tx) {
		got, err := tx.Invoice(a1.ID)
		require.NoError(t, err)
		require.Equal(t, a1, got)
		require.Equal(t, "ADA", got.Prefix)
		got, err = tx.InvoiceByPayment(a2.PaymentID)
		require.NoError(t, err)
		require.Equal(t, a2, got)
		_, err = tx.Invoice("inv_missing")
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = tx.InvoiceByPayment("pay_missing")
		require.ErrorIs(t, err, store.ErrNotFound)
		require.ErrorIs(t, tx.InsertInvoice(invoice.Record{ID: "inv_x", CustomerID: ada, PaymentID: a1.PaymentID}), store.ErrReadOnly)
	})
}

func testInvoiceList(t *testing.T, newStore newStoreFunc) {
	s := newStore(t)
	ada := invoiceCustomer(t, s, "ADA")
	other := invoiceCustomer(t, s, "OTH")
	var recs []invoice.Record
	for i := 0; i < 5; i++ {
		recs = append(recs, issue(t, s, ada))
		issue(t, s, other)
	}
	ids := func(l []invoice.Record) []string {
		out := []string{}
		for _, r := range l {
			out = append(out, r.ID)
		}
		return out
	}
	view(t, s, func(tx store.Tx) {
		all, more, err := tx.ListInvoices(store.InvoiceQuery{CustomerID: ada})
		require.NoError(t, err)
		require.False(t, more)
		require.Equal(t, []string{recs[4].ID, recs[3].ID, recs[2].ID, recs[1].ID, recs[0].ID}, ids(all))
		require.Equal(t, recs[4], all[0])

		p1, more, err := tx.ListInvoices(store.InvoiceQuery{CustomerID: ada, Page: store.Page{Limit: 2}})
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, []string{recs[4].ID, recs[3].ID}, ids(p1))
		p2, more, err := tx.ListInvoices(store.InvoiceQuery{CustomerID: ada, Page: store.Page{Limit: 2, StartingAfter: recs[3].ID}})
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, []string{recs[2].ID, recs[1].ID}, ids(p2))
		p3, more, err := tx.ListInvoices(store.InvoiceQuery{CustomerID: ada, Page: store.Page{Limit: 2, StartingAfter: recs[1].ID}})
		require.NoError(t, err)
		require.False(t, more)
		require.Equal(t, []string{recs[0].ID}, ids(p3))
		back, more, err := tx.ListInvoices(store.InvoiceQuery{CustomerID: ada, Page: store.Page{Limit: 2, EndingBefore: recs[1].ID}})
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, []string{recs[3].ID, recs[2].ID}, ids(back), "the records just newer, newest first")
		none, more, err := tx.ListInvoices(store.InvoiceQuery{CustomerID: ada, Page: store.Page{StartingAfter: recs[0].ID}})
		require.NoError(t, err)
		require.False(t, more)
		require.Empty(t, none)

		_, _, err = tx.ListInvoices(store.InvoiceQuery{CustomerID: ada, Page: store.Page{StartingAfter: "inv_missing"}})
		require.ErrorIs(t, err, store.ErrNotFound)
		oth, _, err := tx.ListInvoices(store.InvoiceQuery{CustomerID: other, Page: store.Page{Limit: 1}})
		require.NoError(t, err)
		_, _, err = tx.ListInvoices(store.InvoiceQuery{CustomerID: ada, Page: store.Page{EndingBefore: oth[0].ID}})
		require.ErrorIs(t, err, store.ErrNotFound, "a cursor of another customer")
		empty, more, err := tx.ListInvoices(store.InvoiceQuery{CustomerID: "cus_none"})
		require.NoError(t, err)
		require.False(t, more)
		require.Empty(t, empty)
	})
}

func testInvoiceRefusals(t *testing.T, newStore newStoreFunc) {
	s := newStore(t)
	ada := invoiceCustomer(t, s, "ADA")
	a1 := issue(t, s, ada)
	// The same payment twice, the same id twice: refused, nothing numbered.
	err := s.Update(ctx, func(tx store.Tx) error {
		return tx.InsertInvoice(invoice.Record{ID: "inv_other", CustomerID: ada, PaymentID: a1.PaymentID, CreatedAt: t0})
	})
	require.ErrorIs(t, err, store.ErrDuplicate)
	err = s.Update(ctx, func(tx store.Tx) error {
		p := newPayment(ada, "", subscription.PaymentSucceeded)
		if err := tx.InsertPayment(p); err != nil {
			return err
		}
		return tx.InsertInvoice(invoice.Record{ID: a1.ID, CustomerID: ada, PaymentID: p.ID, CreatedAt: t0})
	})
	require.ErrorIs(t, err, store.ErrDuplicate)
	// An unknown customer or payment.
	err = s.Update(ctx, func(tx store.Tx) error {
		return tx.InsertInvoice(invoice.Record{ID: "inv_nocus", CustomerID: "cus_missing", PaymentID: a1.PaymentID, CreatedAt: t0})
	})
	require.Error(t, err)
	err = s.Update(ctx, func(tx store.Tx) error {
		return tx.InsertInvoice(invoice.Record{ID: "inv_nopay", CustomerID: ada, PaymentID: "pay_missing", CreatedAt: t0})
	})
	require.Error(t, err)
	require.Equal(t, "ADA-0002", issue(t, s, ada).Number(), "no refusal took a number")
}

var errInvoiceRollback = errors.New("storetest: roll back")

func testInvoiceRollback(t *testing.T, newStore newStoreFunc) {
	s := newStore(t)
	ada := invoiceCustomer(t, s, "ADA")
	issue(t, s, ada)
	var rolled invoice.Record
	err := s.Update(ctx, func(tx store.Tx) error {
		r, err := payAndInvoice(tx, ada)
		if err != nil {
			return err
		}
		if rolled, err = tx.Invoice(r.ID); err != nil {
			return err
		}
		return errInvoiceRollback
	})
	require.ErrorIs(t, err, errInvoiceRollback)
	require.Equal(t, int64(2), rolled.Seq, "the rolled-back transaction had number 2")
	view(t, s, func(tx store.Tx) {
		_, err := tx.Invoice(rolled.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
	})
	require.Equal(t, "ADA-0002", issue(t, s, ada).Number(), "the rollback took its number with it")
}

func testInvoiceConcurrent(t *testing.T, newStore newStoreFunc) {
	s := newStore(t)
	ada := invoiceCustomer(t, s, "ADA")
	const n = 32
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		committed int
	)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Update(ctx, func(tx store.Tx) error {
				if _, err := payAndInvoice(tx, ada); err != nil {
					return err
				}
				if i%3 == 0 {
					return errInvoiceRollback
				}
				return nil
			})
			if i%3 == 0 {
				if !errors.Is(err, errInvoiceRollback) {
					t.Errorf("transaction %d: %v", i, err)
				}
				return
			}
			if err != nil {
				t.Errorf("transaction %d: %v", i, err)
				return
			}
			mu.Lock()
			committed++
			mu.Unlock()
		}()
	}
	wg.Wait()
	view(t, s, func(tx store.Tx) {
		var seqs []int64
		q := store.InvoiceQuery{CustomerID: ada, Page: store.Page{Limit: store.MaxLimit}}
		list, more, err := tx.ListInvoices(q)
		require.NoError(t, err)
		require.False(t, more)
		for _, r := range list {
			seqs = append(seqs, r.Seq)
		}
		require.Len(t, seqs, committed)
		for i, seq := range seqs {
			require.Equal(t, int64(committed-i), seq, "gapless, newest first: %v", seqs)
			require.Equal(t, fmt.Sprintf("ADA-%04d", seq), list[i].Number())
		}
	})
}
