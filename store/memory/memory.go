// Package memory is the in-memory store.Store: fast, with every index the
// durable adapters have, for tests and for applications that need no
// durability.
//
// A Store is safe for concurrent use. Writers run one at a time under a
// mutex; View transactions share a read lock. Update applies writes in place
// and records an undo log, so a transaction whose function fails (or
// panics) is reverted to exactly the state it started from. Records are
// copied in and out, so callers never alias stored values.
//
// It is built for throughput: ledger entries and outbox events, the tables
// that grow with every posting, are stored pointer-free so the garbage
// collector never scans them; due attempts and deliveries come from an
// ordered index on RunAt, so a runner's query costs what it returns, not
// what is stored.
//
//	s := memory.New()
//	defer s.Close()
//	err := s.Update(ctx, func(tx store.Tx) error { return tx.InsertCustomer(c) })
package memory

import (
	"context"
	"sync"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
	"github.com/cofferhq/coffer/webhook"
)

// node holds one record and the sequence the store gave it on insert, which
// orders every list.
type node[T any] struct {
	seq int64
	v   T
}

type (
	custNode = node[customer.Customer]
	holdNode = node[ledger.Hold]
	prodNode = node[subscription.Product]
	subNode  = node[subscription.Subscription]
	payNode  = node[subscription.Payment]
	refNode  = node[subscription.Refund]
	attNode  = node[retry.Attempt]
	epNode   = node[webhook.Endpoint]
	delNode  = node[webhook.Delivery]
)

// pair is a two-part unique key: (customer, idempotency key) or (payment,
// idempotency key).
type pair struct{ a, b string }

// custIdx gathers a customer's per-customer lists, so one map lookup serves a
// whole ledger posting.
type custIdx struct {
	balances []wallet.Balance // sorted by currency
	entries  []uint32         // in s.entries, ascending seq
	subs     []*subNode
	payments []*payNode
	claimed  map[*attNode]struct{}
}

// Store is the in-memory store. The zero value is not usable; call New.
type Store struct {
	mu     sync.RWMutex
	closed bool
	seq    int64 // last record sequence
	evSeq  int64 // last event Seq

	customers map[string]*custNode
	custList  []*custNode
	custByDID map[string]*custNode
	byEmail   map[string][]*custNode // folded email -> customers, ascending seq (search.go)
	tokens    tokenIndex             // customer search tokens (search.go)
	cust      map[string]*custIdx

	entries  *entryTable
	holds    map[string]*holdNode
	products map[string]*prodNode
	subs     map[string]*subNode

	payments map[string]*payNode
	payList  []*payNode
	payKeys  map[pair]*payNode

	refunds   map[string]*refNode
	refKeys   map[pair]*refNode
	refsByPay map[string][]*refNode
	pending   *skiplist[*refNode] // pending refunds by seq

	events *eventTable
	// undispatched holds event indexes in ascending Seq from undHead on;
	// dispatched ones are dropped lazily (at commit), so insert is an append.
	undispatched []uint32
	undHead      int
	undLive      int
	// evDone orders dispatched events by CreatedAt, for PruneEvents.
	evDone *skiplist[uint32]

	attempts   map[string]*attNode
	attBySub   map[string][]*attNode
	attDue     *skiplist[*attNode]
	claimedAll map[*attNode]struct{}

	endpoints map[string]*epNode
	epList    []*epNode // ascending seq

	deliveries map[string]*delNode
	delList    []*delNode
	delByEvent map[string][]*delNode
	delByEp    map[string][]*delNode
	// delByStatus lists the deliveries of each status, ascending seq:
	// ListDeliveries filtered by status alone pages through it.
	delByStatus map[webhook.DeliveryStatus][]*delNode
	delDue      *skiplist[*delNode]
	delDone     *skiplist[*delNode] // finished deliveries by UpdatedAt, for PruneDeliveries

	lists lists // the ordered indexes of the account-wide lists (lists.go)

	keys keyTable  // API keys (keys.go)
	idem idemTable // HTTP idempotency records (keys.go)

	credits creditTable // credit grants and allocations (grants.go)
	units   unitTable   // credit units (units.go)

	invoices invoiceTable // invoice records and numbers (invoice.go)
	topups   topupTable   // auto top-up rules (topups.go)

	wtx tx     // the one write transaction, reused
	w   wstate // its undo log
}

