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
