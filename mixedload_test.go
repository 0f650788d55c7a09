package coffer

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/postgres"
	"github.com/cofferhq/coffer/subscription"
)

// The mixed load on one wallet: 64 goroutines each run a fixed number of
// operations mixing Charge (wallet first, the rest on the card), Refund
// (to the wallet or the card, of a random earlier payment) and CreateEntry
// (credits and debits) on one customer, one subscription and one wallet.
// Every use case locks that customer's rows, in its own order; on
// PostgreSQL that used to build lock-wait cycles between the wallet
// balance and the subscription rows (313 of 768 operations done after
// 150 s), which the adapter's per-customer lock (store/postgres
// customerlock.go) removed.
//
// Afterwards: every operation succeeded or failed with a typed error
// (HTTPStatus not 500), the ledger chains (each entry starts where the
// previous one ended, in order), the entries add up to the balance, no
// balance or entry is negative, nothing is held or pending, and every
// payment's refunded amount is what its refunds add up to. On PostgreSQL
// the whole run must finish within mixedLoadBound and re-run (deadlock or
// serialization retries) fewer than 1% of its transactions.
// COFFER_MIXED_OPS overrides the operations per goroutine on every store.

const (
	mixedGoroutines = 64
	// mixedOps is the operations per goroutine; PostgreSQL (about 2-3
	// transactions per operation, one wallet) runs mixedOpsPostgres.
	mixedOps         = 40
	mixedOpsPostgres = 12
	mixedLoadBound   = 60 * time.Second
)

// mixedTally counts the outcomes of one kind of operation.
type mixedTally struct {
	ok     int
	failed map[int]int // HTTP status class -> count
}

func TestMixedLoadOneWallet(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		pg, isPG := v.store.(*postgres.Store)
		ops := mixedOps
		if isPG {
			ops = mixedOpsPostgres
		}
		if n, err := strconv.Atoi(os.Getenv("COFFER_MIXED_OPS")); err == nil && n > 0 {
			ops = n // e.g. 40 on PostgreSQL too
		} else if testing.Short() {
			ops = min(ops, 8)
		}
		c, err := v.CreateCustomer(v.ctx, customer.Params{Name: new("Hot wallet")})
		require.NoError(t, err)
		prod, err := v.CreateProduct(v.ctx, ProductParams{Name: "Refill", Price: 100, Currency: "USD"})
		require.NoError(t, err)
		res, err := v.CreateSubscription(v.ctx, SubscriptionParams{ProductID: prod.ID, Quantity: 1, CustomerID: c.ID,
			PaymentMethod: processor.CardOK, OnDemand: &OnDemand{MandateOnly: new(true)}})
		require.NoError(t, err)
		sub := res.Subscription
		_, err = v.CreateEntry(v.ctx, c.ID, EntryParams{Amount: 10_000, Currency: "USD", Type: ledger.Credit,
			Reason: "opening deposit"})
		require.NoError(t, err)
		var before postgres.Stats
		if isPG {
			before = pg.Stats()
		}

		ctx, cancel := context.WithTimeout(v.ctx, mixedLoadBound)
		defer cancel()
		var (
			mu       sync.Mutex
			paid     []string // succeeded payments, for refunds to pick from
			tallies  = map[string]*mixedTally{}
			wg       sync.WaitGroup
			start    = time.Now()
			unexpect []error
		)
		record := func(kind string, err error) {
			mu.Lock()
			defer mu.Unlock()
			tl := tallies[kind]
			if tl == nil {
				tl = &mixedTally{failed: map[int]int{}}
				tallies[kind] = tl
			}
			if err == nil {
				tl.ok++
				return
			}
			status := HTTPStatus(err)
			tl.failed[status]++
			if status == http.StatusInternalServerError {
				unexpect = append(unexpect, fmt.Errorf("%s: %w", kind, err))
			}
		}
		for g := range mixedGoroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rnd := rand.New(rand.NewPCG(uint64(g), 0x6d6978))
				for i := range ops {
					key := fmt.Sprintf("g%d-%d", g, i)
					switch n := rnd.IntN(100); {
					case n < 35:
						p, err := v.Charge(ctx, sub.ID, ChargeParams{ProductPrice: new(int64(50 + rnd.Int64N(350))), IdempotencyKey: key})
						if err == nil && p.Status != subscription.PaymentSucceeded {
							err = fmt.Errorf("charge %s is %s (%s)", p.ID, p.Status, p.DeclineCode)
						}
						if err == nil {
							mu.Lock()
							paid = append(paid, p.ID)
							mu.Unlock()
						}
						record("charge", err)
					case n < 60:
						mu.Lock()
						var id string
						if len(paid) > 0 {
							id = paid[rnd.IntN(len(paid))]
						}
						mu.Unlock()
						if id == "" {
							continue
						}
						dest := subscription.ToPaymentMethod
						if rnd.IntN(2) == 0 {
							dest = subscription.ToWallet
						}
						_, err := v.Refund(ctx, id, RefundParams{Amount: rnd.Int64N(120), Destination: dest,
							Reason: "mixed load", IdempotencyKey: key})
						record("refund", err)
					default:
						req := EntryParams{Amount: 1 + rnd.Int64N(300), Currency: "USD", Type: ledger.Credit,
							Reason: "mixed load", IdempotencyKey: key}
						if rnd.IntN(5) < 2 {
							req.Type = ledger.Debit
						}
						_, err := v.CreateEntry(ctx, c.ID, req)
						record("entry", err)
					}
				}
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		total := 0
		for _, kind := range []string{"charge", "refund", "entry"} {
			if tl := tallies[kind]; tl != nil {
				total += tl.ok
				for _, n := range tl.failed {
					total += n
				}
				t.Logf("%-6s ok %4d, failed by status %v", kind, tl.ok, tl.failed)
			}
		}
		t.Logf("%d×%d mixed operations (%d ran; refunds before the first payment are skipped) in %s",
			mixedGoroutines, ops, total, elapsed.Round(time.Millisecond))
		if len(unexpect) > 0 {
			t.Logf("first untyped error of %d: %v", len(unexpect), unexpect[0])
		}
		var updates, retries int64
		if isPG {
			st := pg.Stats()
			updates = (st.Transactions - st.Views) - (before.Transactions - before.Views)
			retries = st.Retries - before.Retries
			t.Logf("postgres: %d transactions (%d updates), %d retries (%d deadlocks, %d serialization failures, %d conflicts), %d customer locks",
				st.Transactions-before.Transactions, updates, retries, st.Deadlocks-before.Deadlocks,
				st.SerializationFailures-before.SerializationFailures, st.Conflicts-before.Conflicts,
				st.CustomerLocks-before.CustomerLocks)
		}
		require.NoError(t, ctx.Err(), "the mixed load did not finish within %s", mixedLoadBound)
		require.Empty(t, unexpect, "operations failed with an untyped (500-class) error")
		if isPG {
			require.Less(t, float64(retries), 0.01*float64(updates), "retries are at most 1%% of the update transactions")
		}
		checkMixedLedger(t, v, c.ID)
	})
}

