package processor_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/clock"
	"github.com/cofferhq/coffer/processor"
)

var t0 = time.Date(2026, 3, 2, 13, 10, 0, 0, time.UTC)

func newTest() (*processor.Test, *clock.Test) {
	clk := clock.NewTest(t0)
	return processor.NewTest(clk), clk
}

func charge(key, pm string) processor.ChargeRequest {
	return processor.ChargeRequest{IdempotencyKey: key, PaymentMethod: pm, Amount: 1000, Currency: "USD"}
}

// tokenCases is the behaviour table every token must follow; it is the
// godoc table of the Card* constants, as data.
var tokenCases = []struct {
	token          string
	mandate        processor.MandateStatus
	mandateDecline string
	chargeStatus   processor.ChargeStatus // "" when the charge is an unavailable error
	chargeDecline  string
}{
	{processor.CardOK, processor.MandateAuthorized, "", processor.ChargeSucceeded, ""},
	{processor.CardRequiresAction, processor.MandateRequiresAction, "", processor.ChargeSucceeded, ""},
	{processor.CardDoNotHonor, processor.MandateFailed, processor.DoNotHonor, processor.ChargeFailed, processor.DoNotHonor},
	{processor.CardStolen, processor.MandateFailed, processor.StolenCard, processor.ChargeFailed, processor.StolenCard},
	{processor.CardLost, processor.MandateFailed, processor.LostCard, processor.ChargeFailed, processor.LostCard},
	{processor.CardPickup, processor.MandateFailed, processor.PickupCard, processor.ChargeFailed, processor.PickupCard},
	{processor.CardFraudulent, processor.MandateFailed, processor.Fraudulent, processor.ChargeFailed, processor.Fraudulent},
	{processor.CardAuthenticationFailure, processor.MandateFailed, processor.AuthenticationFailure, processor.ChargeFailed, processor.AuthenticationFailure},
	{processor.CardInsufficientFunds, processor.MandateAuthorized, "", processor.ChargeFailed, processor.InsufficientFunds},
	{processor.CardIssuerUnavailable, processor.MandateAuthorized, "", processor.ChargeFailed, processor.IssuerUnavailable},
	{processor.CardNetworkError, processor.MandateAuthorized, "", "", ""},
}

func TestTokenTableCoversEveryCardAndDeclineCode(t *testing.T) {
	var tokens []string
	codes := map[string]bool{}
	for _, tc := range tokenCases {
		tokens = append(tokens, tc.token)
		codes[tc.chargeDecline] = true
		codes[tc.mandateDecline] = true
	}
	require.ElementsMatch(t, processor.Cards(), tokens)
	codes[processor.NetworkError] = true // pm_card_network_error
	for _, code := range []string{
		processor.DoNotHonor, processor.StolenCard, processor.LostCard, processor.PickupCard,
		processor.Fraudulent, processor.AuthenticationFailure, processor.InsufficientFunds,
		processor.IssuerUnavailable, processor.NetworkError,
	} {
		require.True(t, codes[code], "no token produces %s", code)
	}
}

func TestMandateByToken(t *testing.T) {
	ctx := context.Background()
	for _, tc := range tokenCases {
		t.Run(tc.token, func(t *testing.T) {
			p, _ := newTest()
			m, err := p.AuthorizeMandate(ctx, processor.MandateRequest{
				IdempotencyKey: "sub_1", CustomerID: "cus_1", PaymentMethod: tc.token,
				ReturnURL: "https://shop.example/done",
			})
			require.NoError(t, err)
			require.Equal(t, "mdt_test_1", m.ID)
			require.Equal(t, tc.mandate, m.Status)
			require.Equal(t, tc.mandateDecline, m.DeclineCode)
			switch tc.mandate {
			case processor.MandateAuthorized:
				require.Equal(t, t0, m.AuthorizedAt)
				require.Empty(t, m.PaymentLink)
			case processor.MandateRequiresAction:
				require.True(t, m.AuthorizedAt.IsZero())
				require.Equal(t, "https://pay.test/authorize/mdt_test_1?return_url=https%3A%2F%2Fshop.example%2Fdone", m.PaymentLink)
			case processor.MandateFailed:
				require.True(t, m.AuthorizedAt.IsZero())
				require.Empty(t, m.PaymentLink)
			}
			got, err := p.MandateStatus(ctx, m.ID)
			require.NoError(t, err)
			require.Equal(t, m, got)
		})
	}
}

