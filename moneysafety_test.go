package coffer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
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

// msGate is a test processor whose calls can be held inside the processor:
// a held Charge or Refund blocks until the test opens the gate, as a slow
// processor would. Held charges are not recorded before the gate opens, so
// a LookupCharge meanwhile finds nothing (the processor has not acted yet).
type msGate struct {
	*processor.Test

	mu         sync.Mutex
	holdCharge int // hold the next n Charge calls
	holdRefund int // hold the next n Refund calls
	refundErr  error
	entered    chan string // one value per held call, when it enters
	open       chan struct{}
	charges    atomic.Int32 // Charge calls that reached the processor
}

func newGate(p *processor.Test) *msGate {
	return &msGate{Test: p, entered: make(chan string, 64), open: make(chan struct{})}
}

// release lets every held call (and every later one) through.
func (g *msGate) release() { close(g.open) }

func (g *msGate) take(n *int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if *n > 0 {
		*n--
		return true
	}
	return false
}

func (g *msGate) Charge(ctx context.Context, req processor.ChargeRequest) (processor.Charge, error) {
	g.charges.Add(1)
	if g.take(&g.holdCharge) {
		g.entered <- req.IdempotencyKey
		<-g.open
	}
	return g.Test.Charge(ctx, req)
}

func (g *msGate) Refund(ctx context.Context, req processor.RefundRequest) (processor.Refund, error) {
	if g.take(&g.holdRefund) {
		g.entered <- req.IdempotencyKey
		<-g.open
		g.mu.Lock()
		err := g.refundErr
		g.mu.Unlock()
		if err != nil {
			return processor.Refund{}, err
		}
	}
	return g.Test.Refund(ctx, req)
}

// msEngine is another Engine on v's store and clock with processor p.
func (v *env) msEngine(p processor.Processor, opts ...Option) *Engine {
	v.t.Helper()
	e, err := New(v.store, append([]Option{WithClock(v.clock), WithProcessor(p)}, opts...)...)
	require.NoError(v.t, err)
	return e
}

// msCollected sums what the processor actually kept for a customer's
// payments: succeeded charges minus refunds, per the processor's own
// records (the truth the customer's bank statement shows).
func msCollected(p *processor.Test) int64 {
	var sum int64
	for _, c := range p.Charges() {
		if c.Status == processor.ChargeSucceeded {
			sum += c.Amount
		}
	}
	for _, r := range p.Refunds() {
		sum -= r.Amount
	}
	return sum
}

func TestCollectOverdueConcurrentCollectsOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		sub, debt := v.heldSubscription() // 30.00 overdue, subscription on hold
		_, err := v.UpdatePaymentMethod(v.ctx, sub.ID, PaymentMethodParams{PaymentMethod: processor.CardOK})
		require.NoError(t, err)
		before := v.proc.ChargeCount()

		gate := newGate(v.proc)
		gate.holdCharge = 16 // hold every charge, so no collector can finish before the others try
		e := v.msEngine(gate)
		const n = 16
		var (
			wg       sync.WaitGroup
			returned atomic.Int32
			results  = make([]subscription.Payment, n)
			errs     = make([]error, n)
		)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer returned.Add(1)
				results[i], errs[i] = e.CollectOverdue(v.ctx, debt.ID, CollectOverdueParams{IdempotencyKey: fmt.Sprintf("collect-%d", i)})
			}()
		}
		// Open the gate once every caller has either returned or is held
		// in the processor.
		deadline := time.Now().Add(20 * time.Second)
		for int(returned.Load())+len(gate.entered) < n && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		gate.release()
		wg.Wait()

		require.Equal(t, before+1, v.proc.ChargeCount(), "exactly one processor charge for one debt")
		require.EqualValues(t, 1, gate.charges.Load(), "losing collectors never reach the processor")
		var winner subscription.Payment
		for i := range n {
			if errs[i] == nil {
				require.Empty(t, winner.ID, "one collector wins")
				winner = results[i]
				continue
			}
			require.True(t, errors.Is(errs[i], ErrCollectionInProgress) || errors.Is(errs[i], ErrDebtSettled), errs[i])
			require.Equal(t, http.StatusConflict, HTTPStatus(errs[i]))
		}
		require.Equal(t, subscription.PaymentSucceeded, winner.Status)
		got := v.rtPayment(debt.ID)
		require.Equal(t, winner.ID, got.SettledBy)
		require.Empty(t, got.CollectingBy)
		require.Equal(t, int64(30_00), msCollected(v.proc))
		v.checkLedger(sub.CustomerID)

		// A late collector gets the settled error, and nothing is charged.
		_, err = v.CollectOverdue(v.ctx, debt.ID, CollectOverdueParams{IdempotencyKey: "late"})
		require.ErrorIs(t, err, ErrDebtSettled)
		require.ErrorIs(t, err, ErrNotOverdue)
		require.Equal(t, before+1, v.proc.ChargeCount())
	})
}

