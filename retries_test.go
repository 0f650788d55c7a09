package coffer

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"
	_ "time/tzdata" // America/New_York on machines without a zoneinfo database

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/webhook"
)

// rtAuthorised is when the retry tests' mandates are authorised: 13:10 UTC,
// the anchor every retry of the default policy lands on.
var rtAuthorised = time.Date(2026, 3, 2, 13, 10, 0, 0, time.UTC)

const rtPrice = 25_00 // USD cents

// product creates the catalog product the retry tests subscribe to.
func (v *env) rtProduct() subscription.Product {
	v.t.Helper()
	p, err := v.CreateProduct(v.ctx, ProductParams{Name: "Plan", Description: "Monthly plan", Price: rtPrice, Currency: "USD"})
	require.NoError(v.t, err)
	return p
}

// subscribe creates an on-demand subscription for customerID ("" for a new
// customer) paying with the test card pm, with the initial charge (attempt
// 1) made now. It returns the subscription and the initial payment.
func (v *env) rtSubscribe(customerID, pm string) (subscription.Subscription, subscription.Payment) {
	v.t.Helper()
	p := SubscriptionParams{ProductID: v.rtProduct().ID, Quantity: 1, PaymentMethod: pm, CustomerID: customerID,
		OnDemand: &OnDemand{MandateOnly: new(false)}}
	if customerID == "" {
		p.Customer = &customer.Params{Name: new("Ada"), Email: new("ada@example.com")}
	}
	res, err := v.CreateSubscription(v.ctx, p)
	require.NoError(v.t, err)
	require.NotNil(v.t, res.Payment)
	return res.Subscription, *res.Payment
}

// runDue makes one scheduler pass and fails the test on an error.
func (v *env) rtRunDue() RunReport {
	v.t.Helper()
	rep, err := v.RunDue(v.ctx)
	require.NoError(v.t, err)
	return rep
}

// attempts returns the retry attempts of a subscription.
func (v *env) rtAttempts(subID string) []retry.Attempt {
	v.t.Helper()
	list, err := pageData(v.ListAttempts(v.ctx, AttemptListParams{SubscriptionID: subID}))
	require.NoError(v.t, err)
	return list
}

// active returns the attempts of subID still to run.
func (v *env) rtActive(subID string) []retry.Attempt {
	var out []retry.Attempt
	for _, a := range v.rtAttempts(subID) {
		if a.Status.Active() {
			out = append(out, a)
		}
	}
	return out
}

func (v *env) rtPayment(id string) subscription.Payment {
	v.t.Helper()
	p, err := v.Payment(v.ctx, id)
	require.NoError(v.t, err)
	return p
}

func (v *env) rtSub(id string) subscription.Subscription {
	v.t.Helper()
	s, err := v.Subscription(v.ctx, id)
	require.NoError(v.t, err)
	return s
}

func (v *env) rtDelinquent(customerID string) bool {
	v.t.Helper()
	c, err := v.Customer(v.ctx, customerID)
	require.NoError(v.t, err)
	return c.Delinquent
}

func (v *env) rtOverdue(customerID string) Overdue {
	v.t.Helper()
	o, err := v.Overdue(v.ctx, customerID)
	require.NoError(v.t, err)
	return o
}