func TestChargeByToken(t *testing.T) {
	ctx := context.Background()
	for _, tc := range tokenCases {
		t.Run(tc.token, func(t *testing.T) {
			p, _ := newTest()
			req := charge("pay_1", tc.token)
			if tc.mandate == processor.MandateRequiresAction {
				m, err := p.AuthorizeMandate(ctx, processor.MandateRequest{IdempotencyKey: "sub_1", PaymentMethod: tc.token})
				require.NoError(t, err)
				_, err = p.CompleteMandate(m.ID, true)
				require.NoError(t, err)
				req.MandateID = m.ID
			}
			c, err := p.Charge(ctx, req)
			if tc.chargeStatus == "" {
				require.ErrorIs(t, err, processor.ErrUnavailable)
				require.Equal(t, 0, p.ChargeCount())
				_, err = p.LookupCharge(ctx, "pay_1")
				require.ErrorIs(t, err, processor.ErrNotFound)
				return
			}
			require.NoError(t, err)
			want := processor.Charge{
				ID: "ch_test_1", IdempotencyKey: "pay_1", Status: tc.chargeStatus,
				DeclineCode: tc.chargeDecline, Amount: 1000, Currency: "USD",
			}
			require.Equal(t, want, c)
			got, err := p.LookupCharge(ctx, "pay_1")
			require.NoError(t, err)
			require.Equal(t, want, got)
			require.Equal(t, 1, p.ChargeCount())
		})
	}
}

func TestRequiresActionFlow(t *testing.T) {
	ctx := context.Background()
	p, clk := newTest()
	m, err := p.AuthorizeMandate(ctx, processor.MandateRequest{
		IdempotencyKey: "sub_1", PaymentMethod: processor.CardRequiresAction, PaymentLink: true,
		ReturnURL: "https://shop.example/back?order=7&x=a b",
	})
	require.NoError(t, err)
	require.Equal(t, processor.MandateRequiresAction, m.Status)
	require.Equal(t, "https://pay.test/authorize/mdt_test_1?return_url=https%3A%2F%2Fshop.example%2Fback%3Forder%3D7%26x%3Da+b", m.PaymentLink)

	// Charging before the customer finished the hosted page is refused.
	_, err = p.Charge(ctx, processor.ChargeRequest{IdempotencyKey: "pay_0", MandateID: m.ID,
		PaymentMethod: processor.CardRequiresAction, Amount: 100, Currency: "USD"})
	require.ErrorIs(t, err, processor.ErrMandateNotAuthorized)
	require.NotErrorIs(t, err, processor.ErrUnavailable)
	require.Equal(t, 0, p.ChargeCount())

	at := clk.Advance(7*time.Minute + 3*time.Second)
	done, err := p.CompleteMandate(m.ID, true)
	require.NoError(t, err)
	require.Equal(t, processor.MandateAuthorized, done.Status)
	require.Equal(t, at, done.AuthorizedAt)
	st, err := p.MandateStatus(ctx, m.ID)
	require.NoError(t, err)
	require.Equal(t, done, st)

	_, err = p.CompleteMandate(m.ID, false)
	require.ErrorIs(t, err, processor.ErrMandateNotPending)

	// A repeat of the authorisation returns the mandate's current state.
	again, err := p.AuthorizeMandate(ctx, processor.MandateRequest{IdempotencyKey: "sub_1", PaymentMethod: processor.CardRequiresAction})
	require.NoError(t, err)
	require.Equal(t, done, again)

	c, err := p.Charge(ctx, processor.ChargeRequest{IdempotencyKey: "pay_1", MandateID: m.ID,
		PaymentMethod: processor.CardRequiresAction, Amount: 100, Currency: "USD"})
	require.NoError(t, err)
	require.Equal(t, processor.ChargeSucceeded, c.Status)

	// The customer abandons the page of a second mandate.
	m2, err := p.AuthorizeMandate(ctx, processor.MandateRequest{IdempotencyKey: "sub_2", PaymentMethod: processor.CardRequiresAction})
	require.NoError(t, err)
	require.Equal(t, "https://pay.test/authorize/mdt_test_2", m2.PaymentLink)
	failed, err := p.CompleteMandate(m2.ID, false)
	require.NoError(t, err)
	require.Equal(t, processor.MandateFailed, failed.Status)
	require.Equal(t, processor.AuthenticationFailure, failed.DeclineCode)
	require.True(t, failed.AuthorizedAt.IsZero())
	_, err = p.Charge(ctx, processor.ChargeRequest{IdempotencyKey: "pay_2", MandateID: m2.ID,
		PaymentMethod: processor.CardRequiresAction, Amount: 100, Currency: "USD"})
	require.ErrorIs(t, err, processor.ErrMandateNotAuthorized)

	_, err = p.CompleteMandate("mdt_nope", true)
	require.ErrorIs(t, err, processor.ErrMandateNotFound)
	_, err = p.MandateStatus(ctx, "mdt_nope")
	require.ErrorIs(t, err, processor.ErrMandateNotFound)
}

