package coffer

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/memory"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
)

// grantCredit is a credit with terms.
func grantCredit(amount int64, kind ledger.CreditKind, priority int, expires time.Time, key string) EntryParams {
	p := credit(amount, "USD", key)
	p.CreditKind, p.Priority, p.ExpiresAt = kind, priority, expires
	return p
}

// allEntries lists every entry of a wallet, oldest first.
func (v *env) allEntries(customerID, currency string) []ledger.Entry {
	v.t.Helper()
	var out []ledger.Entry
	require.NoError(v.t, v.store.View(v.ctx, func(tx store.Tx) error {
		q := store.EntryQuery{CustomerID: customerID, Currency: currency, Page: store.Page{Limit: store.MaxLimit}}
		for {
			list, more, err := tx.ListEntries(q)
			if err != nil {
				return err
			}
			out = append(out, list...)
			if !more || len(list) == 0 {
				return nil
			}
			q.StartingAfter = list[len(list)-1].ID
		}
	}))
	slices.Reverse(out)
	return out
}

// checkGrants recomputes every grant of a wallet from the ledger (the
// credit entries and the allocations of the debit entries) and compares it
// with what the store keeps, and the balance with the grants.
func (v *env) checkGrants(customerID, currency string) {
	v.t.Helper()
	v.checkLedger(customerID)
	entries := v.allEntries(customerID, currency)
	require.NoError(v.t, v.store.View(v.ctx, func(tx store.Tx) error {
		cg := tx.(store.CreditGrants)
		grants, err := cg.ListGrants(customerID, currency)
		if err != nil {
			return err
		}
		byEntry := map[string]int64{}
		consumed := map[string]int64{}
		expired := map[string]int64{}
		credits := map[string]ledger.Entry{}
		for _, e := range entries {
			if e.Type == ledger.Credit {
				credits[e.ID] = e
				continue
			}
			allocs, err := cg.Allocations(e.ID)
			if err != nil {
				return err
			}
			var sum int64
			for _, a := range allocs {
				sum += a.Amount
				if a.GrantID == "" {
					continue
				}
				consumed[a.GrantID] += a.Amount
				if e.Reference.Type == ledger.RefExpiry {
					expired[a.GrantID] += a.Amount
				}
			}
			if len(allocs) > 0 {
				require.Equal(v.t, e.Amount, sum, "allocations of %s cover it", e.ID)
			}
		}
		var remaining, held int64
		for _, g := range grants {
			require.NoError(v.t, g.Check())
			ce, ok := credits[g.EntryID]
			require.True(v.t, ok, "grant %s has its credit entry", g.ID)
			byEntry[g.EntryID] += g.Amount
			require.LessOrEqual(v.t, byEntry[g.EntryID], ce.Amount)
			require.Equal(v.t, g.Amount-consumed[g.ID], g.Remaining, "grant %s remaining = amount - allocations", g.ID)
			require.Equal(v.t, expired[g.ID], g.Expired, "grant %s expired", g.ID)
			remaining += g.Remaining
			held += g.Held
		}
		b, err := tx.Balance(customerID, currency)
		if err != nil {
			return err
		}
		open, err := cg.OpenGrants(customerID, currency)
		if err != nil {
			return err
		}
		var openRemaining int64
		for _, g := range open {
			openRemaining += g.Remaining
		}
		require.Equal(v.t, remaining, openRemaining, "open grants are those with a remainder")
		u, uh := ledger.Untracked(b, open)
		require.GreaterOrEqual(v.t, u, int64(0))
		require.GreaterOrEqual(v.t, uh, int64(0))
		require.LessOrEqual(v.t, uh, u)
		require.LessOrEqual(v.t, held, b.Held)
		return nil
	}))
}

func (v *env) expire() int {
	v.t.Helper()
	n, err := v.ExpireCredits(v.ctx)
	require.NoError(v.t, err)
	return n
}

