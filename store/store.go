// Package store defines the storage interface every coffer feature is written
// against. A Store runs units of work: Update runs a function in a read-write
// transaction that commits when it returns nil and rolls back (leaving no
// trace) when it returns an error; View runs a read-only transaction.
//
// Adapters (store/memory, store/bolt, store/postgres) know storage, nothing of
// billing rules. All of them pass the one conformance suite in
// store/storetest.
//
// The interface is cut by aggregate: Customers, Ledger, Billing (products,
// subscriptions, payments, refunds), Outbox, Retries, Webhooks, Keys (API
// keys) and Idempotency (HTTP idempotency records), each with a read half
// (CustomerReader, ...). Tx embeds them all and ReadTx the read
// halves, so code that needs one aggregate depends on that slice only.
// docs/ADAPTERS.md is the guide for writing an adapter.
//
// # Contract for adapters
//
//   - Update transactions are serializable with respect to each other for
//     the records they read and write: a record read in an Update is locked
//     (or the transaction is serialized) until commit. An adapter that
//     detects a conflict (a serialization failure, a deadlock) re-runs fn
//     itself; fn may therefore run more than once and must not have side
//     effects outside the transaction.
//   - The claim methods (ClaimDueAttempts, ClaimDueDeliveries) are the only
//     operations with locking rules beyond that: each due record is claimed
//     by one claimer, caps hold across concurrent claimers, and a claim does
//     not wait for records another transaction holds. See AttemptClaim and
//     DeliveryClaim.
//   - Records are values: adapters store copies, and returned records never
//     alias stored ones.
//   - Lists are newest first (descending insertion order, by a sequence the
//     store assigns on Insert) unless documented otherwise. Cursors are
//     record ids (StartingAfter: records older than that id; EndingBefore:
//     records newer than it, still returned newest first). An unknown cursor
//     id is ErrNotFound.
//   - Get methods return ErrNotFound; Insert methods return ErrDuplicate for
//     an existing id or a violated unique key (customer DID, idempotency
//     keys); Update methods return ErrNotFound for a missing record.
//   - Writes in a View transaction return ErrReadOnly.
//   - A panic in fn rolls the transaction back (and propagates).
//   - Times come back in UTC; fields hidden from JSON (Fingerprint, Seq,
//     Dispatched, an endpoint's Secret and PreviousSecret) are stored too; event Data is stored as JSON (compared
//     as JSON, not bytes).
//   - An Update that would give a record another record's unique key (a
//     DID, an idempotency key) returns ErrDuplicate.
//   - A batch limit <= 0 (Events, DueNotices, PruneEvents, ...) means
//     DefaultLimit.
//   - Only the prune methods delete records (besides DeleteEndpoint and
//     DeleteIdem): old dispatched events, finished deliveries, old
//     idempotency records. Ledger entries, payments, refunds and API keys
//     are never deleted.
//   - Closing twice is harmless.
//   - View transactions need not see one snapshot across several reads; use
//     Update when reads must agree.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/cofferhq/coffer/apikey"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
	"github.com/cofferhq/coffer/webhook"
)

// Errors returned by adapters.
var (
	ErrNotFound  = errors.New("store: not found")
	ErrDuplicate = errors.New("store: duplicate key")
	ErrReadOnly  = errors.New("store: write in a read-only transaction")
	ErrClosed    = errors.New("store: closed")
)

// Store is a transactional record store.
type Store interface {
	// Update runs fn in a read-write transaction.
	Update(ctx context.Context, fn func(Tx) error) error
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(Tx) error) error
	// Close releases the store. Transactions after Close return ErrClosed.
	Close() error
}

// DefaultLimit and MaxLimit bound page sizes.
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// Page selects one page of a newest-first list.
type Page struct {
	Limit         int    // 1..MaxLimit; 0 means DefaultLimit
	StartingAfter string // id: return records older than it
	EndingBefore  string // id: return records newer than it
}

// Size is the effective limit of p.
func (p Page) Size() int {
	switch {
	case p.Limit <= 0:
		return DefaultLimit
	case p.Limit > MaxLimit:
		return MaxLimit
	}
	return p.Limit
}