// eventsOf returns the events of one type, oldest first.
func (v *env) rtEventsOf(typ string) []webhook.Event {
	var out []webhook.Event
	for _, e := range v.events() {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// quiet asserts that a pass does nothing.
func (v *env) rtQuiet() {
	v.t.Helper()
	require.Equal(v.t, RunReport{}, v.rtRunDue(), "pass at %v", v.clock.Now())
}

func TestRetryDefaultScheduleExhausted(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		v.clock.Set(rtAuthorised)
		v.proc.Script(processor.CardInsufficientFunds,
			processor.InsufficientFunds, processor.InsufficientFunds, processor.InsufficientFunds, processor.InsufficientFunds)
		sub, first := v.rtSubscribe("", processor.CardInsufficientFunds)
		require.Equal(t, rtAuthorised, sub.MandateAuthorizedAt)

		// Attempt 1 is the charge itself, made at once.
		require.Equal(t, subscription.PaymentFailed, first.Status)
		require.Equal(t, processor.InsufficientFunds, first.DeclineCode)
		require.Equal(t, rtAuthorised, first.CreatedAt)
		require.NotContains(t, first.Metadata, "retry_attempt")
		require.Equal(t, rtAuthorised.Add(3*retry.Day), first.NextRetryAt)
		require.Equal(t, 1, v.proc.ChargeCount())
		require.False(t, v.rtDelinquent(sub.CustomerID), "a charge with a retry pending is overdue, not delinquent")
		o := v.rtOverdue(sub.CustomerID)
		require.Len(t, o.Payments, 1)
		require.Equal(t, int64(rtPrice), o.Due[0].Minor)
		v.rtQuiet()

		for i, day := range []time.Duration{3, 10, 17} {
			n := i + 2
			due := rtAuthorised.Add(day * retry.Day)
			list := v.rtAttempts(sub.ID)
			require.Len(t, list, i+1)
			a := list[i]
			require.Equal(t, n, a.Number)
			require.Equal(t, due, a.DueAt, "attempt %d at 13:10 UTC on day %d", n, day)
			require.Equal(t, 13, a.DueAt.Hour())
			require.Equal(t, 10, a.DueAt.Minute())
			require.Equal(t, due.Add(-24*time.Hour), a.RunAt, "notice first")
			require.Equal(t, retry.AttemptScheduled, a.Status)
			require.False(t, a.Notified)
			require.Equal(t, first.ID, a.FirstPaymentID)
			require.Equal(t, int64(rtPrice), a.Amount)
			require.Equal(t, due, v.rtPayment(first.ID).NextRetryAt)

			v.clock.Set(due.Add(-24*time.Hour - time.Nanosecond))
			v.rtQuiet()
			v.clock.Set(due.Add(-24 * time.Hour))
			require.Equal(t, RunReport{Notified: 1}, v.rtRunDue())
			notices := v.rtEventsOf(EventRetryUpcoming)
			require.Len(t, notices, i+1)
			require.Equal(t, due.Add(-24*time.Hour), notices[i].CreatedAt)
			var noticed retry.Attempt
			require.NoError(t, json.Unmarshal(notices[i].Data, &noticed))
			require.Equal(t, a.ID, noticed.ID)
			require.Equal(t, due, noticed.DueAt)
			v.rtQuiet() // the notice is written once

			v.clock.Set(due.Add(-time.Nanosecond))
			v.rtQuiet()
			v.clock.Set(due)
			require.Equal(t, RunReport{Attempted: 1, Failed: 1}, v.rtRunDue())
			a = v.rtAttempts(sub.ID)[i]
			require.Equal(t, retry.AttemptFailed, a.Status)
			require.Equal(t, processor.InsufficientFunds, a.DeclineCode)
			require.Empty(t, a.LeaseOwner)
			pay := v.rtPayment(a.PaymentID)
			require.Equal(t, subscription.PaymentFailed, pay.Status)
			require.Equal(t, strconv.Itoa(n), pay.Metadata["retry_attempt"])
			require.Equal(t, n, pay.RetryAttempt)
			require.Equal(t, first.ID, pay.RetryOf)
			require.Equal(t, due, pay.CreatedAt)
			charges := v.proc.Charges()
			require.Len(t, charges, n)
			require.Equal(t, due, charges[n-1].CreatedAt)
			require.Equal(t, strconv.Itoa(n), charges[n-1].Metadata["retry_attempt"])
			require.Equal(t, pay.ID, charges[n-1].IdempotencyKey)
			if n < 4 {
				require.Equal(t, subscription.StatusActive, v.rtSub(sub.ID).Status)
				require.False(t, v.rtDelinquent(sub.CustomerID))
				require.Empty(t, v.rtEventsOf(EventSubscriptionOnHold))
			}
		}

		// Exhausted: on hold, delinquent, nothing more to run.
		s := v.rtSub(sub.ID)
		require.Equal(t, subscription.StatusOnHold, s.Status)
		require.Equal(t, processor.InsufficientFunds, s.DeclineCode)
		require.True(t, v.rtDelinquent(sub.CustomerID))
		o = v.rtOverdue(sub.CustomerID)
		require.True(t, o.Delinquent)
		require.Len(t, o.Payments, 1, "the retries are not overdue themselves; the charge is")
		require.Equal(t, first.ID, o.Payments[0].ID)
		require.True(t, o.Payments[0].NextRetryAt.IsZero())
		require.Empty(t, v.rtActive(sub.ID))
		require.Len(t, v.rtAttempts(sub.ID), 3)

		types := v.eventTypes()
		require.Equal(t, 1, types[EventSubscriptionOnHold])
		require.Equal(t, 1, types[EventCustomerDelinquent])
		require.Equal(t, 3, types[EventRetryUpcoming])
		require.Equal(t, 3, types[EventRetryScheduled])
		require.Equal(t, 4, types[EventPaymentFailed])
		require.Zero(t, types[EventPaymentSucceeded])

		v.clock.Set(rtAuthorised.Add(90 * retry.Day))
		v.rtQuiet()
		require.Equal(t, 4, v.proc.ChargeCount())
	})
}

