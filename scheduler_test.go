package coffer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

// runner returns another Engine on v's store, clock and processor: a second
// scheduler instance (another process, in production) named owner.
func (v *env) rtRunner(owner string, o RetryOptions, p processor.Processor) *Engine {
	v.t.Helper()
	if p == nil {
		p = v.proc
	}
	o.Owner = owner
	e, err := New(v.store, WithClock(v.clock), WithProcessor(p), WithRetryOptions(o))
	require.NoError(v.t, err)
	return e
}

// failedCustomers creates n customers, each with a subscription whose
// initial charge failed softly at rtAuthorised, so n attempts are due at
// rtAuthorised + 3 days. It returns the subscriptions.
func (v *env) rtFailedCustomers(n int) []subscription.Subscription {
	v.t.Helper()
	v.clock.Set(rtAuthorised)
	prod := v.rtProduct()
	subs := make([]subscription.Subscription, n)
	for i := range subs {
		res, err := v.CreateSubscription(v.ctx, SubscriptionParams{ProductID: prod.ID, Quantity: 1,
			Customer: &customer.Params{Name: new(fmt.Sprintf("c%d", i))}, PaymentMethod: processor.CardInsufficientFunds,
			OnDemand: &OnDemand{MandateOnly: new(false)}})
		require.NoError(v.t, err)
		require.Equal(v.t, subscription.PaymentFailed, res.Payment.Status)
		subs[i] = res.Subscription
	}
	return subs
}

// inFlight counts the claimed attempts whose lease has not expired, of one
// customer or ("") all, walking customers, subscriptions and attempts (the
// store has no count of its own: ClaimDueAttempts keeps the caps).
func (v *env) rtInFlight(customerID string) int {
	v.t.Helper()
	n := 0
	now := v.clock.Now()
	require.NoError(v.t, v.store.View(v.ctx, func(tx store.Tx) error {
		var ids []string
		if customerID != "" {
			ids = []string{customerID}
		} else {
			q := store.CustomerQuery{Page: store.Page{Limit: store.MaxLimit}}
			for {
				list, more, err := tx.ListCustomers(q)
				if err != nil {
					return err
				}
				for _, c := range list {
					ids = append(ids, c.ID)
				}
				if !more {
					break
				}
				q.StartingAfter = list[len(list)-1].ID
			}
		}
		for _, id := range ids {
			p := store.Page{Limit: store.MaxLimit}
			for {
				subs, more, err := tx.ListSubscriptions(id, p)
				if err != nil {
					return err
				}
				for _, s := range subs {
					attempts, err := tx.AttemptsBySubscription(s.ID)
					if err != nil {
						return err
					}
					for _, a := range attempts {
						if a.Status == retry.AttemptClaimed && a.LeaseUntil.After(now) {
							n++
						}
					}
				}
				if !more {
					break
				}
				p.StartingAfter = subs[len(subs)-1].ID
			}
		}
		return nil
	}))
	return n
}

// rtGate is a processor whose charges wait at a gate, so a test can hold
// attempts in flight and count how many are at once.
type rtGate struct {
	*processor.Test
	arrived chan string
	release chan struct{}
	now     atomic.Int32
	peak    atomic.Int32
}

func newRTGate(p *processor.Test) *rtGate {
	return &rtGate{Test: p, arrived: make(chan string, 1000), release: make(chan struct{})}
}

func (g *rtGate) Charge(ctx context.Context, req processor.ChargeRequest) (processor.Charge, error) {
	n := g.now.Add(1)
	defer g.now.Add(-1)
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			break
		}
	}
	g.arrived <- req.IdempotencyKey
	<-g.release
	return g.Test.Charge(ctx, req)
}

var errRTCrash = errors.New("test: process crashed")

