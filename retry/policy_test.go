package retry_test

import (
	"errors"
	"testing"
	"time"
	_ "time/tzdata" // the DST test must not depend on the host's zoneinfo

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/retry"
)

func utc(y int, m time.Month, d, h, min, s, ns int) time.Time {
	return time.Date(y, m, d, h, min, s, ns, time.UTC)
}

func TestRetryableEveryDeclineCode(t *testing.T) {
	for _, tc := range []struct {
		code      string
		retryable bool
	}{
		{processor.DoNotHonor, false},
		{processor.StolenCard, false},
		{processor.LostCard, false},
		{processor.PickupCard, false},
		{processor.Fraudulent, false},
		{processor.AuthenticationFailure, false},
		{processor.InsufficientFunds, true},
		{processor.IssuerUnavailable, true},
		{processor.NetworkError, true},
		{"", false},                       // no code: nothing to classify
		{"CARD_VELOCITY_EXCEEDED", false}, // unknown: conservative
		{"insufficient_funds", false},     // codes are exact
	} {
		t.Run(tc.code, func(t *testing.T) {
			require.Equal(t, tc.retryable, retry.Retryable(tc.code))

			// Next agrees with the classification at every attempt.
			p := retry.DefaultPolicy()
			first := utc(2026, 5, 4, 9, 0, 0, 0)
			for failed := 1; failed < 4; failed++ {
				due, n, ok := p.Next(retry.NextInput{Failed: failed, DeclineCode: tc.code, FirstFailure: first})
				require.Equal(t, tc.retryable, ok, "attempt %d", failed)
				if !ok {
					require.True(t, due.IsZero())
					require.Zero(t, n)
					continue
				}
				require.Equal(t, failed+1, n)
				require.Equal(t, first.Add(p.Schedule[failed]), due)
			}
		})
	}
}

func TestDefaultPolicy(t *testing.T) {
	p := retry.DefaultPolicy()
	require.NoError(t, p.Validate())
	require.Equal(t, []time.Duration{0, 72 * time.Hour, 240 * time.Hour, 408 * time.Hour}, p.Schedule)
	require.Equal(t, 4, p.MaxAttempts)
	require.Equal(t, 4, p.Attempts())
	require.Equal(t, retry.AnchorMandate, p.Anchor)
	require.Equal(t, 24*time.Hour, p.NoticeLead)

	// A mandate authorised at 13:10, the charge (attempt 1) made at 13:10
	// on 2 March: retries on 5, 12 and 19 March at 13:10, then none.
	mandate := utc(2026, 1, 15, 13, 10, 0, 0)
	first := utc(2026, 3, 2, 13, 10, 0, 0)
	in := retry.NextInput{DeclineCode: processor.InsufficientFunds, FirstFailure: first, MandateAuthorizedAt: mandate}
	want := []time.Time{
		utc(2026, 3, 5, 13, 10, 0, 0),
		utc(2026, 3, 12, 13, 10, 0, 0),
		utc(2026, 3, 19, 13, 10, 0, 0),
	}
	for i, w := range want {
		in.Failed = i + 1
		due, n, ok := p.Next(in)
		require.True(t, ok)
		require.Equal(t, i+2, n)
		require.Equal(t, w, due)
		in.FailedAt = due // the attempt runs on time and fails again
	}
	in.Failed = 4
	_, _, ok := p.Next(in)
	require.False(t, ok, "attempt 4 is the last")
}

