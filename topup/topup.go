// Package topup holds the auto top-up rules of coffer's wallets: what a
// rule says (a threshold or an interval trigger, a fixed or a target
// amount, the payment method, the daily caps, the credit terms) and the
// state the engine's worker keeps on it (the next check, the day's
// counters, the attempt in flight, the retry state). It is pure: no clock,
// no I/O; the Engine (coffer.Engine.CreateTopUp, RunTopUps) drives it.
package topup

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
)

// ErrInvalid: a rule's parameters break a rule of this package (the
// Engine wraps it with the parameter's name).
var ErrInvalid = errors.New("topup: invalid auto top-up rule")

// Trigger is what makes a rule charge.
type Trigger string

// Triggers.
const (
	// TriggerThreshold charges when the wallet's available balance is
	// below Threshold.
	TriggerThreshold Trigger = "threshold"
	// TriggerInterval charges once in every period of Interval.
	TriggerInterval Trigger = "interval"
)

// Method is how a threshold rule sizes its charge.
type Method string

// Methods.
const (
	// MethodFixed charges Amount.
	MethodFixed Method = "fixed"
	// MethodTarget charges what brings the available balance up to
	// Target (Target - available).
	MethodTarget Method = "target"
)

// Unit is the unit of an interval.
type Unit string

// Interval units. Day, week and month periods are UTC calendar periods
// (weeks are ISO weeks, from Monday); a duration period counts from the
// rule's Anchor.
const (
	UnitDay      Unit = "day"
	UnitWeek     Unit = "week"
	UnitMonth    Unit = "month"
	UnitDuration Unit = "duration"
)

// Bounds of a rule.
const (
	// MaxAmount bounds every amount of a rule (threshold, amount,
	// target, daily amount cap): 10^15 minor units, far from overflow
	// when added up.
	MaxAmount = int64(1e15)
	// MaxPerDay bounds the daily count cap.
	MaxPerDay = 1000
	// MinDuration and MaxDuration bound a duration interval.
	MinDuration = time.Minute
	MaxDuration = 366 * 24 * time.Hour
	// MaxExpiresAfter bounds the credit's lifetime.
	MaxExpiresAfter = 10 * 366 * 24 * time.Hour
	// MaxPriority bounds the credit's priority (either sign).
	MaxPriority = 1 << 20
)

// PausedReason says why a rule is paused.
type PausedReason string

// Paused reasons.
const (
	// PausedByUser: paused through UpdateTopUp.
	PausedByUser PausedReason = "paused"
	// PausedPaymentFailed: the retry policy gave up on a failed
	// top-up; resuming it (UpdateTopUp) starts afresh.
	PausedPaymentFailed PausedReason = "payment_failed"
)