func TestCreditExpiryBoundary(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		c := v.customer()
		exp := t0.Add(30 * 24 * time.Hour)
		res, err := v.CreateEntry(v.ctx, c.ID, grantCredit(10_00, ledger.KindGranted, 0, exp, "bonus"))
		require.NoError(t, err)
		_, err = v.CreateEntry(v.ctx, c.ID, credit(5_00, "USD", "paid"))
		require.NoError(t, err)
		// The expiring grant goes first: 3_00 of it is consumed.
		_, err = v.CreateEntry(v.ctx, c.ID, debit(3_00, "USD", "d1"))
		require.NoError(t, err)
		v.checkGrants(c.ID, "USD")

		sum, err := v.ExpiringCredits(v.ctx, c.ID, "USD", 31*24*time.Hour)
		require.NoError(t, err)
		require.Equal(t, int64(7_00), sum.Expiring)
		require.Equal(t, int64(7_00), sum.Granted)
		require.Equal(t, int64(5_00), sum.Paid)
		require.Equal(t, sum.Balance.Amount, sum.Paid+sum.Granted)
		sum, err = v.ExpiringCredits(v.ctx, c.ID, "USD", 29*24*time.Hour)
		require.NoError(t, err)
		require.Zero(t, sum.Expiring)

		v.clock.Set(exp.Add(-time.Second))
		require.Zero(t, v.expire(), "one second before: nothing")
		require.Equal(t, int64(12_00), v.odBalance(c.ID, "USD").Amount)

		n := len(v.events())
		v.clock.Set(exp.Add(time.Second))
		require.Equal(t, 1, v.expire())
		require.Zero(t, v.expire(), "a grant expires once")
		b := v.odBalance(c.ID, "USD")
		require.Equal(t, int64(5_00), b.Amount)

		entries := v.allEntries(c.ID, "USD")
		last := entries[len(entries)-1]
		require.Equal(t, ledger.Debit, last.Type)
		require.Equal(t, int64(7_00), last.Amount)
		require.Equal(t, ledger.ExpiredReason, last.Reason)
		require.Equal(t, ledger.Reference{Type: ledger.RefExpiry, ID: res.Entry.ID}, last.Reference)

		evs := v.events()[n:]
		require.Equal(t, []string{EventBalanceChanged, EventCreditExpired}, whTypes(evs))
		var d CreditExpired
		decodeStrict(t, evs[1].Data, &d)
		require.Equal(t, last.ID, d.Entry.ID)
		require.Equal(t, res.Entry.ID, d.Grant.ID)
		require.Equal(t, int64(7_00), d.Grant.Expired)
		require.Zero(t, d.Grant.Remaining)
		require.Equal(t, int64(5_00), d.Balance.Amount)
		v.checkGrants(c.ID, "USD")
	})
}

func TestCreditTermsValidation(t *testing.T) {
	v := newEnv(t, storeKinds["memory"])
	c := v.customer()
	for name, p := range map[string]EntryParams{
		"past expiry":   grantCredit(1_00, ledger.KindGranted, 0, t0.Add(-time.Second), ""),
		"now expiry":    grantCredit(1_00, ledger.KindGranted, 0, t0, ""),
		"unknown kind":  grantCredit(1_00, "free", 0, time.Time{}, ""),
		"priority high": grantCredit(1_00, ledger.KindPaid, ledger.MaxPriority+1, time.Time{}, ""),
		"priority low":  grantCredit(1_00, ledger.KindPaid, ledger.MinPriority-1, time.Time{}, ""),
		"terms on a debit": func() EntryParams {
			p := debit(1_00, "USD", "")
			p.CreditKind = ledger.KindGranted
			return p
		}(),
	} {
		_, err := v.CreateEntry(v.ctx, c.ID, p)
		require.ErrorIs(t, err, ledger.ErrInvalidCredit, name)
		require.ErrorIs(t, err, ledger.ErrInvalid, name)
	}
	require.Empty(t, v.allEntries(c.ID, "USD"), "nothing changed")
	_, err := v.CreateEntry(v.ctx, c.ID, EntryParams{Amount: 1_00, Currency: "USD", Type: ledger.Credit, IdempotencyKey: "expire:x"})
	require.ErrorIs(t, err, ledger.ErrInvalidKey, "expire: is reserved")

	// Idempotency covers the terms: same key, other expiry is a conflict;
	// the same request replays, even once the expiry has passed.
	exp := t0.Add(time.Hour)
	first, err := v.CreateEntry(v.ctx, c.ID, grantCredit(1_00, ledger.KindGranted, 0, exp, "k"))
	require.NoError(t, err)
	_, err = v.CreateEntry(v.ctx, c.ID, grantCredit(1_00, ledger.KindGranted, 0, exp.Add(time.Second), "k"))
	require.ErrorIs(t, err, ledger.ErrIdempotencyConflict)
	_, err = v.CreateEntry(v.ctx, c.ID, grantCredit(1_00, ledger.KindGranted, 1, exp, "k"))
	require.ErrorIs(t, err, ledger.ErrIdempotencyConflict)
	_, err = v.CreateEntry(v.ctx, c.ID, credit(1_00, "USD", "k"))
	require.ErrorIs(t, err, ledger.ErrIdempotencyConflict)
	v.clock.Set(exp.Add(time.Hour))
	again, err := v.CreateEntry(v.ctx, c.ID, grantCredit(1_00, ledger.KindGranted, 0, exp, "k"))
	require.NoError(t, err)
	require.True(t, again.Replayed)
	require.Equal(t, first.Entry.ID, again.Entry.ID)
	// Plain terms are a plain credit: the same fingerprint as no terms.
	p := credit(2_00, "USD", "plain")
	p.CreditKind = ledger.KindPaid
	_, err = v.CreateEntry(v.ctx, c.ID, p)
	require.NoError(t, err)
	again, err = v.CreateEntry(v.ctx, c.ID, credit(2_00, "USD", "plain"))
	require.NoError(t, err)
	require.True(t, again.Replayed)
}

