package eventjson

import (
	"math/rand/v2"
	"testing"
	"time"
)

// appendTime writes what time.RFC3339Nano writes, for every time.
func TestAppendTimeMatchesRFC3339Nano(t *testing.T) {
	times := []time.Time{
		{}, time.Unix(0, 0).UTC(), time.Date(2025, 3, 14, 13, 10, 0, 0, time.UTC),
		time.Date(2025, 3, 14, 13, 10, 5, 120000000, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 1, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2025, 3, 14, 13, 10, 0, 5, time.FixedZone("x", 3600)), time.Now(), time.Now().UTC(),
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		ns := r.Int64N(200 * 365 * 24 * int64(time.Hour))
		if r.IntN(3) == 0 {
			ns -= ns % int64(time.Millisecond)
		}
		times = append(times, time.Unix(0, ns).UTC().AddDate(1800, 0, 0))
	}
	for _, tm := range times {
		if got, want := string(appendTime(nil, tm)), tm.Format(time.RFC3339Nano); got != want {
			t.Fatalf("appendTime(%v) = %s, want %s", tm, got, want)
		}
	}
}
