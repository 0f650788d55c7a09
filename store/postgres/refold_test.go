package postgres_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/store"
)

// TestRefoldCustomers: rows whose email_fold and search_text were written
// with strings.ToLower (before customer.Fold) are missed by the email
// filter until RefoldCustomers rewrites them (the search reads the
// customer_tokens of migration 0006, computed with customer.Tokens).
func TestRefoldCustomers(t *testing.T) {
	s := newStore(t)
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	c := customer.Customer{ID: "cus_refold", Name: "ſam", Email: "ſam@example.com", CreatedAt: now, UpdatedAt: now}
	require.NoError(t, s.Update(ctx, func(tx store.Tx) error { return tx.InsertCustomer(c) }))
	// What an older coffer stored.
	_, err := s.Pool().Exec(ctx, `UPDATE customers SET email_fold = $1, search_text = $2 WHERE id = $3`,
		strings.ToLower(c.Email), strings.ToLower(c.Name+"\x01"+c.Email+"\x01\x01"+c.ID+"\x01"), c.ID)
	require.NoError(t, err)
	sam, err := customer.ParseSearch("SAM")
	require.NoError(t, err)
	count := func() (byEmail, bySearch int) {
		require.NoError(t, s.View(ctx, func(tx store.Tx) error {
			l, _, err := tx.ListCustomers(store.CustomerQuery{Email: "SAM@example.com"})
			byEmail = len(l)
			if err != nil {
				return err
			}
			pg, err := tx.SearchCustomers(store.CustomerSearchQuery{Search: sam})
			bySearch = len(pg.Customers)
			return err
		}))
		return
	}
	e, q := count()
	require.Equal(t, [2]int{0, 1}, [2]int{e, q}, "the stale row is missed by the email filter (search reads customer_tokens, not search_text)")
	n, err := s.RefoldCustomers(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	e, q = count()
	require.Equal(t, [2]int{1, 1}, [2]int{e, q})
	n, err = s.RefoldCustomers(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "a second run rewrites nothing")
}
