package processor_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/processor"
)

func TestSetLinkBase(t *testing.T) {
	ctx := context.Background()
	p, _ := newTest()
	p.SetLinkBase("http://127.0.0.1:8080/test-mode/authorize/")
	m, err := p.AuthorizeMandate(ctx, processor.MandateRequest{IdempotencyKey: "sub_1",
		PaymentMethod: processor.CardRequiresAction, ReturnURL: "https://shop.example/done"})
	require.NoError(t, err)
	require.Equal(t, "http://127.0.0.1:8080/test-mode/authorize/mdt_test_1?return_url=https%3A%2F%2Fshop.example%2Fdone", m.PaymentLink)

	// A replay keeps the link it was given; "" restores the default for new mandates.
	p.SetLinkBase("")
	again, err := p.AuthorizeMandate(ctx, processor.MandateRequest{IdempotencyKey: "sub_1",
		PaymentMethod: processor.CardRequiresAction})
	require.NoError(t, err)
	require.Equal(t, m.PaymentLink, again.PaymentLink)
	m2, err := p.AuthorizeMandate(ctx, processor.MandateRequest{IdempotencyKey: "sub_2",
		PaymentMethod: processor.CardRequiresAction})
	require.NoError(t, err)
	require.Equal(t, processor.DefaultLinkBase+"/mdt_test_2", m2.PaymentLink)
}

func TestSetIDPrefix(t *testing.T) {
	ctx := context.Background()
	p, _ := newTest()
	require.NoError(t, p.SetIDPrefix("r4nd0m"))
	m, err := p.AuthorizeMandate(ctx, processor.MandateRequest{IdempotencyKey: "sub_1", PaymentMethod: processor.CardOK})
	require.NoError(t, err)
	require.Equal(t, "mdt_test_r4nd0m_1", m.ID)
	c, err := p.Charge(ctx, processor.ChargeRequest{IdempotencyKey: "pay_1", MandateID: m.ID, PaymentMethod: processor.CardOK, Amount: 100, Currency: "USD"})
	require.NoError(t, err)
	require.Equal(t, "ch_test_r4nd0m_1", c.ID)
	for _, bad := range []string{"has space", "dash-es", "waytoolongprefix17"} {
		require.ErrorIs(t, p.SetIDPrefix(bad), processor.ErrInvalidRequest, bad)
	}
	require.NoError(t, p.SetIDPrefix(""))
	m2, err := p.AuthorizeMandate(ctx, processor.MandateRequest{IdempotencyKey: "sub_2", PaymentMethod: processor.CardOK})
	require.NoError(t, err)
	require.Equal(t, "mdt_test_2", m2.ID)
}
