package coffer

import (
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/topup"
	"github.com/cofferhq/coffer/webhook"
)

// tuPayments lists a customer's payments, oldest first.
func (v *env) tuPayments(customerID string) []subscription.Payment {
	v.t.Helper()
	var out []subscription.Payment
	require.NoError(v.t, v.store.View(v.ctx, func(tx store.Tx) error {
		list, _, err := tx.ListPayments(store.PaymentQuery{CustomerID: customerID, Page: store.Page{Limit: 100}})
		out = list
		return err
	}))
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// tuEvents decodes the wallet.auto_topup_* events of type typ.
func (v *env) tuEvents(typ string) []AutoTopUp {
	v.t.Helper()
	var out []AutoTopUp
	for _, ev := range v.events() {
		if ev.Type == typ {
			var d AutoTopUp
			require.NoError(v.t, json.Unmarshal(ev.Data, &d))
			out = append(out, d)
		}
	}
	return out
}

func (v *env) tuRun() TopUpReport {
	v.t.Helper()
	rep, err := v.RunTopUps(v.ctx)
	require.NoError(v.t, err)
	return rep
}

func (v *env) tuRule(id string) TopUpRule {
	v.t.Helper()
	r, err := v.TopUp(v.ctx, id)
	require.NoError(v.t, err)
	return r
}

func thresholdParams(method string) TopUpParams {
	return TopUpParams{Trigger: topup.TriggerThreshold, Threshold: 5_00, Method: topup.MethodTarget, Target: 20_00,
		PaymentMethod: method, MaxPerDay: 5}
}

func dailyParams(method string) TopUpParams {
	return TopUpParams{Trigger: topup.TriggerInterval, Unit: topup.UnitDay, Amount: 10_00, PaymentMethod: method, MaxPerDay: 1}
}

// TestTopUpThreshold: a threshold rule charges up to its target when the
// available balance is below the threshold, through the credit-purchase
// path (the wallet is not applied to it), and only then.
func TestTopUpThreshold(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		c := v.customer()
		_, err := v.CreateEntry(v.ctx, c.ID, credit(2_00, "USD", "seed"))
		require.NoError(t, err)
		r, err := v.CreateTopUp(v.ctx, c.ID, "usd", thresholdParams(processor.CardOK))
		require.NoError(t, err)
		require.Equal(t, "USD", r.Currency)

		rep := v.tuRun()
		require.Equal(t, 1, rep.Succeeded)
		pays := v.tuPayments(c.ID)
		require.Len(t, pays, 1)
		p := pays[0]
		require.Equal(t, subscription.KindCreditPurchase, p.Kind)
		require.Equal(t, int64(18_00), p.Amount, "up to the target: 20.00 - 2.00")
		require.Equal(t, int64(18_00), p.ProcessorAmount, "the wallet is never applied to a top-up")
		require.Equal(t, topup.Key(r.ID, "t1", 1), p.IdempotencyKey)
		require.True(t, IsEngineKey(p.IdempotencyKey))
		require.Equal(t, TopUpDescription, p.Description)
		require.Equal(t, int64(20_00), v.bcBalance(c.ID))
		ok := v.tuEvents(EventAutoTopUpSucceeded)
		require.Len(t, ok, 1)
		require.Equal(t, p.ID, ok[0].Payment.ID)
		require.Equal(t, int64(1), ok[0].Rule.State.Seq)

		// Above the threshold: the next checks charge nothing.
		v.clock.Advance(time.Minute)
		require.Zero(t, v.tuRun().Charged)
		require.Zero(t, v.tuRun().Checked, "not due again before the recheck interval")

		// Spent below the threshold: topped up again at the next check.
		_, err = v.CreateEntry(v.ctx, c.ID, debit(16_50, "USD", "spend"))
		require.NoError(t, err)
		v.clock.Advance(v.retry.PollInterval)
		require.Equal(t, 1, v.tuRun().Succeeded)
		pays = v.tuPayments(c.ID)
		require.Len(t, pays, 2)
		require.Equal(t, int64(16_50), pays[1].Amount)
		require.Equal(t, topup.Key(r.ID, "t2", 2), pays[1].IdempotencyKey)
		require.Equal(t, int64(20_00), v.bcBalance(c.ID))
		got := v.tuRule(r.ID)
		require.Equal(t, 2, got.State.DayCount)
		require.Equal(t, int64(34_50), got.State.DayAmount)
		require.Equal(t, pays[1].ID, got.State.LastPaymentID)
		require.Equal(t, 2, v.proc.ChargeCount())
	})
}