func TestChargeOnFailedMandateRefused(t *testing.T) {
	ctx := context.Background()
	p, _ := newTest()
	m, err := p.AuthorizeMandate(ctx, processor.MandateRequest{IdempotencyKey: "sub_1", PaymentMethod: processor.CardStolen})
	require.NoError(t, err)
	req := charge("pay_1", processor.CardStolen)
	req.MandateID = m.ID
	_, err = p.Charge(ctx, req)
	require.ErrorIs(t, err, processor.ErrMandateNotAuthorized)

	// A mandate id the processor does not know (a Test created after a
	// simulated restart) is accepted.
	req.MandateID = "mdt_from_before_restart"
	c, err := p.Charge(ctx, req)
	require.NoError(t, err)
	require.Equal(t, processor.StolenCard, c.DeclineCode)
}

func TestMandateIdempotency(t *testing.T) {
	ctx := context.Background()
	p, clk := newTest()
	req := processor.MandateRequest{IdempotencyKey: "sub_1", PaymentMethod: processor.CardOK}
	m1, err := p.AuthorizeMandate(ctx, req)
	require.NoError(t, err)
	clk.Advance(time.Hour)
	m2, err := p.AuthorizeMandate(ctx, req)
	require.NoError(t, err)
	require.Equal(t, m1, m2, "a replay returns the first mandate, authorised at the first time")

	req.PaymentMethod = processor.CardLost
	_, err = p.AuthorizeMandate(ctx, req)
	require.ErrorIs(t, err, processor.ErrIdempotencyMismatch)

	m3, err := p.AuthorizeMandate(ctx, processor.MandateRequest{IdempotencyKey: "sub_2", PaymentMethod: processor.CardOK})
	require.NoError(t, err)
	require.Equal(t, "mdt_test_2", m3.ID)
}

