package postgres_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
	"github.com/cofferhq/coffer/webhook"
)

// PostgreSQL-specific tests: several Stores (separate pools, as separate
// application instances have) on one schema.

// twoStores opens two stores on one fresh schema.
func twoStores(t *testing.T) (*postgresStore, *postgresStore) {
	d := dsn(t)
	schema := newSchema(t, d)
	return openIn(t, d, schema), openIn(t, d, schema)
}

// post is the engine's posting path: replay an idempotency key, else lock
// the balance, post, insert the entry (a key that raced in is a replay) and
// store the balance.
func post(tx store.Tx, customerID string, req ledger.Request, id string) (ledger.Entry, bool, error) {
	if prev, err := tx.EntryByKey(customerID, req.IdempotencyKey); err == nil {
		return prev, true, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return ledger.Entry{}, false, err
	}
	b, err := tx.Balance(customerID, req.Currency)
	if err != nil {
		return ledger.Entry{}, false, err
	}
	e, after, err := ledger.Post(b, req, id, t0)
	if err != nil {
		return ledger.Entry{}, false, err
	}
	if err := tx.InsertEntry(e); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			prev, err := tx.EntryByKey(customerID, req.IdempotencyKey)
			return prev, true, err
		}
		return ledger.Entry{}, false, err
	}
	return e, false, tx.PutBalance(after)
}

// TestConcurrentDebitsTwoInstances: writers on two stores debit one wallet
// at once, reusing idempotency keys across instances. The wallet never goes
// negative, every key takes effect once, and the balance is exactly the
// sum of the entries.
func TestConcurrentDebitsTwoInstances(t *testing.T) {
	a, b := twoStores(t)
	const start, debit, keys, writers = 1000, 7, 200, 8
	addCustomer(t, a, "cus_hot", "USD", start)

	var applied, replayed, refused atomic.Int64
	var wg sync.WaitGroup
	for w := range writers {
		s := a
		if w%2 == 1 {
			s = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Every key is tried by every writer, in a different order.
			for i := range keys {
				k := (i*(w+1) + w) % keys
				req := ledger.Request{Amount: debit, Currency: "USD", Type: ledger.Debit,
					IdempotencyKey: fmt.Sprintf("key-%d", k)}
				var replay bool
				err := s.Update(ctx, func(tx store.Tx) error {
					var err error
					_, replay, err = post(tx, "cus_hot", req, fmt.Sprintf("le_%d_%d", w, k))
					return err
				})
				switch {
				case errors.Is(err, wallet.ErrInsufficientFunds):
					refused.Add(1)
				case err != nil:
					t.Error(err)
					return
				case replay:
					replayed.Add(1)
				default:
					applied.Add(1)
				}
			}
		}()
	}
	wg.Wait()

	want := int64(start / debit) // the debits that fit
	require.Equal(t, want, applied.Load(), "each fitting key applied exactly once")
	require.Equal(t, int64(writers*keys), applied.Load()+replayed.Load()+refused.Load())
	view(t, b, func(tx store.Tx) error {
		bal, err := tx.Balance("cus_hot", "USD")
		require.NoError(t, err)
		require.Equal(t, int64(start-want*debit), bal.Amount)
		require.GreaterOrEqual(t, bal.Amount, int64(0))
		entries, _, err := tx.ListEntries(store.EntryQuery{CustomerID: "cus_hot", Page: store.Page{Limit: store.MaxLimit}})
		require.NoError(t, err)
		var next []ledger.Entry
		for len(entries) > 0 {
			next = append(next, entries...)
			entries, _, err = tx.ListEntries(store.EntryQuery{CustomerID: "cus_hot",
				Page: store.Page{Limit: store.MaxLimit, StartingAfter: entries[len(entries)-1].ID}})
			require.NoError(t, err)
		}
		require.Len(t, next, int(want))
		seen := map[string]bool{}
		sum := int64(start)
		for i, e := range next {
			require.False(t, seen[e.IdempotencyKey], "key %s applied twice", e.IdempotencyKey)
			seen[e.IdempotencyKey] = true
			sum += e.Signed()
			if i > 0 {
				require.Equal(t, e.BalanceAfter, next[i-1].BalanceBefore, "entries chain")
			}
		}
		require.Equal(t, bal.Amount, sum)
		return nil
	})
}