// TestTopUpFixed: a fixed threshold rule charges its amount once the
// available balance is below the threshold.
func TestTopUpFixed(t *testing.T) {
	v := newEnv(t, storeKinds["memory"])
	c := v.customer()
	_, err := v.CreateEntry(v.ctx, c.ID, credit(6_00, "USD", "seed"))
	require.NoError(t, err)
	p := thresholdParams(processor.CardOK)
	p.Method, p.Target, p.Amount = topup.MethodFixed, 0, 3_00
	_, err = v.CreateTopUp(v.ctx, c.ID, "USD", p)
	require.NoError(t, err)
	require.Zero(t, v.tuRun().Charged, "6.00 available is not below 5.00")
	_, err = v.CreateEntry(v.ctx, c.ID, debit(2_00, "USD", "spend"))
	require.NoError(t, err)
	v.clock.Advance(v.retry.PollInterval)
	require.Equal(t, 1, v.tuRun().Succeeded, "4.00 available is below 5.00")
	require.Equal(t, int64(7_00), v.bcBalance(c.ID))
}

// TestTopUpIntervalPeriods: an interval rule tops up once per period,
// across day boundaries on the test clock, with the credit terms it names.
func TestTopUpIntervalPeriods(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		c := v.customer()
		p := dailyParams(processor.CardOK)
		p.CreditKind, p.ExpiresAfter, p.Priority = ledger.KindGranted, 48*time.Hour, 1
		r, err := v.CreateTopUp(v.ctx, c.ID, "USD", p)
		require.NoError(t, err)
		require.Equal(t, 1, v.tuRun().Succeeded, "the current period at once")
		require.Zero(t, v.tuRun().Checked)
		got := v.tuRule(r.ID)
		require.Equal(t, "d2026-03-02", got.State.LastPeriod)
		require.Equal(t, time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC), got.State.NextCheck)

		// Just before midnight: nothing; at midnight: the next period.
		v.clock.Set(time.Date(2026, 3, 2, 23, 59, 59, 0, time.UTC))
		require.Zero(t, v.tuRun().Charged)
		v.clock.Set(time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC))
		require.Equal(t, 1, v.tuRun().Succeeded)
		require.Zero(t, v.tuRun().Charged)
		pays := v.tuPayments(c.ID)
		require.Len(t, pays, 2)
		require.Equal(t, topup.Key(r.ID, "d2026-03-02", 1), pays[0].IdempotencyKey)
		require.Equal(t, topup.Key(r.ID, "d2026-03-03", 2), pays[1].IdempotencyKey)
		terms := PurchaseTerms(pays[1])
		require.Equal(t, ledger.KindGranted, terms.Kind)
		require.Equal(t, 1, terms.Priority)
		require.True(t, terms.ExpiresAt.Equal(time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC)), "%v", terms.ExpiresAt)
		require.Equal(t, int64(20_00), v.bcBalance(c.ID))

		// A worker that was down for three days tops up the current
		// period once, not the missed ones.
		v.clock.Set(time.Date(2026, 3, 6, 10, 0, 0, 0, time.UTC))
		require.Equal(t, 1, v.tuRun().Succeeded)
		require.Zero(t, v.tuRun().Charged)
		require.Len(t, v.tuPayments(c.ID), 3)
	})
}

