package retry

import "time"

// AttemptStatus is the state of a scheduled retry attempt.
type AttemptStatus string

// Attempt statuses. Scheduled and Claimed are active (indexed by RunAt);
// the others are final.
const (
	AttemptScheduled AttemptStatus = "scheduled"
	AttemptClaimed   AttemptStatus = "claimed"   // leased by a runner until LeaseUntil
	AttemptSucceeded AttemptStatus = "succeeded" // the charge it made succeeded
	AttemptFailed    AttemptStatus = "failed"    // the charge it made failed
	AttemptCancelled AttemptStatus = "cancelled" // a payment succeeded elsewhere, or the subscription ended
)

// Active reports whether the attempt is still to run.
func (s AttemptStatus) Active() bool { return s == AttemptScheduled || s == AttemptClaimed }

// Attempt is one durable, scheduled retry of a failed charge.
//
// DueAt is the exact time the charge is due. RunAt is when a runner should
// next look at the attempt: the upcoming-retry notice time before it is
// notified, DueAt after, and the lease expiry while claimed, so that a single
// index on RunAt finds every piece of due work and an expired lease is
// retaken after a crash.
type Attempt struct {
	ID             string            `json:"id"`
	SubscriptionID string            `json:"subscription_id"`
	CustomerID     string            `json:"customer_id"`
	FirstPaymentID string            `json:"first_payment_id"` // the failed charge being retried
	PaymentID      string            `json:"payment_id,omitempty"`
	Number         int               `json:"number"` // 2..MaxAttempts; the first charge is attempt 1
	Amount         int64             `json:"amount"`
	Currency       string            `json:"currency"`
	Description    string            `json:"description,omitempty"`
	FeesInclusive  bool              `json:"adaptive_currency_fees_inclusive"`
	Metadata       map[string]string `json:"metadata,omitempty"`
	DueAt          time.Time         `json:"due_at"`
	RunAt          time.Time         `json:"run_at"`
	Notified       bool              `json:"notified"`
	Status         AttemptStatus     `json:"status"`
	LeaseOwner     string            `json:"-"` // internal: the runner holding the lease
	LeaseUntil     time.Time         `json:"lease_until,omitzero"`
	DeclineCode    string            `json:"decline_code,omitempty"`
	CreatedAt      time.Time         `json:"created_at"`
	UpdatedAt      time.Time         `json:"updated_at"`
}
