package postgres

import (
	"strconv"

	"github.com/jackc/pgx/v5"
)

// One lock order for every Update transaction.
//
// Row locks alone let two transactions on one customer deadlock: a charge
// locks the subscription and then the wallet balance, while the settling of
// an earlier charge locks the payment, the hold, the balance and then the
// subscription; a refund locks the payment and then the balance. Each use
// case takes its rows in the order its logic reads them, so under mixed
// load on one wallet the orders cross and PostgreSQL breaks a cycle every
// deadlock_timeout (1 s) by aborting a transaction, which then runs again.
//
// The adapter therefore imposes one order under every use case: before the
// first row lock on a customer's rows, an Update transaction takes a
// transaction-scoped advisory lock for that customer (class
// lockClassCustomer, key hashtext(schema || '.' || customer id)). Every row
// lock of a customer's rows is then taken under the customer's lock, so two
// transactions on one customer queue on that lock instead of interleaving
// row locks, and a cycle can only form between transactions that lock
// several customers in different orders (none of the engine's use cases
// do). The lock is released at commit or rollback.
//
// The lock is sent in the same round trip as the locking read it precedes
// (queued in front of it), so it costs a statement, not a round trip. It is
// a statement of its own, not part of the read, so that the read's
// snapshot (READ COMMITTED takes one per statement) is taken once the lock
// is granted and sees everything the previous holder committed: a balance
// it created, a payment it inserted under an idempotency key. For a
// read by customer id (a balance, a customer, a payment by idempotency key)
// the key is known; for a read by a record's own id (a subscription,
// payment, hold, refund or retry attempt) the statement finds the
// customer_id of that row first (customer_id never changes, so reading it
// without a lock is safe), and a read by id that finds no row takes no
// lock (there is no row to lock either). Writes take none: the engine reads (locks) what it changes before it
// writes it, and work-queue reads (DueAttempts, DueDeliveries,
// UndispatchedEvents) skip locked rows rather than wait for them.
//
// Every locking single-record read (a stmt made by lockable) must appear in
// customerLocks, or in notCustomerScoped when its table holds no
// customer's rows; TestEveryLockingReadClassified enforces it.

// lockClassCustomer is the advisory lock class of customer locks.
const lockClassCustomer int32 = 0x636f6602 // "cof\2"

var customerClass = strconv.Itoa(int(lockClassCustomer))

// customerLockSQL locks a customer whose id is known; $1 is the key.
var customerLockSQL = `SELECT pg_advisory_xact_lock(` + customerClass + `, hashtext($1::text))`

// lockVia returns the statement that locks the customer owning the row
// that table's column col equals $2 ($1 is the key prefix) — no lock when
// there is no such row — and returns that customer's id, so the
// transaction knows it holds the lock.
func lockVia(table, owner, col string) string {
	return `SELECT ` + owner + `, pg_advisory_xact_lock(` + customerClass + `, hashtext($1::text || ` + owner +
		`))::text FROM ` + table + ` WHERE ` + col + ` = $2`
}

// customerLock says how a locking read finds the customer to lock first:
// arg is the index of the read's argument that is the customer id (known),
// or of the argument that via uses to find it.
type customerLock struct {
	arg int
	via string // "" when args[arg] is the customer id
}

// customerLocks maps the locking form of each single-record read of a
// customer's rows to how it finds the customer.
var customerLocks = map[string]customerLock{
	getBalance.lock:       {arg: 0},
	getCustomer.lock:      {arg: 0},
	getPaymentByKey.lock:  {arg: 0},
	getCustomerByDID.lock: {arg: 0, via: lockVia("customers", "id", "did")},
	getSubscription.lock:  {arg: 0, via: lockVia("subscriptions", "customer_id", "id")},
	getPayment.lock:       {arg: 0, via: lockVia("payments", "customer_id", "id")},
	getHold.lock:          {arg: 0, via: lockVia("holds", "customer_id", "id")},
	getRefund.lock:        {arg: 0, via: lockVia("refunds", "customer_id", "id")},
	// A refund by key belongs to the customer of its payment.
	getRefundByKey.lock: {arg: 0, via: lockVia("payments", "customer_id", "id")},
	getAttempt.lock:     {arg: 0, via: lockVia("retry_attempts", "customer_id", "id")},
}

// notCustomerScoped lists the locking reads of tables that hold no
// customer's rows (or, for events, rows no transaction waits on with a
// customer's rows locked: events are written once and then only flagged).
var notCustomerScoped = map[string]bool{
	getProduct.lock:       true,
	getProductByKey.lock:  true,
	getEndpointByKey.lock: true,
	getEvent.lock:         true,
	getEndpoint.lock:      true,
	getDelivery.lock:      true,
	// API keys and idempotency records: no use case locks one of them
	// and then a customer's rows, or the other way round (CreateAPIKey
	// reads the customer and then inserts, which waits on no row).
	getAPIKey.lock:       true,
	getAPIKeyByHash.lock: true,
	getIdem.lock:         true,
}

// lockCustomerFor queues, in front of the locking read sql, the advisory
// lock of the customer whose rows it reads, unless this transaction holds
// it already.
func (t *tx) lockCustomerFor(sql string, args []any) {
	if t.readOnly || t.s.noCustomerLocks {
		return
	}
	l, ok := customerLocks[sql]
	if !ok || l.arg >= len(args) {
		return
	}
	id, _ := args[l.arg].(string)
	prefix := t.s.schema + "."
	if l.via != "" {
		// The customer is known only once the row is found: lock whatever
		// customer owns it (again, if this transaction holds it already:
		// that is cheap) and remember it, so that later reads by its id
		// send no lock.
		t.q = append(t.q, queued{sql: l.via, args: []any{prefix, id}, each: func(r pgx.Rows) error {
			var owner, void string
			if err := r.Scan(&owner, &void); err != nil {
				return err
			}
			t.holdCustomer(owner)
			return nil
		}})
		t.s.stats.customerLocks.Add(1)
		return
	}
	if t.customers[id] {
		return
	}
	t.holdCustomer(id)
	t.q = append(t.q, queued{sql: customerLockSQL, args: []any{prefix + id}})
	t.s.stats.customerLocks.Add(1)
}

// holdCustomer records that this transaction holds the customer's lock.
func (t *tx) holdCustomer(id string) {
	if t.customers == nil {
		t.customers = make(map[string]bool, 1)
	}
	t.customers[id] = true
}