// msPending starts a charge of 10.00 on a new card subscription whose
// processor call is held in gate, and returns the subscription, the held
// payment id and a channel with the charge's result.
func (v *env) msPending(e *Engine, gate *msGate) (subscription.Subscription, string, chan error) {
	v.t.Helper()
	c := v.customer()
	sub := v.odSubscribe(c.ID, processor.CardOK)
	gate.mu.Lock()
	gate.holdCharge = 1
	gate.mu.Unlock()
	done := make(chan error, 1)
	go func() {
		_, err := e.Charge(v.ctx, sub.ID, ChargeParams{ProductPrice: new(int64(10_00))})
		done <- err
	}()
	select {
	case <-gate.entered:
	case <-time.After(10 * time.Second):
		v.t.Fatal("charge never reached the processor")
	}
	pays := v.odPayments(c.ID)
	require.Len(v.t, pays, 1)
	require.Equal(v.t, subscription.PaymentPending, pays[0].Status)
	return sub, pays[0].ID, done
}

// msFailedElsewhere holds a charge's processor call in a gate while the
// caller's process stalls past its lease (no renewal: the test clock moves,
// real time does not), and lets another engine take the payment for lost
// and fail it. It returns the gate, the subscription, the payment id, the
// held charge's result and the other engine.
func (v *env) msFailedElsewhere() (*msGate, subscription.Subscription, string, chan error, *Engine) {
	v.t.Helper()
	gate := newGate(v.proc)
	sub, payID, done := v.msPending(v.msEngine(gate), gate)
	v.clock.Advance(ReconcileAfter + time.Minute)
	other := v.msEngine(v.proc)
	rep, err := other.Reconcile(v.ctx)
	require.NoError(v.t, err)
	require.Equal(v.t, 1, rep.Payments)
	return gate, sub, payID, done, other
}