func TestSchedulerLeases(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		t.Run("a crash after the processor charged: retaken after the lease, charged once", func(t *testing.T) {
			v := newEnv(t, newStore, WithRetryOptions(RetryOptions{Owner: "runner-a"}))
			v.clock.Set(rtAuthorised)
			v.proc.Script(processor.CardInsufficientFunds, processor.InsufficientFunds, "")
			sub, first := v.rtSubscribe("", processor.CardInsufficientFunds)
			b := v.rtRunner("runner-b", RetryOptions{}, nil)

			due := rtAuthorised.Add(3 * retry.Day)
			v.clock.Set(due)
			v.setCrashAfterCharge(func(string) error { return errRTCrash })
			rep, err := v.RunDue(v.ctx)
			require.ErrorIs(t, err, errRTCrash)
			require.Equal(t, 1, rep.Attempted)
			v.setCrashAfterCharge(nil)
			require.Equal(t, 2, v.proc.ChargeCount(), "the processor charged attempt 2")
			a := v.rtAttempts(sub.ID)[0]
			require.Equal(t, retry.AttemptClaimed, a.Status)
			require.Equal(t, "runner-a", a.LeaseOwner)
			require.Equal(t, due.Add(5*time.Minute), a.LeaseUntil)
			require.Equal(t, a.LeaseUntil, a.RunAt)
			require.Equal(t, 1, v.rtInFlight(sub.CustomerID))

			for _, at := range []time.Duration{0, time.Minute, 5*time.Minute - time.Nanosecond} {
				v.clock.Set(due.Add(at))
				rep, err := b.RunDue(v.ctx)
				require.NoError(t, err)
				require.Equal(t, RunReport{}, rep, "the lease still holds at +%v", at)
			}
			v.clock.Set(due.Add(5 * time.Minute))
			require.Zero(t, v.rtInFlight(""), "an expired lease is not in flight")
			rep, err = b.RunDue(v.ctx)
			require.NoError(t, err)
			require.Equal(t, RunReport{Attempted: 1, Succeeded: 1}, rep)
			require.Equal(t, 2, v.proc.ChargeCount(), "retaken, not charged again")

			a = v.rtAttempts(sub.ID)[0]
			require.Equal(t, retry.AttemptSucceeded, a.Status)
			require.Empty(t, a.LeaseOwner)
			pay := v.rtPayment(a.PaymentID)
			require.Equal(t, subscription.PaymentSucceeded, pay.Status)
			require.Equal(t, v.proc.Charges()[1].ID, pay.ProcessorID)
			require.Equal(t, "2", pay.Metadata["retry_attempt"])
			require.Equal(t, pay.ID, v.rtPayment(first.ID).SettledBy)
			require.False(t, v.rtDelinquent(sub.CustomerID))
			require.Equal(t, 1, v.eventTypes()[EventPaymentSucceeded])
			v.clock.Set(rtAuthorised.Add(30 * retry.Day))
			v.rtQuiet()
		})

		t.Run("a short lease: the charge is looked up only once no call can be in flight", func(t *testing.T) {
			v := newEnv(t, newStore, WithRetryOptions(RetryOptions{Owner: "runner-a", Lease: 30 * time.Second}))
			v.clock.Set(rtAuthorised)
			v.proc.Script(processor.CardInsufficientFunds, processor.InsufficientFunds, "")
			sub, _ := v.rtSubscribe("", processor.CardInsufficientFunds)
			b := v.rtRunner("runner-b", RetryOptions{Lease: 30 * time.Second}, nil)
			due := rtAuthorised.Add(3 * retry.Day)
			v.clock.Set(due)
			v.setCrashAfterCharge(func(string) error { return errRTCrash })
			_, err := v.RunDue(v.ctx)
			require.ErrorIs(t, err, errRTCrash)
			v.setCrashAfterCharge(nil)

			// Retaken at +30s, but the pending payment is younger than
			// ReconcileAfter: it is left alone, the lease runs out again.
			v.clock.Set(due.Add(30 * time.Second))
			rep, err := b.RunDue(v.ctx)
			require.NoError(t, err)
			require.Equal(t, RunReport{Attempted: 1}, rep)
			a := v.rtAttempts(sub.ID)[0]
			require.Equal(t, retry.AttemptClaimed, a.Status)
			require.Equal(t, "runner-b", a.LeaseOwner)
			pending, err := v.ListPayments(v.ctx, PaymentListParams{CustomerID: sub.CustomerID, Statuses: []subscription.PaymentStatus{subscription.PaymentPending}})
			require.NoError(t, err)
			require.Len(t, pending.Data, 1, "the crashed charge is still pending")
			v.clock.Set(due.Add(ReconcileAfter))
			rep, err = b.RunDue(v.ctx)
			require.NoError(t, err)
			require.Equal(t, RunReport{Attempted: 1, Succeeded: 1}, rep)
			require.Equal(t, 2, v.proc.ChargeCount())
		})

		t.Run("a runner that claims and never records: another takes over, the first cannot overwrite", func(t *testing.T) {
			v := newEnv(t, newStore)
			v.clock.Set(rtAuthorised)
			sub, _ := v.rtSubscribe("", processor.CardInsufficientFunds)
			a := v.rtRunner("runner-a", RetryOptions{Lease: time.Minute}, nil)
			b := v.rtRunner("runner-b", RetryOptions{}, nil)
			due := rtAuthorised.Add(3 * retry.Day)
			v.clock.Set(due)
			var rep RunReport
			claimed, err := a.claimAttempts(v.ctx, &rep)
			require.NoError(t, err)
			require.Len(t, claimed, 1)
			require.Equal(t, "runner-a", claimed[0].LeaseOwner)

			rep, err = b.RunDue(v.ctx)
			require.NoError(t, err)
			require.Equal(t, RunReport{}, rep)
			v.clock.Set(due.Add(time.Minute))
			rep, err = b.RunDue(v.ctx)
			require.NoError(t, err)
			require.Equal(t, RunReport{Attempted: 1, Failed: 1}, rep)
			require.Equal(t, 2, v.proc.ChargeCount())
			done := v.rtAttempts(sub.ID)[0]
			require.Equal(t, retry.AttemptFailed, done.Status)

			// Runner A wakes up and runs what it claimed long ago: the
			// charge replays B's payment and A records nothing.
			status, err := a.runAttempt(v.ctx, claimed[0])
			require.NoError(t, err)
			require.Equal(t, retry.AttemptFailed, status)
			require.Equal(t, 2, v.proc.ChargeCount())
			require.Equal(t, done, v.rtAttempts(sub.ID)[0])
			require.Len(t, v.rtAttempts(sub.ID), 2, "one next attempt, not two")
		})

		t.Run("subscription cancelled while an attempt is claimed", func(t *testing.T) {
			v := newEnv(t, newStore)
			v.clock.Set(rtAuthorised)
			sub, first := v.rtSubscribe("", processor.CardInsufficientFunds)
			v.clock.Set(rtAuthorised.Add(3 * retry.Day))
			var rep RunReport
			claimed, err := v.claimAttempts(v.ctx, &rep)
			require.NoError(t, err)
			require.Len(t, claimed, 1)
			_, err = v.CancelSubscription(v.ctx, sub.ID)
			require.NoError(t, err)
			require.False(t, v.rtDelinquent(sub.CustomerID), "the claimed attempt may still collect")

			status, err := v.runAttempt(v.ctx, claimed[0])
			require.NoError(t, err)
			require.Equal(t, retry.AttemptCancelled, status)
			require.Equal(t, retry.AttemptCancelled, v.rtAttempts(sub.ID)[0].Status)
			require.Equal(t, 1, v.proc.ChargeCount())
			require.True(t, v.rtPayment(first.ID).NextRetryAt.IsZero())
			require.True(t, v.rtDelinquent(sub.CustomerID))
		})
	})
}