func TestNextAnchoring(t *testing.T) {
	def := retry.DefaultPolicy()
	last := def
	last.Anchor = retry.AnchorLastPayment
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)

	for _, tc := range []struct {
		name   string
		policy retry.Policy
		in     retry.NextInput
		want   time.Time
	}{
		{
			name:   "mandate 13:10, failure earlier in the day",
			policy: def,
			in:     retry.NextInput{FirstFailure: utc(2026, 3, 2, 9, 0, 0, 0), MandateAuthorizedAt: utc(2025, 11, 30, 13, 10, 0, 0)},
			want:   utc(2026, 3, 5, 13, 10, 0, 0),
		},
		{
			name:   "mandate 13:10, failure later in the day: still the scheduled day",
			policy: def,
			in:     retry.NextInput{FirstFailure: utc(2026, 3, 2, 20, 45, 0, 0), MandateAuthorizedAt: utc(2025, 11, 30, 13, 10, 0, 0)},
			want:   utc(2026, 3, 5, 13, 10, 0, 0),
		},
		{
			name:   "mandate anchor is exact",
			policy: def,
			in:     retry.NextInput{FirstFailure: utc(2026, 3, 2, 9, 0, 0, 0), MandateAuthorizedAt: utc(2025, 11, 30, 13, 10, 27, 123456789)},
			want:   utc(2026, 3, 5, 13, 10, 27, 123456789),
		},
		{
			name:   "mandate time in another zone is read in UTC",
			policy: def,
			in:     retry.NextInput{FirstFailure: utc(2026, 3, 2, 9, 0, 0, 0), MandateAuthorizedAt: time.Date(2026, 1, 15, 8, 10, 0, 0, ny)}, // 13:10 UTC
			want:   utc(2026, 3, 5, 13, 10, 0, 0),
		},
		{
			name:   "failure date is the UTC date",
			policy: def,
			in:     retry.NextInput{FirstFailure: time.Date(2026, 3, 2, 21, 0, 0, 0, ny), MandateAuthorizedAt: utc(2026, 1, 1, 13, 10, 0, 0)}, // 3 March 02:00 UTC
			want:   utc(2026, 3, 6, 13, 10, 0, 0),
		},
		{
			name:   "mandate anchor just after midnight, failure just before",
			policy: def,
			in:     retry.NextInput{FirstFailure: utc(2026, 3, 2, 23, 59, 0, 0), MandateAuthorizedAt: utc(2026, 1, 1, 0, 1, 0, 0)},
			want:   utc(2026, 3, 5, 0, 1, 0, 0),
		},
		{
			name:   "mandate time unknown: failure time + offset",
			policy: def,
			in:     retry.NextInput{FirstFailure: utc(2026, 3, 2, 17, 3, 4, 5)},
			want:   utc(2026, 3, 5, 17, 3, 4, 5),
		},
		{
			name:   "mandate mode ignores the last payment",
			policy: def,
			in:     retry.NextInput{FirstFailure: utc(2026, 3, 2, 9, 0, 0, 0), MandateAuthorizedAt: utc(2026, 1, 1, 13, 10, 0, 0), LastPaymentAt: utc(2026, 2, 2, 7, 0, 0, 0)},
			want:   utc(2026, 3, 5, 13, 10, 0, 0),
		},
		{
			name:   "last payment T + X days, exact",
			policy: last,
			in:     retry.NextInput{FirstFailure: utc(2026, 3, 2, 13, 10, 0, 0), MandateAuthorizedAt: utc(2026, 1, 1, 13, 10, 0, 0), LastPaymentAt: utc(2026, 2, 1, 7, 42, 5, 500)},
			want:   utc(2026, 3, 5, 7, 42, 5, 500), // T + 32 days
		},
		{
			name:   "last payment unknown: failure time + offset",
			policy: last,
			in:     retry.NextInput{FirstFailure: utc(2026, 3, 2, 17, 3, 4, 5), MandateAuthorizedAt: utc(2026, 1, 1, 13, 10, 0, 0)},
			want:   utc(2026, 3, 5, 17, 3, 4, 5),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Failed = 1
			tc.in.DeclineCode = processor.IssuerUnavailable
			due, n, ok := tc.policy.Next(tc.in)
			require.True(t, ok)
			require.Equal(t, 2, n)
			require.Equal(t, tc.want, due)
			require.Equal(t, time.UTC, due.Location())
			require.True(t, due.After(tc.in.FirstFailure))
			if tc.policy.Anchor == retry.AnchorLastPayment && !tc.in.LastPaymentAt.IsZero() {
				require.Zero(t, due.Sub(tc.in.LastPaymentAt)%retry.Day, "T + a whole number of days")
			}

			// Later attempts keep the anchor time on their scheduled days.
			in := tc.in
			in.Failed, in.FailedAt = 2, due
			due3, n, ok := tc.policy.Next(in)
			require.True(t, ok)
			require.Equal(t, 3, n)
			require.Equal(t, 7*retry.Day, due3.Sub(due))
		})
	}
}