func TestLateProcessorSuccessIsNeverDropped(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		t.Run("reconcile leaves a call still in flight in this engine", func(t *testing.T) {
			v := newEnv(t, newStore)
			gate := newGate(v.proc)
			e := v.msEngine(gate)
			_, payID, done := v.msPending(e, gate)
			v.clock.Advance(ReconcileAfter + time.Minute)
			rep, err := e.Reconcile(v.ctx)
			require.NoError(t, err)
			require.Zero(t, rep.Payments, "a call in flight is not reconciled")
			require.Equal(t, subscription.PaymentPending, v.rtPayment(payID).Status)
			// Its retry runner does not fail it either.
			_, err = e.RunDue(v.ctx)
			require.NoError(t, err)
			gate.release()
			require.NoError(t, <-done)
			require.Equal(t, subscription.PaymentSucceeded, v.rtPayment(payID).Status)
			require.Equal(t, int64(10_00), msCollected(v.proc))
		})

		t.Run("another engine respects the lease while it is renewed", func(t *testing.T) {
			v := newEnv(t, newStore)
			gate := newGate(v.proc)
			e := v.msEngine(gate)
			e.setCallRenewEvery(2 * time.Millisecond)
			_, payID, done := v.msPending(e, gate)
			v.clock.Advance(ReconcileAfter + time.Minute)
			// Wait for the caller to renew its lease past the new time.
			deadline := time.Now().Add(10 * time.Second)
			for !v.rtPayment(payID).CallUntil.After(v.clock.Now()) {
				require.True(t, time.Now().Before(deadline), "lease never renewed")
				time.Sleep(time.Millisecond)
			}
			other := v.msEngine(v.proc)
			rep, err := other.Reconcile(v.ctx)
			require.NoError(t, err)
			require.Zero(t, rep.Payments)
			require.Equal(t, subscription.PaymentPending, v.rtPayment(payID).Status)
			gate.release()
			require.NoError(t, <-done)
			require.Equal(t, subscription.PaymentSucceeded, v.rtPayment(payID).Status)
		})

		t.Run("a success after another engine failed the payment settles the debt", func(t *testing.T) {
			v := newEnv(t, newStore)
			gate, sub, payID, done, other := v.msFailedElsewhere()
			failed := v.rtPayment(payID)
			require.Equal(t, subscription.PaymentFailed, failed.Status)
			require.Equal(t, processor.NetworkError, failed.DeclineCode)
			require.Len(t, v.rtActive(sub.ID), 1, "a soft failure schedules a retry")

			gate.release()
			require.NoError(t, <-done)
			got := v.rtPayment(payID)
			require.Equal(t, subscription.PaymentSucceeded, got.Status, "the late success is recorded")
			require.NotEmpty(t, got.ProcessorID)
			require.True(t, got.NextRetryAt.IsZero())
			require.Empty(t, v.rtActive(sub.ID), "its pending retry is cancelled")
			require.False(t, got.Overdue())

			// Four days on, nothing more is charged.
			v.clock.Advance(5 * 24 * time.Hour)
			_, err := other.RunDue(v.ctx)
			require.NoError(t, err)
			require.Equal(t, int64(10_00), msCollected(v.proc), "10.00 collected once")
			require.False(t, v.rtDelinquent(sub.CustomerID))
			require.Equal(t, 1, v.eventTypes()[EventPaymentSucceeded])
		})

		t.Run("a late success for a debt collected meanwhile is refunded", func(t *testing.T) {
			v := newEnv(t, newStore)
			gate, sub, payID, done, other := v.msFailedElsewhere()
			require.Equal(t, subscription.PaymentFailed, v.rtPayment(payID).Status)
			// The retry collects the debt.
			v.clock.Advance(5 * 24 * time.Hour)
			rr, err := other.RunDue(v.ctx)
			require.NoError(t, err)
			require.Equal(t, 1, rr.Succeeded)
			settled := v.rtPayment(payID)
			require.NotEmpty(t, settled.SettledBy)

			// Then the original call returns its success.
			gate.release()
			require.NoError(t, <-done)
			got := v.rtPayment(payID)
			require.Equal(t, settled.SettledBy, got.SettledBy, "the debt stays settled by the retry")
			require.Equal(t, DeclineDuplicate, got.DeclineCode)
			require.Equal(t, int64(10_00), got.ProcessorRefunded)
			refunds, err := pageData(v.ListRefunds(v.ctx, RefundListParams{PaymentID: payID}))
			require.NoError(t, err)
			require.Len(t, refunds, 1)
			require.Equal(t, subscription.RefundSucceeded, refunds[0].Status)
			require.Equal(t, int64(10_00), refunds[0].ProcessorAmount)
			require.Equal(t, int64(10_00), msCollected(v.proc), "the extra charge went back")
			require.Equal(t, 1, v.eventTypes()[EventPaymentDuplicateRefunded])
			require.False(t, v.rtDelinquent(sub.CustomerID))
		})

		t.Run("a retry whose lease expired during a slow call is not charged twice", func(t *testing.T) {
			v := newEnv(t, newStore)
			v.clock.Set(rtAuthorised)
			sub, first := v.rtSubscribe("", processor.CardOK)
			require.Equal(t, subscription.PaymentSucceeded, first.Status)
			v.proc.Script(processor.CardOK, processor.InsufficientFunds)
			p, err := v.Charge(v.ctx, sub.ID, ChargeParams{ProductPrice: new(int64(rtPrice))})
			require.NoError(t, err)
			require.Equal(t, subscription.PaymentFailed, p.Status)
			v.clock.Set(v.rtPayment(p.ID).NextRetryAt)

			gate := newGate(v.proc)
			gate.holdCharge = 1
			runner := v.msEngine(gate, WithRetryOptions(RetryOptions{Owner: "a", Lease: time.Minute}))
			repc := make(chan error, 1)
			go func() { _, err := runner.RunDue(v.ctx); repc <- err }()
			<-gate.entered
			// The attempt's lease and the call's lease both run out; a
			// second runner retakes the attempt.
			v.clock.Advance(10 * time.Minute)
			second := v.msEngine(v.proc, WithRetryOptions(RetryOptions{Owner: "b"}))
			_, err = second.RunDue(v.ctx)
			require.NoError(t, err)
			gate.release()
			require.NoError(t, <-repc)
			v.clock.Advance(10 * 24 * time.Hour)
			for range 3 {
				_, err = second.RunDue(v.ctx)
				require.NoError(t, err)
				_, err = second.Reconcile(v.ctx)
				require.NoError(t, err)
			}
			require.Equal(t, int64(2*rtPrice), msCollected(v.proc), "the initial charge and the debt, once each")
			require.False(t, v.rtPayment(p.ID).Overdue())
			for _, a := range v.rtAttempts(sub.ID) {
				require.NotEqual(t, retry.AttemptScheduled, a.Status)
			}
		})
	})
}