// TestTopUpDailyCap: the count and amount caps stop top-ups for the rest
// of the UTC day, with one wallet.auto_topup_capped event, and the next
// day starts afresh.
func TestTopUpDailyCap(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		c := v.customer()
		// Each top-up leaves the wallet below the threshold (1.00 < 50.00).
		r, err := v.CreateTopUp(v.ctx, c.ID, "USD", TopUpParams{Trigger: topup.TriggerThreshold, Threshold: 50_00,
			Method: topup.MethodFixed, Amount: 1_00, PaymentMethod: processor.CardOK, MaxPerDay: 2, MaxAmountPerDay: 10_00})
		require.NoError(t, err)
		for range 5 {
			v.tuRun()
			v.clock.Advance(v.retry.PollInterval)
		}
		require.Len(t, v.tuPayments(c.ID), 2, "two a day")
		capped := v.tuEvents(EventAutoTopUpCapped)
		require.Len(t, capped, 1, "one capped event a day")
		require.Equal(t, int64(1_00), capped[0].Amount)
		got := v.tuRule(r.ID)
		require.Equal(t, time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC), got.State.NextCheck, "rests until the next UTC day")

		v.clock.Set(time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC))
		for range 3 {
			v.tuRun()
			v.clock.Advance(v.retry.PollInterval)
		}
		require.Len(t, v.tuPayments(c.ID), 4)
		require.Len(t, v.tuEvents(EventAutoTopUpCapped), 2)

		// The amount cap: 10.00 a day, 4.00 a top-up: two fit, not three.
		three := int(3)
		four := int64(4_00)
		_, err = v.UpdateTopUp(v.ctx, r.ID, TopUpUpdate{MaxPerDay: &three, Amount: &four})
		require.NoError(t, err)
		v.clock.Set(time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC))
		for range 4 {
			v.tuRun()
			v.clock.Advance(v.retry.PollInterval)
		}
		pays := v.tuPayments(c.ID)
		require.Len(t, pays, 6)
		require.Equal(t, int64(8_00), v.tuRule(r.ID).State.DayAmount)
	})
}

// TestTopUpDeclineThenRetry: a soft decline is retried by the retry
// policy's schedule under a new attempt key; a hard decline pauses the
// rule with a final failed event.
func TestTopUpDeclineThenRetry(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		c := v.customer()
		v.proc.Script(processor.CardOK, processor.InsufficientFunds)
		r, err := v.CreateTopUp(v.ctx, c.ID, "USD", thresholdParams(processor.CardOK))
		require.NoError(t, err)
		rep := v.tuRun()
		require.Equal(t, 1, rep.Failed)
		failed := v.tuEvents(EventAutoTopUpFailed)
		require.Len(t, failed, 1)
		require.False(t, failed[0].Final)
		require.Equal(t, "INSUFFICIENT_FUNDS", failed[0].Payment.DeclineCode)
		retryAt := t0.Add(3 * 24 * time.Hour)
		require.True(t, failed[0].NextAttemptAt.Equal(retryAt), "the default policy's day 3: %v", failed[0].NextAttemptAt)
		require.Zero(t, v.bcBalance(c.ID))

		v.clock.Advance(24 * time.Hour)
		require.Zero(t, v.tuRun().Checked, "not before the retry")
		v.clock.Set(retryAt)
		require.Equal(t, 1, v.tuRun().Succeeded)
		pays := v.tuPayments(c.ID)
		require.Len(t, pays, 2)
		require.Equal(t, subscription.PaymentFailed, pays[0].Status)
		require.Equal(t, topup.Key(r.ID, "t1", 1), pays[0].IdempotencyKey)
		require.Equal(t, topup.Key(r.ID, "t1", 2), pays[1].IdempotencyKey)
		require.Equal(t, int64(20_00), v.bcBalance(c.ID))
		require.Zero(t, v.tuRule(r.ID).State.Failed)
		require.False(t, pays[0].Overdue(), "a failed top-up is no debt")

		// A hard decline: no retry, the rule pauses.
		c2 := v.customer()
		r2, err := v.CreateTopUp(v.ctx, c2.ID, "USD", thresholdParams(processor.CardDoNotHonor))
		require.NoError(t, err)
		require.Equal(t, 1, v.tuRun().Failed)
		got := v.tuRule(r2.ID)
		require.True(t, got.Paused)
		require.Equal(t, topup.PausedPaymentFailed, got.PausedReason)
		require.True(t, got.State.NextCheck.IsZero())
		failed = v.tuEvents(EventAutoTopUpFailed)
		require.True(t, failed[len(failed)-1].Final)
		v.clock.Advance(30 * 24 * time.Hour)
		require.Zero(t, v.tuRun().Charged)
		require.Len(t, v.tuPayments(c2.ID), 1)

		// Resuming with a working card tops up at once.
		pm, off := processor.CardOK, false
		_, err = v.UpdateTopUp(v.ctx, r2.ID, TopUpUpdate{PaymentMethod: &pm, Paused: &off})
		require.NoError(t, err)
		require.Equal(t, 1, v.tuRun().Succeeded)
		require.Equal(t, int64(20_00), v.bcBalance(c2.ID))
	})
}