// TestBalanceConstraints: the table refuses an overdraft and a hold above
// the balance, even from SQL that bypasses the adapter.
func TestBalanceConstraints(t *testing.T) {
	s := newStore(t)
	addCustomer(t, s, "cus_c", "USD", 100)
	for _, sql := range []string{
		`UPDATE wallet_balances SET amount = -1`,
		`UPDATE wallet_balances SET held = 101`,
		`UPDATE wallet_balances SET held = -1`,
		`INSERT INTO wallet_balances (customer_id, currency, amount, updated_at) VALUES ('nobody', 'USD', 0, now())`,
		`INSERT INTO ledger_entries (id, customer_id, currency, entry_type, amount, balance_before, balance_after, created_at)
			VALUES ('le_x', 'cus_c', 'USD', 'credit', 0, 0, 0, now())`,
	} {
		_, err := s.Pool().Exec(ctx, sql)
		require.Error(t, err, sql)
	}
	err := s.Update(ctx, func(tx store.Tx) error {
		return tx.PutBalance(wallet.Balance{CustomerID: "cus_c", Currency: "USD", Amount: -5, UpdatedAt: t0})
	})
	require.Error(t, err)
	// A balance for a customer that does not exist fails at commit (the
	// write was pipelined) and leaves nothing behind.
	err = s.Update(ctx, func(tx store.Tx) error {
		return tx.PutBalance(wallet.Balance{CustomerID: "nobody", Currency: "USD", UpdatedAt: t0})
	})
	require.Error(t, err)
	view(t, s, func(tx store.Tx) error {
		_, err := tx.Balance("nobody", "USD")
		require.ErrorIs(t, err, store.ErrNotFound)
		bal, err := tx.Balance("cus_c", "USD")
		require.NoError(t, err)
		require.Equal(t, int64(100), bal.Amount)
		return nil
	})
}

// TestDuplicateKeepsTransactionUsable: a duplicate insert is reported as
// store.ErrDuplicate and the same transaction goes on and commits.
func TestDuplicateKeepsTransactionUsable(t *testing.T) {
	s := newStore(t)
	addCustomer(t, s, "cus_d", "USD", 0)
	e := ledger.Entry{ID: "le_1", CustomerID: "cus_d", Currency: "USD", Type: ledger.Credit, Amount: 5,
		BalanceAfter: 5, IdempotencyKey: "k1", CreatedAt: t0}
	update(t, s, func(tx store.Tx) error { return tx.InsertEntry(e) })
	update(t, s, func(tx store.Tx) error {
		dupID := e
		dupID.IdempotencyKey = "other"
		require.ErrorIs(t, tx.InsertEntry(dupID), store.ErrDuplicate)
		dupKey := e
		dupKey.ID = "le_2"
		require.ErrorIs(t, tx.InsertEntry(dupKey), store.ErrDuplicate)
		dupKey.ID, dupKey.IdempotencyKey = "le_3", "k3"
		return tx.InsertEntry(dupKey)
	})
	view(t, s, func(tx store.Tx) error {
		_, err := tx.Entry("le_3")
		require.NoError(t, err)
		_, err = tx.Entry("le_2")
		require.ErrorIs(t, err, store.ErrNotFound)
		return nil
	})
}

