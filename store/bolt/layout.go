package bolt

// The on-disk layout. Every record kind has a primary bucket keyed by the
// store-assigned sequence (8 bytes big-endian, so byte order is insertion
// order and new records append to the B+tree instead of landing on random
// pages), and an id bucket mapping the record id to that sequence. Index
// buckets hold keys only:
//
//   - list indexes: scope + seq -> "" (scope: length-prefixed parts such as
//     the customer id), walked newest or oldest first;
//   - unique indexes: scope -> seq (customer DID, idempotency keys);
//   - due indexes: timeKey(RunAt) + seq -> "" for active attempts and
//     deliveries, walked from the start until the first key after now.
//
// A posting is the hot path, and a commit rewrites every page it dirtied,
// so a posting's keys are laid out to share pages: the wallets bucket holds,
// under scope(customer), the customer's entry list per currency (tag 1), its
// balances (tag 2, no sequence: a prefix walk lists them sorted by currency)
// and its entry idempotency keys (tag 3). The newest entries of a wallet sort
// right before its balances, so a posting usually dirties one wallet page
// besides the two id pages and the appended tails.

// kind names the two buckets every record kind has.
type kind struct {
	primary []byte // seq -> value
	ids     []byte // id -> seq
}

var (
	bMeta      = []byte("meta")
	keyVersion = []byte("version")

	kCustomers  = kind{[]byte("customers"), []byte("customers.id")}
	kEntries    = kind{[]byte("entries"), []byte("entries.id")}
	kHolds      = kind{[]byte("holds"), []byte("holds.id")}
	kProducts   = kind{[]byte("products"), []byte("products.id")}
	kSubs       = kind{[]byte("subscriptions"), []byte("subscriptions.id")}
	kPayments   = kind{[]byte("payments"), []byte("payments.id")}
	kRefunds    = kind{[]byte("refunds"), []byte("refunds.id")}
	kEvents     = kind{[]byte("events"), []byte("events.id")}
	kAttempts   = kind{[]byte("attempts"), []byte("attempts.id")}
	kEndpoints  = kind{[]byte("endpoints"), []byte("endpoints.id")}
	kDeliveries = kind{[]byte("deliveries"), []byte("deliveries.id")}

	bCustomers = kCustomers.primary

	bCustomerDID = []byte("customers.did") // unique: did
	// The email filter walks the lists bucket's "cus.email" scope (layout 2).
	// customers.search (search.go): token + seq, built by backfillSearch

	bWallets = []byte("wallets") // scope(customer) + tag + ...: entries by currency, balances, entry keys

	// Subscriptions by customer, payments by customer and status, refunds
	// by payment: scopes of the lists bucket (layout 2; layout 1 had a
	// bucket for each, see upgrade.go). A payment's idempotency key is in
	// the wallets bucket (tagPaymentKey).

	bRefundKey     = []byte("refunds.key")     // unique: payment, key
	bRefundPending = []byte("refunds.pending") // list: (none), pending only

	// Undispatched events: the lists bucket's "ev.u" scope (layout 2).
	bEventDone = []byte("events.done") // timeKey(CreatedAt)+seq, dispatched only

	bAttemptDue          = []byte("attempts.due")          // timeKey(RunAt)+seq, active only
	bAttemptSubscription = []byte("attempts.subscription") // scope(sub)+number+seq
	bAttemptLease        = []byte("attempts.lease")        // scope(customer)+timeKey(LeaseUntil)+seq, claimed only
	bAttemptLeaseAll     = []byte("attempts.lease_all")    // timeKey(LeaseUntil)+seq, claimed only
	bDeliveryDue         = []byte("deliveries.due")        // timeKey(RunAt)+seq, active only
	bDeliveryEvent       = []byte("deliveries.event")      // list: event
	bDeliveryEndpoint    = []byte("deliveries.endpoint")   // list: endpoint
	bDeliveryStatus      = []byte("deliveries.status")     // list: status
	bDeliveryDone        = []byte("deliveries.done")       // timeKey(UpdatedAt)+seq, finished only
)

// Tags of the wallets bucket, after scope(customer).
const (
	tagEntries  byte = 1 // + scope(currency) + seq -> ""
	tagBalances byte = 2 // + currency -> balance
	tagEntryKey byte = 3 // + idempotency key -> seq
	// tagPaymentKey: + a payment's idempotency key -> its seq (layout 2;
	// layout 1 kept them in a bucket of their own, "payments.key").
	tagPaymentKey byte = 4
)

var allBuckets = [][]byte{
	kCustomers.primary, kCustomers.ids, bCustomerDID,
	bWallets,
	kEntries.primary, kEntries.ids,
	kHolds.primary, kHolds.ids,
	kProducts.primary, kProducts.ids,
	kSubs.primary, kSubs.ids,
	kPayments.primary, kPayments.ids,
	kRefunds.primary, kRefunds.ids, bRefundKey, bRefundPending,
	kEvents.primary, kEvents.ids, bEventDone,
	kAttempts.primary, kAttempts.ids, bAttemptDue, bAttemptSubscription, bAttemptLease, bAttemptLeaseAll,
	kEndpoints.primary, kEndpoints.ids,
	kDeliveries.primary, kDeliveries.ids, bDeliveryDue, bDeliveryEvent, bDeliveryEndpoint, bDeliveryStatus, bDeliveryDone,
	kAPIKeys.primary, kAPIKeys.ids, bAPIKeyHash,
	kIdem.primary, kIdem.ids, bIdemAge,
}
