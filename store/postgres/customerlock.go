package postgres

import (
	"strconv"
	"strings"

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
// payment, hold, refund or retry attempt, a customer by did) the lock is
// folded into the read itself (lockInline): an InitPlan finds the row's
// customer_id (it never changes, so reading it without a lock is safe) and
// takes the lock before the row is locked, and the row lock returns the
// row's latest version, so no second statement is needed. A read by id that
// finds no row takes no lock (there is no row to lock either). A refund by
// (payment, key) is found through another table and keeps the lock as a
// statement of its own (lockVia). Writes take none: the engine reads (locks) what it changes before it
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
	// inline, when set, replaces the read and the via statement: the read
	// of a record by its own key with the lock folded in (lockInline).
	inline string
	// viaRow and inlineRow are via and inline with the customer's lock
	// taken as a row lock of its customers row (Store.rowLocks).
	viaRow, inlineRow string
}

// customerRowLockSQL is customerLockSQL as a row lock; $1 is the customer
// id. FOR NO KEY UPDATE does not conflict with the FOR KEY SHARE of the
// foreign-key checks of inserts referencing the customer.
const customerRowLockSQL = `SELECT 1 FROM customers WHERE id = $1 FOR NO KEY UPDATE`

// lockViaRow is lockVia with the customer's row lock.
func lockViaRow(table, owner, col string) string {
	return `SELECT t.` + owner + `, ''::text FROM ` + table + ` t JOIN customers k ON k.id = t.` + owner +
		` WHERE t.` + col + ` = $2 AND $1::text IS NOT NULL FOR NO KEY UPDATE OF k`
}

// lockInline folds the lock of the customer owning the row into the
// locking read lock of that row by its own key (table's column col equals
// $1), so the pair costs one statement instead of two. The folded read is
//
//	SELECT owner, <cols> FROM table WHERE col = $1
//	  AND (SELECT pg_advisory_xact_lock(class, hashtext($2::text || l.owner))::text
//	       FROM table l WHERE l.col = $1) IS NOT NULL
//	FOR NO KEY UPDATE
//
// with $2 the key prefix. The subquery is uncorrelated, so PostgreSQL runs
// it once as an InitPlan, as the one-time filter of a Result node under
// LockRows: the customer's lock is granted before the scan under it starts,
// hence before the row is locked (TestInlineLockBeforeRowLock checks both
// the plan and the behaviour). The statement's snapshot is taken before the
// lock is granted, but the row it returns is the one it row-locks, and a
// row lock in READ COMMITTED returns the row's latest committed version
// (the version the previous holder of the customer's lock wrote); no other
// row is read by this statement, and the statements after it take new
// snapshots. A row missing from the snapshot is not locked and not found,
// as with the two statements (the via statement found no row either). The
// owner is returned as the first column; the scan of the read skips it.
func lockInline(lock, table, owner, col string) customerLock {
	tail := " FROM " + table + " WHERE " + col + " = $1 FOR NO KEY UPDATE"
	if !strings.HasPrefix(lock, "SELECT ") || !strings.HasSuffix(lock, tail) {
		panic("postgres: lockInline: unexpected read: " + lock)
	}
	core := strings.TrimSuffix(strings.TrimPrefix(lock, "SELECT "), " FOR NO KEY UPDATE")
	return customerLock{arg: 0, inline: `SELECT ` + owner + `, ` + core + ` AND (SELECT pg_advisory_xact_lock(` +
		customerClass + `, hashtext($2::text || l.` + owner + `))::text FROM ` + table + ` l WHERE l.` + col +
		` = $1) IS NOT NULL FOR NO KEY UPDATE`,
		inlineRow: `SELECT ` + owner + `, ` + core + ` AND (SELECT 1 FROM customers k WHERE k.id = (SELECT l.` + owner +
			` FROM ` + table + ` l WHERE l.` + col + ` = $1) AND $2::text IS NOT NULL FOR NO KEY UPDATE) IS NOT NULL FOR NO KEY UPDATE`}
}

// customerLocks maps the locking form of each single-record read of a
// customer's rows to how it finds the customer.
var customerLocks = map[string]customerLock{
	getBalance.lock:       {arg: 0},
	getCustomer.lock:      {arg: 0},
	getPaymentByKey.lock:  {arg: 0},
	getCustomerByDID.lock: lockInline(getCustomerByDID.lock, "customers", "id", "did"),
	getSubscription.lock:  lockInline(getSubscription.lock, "subscriptions", "customer_id", "id"),
	getPayment.lock:       lockInline(getPayment.lock, "payments", "customer_id", "id"),
	getHold.lock:          lockInline(getHold.lock, "holds", "customer_id", "id"),
	getRefund.lock:        lockInline(getRefund.lock, "refunds", "customer_id", "id"),
	// A refund by key belongs to the customer of its payment: another
	// table, which the previous holder of the lock may have written, so
	// the lock is a statement of its own and the read takes its snapshot
	// once the lock is granted.
	getRefundByKey.lock: {arg: 0, via: lockVia("payments", "customer_id", "id"), viaRow: lockViaRow("payments", "customer_id", "id")},
	getAttempt.lock:     lockInline(getAttempt.lock, "retry_attempts", "customer_id", "id"),
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
		via := l.via
		if t.s.rowLocks {
			via = l.viaRow
		}
		t.q = append(t.q, queued{sql: via, args: []any{prefix, id}, each: func(r pgx.Rows) error {
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
	if t.s.rowLocks {
		t.q = append(t.q, queued{sql: customerRowLockSQL, args: []any{id}})
	} else {
		t.q = append(t.q, queued{sql: customerLockSQL, args: []any{prefix + id}})
	}
	t.s.stats.customerLocks.Add(1)
}

// lockedRead returns the statement, arguments and row function with which
// to send the locking read sql: the inline form (lockInline) when it has
// one, else sql itself with the customer's lock queued in front of it
// (lockCustomerFor).
func (t *tx) lockedRead(sql string, args []any, each func(pgx.Rows) error) (string, []any, func(pgx.Rows) error) {
	if t.readOnly || t.s.noCustomerLocks {
		return sql, args, each
	}
	l, ok := customerLocks[sql]
	if !ok || l.inline == "" || len(args) != 1 {
		t.lockCustomerFor(sql, args)
		return sql, args, each
	}
	t.s.stats.customerLocks.Add(1)
	inline := l.inline
	if t.s.rowLocks {
		inline = l.inlineRow
	}
	return inline, []any{args[0], t.s.schema + "."}, func(r pgx.Rows) error {
		var owner string
		if err := each(ownerRows{Rows: r, owner: &owner}); err != nil {
			return err
		}
		t.holdCustomer(owner)
		return nil
	}
}

// ownerRows is the row of an inline locking read: its first column, the
// owner, goes to owner, the others to the read's own scan.
type ownerRows struct {
	pgx.Rows
	owner *string
}

// Scan scans the owner and then dest.
func (r ownerRows) Scan(dest ...any) error {
	return r.Rows.Scan(append([]any{r.owner}, dest...)...)
}

// holdCustomer records that this transaction holds the customer's lock.
func (t *tx) holdCustomer(id string) {
	if t.customers == nil {
		t.customers = make(map[string]bool, 1)
	}
	t.customers[id] = true
}