func TestSchedulerConcurrentRunners(t *testing.T) {
	const n = 40
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		subs := v.rtFailedCustomers(n)
		g := newRTGate(v.proc)
		close(g.release) // no waiting, only counting
		opts := RetryOptions{PerAccount: 8, BatchSize: 7}
		runners := []*Engine{v.rtRunner("runner-a", opts, g), v.rtRunner("runner-b", opts, g)}
		v.clock.Set(rtAuthorised.Add(3 * retry.Day))

		var (
			wg    sync.WaitGroup
			total atomic.Int64
			errs  = make(chan error, 4)
		)
		for _, r := range runners {
			for range 2 { // two goroutines per runner too
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						rep, err := r.RunDue(v.ctx)
						if err != nil {
							errs <- err
							return
						}
						total.Add(int64(rep.Attempted))
						if rep.Attempted == 0 && rep.Deferred == 0 {
							return
						}
					}
				}()
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}

		require.EqualValues(t, n, total.Load(), "each attempt run once")
		require.Equal(t, 2*n, v.proc.ChargeCount(), "n initial charges and n retries, none twice")
		require.LessOrEqual(t, int(g.peak.Load()), 8, "never more than PerAccount in flight")
		keys := map[string]bool{}
		for _, c := range v.proc.Charges() {
			require.False(t, keys[c.IdempotencyKey])
			keys[c.IdempotencyKey] = true
		}
		for _, s := range subs {
			list := v.rtAttempts(s.ID)
			require.Len(t, list, 2)
			require.Equal(t, retry.AttemptFailed, list[0].Status)
			require.Equal(t, retry.AttemptScheduled, list[1].Status)
			pays, err := v.ListPayments(v.ctx, PaymentListParams{CustomerID: s.CustomerID})
			require.NoError(t, err)
			require.Len(t, pays.Data, 2)
		}
		require.Zero(t, v.rtInFlight(""))
	})
}