// New returns an empty store.
func New() *Store {
	s := &Store{
		customers:   make(map[string]*custNode),
		custByDID:   make(map[string]*custNode),
		cust:        make(map[string]*custIdx),
		entries:     newEntryTable(),
		holds:       make(map[string]*holdNode),
		products:    make(map[string]*prodNode),
		subs:        make(map[string]*subNode),
		payments:    make(map[string]*payNode),
		payKeys:     make(map[pair]*payNode),
		refunds:     make(map[string]*refNode),
		refKeys:     make(map[pair]*refNode),
		refsByPay:   make(map[string][]*refNode),
		pending:     newSkiplist[*refNode](),
		events:      newEventTable(),
		evDone:      newSkiplist[uint32](),
		attempts:    make(map[string]*attNode),
		attBySub:    make(map[string][]*attNode),
		attDue:      newSkiplist[*attNode](),
		claimedAll:  make(map[*attNode]struct{}),
		endpoints:   make(map[string]*epNode),
		deliveries:  make(map[string]*delNode),
		delByEvent:  make(map[string][]*delNode),
		delByEp:     make(map[string][]*delNode),
		delByStatus: make(map[webhook.DeliveryStatus][]*delNode),
		delDue:      newSkiplist[*delNode](),
		delDone:     newSkiplist[*delNode](),
		keys:        keyTable{byID: make(map[string]*keyNode), byHash: make(map[string]*keyNode)},
		idem:        idemTable{byKey: make(map[pair]*idemNode), byAge: newSkiplist[*idemNode]()},
	}
	s.wtx = tx{s: s, writable: true}
	return s
}

var _ store.Store = (*Store)(nil)

// Update runs fn with the store locked for writing. If fn returns an error
// or panics, every write it made is undone before the lock is released.
// fn must not call Update or View on the same store: that deadlocks.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return store.ErrClosed
	}
	s.w.begin(s)
	committed := false
	defer func() {
		if !committed {
			s.w.rollback(s)
		} else {
			s.afterCommit()
		}
		s.w.reset()
		s.mu.Unlock()
	}()
	if err := fn(&s.wtx); err != nil {
		return err
	}
	committed = true
	return nil
}

// View runs fn with the store locked for reading; writes return
// store.ErrReadOnly. Views run concurrently with each other.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return store.ErrClosed
	}
	return fn(&tx{s: s})
}

// Close marks the store closed; later transactions return store.ErrClosed.
// Closing twice is harmless.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// afterCommit trims dispatched events off the undispatched queue. It runs
// only between transactions, so undo records never see positions move.
func (s *Store) afterCommit() {
	u := s.undispatched
	h := s.undHead
	ev := s.events
	for h < len(u) && ev.recs.at(u[h]).dispatched {
		h++
	}
	s.undHead = h
	window := len(u) - h
	dead := window - s.undLive
	if dead > s.undLive/8+64 || (h > 64 && h > len(u)/2) {
		j := 0
		for _, i := range u[h:] {
			if !ev.recs.at(i).dispatched {
				u[j] = i
				j++
			}
		}
		s.undispatched = u[:j]
		s.undHead = 0
	}
}

func (s *Store) nextSeq() int64 {
	s.seq++
	return s.seq
}

// idx returns the per-customer index of id, creating it. A created index
// survives a rollback; it is empty then, which no read can tell from absent.
func (s *Store) idx(id string) *custIdx {
	ci := s.cust[id]
	if ci == nil {
		ci = &custIdx{}
		s.cust[id] = ci
	}
	return ci
}

// tx implements store.Tx. The write tx is a field of Store, reused by every
// Update; a View gets its own.
type tx struct {
	s        *Store
	writable bool
}

func (t *tx) write() error {
	if !t.writable {
		return store.ErrReadOnly
	}
	return nil
}