func TestInvalidRequests(t *testing.T) {
	ctx := context.Background()
	p, _ := newTest()

	_, err := p.AuthorizeMandate(ctx, processor.MandateRequest{IdempotencyKey: "sub_1", PaymentMethod: "pm_card_visa"})
	require.ErrorIs(t, err, processor.ErrUnknownPaymentMethod)
	require.NotErrorIs(t, err, processor.ErrUnavailable)
	_, err = p.AuthorizeMandate(ctx, processor.MandateRequest{IdempotencyKey: "sub_1"})
	require.ErrorIs(t, err, processor.ErrUnknownPaymentMethod)
	_, err = p.AuthorizeMandate(ctx, processor.MandateRequest{PaymentMethod: processor.CardOK})
	require.ErrorIs(t, err, processor.ErrInvalidRequest)

	for name, req := range map[string]processor.ChargeRequest{
		"unknown token": charge("pay_1", "pm_card_visa"),
		"no key":        charge("", processor.CardOK),
		"zero amount":   {IdempotencyKey: "pay_1", PaymentMethod: processor.CardOK, Currency: "USD"},
		"negative":      {IdempotencyKey: "pay_1", PaymentMethod: processor.CardOK, Amount: -5, Currency: "USD"},
		"no currency":   {IdempotencyKey: "pay_1", PaymentMethod: processor.CardOK, Amount: 5},
	} {
		_, err := p.Charge(ctx, req)
		require.Error(t, err, name)
		require.NotErrorIs(t, err, processor.ErrUnavailable, name)
		if name == "unknown token" {
			require.ErrorIs(t, err, processor.ErrUnknownPaymentMethod)
		} else {
			require.ErrorIs(t, err, processor.ErrInvalidRequest, name)
		}
	}
	require.Equal(t, 0, p.ChargeCount())
	_, err = p.LookupCharge(ctx, "pay_1")
	require.ErrorIs(t, err, processor.ErrNotFound)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = p.Charge(cancelled, charge("pay_1", processor.CardOK))
	require.ErrorIs(t, err, context.Canceled)
	_, err = p.AuthorizeMandate(cancelled, processor.MandateRequest{IdempotencyKey: "sub_1", PaymentMethod: processor.CardOK})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 0, p.ChargeCount())
}

func TestChargeIdempotency(t *testing.T) {
	ctx := context.Background()
	p, _ := newTest()
	first, err := p.Charge(ctx, charge("pay_1", processor.CardOK))
	require.NoError(t, err)
	require.Equal(t, processor.ChargeSucceeded, first.Status)

	// Even with the token's behaviour changed, a replay returns the first
	// result and charges nothing.
	p.Script(processor.CardOK, processor.InsufficientFunds)
	again, err := p.Charge(ctx, charge("pay_1", processor.CardOK))
	require.NoError(t, err)
	require.Equal(t, first, again)
	require.Equal(t, 1, p.ChargeCount())

	// The script was not consumed by the replay.
	c2, err := p.Charge(ctx, charge("pay_2", processor.CardOK))
	require.NoError(t, err)
	require.Equal(t, "ch_test_2", c2.ID)
	require.Equal(t, processor.InsufficientFunds, c2.DeclineCode)

	// A declined charge replays as declined.
	c2again, err := p.Charge(ctx, charge("pay_2", processor.CardOK))
	require.NoError(t, err)
	require.Equal(t, c2, c2again)

	other := charge("pay_1", processor.CardOK)
	other.Amount = 999
	_, err = p.Charge(ctx, other)
	require.ErrorIs(t, err, processor.ErrIdempotencyMismatch)
	other = charge("pay_1", processor.CardOK)
	other.Currency = "INR"
	_, err = p.Charge(ctx, other)
	require.ErrorIs(t, err, processor.ErrIdempotencyMismatch)
	require.Equal(t, 2, p.ChargeCount())
}