// checkMixedLedger checks the ledger invariants of one customer once
// nothing is in flight.
func checkMixedLedger(t *testing.T, v *env, customerID string) {
	t.Helper()
	ctx := v.ctx
	b, err := v.Balance(ctx, customerID, "USD")
	require.NoError(t, err)
	require.GreaterOrEqual(t, b.Amount, int64(0))
	require.Zero(t, b.Held, "nothing is held once every charge settled")

	var entries []ledger.Entry
	p := EntryListParams{ListParams: ListParams{Limit: 100}, CustomerID: customerID, Currency: "USD"}
	for {
		page, err := v.ListEntries(ctx, p)
		require.NoError(t, err)
		entries = append(entries, page.Data...)
		if !page.HasMore {
			break
		}
		p.StartingAfter = page.Data[len(page.Data)-1].ID
	}
	var sum, prev int64
	for i := len(entries) - 1; i >= 0; i-- { // oldest first
		e := entries[i]
		require.Equal(t, prev, e.BalanceBefore, "entry %s starts where the one before it ended", e.ID)
		delta := e.Amount
		if e.Type == ledger.Debit {
			delta = -delta
		}
		require.Equal(t, e.BalanceBefore+delta, e.BalanceAfter, "entry %s", e.ID)
		require.GreaterOrEqual(t, e.BalanceAfter, int64(0), "entry %s", e.ID)
		sum += delta
		prev = e.BalanceAfter
	}
	require.Equal(t, b.Amount, sum, "the entries add up to the balance")

	var payments []subscription.Payment
	pp := PaymentListParams{ListParams: ListParams{Limit: 100}, CustomerID: customerID}
	for {
		page, err := v.ListPayments(ctx, pp)
		require.NoError(t, err)
		payments = append(payments, page.Data...)
		if !page.HasMore {
			break
		}
		pp.StartingAfter = page.Data[len(page.Data)-1].ID
	}
	for _, pay := range payments {
		require.NotEqual(t, subscription.PaymentPending, pay.Status, "payment %s", pay.ID)
		require.Equal(t, pay.Amount, pay.WalletAmount+pay.ProcessorAmount, "payment %s", pay.ID)
		refunds, err := pageData(v.ListRefunds(ctx, RefundListParams{PaymentID: pay.ID, ListParams: ListParams{Limit: 100}}))
		require.NoError(t, err)
		var refunded int64
		for _, r := range refunds {
			require.Equal(t, subscription.RefundSucceeded, r.Status, "refund %s", r.ID)
			refunded += r.Amount
		}
		require.Equal(t, refunded, pay.RefundedAmount, "payment %s: its refunds add up to its refunded amount", pay.ID)
		require.LessOrEqual(t, pay.RefundedAmount, pay.Amount, "payment %s", pay.ID)
	}
	// Each idempotency key took effect once.
	keys := map[string]bool{}
	for _, e := range entries {
		if e.IdempotencyKey != "" {
			require.False(t, keys[e.IdempotencyKey], "key %s applied twice", e.IdempotencyKey)
			keys[e.IdempotencyKey] = true
		}
	}
	sort.Slice(payments, func(i, j int) bool { return payments[i].IdempotencyKey < payments[j].IdempotencyKey })
	for i := 1; i < len(payments); i++ {
		if payments[i].IdempotencyKey != "" {
			require.NotEqual(t, payments[i-1].IdempotencyKey, payments[i].IdempotencyKey)
		}
	}
}