// CustomerQuery filters a customer list. Email, when not empty, keeps the
// customers whose email folds (customer.Fold) to Fold(Email): equal, ignoring
// case, served by an index on every store. Every store matches exactly
// this rule, with the folding of package customer, never its own. (The
// free-text search is SearchCustomers, store/search.go.)
type CustomerQuery struct {
	Email string
	Page
}

// EntryQuery filters a customer's ledger entries; Currency "" means all.
type EntryQuery struct {
	CustomerID string
	Currency   string
	Page
}

// PaymentQuery filters payments. CustomerID "" means every customer;
// an empty Statuses means every status.
type PaymentQuery struct {
	CustomerID string
	Statuses   []subscription.PaymentStatus
	Page
}

// DeliveryQuery filters deliveries; empty fields match everything.
type DeliveryQuery struct {
	EventID    string
	EndpointID string
	Status     webhook.DeliveryStatus
	Page
}

// Tx is a unit of work: every aggregate's methods on one transaction, so a
// debit, a payment record and an outbox event commit together. A Tx must
// not be used after its function returns. Code that needs one aggregate
// takes that interface (Customers, Ledger, ...), not Tx.
type Tx interface {
	Customers
	Ledger
	Billing
	Outbox
	Retries
	Webhooks
	Keys
	Idempotency
	Invoices
}

// ReadTx is the read half of every aggregate: what a View may do, and all
// that Engine.View hands to a host application.
type ReadTx interface {
	CustomerReader
	LedgerReader
	BillingReader
	OutboxReader
	RetryReader
	WebhookReader
	KeysReader
	IdempotencyReader
	InvoiceReader
}

// CustomerReader reads customers.
type CustomerReader interface {
	Customer(id string) (customer.Customer, error)
	CustomerByDID(did string) (customer.Customer, error)
	ListCustomers(q CustomerQuery) (list []customer.Customer, hasMore bool, err error)
	// QueryCustomers lists one page of customers through an index, in the
	// order and with the filter combinations store/query.go documents (the
	// Query methods of every reader do the same): its cost grows with the
	// page, not the table.
	QueryCustomers(q CustomerListQuery) (list []customer.Customer, hasMore bool, err error)
	// SearchCustomers reads one page of a customer search through the
	// store's token index, planned as store/search.go describes.
	SearchCustomers(q CustomerSearchQuery) (SearchPage, error)
}

// Customers stores customers. The DID, when not empty, is unique.
type Customers interface {
	CustomerReader
	InsertCustomer(c customer.Customer) error
	UpdateCustomer(c customer.Customer) error
}

// LedgerReader reads wallet balances, ledger entries and holds.
type LedgerReader interface {
	Balance(customerID, currency string) (wallet.Balance, error)
	Balances(customerID string) ([]wallet.Balance, error) // sorted by currency
	Entry(id string) (ledger.Entry, error)
	EntryByKey(customerID, idempotencyKey string) (ledger.Entry, error)
	ListEntries(q EntryQuery) (list []ledger.Entry, hasMore bool, err error)
	Hold(id string) (ledger.Hold, error)
}

// TxWrapper is implemented by a Tx that wraps an adapter's Tx, such as
// otelcoffer's instrumenting wrapper: WrappedTx returns the Tx it wraps,
// so an optional interface of the adapter (CreditGrants, Units, TopUps)
// is found through the wrapper by As without the wrapper having to
// implement every combination of them.
type TxWrapper interface {
	WrappedTx() any
}

// As reports whether tx, or a Tx it wraps (TxWrapper, followed to the
// adapter), implements the optional interface T, and returns it. The
// Engine looks up every optional Tx interface this way.
func As[T any](tx any) (T, bool) {
	for i := 0; tx != nil && i < 16; i++ {
		if t, ok := tx.(T); ok {
			return t, true
		}
		w, ok := tx.(TxWrapper)
		if !ok {
			break
		}
		tx = w.WrappedTx()
	}
	var zero T
	return zero, false
}

// EntryKeyFinder is an optional method of a store's Tx: EntryByKey that
// reports a miss as found == false instead of building an ErrNotFound
// error. A miss is the common case (every fresh idempotency key), so the
// Engine uses it when the store has it; the answers equal EntryByKey's.
type EntryKeyFinder interface {
	FindEntryByKey(customerID, idempotencyKey string) (e ledger.Entry, found bool, err error)
}