func TestRetrySucceedsMidSchedule(t *testing.T) {
	cases := []struct {
		name     string
		credit   int64 // credited to the wallet between attempts 2 and 3
		script   []string
		charges  int   // processor charges in all
		fromCard int64 // what attempt 3 takes from the card
	}{
		{name: "card succeeds on attempt 3", script: []string{processor.InsufficientFunds, processor.InsufficientFunds, ""},
			charges: 3, fromCard: rtPrice},
		{name: "wallet covers attempt 3", credit: rtPrice, script: []string{processor.InsufficientFunds, processor.InsufficientFunds},
			charges: 2},
		{name: "wallet first, card the rest", credit: 10_00,
			script: []string{processor.InsufficientFunds, processor.InsufficientFunds, ""}, charges: 3, fromCard: rtPrice - 10_00},
	}
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				v := newEnv(t, newStore)
				v.clock.Set(rtAuthorised)
				v.proc.Script(processor.CardInsufficientFunds, tc.script...)
				sub, first := v.rtSubscribe("", processor.CardInsufficientFunds)
				require.Equal(t, subscription.PaymentFailed, first.Status)

				v.clock.Set(rtAuthorised.Add(3 * retry.Day))
				require.Equal(t, RunReport{Notified: 1, Attempted: 1, Failed: 1}, v.rtRunDue(), "late notice goes with the attempt")
				require.False(t, v.rtDelinquent(sub.CustomerID))
				if tc.credit > 0 {
					_, err := v.CreateEntry(v.ctx, sub.CustomerID, credit(tc.credit, "USD", "top-up"))
					require.NoError(t, err)
				}

				due3 := rtAuthorised.Add(10 * retry.Day)
				v.clock.Set(due3.Add(-24 * time.Hour))
				require.Equal(t, RunReport{Notified: 1}, v.rtRunDue())
				v.clock.Set(due3)
				require.Equal(t, RunReport{Attempted: 1, Succeeded: 1}, v.rtRunDue())

				list := v.rtAttempts(sub.ID)
				require.Len(t, list, 2, "nothing is scheduled after a success")
				require.Equal(t, retry.AttemptFailed, list[0].Status)
				require.Equal(t, retry.AttemptSucceeded, list[1].Status)
				require.Empty(t, v.rtActive(sub.ID))
				pay := v.rtPayment(list[1].PaymentID)
				require.Equal(t, subscription.PaymentSucceeded, pay.Status)
				require.Equal(t, "3", pay.Metadata["retry_attempt"])
				require.Equal(t, tc.credit, pay.WalletAmount, "the wallet is applied first on a retry")
				require.Equal(t, tc.fromCard, pay.ProcessorAmount)
				require.Equal(t, tc.charges, v.proc.ChargeCount())
				if tc.fromCard > 0 {
					last := v.proc.Charges()[tc.charges-1]
					require.Equal(t, tc.fromCard, last.Amount)
					require.Equal(t, "3", last.Metadata["retry_attempt"])
				}

				f := v.rtPayment(first.ID)
				require.Equal(t, pay.ID, f.SettledBy)
				require.True(t, f.NextRetryAt.IsZero())
				require.False(t, v.rtDelinquent(sub.CustomerID))
				o := v.rtOverdue(sub.CustomerID)
				require.Empty(t, o.Payments)
				require.Empty(t, o.Due)
				require.False(t, o.Delinquent)
				s := v.rtSub(sub.ID)
				require.Equal(t, subscription.StatusActive, s.Status)
				require.Equal(t, due3, s.LastPaymentAt)
				b, err := v.Balance(v.ctx, sub.CustomerID, "USD")
				require.NoError(t, err)
				require.Zero(t, b.Amount)
				require.Zero(t, b.Held)
				v.checkLedger(sub.CustomerID)

				types := v.eventTypes()
				require.Equal(t, 1, types[EventPaymentSucceeded])
				require.Equal(t, 2, types[EventPaymentFailed])
				require.Zero(t, types[EventSubscriptionOnHold])
				require.Zero(t, types[EventCustomerDelinquent])

				v.clock.Set(rtAuthorised.Add(30 * retry.Day))
				v.rtQuiet()
				require.Equal(t, tc.charges, v.proc.ChargeCount())
			})
		}
	})
}

