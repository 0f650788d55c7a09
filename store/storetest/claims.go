package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/webhook"
)

// claimed is a as ClaimDueAttempts returns it.
func claimedAttempt(a retry.Attempt, owner string, now, until time.Time) retry.Attempt {
	a.Status, a.LeaseOwner, a.LeaseUntil, a.RunAt, a.UpdatedAt = retry.AttemptClaimed, owner, until, until, now
	return a
}

func claimAttempts(t *testing.T, s store.Store, now time.Time, c store.AttemptClaim) (got []retry.Attempt, deferred int) {
	t.Helper()
	update(t, s, func(tx store.Tx) {
		var err error
		got, deferred, err = tx.ClaimDueAttempts(now, c)
		require.NoError(t, err)
	})
	return got, deferred
}

func testDueNotices(t *testing.T, newStore newStoreFunc) {
	s := newStore(t)
	sub, cus := newID("sub"), newID("cus")
	now := t0
	at := func(n int, st retry.AttemptStatus, d time.Duration) retry.Attempt {
		a := newAttempt(sub, cus, n, st, now.Add(d))
		a.Notified = false
		return a
	}
	a3 := at(3, retry.AttemptScheduled, 0)                // due (RunAt == now)
	a1 := at(3, retry.AttemptScheduled, -3*time.Hour)     // due
	a2 := at(5, retry.AttemptClaimed, -time.Hour)         // due: lease expired
	a4 := at(3, retry.AttemptScheduled, time.Microsecond) // future
	a5 := at(3, retry.AttemptSucceeded, -5*time.Hour)     // final
	a6 := at(3, retry.AttemptCancelled, -4*time.Hour)     // final
	n1 := at(3, retry.AttemptScheduled, -2*time.Hour)     // notified
	n1.Notified = true
	update(t, s, func(tx store.Tx) {
		for _, a := range []retry.Attempt{a3, a1, a2, a4, a5, a6, n1} {
			require.NoError(t, tx.PutAttempt(a))
		}
	})
	due := func(at time.Time, limit int) []retry.Attempt {
		var got []retry.Attempt
		view(t, s, func(tx store.Tx) {
			var err error
			got, err = tx.DueNotices(at, limit)
			require.NoError(t, err)
		})
		return got
	}
	require.Equal(t, []retry.Attempt{a1, a2, a3}, due(now, 10), "active, not notified, RunAt <= now, ascending RunAt")
	require.Equal(t, []retry.Attempt{a1}, due(now, 1))
	require.Empty(t, due(now.Add(-11*time.Hour), 10))

	a1.Notified = true                  // announced: leaves the list
	a4.RunAt = now.Add(-10 * time.Hour) // moved earlier
	update(t, s, func(tx store.Tx) {
		require.NoError(t, tx.PutAttempt(a1))
		require.NoError(t, tx.PutAttempt(a4))
	})
	require.Equal(t, []retry.Attempt{a4, a2, a3}, due(now, 10))
}

