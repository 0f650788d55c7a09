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
// Concurrent Updates are therefore group-committed with bbolt's DB.Batch:
// Updates that arrive within MaxBatchDelay of each other run one after the
// other in a single bbolt transaction and share its fsyncs. When one of them
// fails, bbolt rolls the whole batch back and runs the others again without
// it, so a transaction function may run more than once (the store contract
// allows this: functions have no side effects outside the transaction). A
// lone Update, with no other in flight, commits at once instead of waiting
// for a batch to fill.
//
// Every record kind has a primary bucket keyed by a store-assigned sequence,
// an id index, and the index buckets its queries need (see layout.go), all
// maintained in the same transaction as the record. Lists walk an index in
// sequence order; the due queries (DueNotices, DueDeliveries and the claims)
// walk a RunAt-ordered index and stop at the first record not yet due, and
// the prunes walk an index of finished records by age and stop at the cut,
// so their cost is the number of records returned, not the number stored.
package bolt