func TestScript(t *testing.T) {
	ctx := context.Background()
	p, _ := newTest()
	p.Script(processor.CardOK, processor.InsufficientFunds, processor.NetworkError)
	p.Script(processor.CardOK, "", "SOMETHING_NEW")
	p.Script(processor.CardInsufficientFunds, "") // a soft-decline card that recovers once

	type outcome struct {
		status  processor.ChargeStatus
		decline string
		unavail bool
	}
	var got []outcome
	for i := range 6 {
		c, err := p.Charge(ctx, charge(fmt.Sprintf("pay_%d", i), processor.CardOK))
		if err != nil {
			require.ErrorIs(t, err, processor.ErrUnavailable)
			got = append(got, outcome{unavail: true})
			continue
		}
		got = append(got, outcome{status: c.Status, decline: c.DeclineCode})
	}
	require.Equal(t, []outcome{
		{status: processor.ChargeFailed, decline: processor.InsufficientFunds},
		{unavail: true},
		{status: processor.ChargeSucceeded},
		{status: processor.ChargeFailed, decline: "SOMETHING_NEW"},
		{status: processor.ChargeSucceeded}, // queue empty: the token's default
		{status: processor.ChargeSucceeded},
	}, got)
	require.Equal(t, 5, p.ChargeCount(), "the network error was not recorded")
	_, err := p.LookupCharge(ctx, "pay_1")
	require.ErrorIs(t, err, processor.ErrNotFound)

	c, err := p.Charge(ctx, charge("soft_1", processor.CardInsufficientFunds))
	require.NoError(t, err)
	require.Equal(t, processor.ChargeSucceeded, c.Status)
	c, err = p.Charge(ctx, charge("soft_2", processor.CardInsufficientFunds))
	require.NoError(t, err)
	require.Equal(t, processor.InsufficientFunds, c.DeclineCode)

	// A network error on the default token, then a retry under the same
	// key reaches the processor and is charged once.
	_, err = p.Charge(ctx, charge("net_1", processor.CardNetworkError))
	require.ErrorIs(t, err, processor.ErrUnavailable)
	p.Script(processor.CardNetworkError, "")
	c, err = p.Charge(ctx, charge("net_1", processor.CardNetworkError))
	require.NoError(t, err)
	require.Equal(t, processor.ChargeSucceeded, c.Status)
	found, err := p.LookupCharge(ctx, "net_1")
	require.NoError(t, err)
	require.Equal(t, c, found)
}

func TestFailAfterCharge(t *testing.T) {
	ctx := context.Background()
	p, _ := newTest()
	p.FailAfterCharge(2)
	p.Script(processor.CardOK, "", processor.InsufficientFunds)

	_, err := p.Charge(ctx, charge("pay_1", processor.CardOK))
	require.ErrorIs(t, err, processor.ErrUnavailable)
	_, err = p.Charge(ctx, charge("pay_2", processor.CardOK))
	require.ErrorIs(t, err, processor.ErrUnavailable)
	require.Equal(t, 2, p.ChargeCount(), "the processor acted on both")

	c1, err := p.LookupCharge(ctx, "pay_1")
	require.NoError(t, err)
	require.Equal(t, processor.ChargeSucceeded, c1.Status)
	c2, err := p.LookupCharge(ctx, "pay_2")
	require.NoError(t, err)
	require.Equal(t, processor.InsufficientFunds, c2.DeclineCode)

	// Resending the request returns the recorded outcome, without a second charge.
	again, err := p.Charge(ctx, charge("pay_1", processor.CardOK))
	require.NoError(t, err)
	require.Equal(t, c1, again)

	// The fault was for two charges only.
	c3, err := p.Charge(ctx, charge("pay_3", processor.CardOK))
	require.NoError(t, err)
	require.Equal(t, "ch_test_3", c3.ID)
	require.Equal(t, 3, p.ChargeCount())

	// Unavailable outcomes are not acted on and do not use up the fault.
	p.FailAfterCharge(1)
	_, err = p.Charge(ctx, charge("pay_4", processor.CardNetworkError))
	require.ErrorIs(t, err, processor.ErrUnavailable)
	_, err = p.Charge(ctx, charge("pay_5", processor.CardOK))
	require.ErrorIs(t, err, processor.ErrUnavailable)
	_, err = p.LookupCharge(ctx, "pay_5")
	require.NoError(t, err)
	p.FailAfterCharge(1)
	p.FailAfterCharge(0)
	_, err = p.Charge(ctx, charge("pay_6", processor.CardOK))
	require.NoError(t, err)
}

