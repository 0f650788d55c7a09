package retry

import (
	"errors"
	"fmt"
	"time"

	"github.com/cofferhq/coffer/processor"
)

// Day is the schedule's unit: exactly 24 hours of UTC time. Schedules are
// computed in UTC, which has no daylight-saving shifts, so an offset of 3*Day
// is always 72 hours; a display zone's DST change moves the local wall-clock
// reading of an attempt by an hour, never the attempt itself.
const Day = 24 * time.Hour

// Anchor chooses the time of day at which retries are due, so that the retries
// of a whole portfolio of subscriptions spread over the day the way their
// customers signed up or paid, rather than bursting at one instant.
type Anchor int

// Anchor modes.
const (
	// AnchorMandate (the default) puts retries at the UTC time of day the
	// mandate was authorised: authorised at 13:10 UTC, retries are due at
	// 13:10 UTC on their scheduled days.
	AnchorMandate Anchor = iota
	// AnchorLastPayment puts retries at T + X days, T being the last
	// successful payment, exact to the nanosecond; X is the whole number of
	// days that lands on the scheduled day. Equivalently: T's UTC time of
	// day on the scheduled day.
	AnchorLastPayment
)

// String returns the mode's name, for logs and errors.
func (a Anchor) String() string {
	switch a {
	case AnchorMandate:
		return "mandate"
	case AnchorLastPayment:
		return "last_payment"
	}
	return fmt.Sprintf("Anchor(%d)", int(a))
}

// ErrInvalidPolicy is wrapped by every error Validate returns (as a
// *PolicyError), so callers can classify a bad configuration with errors.Is.
var ErrInvalidPolicy = errors.New("retry: invalid policy")

// PolicyError describes one problem of a Policy: the field and why it is
// wrong.
type PolicyError struct {
	Field  string // Schedule, MaxAttempts, Anchor or NoticeLead
	Reason string
}

// Error returns "retry: invalid policy: <Field>: <Reason>".
func (e *PolicyError) Error() string {
	return fmt.Sprintf("%v: %s: %s", ErrInvalidPolicy, e.Field, e.Reason)
}

// Unwrap returns ErrInvalidPolicy.
func (e *PolicyError) Unwrap() error { return ErrInvalidPolicy }

// Policy decides whether and when a failed charge is retried. It is pure: it
// reads no clock and does no I/O; the scheduler feeds it times and persists
// what it returns.
//
// The zero Policy is invalid (it has no schedule); start from DefaultPolicy.
type Policy struct {
	// Schedule is each attempt's offset from the first charge: Schedule[0]
	// is attempt 1, the charge itself, and must be 0; the later offsets are
	// whole days (multiples of Day), strictly increasing.
	Schedule []time.Duration
	// MaxAttempts caps the attempts in all, the first charge included. It
	// must be at least 1 and at most len(Schedule); Next also never goes
	// past the schedule's end.
	MaxAttempts int
	// Anchor chooses the retries' time of day.
	Anchor Anchor
	// NoticeLead is how long before an attempt the customer is told about it
	// (the upcoming-retry event), so they can update their payment method.
	// 0 notifies at the due time.
	NoticeLead time.Duration
}

// DefaultPolicy is the recommended dunning schedule: attempt 1 when the
// charge is created, attempt 2 three days later, attempt 3 on day 10 and
// attempt 4, the last, on day 17; anchored to the mandate's time of day, with
// a notice 24 hours before each retry.
func DefaultPolicy() Policy {
	return Policy{
		Schedule:    []time.Duration{0, 3 * Day, 10 * Day, 17 * Day},
		MaxAttempts: 4,
		Anchor:      AnchorMandate,
		NoticeLead:  24 * time.Hour,
	}
}

// Validate reports every problem of a custom policy, joined; each is a
// *PolicyError wrapping ErrInvalidPolicy. A policy that validates never
// schedules an attempt at or before the failure it retries.
func (p Policy) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &PolicyError{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	if len(p.Schedule) == 0 {
		bad("Schedule", "is empty; it needs at least attempt 1 at offset 0")
	} else if p.Schedule[0] != 0 {
		bad("Schedule", "attempt 1 is the charge itself and must be at offset 0, got %v", p.Schedule[0])
	}
	for i := 1; i < len(p.Schedule); i++ {
		off := p.Schedule[i]
		if off%Day != 0 {
			bad("Schedule", "attempt %d offset %v is not a whole number of days", i+1, off)
		}
		if off <= p.Schedule[i-1] {
			bad("Schedule", "attempt %d offset %v is not after attempt %d offset %v", i+1, off, i, p.Schedule[i-1])
		}
	}
	if p.MaxAttempts < 1 {
		bad("MaxAttempts", "must be at least 1, got %d", p.MaxAttempts)
	} else if len(p.Schedule) > 0 && p.MaxAttempts > len(p.Schedule) {
		bad("MaxAttempts", "%d exceeds the %d attempts of the schedule", p.MaxAttempts, len(p.Schedule))
	}
	if p.Anchor != AnchorMandate && p.Anchor != AnchorLastPayment {
		bad("Anchor", "unknown mode %v", p.Anchor)
	}
	if p.NoticeLead < 0 {
		bad("NoticeLead", "must not be negative, got %v", p.NoticeLead)
	}
	return errors.Join(errs...)
}

