package bolt

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"go.etcd.io/bbolt"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/store"
)

// TestSearchIndexBuiltOnOpen: a file written before customers.search
// existed (no bucket, no meta key) gets the index built when it is opened,
// and a half-built one (bucket without the meta key) is rebuilt.
func TestSearchIndexBuiltOnOpen(t *testing.T) {
	s, path := openTemp(t)
	update(t, s, func(tx store.Tx) error {
		for i := range 30 {
			c := customer.Customer{ID: fmt.Sprintf("cus_%d", i), Name: fmt.Sprintf("Person%d Backfill", i),
				Email: fmt.Sprintf("p%d@old.example", i)}
			if err := tx.InsertCustomer(c); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, s.Close())
	found := func(q string) int {
		s, err := Open(path)
		require.NoError(t, err)
		defer s.Close()
		n := 0
		require.NoError(t, s.View(t.Context(), func(tx store.Tx) error {
			pg, err := tx.SearchCustomers(store.CustomerSearchQuery{Search: mustSearch(t, q), Page: store.Page{Limit: 100}})
			n = len(pg.Customers)
			return err
		}))
		return n
	}
	for _, mode := range []string{"no bucket", "no meta key"} {
		db, err := bbolt.Open(path, 0o600, nil)
		require.NoError(t, err)
		require.NoError(t, db.Update(func(btx *bbolt.Tx) error {
			require.NoError(t, btx.Bucket(bMeta).Delete(keySearchDone))
			if mode == "no bucket" {
				return btx.DeleteBucket(bCustomerSearch)
			}
			// A stale entry the rebuild must drop.
			return btx.Bucket(bCustomerSearch).Put(appendSeq([]byte("stale"), 1), []byte{})
		}))
		require.NoError(t, db.Close())
		require.Equal(t, 30, found("backfill"), mode)
		require.Equal(t, 1, found("person7"), mode)
		require.Equal(t, 1, found("p7@old.example"), mode)
		require.Zero(t, found("stale"), mode)
	}
}
