package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cofferhq/coffer/store"
)

// DefaultMaxAttempts is how many times Update runs its function when
// PostgreSQL keeps reporting serialization failures or deadlocks.
const DefaultMaxAttempts = 20

// Store is a store.Store on PostgreSQL. Several Stores, in one process or
// many, may share one database schema: every read-modify-write they do is
// serialized by row locks, and the schema is migrated under an advisory lock.
type Store struct {
	pool        *pgxpool.Pool
	ownsPool    bool
	schema      string
	lockSpace   int32 // advisory lock key half shared by this schema's locks
	maxAttempts int
	closed      atomic.Bool
	stats       counters
	// noCustomerLocks turns the per-customer lock off, for the benchmark
	// that measures its cost (export_internal_test.go).
	noCustomerLocks bool
	// rowLocks takes each customer's lock as a row lock of its customers
	// row instead of an advisory lock (customerlock.go).
	rowLocks bool
}

var _ store.Store = (*Store)(nil)

// Stats counts a Store's transactions since it was opened.
type Stats struct {
	// Transactions is the number of Update and View calls that ran (View
	// calls are also in Views).
	Transactions int64
	Views        int64
	// Attempts is how many times a transaction function ran: Transactions
	// plus Retries.
	Attempts int64
	// Retries is how many times Update ran its function again after a
	// transient conflict; the next three split them by cause.
	Retries int64
	// Deadlocks (SQLSTATE 40P01) and SerializationFailures (40001) are
	// conflicts PostgreSQL reported; Conflicts are records read as missing
	// that a concurrent transaction created first.
	Deadlocks             int64
	SerializationFailures int64
	Conflicts             int64
	// GaveUp counts transactions that still conflicted after the last
	// allowed attempt (WithMaxAttempts) and returned the error.
	GaveUp int64
	// CustomerLocks counts the per-customer advisory locks taken (the
	// "one lock order" of the package documentation).
	CustomerLocks int64
	// RoundTrips counts the messages the store's transactions sent and
	// waited on: each statement sent alone, each pipelined group of them
	// (BEGIN and queued writes go in front of the next statement) and
	// each COMMIT or ROLLBACK is one. It does not count the pool's own
	// traffic (connecting, health checks) nor the one-time preparation of
	// a statement on a connection that has not run it yet.
	RoundTrips int64
}

// counters are Stats as they are updated.
type counters struct {
	transactions, views, attempts, retries      atomic.Int64
	deadlocks, serialization, conflicts, gaveUp atomic.Int64
	customerLocks, roundTrips                   atomic.Int64
}

// Stats returns the store's transaction counts so far; for example,
// Retries/Transactions is the share of work PostgreSQL conflicts cost.
func (s *Store) Stats() Stats {
	c := &s.stats
	return Stats{
		Transactions: c.transactions.Load(), Views: c.views.Load(), Attempts: c.attempts.Load(),
		Retries: c.retries.Load(), Deadlocks: c.deadlocks.Load(), SerializationFailures: c.serialization.Load(),
		Conflicts: c.conflicts.Load(), GaveUp: c.gaveUp.Load(), CustomerLocks: c.customerLocks.Load(),
		RoundTrips: c.roundTrips.Load(),
	}
}

// count records the cause of a transient conflict.
func (c *counters) count(err error) {
	var pe *pgconn.PgError
	switch {
	case errors.Is(err, errConflict):
		c.conflicts.Add(1)
	case errors.As(err, &pe) && pe.Code == "40P01":
		c.deadlocks.Add(1)
	case errors.As(err, &pe) && pe.Code == "40001":
		c.serialization.Add(1)
	}
}

// Option configures Open and NewFromPool.
type Option func(*config) error

type config struct {
	schema      string
	maxAttempts int
	maxConns    int32
	poolConfig  func(*pgxpool.Config)
}

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// WithSchema keeps coffer's tables in the named schema (created when
// missing) instead of the connection's default search_path, so coffer can
// share a database with the application, or tests can use a fresh schema
// each. The name must be a lower-case SQL identifier. With Open, every
// pooled connection gets search_path set to it; with NewFromPool the pool
// must already be configured that way (Open verifies it).
func WithSchema(name string) Option {
	return func(c *config) error {
		if !schemaName.MatchString(name) {
			return fmt.Errorf("postgres: schema %q: want a lower-case identifier", name)
		}
		c.schema = name
		return nil
	}
}

// WithMaxAttempts bounds how often Update re-runs its function after a
// serialization failure or deadlock before giving up with the error
// (default DefaultMaxAttempts).
func WithMaxAttempts(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("postgres: max attempts %d < 1", n)
		}
		c.maxAttempts = n
		return nil
	}
}