func TestCollectOverdueKeys(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		c := v.customer()
		prod := v.odProduct(30_00, "USD")
		// Two debts of one subscription, alike in everything but their id:
		// a soft decline, then a hard one that puts the subscription on
		// hold and cancels the first one's retry.
		res, err := v.CreateSubscription(v.ctx, SubscriptionParams{ProductID: prod.ID, Quantity: 1, CustomerID: c.ID,
			PaymentMethod: processor.CardOK, OnDemand: &OnDemand{MandateOnly: new(true)}})
		require.NoError(t, err)
		var debts []subscription.Payment
		for _, code := range []string{processor.InsufficientFunds, processor.DoNotHonor} {
			v.proc.Script(processor.CardOK, code)
			p, err := v.Charge(v.ctx, res.Subscription.ID, ChargeParams{ProductPrice: new(int64(30_00))})
			require.NoError(t, err)
			debts = append(debts, p)
		}
		require.True(t, v.rtPayment(debts[0].ID).Delinquent())
		require.True(t, v.rtPayment(debts[1].ID).Delinquent())
		subs := []subscription.Subscription{res.Subscription}
		a, err := v.CollectOverdue(v.ctx, debts[0].ID, CollectOverdueParams{IdempotencyKey: "k"})
		require.NoError(t, err)
		require.Equal(t, subscription.PaymentSucceeded, a.Status)
		charges := v.proc.ChargeCount()

		// The same key for another debt is a conflict, not A's payment.
		_, err = v.CollectOverdue(v.ctx, debts[1].ID, CollectOverdueParams{IdempotencyKey: "k"})
		require.ErrorIs(t, err, subscription.ErrIdempotencyConflict)
		require.Equal(t, http.StatusConflict, HTTPStatus(err))
		require.True(t, v.rtPayment(debts[1].ID).Overdue(), "B stays overdue")
		require.Equal(t, charges, v.proc.ChargeCount())

		// A replay for A returns A's collection.
		again, err := v.CollectOverdue(v.ctx, debts[0].ID, CollectOverdueParams{IdempotencyKey: "k"})
		require.NoError(t, err)
		require.Equal(t, a.ID, again.ID)

		// A payment that is not overdue is a typed error, whatever the key
		// finds, and changes nothing.
		ok, err := v.Charge(v.ctx, subs[0].ID, ChargeParams{ProductPrice: new(int64(1_00)), IdempotencyKey: "paid"})
		require.NoError(t, err)
		require.Equal(t, subscription.PaymentSucceeded, ok.Status)
		evs := len(v.events())
		charges = v.proc.ChargeCount()
		for _, key := range []string{"k", "paid", "fresh", ""} {
			_, err = v.CollectOverdue(v.ctx, ok.ID, CollectOverdueParams{IdempotencyKey: key})
			require.ErrorIs(t, err, ErrNotOverdue, key)
			require.Equal(t, http.StatusConflict, HTTPStatus(err))
		}
		require.Equal(t, evs, len(v.events()))
		require.Equal(t, charges, v.proc.ChargeCount())
	})
}