func TestRetrySuccessKeepsDelinquentWhileAnotherChargeIsOverdue(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		v.clock.Set(rtAuthorised)
		// Subscription A: hard decline at once. Subscription B: a soft
		// decline, then a successful retry.
		v.proc.Script(processor.CardInsufficientFunds, processor.DoNotHonor, processor.InsufficientFunds, "")
		a, payA := v.rtSubscribe("", processor.CardInsufficientFunds)
		require.Equal(t, subscription.StatusOnHold, v.rtSub(a.ID).Status)
		require.True(t, v.rtDelinquent(a.CustomerID))
		b, _ := v.rtSubscribe(a.CustomerID, processor.CardInsufficientFunds)

		v.clock.Set(rtAuthorised.Add(3 * retry.Day))
		require.Equal(t, 1, v.rtRunDue().Succeeded)
		require.True(t, v.rtDelinquent(a.CustomerID), "A's charge is still unpaid with no retry")
		o := v.rtOverdue(a.CustomerID)
		require.Len(t, o.Payments, 1)
		require.Equal(t, payA.ID, o.Payments[0].ID)
		require.Equal(t, subscription.StatusActive, v.rtSub(b.ID).Status)
		require.Zero(t, v.eventTypes()[EventCustomerInGoodStand])
	})
}

func TestRetryDeclineClassification(t *testing.T) {
	hard := []string{processor.DoNotHonor, processor.StolenCard, processor.LostCard, processor.PickupCard,
		processor.Fraudulent, processor.AuthenticationFailure, "SOMETHING_NEW"}
	soft := []string{processor.InsufficientFunds, processor.IssuerUnavailable, processor.NetworkError}
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		for _, code := range hard {
			t.Run("hard "+code+" on a retry", func(t *testing.T) {
				v := newEnv(t, newStore)
				v.clock.Set(rtAuthorised)
				v.proc.Script(processor.CardInsufficientFunds, processor.InsufficientFunds, code)
				sub, first := v.rtSubscribe("", processor.CardInsufficientFunds)
				v.clock.Set(rtAuthorised.Add(3 * retry.Day))
				require.Equal(t, 1, v.rtRunDue().Failed)

				a := v.rtAttempts(sub.ID)
				require.Len(t, a, 1, "no attempt after a hard decline")
				require.Equal(t, code, a[0].DeclineCode)
				s := v.rtSub(sub.ID)
				require.Equal(t, subscription.StatusOnHold, s.Status)
				require.Equal(t, code, s.DeclineCode)
				require.True(t, v.rtDelinquent(sub.CustomerID))
				require.True(t, v.rtPayment(first.ID).NextRetryAt.IsZero())
				require.Equal(t, 1, v.eventTypes()[EventSubscriptionOnHold])
				v.clock.Set(rtAuthorised.Add(30 * retry.Day))
				v.rtQuiet()
				require.Equal(t, 2, v.proc.ChargeCount())
			})
			t.Run("hard "+code+" on the first charge", func(t *testing.T) {
				v := newEnv(t, newStore)
				v.clock.Set(rtAuthorised)
				v.proc.Script(processor.CardInsufficientFunds, code)
				sub, _ := v.rtSubscribe("", processor.CardInsufficientFunds)
				require.Empty(t, v.rtAttempts(sub.ID))
				require.Equal(t, subscription.StatusOnHold, v.rtSub(sub.ID).Status)
				require.True(t, v.rtDelinquent(sub.CustomerID))
			})
		}
		for _, code := range soft {
			t.Run("soft "+code+" on a retry", func(t *testing.T) {
				v := newEnv(t, newStore)
				v.clock.Set(rtAuthorised)
				v.proc.Script(processor.CardInsufficientFunds, processor.InsufficientFunds, code)
				sub, _ := v.rtSubscribe("", processor.CardInsufficientFunds)
				v.clock.Set(rtAuthorised.Add(3 * retry.Day))
				require.Equal(t, 1, v.rtRunDue().Failed)
				a := v.rtAttempts(sub.ID)
				require.Len(t, a, 2)
				require.Equal(t, code, a[0].DeclineCode)
				require.Equal(t, rtAuthorised.Add(10*retry.Day), a[1].DueAt)
				require.Equal(t, subscription.StatusActive, v.rtSub(sub.ID).Status)
				require.False(t, v.rtDelinquent(sub.CustomerID))
			})
		}
	})
}

func TestRetryCancelSubscriptionMidSchedule(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		v.clock.Set(rtAuthorised)
		sub, first := v.rtSubscribe("", processor.CardInsufficientFunds)
		v.clock.Set(rtAuthorised.Add(3 * retry.Day))
		require.Equal(t, 1, v.rtRunDue().Failed)
		require.Len(t, v.rtActive(sub.ID), 1)

		v.clock.Advance(time.Hour)
		_, err := v.CancelSubscription(v.ctx, sub.ID)
		require.NoError(t, err)
		list := v.rtAttempts(sub.ID)
		require.Len(t, list, 2)
		require.Equal(t, retry.AttemptCancelled, list[1].Status)
		require.Empty(t, v.rtActive(sub.ID))
		require.True(t, v.rtPayment(first.ID).NextRetryAt.IsZero())
		// The charge stays unpaid with no retry: the customer owes it.
		require.True(t, v.rtDelinquent(sub.CustomerID))

		for _, day := range []time.Duration{9, 10, 17, 40} {
			v.clock.Set(rtAuthorised.Add(day * retry.Day))
			v.rtQuiet()
		}
		require.Equal(t, 2, v.proc.ChargeCount())
		types := v.eventTypes()
		require.Equal(t, 1, types[EventSubscriptionCancelled])
		require.Zero(t, types[EventSubscriptionOnHold])
		require.Equal(t, 1, types[EventRetryUpcoming], "attempt 2's only; attempt 3 was never announced")
	})
}

func TestRetryOnHoldCancelsOtherChains(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		v.clock.Set(rtAuthorised)
		sub, first := v.rtSubscribe("", processor.CardInsufficientFunds)
		require.Len(t, v.rtActive(sub.ID), 1)
		require.False(t, v.rtDelinquent(sub.CustomerID))

		// A second charge on the same subscription is declined hard.
		v.clock.Advance(time.Hour)
		v.proc.Script(processor.CardInsufficientFunds, processor.StolenCard)
		second, err := v.Charge(v.ctx, sub.ID, ChargeParams{ProductPrice: new(int64(5_00))})
		require.NoError(t, err)
		require.Equal(t, subscription.PaymentFailed, second.Status)
		require.Equal(t, subscription.StatusOnHold, v.rtSub(sub.ID).Status)

		// The first charge's retry can never run now: it is cancelled at
		// once and that charge counts as delinquent too.
		require.Empty(t, v.rtActive(sub.ID))
		require.Equal(t, retry.AttemptCancelled, v.rtAttempts(sub.ID)[0].Status)
		require.True(t, v.rtPayment(first.ID).NextRetryAt.IsZero())
		require.True(t, v.rtDelinquent(sub.CustomerID))
		o := v.rtOverdue(sub.CustomerID)
		require.Len(t, o.Payments, 2)
		require.Equal(t, int64(rtPrice+5_00), o.Due[0].Minor)

		v.clock.Set(rtAuthorised.Add(30 * retry.Day))
		v.rtQuiet()
		require.Equal(t, 2, v.proc.ChargeCount())
	})
}

