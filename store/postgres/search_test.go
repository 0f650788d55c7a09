package postgres_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/store"
)

// TestSearchTokensBuiltOnOpen: customers that exist before customer_tokens
// is filled (a schema migrated to 0006 by hand, or an older tokenization)
// are indexed when the store is opened, once.
func TestSearchTokensBuiltOnOpen(t *testing.T) {
	d := dsn(t)
	schema := newSchema(t, d)
	s := openIn(t, d, schema)
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	require.NoError(t, s.Update(ctx, func(tx store.Tx) error {
		for i := range 30 {
			c := customer.Customer{ID: fmt.Sprintf("cus_bf%d", i), Name: fmt.Sprintf("Person%d Backfill", i),
				Email: fmt.Sprintf("p%d@old.example", i), CreatedAt: now, UpdatedAt: now}
			if err := tx.InsertCustomer(c); err != nil {
				return err
			}
		}
		return nil
	}))
	_, err := s.Pool().Exec(ctx, `TRUNCATE customer_tokens; DELETE FROM customer_tokens_state;
		INSERT INTO customer_tokens (tok, seq) VALUES ('stale'::bytea, 1)`)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	s = openIn(t, d, schema)
	found := func(q string) int {
		sq, err := customer.ParseSearch(q)
		require.NoError(t, err)
		n := 0
		require.NoError(t, s.View(ctx, func(tx store.Tx) error {
			pg, err := tx.SearchCustomers(store.CustomerSearchQuery{Search: sq, Page: store.Page{Limit: 100}})
			n = len(pg.Customers)
			return err
		}))
		return n
	}
	require.Equal(t, 30, found("backfill"))
	require.Equal(t, 1, found("person7"))
	require.Equal(t, 1, found("p7@old.example"))
	require.Zero(t, found("stale"))
	var version int
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT version FROM customer_tokens_state`).Scan(&version))
	require.Equal(t, 1, version)
}
