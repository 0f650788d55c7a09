package coffer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/internal/pdfcheck"
	"github.com/cofferhq/coffer/invoice"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/memory"
	"github.com/cofferhq/coffer/subscription"
)

// rollbackStore rolls back (after its function returned nil, as a crash
// before COMMIT would) every Update that numbered an invoice for a payment
// whose idempotency key ends in "-rollback".
type rollbackStore struct{ store.Store }

var errInjectedRollback = errors.New("test: rolled back after the invoice was numbered")

type rollbackTx struct {
	store.Tx
	store.CreditGrants
	keys     map[string]string // payment id -> idempotency key
	rollback bool
}

func (t *rollbackTx) InsertPayment(p subscription.Payment) error {
	t.keys[p.ID] = p.IdempotencyKey
	return t.Tx.InsertPayment(p)
}

func (t *rollbackTx) InsertInvoice(r invoice.Record) error {
	if strings.HasSuffix(t.keys[r.PaymentID], "-rollback") {
		t.rollback = true
	}
	return t.Tx.InsertInvoice(r)
}

func (s rollbackStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.Update(ctx, func(tx store.Tx) error {
		w := &rollbackTx{Tx: tx, CreditGrants: tx.(store.CreditGrants), keys: map[string]string{}}
		if err := fn(w); err != nil {
			return err
		}
		if w.rollback {
			return errInjectedRollback
		}
		return nil
	})
}

func (v *env) invoiceCustomer(prefix string) customer.Customer {
	v.t.Helper()
	c, err := v.CreateCustomer(v.ctx, customer.Params{Name: new("Ada Lovelace"), Email: new("ada@example.com"),
		InvoicePrefix: new(prefix), Address: &customer.Address{Line1: "12 St James's Square", City: "London", Country: "GB"}})
	require.NoError(v.t, err)
	return c
}

func (v *env) allInvoices(customerID string) []invoice.Document {
	v.t.Helper()
	var out []invoice.Document
	p := ListParams{Limit: 7}
	for {
		l, err := v.ListInvoices(v.ctx, customerID, p)
		require.NoError(v.t, err)
		out = append(out, l.Data...)
		if !l.HasMore {
			return out
		}
		p.StartingAfter = l.Data[len(l.Data)-1].ID
	}
}

// TestInvoiceNumbersGaplessUnderConcurrentPayments races 64 payments of one
// customer (succeeding, declined, paid from the wallet, and some whose
// reserving transaction rolls back after its number was assigned) and
// requires the committed numbers to be 1..n, one per payment.
func TestInvoiceNumbersGaplessUnderConcurrentPayments(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, func(t *testing.T) store.Store { return rollbackStore{newStore(t)} })
		c := v.invoiceCustomer("ADA")
		ok := v.odSubscribe(c.ID, processor.CardOK)
		soft := v.odSubscribe(c.ID, processor.CardInsufficientFunds)
		v.odFund(c.ID, 3_00, "USD") // some payments are paid (partly) from the wallet
		const n = 64
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			pays   = map[string]subscription.Payment{}
			rolled int
		)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var (
					p   subscription.Payment
					err error
				)
				key := fmt.Sprint("k-", i)
				switch i % 4 {
				case 0: // a declined subscription charge: a debt, open
					p, err = v.Charge(v.ctx, soft.ID, ChargeParams{ProductPrice: new(int64(2_00)), IdempotencyKey: key})
				case 1: // a one-time payment
					p, err = v.ChargeOneTime(v.ctx, c.ID, OneTimeParams{Amount: 1_50, Currency: "USD",
						PaymentMethod: processor.CardOK, IdempotencyKey: key})
				case 2: // a charge, every other one rolled back after numbering
					if i%8 == 2 {
						key += "-rollback"
					}
					p, err = v.Charge(v.ctx, ok.ID, ChargeParams{ProductPrice: new(int64(1_00)), IdempotencyKey: key})
				case 3: // a declined one-time payment: void
					p, err = v.ChargeOneTime(v.ctx, c.ID, OneTimeParams{Amount: 75, Currency: "USD",
						PaymentMethod: processor.CardDoNotHonor, IdempotencyKey: key})
				}
				mu.Lock()
				defer mu.Unlock()
				switch {
				case errors.Is(err, errInjectedRollback):
					rolled++
				case err != nil:
					t.Errorf("payment %d: %v", i, err)
				default:
					pays[p.ID] = p
				}
			}()
		}
		wg.Wait()
		require.Equal(t, n/8, rolled)
		stored := v.odPayments(c.ID)
		require.Len(t, stored, len(pays), "a rolled-back payment is not stored")

		docs := v.allInvoices(c.ID)
		require.Len(t, docs, len(pays), "one invoice per payment")
		seen := map[string]bool{}
		statuses := map[invoice.Status]int{}
		for i, d := range docs {
			want := int64(len(docs) - i)
			require.Equal(t, fmt.Sprintf("ADA-%04d", want), d.Number, "gapless, newest first")
			p, ok := pays[d.PaymentID]
			require.True(t, ok, "invoice %s of an unknown payment", d.Number)
			require.False(t, seen[d.PaymentID])
			seen[d.PaymentID] = true
			statuses[d.Status]++
			switch {
			case p.Status == subscription.PaymentSucceeded:
				require.Equal(t, invoice.StatusPaid, d.Status)
			case p.Kind == subscription.KindSubscription:
				require.Equal(t, invoice.StatusOpen, d.Status, "a declined charge is a debt")
			default:
				require.Equal(t, invoice.StatusVoid, d.Status, "a declined one-time payment owes nothing")
			}
			got, err := v.PaymentInvoice(v.ctx, d.PaymentID)
			require.NoError(t, err)
			require.Equal(t, d.Number, got.Number)
		}
		require.Positive(t, statuses[invoice.StatusOpen])
		require.Positive(t, statuses[invoice.StatusVoid])
		require.Positive(t, statuses[invoice.StatusPaid])

		// Retries collect the debts and take no number.
		var last time.Time
		for _, p := range stored {
			if p.NextRetryAt.After(last) {
				last = p.NextRetryAt
			}
		}
		v.clock.Set(last)
		_, err := v.RunDue(v.ctx)
		require.NoError(t, err)
		after := v.odPayments(c.ID)
		require.Greater(t, len(after), len(stored), "the retries ran")
		require.Len(t, v.allInvoices(c.ID), len(pays), "a retry takes no number")
		for _, p := range after {
			if p.RetryOf == "" {
				continue
			}
			d, err := v.PaymentInvoice(v.ctx, p.ID)
			require.NoError(t, err)
			require.Equal(t, p.RetryOf, d.PaymentID, "a retry belongs to the invoice of its debt")
		}
	})
}