func TestSetUnavailable(t *testing.T) {
	ctx := context.Background()
	p, _ := newTest()
	c, err := p.Charge(ctx, charge("pay_1", processor.CardOK))
	require.NoError(t, err)

	p.SetUnavailable(true)
	_, err = p.Charge(ctx, charge("pay_2", processor.CardOK))
	require.ErrorIs(t, err, processor.ErrUnavailable)
	_, err = p.LookupCharge(ctx, "pay_1")
	require.ErrorIs(t, err, processor.ErrUnavailable)
	_, err = p.AuthorizeMandate(ctx, processor.MandateRequest{IdempotencyKey: "sub_1", PaymentMethod: processor.CardOK})
	require.ErrorIs(t, err, processor.ErrUnavailable)
	_, err = p.MandateStatus(ctx, "mdt_test_1")
	require.ErrorIs(t, err, processor.ErrUnavailable)
	_, err = p.Refund(ctx, processor.RefundRequest{IdempotencyKey: "re_1", ChargeID: c.ID, Amount: 1})
	require.ErrorIs(t, err, processor.ErrUnavailable)
	require.Equal(t, 1, p.ChargeCount())
	require.Empty(t, p.Refunds())

	p.SetUnavailable(false)
	_, err = p.LookupCharge(ctx, "pay_2")
	require.ErrorIs(t, err, processor.ErrNotFound)
}

func TestRefunds(t *testing.T) {
	ctx := context.Background()
	p, clk := newTest()
	c, err := p.Charge(ctx, charge("pay_1", processor.CardOK)) // 1000 USD
	require.NoError(t, err)
	declined, err := p.Charge(ctx, charge("pay_2", processor.CardInsufficientFunds))
	require.NoError(t, err)

	clk.Advance(time.Hour)
	r1, err := p.Refund(ctx, processor.RefundRequest{IdempotencyKey: "ref_1", ChargeID: c.ID, Amount: 300, Currency: "USD"})
	require.NoError(t, err)
	require.Equal(t, processor.Refund{ID: "re_test_1", Amount: 300}, r1)

	// Idempotent: a replay returns the first refund and refunds nothing more.
	again, err := p.Refund(ctx, processor.RefundRequest{IdempotencyKey: "ref_1", ChargeID: c.ID, Amount: 300})
	require.NoError(t, err)
	require.Equal(t, r1, again)
	_, err = p.Refund(ctx, processor.RefundRequest{IdempotencyKey: "ref_1", ChargeID: c.ID, Amount: 301})
	require.ErrorIs(t, err, processor.ErrIdempotencyMismatch)

	// Never more than the charge in total.
	_, err = p.Refund(ctx, processor.RefundRequest{IdempotencyKey: "ref_2", ChargeID: c.ID, Amount: 701})
	require.ErrorIs(t, err, processor.ErrRefundExceedsCharge)
	r2, err := p.Refund(ctx, processor.RefundRequest{IdempotencyKey: "ref_2", ChargeID: c.ID, Amount: 700})
	require.NoError(t, err)
	require.Equal(t, "re_test_2", r2.ID)
	_, err = p.Refund(ctx, processor.RefundRequest{IdempotencyKey: "ref_3", ChargeID: c.ID, Amount: 1})
	require.ErrorIs(t, err, processor.ErrRefundExceedsCharge)

	_, err = p.Refund(ctx, processor.RefundRequest{IdempotencyKey: "ref_4", ChargeID: declined.ID, Amount: 1})
	require.ErrorIs(t, err, processor.ErrNotRefundable)
	_, err = p.Refund(ctx, processor.RefundRequest{IdempotencyKey: "ref_5", ChargeID: "ch_nope", Amount: 1})
	require.ErrorIs(t, err, processor.ErrUnknownCharge)
	_, err = p.Refund(ctx, processor.RefundRequest{IdempotencyKey: "ref_6", ChargeID: c.ID, Amount: 0})
	require.ErrorIs(t, err, processor.ErrInvalidRequest)
	_, err = p.Refund(ctx, processor.RefundRequest{ChargeID: c.ID, Amount: 1})
	require.ErrorIs(t, err, processor.ErrInvalidRequest)

	c3, err := p.Charge(ctx, charge("pay_3", processor.CardOK))
	require.NoError(t, err)
	_, err = p.Refund(ctx, processor.RefundRequest{IdempotencyKey: "ref_7", ChargeID: c3.ID, Amount: 1, Currency: "INR"})
	require.ErrorIs(t, err, processor.ErrInvalidRequest)

	require.Equal(t, []processor.RecordedRefund{
		{Refund: r1, IdempotencyKey: "ref_1", ChargeID: c.ID, Currency: "USD", CreatedAt: t0.Add(time.Hour)},
		{Refund: r2, IdempotencyKey: "ref_2", ChargeID: c.ID, Currency: "USD", CreatedAt: t0.Add(time.Hour)},
	}, p.Refunds())
}