// TestConcurrentOpenMigrates: instances starting at once on an empty schema
// all succeed and the migrations run once.
func TestConcurrentOpenMigrates(t *testing.T) {
	d := dsn(t)
	schema := newSchema(t, d)
	const n = 4
	stores := make([]*postgresStore, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = openStore(d, schema)
		}()
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		t.Cleanup(func() { _ = stores[i].Close() })
	}
	var versions []int
	rows, err := stores[0].Pool().Query(ctx, "SELECT version FROM schema_migrations ORDER BY version")
	require.NoError(t, err)
	versions, err = pgx.CollectRows(rows, pgx.RowTo[int])
	require.NoError(t, err)
	require.Len(t, versions, latestVersion())
	addCustomer(t, stores[n-1], "cus_m", "USD", 1)
}

// TestNewerSchemaRefused: a build never runs against a schema migrated by a
// newer one.
func TestNewerSchemaRefused(t *testing.T) {
	d := dsn(t)
	schema := newSchema(t, d)
	s := openIn(t, d, schema)
	_, err := s.Pool().Exec(ctx, "INSERT INTO schema_migrations VALUES ($1, 'future', now())", latestVersion()+1)
	require.NoError(t, err)
	_, err = openStore(d, schema)
	require.ErrorContains(t, err, "newer than this build")
}

// TestDeadlockRetried: two transactions lock two customers' balances in
// opposite orders (each holds its first before asking for its second).
// PostgreSQL aborts one with a deadlock (on the customers' advisory locks,
// which the reads take first); Update runs it again, and both commit once
// without an error reaching the caller.
//
// How many times the functions run depends on scheduling (a loaded
// machine can make the re-run collide again, or PostgreSQL can pick both
// as victims in turn), so the test asserts the property, not a count: at
// least one transaction ran again, each committed exactly once (each
// balance moved by exactly 2), and the store counted the retries.
func TestDeadlockRetried(t *testing.T) {
	a, b := twoStores(t)
	addCustomer(t, a, "cus_x", "USD", 0)
	addCustomer(t, a, "cus_y", "USD", 0)

	var ready sync.WaitGroup
	ready.Add(2)
	var runs [2]atomic.Int64
	bump := func(i int, s store.Store, first, second string) error {
		return s.Update(ctx, func(tx store.Tx) error {
			n := runs[i].Add(1)
			b1, err := tx.Balance(first, "USD")
			if err != nil {
				return err
			}
			if n == 1 {
				// Both hold their first lock before either asks for its
				// second: a certain deadlock.
				ready.Done()
				ready.Wait()
			}
			b2, err := tx.Balance(second, "USD")
			if err != nil {
				return err
			}
			b1.Amount++
			b2.Amount++
			if err := tx.PutBalance(b1); err != nil {
				return err
			}
			return tx.PutBalance(b2)
		})
	}
	errs := make(chan error, 2)
	go func() { errs <- bump(0, a, "cus_x", "cus_y") }()
	go func() { errs <- bump(1, b, "cus_y", "cus_x") }()
	require.NoError(t, <-errs)
	require.NoError(t, <-errs)
	x, y := runs[0].Load(), runs[1].Load()
	require.Greater(t, x+y, int64(2), "neither transaction ran again: no deadlock was retried")
	sa, sb := a.Stats(), b.Stats()
	require.Equal(t, x+y-2, sa.Retries+sb.Retries, "every re-run is counted")
	require.Positive(t, sa.Deadlocks+sb.Deadlocks, "the re-runs were caused by a deadlock")
	require.Zero(t, sa.GaveUp+sb.GaveUp)
	view(t, a, func(tx store.Tx) error {
		for _, id := range []string{"cus_x", "cus_y"} {
			bal, err := tx.Balance(id, "USD")
			require.NoError(t, err)
			require.Equal(t, int64(2), bal.Amount, "%s: each transaction committed exactly once", id)
		}
		return nil
	})
	t.Logf("runs %d + %d; store a %+v; store b %+v", x, y, sa, sb)
}