// TestInvoiceOfARetriedCharge: a failed charge's invoice is open, a retry
// that succeeds pays it (a receipt, paid by the retry); CollectOverdue
// does the same.
func TestInvoiceOfARetriedCharge(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore, WithRetryPolicy(retry.Policy{Schedule: []time.Duration{0, retry.Day}, MaxAttempts: 2}))
		c := v.invoiceCustomer("ADA")
		s := v.odSubscribe(c.ID, processor.CardOK)
		v.proc.Script(processor.CardOK, processor.InsufficientFunds, processor.InsufficientFunds)
		p, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(8_00))})
		require.NoError(t, err)
		require.Equal(t, subscription.PaymentFailed, p.Status)
		d, err := v.PaymentInvoice(v.ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, invoice.StatusOpen, d.Status)
		require.Equal(t, int64(8_00), d.AmountDue)
		require.Equal(t, "ADA-0001", d.Number)

		v.clock.Set(p.NextRetryAt)
		_, err = v.RunDue(v.ctx) // declines again: no retry left
		require.NoError(t, err)
		col, err := v.CollectOverdue(v.ctx, p.ID, CollectOverdueParams{IdempotencyKey: "collect-1"})
		require.NoError(t, err)
		require.Equal(t, subscription.PaymentSucceeded, col.Status)
		require.Equal(t, p.ID, col.RetryOf)
		for _, id := range []string{p.ID, col.ID} {
			d, err := v.PaymentInvoice(v.ctx, id)
			require.NoError(t, err)
			require.Equal(t, "ADA-0001", d.Number)
			require.Equal(t, invoice.StatusPaid, d.Status)
			require.Equal(t, col.ID, d.PaidBy)
			require.Zero(t, d.AmountDue)
		}
		next, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(1_00))})
		require.NoError(t, err)
		d, err = v.PaymentInvoice(v.ctx, next.ID)
		require.NoError(t, err)
		require.Equal(t, "ADA-0002", d.Number, "the retries took no number")
	})
}