// TestTopUpExhaustedRetries: a soft decline that keeps failing pauses the
// rule after the policy's last attempt.
func TestTopUpExhaustedRetries(t *testing.T) {
	v := newEnv(t, storeKinds["memory"])
	c := v.customer()
	r, err := v.CreateTopUp(v.ctx, c.ID, "USD", thresholdParams(processor.CardInsufficientFunds))
	require.NoError(t, err)
	for range 4 {
		require.Equal(t, 1, v.tuRun().Failed)
		next := v.tuRule(r.ID).State.NextCheck
		if next.IsZero() {
			break
		}
		v.clock.Set(next)
	}
	got := v.tuRule(r.ID)
	require.True(t, got.Paused)
	require.Equal(t, topup.PausedPaymentFailed, got.PausedReason)
	require.Equal(t, v.policy.Attempts(), len(v.tuPayments(c.ID)), "one charge per attempt of the policy")
}

// TestTopUpPausedAndDeleted: a paused rule charges nothing, resuming it
// charges at once; a deleted rule is gone and charges nothing.
func TestTopUpPausedAndDeleted(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		c := v.customer()
		p := dailyParams(processor.CardOK)
		p.Paused = true
		r, err := v.CreateTopUp(v.ctx, c.ID, "USD", p)
		require.NoError(t, err)
		require.Zero(t, v.tuRun().Checked)
		v.clock.Advance(48 * time.Hour)
		require.Zero(t, v.tuRun().Checked)
		off, on := false, true
		got, err := v.UpdateTopUp(v.ctx, r.ID, TopUpUpdate{Paused: &off})
		require.NoError(t, err)
		require.False(t, got.Paused)
		require.Equal(t, 1, v.tuRun().Succeeded)
		_, err = v.UpdateTopUp(v.ctx, r.ID, TopUpUpdate{Paused: &on})
		require.NoError(t, err)
		v.clock.Advance(48 * time.Hour)
		require.Zero(t, v.tuRun().Checked)

		r2, err := v.CreateTopUp(v.ctx, c.ID, "USD", thresholdParams(processor.CardOK))
		require.NoError(t, err)
		list, err := v.ListTopUps(v.ctx, c.ID, "USD")
		require.NoError(t, err)
		require.Equal(t, []string{r.ID, r2.ID}, []string{list[0].ID, list[1].ID})
		require.NoError(t, v.DeleteTopUp(v.ctx, r2.ID))
		require.ErrorIs(t, v.DeleteTopUp(v.ctx, r2.ID), ErrTopUpNotFound)
		_, err = v.TopUp(v.ctx, r2.ID)
		require.ErrorIs(t, err, ErrTopUpNotFound)
		require.Equal(t, "auto_top_up_not_found", ErrorCode(err))
		require.Zero(t, v.tuRun().Checked)
		require.Len(t, v.tuPayments(c.ID), 1)
	})
}