// TestCreditPartialExpiry: a grant partly consumed expires its remainder
// only, and the debits after the expiry take from what is left.
func TestCreditPartialExpiry(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		c := v.customer()
		exp := t0.Add(time.Hour)
		_, err := v.CreateEntry(v.ctx, c.ID, grantCredit(10_00, ledger.KindGranted, 0, exp, "g"))
		require.NoError(t, err)
		_, err = v.CreateEntry(v.ctx, c.ID, grantCredit(4_00, ledger.KindPaid, 0, time.Time{}.Add(0), "p"))
		require.NoError(t, err)
		_, err = v.CreateEntry(v.ctx, c.ID, debit(6_00, "USD", "d"))
		require.NoError(t, err)
		v.clock.Set(exp)
		require.Equal(t, 1, v.expire())
		entries := v.allEntries(c.ID, "USD")
		require.Equal(t, int64(4_00), entries[len(entries)-1].Amount)
		require.Equal(t, int64(4_00), v.odBalance(c.ID, "USD").Amount)
		_, err = v.CreateEntry(v.ctx, c.ID, debit(4_01, "USD", "too much"))
		require.ErrorIs(t, err, wallet.ErrInsufficientFunds)
		v.checkGrants(c.ID, "USD")
	})
}

// TestCreditConcurrentExpiry: workers racing over the same due grants
// expire each grant once.
func TestCreditConcurrentExpiry(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		const customers, grants = 3, 8
		var ids []string
		for i := range customers {
			c := v.customer()
			ids = append(ids, c.ID)
			for j := range grants {
				_, err := v.CreateEntry(v.ctx, c.ID, grantCredit(int64(1_00+j), ledger.KindGranted, j%3,
					t0.Add(time.Duration(1+j)*time.Minute), fmt.Sprintf("g%d-%d", i, j)))
				require.NoError(t, err)
			}
			_, err := v.CreateEntry(v.ctx, c.ID, debit(1_50, "USD", "d"))
			require.NoError(t, err)
		}
		v.clock.Set(t0.Add(time.Hour))
		var wg sync.WaitGroup
		var mu sync.Mutex
		total := 0
		for range 4 {
			wg.Go(func() {
				n, err := v.ExpireCredits(v.ctx)
				require.NoError(t, err)
				mu.Lock()
				total += n
				mu.Unlock()
			})
		}
		wg.Wait()
		// The debit consumed the first grant (priority 0, earliest expiry)
		// whole: the other grants of each customer expire.
		require.Equal(t, customers*(grants-1), total, "each grant expired by exactly one worker")
		require.Equal(t, customers*(grants-1), v.eventTypes()[EventCreditExpired])
		for _, id := range ids {
			perGrant := map[string]int{}
			for _, e := range v.allEntries(id, "USD") {
				if e.Reference.Type == ledger.RefExpiry {
					perGrant[e.Reference.ID]++
				}
			}
			require.Len(t, perGrant, grants-1)
			for g, n := range perGrant {
				require.Equal(t, 1, n, "grant %s", g)
			}
			require.Zero(t, v.odBalance(id, "USD").Amount)
			v.checkGrants(id, "USD")
		}
	})
}

