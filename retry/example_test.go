package retry_test

import (
	"fmt"
	"time"

	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/retry"
)

// The default schedule for a customer whose mandate was authorised at 13:10
// UTC and whose charge failed with insufficient funds at 09:30 UTC: retries
// on days 3, 10 and 17 at 13:10 UTC, each announced 24 hours ahead, then no
// more.
func ExamplePolicy_Next() {
	p := retry.DefaultPolicy()
	first := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	in := retry.NextInput{
		Failed:              1,
		DeclineCode:         processor.InsufficientFunds,
		FirstFailure:        first,
		MandateAuthorizedAt: time.Date(2026, 1, 15, 13, 10, 0, 0, time.UTC),
	}
	fmt.Println("attempt 1:", first.Format(time.DateTime))
	for {
		due, n, ok := p.Next(in)
		if !ok {
			fmt.Printf("attempt %d failed: no more retries\n", in.Failed)
			break
		}
		fmt.Printf("attempt %d: %s (notice %s)\n", n, due.Format(time.DateTime), p.NoticeAt(due, first).Format(time.DateTime))
		in.Failed, in.FailedAt = n, due // it fails again
	}

	_, _, ok := p.Next(retry.NextInput{Failed: 1, DeclineCode: processor.StolenCard, FirstFailure: first})
	fmt.Println("retry STOLEN_CARD:", ok)
	// Output:
	// attempt 1: 2026-03-02 09:30:00
	// attempt 2: 2026-03-05 13:10:00 (notice 2026-03-04 13:10:00)
	// attempt 3: 2026-03-12 13:10:00 (notice 2026-03-11 13:10:00)
	// attempt 4: 2026-03-19 13:10:00 (notice 2026-03-18 13:10:00)
	// attempt 4 failed: no more retries
	// retry STOLEN_CARD: false
}