func TestNextAfterLateAttempt(t *testing.T) {
	p := retry.DefaultPolicy()
	first := utc(2026, 3, 2, 9, 0, 0, 0)
	mandate := utc(2026, 1, 1, 13, 10, 0, 0)
	for _, tc := range []struct {
		name     string
		failedAt time.Time
		want     time.Time
	}{
		{"on time", utc(2026, 3, 5, 13, 10, 0, 0), utc(2026, 3, 12, 13, 10, 0, 0)},
		{"a week late, before the anchor time", utc(2026, 3, 12, 9, 0, 0, 0), utc(2026, 3, 12, 13, 10, 0, 0)},
		{"failed exactly at the next due time", utc(2026, 3, 12, 13, 10, 0, 0), utc(2026, 3, 13, 13, 10, 0, 0)},
		{"failed after the next due time", utc(2026, 3, 14, 20, 0, 0, 0), utc(2026, 3, 15, 13, 10, 0, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			due, n, ok := p.Next(retry.NextInput{Failed: 2, DeclineCode: processor.NetworkError,
				FirstFailure: first, FailedAt: tc.failedAt, MandateAuthorizedAt: mandate})
			require.True(t, ok)
			require.Equal(t, 3, n)
			require.Equal(t, tc.want, due)
			require.True(t, due.After(tc.failedAt))
		})
	}
}

func TestNextCapAndCustomSchedule(t *testing.T) {
	first := utc(2026, 6, 1, 10, 0, 0, 0)
	walk := func(p retry.Policy) []time.Duration {
		var offsets []time.Duration
		in := retry.NextInput{DeclineCode: processor.InsufficientFunds, FirstFailure: first}
		for in.Failed = 1; ; in.Failed++ {
			due, n, ok := p.Next(in)
			if !ok {
				return offsets
			}
			require.Equal(t, in.Failed+1, n)
			offsets = append(offsets, due.Sub(first))
			in.FailedAt = due
		}
	}
	d := retry.Day

	capped := retry.DefaultPolicy()
	capped.MaxAttempts = 2
	require.NoError(t, capped.Validate())
	require.Equal(t, []time.Duration{3 * d}, walk(capped))

	one := retry.DefaultPolicy()
	one.MaxAttempts = 1
	require.Empty(t, walk(one), "one attempt: never retried")

	// An invalid cap beyond the schedule is still bounded by it.
	over := retry.DefaultPolicy()
	over.MaxAttempts = 9
	require.Error(t, over.Validate())
	require.Equal(t, 4, over.Attempts())
	require.Equal(t, []time.Duration{3 * d, 10 * d, 17 * d}, walk(over))

	custom := retry.Policy{Schedule: []time.Duration{0, d, 2 * d, 4 * d, 8 * d, 16 * d}, MaxAttempts: 6}
	require.NoError(t, custom.Validate())
	require.Equal(t, []time.Duration{d, 2 * d, 4 * d, 8 * d, 16 * d}, walk(custom))
	custom.MaxAttempts = 4
	require.Equal(t, []time.Duration{d, 2 * d, 4 * d}, walk(custom))
}