// model is a simple model of a wallet's credit: grants in posting order and
// the untracked credit, consumed by sorting (priority, no-expiry, expiry,
// seq) with the untracked credit as the oldest priority-0 credit that never
// expires.
type model struct {
	pool   int64
	grants []*modelGrant
}

type modelGrant struct {
	id        string
	priority  int
	expires   time.Time
	seq       int
	remaining int64
}

func (m *model) balance() int64 {
	s := m.pool
	for _, g := range m.grants {
		s += g.remaining
	}
	return s
}

func (m *model) open() bool {
	for _, g := range m.grants {
		if g.remaining > 0 {
			return true
		}
	}
	return false
}

func (m *model) debit(amount int64) {
	pool := &modelGrant{seq: -1, remaining: m.pool}
	order := append([]*modelGrant{pool}, m.grants...)
	slices.SortStableFunc(order, func(a, b *modelGrant) int {
		if c := cmp.Compare(a.priority, b.priority); c != 0 {
			return c
		}
		if a.expires.IsZero() != b.expires.IsZero() {
			if a.expires.IsZero() {
				return 1
			}
			return -1
		}
		if c := a.expires.Compare(b.expires); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	for _, g := range order {
		n := min(g.remaining, amount)
		g.remaining -= n
		amount -= n
	}
	m.pool = pool.remaining
}

func (m *model) expire(now time.Time) {
	for _, g := range m.grants {
		if !g.expires.IsZero() && !now.Before(g.expires) {
			g.remaining = 0
		}
	}
}

// TestCreditConsumptionOrderProperty posts random grants, plain credits,
// debits and expiry passes and compares every grant's remainder and the
// balance with the model after each step.
func TestCreditConsumptionOrderProperty(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		runs, steps := 12, 40
		if v := newStore(t); v != nil {
			if _, mem := v.(*memory.Store); !mem {
				runs = 3 // the model is the same; the slower stores run fewer seeds
			}
		}
		if testing.Short() {
			runs = 2
		}
		for run := range runs {
			r := rand.New(rand.NewPCG(uint64(run), 15))
			v := newEnv(t, newStore)
			c := v.customer()
			m := &model{}
			byID := map[string]*modelGrant{}
			for step := range steps {
				v.clock.Advance(time.Duration(1+r.IntN(3600)) * time.Second)
				now := v.clock.Now()
				key := fmt.Sprintf("s%d", step)
				switch op := r.IntN(10); {
				case op < 4: // a grant with random terms
					var exp time.Time
					if r.IntN(3) > 0 {
						exp = now.Add(time.Duration(1+r.IntN(6)) * time.Hour)
					}
					kind := []ledger.CreditKind{ledger.KindPaid, ledger.KindGranted}[r.IntN(2)]
					prio := r.IntN(5) - 2
					res, err := v.CreateEntry(v.ctx, c.ID, grantCredit(int64(1+r.IntN(2000)), kind, prio, exp, key))
					require.NoError(t, err)
					if res.Entry.ID == "" {
						t.Fatal("no entry")
					}
					if (kind == ledger.KindPaid && prio == 0 && exp.IsZero()) && !m.open() {
						m.pool += res.Entry.Amount
						continue
					}
					g := &modelGrant{id: res.Entry.ID, priority: prio, expires: exp, seq: step, remaining: res.Entry.Amount}
					m.grants = append(m.grants, g)
					byID[g.id] = g
				case op < 6: // a plain credit
					res, err := v.CreateEntry(v.ctx, c.ID, credit(int64(1+r.IntN(1000)), "USD", key))
					require.NoError(t, err)
					if !m.open() {
						m.pool += res.Entry.Amount
						continue
					}
					g := &modelGrant{id: res.Entry.ID, seq: step, remaining: res.Entry.Amount}
					m.grants = append(m.grants, g)
					byID[g.id] = g
				case op < 9: // a debit
					bal := m.balance()
					if bal == 0 {
						continue
					}
					amt := 1 + r.Int64N(bal)
					_, err := v.CreateEntry(v.ctx, c.ID, debit(amt, "USD", key))
					require.NoError(t, err)
					m.debit(amt)
				default:
					v.expire()
					m.expire(now)
				}
				require.Equal(t, m.balance(), v.odBalance(c.ID, "USD").Amount, "run %d step %d", run, step)
				require.NoError(t, v.store.View(v.ctx, func(tx store.Tx) error {
					grants, err := tx.(store.CreditGrants).ListGrants(c.ID, "USD")
					require.Len(t, grants, len(byID))
					for _, g := range grants {
						require.Equal(t, byID[g.ID].remaining, g.Remaining, "run %d step %d grant %s", run, step, g.ID)
					}
					return err
				}))
			}
			v.checkGrants(c.ID, "USD")
		}
	})
}

