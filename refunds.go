package coffer

import (
	"context"
	"fmt"

	"github.com/cofferhq/coffer/internal/charge"
	"github.com/cofferhq/coffer/internal/text"
	"github.com/cofferhq/coffer/subscription"
)

// RefundParams refunds a succeeded payment.
type RefundParams struct {
	// Amount in minor units; 0 refunds everything still refundable.
	Amount int64 `json:"amount,omitempty"`
	// Destination is subscription.ToPaymentMethod (default) or
	// subscription.ToWallet. Refunding to the payment method still returns
	// the wallet-applied part of the payment to the wallet first.
	Destination subscription.RefundDestination `json:"destination,omitempty"`
	Reason      string                         `json:"reason,omitempty"`
	// IdempotencyKey is required: the same key refunds once.
	IdempotencyKey string `json:"idempotency_key"`
}

// Refund returns all or part of a succeeded payment, never more than was
// paid in total. Money for the wallet is a credit entry with reason
// "Refund for payment <id>"; money for the payment method goes through the
// processor outside any transaction, while the refunded amount is reserved
// on the payment so concurrent refunds cannot exceed it.
func (e *Engine) Refund(ctx context.Context, paymentID string, p RefundParams) (ref subscription.Refund, err error) {
	if e.tracer != nil {
		var end func(subscription.Refund, error)
		ctx, end = e.spanRefund(ctx, paymentID, p)
		defer func() { end(ref, err) }()
	}
	if err := checkID(subscription.ErrInvalid, "payment_id", paymentID); err != nil {
		return subscription.Refund{}, err
	}
	if p.IdempotencyKey == "" {
		return subscription.Refund{}, fmt.Errorf("%w: idempotency_key is required", subscription.ErrInvalid)
	}
	if p.Amount < 0 {
		return subscription.Refund{}, subscription.ErrInvalidRefund
	}
	if err := checkText(subscription.ErrInvalid, "reason", p.Reason, maxTextLen); err != nil {
		return subscription.Refund{}, err
	}
	if err := checkIdempotencyKey(subscription.ErrInvalid, p.IdempotencyKey); err != nil {
		return subscription.Refund{}, err
	}
	switch p.Destination {
	case "":
		p.Destination = subscription.ToPaymentMethod
	case subscription.ToPaymentMethod, subscription.ToWallet:
	default:
		return subscription.Refund{}, fmt.Errorf("%w: unknown refund destination %s", subscription.ErrInvalid, text.Quote(string(p.Destination)))
	}
	return e.charges.Refund(ctx, paymentID, charge.RefundRequest{Amount: p.Amount, Destination: p.Destination,
		Reason: p.Reason, IdempotencyKey: p.IdempotencyKey})
}