// WithMaxConns sets the pool size of Open (pgxpool's default is the larger
// of 4 and the number of CPUs). Ignored by NewFromPool.
func WithMaxConns(n int32) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("postgres: max conns %d < 1", n)
		}
		c.maxConns = n
		return nil
	}
}

// WithPoolConfig lets Open's caller adjust the parsed pool configuration
// (timeouts, tracing, TLS) before the pool is created. Ignored by
// NewFromPool.
func WithPoolConfig(fn func(*pgxpool.Config)) Option {
	return func(c *config) error {
		c.poolConfig = fn
		return nil
	}
}

func newConfig(opts []Option) (*config, error) {
	c := &config{maxAttempts: DefaultMaxAttempts}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Open connects to the database at dsn (a PostgreSQL URL or keyword/value
// string), creates or upgrades coffer's schema and returns the Store. Close
// closes the pool it creates.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if c.schema != "" {
		pc.ConnConfig.RuntimeParams["search_path"] = c.schema
	}
	if c.maxConns > 0 {
		pc.MaxConns = c.maxConns
	}
	if c.poolConfig != nil {
		c.poolConfig(pc)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s, err := newStore(ctx, pool, c)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.ownsPool = true
	return s, nil
}

// NewFromPool returns a Store on an existing pool, creating or upgrading
// coffer's schema first. The caller keeps ownership of pool: Close marks
// the Store closed but leaves the pool open.
func NewFromPool(ctx context.Context, pool *pgxpool.Pool, opts ...Option) (*Store, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return newStore(ctx, pool, c)
}

func newStore(ctx context.Context, pool *pgxpool.Pool, c *config) (*Store, error) {
	s := &Store{pool: pool, schema: c.schema, maxAttempts: c.maxAttempts}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Pool returns the connection pool, for applications that want to run their
// own queries beside coffer's.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close releases the store; transactions started afterwards return
// store.ErrClosed. Running transactions finish first.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	if s.ownsPool {
		s.pool.Close()
	}
	return nil
}

// Update runs fn in a READ COMMITTED transaction in which every
// single-record read locks its row until commit. A serialization failure
// or deadlock rolls the transaction back and runs fn again (so fn must have
// no side effects outside the transaction).
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	return s.run(ctx, false, fn)
}

// View runs fn in a read-only REPEATABLE READ transaction: every read in fn
// sees the same snapshot.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	return s.run(ctx, true, fn)
}

func (s *Store) run(ctx context.Context, readOnly bool, fn func(store.Tx) error) error {
	for attempt := 1; ; attempt++ {
		if s.closed.Load() {
			return store.ErrClosed
		}
		if attempt == 1 {
			s.stats.transactions.Add(1)
			if readOnly {
				s.stats.views.Add(1)
			}
		} else {
			s.stats.retries.Add(1)
		}
		s.stats.attempts.Add(1)
		again, err := s.attempt(ctx, readOnly, fn)
		if !again {
			return err
		}
		s.stats.count(err)
		if attempt >= s.maxAttempts {
			s.stats.gaveUp.Add(1)
			return fmt.Errorf("postgres: gave up after %d attempts: %w", attempt, err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return err
		}
	}
}

// backoff sleeps a random time up to a bound that doubles with every
// attempt (1 ms .. 64 ms), so transactions that collided do not collide
// again in lock step.
func backoff(ctx context.Context, attempt int) error {
	ceiling := time.Millisecond << min(attempt-1, 6)
	d := time.Duration(rand.Int64N(int64(ceiling))) + 100*time.Microsecond
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// attempt runs fn once in a transaction and reports whether it should run
// again.
func (s *Store) attempt(ctx context.Context, readOnly bool, fn func(store.Tx) error) (again bool, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		if s.closed.Load() {
			return false, store.ErrClosed
		}
		return false, fmt.Errorf("postgres: %w", err)
	}
	// Release destroys a connection left inside a transaction (after a
	// panic in fn or a failed rollback), so it never returns to the pool
	// dirty.
	defer conn.Release()

	return newTx(ctx, s, conn.Conn(), readOnly).run(fn)
}

// retryable reports whether err is a transient conflict that running the
// transaction again resolves: a serialization failure or a deadlock.
func retryable(err error) bool {
	if errors.Is(err, errConflict) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40001" || pe.Code == "40P01"
	}
	return false
}

// errConflict reports a write that lost a race this transaction had
// observed: it read a record as missing, and another transaction created it
// before this one could. Update runs fn again, which then sees the record.
var errConflict = errors.New("postgres: concurrent insert of a record read as missing")

// beginSQL starts the transactions of Update and View.
func beginSQL(readOnly bool) string {
	if readOnly {
		return "begin isolation level repeatable read read only"
	}
	return "begin isolation level read committed read write"
}
