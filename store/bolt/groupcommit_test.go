package bolt_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/bolt"
	"github.com/cofferhq/coffer/store/storetest"
)

func openGroup(t *testing.T, path string) store.Store {
	t.Helper()
	s, err := bolt.Open(path, bolt.WithGroupCommit())
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformanceGroupCommit(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openGroup(t, filepath.Join(t.TempDir(), "coffer.db"))
	})
}

// TestGroupCommitConcurrent: concurrent Updates through the committer, some
// failing and one panicking: the others commit, each failure is its own.
func TestGroupCommitConcurrent(t *testing.T) {
	s := openGroup(t, filepath.Join(t.TempDir(), "coffer.db"))
	ctx := context.Background()
	errOdd := errors.New("odd")
	var wg sync.WaitGroup
	errs := make([]error, 200)
	var panicked any
	for i := range errs {
		wg.Go(func() {
			if i == 7 {
				defer func() { panicked = recover() }()
			}
			errs[i] = s.Update(ctx, func(tx store.Tx) error {
				if i == 7 {
					panic("boom")
				}
				if i%2 == 1 {
					return errOdd
				}
				return tx.InsertCustomer(customer.Customer{ID: "cus_" + string(rune('a'+i%26)) + string(rune('a'+i/26)), Name: "x"})
			})
		})
	}
	wg.Wait()
	assert.Equal(t, "boom", panicked)
	for i, err := range errs {
		switch {
		case i == 7:
		case i%2 == 1:
			assert.ErrorIs(t, err, errOdd, i)
		default:
			assert.NoError(t, err, i)
		}
	}
	require.NoError(t, s.View(ctx, func(tx store.Tx) error {
		for i := 0; i < len(errs); i += 2 {
			if _, err := tx.Customer("cus_" + string(rune('a'+i%26)) + string(rune('a'+i/26))); err != nil {
				return err
			}
		}
		return nil
	}))
	require.NoError(t, s.Close())
	assert.ErrorIs(t, s.Update(ctx, func(store.Tx) error { return nil }), store.ErrClosed)
}
