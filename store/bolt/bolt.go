package bolt

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"

	"github.com/cofferhq/coffer/store"
)

// ErrIncompatible is returned by Open for a file written with another
// on-disk layout (or not by this package at all).
var ErrIncompatible = errors.New("bolt: incompatible file layout")

// layoutVersion is the on-disk layout written by this package. Open
// migrates a layout-1 file (upgrade.go).
const layoutVersion = 2

// Defaults, chosen with BenchmarkUpdateEntry on a shared 2-core machine. A
// batch commits as soon as DefaultMaxBatchSize Updates wait in it, or
// DefaultMaxBatchDelay after the first one arrived. Commits are CPU-bound
// (every dirty page is rewritten, and each fdatasync costs CPU too), so
// larger batches win under load: 2ms beat 1ms there, and a cap of 64 lets
// 64 concurrent writers commit without waiting out the delay.
const (
	DefaultMaxBatchDelay = 2 * time.Millisecond
	DefaultMaxBatchSize  = 64
	DefaultLockTimeout   = 5 * time.Second
)

// Option configures Open.
type Option func(*config)

type config struct {
	lockTimeout   time.Duration
	maxBatchSize  int
	maxBatchDelay time.Duration
	mmapSize      int
	groupCommit   bool
	freelistSync  bool
	freelistType  bbolt.FreelistType
}

// WithLockTimeout bounds how long Open waits for the file lock held by
// another process (or another open Store on the same file); 0 waits forever.
func WithLockTimeout(d time.Duration) Option { return func(c *config) { c.lockTimeout = d } }

// WithMaxBatchSize caps how many concurrent Updates commit together. A full
// batch commits at once, without waiting for MaxBatchDelay.
func WithMaxBatchSize(n int) Option { return func(c *config) { c.maxBatchSize = n } }

// WithMaxBatchDelay is how long a batch waits for more concurrent Updates
// before it commits. Longer delays trade latency for fewer fsyncs.
func WithMaxBatchDelay(d time.Duration) Option { return func(c *config) { c.maxBatchDelay = d } }

// WithGroupCommit commits concurrent Updates through a committer goroutine
// instead of bbolt's DB.Batch: the default since layout 2 (WithDBBatch
// restores DB.Batch). Batches form as with DB.Batch (one goes when
// MaxBatchSize Updates wait, or MaxBatchDelay after the first of them
// arrived), but a batch stays open while the previous one commits: every
// Update that arrives during a commit joins the next transaction, which
// starts as soon as the previous one is durable. DB.Batch closes a batch
// when its timer fires even if the writer is busy, so writers that arrive
// spread out (HTTP round trips, a loaded machine) split into several small
// batches queued behind the writer, each with its own commit and fsync.
// Every Update is still fsynced before it returns; a lone writer commits
// at once either way.
func WithGroupCommit() Option { return func(c *config) { c.groupCommit = true } }

// WithDBBatch commits concurrent Updates with bbolt's DB.Batch instead of
// the committer goroutine (WithGroupCommit, the default). With 64 writers
// posting ledger entries the committer sustained 1.3-1.9x DB.Batch's
// entries/s on a loaded 2-core machine (BenchmarkCommitModes), at the same
// CPU per entry.
func WithDBBatch() Option { return func(c *config) { c.groupCommit = false } }

// WithInitialMmapSize maps this many bytes up front, so a growing file does
// not make writers wait for open read transactions while it is remapped.
func WithInitialMmapSize(n int) Option { return func(c *config) { c.mmapSize = n } }

// ServeOptions are the options `coffer serve` opens its store with (and
// the HTTP benchmarks open both of their stores with, so the comparison
// with the Engine uses the server's configuration): WithGroupCommit, which
// is now also Open's default. A
// server's writers are requests, whose arrivals HTTP round trips spread
// out; group commit keeps them in one transaction instead of splitting
// them by the batch timer. No Update waits longer than with DB.Batch (the
// same MaxBatchDelay bound from the first arrival, and writers queued
// behind a commit go as soon as it is durable), and every one is fsynced.
func ServeOptions() []Option {
	return []Option{WithGroupCommit()}
}

// WithFreelistSync chooses whether every commit writes bbolt's freelist (the
// list of free pages) to the file. On, the default: Open reads the freelist
// page and is done, in milliseconds whatever the file's size, and a commit
// writes the freelist's pages too. Off: commits skip that write, but Open
// (and the rollback of a commit that failed to write) rebuilds the freelist
// by reading every page of the file, which takes time and resident memory
// in proportion to the file (the README's storage section has the numbers).
// A file works with either setting: opened with sync on after being
// written with it off, the freelist is rebuilt once and written at once.
func WithFreelistSync(on bool) Option { return func(c *config) { c.freelistSync = on } }

