// Package bolt is coffer's embedded default store.Store: one bbolt file,
// every committed Update fsynced before it returns, so what an Update
// committed survives a process crash or power loss.
//
//	s, err := bolt.Open("billing.db")
//	if err != nil {
//		return err
//	}
//	defer s.Close()
//	err = s.Update(ctx, func(tx store.Tx) error { return tx.InsertCustomer(c) })
//
// bbolt allows one writer at a time, and each commit costs two fdatasyncs.
// Concurrent Updates are therefore group-committed by a committer goroutine
// (WithGroupCommit, the default; WithDBBatch uses bbolt's DB.Batch, which
// batches alike but closes a batch on its timer even while the previous one
// commits): Updates that arrive within MaxBatchDelay of each other, or while
// the previous batch commits, run one after the other in a single bbolt
// transaction and share its fsyncs. When one of them fails, the batch is
// rolled back and the others run again without it, so a transaction
// function may run more than once (the store contract allows this:
// functions have no side effects outside the transaction). A lone Update,
// with no other in flight, commits at once instead of waiting for a batch
// to fill.
//
// Every record kind has a primary bucket keyed by a store-assigned sequence,
// an id index, and the index keys its queries need (see layout.go: most are
// scopes of one "lists" bucket), all maintained in the same transaction as
// the record. A file written with an older layout is migrated when it is
// opened (upgrade.go). Lists walk an index in its order; the due queries (DueNotices, DueDeliveries and the claims)
// walk a RunAt-ordered index and stop at the first record not yet due, and
// the prunes walk an index of finished records by age and stop at the cut,
// so their cost is the number of records returned, not the number stored.
package bolt