func TestIntrospectionReturnsCopies(t *testing.T) {
	ctx := context.Background()
	p, clk := newTest()
	m, err := p.AuthorizeMandate(ctx, processor.MandateRequest{IdempotencyKey: "sub_1", PaymentMethod: processor.CardOK})
	require.NoError(t, err)
	meta := map[string]string{"retry_attempt": "2"}
	clk.Advance(time.Minute)
	_, err = p.Charge(ctx, processor.ChargeRequest{IdempotencyKey: "pay_1", MandateID: m.ID, PaymentMethod: processor.CardOK,
		Amount: 250, Currency: "INR", Description: "top-up", Metadata: meta})
	require.NoError(t, err)
	meta["retry_attempt"] = "changed by caller"

	got := p.Charges()
	require.Equal(t, []processor.RecordedCharge{{
		Charge: processor.Charge{ID: "ch_test_1", IdempotencyKey: "pay_1", Status: processor.ChargeSucceeded,
			Amount: 250, Currency: "INR"},
		MandateID: m.ID, PaymentMethod: processor.CardOK, Description: "top-up",
		Metadata: map[string]string{"retry_attempt": "2"}, CreatedAt: t0.Add(time.Minute),
	}}, got)
	got[0].Metadata["retry_attempt"] = "changed by test"
	require.Equal(t, "2", p.Charges()[0].Metadata["retry_attempt"])
}

func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	p, _ := newTest()
	const keys, callers = 50, 4
	var wg sync.WaitGroup
	results := make([][]processor.Charge, callers)
	for g := range callers {
		results[g] = make([]processor.Charge, keys)
		wg.Go(func() {
			for k := range keys {
				c, err := p.Charge(ctx, charge(fmt.Sprintf("pay_%d", k), processor.CardOK))
				if err != nil {
					t.Error(err)
					return
				}
				results[g][k] = c
				_, _ = p.LookupCharge(ctx, c.IdempotencyKey)
				_ = p.Charges()
			}
		})
	}
	wg.Wait()
	require.Equal(t, keys, p.ChargeCount(), "each key charged exactly once")
	for g := 1; g < callers; g++ {
		require.Equal(t, results[0], results[g], "every caller saw the same charge per key")
	}

	// Concurrent refunds of one charge never exceed it.
	c := results[0][0]
	var mu sync.Mutex
	var refunded int64
	for g := range 8 {
		wg.Go(func() {
			for i := range 5 {
				r, err := p.Refund(ctx, processor.RefundRequest{IdempotencyKey: fmt.Sprintf("ref_%d_%d", g, i), ChargeID: c.ID, Amount: 30})
				if errors.Is(err, processor.ErrRefundExceedsCharge) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				refunded += r.Amount
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Equal(t, int64(990), refunded, "33 refunds of 30 fit in 1000")
	require.Len(t, p.Refunds(), 33)
}