// TestRaceOnMissingRecord: two transactions both read a record as missing
// and create it. Without care the second upsert would overwrite the first;
// instead it is retried, sees the first, and both changes count. (Products
// take no customer lock, so the two reads can both find the record
// missing.)
func TestRaceOnMissingRecord(t *testing.T) {
	a, b := twoStores(t)
	var ready sync.WaitGroup
	ready.Add(2)
	var runs atomic.Int64
	bump := func(s store.Store) error {
		var attempt atomic.Int64
		return s.Update(ctx, func(tx store.Tx) error {
			runs.Add(1)
			p, err := tx.Product("prod_n")
			if errors.Is(err, store.ErrNotFound) {
				p = subscription.Product{ID: "prod_n", Name: "n", Currency: "USD", CreatedAt: t0}
			} else if err != nil {
				return err
			}
			if attempt.Add(1) == 1 {
				ready.Done()
				ready.Wait()
			}
			p.Price += 100
			return tx.PutProduct(p)
		})
	}
	errs := make(chan error, 2)
	go func() { errs <- bump(a) }()
	go func() { errs <- bump(b) }()
	require.NoError(t, <-errs)
	require.NoError(t, <-errs)
	require.GreaterOrEqual(t, runs.Load(), int64(3), "the losing insert ran again")
	require.Positive(t, a.Stats().Conflicts+b.Stats().Conflicts)
	view(t, a, func(tx store.Tx) error {
		p, err := tx.Product("prod_n")
		require.NoError(t, err)
		require.Equal(t, int64(200), p.Price)
		return nil
	})
}

// TestMissingBalanceSerialized: two transactions create one customer's
// missing balance at once. The first read takes the customer's lock, so
// the second waits for the first to commit and then sees its balance: both
// credits count, and nothing had to run again.
func TestMissingBalanceSerialized(t *testing.T) {
	a, b := twoStores(t)
	addCustomer(t, a, "cus_n", "USD", 0)
	credit := func(s store.Store, read chan<- struct{}) error {
		return s.Update(ctx, func(tx store.Tx) error {
			bal, err := tx.Balance("cus_n", "EUR")
			if errors.Is(err, store.ErrNotFound) {
				bal = wallet.Balance{CustomerID: "cus_n", Currency: "EUR", UpdatedAt: t0}
			} else if err != nil {
				return err
			}
			if read != nil {
				close(read)
				read = nil
				time.Sleep(100 * time.Millisecond) // the other transaction reads meanwhile
			}
			bal.Amount += 100
			return tx.PutBalance(bal)
		})
	}
	read := make(chan struct{})
	errs := make(chan error, 2)
	go func() { errs <- credit(a, read) }()
	<-read
	go func() { errs <- credit(b, nil) }()
	require.NoError(t, <-errs)
	require.NoError(t, <-errs)
	require.Zero(t, a.Stats().Retries+b.Stats().Retries)
	view(t, a, func(tx store.Tx) error {
		bal, err := tx.Balance("cus_n", "EUR")
		require.NoError(t, err)
		require.Equal(t, int64(200), bal.Amount)
		return nil
	})
}