// WithFreelistArray keeps the freelist in memory as a sorted array
// instead of bbolt's hashmap (the default): less memory for a large
// freelist, slower to allocate from a fragmented one.
func WithFreelistArray() Option { return func(c *config) { c.freelistType = bbolt.FreelistArrayType } }

// Store is the embedded bbolt store: one file, every committed Update
// fsynced before it returns. It is safe for concurrent use; concurrent
// Updates are group-committed (a committer goroutine, or bbolt's DB.Batch
// with WithDBBatch), so they share fsyncs.
type Store struct {
	db       *bbolt.DB
	closed   atomic.Bool
	inflight atomic.Int64
	// group is the committer of WithGroupCommit (nil: DB.Batch).
	group *committer
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the store file at path.
func Open(path string, opts ...Option) (*Store, error) {
	cfg := config{
		lockTimeout:   DefaultLockTimeout,
		maxBatchSize:  DefaultMaxBatchSize,
		maxBatchDelay: DefaultMaxBatchDelay,
		freelistSync:  true,
		freelistType:  bbolt.FreelistMapType,
		groupCommit:   true,
	}
	for _, o := range opts {
		o(&cfg)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout: cfg.lockTimeout,
		// See WithFreelistSync: writing the freelist makes Open read one
		// page instead of the whole file.
		NoFreelistSync:  !cfg.freelistSync,
		FreelistType:    cfg.freelistType,
		NoStatistics:    true,
		InitialMmapSize: cfg.mmapSize,
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	db.MaxBatchSize = cfg.maxBatchSize
	db.MaxBatchDelay = cfg.maxBatchDelay
	if err := db.Update(initLayout); err != nil {
		_ = db.Close()
		return nil, err
	}
	st := &Store{db: db}
	if cfg.groupCommit {
		st.group = newCommitter(db, cfg.maxBatchSize, cfg.maxBatchDelay)
	}
	return st, nil
}

func initLayout(btx *bbolt.Tx) error {
	meta, err := btx.CreateBucketIfNotExists(bMeta)
	if err != nil {
		return fmt.Errorf("bolt: init: %w", err)
	}
	migrate := false
	if v := meta.Get(keyVersion); v != nil {
		if len(v) != 8 || (binary.BigEndian.Uint64(v) != layoutVersion && binary.BigEndian.Uint64(v) != 1) {
			return fmt.Errorf("%w: version %x, want %d (or 1, migrated)", ErrIncompatible, v, layoutVersion)
		}
		migrate = binary.BigEndian.Uint64(v) == 1
	} else {
		if btx.Bucket(bCustomers) == nil && countBuckets(btx) > 1 {
			return fmt.Errorf("%w: not a coffer store", ErrIncompatible)
		}
		if err := meta.Put(keyVersion, binary.BigEndian.AppendUint64(nil, layoutVersion)); err != nil {
			return fmt.Errorf("bolt: init: %w", err)
		}
	}
	// A file written before the retention indexes existed gets them
	// filled once, here.
	backfill := btx.Bucket(bCustomers) != nil && (btx.Bucket(bEventDone) == nil || btx.Bucket(bDeliveryDone) == nil)
	for _, name := range allBuckets {
		if _, err := btx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("bolt: init bucket %s: %w", name, err)
		}
	}
	if backfill {
		if err := backfillRetention(btx); err != nil {
			return err
		}
	}
	if err := backfillLists(btx); err != nil {
		return err
	}
	if migrate {
		return migrateV1(btx)
	}
	return nil
}

func countBuckets(btx *bbolt.Tx) int {
	n := 0
	_ = btx.ForEach(func([]byte, *bbolt.Bucket) error { n++; return nil })
	return n
}

// Update runs fn in a read-write transaction and returns once the
// transaction is durable. Concurrent Updates are committed in batches: fn may
// run more than once (bbolt re-runs a batch without a member that failed),
// which the store contract allows.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return store.ErrClosed
	}
	run := func(btx *bbolt.Tx) error {
		// A fresh adapter per invocation: a re-run batch must not see
		// anything from the rolled-back attempt.
		t := &tx{btx: btx}
		defer t.finish()
		return fn(t)
	}
	var err error
	// A lone writer commits at once instead of waiting MaxBatchDelay for
	// company that is not coming; as soon as another Update is in flight,
	// both go through the batch.
	switch {
	case s.inflight.Add(1) == 1:
		err = s.db.Update(run)
	case s.group != nil:
		err = s.group.update(run)
	default:
		err = s.db.Batch(run)
	}
	s.inflight.Add(-1)
	return mapErr(err)
}

