package coffer

import (
	"encoding/json"
	"slices"

	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/webhook"
)

// Event types written to the outbox. Each is committed in the same store
// transaction as the change it describes.
const (
	EventCustomerCreated       = "customer.created"
	EventCustomerUpdated       = "customer.updated"
	EventCustomerDelinquent    = "customer.delinquent"       // delinquent flag turned on
	EventCustomerInGoodStand   = "customer.in_good_standing" // delinquent flag turned off
	EventBalanceChanged        = "wallet.balance_changed"    // every ledger entry
	EventBalanceLow            = "wallet.balance_low"        // a balance crossed below its threshold
	EventSubscriptionPending   = "subscription.pending"      // mandate needs the hosted link
	EventSubscriptionActive    = "subscription.active"
	EventSubscriptionUpdated   = "subscription.updated" // payment method or metadata changed
	EventSubscriptionFailed    = "subscription.failed"
	EventSubscriptionOnHold    = "subscription.on_hold"
	EventSubscriptionCancelled = "subscription.cancelled"
	EventPaymentSucceeded      = "payment.succeeded"
	EventPaymentFailed         = "payment.failed"
	EventRefundSucceeded       = "refund.succeeded"
	EventRefundFailed          = "refund.failed"
	EventRetryScheduled        = "payment.retry_scheduled"
	EventRetryUpcoming         = "payment.retry_upcoming" // lead-time notice before an attempt
)

// emit writes one outbox event in tx.
func (e *Engine) emit(tx store.Outbox, typ, customerID string, data any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return err
	}
	return e.emitRaw(tx, typ, customerID, raw)
}

func (e *Engine) emitRaw(tx store.Outbox, typ, customerID string, raw []byte) error {
	return e.emitRawID(tx, newID("evt"), typ, customerID, raw)
}

// emitRawID is emitRaw with the event's id.
func (e *Engine) emitRawID(tx store.Outbox, id, typ, customerID string, raw []byte) error {
	return tx.InsertEvent(webhook.Event{
		ID: id, Type: typ, CustomerID: customerID, Data: raw, CreatedAt: e.clock.Now(),
	})
}

// EventPaymentDuplicateRefunded: the processor charged a payment whose debt
// another charge had already collected (a late success after Reconcile
// failed it, or two collectors racing across processes); the extra charge
// is refunded automatically through the processor. Its data is a
// DuplicateRefund.
const EventPaymentDuplicateRefunded = "payment.duplicate_refunded"

// EventTypes lists every event type coffer writes, sorted. An endpoint's
// filter may name only these (or a prefix wildcard that selects at least
// one of them, or "*").
func EventTypes() []string {
	out := []string{
		EventCustomerCreated, EventCustomerUpdated, EventCustomerDelinquent, EventCustomerInGoodStand,
		EventBalanceChanged, EventBalanceLow, EventSubscriptionPending, EventSubscriptionActive,
		EventSubscriptionUpdated, EventSubscriptionFailed, EventSubscriptionOnHold, EventSubscriptionCancelled,
		EventPaymentSucceeded, EventPaymentFailed, EventRefundSucceeded, EventRefundFailed, EventRetryScheduled,
		EventRetryUpcoming, EventPaymentDuplicateRefunded, EventCreditExpired,
		EventAutoTopUpSucceeded, EventAutoTopUpFailed, EventAutoTopUpCapped,
	}
	slices.Sort(out)
	return out
}

// EventCreditExpired: the unconsumed remainder of a credit grant reached its
// expiry and was debited ("Expired credit"); its data is a CreditExpired.
// The debit's wallet.balance_changed event is written with it.
const EventCreditExpired = "wallet.credit_expired"

// Event types of auto top-ups; their data is an AutoTopUp.
const (
	// EventAutoTopUpSucceeded: a top-up payment succeeded (its
	// payment.succeeded and wallet.balance_changed events tell the
	// credit).
	EventAutoTopUpSucceeded = "wallet.auto_topup_succeeded"
	// EventAutoTopUpFailed: a top-up payment was declined; NextAttemptAt
	// says when it is retried, or Final that the rule was paused.
	EventAutoTopUpFailed = "wallet.auto_topup_failed"
	// EventAutoTopUpCapped: a rule wanted to top up but its daily cap was
	// reached; once per rule and UTC day.
	EventAutoTopUpCapped = "wallet.auto_topup_capped"
)