// TestClaimDueAttemptsAcrossInstances: schedulers on two instances claim
// due attempts at the same time; every attempt is claimed exactly once.
func TestClaimDueAttemptsAcrossInstances(t *testing.T) {
	a, b := twoStores(t)
	const total = 60
	update(t, a, func(tx store.Tx) error {
		for i := range total {
			err := tx.PutAttempt(retry.Attempt{ID: fmt.Sprintf("att_%02d", i), SubscriptionID: "sub",
				CustomerID: fmt.Sprintf("cus_%d", i%7), Number: 2, Amount: 1, Currency: "USD",
				DueAt: t0, RunAt: t0.Add(time.Duration(i) * time.Second), Status: retry.AttemptScheduled,
				CreatedAt: t0, UpdatedAt: t0})
			if err != nil {
				return err
			}
		}
		return nil
	})
	now := t0.Add(time.Hour)
	var mu sync.Mutex
	claims := map[string]string{}
	var overlap atomic.Int64
	run := func(s store.Store, owner string) {
		for {
			var got []retry.Attempt
			err := s.Update(ctx, func(tx store.Tx) (err error) {
				got, _, err = tx.ClaimDueAttempts(now, store.AttemptClaim{Limit: 5, Owner: owner, LeaseUntil: now.Add(time.Hour)})
				if err != nil {
					return err
				}
				// Hold the locks a moment so the other scheduler runs into them.
				time.Sleep(2 * time.Millisecond)
				return nil
			})
			if err != nil {
				t.Error(err)
				return
			}
			if len(got) == 0 {
				return
			}
			mu.Lock()
			for _, at := range got {
				if prev, ok := claims[at.ID]; ok {
					t.Errorf("%s claimed by %s and %s", at.ID, prev, owner)
					overlap.Add(1)
				}
				claims[at.ID] = owner
			}
			mu.Unlock()
		}
	}
	var wg sync.WaitGroup
	for i, s := range []store.Store{a, b, a, b} {
		wg.Add(1)
		go func() { defer wg.Done(); run(s, fmt.Sprintf("runner-%d", i)) }()
	}
	wg.Wait()
	require.Zero(t, overlap.Load())
	require.Len(t, claims, total)
	update(t, a, func(tx store.Tx) error {
		due, _, err := tx.ClaimDueAttempts(now, store.AttemptClaim{Owner: "late", LeaseUntil: now.Add(time.Hour)})
		require.NoError(t, err)
		require.Empty(t, due)
		return nil
	})
}

// TestClaimDueDeliveriesAndEventsAcrossInstances: two dispatchers never
// take the same delivery or the same undispatched event.
func TestClaimDueDeliveriesAndEventsAcrossInstances(t *testing.T) {
	a, b := twoStores(t)
	const total = 40
	update(t, a, func(tx store.Tx) error {
		for i := range total {
			id := fmt.Sprintf("evt_%02d", i)
			if err := tx.InsertEvent(webhook.Event{ID: id, Type: "t", CreatedAt: t0}); err != nil {
				return err
			}
			err := tx.PutDelivery(webhook.Delivery{ID: fmt.Sprintf("dlv_%02d", i), EventID: id,
				EndpointID: "we", Status: webhook.DeliveryPending, RunAt: t0, CreatedAt: t0, UpdatedAt: t0})
			if err != nil {
				return err
			}
		}
		return nil
	})
	var mu sync.Mutex
	seen := map[string]int{}
	run := func(s store.Store) {
		for {
			n := 0
			var ids []string
			err := s.Update(ctx, func(tx store.Tx) error {
				ids = ids[:0]
				events, err := tx.UndispatchedEvents(3)
				if err != nil {
					return err
				}
				for _, e := range events {
					ids = append(ids, e.ID)
					if err := tx.MarkEventDispatched(e.ID); err != nil {
						return err
					}
				}
				due, err := tx.ClaimDueDeliveries(t0, store.DeliveryClaim{Limit: 3, Owner: "d", LeaseUntil: t0.Add(time.Hour)})
				if err != nil {
					return err
				}
				for _, d := range due {
					ids = append(ids, d.ID)
					d.Status = webhook.DeliverySucceeded
					if err := tx.PutDelivery(d); err != nil {
						return err
					}
				}
				n = len(ids)
				time.Sleep(2 * time.Millisecond)
				return nil
			})
			if err != nil {
				t.Error(err)
				return
			}
			if n == 0 {
				return
			}
			mu.Lock()
			for _, id := range ids {
				seen[id]++
			}
			mu.Unlock()
		}
	}
	var wg sync.WaitGroup
	for _, s := range []store.Store{a, b, a, b} {
		wg.Add(1)
		go func() { defer wg.Done(); run(s) }()
	}
	wg.Wait()
	require.Len(t, seen, 2*total)
	for id, n := range seen {
		require.Equal(t, 1, n, id)
	}
}

