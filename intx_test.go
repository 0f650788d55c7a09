package coffer

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/postgres"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
)

// hostEnv is an engine on PostgreSQL with an application table of its own
// (orders) in coffer's schema, for the host-transaction tests.
type hostEnv struct {
	*env
	pg *postgres.Store
}

func newHostEnv(t *testing.T, opts ...Option) *hostEnv {
	t.Helper()
	v := newEnv(t, storeKinds["postgres"], opts...)
	pg := v.store.(*postgres.Store)
	_, err := pg.Pool().Exec(v.ctx, "create table orders (id text primary key, amount bigint not null)")
	require.NoError(t, err)
	return &hostEnv{env: v, pg: pg}
}

// begin opens a host transaction on the store's pool; cleanup rolls it
// back if the test did not end it.
func (h *hostEnv) begin() pgx.Tx {
	h.t.Helper()
	tx, err := h.pg.Pool().Begin(h.ctx)
	require.NoError(h.t, err)
	h.t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	return tx
}

func (h *hostEnv) orders() int {
	var n int
	require.NoError(h.t, h.pg.Pool().QueryRow(h.ctx, "select count(*) from orders").Scan(&n))
	return n
}

func (h *hostEnv) customer() customer.Customer {
	c, err := h.CreateCustomer(h.ctx, customer.Params{Name: new("Host")})
	require.NoError(h.t, err)
	return c
}

func (h *hostEnv) balance(id string) wallet.Balance {
	b, err := h.Balance(h.ctx, id, "USD")
	require.NoError(h.t, err)
	return b
}

// TestInTxCommit: the host's order row and coffer's entry, balance and
// event commit together; the dispatcher delivers the event after commit,
// and not before.
func TestInTxCommit(t *testing.T) {
	var (
		mu   sync.Mutex
		seen []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, r.Header.Get("webhook-id")+" "+string(body))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	h := newHostEnv(t, WithWebhookOptions(WebhookOptions{AllowPrivateNetworks: true}))
	c := h.customer()
	_, err := h.CreateEndpoint(h.ctx, EndpointParams{URL: srv.URL, EventTypes: []string{EventBalanceChanged}})
	require.NoError(t, err)

	tx := h.begin()
	_, err = tx.Exec(h.ctx, "insert into orders values ('ord_1', 1500)")
	require.NoError(t, err)
	res, err := h.InTx(h.pg.HostTx(tx)).CreateEntry(h.ctx, c.ID, EntryParams{Amount: 1500, Currency: "USD",
		Type: ledger.Credit, IdempotencyKey: "order-ord_1", ReferenceID: "ord_1"})
	require.NoError(t, err)
	require.False(t, res.Replayed)
	require.EqualValues(t, 1500, res.Balance.Amount)

	// Before the commit nothing is visible outside the host transaction,
	// and nothing is delivered.
	require.EqualValues(t, 0, h.balance(c.ID).Amount)
	require.Zero(t, h.orders())
	rep, err := h.DispatchDue(h.ctx)
	require.NoError(t, err)
	require.Zero(t, rep.Attempted)

	require.NoError(t, tx.Commit(h.ctx))
	require.Equal(t, 1, h.orders())
	require.EqualValues(t, 1500, h.balance(c.ID).Amount)
	list, err := h.ListEntries(h.ctx, EntryListParams{CustomerID: c.ID})
	require.NoError(t, err)
	require.Len(t, list.Data, 1)
	require.Equal(t, res.Entry.ID, list.Data[0].ID)
	require.Equal(t, 1, h.eventTypes()[EventBalanceChanged])

	rep, err = h.DispatchDue(h.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Succeeded)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, seen, 1)
	require.Contains(t, seen[0], res.Entry.ID)
}

