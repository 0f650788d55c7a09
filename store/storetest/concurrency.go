package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/wallet"
)

func testConcurrency(t *testing.T, newStore newStoreFunc) {
	t.Run("NoLostUpdates", func(t *testing.T) {
		// Read-modify-write increments from many goroutines: a lost update
		// shows as a final amount below workers*rounds.
		const workers, rounds = 32, 50
		s := newStore(t)
		cus := newCustomerID(t, s)
		update(t, s, func(tx store.Tx) { require.NoError(t, tx.PutBalance(newBalance(cus, "USD", 0))) })
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := 0; r < rounds; r++ {
					err := s.Update(ctx, func(tx store.Tx) error {
						b, err := tx.Balance(cus, "USD")
						if err != nil {
							return err
						}
						b.Amount++
						return tx.PutBalance(b)
					})
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		view(t, s, func(tx store.Tx) {
			b, err := tx.Balance(cus, "USD")
			require.NoError(t, err)
			require.Equal(t, int64(workers*rounds), b.Amount)
		})
	})
	t.Run("IdempotencyKeyRace", func(t *testing.T) {
		// Many transactions insert an entry under one key: exactly one wins,
		// every other one sees ErrDuplicate, and the balance moves once.
		const workers = 16
		s := newStore(t)
		cus := newCustomerID(t, s)
		update(t, s, func(tx store.Tx) { require.NoError(t, tx.PutBalance(newBalance(cus, "USD", 0))) })
		var wg sync.WaitGroup
		results := make(chan error, workers)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e := newEntry(cus, "USD", "same-key")
				results <- s.Update(ctx, func(tx store.Tx) error {
					b, err := tx.Balance(cus, "USD")
					if err != nil {
						return err
					}
					if err := tx.InsertEntry(e); err != nil {
						return err
					}
					b.Amount += e.Amount
					return tx.PutBalance(b)
				})
			}()
		}
		wg.Wait()
		close(results)
		won := 0
		for err := range results {
			switch {
			case err == nil:
				won++
			case errors.Is(err, store.ErrDuplicate):
			default:
				require.NoError(t, err)
			}
		}
		require.Equal(t, 1, won)
		view(t, s, func(tx store.Tx) {
			b, err := tx.Balance(cus, "USD")
			require.NoError(t, err)
			require.Equal(t, int64(1250), b.Amount)
			list, _, err := tx.ListEntries(store.EntryQuery{CustomerID: cus})
			require.NoError(t, err)
			require.Len(t, list, 1)
		})
	})
	t.Run("ReadersAndWriters", func(t *testing.T) {
		// Views run beside Updates; each View sees committed records only
		// (an Update that failed after writing never shows).
		const writers, rounds, readers = 4, 25, 4
		s := newStore(t)
		cus := newCustomerID(t, s)
		update(t, s, func(tx store.Tx) { require.NoError(t, tx.PutBalance(newBalance(cus, "USD", 0))) })
		var wg sync.WaitGroup
		errs := make(chan error, writers+readers)
		done := make(chan struct{})
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := 0; r < rounds; r++ {
					err := s.Update(ctx, func(tx store.Tx) error {
						b, err := tx.Balance(cus, "USD")
						if err != nil {
							return err
						}
						b.Amount += 1_000_000 // then fail: must never be seen
						if err := tx.PutBalance(b); err != nil {
							return err
						}
						e := newEntry(cus, "USD", "")
						e.Reason = "rolled back"
						if err := tx.InsertEntry(e); err != nil {
							return err
						}
						return errBoom
					})
					if !errors.Is(err, errBoom) {
						errs <- fmt.Errorf("failing update: %w", err)
						return
					}
					err = s.Update(ctx, func(tx store.Tx) error {
						b, err := tx.Balance(cus, "USD")
						if err != nil {
							return err
						}
						b.Amount++
						if err := tx.InsertEntry(newEntry(cus, "USD", newID("key"))); err != nil {
							return err
						}
						return tx.PutBalance(b)
					})
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		var rg sync.WaitGroup
		for r := 0; r < readers; r++ {
			rg.Add(1)
			go func() {
				defer rg.Done()
				for {
					select {
					case <-done:
						return
					default:
					}
					var (
						b       wallet.Balance
						entries []ledger.Entry
					)
					err := s.View(ctx, func(tx store.Tx) error {
						var err error
						if b, err = tx.Balance(cus, "USD"); err != nil {
							return err
						}
						entries, _, err = tx.ListEntries(store.EntryQuery{CustomerID: cus, Page: store.Page{Limit: 5}})
						return err
					})
					if err != nil {
						errs <- err
						return
					}
					if b.Amount < 0 || b.Amount > writers*rounds {
						errs <- fmt.Errorf("view saw uncommitted amount %d", b.Amount)
						return
					}
					// Use what was read after the View ended, while writers
					// go on: it must not share memory they write.
					for _, e := range entries {
						if e.CustomerID != cus || e.Reason != "top-up" || !strings.HasPrefix(e.IdempotencyKey, "key_") {
							errs <- fmt.Errorf("view saw entry %+v", e)
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		close(done)
		rg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		view(t, s, func(tx store.Tx) {
			b, err := tx.Balance(cus, "USD")
			require.NoError(t, err)
			require.Equal(t, int64(writers*rounds), b.Amount)
		})
	})
}