// TestClaimDueAttemptsCapsAcrossInstances: claimers on two instances
// claim under a per-customer and an account cap at the same time; the
// caps hold across them (SKIP LOCKED alone would let each claim a
// different attempt and together exceed a cap: the claim's advisory lock
// serializes them).
func TestClaimDueAttemptsCapsAcrossInstances(t *testing.T) {
	a, b := twoStores(t)
	const perCustomer, all, attempts = 1, 3, 24
	update(t, a, func(tx store.Tx) error {
		for i := range attempts {
			err := tx.PutAttempt(retry.Attempt{ID: fmt.Sprintf("att_%02d", i), SubscriptionID: "sub",
				CustomerID: fmt.Sprintf("cus_%d", i%4), Number: 2, Amount: 1, Currency: "USD", DueAt: t0,
				RunAt: t0, Status: retry.AttemptScheduled, CreatedAt: t0, UpdatedAt: t0})
			if err != nil {
				return err
			}
		}
		return nil
	})
	now := t0.Add(time.Minute)
	var wg sync.WaitGroup
	for i := range 8 {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 6 {
				err := s.Update(ctx, func(tx store.Tx) error {
					_, _, err := tx.ClaimDueAttempts(now, store.AttemptClaim{Limit: 4, PerCustomer: perCustomer,
						PerAccount: all, Owner: fmt.Sprint("me-", i), LeaseUntil: now.Add(time.Hour)})
					return err
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	view(t, a, func(tx store.Tx) error {
		total := 0
		byCustomer := map[string]int{}
		for i := range attempts {
			at, err := tx.Attempt(fmt.Sprintf("att_%02d", i))
			require.NoError(t, err)
			if at.Status == retry.AttemptClaimed && at.LeaseUntil.After(now) {
				total++
				byCustomer[at.CustomerID]++
			}
		}
		require.Equal(t, all, total)
		for c, n := range byCustomer {
			require.LessOrEqual(t, n, perCustomer, c)
		}
		return nil
	})
}

// TestViewAndClose: writes in View are refused before reaching the server;
// a closed store refuses transactions.
func TestViewAndClose(t *testing.T) {
	s := newStore(t)
	err := s.View(ctx, func(tx store.Tx) error {
		require.ErrorIs(t, tx.PutBalance(wallet.Balance{CustomerID: "c", Currency: "USD"}), store.ErrReadOnly)
		require.ErrorIs(t, tx.InsertEntry(ledger.Entry{ID: "x"}), store.ErrReadOnly)
		require.ErrorIs(t, tx.MarkEventDispatched("x"), store.ErrReadOnly)
		_, err := tx.Customer("nobody")
		require.ErrorIs(t, err, store.ErrNotFound)
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	require.ErrorIs(t, s.Update(ctx, func(store.Tx) error { return nil }), store.ErrClosed)
	require.ErrorIs(t, s.View(ctx, func(store.Tx) error { return nil }), store.ErrClosed)
}

// TestRollback: an error from fn leaves nothing behind, pipelined writes
// included.
func TestRollback(t *testing.T) {
	s := newStore(t)
	addCustomer(t, s, "cus_r", "USD", 10)
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx store.Tx) error {
		b, err := tx.Balance("cus_r", "USD")
		require.NoError(t, err)
		b.Amount = 99
		require.NoError(t, tx.PutBalance(b))
		require.NoError(t, tx.InsertEvent(webhook.Event{ID: "evt_r", Type: "t", CreatedAt: t0}))
		return boom
	})
	require.ErrorIs(t, err, boom)
	view(t, s, func(tx store.Tx) error {
		b, err := tx.Balance("cus_r", "USD")
		require.NoError(t, err)
		require.Equal(t, int64(10), b.Amount)
		_, err = tx.Event("evt_r")
		require.ErrorIs(t, err, store.ErrNotFound)
		return nil
	})
}
