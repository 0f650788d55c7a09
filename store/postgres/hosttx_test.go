package postgres_test

import (
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/postgres"
)

var hostNow = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func hostCustomer(id string) customer.Customer {
	return customer.Customer{ID: id, Name: "Host", CreatedAt: hostNow, UpdatedAt: hostNow}
}

// TestHostTxSavepoints: an Update in a host transaction is a savepoint:
// a failed one leaves the host's earlier work and the transaction usable,
// a good one commits only with the host.
func TestHostTxSavepoints(t *testing.T) {
	s := newStore(t)
	tx, err := s.Pool().Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx)
	hs := s.HostTx(tx)
	require.NoError(t, hs.Update(ctx, func(tx store.Tx) error { return tx.InsertCustomer(hostCustomer("cus_a")) }))

	// A failing function, and a statement PostgreSQL refuses (a ledger
	// row without its customer: foreign key): both rolled back to the
	// savepoint, the host transaction goes on.
	boom := errors.New("boom")
	err = hs.Update(ctx, func(tx store.Tx) error {
		if err := tx.InsertCustomer(hostCustomer("cus_b")); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	err = hs.Update(ctx, func(tx store.Tx) error {
		if err := tx.InsertCustomer(hostCustomer("cus_c")); err != nil {
			return err
		}
		_, err := tx.Events(0, -1)
		if err != nil {
			return err
		}
		_, err = tx.Customer("cus_c")
		if err != nil {
			return err
		}
		// PostgreSQL refuses it (foreign key): the savepoint is aborted.
		return tx.InsertEntry(ledger.Entry{ID: "le_x", CustomerID: "cus_none", Currency: "USD", Amount: 1,
			Type: ledger.Credit, CreatedAt: hostNow})
	})
	require.Error(t, err)
	var one int
	require.NoError(t, tx.QueryRow(ctx, "select 1").Scan(&one), "host transaction usable")

	var seen []string
	require.NoError(t, hs.View(ctx, func(tx store.Tx) error {
		for _, id := range []string{"cus_a", "cus_b", "cus_c"} {
			if _, err := tx.Customer(id); err == nil {
				seen = append(seen, id)
			}
		}
		return nil
	}))
	require.Equal(t, []string{"cus_a"}, seen, "the host sees its committed savepoint only")
	require.NoError(t, s.View(ctx, func(tx store.Tx) error {
		_, err := tx.Customer("cus_a")
		require.ErrorIs(t, err, store.ErrNotFound, "nothing visible outside before the host commits")
		return nil
	}))
	require.NoError(t, tx.Commit(ctx))
	require.NoError(t, s.View(ctx, func(tx store.Tx) error {
		_, err := tx.Customer("cus_a")
		return err
	}))
}

// TestHostTxRefusals: a host transaction outside the store's schema, an
// ended one, and a nil one are refused.
func TestHostTxRefusals(t *testing.T) {
	d := dsn(t)
	s := newStore(t)
	conn, err := pgx.Connect(ctx, d) // default search_path: not coffer's schema
	require.NoError(t, err)
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	err = s.HostTx(tx).Update(ctx, func(store.Tx) error { return nil })
	require.ErrorIs(t, err, postgres.ErrHostTxSchema)
	require.NoError(t, tx.Rollback(ctx))

	tx, err = s.Pool().Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
	err = s.HostTx(tx).Update(ctx, func(tx store.Tx) error { return tx.InsertCustomer(hostCustomer("cus_late")) })
	require.Error(t, err, "a committed host transaction")

	require.ErrorIs(t, s.HostTx(nil).Update(ctx, func(store.Tx) error { return nil }), postgres.ErrHostTxNil)
}