// TestTopUpUnknownOutcome: a charge whose outcome is lost stays in flight;
// later checks replay its key (no second processor charge) and record it
// once Reconcile settles the payment.
func TestTopUpUnknownOutcome(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		c := v.customer()
		r, err := v.CreateTopUp(v.ctx, c.ID, "USD", thresholdParams(processor.CardOK))
		require.NoError(t, err)
		v.proc.SetUnavailable(true)
		rep := v.tuRun()
		require.Equal(t, 1, rep.Charged)
		require.Equal(t, 1, rep.Pending)
		pending := v.tuRule(r.ID).State.Pending
		require.NotNil(t, pending)
		v.clock.Advance(v.retry.PollInterval)
		rep = v.tuRun()
		require.Equal(t, 1, rep.Pending, "the same attempt, replayed")
		require.Equal(t, pending, v.tuRule(r.ID).State.Pending)
		require.Len(t, v.tuPayments(c.ID), 1)
		v.proc.SetUnavailable(false)
		v.clock.Advance(5 * time.Minute)
		_, err = v.Reconcile(v.ctx)
		require.NoError(t, err)
		v.tuRun()
		got := v.tuRule(r.ID)
		pays := v.tuPayments(c.ID)
		require.Nil(t, got.State.Pending, "the settled payment is recorded on the rule")
		require.Equal(t, pending.Key, pays[0].IdempotencyKey)
		switch pays[0].Status {
		case subscription.PaymentSucceeded:
			require.Equal(t, int64(1), got.State.Seq)
			require.Equal(t, int64(20_00), v.bcBalance(c.ID))
		case subscription.PaymentFailed:
			require.Equal(t, 1, got.State.Failed, "a failure, retried by the policy")
			require.Len(t, v.tuEvents(EventAutoTopUpFailed), 1)
		default:
			t.Fatalf("payment still %s after Reconcile", pays[0].Status)
		}
		require.LessOrEqual(t, v.proc.ChargeCount(), 1)
	})
}

// TestTopUpConcurrentWorkers: several engines sharing one store run their
// top-up workers at once, across a period boundary: exactly one charge per
// rule and period.
func TestTopUpConcurrentWorkers(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		others := make([]*Engine, 3)
		for i := range others {
			e, err := New(v.store, WithClock(v.clock), WithProcessor(v.proc), WithLogger(v.log))
			require.NoError(t, err)
			others[i] = e
		}
		engines := append([]*Engine{v.Engine}, others...)
		const customers = 3
		var ids []string
		for range customers {
			c := v.customer()
			ids = append(ids, c.ID)
			_, err := v.CreateTopUp(v.ctx, c.ID, "USD", dailyParams(processor.CardOK))
			require.NoError(t, err)
			// Below 50.00 until topped up to 60.00, once a day: one charge
			// on day 1 whichever rule runs first, none on day 2.
			_, err = v.CreateTopUp(v.ctx, c.ID, "USD", TopUpParams{Trigger: topup.TriggerThreshold, Threshold: 50_00,
				Method: topup.MethodTarget, Target: 60_00, PaymentMethod: processor.CardOK, MaxPerDay: 1})
			require.NoError(t, err)
		}
		race := func() {
			var wg sync.WaitGroup
			for i := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := engines[i%len(engines)].RunTopUps(v.ctx)
					require.NoError(t, err)
				}()
			}
			wg.Wait()
		}
		race()
		race()
		for _, id := range ids {
			pays := v.tuPayments(id)
			require.Len(t, pays, 2, "one daily top-up and one threshold top-up")
			for _, p := range pays {
				require.Equal(t, subscription.PaymentSucceeded, p.Status)
			}
		}
		v.clock.Set(time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC))
		race()
		race()
		for _, id := range ids {
			pays := v.tuPayments(id)
			require.Len(t, pays, 3, "one more for the new day")
			keys := map[string]bool{}
			var total int64
			for _, p := range pays {
				require.False(t, keys[p.IdempotencyKey])
				keys[p.IdempotencyKey] = true
				total += p.Amount
			}
			require.Equal(t, total, v.bcBalance(id), "every top-up credited once")
		}
		require.Equal(t, customers*3, v.proc.ChargeCount(), "one processor charge per rule and period")
		ok := v.tuEvents(EventAutoTopUpSucceeded)
		require.Len(t, ok, customers*3, "one event per top-up")
	})
}

