package bolt

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.etcd.io/bbolt"

	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/webhook"
)

// pruneFixture writes recent dispatched events with finished deliveries,
// and old ones.
func pruneFixture(t *testing.T, s *Store, recent, old int) {
	update(t, s, func(tx store.Tx) error {
		for i := range recent + old {
			at := t0.Add(time.Duration(i+1) * time.Minute) // recent
			if i%(recent/old) == 0 && i/(recent/old) < old {
				at = t0.Add(-time.Duration(i+1) * time.Hour) // old
			}
			ev := webhook.Event{ID: fmt.Sprintf("evt_%05d", i), Type: "t", CreatedAt: at, Dispatched: true}
			d := webhook.Delivery{ID: fmt.Sprintf("dlv_%05d", i), EventID: fmt.Sprintf("evt_x%05d", i), EndpointID: "we",
				Status: webhook.DeliverySucceeded, RunAt: at, CreatedAt: at, UpdatedAt: at}
			if err := errors.Join(tx.InsertEvent(ev), tx.PutDelivery(d)); err != nil {
				return err
			}
		}
		return nil
	})
}

// PruneEvents and PruneDeliveries walk their index only up to the cut:
// with many recent records, the keys visited are the ones deleted (plus
// the first one past the cut).
func TestPruneScansOnlyWhatIsDeleted(t *testing.T) {
	s, _ := openTemp(t)
	const recent, old = 3000, 6
	pruneFixture(t, s, recent, old)
	require.NoError(t, s.db.Update(func(btx *bbolt.Tx) error {
		tx := &tx{btx: btx}
		n, err := tx.PruneDeliveries(t0, 4)
		require.NoError(t, err)
		require.Equal(t, 4, n)
		require.Equal(t, 4, tx.dueScanned, "a full batch stops at the limit")
		tx.dueScanned = 0
		n, err = tx.PruneDeliveries(t0, 100)
		require.NoError(t, err)
		require.Equal(t, old-4, n)
		require.LessOrEqual(t, tx.dueScanned, old-4+1)

		tx.dueScanned = 0
		n, err = tx.PruneEvents(t0, 100)
		require.NoError(t, err)
		require.Equal(t, old, n)
		require.LessOrEqual(t, tx.dueScanned, old+1)
		return nil
	}))
	view(t, s, func(tx store.Tx) error {
		evs, err := tx.Events(0, recent+old)
		require.NoError(t, err)
		require.Len(t, evs, recent)
		dl, _, err := tx.ListDeliveries(store.DeliveryQuery{Page: store.Page{Limit: store.MaxLimit}})
		require.NoError(t, err)
		require.Len(t, dl, store.MaxLimit)
		return nil
	})
	checkFile(t, s)
}

// A file written before the retention indexes existed gets them on open.
func TestRetentionIndexesBackfilled(t *testing.T) {
	s, path := openTemp(t)
	pruneFixture(t, s, 30, 3)
	require.NoError(t, s.db.Update(func(btx *bbolt.Tx) error {
		return errors.Join(btx.DeleteBucket(bEventDone), btx.DeleteBucket(bDeliveryDone))
	}))
	require.NoError(t, s.Close())
	s, err := Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	update(t, s, func(tx store.Tx) error {
		n, err := tx.PruneDeliveries(t0, 100)
		require.NoError(t, err)
		require.Equal(t, 3, n)
		n, err = tx.PruneEvents(t0, 100)
		require.NoError(t, err)
		require.Equal(t, 3, n)
		return nil
	})
	checkFile(t, s)
}
