// Package storetest is the conformance suite every store.Store adapter runs:
// one set of tests, so a billing rule written once behaves the same on every
// store.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			s := memory.New()
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// Run calls one suite per aggregate (RunCustomers, RunLedger, RunBilling,
// RunOutbox, RunRetries, RunWebhooks, RunKeys, RunIdempotency) and
// RunTransactions; an adapter in
// progress may run them one at a time. Durable adapters also run RunReopen, which checks that everything written
// survives Close and reopening.
//
// The suite compares records with ==, so adapters must return what was
// stored: times in UTC with at least microsecond precision, zero times as
// the zero time.Time, nil maps and slices as nil, and the fields the JSON
// encoding omits (Fingerprint, Event.Seq, Event.Dispatched) intact.
// Event.Data is compared as JSON, so an adapter may reformat it. The suite
// closes some stores itself, so the cleanup newStore registers may call
// Close a second time; that must be harmless.
package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/store"
)

// Run runs the whole conformance suite: every aggregate's suite, then the
// cross-cutting ones (RunTransactions). newStore returns a fresh, empty
// store for each subtest and registers its cleanup with t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("Customers", func(t *testing.T) { RunCustomers(t, newStore) })
	t.Run("Ledger", func(t *testing.T) { RunLedger(t, newStore) })
	t.Run("Billing", func(t *testing.T) { RunBilling(t, newStore) })
	t.Run("Outbox", func(t *testing.T) { RunOutbox(t, newStore) })
	t.Run("Retries", func(t *testing.T) { RunRetries(t, newStore) })
	t.Run("Webhooks", func(t *testing.T) { RunWebhooks(t, newStore) })
	t.Run("Keys", func(t *testing.T) { RunKeys(t, newStore) })
	t.Run("Idempotency", func(t *testing.T) { RunIdempotency(t, newStore) })
	t.Run("CreditGrants", func(t *testing.T) { RunCreditGrants(t, newStore) })
	t.Run("Units", func(t *testing.T) { RunUnits(t, newStore) })
	t.Run("Invoices", func(t *testing.T) { RunInvoices(t, newStore) })
	t.Run("TopUps", func(t *testing.T) { RunTopUps(t, newStore) })
	t.Run("Transactions", func(t *testing.T) { RunTransactions(t, newStore) })
}

// RunCustomers tests store.Customers.
func RunCustomers(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("Customers", func(t *testing.T) { testCustomers(t, newStore) })
}

// RunLedger tests store.Ledger: balances, entries and holds.
func RunLedger(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("Balances", func(t *testing.T) { testBalances(t, newStore) })
	t.Run("Entries", func(t *testing.T) { testEntries(t, newStore) })
	t.Run("Holds", func(t *testing.T) { testHolds(t, newStore) })
}

// RunBilling tests store.Billing: products, subscriptions, payments and
// refunds.
func RunBilling(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("Products", func(t *testing.T) { testProducts(t, newStore) })
	t.Run("Subscriptions", func(t *testing.T) { testSubscriptions(t, newStore) })
	t.Run("Payments", func(t *testing.T) { testPayments(t, newStore) })
	t.Run("Refunds", func(t *testing.T) { testRefunds(t, newStore) })
}

// RunOutbox tests store.Outbox, retention included.
func RunOutbox(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("Events", func(t *testing.T) { testEvents(t, newStore) })
	t.Run("PruneEvents", func(t *testing.T) { testPruneEvents(t, newStore) })
}

// RunRetries tests store.Retries, the claim's guarantees included.
func RunRetries(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("Attempts", func(t *testing.T) { testAttempts(t, newStore) })
	t.Run("DueNotices", func(t *testing.T) { testDueNotices(t, newStore) })
	t.Run("ClaimDueAttempts", func(t *testing.T) { testClaimAttempts(t, newStore) })
}

// RunWebhooks tests store.Webhooks: endpoints, deliveries, their claim and
// their retention.
func RunWebhooks(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("Endpoints", func(t *testing.T) { testEndpoints(t, newStore) })
	t.Run("Deliveries", func(t *testing.T) { testDeliveries(t, newStore) })
	t.Run("ClaimDueDeliveries", func(t *testing.T) { testClaimDeliveries(t, newStore) })
	t.Run("PruneDeliveries", func(t *testing.T) { testPruneDeliveries(t, newStore) })
}

// RunTransactions tests what holds across aggregates: not-found errors,
// pagination, value semantics, transactions (commit, rollback, read-only,
// panics) and concurrent writers.
func RunTransactions(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, newStore) })
	t.Run("Pagination", func(t *testing.T) { testPagination(t, newStore) })
	t.Run("Lists", func(t *testing.T) { testLists(t, newStore) })
	t.Run("Values", func(t *testing.T) { testValues(t, newStore) })
	t.Run("Transactions", func(t *testing.T) { testTransactions(t, newStore) })
	t.Run("Concurrency", func(t *testing.T) { testConcurrency(t, newStore) })
}

// RunReopen checks durability: everything a committed transaction wrote,
// and nothing a rolled-back one wrote, is there after Close and reopening
// the same path, with every index working. open opens (creating if needed)
// the store at path and registers its cleanup with t.Cleanup.
func RunReopen(t *testing.T, open func(t *testing.T, path string) store.Store) {
	t.Run("Reopen", func(t *testing.T) { testReopen(t, open) })
}

var (
	ctx = context.Background()
	// t0 is the suite's "now". Times are whole microseconds in UTC so any
	// adapter can store them exactly.
	t0 = time.Date(2025, 3, 14, 13, 10, 0, 123456000, time.UTC)
)

// newID returns a random id, so ids sort in no particular order and an
// adapter that orders by id instead of by insertion fails.
func newID(prefix string) string {
	return prefix + "_" + strings.ReplaceAll(uuid.NewString(), "-", "")
}

func update(t testing.TB, s store.Store, fn func(tx store.Tx)) {
	t.Helper()
	require.NoError(t, s.Update(ctx, func(tx store.Tx) error { fn(tx); return nil }))
}

func view(t testing.TB, s store.Store, fn func(tx store.Tx)) {
	t.Helper()
	require.NoError(t, s.View(ctx, func(tx store.Tx) error { fn(tx); return nil }))
}

// newStoreFunc is the signature of Run's argument.
type newStoreFunc = func(t *testing.T) store.Store

func minutes(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }
