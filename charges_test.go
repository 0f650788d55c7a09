package coffer

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
)

func TestChargeValidation(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		c := v.customer()
		s := v.odSubscribe(c.ID, processor.CardOK)
		before := len(v.events())
		for _, tc := range []struct {
			name   string
			sub    string
			p      ChargeParams
			want   error
			status int
		}{
			{"no price", s.ID, ChargeParams{}, subscription.ErrMissingPrice, 422},
			{"price 0", s.ID, ChargeParams{ProductPrice: new(int64(0))}, subscription.ErrInvalidPrice, 422},
			{"negative price", s.ID, ChargeParams{ProductPrice: new(int64(-5))}, subscription.ErrInvalidPrice, 422},
			{"disabled currency", s.ID, ChargeParams{ProductPrice: new(int64(5)), ProductCurrency: "EUR"}, money.ErrCurrencyDisabled, 422},
			{"unknown currency", s.ID, ChargeParams{ProductPrice: new(int64(5)), ProductCurrency: "ABC"}, money.ErrUnknownCurrency, 422},
			{"bad metadata", s.ID, ChargeParams{ProductPrice: new(int64(5)), Metadata: map[string]string{"": "x"}}, customer.ErrInvalidMeta, 422},
			{"unknown subscription", "sub_missing", ChargeParams{ProductPrice: new(int64(5))}, subscription.ErrNotFound, 404},
		} {
			_, err := v.Charge(v.ctx, tc.sub, tc.p)
			require.ErrorIs(t, err, tc.want, tc.name)
			require.Equal(t, tc.status, HTTPStatus(err), tc.name)
		}
		require.Len(t, v.events(), before)
		require.Empty(t, v.odPayments(c.ID))
		require.Zero(t, v.proc.ChargeCount())
	})
}

func TestChargeDefaultsAndOverrides(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		c := v.customer()
		prod := v.odProduct(99_00, "INR")
		res, err := v.CreateSubscription(v.ctx, SubscriptionParams{
			ProductID: prod.ID, Quantity: 1, CustomerID: c.ID, PaymentMethod: processor.CardOK,
			Metadata: map[string]string{"plan": "beans"},
			OnDemand: &OnDemand{MandateOnly: new(true), ProductDescription: "Beans on demand", AdaptiveCurrencyFeesInclusive: true},
		})
		require.NoError(t, err)
		s := res.Subscription

		p, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(120_00))})
		require.NoError(t, err)
		require.Equal(t, subscription.PaymentSucceeded, p.Status)
		require.Equal(t, "INR", p.Currency)
		require.Equal(t, int64(120_00), p.Amount)
		require.Equal(t, "Beans on demand", p.Description)
		require.True(t, p.FeesInclusive)
		require.Equal(t, map[string]string{"plan": "beans"}, p.Metadata)
		ch := v.proc.Charges()[0]
		require.Equal(t, "Beans on demand", ch.Description)
		require.Equal(t, map[string]string{"plan": "beans"}, ch.Metadata)
		require.Equal(t, "INR", ch.Currency)
		require.Equal(t, p.ID, ch.IdempotencyKey)
		require.Equal(t, s.MandateID, ch.MandateID)

		p, err = v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(3_25)), ProductCurrency: "usd",
			ProductDescription: "Espresso cups", AdaptiveCurrencyFeesInclusive: new(false),
			Metadata: map[string]string{"order": "42"}})
		require.NoError(t, err)
		require.Equal(t, "USD", p.Currency)
		require.Equal(t, int64(3_25), p.Amount)
		require.Equal(t, "Espresso cups", p.Description)
		require.False(t, p.FeesInclusive)
		require.Equal(t, map[string]string{"order": "42"}, p.Metadata)
		ch = v.proc.Charges()[1]
		require.Equal(t, "USD", ch.Currency)
		require.Equal(t, int64(3_25), ch.Amount)
		require.Equal(t, map[string]string{"order": "42"}, ch.Metadata)

		// The subscription itself is unchanged by overrides.
		got, err := v.Subscription(v.ctx, s.ID)
		require.NoError(t, err)
		require.Equal(t, "INR", got.Currency)
		require.Equal(t, "Beans on demand", got.Description)
		require.Equal(t, t0, got.LastPaymentAt)
	})
}

func TestChargeWalletFirst(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		t.Run("wallet covers all: no processor call", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			v.odFund(c.ID, 10_00, "USD")
			s := v.odSubscribe(c.ID, processor.CardOK)
			before := v.eventTypes()
			p, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(6_00))})
			require.NoError(t, err)
			require.Equal(t, subscription.PaymentSucceeded, p.Status)
			require.Equal(t, int64(6_00), p.WalletAmount)
			require.Zero(t, p.ProcessorAmount)
			require.Empty(t, p.ProcessorID)
			require.Zero(t, v.proc.ChargeCount())
			b := v.odBalance(c.ID, "USD")
			require.Equal(t, int64(4_00), b.Amount)
			require.Zero(t, b.Held)
			h := v.odHold(p.HoldID)
			require.Equal(t, ledger.HoldCaptured, h.Status)
			entries := v.odEntries(c.ID)
			require.Len(t, entries, 2)
			e := entries[0]
			require.Equal(t, ledger.Debit, e.Type)
			require.Equal(t, int64(6_00), e.Amount)
			require.Equal(t, ledger.Reference{Type: ledger.RefPayment, ID: p.ID}, e.Reference)
			require.Equal(t, "Payment "+p.ID, e.Reason)
			require.Equal(t, h.EntryID, e.ID)
			require.Equal(t, map[string]int{EventBalanceChanged: 1, EventPaymentSucceeded: 1}, odDiff(before, v.eventTypes()))
			v.checkLedger(c.ID)
		})

		t.Run("wallet covers part: the processor gets the remainder", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			v.odFund(c.ID, 4_00, "USD")
			v.odFund(c.ID, 50_00, "INR") // another currency is not applied
			s := v.odSubscribe(c.ID, processor.CardOK)
			before := v.eventTypes()
			p, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(10_00))})
			require.NoError(t, err)
			require.Equal(t, subscription.PaymentSucceeded, p.Status)
			require.Equal(t, int64(4_00), p.WalletAmount)
			require.Equal(t, int64(6_00), p.ProcessorAmount)
			require.Equal(t, 1, v.proc.ChargeCount())
			require.Equal(t, int64(6_00), v.proc.Charges()[0].Amount)
			require.Equal(t, v.proc.Charges()[0].ID, p.ProcessorID)
			require.Zero(t, v.odBalance(c.ID, "USD").Amount)
			require.Equal(t, int64(50_00), v.odBalance(c.ID, "INR").Amount)
			e := v.odEntries(c.ID)[0]
			require.Equal(t, ledger.Debit, e.Type)
			require.Equal(t, int64(4_00), e.Amount)
			require.Equal(t, "USD", e.Currency)
			require.Equal(t, ledger.Reference{Type: ledger.RefPayment, ID: p.ID}, e.Reference)
			require.Equal(t, map[string]int{EventBalanceChanged: 1, EventPaymentSucceeded: 1}, odDiff(before, v.eventTypes()))
			v.checkLedger(c.ID)
		})

		t.Run("empty wallet: all to the processor, no hold", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			s := v.odSubscribe(c.ID, processor.CardOK)
			before := v.eventTypes()
			p, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(10_00))})
			require.NoError(t, err)
			require.Zero(t, p.WalletAmount)
			require.Equal(t, int64(10_00), p.ProcessorAmount)
			require.Empty(t, p.HoldID)
			require.Equal(t, int64(10_00), v.proc.Charges()[0].Amount)
			require.Empty(t, v.odEntries(c.ID))
			require.Equal(t, map[string]int{EventPaymentSucceeded: 1}, odDiff(before, v.eventTypes()))
		})

		t.Run("held funds are not applied twice", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			v.odFund(c.ID, 5_00, "USD")
			s := v.odSubscribe(c.ID, processor.CardOK)
			// The first charge's answer is lost and its process crashes:
			// its hold stays in place.
			v.setCrashAfterCharge(func(string) error { return errODCrash })
			first, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(8_00))})
			require.ErrorIs(t, err, errODCrash)
			v.setCrashAfterCharge(nil)
			require.Equal(t, int64(5_00), v.odBalance(c.ID, "USD").Held)
			second, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(3_00))})
			require.NoError(t, err)
			require.Equal(t, subscription.PaymentSucceeded, second.Status)
			require.Zero(t, second.WalletAmount)
			require.Equal(t, int64(3_00), second.ProcessorAmount)
			_, err = v.CreateEntry(v.ctx, c.ID, debit(1, "USD", ""))
			require.ErrorIs(t, err, wallet.ErrInsufficientFunds)
			v.clock.Advance(ReconcileAfter)
			_, err = v.Reconcile(v.ctx)
			require.NoError(t, err)
			first, err = v.Payment(v.ctx, first.ID)
			require.NoError(t, err)
			require.Equal(t, subscription.PaymentSucceeded, first.Status)
			b := v.odBalance(c.ID, "USD")
			require.Zero(t, b.Amount)
			require.Zero(t, b.Held)
			v.checkLedger(c.ID)
		})
	})
}

func TestChargeDeclines(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		type declineCase struct {
			name  string
			token string // payment method of the subscription
			code  string // scripted outcome on the token, "" for the token's own
			want  string // recorded decline code
			soft  bool
		}
		var cases []declineCase
		for _, code := range odHardDeclines {
			cases = append(cases, declineCase{"hard " + code, processor.CardOK, code, code, false})
		}
		cases = append(cases,
			declineCase{"unknown code is not retried", processor.CardOK, "SOMETHING_ODD", "SOMETHING_ODD", false},
			declineCase{"soft INSUFFICIENT_FUNDS", processor.CardInsufficientFunds, "", processor.InsufficientFunds, true},
			declineCase{"soft ISSUER_UNAVAILABLE", processor.CardIssuerUnavailable, "", processor.IssuerUnavailable, true},
			declineCase{"soft NETWORK_ERROR", processor.CardNetworkError, "", processor.NetworkError, true},
			declineCase{"scripted soft INSUFFICIENT_FUNDS", processor.CardOK, processor.InsufficientFunds, processor.InsufficientFunds, true},
			declineCase{"scripted network error", processor.CardOK, processor.NetworkError, processor.NetworkError, true},
		)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				v := newEnv(t, newStore)
				c := v.customer()
				v.odFund(c.ID, 3_00, "USD")
				s := v.odSubscribe(c.ID, tc.token)
				require.Equal(t, subscription.StatusActive, s.Status)
				if tc.code != "" {
					v.proc.Script(tc.token, tc.code)
				}
				before := v.eventTypes()
				p, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(10_00))})
				require.NoError(t, err, "a decline is not an error")
				require.Equal(t, subscription.PaymentFailed, p.Status)
				require.Equal(t, tc.want, p.DeclineCode)
				require.Equal(t, int64(3_00), p.WalletAmount)
				require.Equal(t, int64(7_00), p.ProcessorAmount)
				require.Equal(t, ledger.HoldReleased, v.odHold(p.HoldID).Status)
				b := v.odBalance(c.ID, "USD")
				require.Equal(t, int64(3_00), b.Amount)
				require.Zero(t, b.Held)
				require.Len(t, v.odEntries(c.ID), 1, "only the deposit")
				stored, err := v.Payment(v.ctx, p.ID)
				require.NoError(t, err)
				require.Equal(t, p, stored)

				sub, err := v.Subscription(v.ctx, s.ID)
				require.NoError(t, err)
				atts, err := pageData(v.ListAttempts(v.ctx, AttemptListParams{SubscriptionID: s.ID}))
				require.NoError(t, err)
				cus := v.odCustomer(c.ID)
				if tc.soft {
					require.Equal(t, subscription.StatusActive, sub.Status)
					require.Len(t, atts, 1)
					a := atts[0]
					require.Equal(t, retry.AttemptScheduled, a.Status)
					require.Equal(t, 2, a.Number)
					require.Equal(t, p.ID, a.FirstPaymentID)
					require.Equal(t, int64(10_00), a.Amount)
					// Day 3 at the mandate's time of day (09:00 UTC).
					require.Equal(t, t0.Add(3*retry.Day), a.DueAt)
					require.Equal(t, a.DueAt, p.NextRetryAt)
					require.False(t, cus.Delinquent, "a retry is pending")
					require.Equal(t, map[string]int{EventPaymentFailed: 1, EventRetryScheduled: 1}, odDiff(before, v.eventTypes()))
				} else {
					require.Equal(t, subscription.StatusOnHold, sub.Status)
					require.Equal(t, tc.want, sub.DeclineCode)
					require.Empty(t, atts)
					require.True(t, p.NextRetryAt.IsZero())
					require.True(t, cus.Delinquent)
					require.Equal(t, map[string]int{EventPaymentFailed: 1, EventSubscriptionOnHold: 1, EventCustomerDelinquent: 1},
						odDiff(before, v.eventTypes()))
					// An on-hold subscription cannot be charged; nothing is written.
					before = v.eventTypes()
					n := v.proc.ChargeCount()
					_, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(1_00))})
					require.ErrorIs(t, err, subscription.ErrNotActive)
					require.Equal(t, http.StatusConflict, HTTPStatus(err))
					require.Equal(t, before, v.eventTypes())
					require.Equal(t, n, v.proc.ChargeCount())
					require.Len(t, v.odPayments(c.ID), 1)
				}
				v.checkLedger(c.ID)
			})
		}
	})
}

func TestChargeIdempotency(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		t.Run("replay and conflict", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			s := v.odSubscribe(c.ID, processor.CardOK)
			s2 := v.odSubscribe(c.ID, processor.CardOK)
			p, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(5_00)), IdempotencyKey: "order-1"})
			require.NoError(t, err)
			require.Equal(t, "order-1", p.IdempotencyKey)
			before := len(v.events())
			again, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(5_00)), IdempotencyKey: "order-1"})
			require.NoError(t, err)
			require.Equal(t, p, again)
			require.Equal(t, 1, v.proc.ChargeCount())
			require.Len(t, v.events(), before)
			for name, tc := range map[string]struct {
				sub string
				p   ChargeParams
			}{
				"other amount":       {s.ID, ChargeParams{ProductPrice: new(int64(5_01)), IdempotencyKey: "order-1"}},
				"other currency":     {s.ID, ChargeParams{ProductPrice: new(int64(5_00)), ProductCurrency: "INR", IdempotencyKey: "order-1"}},
				"other description":  {s.ID, ChargeParams{ProductPrice: new(int64(5_00)), ProductDescription: "x", IdempotencyKey: "order-1"}},
				"other subscription": {s2.ID, ChargeParams{ProductPrice: new(int64(5_00)), IdempotencyKey: "order-1"}},
			} {
				_, err := v.Charge(v.ctx, tc.sub, tc.p)
				require.ErrorIs(t, err, subscription.ErrIdempotencyConflict, name)
				require.Equal(t, http.StatusConflict, HTTPStatus(err))
			}
			require.Len(t, v.events(), before)
			require.Len(t, v.odPayments(c.ID), 1)
			// Keys are per customer.
			other := v.customer()
			os := v.odSubscribe(other.ID, processor.CardOK)
			op, err := v.Charge(v.ctx, os.ID, ChargeParams{ProductPrice: new(int64(5_00)), IdempotencyKey: "order-1"})
			require.NoError(t, err)
			require.NotEqual(t, p.ID, op.ID)
		})

		t.Run("a declined charge replays as declined", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			s := v.odSubscribe(c.ID, processor.CardInsufficientFunds)
			p, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(5_00)), IdempotencyKey: "k"})
			require.NoError(t, err)
			require.Equal(t, subscription.PaymentFailed, p.Status)
			again, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(5_00)), IdempotencyKey: "k"})
			require.NoError(t, err)
			require.Equal(t, p, again)
			require.Equal(t, 1, v.proc.ChargeCount())
		})

		t.Run("concurrent requests with one key charge once", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			s := v.odSubscribe(c.ID, processor.CardOK)
			var wg sync.WaitGroup
			ids := make([]string, 16)
			for i := range ids {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					p, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(2_00)), IdempotencyKey: "same"})
					if err != nil {
						t.Error(err)
						return
					}
					ids[i] = p.ID
				}(i)
			}
			wg.Wait()
			for _, id := range ids {
				require.Equal(t, ids[0], id)
			}
			require.Equal(t, 1, v.proc.ChargeCount())
			require.Len(t, v.odPayments(c.ID), 1)
			require.Equal(t, 1, v.eventTypes()[EventPaymentSucceeded])
		})
	})
}

func TestChargeConcurrentWallet(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		c := v.customer()
		v.odFund(c.ID, 10_00, "USD")
		good := v.odSubscribe(c.ID, processor.CardOK)
		bad := v.odSubscribe(c.ID, processor.CardInsufficientFunds)
		const workers, each = 8, 4
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				sub := good.ID
				if w%2 == 1 {
					sub = bad.ID
				}
				for i := 0; i < each; i++ {
					if _, err := v.Charge(v.ctx, sub, ChargeParams{ProductPrice: new(int64(1_50))}); err != nil {
						t.Error(err)
					}
				}
			}(w)
		}
		wg.Wait()
		pays := v.odPayments(c.ID)
		require.Len(t, pays, workers*each)
		var walletPaid, processorPaid int64
		var succeeded, failed int
		for _, p := range pays {
			require.Equal(t, p.Amount, p.WalletAmount+p.ProcessorAmount)
			if p.Status == subscription.PaymentSucceeded {
				succeeded++
				walletPaid += p.WalletAmount
				processorPaid += p.ProcessorAmount
				if p.SubscriptionID == bad.ID {
					require.Zero(t, p.ProcessorAmount, "the declining card only succeeds when the wallet covers all")
				}
			} else {
				failed++
				require.Equal(t, bad.ID, p.SubscriptionID)
				require.Positive(t, p.ProcessorAmount)
				require.Equal(t, subscription.PaymentFailed, p.Status)
				if p.HoldID != "" {
					require.Equal(t, ledger.HoldReleased, v.odHold(p.HoldID).Status, "a failed payment releases its hold")
				}
			}
		}
		b := v.odBalance(c.ID, "USD")
		require.Zero(t, b.Held)
		require.Equal(t, int64(10_00)-walletPaid, b.Amount)
		require.GreaterOrEqual(t, b.Amount, int64(0))
		require.Equal(t, int64(succeeded*1_50), walletPaid+processorPaid)
		require.LessOrEqual(t, walletPaid, int64(10_00), "the wallet is never overspent")
		var charged int64
		for _, ch := range v.proc.Charges() {
			if ch.Status == processor.ChargeSucceeded {
				charged += ch.Amount
			}
		}
		require.Equal(t, processorPaid, charged)
		v.checkLedger(c.ID)
		require.Equal(t, succeeded, v.eventTypes()[EventPaymentSucceeded])
		require.Equal(t, failed, v.eventTypes()[EventPaymentFailed])
	})
}

func TestChargeLostResponse(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		c := v.customer()
		v.odFund(c.ID, 1_00, "USD")
		s := v.odSubscribe(c.ID, processor.CardOK)
		v.proc.FailAfterCharge(1)
		p, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(5_00))})
		require.NoError(t, err)
		require.Equal(t, subscription.PaymentSucceeded, p.Status, "resolved inline by LookupCharge")
		require.Equal(t, 1, v.proc.ChargeCount())
		require.Equal(t, v.proc.Charges()[0].ID, p.ProcessorID)
		require.Zero(t, v.odBalance(c.ID, "USD").Amount)
		require.Equal(t, 1, v.eventTypes()[EventPaymentSucceeded])

		// Lost response of a decline.
		v.proc.FailAfterCharge(1)
		v.proc.Script(processor.CardOK, processor.InsufficientFunds)
		p, err = v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(2_00))})
		require.NoError(t, err)
		require.Equal(t, subscription.PaymentFailed, p.Status)
		require.Equal(t, processor.InsufficientFunds, p.DeclineCode)
		require.Equal(t, 2, v.proc.ChargeCount())
		v.checkLedger(c.ID)
	})
}

// odTimeoutAfterCharge is a processor whose charge call times out on the
// caller's side after the processor acted, as an HTTP client deadline would.
type odTimeoutAfterCharge struct{ *processor.Test }

func (p odTimeoutAfterCharge) Charge(ctx context.Context, req processor.ChargeRequest) (processor.Charge, error) {
	if _, err := p.Test.Charge(ctx, req); err != nil {
		return processor.Charge{}, err
	}
	return processor.Charge{}, fmt.Errorf("posting charge: %w", context.DeadlineExceeded)
}

func TestChargeTimeoutIsUnknownNotDeclined(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		v.setProcessor(odTimeoutAfterCharge{v.proc})
		c := v.customer()
		v.odFund(c.ID, 2_00, "USD")
		s := v.odSubscribe(c.ID, processor.CardOK)
		p, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(5_00))})
		require.NoError(t, err)
		// The processor charged: the payment must not be failed (and its
		// hold released) on a timeout whose outcome is unknown.
		require.Equal(t, subscription.PaymentPending, p.Status)
		require.Equal(t, int64(2_00), v.odBalance(c.ID, "USD").Held)
		v.clock.Advance(ReconcileAfter)
		rep, err := v.Reconcile(v.ctx)
		require.NoError(t, err)
		require.Equal(t, 1, rep.Payments)
		p, err = v.Payment(v.ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, subscription.PaymentSucceeded, p.Status)
		require.Zero(t, v.odBalance(c.ID, "USD").Amount)
		v.checkLedger(c.ID)
	})
}

func TestPayments(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		t.Run("fields", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			v.odFund(c.ID, 2_50, "USD")
			s := v.odSubscribe(c.ID, processor.CardOK)
			v.clock.Advance(time.Minute)
			p, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(10_00)), Metadata: map[string]string{"order": "7"}})
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(p.ID, "pay_"), p.ID)
			require.Equal(t, c.ID, p.CustomerID)
			require.Equal(t, s.ID, p.SubscriptionID)
			require.Equal(t, subscription.KindSubscription, p.Kind)
			require.Equal(t, int64(10_00), p.Amount)
			require.Equal(t, "USD", p.Currency)
			require.Equal(t, int64(2_50), p.WalletAmount)
			require.Equal(t, int64(7_50), p.ProcessorAmount)
			require.Zero(t, p.RefundedAmount)
			require.Equal(t, subscription.PaymentSucceeded, p.Status)
			require.Empty(t, p.DeclineCode)
			require.Equal(t, processor.CardOK, p.PaymentMethod)
			require.Equal(t, "ch_test_1", p.ProcessorID)
			require.Equal(t, map[string]string{"order": "7"}, p.Metadata)
			require.Zero(t, p.RetryAttempt)
			require.Empty(t, p.RetryOf)
			require.Empty(t, p.SettledBy)
			require.True(t, p.NextRetryAt.IsZero())
			require.Equal(t, t0.Add(time.Minute), p.CreatedAt)
			require.Equal(t, t0.Add(time.Minute), p.UpdatedAt)
			require.Equal(t, int64(10_00), p.Paid())
			require.Equal(t, int64(10_00), p.Refundable())
			_, err = v.Payment(v.ctx, "pay_missing")
			require.ErrorIs(t, err, subscription.ErrPaymentNotFound)
			require.Equal(t, http.StatusNotFound, HTTPStatus(err))
		})

		t.Run("list per customer newest first, paginated, filtered", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			other := v.customer()
			s := v.odSubscribe(c.ID, processor.CardOK)
			os := v.odSubscribe(other.ID, processor.CardOK)
			var ids []string
			for i := 0; i < 12; i++ {
				v.clock.Advance(time.Second)
				if i%4 == 3 {
					v.proc.Script(processor.CardOK, processor.StolenCard)
				}
				p, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(int64(100 + i)))})
				require.NoError(t, err)
				ids = append(ids, p.ID)
				if i%4 == 3 { // the stolen card put it on hold; take a fresh one
					s = v.odSubscribe(c.ID, processor.CardOK)
				}
				_, err = v.Charge(v.ctx, os.ID, ChargeParams{ProductPrice: new(int64(1))})
				require.NoError(t, err)
			}
			page, err := v.ListPayments(v.ctx, PaymentListParams{CustomerID: c.ID, ListParams: ListParams{Limit: 5}})
			require.NoError(t, err)
			require.True(t, page.HasMore)
			require.Equal(t, []string{ids[11], ids[10], ids[9], ids[8], ids[7]}, odPayIDs(page.Data))
			page, err = v.ListPayments(v.ctx, PaymentListParams{CustomerID: c.ID, ListParams: ListParams{Limit: 5, StartingAfter: ids[7]}})
			require.NoError(t, err)
			require.Equal(t, []string{ids[6], ids[5], ids[4], ids[3], ids[2]}, odPayIDs(page.Data))
			require.True(t, page.HasMore)
			page, err = v.ListPayments(v.ctx, PaymentListParams{CustomerID: c.ID, ListParams: ListParams{Limit: 5, StartingAfter: ids[2]}})
			require.NoError(t, err)
			require.Equal(t, []string{ids[1], ids[0]}, odPayIDs(page.Data))
			require.False(t, page.HasMore)
			page, err = v.ListPayments(v.ctx, PaymentListParams{CustomerID: c.ID, ListParams: ListParams{Limit: 2, EndingBefore: ids[5]}})
			require.NoError(t, err)
			require.Equal(t, []string{ids[7], ids[6]}, odPayIDs(page.Data))

			failed, err := v.ListPayments(v.ctx, PaymentListParams{CustomerID: c.ID, Statuses: []subscription.PaymentStatus{subscription.PaymentFailed}})
			require.NoError(t, err)
			require.Equal(t, []string{ids[11], ids[7], ids[3]}, odPayIDs(failed.Data))
			for _, p := range failed.Data {
				require.Equal(t, processor.StolenCard, p.DeclineCode)
			}
			all := v.odPayments(c.ID)
			require.Len(t, all, 12)
			require.Len(t, v.odPayments(other.ID), 12)

			_, err = v.ListPayments(v.ctx, PaymentListParams{CustomerID: "cus_missing"})
			require.ErrorIs(t, err, customer.ErrNotFound)
			_, err = v.ListPayments(v.ctx, PaymentListParams{CustomerID: c.ID, ListParams: ListParams{Limit: 101}})
			require.ErrorIs(t, err, ErrInvalidLimit)
			_, err = v.ListPayments(v.ctx, PaymentListParams{CustomerID: c.ID, ListParams: ListParams{StartingAfter: "pay_missing"}})
			require.ErrorIs(t, err, ErrInvalidCursor)
			require.Equal(t, http.StatusUnprocessableEntity, HTTPStatus(err))
		})
	})
}

func odPayIDs(list []subscription.Payment) []string {
	out := make([]string, len(list))
	for i, p := range list {
		out[i] = p.ID
	}
	return out
}
