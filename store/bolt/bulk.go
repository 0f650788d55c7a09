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
// batch of inserts (coffer.Engine.ImportCustomers). It differs in two ways.
//
// The list-index keys fn's inserts write (every non-unique index: the lists
// bucket, the email and search indexes, a wallet's entry list) are put per
// bucket, in key order, when fn returns, not one by one. bbolt splits a page
// only at commit, so thousands of inserts into one in-memory node move its
// tail every time: when two growing ranges share a node (the search tokens
// "example" and "ext", a list scope and the next), each insert into the
// first moves every key added to the second so far, and a batch costs the
// square of its size. Sorted, each node is filled once, front to back.
//
// Buckets whose keys only grow in a bulk import (the id indexes: imported
// records get time-ordered ids; a bucket whose sorted batch lands after its
// last key) are split nearly full (appendFillPercent) instead of half full,
// so the file holds fewer, fuller pages.
//
// Reads of the non-unique indexes in fn do not see the transaction's own
// inserts yet; unique indexes (a DID, an idempotency key) and records by
// id read as in Update.
func (s *Store) Bulk(ctx context.Context, fn func(store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return store.ErrClosed
	}
	return mapErr(s.db.Update(func(btx *bbolt.Tx) error {
		for _, k := range []kind{kCustomers, kEntries, kEvents} {
			if b := btx.Bucket(k.ids); b != nil {
				// The bucket instance lives as long as btx, so the
				// setting holds for every put of this transaction.
				b.FillPercent = appendFillPercent
			}
		}
		t := &tx{btx: btx, bulk: &bulkKeys{byBucket: map[string]*bulkBucket{}}}
		defer t.finish()
		if err := fn(t); err != nil {
			return err
		}
		return t.bulk.flush(btx)
	}))
}

// bulkKeys buffers the non-unique index keys of a Bulk transaction, per
// bucket.
type bulkKeys struct {
	byBucket map[string]*bulkBucket
	order    []*bulkBucket
}

type bulkBucket struct {
	name []byte
	keys [][]byte
}

// take buffers a non-unique index key and reports that it did.
func (b *bulkKeys) take(ik ikey) bool {
	bb := b.byBucket[string(ik.bucket)]
	if bb == nil {
		bb = &bulkBucket{name: ik.bucket}
		b.byBucket[string(ik.bucket)] = bb
		b.order = append(b.order, bb)
	}
	bb.keys = append(bb.keys, ik.key)
	return true
}

// flush puts the buffered keys, bucket by bucket, in key order.
func (b *bulkKeys) flush(btx *bbolt.Tx) error {
	for _, bb := range b.order {
		if len(bb.keys) == 0 {
			continue
		}
		slices.SortFunc(bb.keys, bytes.Compare)
		bk := btx.Bucket(bb.name)
		if bk == nil {
			return fmt.Errorf("bolt: bucket %q missing", bb.name)
		}
		if last, _ := bk.Cursor().Last(); last == nil || bytes.Compare(last, bb.keys[0]) < 0 {
			// The whole batch appends: fill the new pages.
			bk.FillPercent = appendFillPercent
		}
		for _, k := range bb.keys {
			if err := bk.Put(k, []byte{}); err != nil {
				return fmt.Errorf("bolt: %w", err)
			}
		}
		bb.keys = nil
	}
	b.byBucket, b.order = nil, nil
	return nil
}
