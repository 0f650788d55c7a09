package bolt

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"go.etcd.io/bbolt"

	"github.com/cofferhq/coffer/store"
)

// Bulk runs fn in one read-write transaction, as Update does, for a large
// batch of inserts (coffer.Engine.ImportCustomers). It differs in one way:
// the list-index keys fn's inserts write (the lists bucket, where many
// scopes grow side by side) are put in key order when fn returns, not one
// by one. bbolt splits a page only at commit, so thousands of inserts into
// the middle of one in-memory page move its tail every time: sorted, each
// page is filled once. Reads of those list indexes in fn do not see the
// transaction's own inserts yet; everything else reads as in Update.
func (s *Store) Bulk(ctx context.Context, fn func(store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return store.ErrClosed
	}
	return mapErr(s.db.Update(func(btx *bbolt.Tx) error {
		t := &tx{btx: btx, bulk: &bulkKeys{}}
		defer t.finish()
		if err := fn(t); err != nil {
			return err
		}
		return t.bulk.flush(btx)
	}))
}

// bulkKeys buffers the list-index keys of a Bulk transaction.
type bulkKeys struct{ keys [][]byte }

func (b *bulkKeys) take(ik ikey) bool {
	if !bytes.Equal(ik.bucket, bLists) {
		return false
	}
	b.keys = append(b.keys, ik.key)
	return true
}

func (b *bulkKeys) flush(btx *bbolt.Tx) error {
	slices.SortFunc(b.keys, bytes.Compare)
	bk := btx.Bucket(bLists)
	for _, k := range b.keys {
		if err := bk.Put(k, []byte{}); err != nil {
			return fmt.Errorf("bolt: %w", err)
		}
	}
	b.keys = nil
	return nil
}