// TestInTxRollback: a host transaction that rolls back leaves nothing of
// coffer: no customer, no entry, no balance change, no event, and the
// idempotency key is free again.
func TestInTxRollback(t *testing.T) {
	h := newHostEnv(t)
	c := h.customer()
	before := h.eventTypes()

	tx := h.begin()
	_, err := tx.Exec(h.ctx, "insert into orders values ('ord_1', 700)")
	require.NoError(t, err)
	te := h.InTx(h.pg.HostTx(tx))
	_, err = te.CreateEntry(h.ctx, c.ID, EntryParams{Amount: 700, Currency: "USD", Type: ledger.Credit, IdempotencyKey: "k1"})
	require.NoError(t, err)
	other, err := te.CreateCustomer(h.ctx, customer.Params{Name: new("Never")})
	require.NoError(t, err)
	b, err := te.Balance(h.ctx, c.ID, "USD")
	require.NoError(t, err)
	require.EqualValues(t, 700, b.Amount, "the host transaction sees its own entry")
	require.NoError(t, tx.Rollback(h.ctx))

	require.Zero(t, h.orders())
	require.EqualValues(t, 0, h.balance(c.ID).Amount)
	list, err := h.ListEntries(h.ctx, EntryListParams{CustomerID: c.ID})
	require.NoError(t, err)
	require.Empty(t, list.Data)
	_, err = h.Customer(h.ctx, other.ID)
	require.ErrorIs(t, err, customer.ErrNotFound)
	require.Equal(t, before, h.eventTypes(), "no event of the rolled-back transaction")

	// The key was never claimed: another request under it is a new entry,
	// not a replay nor a conflict.
	res, err := h.CreateEntry(h.ctx, c.ID, EntryParams{Amount: 300, Currency: "USD", Type: ledger.Credit, IdempotencyKey: "k1"})
	require.NoError(t, err)
	require.False(t, res.Replayed)
	require.EqualValues(t, 300, res.Balance.Amount)
}

// TestInTxIdempotency: a key replays inside the host transaction (the same
// request) and conflicts (another request); keys committed before the
// host transaction replay in it too.
func TestInTxIdempotency(t *testing.T) {
	h := newHostEnv(t)
	c := h.customer()
	first, err := h.CreateEntry(h.ctx, c.ID, EntryParams{Amount: 100, Currency: "USD", Type: ledger.Credit, IdempotencyKey: "before"})
	require.NoError(t, err)

	tx := h.begin()
	te := h.InTx(h.pg.HostTx(tx))
	p := EntryParams{Amount: 250, Currency: "USD", Type: ledger.Credit, IdempotencyKey: "inside"}
	a, err := te.CreateEntry(h.ctx, c.ID, p)
	require.NoError(t, err)
	b, err := te.CreateEntry(h.ctx, c.ID, p)
	require.NoError(t, err)
	require.True(t, b.Replayed)
	require.Equal(t, a.Entry.ID, b.Entry.ID)
	p.Amount = 999
	_, err = te.CreateEntry(h.ctx, c.ID, p)
	require.ErrorIs(t, err, ledger.ErrIdempotencyConflict)
	again, err := te.CreateEntry(h.ctx, c.ID, EntryParams{Amount: 100, Currency: "USD", Type: ledger.Credit, IdempotencyKey: "before"})
	require.NoError(t, err)
	require.True(t, again.Replayed)
	require.Equal(t, first.Entry.ID, again.Entry.ID)
	require.NoError(t, tx.Commit(h.ctx))

	require.EqualValues(t, 350, h.balance(c.ID).Amount)
	list, err := h.ListEntries(h.ctx, EntryListParams{CustomerID: c.ID})
	require.NoError(t, err)
	require.Len(t, list.Data, 2)
	// After the commit the key replays outside too.
	p.Amount = 250
	out, err := h.CreateEntry(h.ctx, c.ID, p)
	require.NoError(t, err)
	require.True(t, out.Replayed)
	require.Equal(t, a.Entry.ID, out.Entry.ID)
}

