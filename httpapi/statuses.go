package httpapi

import (
	"github.com/cofferhq/coffer/subscription"
)

// Dodo's status vocabularies and coffer's, both ways. coffer has fewer
// states than Dodo: every coffer status maps to exactly one Dodo status,
// and a Dodo status no coffer record can have selects nothing in a list
// filter (an empty list, which is the truth), never everything.

// Dodo's SubscriptionStatus values.
var dodoSubscriptionStatuses = []string{"pending", "active", "on_hold", "paused", "cancelled", "failed", "expired", "past_due"}

// Dodo's IntentStatus values.
var dodoIntentStatuses = []string{"succeeded", "failed", "cancelled", "processing", "requires_customer_action",
	"requires_merchant_action", "requires_payment_method", "requires_confirmation", "requires_capture",
	"partially_captured", "partially_captured_and_capturable"}

// Dodo's RefundStatus values.
var dodoRefundStatuses = []string{"succeeded", "failed", "pending", "review"}

// subscriptionStatusOut maps coffer's subscription status to Dodo's
// SubscriptionStatus: the five coffer statuses carry Dodo's names.
func subscriptionStatusOut(s subscription.Status) string {
	switch s {
	case subscription.StatusPending:
		return "pending"
	case subscription.StatusActive:
		return "active"
	case subscription.StatusOnHold:
		return "on_hold"
	case subscription.StatusCancelled:
		return "cancelled"
	case subscription.StatusFailed:
		return "failed"
	}
	return string(s)
}

// subscriptionStatusIn maps a Dodo SubscriptionStatus filter to coffer's.
// ok is false for a Dodo status no coffer subscription has (paused,
// expired, past_due): the list is empty.
func subscriptionStatusIn(s string) (subscription.Status, bool) {
	switch s {
	case "pending", "active", "on_hold", "cancelled", "failed":
		return subscription.Status(s), true
	}
	return "", false
}

// paymentStatusOut maps coffer's payment status to Dodo's IntentStatus and
// refund_status: a payment waiting for the processor is "processing"; a
// refunded payment still succeeded, with refund_status "full" or
// "partial".
func paymentStatusOut(s subscription.PaymentStatus) (status string, refundStatus *string) {
	full, partial := "full", "partial"
	switch s {
	case subscription.PaymentPending:
		return "processing", nil
	case subscription.PaymentSucceeded:
		return "succeeded", nil
	case subscription.PaymentRefunded:
		return "succeeded", &full
	case subscription.PaymentPartiallyRefunded:
		return "succeeded", &partial
	case subscription.PaymentFailed:
		return "failed", nil
	}
	return string(s), nil
}

// paymentStatusIn maps a Dodo IntentStatus filter to the coffer statuses
// it stands for; nil for an IntentStatus no coffer payment has.
func paymentStatusIn(s string) []subscription.PaymentStatus {
	switch s {
	case "processing":
		return []subscription.PaymentStatus{subscription.PaymentPending}
	case "succeeded":
		return []subscription.PaymentStatus{subscription.PaymentSucceeded, subscription.PaymentRefunded,
			subscription.PaymentPartiallyRefunded}
	case "failed":
		return []subscription.PaymentStatus{subscription.PaymentFailed}
	}
	return nil
}

// refundStatusOut maps coffer's refund status to Dodo's RefundStatus (the
// same three names; coffer has no "review").
func refundStatusOut(s subscription.RefundStatus) string {
	switch s {
	case subscription.RefundPending:
		return "pending"
	case subscription.RefundSucceeded:
		return "succeeded"
	case subscription.RefundFailed:
		return "failed"
	}
	return string(s)
}

// refundStatusIn maps a Dodo RefundStatus filter to coffer's; ok is false
// for "review" (no coffer refund is ever in review).
func refundStatusIn(s string) (subscription.RefundStatus, bool) {
	switch s {
	case "pending", "succeeded", "failed":
		return subscription.RefundStatus(s), true
	}
	return "", false
}
