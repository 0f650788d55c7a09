package stripe

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/processor"
)

// mockProcessor returns a Processor on stripe-mock (COFFER_STRIPE_MOCK, e.g.
// http://127.0.0.1:12111), skipping when it is unset. stripe-mock checks
// every request against Stripe's OpenAPI description and answers with
// fixtures (reflecting some parameters): these tests prove the requests are
// valid and the answers decode; outcomes are tested on httptest fixtures.
func mockProcessor(t *testing.T) *Processor {
	t.Helper()
	base := os.Getenv("COFFER_STRIPE_MOCK")
	if base == "" {
		t.Skip("COFFER_STRIPE_MOCK is unset (start stripe-mock and export its http address)")
	}
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	p, err := New(Config{SecretKey: "sk_test_123", APIBase: base, ReturnURL: "https://shop.test/return",
		NetworkRetries: new(int64(0))})
	require.NoError(t, err)
	return p
}

func TestMockMandates(t *testing.T) {
	p := mockProcessor(t)
	ctx := context.Background()

	m, err := p.AuthorizeMandate(ctx, processor.MandateRequest{IdempotencyKey: "sub_mock_1", CustomerID: "cus_coffer_1",
		PaymentMethod: "pm_card_visa"})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(m.ID, "seti_"), m.ID)
	// stripe-mock's fixture is requires_payment_method with a last error.
	require.Contains(t, []processor.MandateStatus{processor.MandateAuthorized, processor.MandateRequiresAction,
		processor.MandateFailed}, m.Status)

	got, err := p.MandateStatus(ctx, m.ID)
	require.NoError(t, err)
	require.Equal(t, m.ID, got.ID)

	hosted, err := p.AuthorizeMandate(ctx, processor.MandateRequest{IdempotencyKey: "sub_mock_2", CustomerID: "cus_coffer_1",
		PaymentMethod: HostedPaymentMethod, PaymentLink: true, ReturnURL: "https://shop.test/done"})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(hosted.ID, "cs_"), hosted.ID)
	require.Equal(t, processor.MandateRequiresAction, hosted.Status)
	require.NotEmpty(t, hosted.PaymentLink)

	back, err := p.MandateStatus(ctx, hosted.ID)
	require.NoError(t, err)
	require.Equal(t, hosted.ID, back.ID)

	_, err = p.MandateStatus(ctx, "mdt_test_1")
	require.ErrorIs(t, err, processor.ErrMandateNotFound)
}

func TestMockChargeLookupRefund(t *testing.T) {
	p := mockProcessor(t)
	ctx := context.Background()
	// stripe-mock cannot authorise a SetupIntent: seed the mandate cache
	// as an authorised MandateStatus would.
	p.mandates.Store("seti_mock", mandateRef{customer: "cus_mock", paymentMethod: "pm_card_visa"})

	ch, err := p.Charge(ctx, processor.ChargeRequest{IdempotencyKey: "pay_mock_1", MandateID: "seti_mock",
		Amount: 42_50, Currency: "USD", Description: "usage", Metadata: map[string]string{"order": "1001"}})
	if err != nil {
		require.ErrorIs(t, err, ErrChargePending) // a fixture status without a final outcome
	} else {
		require.True(t, strings.HasPrefix(ch.ID, "pi_"), ch.ID)
		require.Equal(t, "pay_mock_1", ch.IdempotencyKey)
	}

	// The fixtures never carry coffer's metadata: search then the list
	// scan run, and nothing matches.
	_, err = p.LookupCharge(ctx, "pay_mock_1")
	require.ErrorIs(t, err, processor.ErrNotFound)

	r, err := p.Refund(ctx, processor.RefundRequest{IdempotencyKey: "ref_mock_1", ChargeID: "pi_mock", Amount: 10_00})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(r.ID, "re_"), r.ID)

	_, err = p.Refund(ctx, processor.RefundRequest{IdempotencyKey: "ref_mock_2", ChargeID: "ch_mock", Amount: 5_00})
	require.NoError(t, err)
}

func TestMockRejectsBadRequests(t *testing.T) {
	p := mockProcessor(t)
	// stripe-mock validates parameters: a negative amount never leaves
	// coffer, and an unknown currency comes back as a Stripe 400.
	_, err := p.Charge(context.Background(), processor.ChargeRequest{IdempotencyKey: "pay_bad", MandateID: "seti_x", Amount: -1, Currency: "USD"})
	require.ErrorIs(t, err, processor.ErrInvalidRequest)
	require.False(t, errors.Is(err, processor.ErrUnavailable))
}