// TestInvoiceDocument: lines and totals of a payment paid partly from the
// wallet and partly refunded; issuer and customer; HTML and PDF.
func TestInvoiceDocument(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		iss := invoice.Issuer{Name: "Coffer Ltd", Email: "billing@coffer.test", TaxID: "FR123",
			Address: &customer.Address{Line1: "1 rue de Rivoli", City: "Paris", PostalCode: "75001", Country: "FR"}}
		v := newEnv(t, newStore, WithIssuer(iss))
		require.Equal(t, iss, v.Issuer())
		c := v.invoiceCustomer("")
		_, err := v.CreateEntry(v.ctx, c.ID, EntryParams{Amount: 4_00, Currency: "USD", Type: ledger.Credit, Reason: "gift"})
		require.NoError(t, err)
		p, err := v.ChargeOneTime(v.ctx, c.ID, OneTimeParams{Amount: 10_00, Currency: "USD", PaymentMethod: processor.CardOK,
			Description: "Annual <plan>"})
		require.NoError(t, err)
		_, err = v.Refund(v.ctx, p.ID, RefundParams{Amount: 2_50, Reason: "partial", IdempotencyKey: "r1"})
		require.NoError(t, err)
		d, err := v.PaymentInvoice(v.ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, invoice.DefaultPrefix+"-0001", d.Number, "a customer without a prefix")
		require.Equal(t, invoice.IDFor(p.ID), d.ID)
		require.Equal(t, invoice.StatusPaid, d.Status)
		require.Equal(t, iss, d.Issuer)
		require.Equal(t, "Ada Lovelace", d.BillTo.Name)
		require.Equal(t, []invoice.Line{{Description: "Annual <plan>", Quantity: 1, UnitPrice: 10_00, Amount: 10_00}}, d.Lines)
		require.Equal(t, int64(4_00), d.WalletApplied)
		require.Equal(t, int64(6_00), d.CardCharged)
		require.Equal(t, int64(2_50), d.Refunded)
		require.Equal(t, int64(7_50), d.Net)
		require.Len(t, d.Refunds, 1)
		byID, err := v.Invoice(v.ctx, d.ID)
		require.NoError(t, err)
		require.Equal(t, d, byID)

		var h bytes.Buffer
		require.NoError(t, d.HTML(&h))
		for _, want := range []string{d.Number, "Annual &lt;plan&gt;", "Paid from wallet", "4.00 USD", "6.00 USD",
			"-2.50 USD", "7.50 USD", "Coffer Ltd", "FR123", "75001 Paris", "Ada Lovelace", "London"} {
			require.Contains(t, h.String(), want)
		}
		var b bytes.Buffer
		require.NoError(t, d.PDF(&b))
		doc, err := pdfcheck.Parse(b.Bytes())
		require.NoError(t, err)
		require.Contains(t, doc.Text, d.Number)
		require.Contains(t, doc.Text, "7.50 USD")
	})
}

func TestInvoiceRefusals(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		c := v.invoiceCustomer("ADA")
		_, err := v.PaymentInvoice(v.ctx, "pay_missing")
		require.ErrorIs(t, err, subscription.ErrPaymentNotFound)
		require.Equal(t, http.StatusNotFound, HTTPStatus(err))
		_, err = v.Invoice(v.ctx, "inv_missing")
		require.ErrorIs(t, err, ErrInvoiceNotFound)
		require.Equal(t, "invoice_not_found", AsError(err).Code)
		require.Equal(t, http.StatusNotFound, HTTPStatus(err))
		for _, bad := range []string{strings.Repeat("x", MaxIDLen+1), "inv\x00"} {
			_, err = v.Invoice(v.ctx, bad)
			require.Error(t, err)
			require.Equal(t, http.StatusUnprocessableEntity, HTTPStatus(err), "%q", bad)
			_, err = v.PaymentInvoice(v.ctx, bad)
			require.Error(t, err)
		}
		_, err = v.ListInvoices(v.ctx, "cus_missing", ListParams{})
		require.ErrorIs(t, err, customer.ErrNotFound)
		_, err = v.ListInvoices(v.ctx, c.ID, ListParams{StartingAfter: "inv_missing"})
		require.ErrorIs(t, err, ErrInvalidCursor)
		_, err = v.ListInvoices(v.ctx, c.ID, ListParams{Limit: store.MaxLimit + 1})
		require.ErrorIs(t, err, ErrInvalidLimit)
		_, err = v.PaymentInvoiceRecords(v.ctx, make([]subscription.Payment, MaxInvoiceLookup+1))
		require.ErrorIs(t, err, ErrInvalid)
		l, err := v.ListInvoices(v.ctx, c.ID, ListParams{})
		require.NoError(t, err)
		require.Empty(t, l.Data)
	})
}

func TestWithIssuerValidates(t *testing.T) {
	_, err := New(memory.New(), WithoutProcessor(), WithIssuer(invoice.Issuer{Name: "x", Address: &customer.Address{Country: "Atlantis"}}))
	require.ErrorIs(t, err, customer.ErrInvalidCountry)
	_, err = New(memory.New(), WithoutProcessor(), WithIssuer(invoice.Issuer{Name: "bad\x00"}))
	require.ErrorIs(t, err, customer.ErrInvalid)
	e, err := New(memory.New(), WithoutProcessor(), WithIssuer(invoice.Issuer{Name: " Coffer ", Address: &customer.Address{Country: " fr "}}))
	require.NoError(t, err)
	defer e.Close()
	require.Equal(t, invoice.Issuer{Name: "Coffer", Address: &customer.Address{Country: "FR"}}, e.Issuer(), "normalized")
}
