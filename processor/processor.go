// Package processor defines the payment Processor interface coffer charges
// through, and ships a deterministic test processor (see Test). coffer never
// calls a processor inside a store transaction.
//
// Test (NewTest) stays in this package rather than a processortest package
// on purpose: it is not only a test fake. The benchmark and crash-test
// commands (cmd/cofferbench, cmd/crashtest) and the planned `coffer serve`
// test mode run real engines on it, so it is part of what the module
// ships, with the interface it implements; moving it would only add an
// import for every application that tries coffer without a processor
// account.
package processor

import (
	"context"
	"errors"
	"time"
)

// Decline codes. The hard ones are never retried; the soft ones may succeed
// later and are retried by the retry policy.
const (
	DoNotHonor            = "DO_NOT_HONOR"
	StolenCard            = "STOLEN_CARD"
	LostCard              = "LOST_CARD"
	PickupCard            = "PICKUP_CARD"
	Fraudulent            = "FRAUDULENT"
	AuthenticationFailure = "AUTHENTICATION_FAILURE"
	InsufficientFunds     = "INSUFFICIENT_FUNDS"
	IssuerUnavailable     = "ISSUER_UNAVAILABLE"
	NetworkError          = "NETWORK_ERROR"
)

// Errors.
var (
	// ErrNotFound: LookupCharge found no charge under that idempotency key
	// (the processor never received it).
	ErrNotFound = errors.New("processor: charge not found")
	// ErrUnavailable: the processor could not be reached or did not answer;
	// the outcome of the call is unknown. coffer resolves it with LookupCharge.
	ErrUnavailable = errors.New("processor: unavailable")
)

// MandateStatus is the outcome of authorising a mandate.
type MandateStatus string

// Mandate statuses.
const (
	MandateAuthorized     MandateStatus = "authorized"
	MandateRequiresAction MandateStatus = "requires_action" // customer must complete the hosted link
	MandateFailed         MandateStatus = "failed"
)

// MandateRequest asks to authorise a payment method for later charges.
type MandateRequest struct {
	IdempotencyKey string // the subscription id
	CustomerID     string
	PaymentMethod  string
	ReturnURL      string
	PaymentLink    bool // the caller wants a hosted authorisation link
}

// Mandate is an authorised (or pending, or failed) payment method.
type Mandate struct {
	ID           string
	Status       MandateStatus
	AuthorizedAt time.Time
	PaymentLink  string // hosted page the customer completes, if any
	DeclineCode  string
}

// ChargeRequest charges a mandate. IdempotencyKey is the payment id: the
// processor must charge at most once per key.
type ChargeRequest struct {
	IdempotencyKey string
	MandateID      string
	PaymentMethod  string
	Amount         int64
	Currency       string
	Description    string
	Metadata       map[string]string
}

// ChargeStatus is a charge outcome.
type ChargeStatus string

// Charge statuses.
const (
	ChargeSucceeded ChargeStatus = "succeeded"
	ChargeFailed    ChargeStatus = "failed"
)

// Charge is the processor's record of a charge.
type Charge struct {
	ID             string
	IdempotencyKey string
	Status         ChargeStatus
	DeclineCode    string
	Amount         int64
	Currency       string
}

// RefundRequest returns money of a charge to its payment method.
// IdempotencyKey is the refund id.
type RefundRequest struct {
	IdempotencyKey string
	ChargeID       string
	Amount         int64
	Currency       string
}

// Refund is the processor's record of a refund.
type Refund struct {
	ID     string
	Amount int64
}

// Processor is a payment processor. Implementations must be safe for
// concurrent use and idempotent by the requests' IdempotencyKey.
//
// A declined charge is a Charge with Status failed and a DeclineCode, not an
// error. An error means the outcome is unknown (ErrUnavailable) or the
// request was malformed.
type Processor interface {
	AuthorizeMandate(ctx context.Context, req MandateRequest) (Mandate, error)
	// MandateStatus reports the current state of a mandate that needed
	// customer action (hosted link).
	MandateStatus(ctx context.Context, mandateID string) (Mandate, error)
	Charge(ctx context.Context, req ChargeRequest) (Charge, error)
	LookupCharge(ctx context.Context, idempotencyKey string) (Charge, error)
	Refund(ctx context.Context, req RefundRequest) (Refund, error)
}