func TestChargeOneTimeKeyCoversPaymentMethod(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		c := v.customer()
		p, err := v.ChargeOneTime(v.ctx, c.ID, OneTimeParams{Amount: 5_00, Currency: "USD", PaymentMethod: processor.CardDoNotHonor,
			IdempotencyKey: "order-1"})
		require.NoError(t, err)
		require.Equal(t, subscription.PaymentFailed, p.Status)
		_, err = v.ChargeOneTime(v.ctx, c.ID, OneTimeParams{Amount: 5_00, Currency: "USD", PaymentMethod: processor.CardOK,
			IdempotencyKey: "order-1"})
		require.ErrorIs(t, err, subscription.ErrIdempotencyConflict)
		// The same request replays.
		again, err := v.ChargeOneTime(v.ctx, c.ID, OneTimeParams{Amount: 5_00, Currency: "USD", PaymentMethod: processor.CardDoNotHonor,
			IdempotencyKey: "order-1"})
		require.NoError(t, err)
		require.Equal(t, p.ID, again.ID)
	})
}

func TestRefundSplitTracksWalletAndCardParts(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		cus, p := v.odPaid(100_00, 50_00) // wallet 50.00 + card 50.00
		gate := newGate(v.proc)
		gate.holdRefund = 1
		gate.refundErr = errODRefundRejected
		e := v.msEngine(gate)
		errA := make(chan error, 1)
		go func() {
			_, err := e.Refund(v.ctx, p.ID, RefundParams{Amount: 60_00, IdempotencyKey: "A"})
			errA <- err
		}()
		<-gate.entered // A: wallet 50.00 + card 10.00, held at the processor
		b, err := e.Refund(v.ctx, p.ID, RefundParams{Amount: 40_00, IdempotencyKey: "B"})
		require.NoError(t, err)
		require.Equal(t, subscription.RefundSucceeded, b.Status)
		require.Zero(t, b.WalletAmount)
		require.Equal(t, int64(40_00), b.ProcessorAmount)
		gate.release()
		require.Error(t, <-errA, "A is refused")

		got := v.rtPayment(p.ID)
		require.Equal(t, int64(40_00), got.RefundedAmount)
		require.Zero(t, got.WalletRefunded)
		require.Equal(t, int64(40_00), got.ProcessorRefunded)

		c, err := e.Refund(v.ctx, p.ID, RefundParams{Amount: 60_00, IdempotencyKey: "C"})
		require.NoError(t, err)
		require.Equal(t, subscription.RefundSucceeded, c.Status)
		require.Equal(t, int64(50_00), c.WalletAmount, "the wallet part is what is left of it")
		require.Equal(t, int64(10_00), c.ProcessorAmount, "never more than the card part left")
		got = v.rtPayment(p.ID)
		require.Equal(t, subscription.PaymentRefunded, got.Status)
		require.Equal(t, int64(50_00), got.WalletRefunded)
		require.Equal(t, int64(50_00), got.ProcessorRefunded)
		var toCard int64
		for _, r := range v.proc.Refunds() {
			toCard += r.Amount
		}
		require.Equal(t, int64(50_00), toCard, "the card gets back what it paid, no more")
		require.Equal(t, int64(50_00), v.odBalance(cus, "USD").Available())
		v.checkLedger(cus)
	})
}

