// Package postgres is the store.Store for applications that outgrow one
// process: several instances of the application, each with its own Engine,
// share one PostgreSQL database (through pgx and pgxpool) and stay correct.
//
//	s, err := postgres.Open(ctx, "postgres://app@db/billing", postgres.WithSchema("coffer"))
//	if err != nil { ... }
//	eng, err := coffer.New(s, coffer.WithProcessor(p))
//	defer s.Close()
//
// Open creates or upgrades the schema with the migrations embedded in the
// package (schema_migrations records the applied versions), inside a
// transaction holding an advisory lock, so instances starting together are
// safe.
//
// # Guarantees when several instances share the database
//
//   - Update runs its function in a READ COMMITTED transaction in which
//     every single-record read (Balance, Customer, Payment, Attempt, ...)
//     locks its row (SELECT ... FOR NO KEY UPDATE) until commit, so a
//     read-modify-write such as a debit can never be lost or applied on a
//     stale balance. Deadlocks and serialization failures roll the
//     transaction back and run the function again, after a short random
//     backoff; callers never see them. Stats counts the transactions and
//     these retries.
//   - One lock order: before the first row lock on a customer's rows (a
//     balance, the customer, a subscription, payment, hold, refund or retry
//     attempt), an Update takes a transaction-level advisory lock for that
//     customer, in the same round trip. Use cases that lock a customer's
//     rows in different orders (a charge: subscription, then balance; its
//     settlement: payment, hold, balance, subscription) therefore queue on
//     the customer instead of deadlocking on the rows.
//   - The tables hold the money invariants themselves: a balance is never
//     negative and never holds more than it has (CHECK), an idempotency key
//     is used once per customer (unique index), ledger rows and balances
//     cannot exist without their customer (foreign keys).
//   - Inserts never abort the transaction on a taken id or key: they use
//     INSERT ... ON CONFLICT DO NOTHING and report store.ErrDuplicate, so the
//     caller can read the winner in the same transaction.
//   - Work queues (ClaimDueAttempts, ClaimDueDeliveries, UndispatchedEvents)
//     lock what they read and skip rows another transaction holds (FOR
//     UPDATE SKIP LOCKED): two retry schedulers or two webhook dispatchers
//     never take the same attempt. ClaimDueAttempts takes a
//     transaction-level advisory lock before it reads and counts, so
//     concurrency caps hold across instances.
//   - PruneEvents and PruneDeliveries walk partial indexes (migration 0003),
//     PruneIdem the index of idempotency records by age (migration 0005),
//     and delete at most a batch per call.
//   - View runs in a read-only REPEATABLE READ transaction: one snapshot.
//
// Timestamps are stored as timestamptz and come back in UTC, truncated to
// microseconds (PostgreSQL's precision).
//
// Round trips are few: BEGIN travels with the first statement, and writes
// whose only result could be an error (the Put upserts) are pipelined with
// the next statement or with COMMIT; see the package README for the
// benchmark against a hand-written pgx transaction.
package postgres