// EventDataCopier is an optional method of a store's Tx: a store whose
// InsertEvent copies the event's Data before it returns (and keeps no
// reference to it) says so, and the caller may reuse the buffer at once.
type EventDataCopier interface {
	CopiesEventData() bool
}

// EntryKeyInserter is an optional method of a store's Tx: InsertEntry with
// the idempotency lookup folded in. When another entry already holds e's
// (customer, idempotency key), it returns that entry with taken == true,
// writes nothing and leaves the transaction usable (a store whose failed
// insert aborts its transaction must not offer it; PostgreSQL's INSERT ...
// ON CONFLICT DO NOTHING does not abort, so it does). Otherwise it is
// InsertEntry.
type EntryKeyInserter interface {
	InsertEntryOrExisting(e ledger.Entry) (existing ledger.Entry, taken bool, err error)
}

// Ledger stores wallet balances (one per customer and currency), ledger
// entries and holds. Entries are immutable and never deleted;
// IdempotencyKey, when not empty, is unique per customer.
type Ledger interface {
	LedgerReader
	PutBalance(b wallet.Balance) error
	InsertEntry(e ledger.Entry) error
	PutHold(h ledger.Hold) error
}

// BillingReader reads products, subscriptions, payments and refunds.
type BillingReader interface {
	Product(id string) (subscription.Product, error)
	Subscription(id string) (subscription.Subscription, error)
	ListSubscriptions(customerID string, p Page) (list []subscription.Subscription, hasMore bool, err error)
	Payment(id string) (subscription.Payment, error)
	PaymentByKey(customerID, idempotencyKey string) (subscription.Payment, error)
	ListPayments(q PaymentQuery) (list []subscription.Payment, hasMore bool, err error)
	Refund(id string) (subscription.Refund, error)
	RefundByKey(paymentID, idempotencyKey string) (subscription.Refund, error)
	ListRefunds(paymentID string) ([]subscription.Refund, error) // oldest first
	// PendingRefunds lists refunds in status pending, oldest first.
	PendingRefunds(limit int) ([]subscription.Refund, error)
	QueryPayments(q PaymentListQuery) (list []subscription.Payment, hasMore bool, err error)
	QuerySubscriptions(q SubscriptionListQuery) (list []subscription.Subscription, hasMore bool, err error)
	QueryProducts(q ProductListQuery) (list []subscription.Product, hasMore bool, err error)
	QueryRefunds(q RefundListQuery) (list []subscription.Refund, hasMore bool, err error)
	// ProductByKey finds the product created with an idempotency key
	// (unique per account when not empty; ErrNotFound for none or "").
	ProductByKey(idempotencyKey string) (subscription.Product, error)
}

// Billing stores products, subscriptions, payments and refunds. A payment's
// IdempotencyKey, when not empty, is unique per customer; a refund's per
// payment. Payments and refunds are never deleted.
type Billing interface {
	BillingReader
	PutProduct(p subscription.Product) error
	InsertSubscription(s subscription.Subscription) error
	UpdateSubscription(s subscription.Subscription) error
	InsertPayment(p subscription.Payment) error
	UpdatePayment(p subscription.Payment) error
	InsertRefund(r subscription.Refund) error
	UpdateRefund(r subscription.Refund) error
}

// OutboxReader reads outbox events.
type OutboxReader interface {
	Event(id string) (webhook.Event, error)
	// Events lists events in ascending Seq after afterSeq.
	Events(afterSeq int64, limit int) ([]webhook.Event, error)
	// UndispatchedEvents lists events not yet marked dispatched, ascending
	// Seq. In an Update the events it returns belong to that transaction
	// until it ends: a concurrent Update's UndispatchedEvents does not
	// return them (it passes over them, or waits).
	UndispatchedEvents(limit int) ([]webhook.Event, error)
	QueryEvents(q EventListQuery) (list []webhook.Event, hasMore bool, err error)
}

// Outbox stores the events every state change writes. InsertEvent assigns
// Seq.
type Outbox interface {
	OutboxReader
	InsertEvent(e webhook.Event) error
	MarkEventDispatched(id string) error
	// PruneEvents deletes at most limit (<= 0: DefaultLimit) dispatched
	// events created before before, oldest first, and returns how many it
	// deleted. It never deletes an undispatched event, nor one a stored
	// delivery refers to (prune the deliveries first). Its cost grows with
	// the number deleted, not the number stored: an index serves it.
	PruneEvents(before time.Time, limit int) (int, error)
}