// TestTopUpValidation: bad rules are refused with a typed error naming the
// parameter, and change nothing.
func TestTopUpValidation(t *testing.T) {
	v := newEnv(t, storeKinds["memory"])
	c := v.customer()
	good := thresholdParams(processor.CardOK)
	cases := map[string]struct {
		mod   func(p *TopUpParams)
		param string
	}{
		"no trigger":            {func(p *TopUpParams) { p.Trigger = "" }, "trigger"},
		"unknown trigger":       {func(p *TopUpParams) { p.Trigger = "sometimes" }, "trigger"},
		"zero threshold":        {func(p *TopUpParams) { p.Threshold = 0 }, "threshold"},
		"negative threshold":    {func(p *TopUpParams) { p.Threshold = -1 }, "threshold"},
		"huge threshold":        {func(p *TopUpParams) { p.Threshold, p.Target = 1<<62, 1<<62 }, "threshold"},
		"target below":          {func(p *TopUpParams) { p.Target = 1_00 }, "target"},
		"target and amount":     {func(p *TopUpParams) { p.Amount = 1_00 }, "amount"},
		"unknown method":        {func(p *TopUpParams) { p.Method = "double" }, "method"},
		"fixed without amount":  {func(p *TopUpParams) { p.Method, p.Target = topup.MethodFixed, 0 }, "amount"},
		"interval on threshold": {func(p *TopUpParams) { p.Unit = topup.UnitDay }, "interval"},
		"no cap":                {func(p *TopUpParams) { p.MaxPerDay = 0 }, "max_per_day"},
		"cap too high":          {func(p *TopUpParams) { p.MaxPerDay = topup.MaxPerDay + 1 }, "max_per_day"},
		"negative amount cap":   {func(p *TopUpParams) { p.MaxAmountPerDay = -1 }, "max_amount_per_day"},
		"no payment method":     {func(p *TopUpParams) { p.PaymentMethod = "  " }, "payment_method"},
		"credit kind":           {func(p *TopUpParams) { p.CreditKind = "free" }, "credit_kind"},
		"expiry too short":      {func(p *TopUpParams) { p.ExpiresAfter = time.Second }, "expires_after"},
		"negative expiry":       {func(p *TopUpParams) { p.ExpiresAfter = -time.Hour }, "expires_after"},
		"priority":              {func(p *TopUpParams) { p.Priority = topup.MaxPriority + 1 }, "priority"},
		"interval unit": {func(p *TopUpParams) {
			*p = TopUpParams{Trigger: topup.TriggerInterval, Unit: "fortnight", Amount: 1, PaymentMethod: "pm", MaxPerDay: 1}
		}, "interval"},
		"short duration": {func(p *TopUpParams) {
			*p = TopUpParams{Trigger: topup.TriggerInterval, Unit: topup.UnitDuration, Every: time.Second, Amount: 1, PaymentMethod: "pm", MaxPerDay: 1}
		}, "every"},
		"every on a day": {func(p *TopUpParams) {
			*p = TopUpParams{Trigger: topup.TriggerInterval, Unit: topup.UnitDay, Every: time.Hour, Amount: 1, PaymentMethod: "pm", MaxPerDay: 1}
		}, "every"},
		"interval target": {func(p *TopUpParams) {
			*p = TopUpParams{Trigger: topup.TriggerInterval, Unit: topup.UnitDay, Method: topup.MethodTarget, Amount: 1, PaymentMethod: "pm", MaxPerDay: 1}
		}, "method"},
		"amount over cap": {func(p *TopUpParams) {
			*p = TopUpParams{Trigger: topup.TriggerInterval, Unit: topup.UnitDay, Amount: 10, PaymentMethod: "pm", MaxAmountPerDay: 5}
		}, "max_amount_per_day"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := good
			tc.mod(&p)
			_, err := v.CreateTopUp(v.ctx, c.ID, "USD", p)
			require.ErrorIs(t, err, ErrInvalidTopUp)
			e := AsError(err)
			require.Equal(t, "invalid_auto_top_up", e.Code)
			require.Equal(t, KindInvalid, e.Kind)
			require.Equal(t, tc.param, e.Param)
		})
	}
	_, err := v.CreateTopUp(v.ctx, "cus_missing", "USD", good)
	require.ErrorIs(t, err, customer.ErrNotFound)
	_, err = v.CreateTopUp(v.ctx, c.ID, "XXX", good)
	require.Error(t, err)
	_, err = v.CreateTopUp(v.ctx, c.ID, "USD", TopUpParams{Trigger: topup.TriggerThreshold, Threshold: 1, Method: topup.MethodFixed,
		Amount: 1, PaymentMethod: "pm\x00", MaxPerDay: 1})
	require.Error(t, err)
	list, err := v.ListTopUps(v.ctx, c.ID, "USD")
	require.NoError(t, err)
	require.Empty(t, list, "nothing was stored")

	// At most MaxTopUpsPerWallet rules per wallet; another wallet is apart.
	for range MaxTopUpsPerWallet {
		_, err := v.CreateTopUp(v.ctx, c.ID, "USD", good)
		require.NoError(t, err)
	}
	_, err = v.CreateTopUp(v.ctx, c.ID, "USD", good)
	require.ErrorIs(t, err, ErrInvalidTopUp)
	_, err = v.CreateTopUp(v.ctx, c.ID, "INR", good)
	require.NoError(t, err)

	// An update that breaks the rule changes nothing.
	list, err = v.ListTopUps(v.ctx, c.ID, "USD")
	require.NoError(t, err)
	low := int64(1)
	_, err = v.UpdateTopUp(v.ctx, list[0].ID, TopUpUpdate{Target: &low})
	require.ErrorIs(t, err, ErrInvalidTopUp)
	require.Equal(t, list[0], v.tuRule(list[0].ID))
	_, err = v.UpdateTopUp(v.ctx, "tur_missing", TopUpUpdate{Target: &low})
	require.ErrorIs(t, err, ErrTopUpNotFound)

	// The key prefix is the engine's: a caller cannot take it.
	require.True(t, IsEngineKey("topup:tur_x:t1:1"))
	_, err = v.BuyCredit(v.ctx, c.ID, bcPack(processor.CardOK, "topup:tur_x:t1:1"))
	require.ErrorIs(t, err, errReservedKey)
}