func TestNextInvalidInput(t *testing.T) {
	first := utc(2026, 6, 1, 10, 0, 0, 0)
	ok := func(p retry.Policy, in retry.NextInput) bool { _, _, ok := p.Next(in); return ok }
	def := retry.DefaultPolicy()
	require.False(t, ok(def, retry.NextInput{Failed: 0, DeclineCode: processor.NetworkError, FirstFailure: first}))
	require.False(t, ok(def, retry.NextInput{Failed: -1, DeclineCode: processor.NetworkError, FirstFailure: first}))
	require.False(t, ok(def, retry.NextInput{Failed: 1, DeclineCode: processor.NetworkError}))
	require.False(t, ok(retry.Policy{}, retry.NextInput{Failed: 1, DeclineCode: processor.NetworkError, FirstFailure: first}))
	bad := retry.Policy{Schedule: []time.Duration{0, 36 * time.Hour}, MaxAttempts: 2}
	require.False(t, ok(bad, retry.NextInput{Failed: 1, DeclineCode: processor.NetworkError, FirstFailure: first}))
	bad = retry.Policy{Schedule: []time.Duration{0, retry.Day}, MaxAttempts: 2, Anchor: 7}
	require.False(t, ok(bad, retry.NextInput{Failed: 1, DeclineCode: processor.NetworkError, FirstFailure: first}))
}

func TestValidate(t *testing.T) {
	d := retry.Day
	for _, tc := range []struct {
		name   string
		policy retry.Policy
		fields []string // the PolicyError fields, in order
	}{
		{"default", retry.DefaultPolicy(), nil},
		{"single attempt", retry.Policy{Schedule: []time.Duration{0}, MaxAttempts: 1}, nil},
		{"last-payment anchor, no notice", retry.Policy{Schedule: []time.Duration{0, d}, MaxAttempts: 2, Anchor: retry.AnchorLastPayment}, nil},
		{"zero policy", retry.Policy{}, []string{"Schedule", "MaxAttempts"}},
		{"first offset not 0", retry.Policy{Schedule: []time.Duration{d, 2 * d}, MaxAttempts: 2}, []string{"Schedule"}},
		{"not whole days", retry.Policy{Schedule: []time.Duration{0, 3 * time.Hour}, MaxAttempts: 2}, []string{"Schedule"}},
		{"not increasing", retry.Policy{Schedule: []time.Duration{0, 3 * d, 3 * d}, MaxAttempts: 3}, []string{"Schedule"}},
		{"decreasing", retry.Policy{Schedule: []time.Duration{0, 10 * d, 3 * d}, MaxAttempts: 3}, []string{"Schedule"}},
		{"negative offset", retry.Policy{Schedule: []time.Duration{0, -d}, MaxAttempts: 2}, []string{"Schedule"}},
		{"MaxAttempts 0", retry.Policy{Schedule: []time.Duration{0, d}}, []string{"MaxAttempts"}},
		{"MaxAttempts beyond schedule", retry.Policy{Schedule: []time.Duration{0, d}, MaxAttempts: 3}, []string{"MaxAttempts"}},
		{"unknown anchor", retry.Policy{Schedule: []time.Duration{0, d}, MaxAttempts: 2, Anchor: 5}, []string{"Anchor"}},
		{"negative notice", retry.Policy{Schedule: []time.Duration{0, d}, MaxAttempts: 2, NoticeLead: -time.Hour}, []string{"NoticeLead"}},
		{"several problems", retry.Policy{Schedule: []time.Duration{0, 30 * time.Hour}, MaxAttempts: -1, NoticeLead: -1},
			[]string{"Schedule", "MaxAttempts", "NoticeLead"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.policy.Validate()
			if tc.fields == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, retry.ErrInvalidPolicy)
			var pe *retry.PolicyError
			require.ErrorAs(t, err, &pe)
			require.Equal(t, tc.fields[0], pe.Field)
			var fields []string
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				require.True(t, errors.As(e, &pe))
				require.ErrorIs(t, e, retry.ErrInvalidPolicy)
				require.Contains(t, e.Error(), "retry: invalid policy: "+pe.Field+": ")
				fields = append(fields, pe.Field)
			}
			require.Equal(t, tc.fields, fields)
		})
	}
}