// RetryReader reads retry attempts.
type RetryReader interface {
	Attempt(id string) (retry.Attempt, error)
	AttemptsBySubscription(subscriptionID string) ([]retry.Attempt, error) // ascending Number
	// DueNotices lists at most limit active attempts (scheduled or claimed)
	// not yet Notified whose RunAt <= now, ascending RunAt, through an
	// index: its cost grows with the attempts due, not the attempts stored.
	DueNotices(now time.Time, limit int) ([]retry.Attempt, error)
	QueryAttempts(q AttemptListQuery) (list []retry.Attempt, hasMore bool, err error)
}

// Retries stores the durable retry attempts of failed payments.
type Retries interface {
	RetryReader
	PutAttempt(a retry.Attempt) error
	// ClaimDueAttempts claims due attempts for c.Owner and returns them
	// claimed, ascending RunAt. See AttemptClaim for what is due and what
	// the adapter guarantees.
	ClaimDueAttempts(now time.Time, c AttemptClaim) (claimed []retry.Attempt, deferred int, err error)
}

// AttemptClaim parameterizes Retries.ClaimDueAttempts.
//
// An attempt is due when it is active (scheduled, or claimed with a lease
// that ended: LeaseUntil <= now) and both its RunAt and its DueAt are <= now.
// The adapter looks at the due attempts in ascending RunAt, at most Limit of
// them (<= 0: DefaultLimit), and claims each unless that would put more than
// PerAccount claimed attempts with a live lease (LeaseUntil > now) in the
// store, or more than PerCustomer for its customer (a cap <= 0 is no cap);
// the ones it leaves for a cap are counted in deferred. A claimed attempt
// gets Status claimed, LeaseOwner Owner, LeaseUntil and RunAt LeaseUntil,
// UpdatedAt now; other fields are unchanged.
//
// Guarantees, whatever the number of concurrent claimers (goroutines,
// processes sharing a database): an attempt is claimed by one claimer at a
// time (until its lease ends), and the caps hold across all of them: two
// claims that would together exceed a cap cannot both commit. A claim
// neither blocks on nor returns attempts another open transaction holds.
type AttemptClaim struct {
	Limit       int
	PerCustomer int
	PerAccount  int
	Owner       string
	LeaseUntil  time.Time
}

// WebhookReader reads webhook endpoints and deliveries.
type WebhookReader interface {
	Endpoint(id string) (webhook.Endpoint, error)
	Endpoints() ([]webhook.Endpoint, error) // oldest first
	Delivery(id string) (webhook.Delivery, error)
	// DueDeliveries lists at most limit active deliveries (pending or
	// claimed) with RunAt <= now, ascending RunAt, through an index (its
	// cost grows with the number returned). It reserves nothing: claim with
	// ClaimDueDeliveries.
	DueDeliveries(now time.Time, limit int) ([]webhook.Delivery, error)
	ListDeliveries(q DeliveryQuery) (list []webhook.Delivery, hasMore bool, err error)

	// QueryEndpoints lists endpoints through an index (see Lists below).
	QueryEndpoints(q EndpointListQuery) (list []webhook.Endpoint, hasMore bool, err error)
	// EndpointByKey finds the endpoint created with an idempotency key
	// (unique per account when not empty; ErrNotFound for none or "").
	EndpointByKey(idempotencyKey string) (webhook.Endpoint, error)
}

// Webhooks stores webhook endpoints and deliveries.
type Webhooks interface {
	WebhookReader
	PutEndpoint(e webhook.Endpoint) error
	DeleteEndpoint(id string) error
	PutDelivery(d webhook.Delivery) error
	// ClaimDueDeliveries claims due deliveries for c.Owner and returns them
	// claimed, ascending RunAt. See DeliveryClaim.
	ClaimDueDeliveries(now time.Time, c DeliveryClaim) ([]webhook.Delivery, error)
	// PruneDeliveries deletes at most limit (<= 0: DefaultLimit) finished
	// deliveries (succeeded or failed) last updated before before, oldest
	// first, and returns how many it deleted. It never deletes an active
	// delivery. Its cost grows with the number deleted: an index serves it.
	PruneDeliveries(before time.Time, limit int) (int, error)
}