// TestCreditHoldOrder: a wallet charge's hold reserves from the grants in
// consumption order, its capture consumes them, a release frees them, and
// expiry leaves a held part alone until the hold is settled.
func TestCreditHoldOrder(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		c := v.customer()
		exp := t0.Add(time.Hour)
		late, err := v.CreateEntry(v.ctx, c.ID, grantCredit(5_00, ledger.KindGranted, 1, time.Time{}, "late"))
		require.NoError(t, err)
		soon, err := v.CreateEntry(v.ctx, c.ID, grantCredit(3_00, ledger.KindGranted, 0, exp, "soon"))
		require.NoError(t, err)
		first, err := v.CreateEntry(v.ctx, c.ID, grantCredit(2_00, ledger.KindPaid, -1, time.Time{}, "first"))
		require.NoError(t, err)
		grant := func(id string) ledger.Grant {
			var g ledger.Grant
			require.NoError(t, v.store.View(v.ctx, func(tx store.Tx) error {
				var err error
				g, err = tx.(store.CreditGrants).Grant(id)
				return err
			}))
			return g
		}

		// A charge the processor cannot answer stays pending with its hold.
		v.proc.SetUnavailable(true)
		p, err := v.ChargeOneTime(v.ctx, c.ID, OneTimeParams{Amount: 20_00, Currency: "USD", PaymentMethod: processor.CardOK})
		require.NoError(t, err)
		require.Equal(t, subscription.PaymentPending, p.Status)
		require.Equal(t, int64(10_00), p.WalletAmount)
		require.Equal(t, int64(2_00), grant(first.Entry.ID).Held)
		require.Equal(t, int64(3_00), grant(soon.Entry.ID).Held)
		require.Equal(t, int64(5_00), grant(late.Entry.ID).Held)
		v.clock.Set(exp)
		require.Zero(t, v.expire(), "a held part does not expire")
		v.checkGrants(c.ID, "USD")

		// Unreachable for good: Reconcile fails the payment and releases the
		// hold; the expired grant's freed part expires at the next pass.
		v.proc.SetUnavailable(false)
		v.clock.Advance(time.Hour)
		_, err = v.Reconcile(v.ctx)
		require.NoError(t, err)
		p2, err := v.Payment(v.ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, subscription.PaymentFailed, p2.Status)
		for _, id := range []string{first.Entry.ID, soon.Entry.ID, late.Entry.ID} {
			require.Zero(t, grant(id).Held, id)
		}
		require.Equal(t, 1, v.expire())
		require.Equal(t, int64(7_00), v.odBalance(c.ID, "USD").Amount)
		v.checkGrants(c.ID, "USD")

		// A charge the wallet covers: captured from the grants in order.
		v2 := newEnv(t, newStore)
		c2 := v2.customer()
		a, err := v2.CreateEntry(v2.ctx, c2.ID, grantCredit(5_00, ledger.KindGranted, 1, time.Time{}, "a"))
		require.NoError(t, err)
		b, err := v2.CreateEntry(v2.ctx, c2.ID, grantCredit(3_00, ledger.KindGranted, 0, exp, "b"))
		require.NoError(t, err)
		pay, err := v2.ChargeOneTime(v2.ctx, c2.ID, OneTimeParams{Amount: 4_00, Currency: "USD", PaymentMethod: processor.CardOK})
		require.NoError(t, err)
		require.Equal(t, subscription.PaymentSucceeded, pay.Status)
		var allocs []ledger.Allocation
		require.NoError(t, v2.store.View(v2.ctx, func(tx store.Tx) error {
			h, err := tx.Hold(pay.HoldID)
			if err != nil {
				return err
			}
			allocs, err = tx.(store.CreditGrants).Allocations(h.EntryID)
			return err
		}))
		require.Equal(t, []ledger.Allocation{{GrantID: b.Entry.ID, Amount: 3_00}, {GrantID: a.Entry.ID, Amount: 1_00}}, allocs)
		v2.checkGrants(c2.ID, "USD")
	})
}