func testClaimAttempts(t *testing.T, newStore newStoreFunc) {
	const owner = "runner-a"
	now := t0
	until := now.Add(5 * time.Minute)
	t.Run("Due", func(t *testing.T) {
		s := newStore(t)
		sub, cus := newID("sub"), newID("cus")
		at := func(n int, st retry.AttemptStatus, d time.Duration) retry.Attempt {
			return newAttempt(sub, cus, n, st, now.Add(d))
		}
		a3 := at(2, retry.AttemptScheduled, 0)            // due (RunAt == now)
		a1 := at(3, retry.AttemptScheduled, -3*time.Hour) // due, not notified: claimed all the same
		a2 := at(4, retry.AttemptClaimed, -time.Hour)     // due: lease expired
		a2.LeaseOwner, a2.LeaseUntil = "runner-crashed", a2.RunAt
		a4 := at(2, retry.AttemptScheduled, time.Microsecond) // future
		a5 := at(3, retry.AttemptSucceeded, -5*time.Hour)     // final
		a6 := at(4, retry.AttemptCancelled, -4*time.Hour)     // final
		early := at(3, retry.AttemptScheduled, -time.Hour)    // notice time came, due time not yet
		early.DueAt = now.Add(time.Hour)
		update(t, s, func(tx store.Tx) {
			for _, a := range []retry.Attempt{a3, a1, a2, a4, a5, a6, early} {
				require.NoError(t, tx.PutAttempt(a))
			}
		})
		got, deferred := claimAttempts(t, s, now, store.AttemptClaim{Limit: 10, Owner: owner, LeaseUntil: until})
		want := []retry.Attempt{claimedAttempt(a1, owner, now, until), claimedAttempt(a2, owner, now, until),
			claimedAttempt(a3, owner, now, until)}
		require.Equal(t, want, got, "due (RunAt and DueAt <= now), ascending RunAt, claimed")
		require.Zero(t, deferred)
		got[0].Metadata["retry"] = "scribbled"
		view(t, s, func(tx store.Tx) {
			for _, w := range want {
				a, err := tx.Attempt(w.ID)
				require.NoError(t, err)
				require.Equal(t, w, a, "the claim is stored")
			}
			a, err := tx.Attempt(early.ID)
			require.NoError(t, err)
			require.Equal(t, early, a)
		})
		got, _ = claimAttempts(t, s, now, store.AttemptClaim{Owner: "runner-b", LeaseUntil: until})
		require.Empty(t, got, "a live lease is not claimed again")
		later := until.Add(time.Second)
		got, _ = claimAttempts(t, s, later, store.AttemptClaim{Limit: 1, Owner: "runner-b", LeaseUntil: later.Add(time.Minute)})
		require.Len(t, got, 1, "Limit bounds the claim")
		require.Equal(t, a4.ID, got[0].ID, "ascending RunAt: the future attempt came due first")
	})
	t.Run("Caps", func(t *testing.T) {
		s := newStore(t)
		c1, c2, c3 := newID("cus"), newID("cus"), newID("cus")
		live := func(cus string, lease time.Duration) retry.Attempt {
			a := newAttempt(newID("sub"), cus, 2, retry.AttemptClaimed, now.Add(lease))
			a.LeaseOwner, a.LeaseUntil = "other", now.Add(lease)
			return a
		}
		due := func(cus string, d time.Duration) retry.Attempt {
			return newAttempt(newID("sub"), cus, 2, retry.AttemptScheduled, now.Add(d))
		}
		d1a, d1b := due(c1, -3*time.Minute), due(c1, -2*time.Minute)
		d2, d3a, d3b := due(c2, -time.Minute), due(c3, -50*time.Second), due(c3, -40*time.Second)
		update(t, s, func(tx store.Tx) {
			require.NoError(t, tx.PutAttempt(live(c2, time.Minute)))  // c2 is at its cap of 1
			require.NoError(t, tx.PutAttempt(live(c1, 0)))            // lease ends now: not in flight
			require.NoError(t, tx.PutAttempt(live(c3, -time.Minute))) // ended and due: retaken
			for _, a := range []retry.Attempt{d1a, d1b, d2, d3a, d3b} {
				require.NoError(t, tx.PutAttempt(a))
			}
		})
		got, deferred := claimAttempts(t, s, now, store.AttemptClaim{Limit: 20, PerCustomer: 1, PerAccount: 3,
			Owner: owner, LeaseUntil: until})
		ids := func(list []retry.Attempt) (out []string) {
			for _, a := range list {
				out = append(out, a.ID)
			}
			return out
		}
		// In RunAt order: d1a (claimed), d1b (c1 at its cap), the c3
		// attempt whose lease ended (retaken), then d2, d3a, d3b and the c1
		// attempt whose lease ends now: PerAccount 3 is reached, counting
		// c2's live lease.
		require.Len(t, got, 2, "PerAccount 3 with one in flight leaves 2")
		require.Equal(t, d1a.ID, got[0].ID)
		require.Equal(t, c3, got[1].CustomerID)
		require.Equal(t, 5, deferred, "every due attempt left for a cap is counted: %v", ids(got))

		// Without the account cap, each customer gets up to PerCustomer.
		s = newStore(t)
		update(t, s, func(tx store.Tx) {
			require.NoError(t, tx.PutAttempt(live(c2, time.Minute)))
			for _, a := range []retry.Attempt{d1a, d1b, d2, d3a, d3b} {
				require.NoError(t, tx.PutAttempt(a))
			}
		})
		got, deferred = claimAttempts(t, s, now, store.AttemptClaim{PerCustomer: 1, Owner: owner, LeaseUntil: until})
		require.Equal(t, []string{d1a.ID, d3a.ID}, ids(got))
		require.Equal(t, 3, deferred)
		// The claims count in the next claim's caps.
		got, deferred = claimAttempts(t, s, now, store.AttemptClaim{PerCustomer: 2, PerAccount: 4, Owner: owner, LeaseUntil: until})
		require.Equal(t, []string{d1b.ID}, ids(got), "4 in flight after one more")
		require.Equal(t, 2, deferred)
	})
	t.Run("ReadOnly", func(t *testing.T) {
		s := newStore(t)
		require.NoError(t, s.View(ctx, func(tx store.Tx) error {
			_, _, err := tx.ClaimDueAttempts(now, store.AttemptClaim{Owner: owner, LeaseUntil: until})
			require.ErrorIs(t, err, store.ErrReadOnly)
			return nil
		}))
	})
	t.Run("Concurrent", func(t *testing.T) {
		// Claimers race for attempts of a few customers under both caps:
		// no attempt is claimed twice and no cap is ever exceeded.
		const customers, perCustomer, claimers, perAccount = 6, 4, 8, 5
		s := newStore(t)
		cus := make([]string, customers)
		update(t, s, func(tx store.Tx) {
			for i := range cus {
				cus[i] = newID("cus")
				for j := 0; j < perCustomer; j++ {
					a := newAttempt(newID("sub"), cus[i], 2, retry.AttemptScheduled, now.Add(-time.Duration(i*perCustomer+j)*time.Second))
					require.NoError(t, tx.PutAttempt(a))
				}
			}
		})
		var (
			mu   sync.Mutex
			seen = map[string]string{}
			wg   sync.WaitGroup
			errs = make(chan error, claimers)
		)
		for w := 0; w < claimers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				owner := fmt.Sprintf("runner-%d", w)
				var got []retry.Attempt
				err := s.Update(ctx, func(tx store.Tx) (err error) {
					got, _, err = tx.ClaimDueAttempts(now, store.AttemptClaim{Limit: 100, PerCustomer: 2,
						PerAccount: perAccount, Owner: owner, LeaseUntil: until})
					return err
				})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				defer mu.Unlock()
				for _, a := range got {
					if prev, dup := seen[a.ID]; dup {
						errs <- fmt.Errorf("attempt %s claimed by %s and %s", a.ID, prev, owner)
					}
					seen[a.ID] = owner
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		require.Len(t, seen, perAccount, "the claimers together fill the account cap, never more")
		byCustomer := map[string]int{}
		view(t, s, func(tx store.Tx) {
			for id, owner := range seen {
				a, err := tx.Attempt(id)
				require.NoError(t, err)
				require.Equal(t, owner, a.LeaseOwner)
				byCustomer[a.CustomerID]++
			}
		})
		for c, n := range byCustomer {
			require.LessOrEqual(t, n, 2, "customer %s over its cap", c)
		}
	})
}

func claimDeliveries(t *testing.T, s store.Store, now time.Time, c store.DeliveryClaim) []webhook.Delivery {
	t.Helper()
	var got []webhook.Delivery
	update(t, s, func(tx store.Tx) {
		var err error
		got, err = tx.ClaimDueDeliveries(now, c)
		require.NoError(t, err)
	})
	return got
}

func testClaimDeliveries(t *testing.T, newStore newStoreFunc) {
	const owner = "disp-a"
	now := t0
	until := now.Add(time.Minute)
	claimedAs := func(d webhook.Delivery) webhook.Delivery {
		d.Status, d.LeaseOwner, d.RunAt, d.UpdatedAt = webhook.DeliveryClaimed, owner, until, now
		return d
	}
	t.Run("Due", func(t *testing.T) {
		s := newStore(t)
		ev, ep := newID("evt"), newID("we")
		addEvents(t, s, ev)
		d3 := newDelivery(ev, ep, webhook.DeliveryPending, now)                       // due (RunAt == now)
		d1 := newDelivery(ev, ep, webhook.DeliveryPending, now.Add(-3*time.Hour))     // due
		d2 := newDelivery(ev, ep, webhook.DeliveryClaimed, now.Add(-time.Hour))       // due: lease expired
		d4 := newDelivery(ev, ep, webhook.DeliveryPending, now.Add(time.Microsecond)) // future
		d5 := newDelivery(ev, ep, webhook.DeliverySucceeded, now.Add(-5*time.Hour))   // final
		d6 := newDelivery(ev, ep, webhook.DeliveryFailed, now.Add(-4*time.Hour))      // final
		update(t, s, func(tx store.Tx) {
			for _, d := range []webhook.Delivery{d3, d1, d2, d4, d5, d6} {
				require.NoError(t, tx.PutDelivery(d))
			}
		})
		got := claimDeliveries(t, s, now, store.DeliveryClaim{Limit: 2, Owner: owner, LeaseUntil: until})
		require.Equal(t, []webhook.Delivery{claimedAs(d1), claimedAs(d2)}, got, "Limit, ascending RunAt")
		got = claimDeliveries(t, s, now, store.DeliveryClaim{Limit: 10, Owner: owner, LeaseUntil: until})
		require.Equal(t, []webhook.Delivery{claimedAs(d3)}, got, "claimed ones are not due until their lease ends")
		view(t, s, func(tx store.Tx) {
			for _, w := range []webhook.Delivery{claimedAs(d1), claimedAs(d2), claimedAs(d3), d4, d5, d6} {
				d, err := tx.Delivery(w.ID)
				require.NoError(t, err)
				require.Equal(t, w, d)
			}
		})
		require.Empty(t, claimDeliveries(t, s, now, store.DeliveryClaim{Owner: owner, LeaseUntil: until}))
	})
	t.Run("SkipAndPerEndpoint", func(t *testing.T) {
		s := newStore(t)
		ev, ep1, ep2 := newID("evt"), newID("we"), newID("we")
		addEvents(t, s, ev)
		var list []webhook.Delivery
		update(t, s, func(tx store.Tx) {
			for i := 0; i < 6; i++ {
				ep := ep1
				if i >= 4 {
					ep = ep2
				}
				d := newDelivery(ev, ep, webhook.DeliveryPending, now.Add(-time.Duration(10-i)*time.Minute))
				require.NoError(t, tx.PutDelivery(d))
				list = append(list, d)
			}
		})
		// ep1 has one of ours in flight and a cap of 2; list[0] is ours
		// (still sending past its lease) and must be passed over.
		got := claimDeliveries(t, s, now, store.DeliveryClaim{Limit: 10, PerEndpoint: 2,
			InFlight: map[string]int{ep1: 1}, Skip: map[string]struct{}{list[0].ID: {}}, Owner: owner, LeaseUntil: until})
		require.Equal(t, []webhook.Delivery{claimedAs(list[1]), claimedAs(list[4]), claimedAs(list[5])}, got)
		// Scan bounds what one claim looks at.
		got = claimDeliveries(t, s, now, store.DeliveryClaim{Limit: 10, Scan: 1, Owner: owner, LeaseUntil: until})
		require.Equal(t, []webhook.Delivery{claimedAs(list[0])}, got)
	})
	t.Run("ReadOnly", func(t *testing.T) {
		s := newStore(t)
		require.NoError(t, s.View(ctx, func(tx store.Tx) error {
			_, err := tx.ClaimDueDeliveries(now, store.DeliveryClaim{Owner: owner, LeaseUntil: until})
			require.ErrorIs(t, err, store.ErrReadOnly)
			return nil
		}))
	})
	t.Run("Concurrent", func(t *testing.T) {
		const deliveries, claimers = 40, 8
		s := newStore(t)
		ev, ep := newID("evt"), newID("we")
		addEvents(t, s, ev)
		update(t, s, func(tx store.Tx) {
			for i := 0; i < deliveries; i++ {
				require.NoError(t, tx.PutDelivery(newDelivery(ev, ep, webhook.DeliveryPending, now.Add(-time.Duration(i)*time.Second))))
			}
		})
		var (
			mu   sync.Mutex
			seen = map[string]bool{}
			wg   sync.WaitGroup
			errs = make(chan error, claimers*deliveries)
		)
		for w := 0; w < claimers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					var got []webhook.Delivery
					err := s.Update(ctx, func(tx store.Tx) (err error) {
						got, err = tx.ClaimDueDeliveries(now, store.DeliveryClaim{Limit: 3, Owner: fmt.Sprint(w), LeaseUntil: until})
						return err
					})
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					for _, d := range got {
						if seen[d.ID] {
							errs <- errors.New("delivery claimed twice: " + d.ID)
						}
						seen[d.ID] = true
					}
					done := len(seen) >= deliveries
					mu.Unlock()
					if len(got) == 0 || done {
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		require.Len(t, seen, deliveries)
	})
}