func TestRetryNotices(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		t.Run("a zero lead announces the attempt at its due time", func(t *testing.T) {
			p := retry.DefaultPolicy()
			p.NoticeLead = 0
			v := newEnv(t, newStore, WithRetryPolicy(p))
			v.clock.Set(rtAuthorised)
			sub, _ := v.rtSubscribe("", processor.CardInsufficientFunds)
			due := rtAuthorised.Add(3 * retry.Day)
			require.Equal(t, due, v.rtAttempts(sub.ID)[0].RunAt)
			v.clock.Set(due.Add(-time.Nanosecond))
			v.rtQuiet()
			v.clock.Set(due)
			require.Equal(t, RunReport{Notified: 1, Attempted: 1, Failed: 1}, v.rtRunDue())
			notices := v.rtEventsOf(EventRetryUpcoming)
			require.Len(t, notices, 1)
			require.Equal(t, due, notices[0].CreatedAt)
		})
		t.Run("a retry due within the lead is announced at once", func(t *testing.T) {
			p := retry.DefaultPolicy()
			p.NoticeLead = 5 * retry.Day // longer than the 3 days to attempt 2
			v := newEnv(t, newStore, WithRetryPolicy(p))
			v.clock.Set(rtAuthorised)
			sub, _ := v.rtSubscribe("", processor.CardInsufficientFunds)
			a := v.rtAttempts(sub.ID)[0]
			require.Equal(t, rtAuthorised, a.RunAt)
			require.Equal(t, RunReport{Notified: 1}, v.rtRunDue())
			v.rtQuiet()
		})
		t.Run("every event of one attempt is written in order", func(t *testing.T) {
			v := newEnv(t, newStore)
			v.clock.Set(rtAuthorised)
			sub, _ := v.rtSubscribe("", processor.CardInsufficientFunds)
			// The runners were down through the notice time.
			v.clock.Set(rtAuthorised.Add(3*retry.Day + time.Hour))
			require.Equal(t, RunReport{Notified: 1, Attempted: 1, Failed: 1}, v.rtRunDue())
			var seq []string
			for _, e := range v.events() {
				switch e.Type {
				case EventRetryUpcoming, EventPaymentFailed, EventRetryScheduled:
					seq = append(seq, e.Type)
				}
			}
			// Causal order: each failure before the retry it schedules.
			require.Equal(t, []string{EventPaymentFailed, EventRetryScheduled, EventRetryUpcoming, EventPaymentFailed,
				EventRetryScheduled}, seq)
			// The attempt ran an hour late; the next keeps the anchor.
			list := v.rtAttempts(sub.ID)
			require.Equal(t, rtAuthorised.Add(3*retry.Day+time.Hour), v.rtPayment(list[0].PaymentID).CreatedAt)
			require.Equal(t, rtAuthorised.Add(10*retry.Day), list[1].DueAt)
		})
	})
}