func TestRefundToWalletConsumesWalletPartFirst(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		_, p := v.odPaid(100_00, 30_00)
		_, err := v.Refund(v.ctx, p.ID, RefundParams{Amount: 50_00, Destination: subscription.ToWallet, IdempotencyKey: "w"})
		require.NoError(t, err)
		got := v.rtPayment(p.ID)
		require.Equal(t, int64(30_00), got.WalletRefunded)
		require.Equal(t, int64(20_00), got.ProcessorRefunded)
		r, err := v.Refund(v.ctx, p.ID, RefundParams{IdempotencyKey: "rest"})
		require.NoError(t, err)
		require.Zero(t, r.WalletAmount)
		require.Equal(t, int64(50_00), r.ProcessorAmount)
		_ = customer.ErrNotFound
	})
}

func TestRefundOutcomeNeverDropped(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		cus, p := v.odPaid(100_00, 20_00) // wallet 20.00 + card 80.00
		gate := newGate(v.proc)
		gate.holdRefund = 1
		e := v.msEngine(gate)
		done := make(chan error, 1)
		var r subscription.Refund
		go func() {
			var err error
			r, err = e.Refund(v.ctx, p.ID, RefundParams{IdempotencyKey: "all"})
			done <- err
		}()
		<-gate.entered
		v.clock.Advance(ReconcileAfter + time.Minute)
		// This engine's Reconcile does not resend a refund it is making.
		_, err := e.Reconcile(v.ctx)
		require.NoError(t, err)
		// Another engine resends it and the processor refuses the resend.
		other := v.msEngine(odRejectRefunds{v.proc})
		_, err = other.Reconcile(v.ctx)
		require.Error(t, err)
		got := v.rtPayment(p.ID)
		require.Zero(t, got.RefundedAmount, "the refused resend freed the refund's parts")
		// Then the original call succeeds: the refund is recorded.
		gate.release()
		require.NoError(t, <-done)
		require.Equal(t, subscription.RefundSucceeded, r.Status)
		got = v.rtPayment(p.ID)
		require.Equal(t, subscription.PaymentRefunded, got.Status)
		require.Equal(t, int64(100_00), got.RefundedAmount)
		require.Equal(t, int64(20_00), got.WalletRefunded)
		require.Equal(t, int64(80_00), got.ProcessorRefunded)
		require.Equal(t, int64(20_00), v.odBalance(cus, "USD").Available())
		_, err = v.Refund(v.ctx, p.ID, RefundParams{IdempotencyKey: "more", Amount: 1})
		require.ErrorIs(t, err, subscription.ErrNotRefundable)
		v.checkLedger(cus)
	})
}

func TestUpdatePaymentMethodRechecksStatus(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		sub := v.odSubscribe(v.customer().ID, processor.CardOK)
		// The subscription is cancelled while the processor authorises the
		// new method.
		e := v.msEngine(cancelOnMandate{Test: v.proc, cancel: func() {
			_, err := v.CancelSubscription(v.ctx, sub.ID)
			require.NoError(t, err)
		}})
		_, err := e.UpdatePaymentMethod(v.ctx, sub.ID, PaymentMethodParams{PaymentMethod: processor.CardInsufficientFunds})
		require.ErrorIs(t, err, subscription.ErrNotActive)
		got, err := v.Subscription(v.ctx, sub.ID)
		require.NoError(t, err)
		require.Equal(t, subscription.StatusCancelled, got.Status)
		require.Equal(t, processor.CardOK, got.PaymentMethod)
	})
}

type cancelOnMandate struct {
	*processor.Test
	cancel func()
}

func (c cancelOnMandate) AuthorizeMandate(ctx context.Context, req processor.MandateRequest) (processor.Mandate, error) {
	c.cancel()
	return c.Test.AuthorizeMandate(ctx, req)
}