// Attempts returns how many attempts the policy allows in all, the first
// charge included: MaxAttempts, capped by the schedule's length.
func (p Policy) Attempts() int {
	return max(0, min(p.MaxAttempts, len(p.Schedule)))
}

// Retryable reports whether a charge declined with code may succeed later.
// Only the soft declines are: INSUFFICIENT_FUNDS, ISSUER_UNAVAILABLE and
// NETWORK_ERROR. The hard declines (DO_NOT_HONOR, STOLEN_CARD, LOST_CARD,
// PICKUP_CARD, FRAUDULENT, AUTHENTICATION_FAILURE) are never retried, and
// neither is a code coffer does not know, "" included: retrying a decline
// we cannot classify risks hammering an issuer (and the customer's card)
// for a failure that will not go away.
func Retryable(declineCode string) bool {
	switch declineCode {
	case processor.InsufficientFunds, processor.IssuerUnavailable, processor.NetworkError:
		return true
	}
	return false
}

// NextInput is what Policy.Next needs to know about a failed attempt.
type NextInput struct {
	// Failed is the number of the attempt that just failed; 1 is the
	// original charge.
	Failed int
	// DeclineCode is the failed attempt's decline code.
	DeclineCode string
	// FirstFailure is when attempt 1 failed (the charge was created); the
	// schedule's offsets count from its UTC date. Required.
	FirstFailure time.Time
	// FailedAt is when attempt Failed failed; zero means FirstFailure. A
	// late-running attempt can make the next scheduled time already past;
	// Next then moves it to after FailedAt (see Next).
	FailedAt time.Time
	// MandateAuthorizedAt anchors AnchorMandate; zero when unknown.
	MandateAuthorizedAt time.Time
	// LastPaymentAt, the last successful payment, anchors
	// AnchorLastPayment; zero when there has been none.
	LastPaymentAt time.Time
}

// Next says when the attempt after in.Failed is due and its number, or
// ok=false when there is none: the decline is not Retryable, the policy's
// attempts are exhausted, or the input or policy is invalid (Failed < 1, a
// zero FirstFailure, a schedule offset that is not a whole day).
//
// The rule, all in UTC: for attempt n,
//
//	due = midnight of FirstFailure's date + Schedule[n-1] + anchor time of day
//
// where the anchor time of day is that of MandateAuthorizedAt
// (AnchorMandate) or LastPaymentAt (AnchorLastPayment), and that of
// FirstFailure itself when the anchor time is unknown (so the unanchored
// due time is exactly FirstFailure + Schedule[n-1]). So a retry lands on the
// scheduled calendar day, at the anchor's time, even when that is earlier in
// the day than the failure. Then, if due is not strictly after the failure
// being retried (FailedAt; only possible when an attempt ran late), due
// moves forward by whole days until it is, keeping the anchor time of day
// and never running two attempts back to back.
func (p Policy) Next(in NextInput) (due time.Time, number int, ok bool) {
	if in.Failed < 1 || in.FirstFailure.IsZero() || !Retryable(in.DeclineCode) {
		return time.Time{}, 0, false
	}
	number = in.Failed + 1
	if number > p.Attempts() {
		return time.Time{}, 0, false
	}
	offset := p.Schedule[number-1]
	if offset <= 0 || offset%Day != 0 {
		return time.Time{}, 0, false
	}
	first := in.FirstFailure.UTC()
	anchor := first
	switch p.Anchor {
	case AnchorMandate:
		if !in.MandateAuthorizedAt.IsZero() {
			anchor = in.MandateAuthorizedAt.UTC()
		}
	case AnchorLastPayment:
		if !in.LastPaymentAt.IsZero() {
			anchor = in.LastPaymentAt.UTC()
		}
	default:
		return time.Time{}, 0, false
	}
	due = midnight(first).Add(offset).Add(anchor.Sub(midnight(anchor)))
	failedAt := in.FailedAt
	if failedAt.IsZero() {
		failedAt = first
	}
	if !due.After(failedAt) {
		days := failedAt.Sub(due)/Day + 1
		due = due.Add(days * Day)
	}
	return due, number, true
}

// NoticeAt returns when to tell the customer about an attempt due at due:
// NoticeLead before it, but not before now (a retry scheduled less than the
// lead ahead is announced at once).
func (p Policy) NoticeAt(due, now time.Time) time.Time {
	at := due.Add(-p.NoticeLead).UTC()
	if at.Before(now) {
		return now.UTC()
	}
	return at
}

// midnight returns the start of t's UTC day.
func midnight(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