// TestInTxBadInput: refused calls return the Engine's typed errors, write
// nothing, and leave the host transaction usable.
func TestInTxBadInput(t *testing.T) {
	h := newHostEnv(t)
	c := h.customer()
	tx := h.begin()
	te := h.InTx(h.pg.HostTx(tx))
	_, err := te.CreateEntry(h.ctx, c.ID, EntryParams{Amount: 0, Currency: "USD", Type: ledger.Credit})
	require.ErrorIs(t, err, ledger.ErrInvalidAmount)
	_, err = te.CreateEntry(h.ctx, c.ID, EntryParams{Amount: 5, Currency: "XXX", Type: ledger.Credit})
	require.Equal(t, "unknown_currency", ErrorCode(err))
	// Refused inside the store transaction, after coffer's reads: the
	// savepoint is rolled back to.
	_, err = te.CreateEntry(h.ctx, c.ID, EntryParams{Amount: 5, Currency: "USD", Type: ledger.Debit})
	require.ErrorIs(t, err, wallet.ErrInsufficientFunds)
	_, err = te.CreateEntry(h.ctx, "cus_00000000000000000000000000000000", EntryParams{Amount: 5, Currency: "USD", Type: ledger.Credit})
	require.ErrorIs(t, err, customer.ErrNotFound)

	// The host transaction goes on: its own row and a good entry commit.
	_, err = tx.Exec(h.ctx, "insert into orders values ('ord_2', 5)")
	require.NoError(t, err)
	_, err = te.CreateEntry(h.ctx, c.ID, EntryParams{Amount: 5, Currency: "USD", Type: ledger.Credit})
	require.NoError(t, err)
	require.NoError(t, tx.Commit(h.ctx))
	require.Equal(t, 1, h.orders())
	require.EqualValues(t, 5, h.balance(c.ID).Amount)
	list, err := h.ListEntries(h.ctx, EntryListParams{CustomerID: c.ID})
	require.NoError(t, err)
	require.Len(t, list.Data, 1)
}

// TestInTxChargeOneTime: a one-time payment the wallet covers is recorded
// in the host transaction without the processor; one it does not cover is
// ErrProcessorInHostTx and writes nothing.
func TestInTxChargeOneTime(t *testing.T) {
	h := newHostEnv(t)
	c := h.customer()
	_, err := h.CreateEntry(h.ctx, c.ID, EntryParams{Amount: 1000, Currency: "USD", Type: ledger.Credit})
	require.NoError(t, err)

	tx := h.begin()
	te := h.InTx(h.pg.HostTx(tx))
	_, err = te.ChargeOneTime(h.ctx, c.ID, OneTimeParams{Amount: 1001, Currency: "USD", PaymentMethod: "pm_card_ok"})
	require.ErrorIs(t, err, ErrProcessorInHostTx)
	require.Equal(t, "processor_in_host_tx", ErrorCode(err))
	require.Equal(t, http.StatusUnprocessableEntity, HTTPStatus(err))
	_, err = te.ChargeOneTime(h.ctx, c.ID, OneTimeParams{Amount: 10, Currency: "USD"})
	require.ErrorIs(t, err, subscription.ErrMissingMethod, "the Engine's validation")

	p := OneTimeParams{Amount: 600, Currency: "USD", PaymentMethod: "pm_card_ok", IdempotencyKey: "ot-1"}
	pay, err := te.ChargeOneTime(h.ctx, c.ID, p)
	require.NoError(t, err)
	require.Equal(t, subscription.PaymentSucceeded, pay.Status)
	require.EqualValues(t, 600, pay.WalletAmount)
	require.Zero(t, pay.ProcessorAmount)
	// A replay returns the payment although the wallet no longer covers it.
	replay, err := te.ChargeOneTime(h.ctx, c.ID, p)
	require.NoError(t, err)
	require.Equal(t, pay.ID, replay.ID)
	_, err = tx.Exec(h.ctx, "insert into orders values ('ord_3', 600)")
	require.NoError(t, err)

	_, err = h.Payment(h.ctx, pay.ID)
	require.ErrorIs(t, err, subscription.ErrPaymentNotFound, "invisible before the commit")
	require.NoError(t, tx.Commit(h.ctx))
	got, err := h.Payment(h.ctx, pay.ID)
	require.NoError(t, err)
	require.Equal(t, subscription.PaymentSucceeded, got.Status)
	require.EqualValues(t, 400, h.balance(c.ID).Amount)
	require.Zero(t, h.proc.ChargeCount(), "the processor was never called")
	require.Equal(t, 1, h.eventTypes()[EventPaymentSucceeded])
}