// TestTopUpEventTypes: the top-up events are registered.
func TestTopUpEventTypes(t *testing.T) {
	types := EventTypes()
	for _, typ := range []string{EventAutoTopUpSucceeded, EventAutoTopUpFailed, EventAutoTopUpCapped} {
		require.Contains(t, types, typ)
		require.NoError(t, webhook.ValidateEventTypes([]string{typ}))
	}
}

// TestAutoTopUpDocExample: the payload of docs/webhook-events.md decodes
// into AutoTopUp, field for field, and is a consistent failed event.
func TestAutoTopUpDocExample(t *testing.T) {
	doc, err := os.ReadFile("docs/webhook-events.md")
	require.NoError(t, err)
	s := string(doc)
	i := strings.Index(s, "## `wallet.auto_topup_succeeded`")
	require.GreaterOrEqual(t, i, 0)
	s = s[i:]
	start := strings.Index(s, "```json\n") + len("```json\n")
	end := strings.Index(s[start:], "```")
	var d AutoTopUp
	decodeStrict(t, []byte(s[start:start+end]), &d)
	require.NoError(t, d.Rule.Validate())
	require.Equal(t, subscription.PaymentFailed, d.Payment.Status)
	require.Equal(t, topup.Key(d.Rule.ID, d.Rule.State.FailedPeriod, d.Rule.State.Attempts), d.Payment.IdempotencyKey)
	require.True(t, d.NextAttemptAt.Equal(d.Rule.State.NextCheck))
	require.Equal(t, d.Amount, d.Payment.Amount)
}