func TestSchedulerCaps(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		t.Run("per customer", func(t *testing.T) {
			v := newEnv(t, newStore, WithRetryOptions(RetryOptions{PerCustomer: 1}))
			v.clock.Set(rtAuthorised)
			s1, _ := v.rtSubscribe("", processor.CardInsufficientFunds)
			s2, _ := v.rtSubscribe(s1.CustomerID, processor.CardInsufficientFunds)
			other := v.rtFailedCustomers(1)[0]
			v.clock.Set(rtAuthorised.Add(3 * retry.Day))

			// Claims alone (a runner mid-pass): one attempt of the customer
			// in flight, the other deferred, by this runner and any other.
			var rep RunReport
			claimed, err := v.claimAttempts(v.ctx, &rep)
			require.NoError(t, err)
			require.Len(t, claimed, 2, "one of the customer's and the other customer's")
			require.Equal(t, 3, rep.Notified, "the deferred attempt is announced too")
			require.Equal(t, 1, rep.Deferred)
			require.Equal(t, 1, v.rtInFlight(s1.CustomerID))
			require.Equal(t, 1, v.rtInFlight(other.CustomerID))
			b := v.rtRunner("runner-b", RetryOptions{PerCustomer: 1}, nil)
			rep, err = b.RunDue(v.ctx)
			require.NoError(t, err)
			require.Equal(t, RunReport{Deferred: 1}, rep)
			for _, a := range claimed {
				_, err := v.runAttempt(v.ctx, a)
				require.NoError(t, err)
			}
			require.Equal(t, RunReport{Attempted: 1, Failed: 1}, v.rtRunDue())
			v.rtQuiet()
			require.Len(t, v.rtAttempts(s1.ID), 2)
			require.Len(t, v.rtAttempts(s2.ID), 2)
		})

		t.Run("per customer, whole passes", func(t *testing.T) {
			v := newEnv(t, newStore, WithRetryOptions(RetryOptions{PerCustomer: 1}))
			v.clock.Set(rtAuthorised)
			s1, _ := v.rtSubscribe("", processor.CardInsufficientFunds)
			v.rtSubscribe(s1.CustomerID, processor.CardInsufficientFunds)
			v.clock.Set(rtAuthorised.Add(3 * retry.Day))
			require.Equal(t, RunReport{Notified: 2, Attempted: 1, Failed: 1, Deferred: 1}, v.rtRunDue())
			require.Equal(t, RunReport{Attempted: 1, Failed: 1}, v.rtRunDue())
			v.rtQuiet()
			require.Equal(t, 4, v.proc.ChargeCount())
		})

		t.Run("per customer 2 runs both in one pass", func(t *testing.T) {
			v := newEnv(t, newStore, WithRetryOptions(RetryOptions{PerCustomer: 2}))
			v.clock.Set(rtAuthorised)
			s1, _ := v.rtSubscribe("", processor.CardInsufficientFunds)
			v.rtSubscribe(s1.CustomerID, processor.CardInsufficientFunds)
			v.clock.Set(rtAuthorised.Add(3 * retry.Day))
			require.Equal(t, RunReport{Notified: 2, Attempted: 2, Failed: 2}, v.rtRunDue())
		})

		t.Run("per account, across runners", func(t *testing.T) {
			const customers, m = 10, 3
			v := newEnv(t, newStore)
			v.rtFailedCustomers(customers)
			g := newRTGate(v.proc)
			opts := RetryOptions{PerAccount: m}
			a := v.rtRunner("runner-a", opts, g)
			b := v.rtRunner("runner-b", opts, g)
			v.clock.Set(rtAuthorised.Add(3 * retry.Day))

			type result struct {
				rep RunReport
				err error
			}
			done := make(chan result, 1)
			go func() {
				rep, err := a.RunDue(v.ctx)
				done <- result{rep, err}
			}()
			for range m {
				<-g.arrived // m charges are waiting at the processor
			}
			require.Equal(t, m, v.rtInFlight(""))
			rep, err := b.RunDue(v.ctx)
			require.NoError(t, err)
			require.Equal(t, RunReport{Deferred: customers - m}, rep, "nothing claimed while %d are in flight", m)
			close(g.release)
			r := <-done
			require.NoError(t, r.err)
			require.Equal(t, m, r.rep.Attempted)
			require.Equal(t, customers-m, r.rep.Deferred)

			total := m
			for total < customers {
				rep, err := b.RunDue(v.ctx)
				require.NoError(t, err)
				require.Equal(t, min(m, customers-total), rep.Attempted)
				total += rep.Attempted
			}
			require.Equal(t, int32(m), g.peak.Load())
			require.Equal(t, 2*customers, v.proc.ChargeCount())
		})
	})
}