// DeliveryClaim parameterizes Webhooks.ClaimDueDeliveries.
//
// A delivery is due when it is active (pending, or claimed with an ended
// lease: RunAt <= now) and its RunAt <= now. The adapter looks at the due
// deliveries in ascending RunAt, at most Scan of them (<= 0: 8 x Limit),
// passes over those in Skip and those whose endpoint already has
// PerEndpoint (<= 0: no cap) deliveries counted in InFlight plus claimed by
// this call, and claims up to Limit (<= 0: DefaultLimit). A claimed
// delivery gets Status claimed, LeaseOwner Owner, RunAt LeaseUntil and
// UpdatedAt now; other fields are unchanged.
//
// Guarantee, whatever the number of concurrent claimers: a delivery is
// claimed by one claimer at a time (until its lease ends). A claim neither
// blocks on nor returns deliveries another open transaction holds.
// PerEndpoint is the claimer's own cap, counted from InFlight (its own
// deliveries in flight), not a store-wide one.
type DeliveryClaim struct {
	Limit       int
	Scan        int
	PerEndpoint int
	InFlight    map[string]int      // endpoint id -> this claimer's deliveries in flight
	Skip        map[string]struct{} // delivery ids not to claim
	Owner       string
	LeaseUntil  time.Time
}

// KeysReader reads API keys.
type KeysReader interface {
	APIKey(id string) (apikey.Key, error)
	// APIKeyByHash finds the key whose Hash is hash (ErrNotFound for none
	// or an empty hash).
	APIKeyByHash(hash []byte) (apikey.Key, error)
	// QueryAPIKeys lists one page of keys, newest CreatedAt first (ties
	// in insertion order), through an index.
	QueryAPIKeys(q APIKeyListQuery) (list []apikey.Key, hasMore bool, err error)
}

// Keys stores API keys. The id and the Hash are unique (InsertAPIKey and
// UpdateAPIKey return ErrDuplicate for a taken one). Keys are never
// deleted: a revoked key keeps its record, so its secret stays refused.
type Keys interface {
	KeysReader
	InsertAPIKey(k apikey.Key) error
	UpdateAPIKey(k apikey.Key) error
}

// APIKeyListQuery pages the API keys, newest CreatedAt first.
type APIKeyListQuery struct {
	Page
}

// IdemState is the state of an HTTP idempotency record.
type IdemState string

// States of an idempotency record.
const (
	// IdemInProgress: a request holds the key and runs; LockedUntil bounds
	// how long it may before another takes the key over.
	IdemInProgress IdemState = "in_progress"
	// IdemDone: the request finished; Status, ContentType and Body are its
	// response, replayed to a retry.
	IdemDone IdemState = "done"
)

// MaxIdemBody bounds the response body an idempotency record keeps.
const MaxIdemBody = 1 << 20

// IdemRecord is the HTTP idempotency record of one (Scope, Key): the
// request an Idempotency-Key header was first sent with and, once it is
// done, its response. Scope is the id of the API key that sent it, so two
// API keys never share an idempotency key.
type IdemRecord struct {
	Scope string
	Key   string
	// RequestHash is the SHA-256 of the request (method, path, body),
	// computed by the caller; a retry must have the same.
	RequestHash []byte
	State       IdemState
	// The stored response (State done). Body is at most MaxIdemBody bytes.
	Status      int
	ContentType string
	Body        []byte
	LockedUntil time.Time
	CreatedAt   time.Time
}

// IdempotencyReader reads HTTP idempotency records.
type IdempotencyReader interface {
	IdemRecord(scope, key string) (IdemRecord, error)
}

// Idempotency stores HTTP idempotency records, keyed by (Scope, Key):
// InsertIdem returns ErrDuplicate for a taken one, UpdateIdem and
// DeleteIdem ErrNotFound for a missing one. In an Update, IdemRecord locks
// the record it finds, as every single-record read does.
type Idempotency interface {
	IdempotencyReader
	InsertIdem(r IdemRecord) error
	UpdateIdem(r IdemRecord) error
	DeleteIdem(scope, key string) error
	// PruneIdem deletes at most limit (<= 0: DefaultLimit) records created
	// before before, whatever their state, oldest CreatedAt first, and
	// returns how many it deleted. Its cost grows with the number deleted:
	// an index by CreatedAt serves it.
	PruneIdem(before time.Time, limit int) (int, error)
}
