package topup

import (
	"errors"
	"testing"
	"time"

	"github.com/cofferhq/coffer/customer"
)

func utc(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, time.UTC) }

// TestPeriods: the period names and the next period's start at and around
// calendar boundaries (a week from Monday, a month's end, a year's end, a
// duration from the anchor).
func TestPeriods(t *testing.T) {
	anchor := utc(2026, 3, 2, 9)
	cases := []struct {
		unit      Unit
		every     time.Duration
		now       time.Time
		period    string
		nextStart time.Time
	}{
		{UnitDay, 0, utc(2026, 3, 2, 23), "d2026-03-02", utc(2026, 3, 3, 0)},
		{UnitDay, 0, utc(2026, 12, 31, 0), "d2026-12-31", utc(2027, 1, 1, 0)},
		{UnitWeek, 0, utc(2026, 3, 2, 0), "w2026-W10", utc(2026, 3, 9, 0)},  // a Monday
		{UnitWeek, 0, utc(2026, 3, 8, 23), "w2026-W10", utc(2026, 3, 9, 0)}, // the Sunday after
		{UnitWeek, 0, utc(2027, 1, 1, 0), "w2026-W53", utc(2027, 1, 4, 0)},  // ISO year
		{UnitMonth, 0, utc(2026, 1, 31, 12), "m2026-01", utc(2026, 2, 1, 0)},
		{UnitMonth, 0, utc(2026, 12, 15, 0), "m2026-12", utc(2027, 1, 1, 0)},
		{UnitDuration, 6 * time.Hour, anchor, "p0", anchor.Add(6 * time.Hour)},
		{UnitDuration, 6 * time.Hour, anchor.Add(6*time.Hour - time.Second), "p0", anchor.Add(6 * time.Hour)},
		{UnitDuration, 6 * time.Hour, anchor.Add(13 * time.Hour), "p2", anchor.Add(18 * time.Hour)},
	}
	for _, c := range cases {
		r := Rule{Trigger: TriggerInterval, Unit: c.unit, Every: c.every, State: State{Anchor: anchor}}
		if got := r.Period(c.now); got != c.period {
			t.Errorf("%s %v at %v: period %s, want %s", c.unit, c.every, c.now, got, c.period)
		}
		if got := r.NextPeriodStart(c.now); !got.Equal(c.nextStart) {
			t.Errorf("%s %v at %v: next start %v, want %v", c.unit, c.every, c.now, got, c.nextStart)
		}
		if r.Period(c.nextStart) == c.period {
			t.Errorf("%s: the next period's start is still in %s", c.unit, c.period)
		}
	}
	th := Rule{Trigger: TriggerThreshold, State: State{Seq: 4}}
	if got := th.Period(anchor); got != "t5" {
		t.Errorf("threshold period %s, want t5", got)
	}
	if got := Key("tur_1", "t5", 7); got != "topup:tur_1:t5:7" {
		t.Errorf("key %s", got)
	}
}

// TestValidateNamesTheParameter: every refusal is a FieldError naming the
// parameter and wrapping ErrInvalid; amounts are bounded.
func TestValidateNamesTheParameter(t *testing.T) {
	ok := Rule{Trigger: TriggerThreshold, Threshold: 5, Method: MethodFixed, Amount: 10, PaymentMethod: "pm", MaxPerDay: 1}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(r *Rule){
		"threshold": func(r *Rule) { r.Threshold = MaxAmount + 1 },
		"amount":    func(r *Rule) { r.Amount = 0 },
		"target":    func(r *Rule) { r.Target = 1 },
		"method":    func(r *Rule) { r.Method = "" },
		"interval":  func(r *Rule) { r.Every = time.Hour },
		"trigger":   func(r *Rule) { r.Trigger = "x" },
		"max_per_day": func(r *Rule) {
			r.MaxPerDay = 0
		},
		"max_amount_per_day": func(r *Rule) { r.MaxAmountPerDay = MaxAmount + 1 },
		"expires_after":      func(r *Rule) { r.ExpiresAfter = MaxExpiresAfter + 1 },
	} {
		r := ok
		mod(&r)
		err := r.Validate()
		var fe *customer.FieldError
		if !errors.As(err, &fe) || fe.Field != name || !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v", name, err)
		}
	}
}