// TestCreditRefundRegrant: a refund to the wallet of a payment paid from an
// expiring grant gives back a fresh grant with the original terms.
func TestCreditRefundRegrant(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		c := v.customer()
		exp := t0.Add(48 * time.Hour)
		bonus, err := v.CreateEntry(v.ctx, c.ID, grantCredit(6_00, ledger.KindGranted, 0, exp, "bonus"))
		require.NoError(t, err)
		_, err = v.CreateEntry(v.ctx, c.ID, credit(4_00, "USD", "paid"))
		require.NoError(t, err)
		pay, err := v.ChargeOneTime(v.ctx, c.ID, OneTimeParams{Amount: 8_00, Currency: "USD", PaymentMethod: processor.CardOK})
		require.NoError(t, err)
		require.Equal(t, int64(8_00), pay.WalletAmount) // 6_00 bonus, then 2_00 paid
		v.checkGrants(c.ID, "USD")

		// The first refund gives back the last consumed: paid credit.
		_, err = v.Refund(v.ctx, pay.ID, RefundParams{Amount: 1_00, Destination: subscription.ToWallet, IdempotencyKey: "r1"})
		require.NoError(t, err)
		// The second: the rest of the paid part, then the bonus part.
		_, err = v.Refund(v.ctx, pay.ID, RefundParams{Amount: 4_00, Destination: subscription.ToWallet, IdempotencyKey: "r2"})
		require.NoError(t, err)
		sum, err := v.ExpiringCredits(v.ctx, c.ID, "USD", 0)
		require.NoError(t, err)
		require.Equal(t, int64(7_00), sum.Balance.Amount)
		require.Equal(t, int64(3_00), sum.Granted, "3_00 of the bonus came back as granted credit")
		var regrant *ledger.Grant
		for i, g := range sum.Grants {
			if g.Source == bonus.Entry.ID {
				regrant = &sum.Grants[i]
			}
		}
		require.NotNil(t, regrant)
		require.Equal(t, int64(3_00), regrant.Remaining)
		require.True(t, regrant.ExpiresAt.Equal(exp), "the original expiry")
		require.Equal(t, ledger.KindGranted, regrant.Kind)
		v.checkGrants(c.ID, "USD")

		v.clock.Set(exp)
		require.Equal(t, 1, v.expire())
		require.Equal(t, int64(4_00), v.odBalance(c.ID, "USD").Amount)
		v.checkGrants(c.ID, "USD")
	})
}

func TestExpiringCreditsErrors(t *testing.T) {
	v := newEnv(t, storeKinds["memory"])
	c := v.customer()
	_, err := v.ExpiringCredits(v.ctx, c.ID, "USD", -time.Second)
	require.ErrorIs(t, err, ErrInvalid)
	_, err = v.ExpiringCredits(v.ctx, "cus_missing", "USD", time.Hour)
	require.Error(t, err)
	sum, err := v.ExpiringCredits(v.ctx, c.ID, "USD", time.Hour)
	require.NoError(t, err)
	require.Zero(t, sum.Balance.Amount)
	require.Empty(t, sum.Grants)
	require.False(t, errors.Is(err, ErrInvalid))
}

// TestCreditExpiredDocExample: the payload of docs/webhook-events.md
// decodes into CreditExpired, field for field.
func TestCreditExpiredDocExample(t *testing.T) {
	doc, err := os.ReadFile("docs/webhook-events.md")
	require.NoError(t, err)
	s := string(doc)
	i := strings.Index(s, "## `wallet.credit_expired`")
	require.GreaterOrEqual(t, i, 0)
	s = s[i:]
	start := strings.Index(s, "```json\n") + len("```json\n")
	end := strings.Index(s[start:], "```")
	var d CreditExpired
	decodeStrict(t, []byte(s[start:start+end]), &d)
	require.Equal(t, ledger.RefExpiry, d.Entry.Reference.Type)
	require.Equal(t, d.Grant.ID, d.Entry.Reference.ID)
	require.Equal(t, d.Grant.Expired, d.Entry.Amount)
	require.Equal(t, d.Entry.BalanceAfter, d.Balance.Amount)
}