func TestSchedulerRunLoop(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore, WithRetryOptions(RetryOptions{PollInterval: time.Millisecond}))
		v.clock.Set(rtAuthorised)
		sub, _ := v.rtSubscribe("", processor.CardInsufficientFunds)
		v.clock.Set(rtAuthorised.Add(3 * retry.Day))

		ctx, cancel := context.WithCancel(v.ctx)
		defer cancel()
		var mu sync.Mutex
		var errs []error
		stopped := make(chan error, 1)
		go func() {
			v.Engine.onError = func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() }
			stopped <- v.Run(ctx)
		}()
		// The loop runs on real time (PollInterval); wait for its pass.
		require.Eventually(t, func() bool {
			list, err := pageData(v.ListAttempts(v.ctx, AttemptListParams{SubscriptionID: sub.ID}))
			return err == nil && len(list) == 2 && list[0].Status == retry.AttemptFailed
		}, 10*time.Second, time.Millisecond)
		cancel()
		require.ErrorIs(t, <-stopped, context.Canceled)
		mu.Lock()
		defer mu.Unlock()
		for _, err := range errs {
			require.ErrorIs(t, err, context.Canceled, "only the cancelled pass may fail")
		}
		require.Equal(t, retry.AttemptFailed, v.rtAttempts(sub.ID)[0].Status)
		require.Equal(t, 2, v.proc.ChargeCount())
	})
}