func TestNoticeAt(t *testing.T) {
	p := retry.DefaultPolicy()
	due := utc(2026, 3, 5, 13, 10, 0, 0)
	require.Equal(t, utc(2026, 3, 4, 13, 10, 0, 0), p.NoticeAt(due, utc(2026, 3, 2, 9, 0, 0, 0)))
	now := utc(2026, 3, 4, 20, 0, 0, 0)
	require.Equal(t, now, p.NoticeAt(due, now), "less than the lead ahead: notify now")
	p.NoticeLead = 0
	require.Equal(t, due, p.NoticeAt(due, utc(2026, 3, 2, 9, 0, 0, 0)))
}

// Attempts are computed in UTC: crossing a display zone's DST change, the
// interval between attempts stays an exact multiple of 24 hours and it is
// the local wall-clock reading that moves by an hour.
func TestDSTDoesNotMoveAttempts(t *testing.T) {
	for _, tc := range []struct {
		zone         string
		first        time.Time // attempt 1, shortly before the zone's spring change
		localBefore  string
		localAfter   string    // attempt 2, after the change
		autumnFirst  time.Time // attempt 1 before the autumn change
		autumnBefore string
		autumnAfter  string
	}{
		{
			zone:  "America/New_York", // DST starts 2026-03-08, ends 2026-11-01
			first: utc(2026, 3, 6, 13, 10, 0, 0), localBefore: "2026-03-06 08:10 EST", localAfter: "2026-03-09 09:10 EDT",
			autumnFirst: utc(2026, 10, 30, 13, 10, 0, 0), autumnBefore: "2026-10-30 09:10 EDT", autumnAfter: "2026-11-02 08:10 EST",
		},
		{
			zone:  "Europe/London", // BST starts 2026-03-29, ends 2026-10-25
			first: utc(2026, 3, 27, 13, 10, 0, 0), localBefore: "2026-03-27 13:10 GMT", localAfter: "2026-03-30 14:10 BST",
			autumnFirst: utc(2026, 10, 23, 13, 10, 0, 0), autumnBefore: "2026-10-23 14:10 BST", autumnAfter: "2026-10-26 13:10 GMT",
		},
	} {
		t.Run(tc.zone, func(t *testing.T) {
			loc, err := time.LoadLocation(tc.zone)
			require.NoError(t, err)
			const layout = "2006-01-02 15:04 MST"
			p := retry.DefaultPolicy()
			for _, c := range []struct {
				first         time.Time
				before, after string
			}{{tc.first, tc.localBefore, tc.localAfter}, {tc.autumnFirst, tc.autumnBefore, tc.autumnAfter}} {
				// The inputs may arrive in the display zone; only the
				// instants matter.
				in := retry.NextInput{
					Failed: 1, DeclineCode: processor.InsufficientFunds,
					FirstFailure:        c.first.In(loc),
					MandateAuthorizedAt: utc(2026, 1, 15, 13, 10, 0, 0).In(loc),
				}
				due, _, ok := p.Next(in)
				require.True(t, ok)
				require.Equal(t, 72*time.Hour, due.Sub(c.first), "exactly 3 x 24 h")
				require.Equal(t, "13:10", due.Format("15:04"), "same UTC time of day")
				require.Equal(t, c.before, c.first.In(loc).Format(layout))
				require.Equal(t, c.after, due.In(loc).Format(layout), "the local reading moved by an hour")

				// Every later attempt stays on 13:10 UTC, whole days apart.
				prev := due
				for in.Failed = 2; in.Failed < 4; in.Failed++ {
					in.FailedAt = prev
					next, _, ok := p.Next(in)
					require.True(t, ok)
					require.Zero(t, next.Sub(c.first)%retry.Day)
					require.Equal(t, "13:10", next.Format("15:04"))
					prev = next
				}
			}
		})
	}
}

func TestAnchorString(t *testing.T) {
	require.Equal(t, "mandate", retry.AnchorMandate.String())
	require.Equal(t, "last_payment", retry.AnchorLastPayment.String())
	require.Equal(t, "Anchor(9)", retry.Anchor(9).String())
}