// Rule is one auto top-up rule of a wallet (customer and currency).
type Rule struct {
	ID         string  `json:"id"`
	CustomerID string  `json:"customer_id"`
	Currency   string  `json:"currency"`
	Trigger    Trigger `json:"trigger"`
	// Threshold (threshold rules): charge when available < Threshold.
	Threshold int64 `json:"threshold,omitempty"`
	// Method (threshold rules): fixed (Amount) or target (up to Target).
	// Interval rules are always fixed.
	Method Method `json:"method"`
	Amount int64  `json:"amount,omitempty"`
	Target int64  `json:"target,omitempty"`
	// Unit and Every (interval rules): the period; Every is the length of
	// a duration period.
	Unit  Unit          `json:"unit,omitempty"`
	Every time.Duration `json:"every,omitempty"`
	// PaymentMethod is the payment method (or mandate) charged.
	PaymentMethod string `json:"payment_method"`
	// MaxPerDay and MaxAmountPerDay cap the top-ups of one UTC day (0:
	// no cap of that kind; at least one is set).
	MaxPerDay       int   `json:"max_per_day,omitempty"`
	MaxAmountPerDay int64 `json:"max_amount_per_day,omitempty"`
	// CreditKind, Priority and ExpiresAfter are the terms of the credit
	// each top-up grants (ExpiresAfter 0: never expires).
	CreditKind   ledger.CreditKind `json:"credit_kind,omitempty"`
	Priority     int               `json:"priority,omitempty"`
	ExpiresAfter time.Duration     `json:"expires_after,omitempty"`

	Paused       bool         `json:"paused"`
	PausedReason PausedReason `json:"paused_reason,omitempty"`

	State     State     `json:"state"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// State is what the worker keeps on a rule.
type State struct {
	// NextCheck is when the worker looks at the rule next; zero when
	// there is nothing to do (a paused rule with no attempt in flight).
	// Stores index it (DueTopUps).
	NextCheck time.Time `json:"next_check,omitzero"`
	// Anchor starts the periods of a duration interval.
	Anchor time.Time `json:"anchor"`
	// Day (YYYY-MM-DD, UTC) and its counters: the top-ups that
	// succeeded that day and their amount. CappedDay is the day a cap
	// was last reported.
	Day       string `json:"day,omitempty"`
	DayCount  int    `json:"day_count,omitempty"`
	DayAmount int64  `json:"day_amount,omitempty"`
	CappedDay string `json:"capped_day,omitempty"`
	// Seq counts the top-ups that succeeded (threshold periods are
	// numbered by it); LastPeriod is the interval period last topped up.
	Seq        int64  `json:"seq,omitempty"`
	LastPeriod string `json:"last_period,omitempty"`
	// Attempts counts the attempts ever decided (it numbers their keys).
	Attempts int64 `json:"attempts,omitempty"`
	// Pending is the attempt in flight, if any.
	Pending *Attempt `json:"pending,omitempty"`
	// Failed is the number of the last failed attempt of the current
	// period (0: none), FirstFailure when its first attempt failed and
	// FailedPeriod the period they belong to.
	Failed       int       `json:"failed,omitempty"`
	FirstFailure time.Time `json:"first_failure,omitzero"`
	FailedPeriod string    `json:"failed_period,omitempty"`
	// LastPaymentID and LastTopUpAt: the last successful top-up.
	LastPaymentID string    `json:"last_payment_id,omitempty"`
	LastTopUpAt   time.Time `json:"last_top_up_at,omitzero"`
}

// Attempt is a top-up charge decided and recorded before the processor is
// called, so every worker that finds it charges the same thing under the
// same key.
type Attempt struct {
	Key    string `json:"key"`
	Period string `json:"period"`
	// Number is the attempt's number within its period (1: the first,
	// 2: the first retry, ...), as the retry policy counts.
	Number    int       `json:"number"`
	Amount    int64     `json:"amount"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	At        time.Time `json:"at"`
}

// KeyPrefix starts the idempotency keys of top-up payments:
// "topup:<rule id>:<period>:<n>", n the rule's State.Attempts after the
// attempt was decided (so no key is ever used twice, even by a period
// tried again after a resume).
const KeyPrefix = "topup:"

// Key is the idempotency key of the n-th attempt of rule id, made for
// period.
func Key(ruleID, period string, n int64) string {
	return KeyPrefix + ruleID + ":" + period + ":" + strconv.FormatInt(n, 10)
}