// TestInTxConflictReturnedToHost: a serialization failure inside a host
// transaction is not retried by coffer: it comes back wrapping
// postgres.ErrHostTxRetry.
func TestInTxConflictReturnedToHost(t *testing.T) {
	h := newHostEnv(t)
	c := h.customer()
	tx, err := h.pg.Pool().BeginTx(h.ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	require.NoError(t, err)
	defer tx.Rollback(h.ctx)
	te := h.InTx(h.pg.HostTx(tx))
	_, err = te.Balance(h.ctx, c.ID, "USD") // takes the snapshot
	require.NoError(t, err)
	// A concurrent entry on the same balance commits meanwhile.
	_, err = h.CreateEntry(h.ctx, c.ID, EntryParams{Amount: 1, Currency: "USD", Type: ledger.Credit})
	require.NoError(t, err)
	_, err = te.CreateEntry(h.ctx, c.ID, EntryParams{Amount: 2, Currency: "USD", Type: ledger.Credit})
	require.ErrorIs(t, err, postgres.ErrHostTxRetry)
	// The savepoint was rolled back to: the host transaction still answers.
	var one int
	require.NoError(t, tx.QueryRow(h.ctx, "select 1").Scan(&one))
	require.NoError(t, tx.Rollback(h.ctx))
	require.EqualValues(t, 1, h.balance(c.ID).Amount)
}

// TestInTxHostViewReadOnly: the host store's View refuses writes.
func TestInTxHostViewReadOnly(t *testing.T) {
	h := newHostEnv(t)
	tx := h.begin()
	err := h.pg.HostTx(tx).View(h.ctx, func(tx store.Tx) error {
		return tx.InsertCustomer(customer.Customer{ID: "cus_x"})
	})
	require.True(t, errors.Is(err, store.ErrReadOnly), "%v", err)
}

// TestInTxConcurrentHostTxs: host transactions crediting one wallet at
// once serialize on the customer's lock; the committed ones all count,
// the rolled-back ones leave nothing, whatever the interleaving.
func TestInTxConcurrentHostTxs(t *testing.T) {
	h := newHostEnv(t)
	c := h.customer()
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- func() error {
				tx, err := h.pg.Pool().Begin(h.ctx)
				if err != nil {
					return err
				}
				defer tx.Rollback(context.Background())
				id := "ord_" + string(rune('a'+i))
				if _, err := tx.Exec(h.ctx, "insert into orders values ($1, 100)", id); err != nil {
					return err
				}
				if _, err := h.InTx(h.pg.HostTx(tx)).CreateEntry(h.ctx, c.ID, EntryParams{Amount: 100, Currency: "USD",
					Type: ledger.Credit, IdempotencyKey: id}); err != nil {
					return err
				}
				if i%2 == 1 {
					return tx.Rollback(h.ctx)
				}
				return tx.Commit(h.ctx)
			}()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, n/2, h.orders())
	require.EqualValues(t, n/2*100, h.balance(c.ID).Amount)
	list, err := h.ListEntries(h.ctx, EntryListParams{CustomerID: c.ID})
	require.NoError(t, err)
	require.Len(t, list.Data, n/2)
	require.Equal(t, n/2, h.eventTypes()[EventBalanceChanged])
	var sum int64
	for _, e := range list.Data {
		sum += e.Amount
		require.Equal(t, e.BalanceBefore+e.Amount, e.BalanceAfter)
	}
	require.EqualValues(t, n/2*100, sum)
}