func TestRetryAnchoring(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		t.Run("mandate time of day, not the charge's", func(t *testing.T) {
			v := newEnv(t, newStore)
			v.clock.Set(rtAuthorised)
			res, err := v.CreateSubscription(v.ctx, SubscriptionParams{ProductID: v.rtProduct().ID, Quantity: 1,
				Customer: &customer.Params{Name: new("Bo")}, PaymentMethod: processor.CardInsufficientFunds,
				OnDemand: &OnDemand{MandateOnly: new(true)}})
			require.NoError(t, err)
			charged := time.Date(2026, 3, 4, 18, 45, 0, 0, time.UTC)
			v.clock.Set(charged)
			pay, err := v.Charge(v.ctx, res.Subscription.ID, ChargeParams{ProductPrice: new(int64(7_00))})
			require.NoError(t, err)
			require.Equal(t, subscription.PaymentFailed, pay.Status)
			a := v.rtAttempts(res.Subscription.ID)[0]
			require.Equal(t, time.Date(2026, 3, 7, 13, 10, 0, 0, time.UTC), a.DueAt, "day 3 of the charge, at the mandate's 13:10")
			require.Equal(t, int64(7_00), a.Amount)
		})
		t.Run("last successful payment T + X days", func(t *testing.T) {
			p := retry.DefaultPolicy()
			p.Anchor = retry.AnchorLastPayment
			v := newEnv(t, newStore, WithRetryPolicy(p))
			v.clock.Set(rtAuthorised)
			v.proc.Script(processor.CardInsufficientFunds, "") // the initial charge succeeds
			sub, pay := v.rtSubscribe("", processor.CardInsufficientFunds)
			require.Equal(t, subscription.PaymentSucceeded, pay.Status)
			paid := time.Date(2026, 3, 5, 10, 20, 30, 0, time.UTC)
			v.clock.Set(paid)
			v.proc.Script(processor.CardInsufficientFunds, "")
			_, err := v.Charge(v.ctx, sub.ID, ChargeParams{ProductPrice: new(int64(1_00))})
			require.NoError(t, err)
			require.Equal(t, paid, v.rtSub(sub.ID).LastPaymentAt)
			v.clock.Set(time.Date(2026, 3, 9, 16, 0, 0, 0, time.UTC))
			_, err = v.Charge(v.ctx, sub.ID, ChargeParams{ProductPrice: new(int64(2_00))})
			require.NoError(t, err)
			a := v.rtAttempts(sub.ID)[0]
			require.Equal(t, time.Date(2026, 3, 12, 10, 20, 30, 0, time.UTC), a.DueAt)
			require.Zero(t, a.DueAt.Sub(paid)%retry.Day, "T + X whole days")
		})
	})
}

func TestRetryDSTDoesNotMoveAttempts(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	cases := []struct {
		name       string
		authorised time.Time
		local      []string // display of attempts 2, 3, 4 in New York
	}{
		{"spring forward (8 March 2026)", rtAuthorised,
			[]string{"2026-03-05 08:10 EST", "2026-03-12 09:10 EDT", "2026-03-19 09:10 EDT"}},
		{"fall back (1 November 2026)", time.Date(2026, 10, 26, 13, 10, 0, 0, time.UTC),
			[]string{"2026-10-29 09:10 EDT", "2026-11-05 08:10 EST", "2026-11-12 08:10 EST"}},
	}
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				v := newEnv(t, newStore)
				v.clock.Set(tc.authorised)
				sub, _ := v.rtSubscribe("", processor.CardInsufficientFunds)
				var dues []time.Time
				for i, day := range []time.Duration{3, 10, 17} {
					a := v.rtAttempts(sub.ID)[i]
					require.Equal(t, tc.authorised.Add(day*retry.Day), a.DueAt)
					require.Equal(t, time.UTC, a.DueAt.Location())
					require.Equal(t, tc.local[i], a.DueAt.In(ny).Format("2006-01-02 15:04 MST"))
					dues = append(dues, a.DueAt)
					v.clock.Set(a.DueAt)
					require.Equal(t, 1, v.rtRunDue().Attempted)
					require.Equal(t, a.DueAt, v.rtPayment(v.rtAttempts(sub.ID)[i].PaymentID).CreatedAt)
				}
				require.Equal(t, 7*24*time.Hour, dues[1].Sub(dues[0]), "a week across the change is 168 hours")
				require.Equal(t, 7*24*time.Hour, dues[2].Sub(dues[1]))
			})
		}
	})
}