// Validate checks the parameters of r (not its ids nor its state): every
// problem is a *customer.FieldError naming the parameter, wrapping
// ErrInvalid.
func (r Rule) Validate() error {
	bad := func(param, format string, args ...any) error {
		return &customer.FieldError{Field: param, Err: fmt.Errorf("%w: %s %s", ErrInvalid, param, fmt.Sprintf(format, args...))}
	}
	amount := func(param string, v int64, zeroOK bool) error {
		switch {
		case v < 0 || (v == 0 && !zeroOK):
			return bad(param, "must be positive")
		case v > MaxAmount:
			return bad(param, "must be at most %d", MaxAmount)
		}
		return nil
	}
	switch r.Trigger {
	case TriggerThreshold:
		if err := amount("threshold", r.Threshold, false); err != nil {
			return err
		}
		switch r.Method {
		case MethodFixed:
			if err := amount("amount", r.Amount, false); err != nil {
				return err
			}
			if r.Target != 0 {
				return bad("target", "applies to the target method only")
			}
		case MethodTarget:
			if err := amount("target", r.Target, false); err != nil {
				return err
			}
			if r.Target < r.Threshold {
				return bad("target", "must be at least the threshold")
			}
			if r.Amount != 0 {
				return bad("amount", "applies to the fixed method only")
			}
		default:
			return bad("method", "must be fixed or target")
		}
		if r.Unit != "" || r.Every != 0 {
			return bad("interval", "applies to interval rules only")
		}
	case TriggerInterval:
		if r.Method != MethodFixed {
			return bad("method", "of an interval rule must be fixed")
		}
		if err := amount("amount", r.Amount, false); err != nil {
			return err
		}
		if r.Threshold != 0 || r.Target != 0 {
			return bad("threshold", "and target apply to threshold rules only")
		}
		switch r.Unit {
		case UnitDay, UnitWeek, UnitMonth:
			if r.Every != 0 {
				return bad("every", "applies to a duration interval only")
			}
		case UnitDuration:
			if r.Every < MinDuration || r.Every > MaxDuration {
				return bad("every", "must lie between %v and %v", MinDuration, MaxDuration)
			}
			if r.Every%time.Second != 0 {
				return bad("every", "must be a whole number of seconds")
			}
		default:
			return bad("interval", "must be day, week, month or duration")
		}
	default:
		return bad("trigger", "must be threshold or interval")
	}
	if r.MaxPerDay < 0 || r.MaxPerDay > MaxPerDay {
		return bad("max_per_day", "must lie between 0 and %d", MaxPerDay)
	}
	if err := amount("max_amount_per_day", r.MaxAmountPerDay, true); err != nil {
		return err
	}
	if r.MaxPerDay == 0 && r.MaxAmountPerDay == 0 {
		return bad("max_per_day", "or max_amount_per_day must be set: a rule needs a daily cap")
	}
	if r.MaxAmountPerDay > 0 && r.Trigger == TriggerInterval && r.Amount > r.MaxAmountPerDay {
		return bad("max_amount_per_day", "is below the amount of one top-up")
	}
	if r.CreditKind != "" && r.CreditKind != ledger.KindPaid && r.CreditKind != ledger.KindGranted {
		return bad("credit_kind", "must be paid or granted")
	}
	if r.Priority < -MaxPriority || r.Priority > MaxPriority {
		return bad("priority", "must lie between %d and %d", -MaxPriority, MaxPriority)
	}
	if r.ExpiresAfter < 0 || r.ExpiresAfter > MaxExpiresAfter {
		return bad("expires_after", "must lie between 0 and %v", MaxExpiresAfter)
	}
	if r.ExpiresAfter != 0 && r.ExpiresAfter < time.Minute {
		return bad("expires_after", "must be at least a minute")
	}
	return nil
}

// Period is the name of the interval period that contains now: "d2026-12-01",
// "w2026-W49", "m2026-12", or "p<n>" (the n-th duration since the anchor).
// Threshold rules have no calendar period: theirs is "t<seq+1>".
func (r Rule) Period(now time.Time) string {
	now = now.UTC()
	switch r.Trigger {
	case TriggerThreshold:
		return "t" + strconv.FormatInt(r.State.Seq+1, 10)
	}
	switch r.Unit {
	case UnitDay:
		return "d" + now.Format(time.DateOnly)
	case UnitWeek:
		y, w := now.ISOWeek()
		return fmt.Sprintf("w%04d-W%02d", y, w)
	case UnitMonth:
		return "m" + now.Format("2006-01")
	}
	return "p" + strconv.FormatInt(r.durationIndex(now), 10)
}

func (r Rule) durationIndex(now time.Time) int64 {
	if r.Every <= 0 || now.Before(r.State.Anchor) {
		return 0
	}
	return int64(now.Sub(r.State.Anchor) / r.Every)
}

// NextPeriodStart is when the interval period after the one containing now
// starts (interval rules only).
func (r Rule) NextPeriodStart(now time.Time) time.Time {
	now = now.UTC()
	y, m, d := now.Date()
	switch r.Unit {
	case UnitDay:
		return time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
	case UnitWeek:
		wd := (int(now.Weekday()) + 6) % 7 // days since Monday
		return time.Date(y, m, d-wd+7, 0, 0, 0, 0, time.UTC)
	case UnitMonth:
		return time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC)
	}
	return r.State.Anchor.Add(time.Duration(r.durationIndex(now)+1) * r.Every)
}

// Day is the UTC date of t, as State.Day stores it.
func Day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// NextDay is the UTC midnight after t.
func NextDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
}

// Check reports a violated invariant of a stored rule, or nil. Stores
// call it before writing.
func (r Rule) Check() error {
	if r.ID == "" || r.CustomerID == "" || r.Currency == "" {
		return errors.New("topup: rule without id, customer or currency")
	}
	if r.Paused != (r.PausedReason != "") {
		return errors.New("topup: paused rule without reason, or reason without pause")
	}
	return r.Validate()
}