// View runs fn in a read-only transaction over a consistent snapshot.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return store.ErrClosed
	}
	return mapErr(s.db.View(func(btx *bbolt.Tx) error {
		t := &tx{btx: btx}
		defer t.finish()
		return fn(t)
	}))
}

// Close waits for running transactions and closes the file. Transactions
// started afterwards return store.ErrClosed; closing again is a no-op.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	if s.group != nil {
		s.group.close()
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("bolt: close: %w", err)
	}
	return nil
}

// Path is the file the store lives in.
func (s *Store) Path() string { return s.db.Path() }

// committer is WithGroupCommit's: one goroutine commits the queued
// Updates in one transaction, as bbolt's DB.Batch does (a batch goes when
// max Updates wait, or delay after the first of them arrived; a member
// that fails is taken out and re-run alone by its caller, the rest re-run
// together). Unlike DB.Batch, a batch stays open while the previous one
// commits: the Updates that arrive meanwhile all join the next
// transaction, instead of closing timer-sized batches that queue behind
// the writer and each cost a commit and an fsync of their own.
type committer struct {
	db    *bbolt.DB
	max   int
	delay time.Duration
	// kick wakes the loop: the queue became non-empty or full, or closed.
	kick chan struct{}
	done chan struct{}

	mu      sync.Mutex
	queue   []commitCall
	firstAt time.Time // when the oldest queued Update arrived
	closed  bool
}

type commitCall struct {
	fn  func(*bbolt.Tx) error
	err chan error
}

// errSolo tells a caller to run its function alone (it failed in a batch).
var errSolo = errors.New("bolt: run alone")

func newCommitter(db *bbolt.DB, max int, delay time.Duration) *committer {
	c := &committer{db: db, max: max, delay: delay, kick: make(chan struct{}, 1), done: make(chan struct{})}
	if c.max < 1 {
		c.max = 1
	}
	go c.loop()
	return c
}

func (c *committer) update(fn func(*bbolt.Tx) error) error {
	ch := make(chan error, 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return store.ErrClosed
	}
	c.queue = append(c.queue, commitCall{fn: fn, err: ch})
	if len(c.queue) == 1 {
		c.firstAt = time.Now()
	}
	if len(c.queue) == 1 || len(c.queue) == c.max {
		c.wakeLoop()
	}
	c.mu.Unlock()
	err := <-ch
	if err == errSolo {
		err = c.db.Update(fn)
	}
	return err
}

func (c *committer) wakeLoop() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *committer) loop() {
	defer close(c.done)
	for {
		c.mu.Lock()
		n, first, closed := len(c.queue), c.firstAt, c.closed
		c.mu.Unlock()
		if n == 0 {
			if closed {
				return
			}
			<-c.kick
			continue
		}
		if n < c.max && !closed {
			if wait := c.delay - time.Since(first); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-c.kick:
				case <-t.C:
				}
				t.Stop()
				continue // look again: full, closed, or the delay is over
			}
		}
		c.mu.Lock()
		k := min(len(c.queue), c.max)
		batch := append([]commitCall(nil), c.queue[:k]...)
		c.queue = append(c.queue[:0], c.queue[k:]...)
		// A remainder keeps firstAt (older than any of it): it goes as soon
		// as this batch is durable.
		c.mu.Unlock()
		c.run(batch)
	}
}

func (c *committer) run(batch []commitCall) {
	for len(batch) > 0 {
		failed := -1
		err := c.db.Update(func(tx *bbolt.Tx) error {
			for i, call := range batch {
				if err := safelyCall(call.fn, tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed >= 0 {
			batch[failed].err <- errSolo
			batch = append(batch[:failed], batch[failed+1:]...)
			continue
		}
		for _, call := range batch {
			call.err <- err
		}
		return
	}
}

// close stops taking Updates and waits for the queued ones.
func (c *committer) close() {
	c.mu.Lock()
	c.closed = true
	c.wakeLoop()
	c.mu.Unlock()
	<-c.done
}

// safelyCall runs fn, turning a panic into an error (the caller re-runs it
// alone, where it panics in its own goroutine), as bbolt's batch does.
func safelyCall(fn func(*bbolt.Tx) error, tx *bbolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("bolt: panic in batched update: %v", p)
		}
	}()
	return fn(tx)
}

func mapErr(err error) error {
	if errors.Is(err, bbolt.ErrDatabaseNotOpen) {
		return store.ErrClosed
	}
	return err
}
