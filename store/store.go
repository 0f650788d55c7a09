// Package store defines the storage interface every coffer feature is written
// against. A Store runs units of work: Update runs a function in a read-write
// transaction that commits when it returns nil and rolls back (leaving no
// trace) when it returns an error; View runs a read-only transaction.
//
// Adapters (store/memory, store/bolt, store/postgres) know storage, nothing of
// billing rules. All of them pass the one conformance suite in
// store/storetest.
//
// # Contract for adapters
//
//   - Update transactions are serializable with respect to each other for
//     the records they read and write: a record read in an Update is locked
//     (or the transaction is serialized) until commit. The PostgreSQL adapter
//     locks rows it reads with FOR UPDATE and retries serialization failures
//     and deadlocks itself by re-running fn; memory and bolt run one writer
//     at a time. fn may therefore run more than once: it must not have side
//     effects outside the transaction.
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
//     Dispatched, an endpoint's Secret and PreviousSecret) are stored too; event Data is stored as JSON (compared as
//     JSON, not bytes).
//   - An Update that would give a record another record's unique key (a
//     DID, an idempotency key) returns ErrDuplicate.
//   - A batch limit <= 0 (Events, DueAttempts, ...) means DefaultLimit.
//   - Closing twice is harmless.
//   - View transactions need not see one snapshot across several reads
//     (PostgreSQL runs them at READ COMMITTED); use Update when reads must
//     agree.
package store

import (
	"context"
	"errors"
	"time"

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
// case. Search, when not zero, keeps the customers for which
// Search.Matches(c) holds. Every store matches exactly these rules, with
// the folding of package customer, never its own.
type CustomerQuery struct {
	Email  string
	Search customer.Search
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

// Tx is a unit of work. A Tx must not be used after its function returns.
type Tx interface {
	// Customers.
	InsertCustomer(c customer.Customer) error
	Customer(id string) (customer.Customer, error)
	CustomerByDID(did string) (customer.Customer, error)
	UpdateCustomer(c customer.Customer) error
	ListCustomers(q CustomerQuery) (list []customer.Customer, hasMore bool, err error)

	// Wallet balances: one per customer and currency.
	Balance(customerID, currency string) (wallet.Balance, error)
	PutBalance(b wallet.Balance) error
	Balances(customerID string) ([]wallet.Balance, error) // sorted by currency

	// Ledger entries are immutable. IdempotencyKey, when not empty, is unique
	// per customer.
	InsertEntry(e ledger.Entry) error
	Entry(id string) (ledger.Entry, error)
	EntryByKey(customerID, idempotencyKey string) (ledger.Entry, error)
	ListEntries(q EntryQuery) (list []ledger.Entry, hasMore bool, err error)

	// Holds.
	PutHold(h ledger.Hold) error
	Hold(id string) (ledger.Hold, error)

	// Products.
	PutProduct(p subscription.Product) error
	Product(id string) (subscription.Product, error)

	// Subscriptions.
	InsertSubscription(s subscription.Subscription) error
	Subscription(id string) (subscription.Subscription, error)
	UpdateSubscription(s subscription.Subscription) error
	ListSubscriptions(customerID string, p Page) (list []subscription.Subscription, hasMore bool, err error)

	// Payments. IdempotencyKey, when not empty, is unique per customer.
	InsertPayment(p subscription.Payment) error
	Payment(id string) (subscription.Payment, error)
	PaymentByKey(customerID, idempotencyKey string) (subscription.Payment, error)
	UpdatePayment(p subscription.Payment) error
	ListPayments(q PaymentQuery) (list []subscription.Payment, hasMore bool, err error)

	// Refunds. IdempotencyKey is unique per payment.
	InsertRefund(r subscription.Refund) error
	Refund(id string) (subscription.Refund, error)
	RefundByKey(paymentID, idempotencyKey string) (subscription.Refund, error)
	UpdateRefund(r subscription.Refund) error
	ListRefunds(paymentID string) ([]subscription.Refund, error) // oldest first
	// PendingRefunds lists refunds in status pending, oldest first.
	PendingRefunds(limit int) ([]subscription.Refund, error)

	// Outbox. InsertEvent assigns Seq. Events lists in ascending Seq after
	// afterSeq. UndispatchedEvents lists events not yet marked dispatched,
	// ascending Seq; PostgreSQL skips rows locked by another transaction.
	InsertEvent(e webhook.Event) error
	Event(id string) (webhook.Event, error)
	Events(afterSeq int64, limit int) ([]webhook.Event, error)
	UndispatchedEvents(limit int) ([]webhook.Event, error)
	MarkEventDispatched(id string) error

	// Retry attempts. DueAttempts lists active attempts (scheduled or
	// claimed) with RunAt <= now, ascending RunAt, through an index: its cost
	// grows with the number returned, not the number stored. PostgreSQL skips
	// rows locked by another transaction. CountInFlight counts claimed
	// attempts with LeaseUntil > now, for one customer or ("") all; it
	// serializes concurrent claimers until commit (PostgreSQL takes a
	// transaction-level advisory lock).
	PutAttempt(a retry.Attempt) error
	Attempt(id string) (retry.Attempt, error)
	DueAttempts(now time.Time, limit int) ([]retry.Attempt, error)
	AttemptsBySubscription(subscriptionID string) ([]retry.Attempt, error) // ascending Number
	CountInFlight(customerID string, now time.Time) (int, error)

	// Webhook endpoints, listed oldest first.
	PutEndpoint(e webhook.Endpoint) error
	Endpoint(id string) (webhook.Endpoint, error)
	DeleteEndpoint(id string) error
	Endpoints() ([]webhook.Endpoint, error)

	// Webhook deliveries. DueDeliveries lists active deliveries with
	// RunAt <= now, ascending RunAt, through an index (as DueAttempts).
	PutDelivery(d webhook.Delivery) error
	Delivery(id string) (webhook.Delivery, error)
	DueDeliveries(now time.Time, limit int) ([]webhook.Delivery, error)
	ListDeliveries(q DeliveryQuery) (list []webhook.Delivery, hasMore bool, err error)

	// Lists (issue 11 item 2). Each lists one page through an index, in
	// the order and with the filter combinations store/query.go documents;
	// its cost grows with the page, not the table. ProductByKey and
	// EndpointByKey find the record created with an idempotency key
	// (IdempotencyKey, unique per account when not empty; ErrNotFound for
	// none or "").
	QueryCustomers(q CustomerListQuery) (list []customer.Customer, hasMore bool, err error)
	QueryPayments(q PaymentListQuery) (list []subscription.Payment, hasMore bool, err error)
	QuerySubscriptions(q SubscriptionListQuery) (list []subscription.Subscription, hasMore bool, err error)
	QueryProducts(q ProductListQuery) (list []subscription.Product, hasMore bool, err error)
	QueryRefunds(q RefundListQuery) (list []subscription.Refund, hasMore bool, err error)
	QueryAttempts(q AttemptListQuery) (list []retry.Attempt, hasMore bool, err error)
	QueryEvents(q EventListQuery) (list []webhook.Event, hasMore bool, err error)
	QueryEndpoints(q EndpointListQuery) (list []webhook.Endpoint, hasMore bool, err error)
	ProductByKey(idempotencyKey string) (subscription.Product, error)
	EndpointByKey(idempotencyKey string) (webhook.Endpoint, error)
}
