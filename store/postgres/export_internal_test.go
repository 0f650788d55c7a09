package postgres

// WithoutCustomerLocks turns off the per-customer lock of s, so a
// benchmark can measure what it costs. Tests only: without it, mixed load
// on one customer deadlocks (customerlock.go).
func WithoutCustomerLocks(s *Store) *Store {
	s.noCustomerLocks = true
	return s
}

// Statements the external tests EXPLAIN.
var (
	PruneEventsSQL     = pruneEvents
	PruneDeliveriesSQL = pruneDeliveries
)

// SetListSQLHook lets the external tests see the SQL of list queries.
func SetListSQLHook(f func(sql string, args []any)) { listSQLHook = f }

// InlineLockSQL returns the locking reads with the customer's lock folded
// in (customerlock.go, lockInline), for the test of their plans.
func InlineLockSQL() []string {
	var out []string
	for _, l := range customerLocks {
		if l.inline != "" {
			out = append(out, l.inline)
		}
	}
	return out
}

// WithCustomerRowLocks takes the customer locks of s as row locks of the
// customers rows, for the benchmark comparing them with advisory locks.
func WithCustomerRowLocks(s *Store) *Store {
	s.rowLocks = true
	return s
}
