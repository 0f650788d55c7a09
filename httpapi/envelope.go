package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/webhook"
)

// WebhookEnvelope is Dodo's webhook body: {business_id, type, timestamp,
// data}. For the events Dodo has (payment.succeeded, payment.failed,
// refund.succeeded, refund.failed, subscription.*), data is the API object
// of §7/§8/§6 as it was when the event happened, plus payload_type
// (Payment, Refund, Subscription); wallet.credit_expired carries
// CreditExpiredEvent (the grant, the "Expired credit" entry and the wallet
// as the API shows them, payload_type CreditExpired); every other coffer event (customer.*,
// wallet.*, payment.retry_*, payment.duplicate_refunded) carries coffer's
// own event data unchanged, in the same envelope. The coffer event id is
// an extension (event_id); the Standard Webhooks webhook-id header carries
// it too.
type WebhookEnvelope struct {
	BusinessID string          `json:"business_id"`
	Type       string          `json:"type"`
	Timestamp  time.Time       `json:"timestamp"`
	Data       json.RawMessage `json:"data"`
	EventID    string          `json:"event_id"`
}

// WebhookPayload encodes ev as Dodo's webhook envelope (see
// WebhookEnvelope). The state is the event's own (ev.Data); the customer's
// details and a payment's refunds are read through the Engine as they are
// now. It is meant for coffer.WebhookOptions.Encode.
func (h *Handler) WebhookPayload(ctx context.Context, ev webhook.Event) ([]byte, error) {
	data, err := h.eventData(ctx, ev)
	if err != nil {
		return nil, fmt.Errorf("httpapi: encoding event %s (%s): %w", ev.ID, ev.Type, err)
	}
	return json.Marshal(WebhookEnvelope{BusinessID: h.businessID, Type: ev.Type, Timestamp: ev.CreatedAt.UTC(),
		Data: data, EventID: ev.ID})
}

// dodoPayload reports whether an event type has a Dodo data object.
func dodoPayload(typ string) string {
	switch {
	case typ == "payment.succeeded" || typ == "payment.failed":
		return "Payment"
	case strings.HasPrefix(typ, "refund."):
		return "Refund"
	case strings.HasPrefix(typ, "subscription."):
		return "Subscription"
	}
	return ""
}

func (h *Handler) eventData(ctx context.Context, ev webhook.Event) (json.RawMessage, error) {
	kind := dodoPayload(ev.Type)
	if ev.Type == coffer.EventCreditExpired {
		v, err := h.creditExpiredData(ctx, ev.Data)
		if err != nil {
			return nil, err
		}
		return json.Marshal(v)
	}
	if kind == "" {
		if len(ev.Data) == 0 {
			return json.RawMessage("{}"), nil
		}
		if !json.Valid(ev.Data) {
			return nil, fmt.Errorf("event data is not JSON")
		}
		return ev.Data, nil
	}
	var v any
	switch kind {
	case "Payment":
		var p subscription.Payment
		if err := json.Unmarshal(ev.Data, &p); err != nil {
			return nil, err
		}
		out, err := h.paymentFor(ctx, p)
		if err != nil {
			return nil, err
		}
		v = PaymentEvent{Payment: out, PayloadType: kind}
	case "Refund":
		var r subscription.Refund
		if err := json.Unmarshal(ev.Data, &r); err != nil {
			return nil, err
		}
		pay, err := h.eng.Payment(ctx, r.PaymentID)
		if err != nil {
			return nil, err
		}
		cu, err := h.eng.Customer(ctx, r.CustomerID)
		if err != nil {
			return nil, err
		}
		v = RefundEvent{Refund: h.refundOut(r, pay, limitedOut(cu)), PayloadType: kind}
	case "Subscription":
		var s subscription.Subscription
		if err := json.Unmarshal(ev.Data, &s); err != nil {
			return nil, err
		}
		cu, err := h.eng.Customer(ctx, s.CustomerID)
		if err != nil {
			return nil, err
		}
		v = SubscriptionEvent{Subscription: h.subscriptionOut(s, limitedOut(cu)), PayloadType: kind}
	}
	return json.Marshal(v)
}
