package store

import (
	"time"

	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/webhook"
)

// These helpers are for adapters: the claim rules written once, so that
// every adapter claims the same records. An adapter reads the candidates
// with its own locking (the due index, passing over records other
// transactions hold), makes the in-flight counts it reports agree with
// concurrent claimers (one writer at a time, or a lock held until commit),
// and writes back what the helper returns.

// ApplyAttemptClaim picks, from due (active attempts with RunAt <= now,
// ascending RunAt, at most c.Limit of them), the attempts c allows and
// returns them claimed, with the number left for a cap. inFlight counts
// the claimed attempts with LeaseUntil > now of one customer, or of the
// whole store for ""; it is called at most once per customer.
func ApplyAttemptClaim(due []retry.Attempt, now time.Time, c AttemptClaim,
	inFlight func(customerID string) (int, error)) (claimed []retry.Attempt, deferred int, err error) {
	total := -1
	perCustomer := map[string]int{}
	for _, a := range due {
		if !a.Status.Active() || a.RunAt.After(now) || a.DueAt.After(now) ||
			(a.Status == retry.AttemptClaimed && a.LeaseUntil.After(now)) {
			continue
		}
		if c.PerAccount > 0 {
			if total < 0 {
				if total, err = inFlight(""); err != nil {
					return nil, 0, err
				}
			}
			if total >= c.PerAccount {
				deferred++
				continue
			}
		}
		if c.PerCustomer > 0 {
			mine, seen := perCustomer[a.CustomerID]
			if !seen {
				if mine, err = inFlight(a.CustomerID); err != nil {
					return nil, 0, err
				}
				perCustomer[a.CustomerID] = mine
			}
			if mine >= c.PerCustomer {
				deferred++
				continue
			}
			perCustomer[a.CustomerID] = mine + 1
		}
		total++
		a.Status, a.LeaseOwner, a.LeaseUntil = retry.AttemptClaimed, c.Owner, c.LeaseUntil
		a.RunAt, a.UpdatedAt = c.LeaseUntil, now
		claimed = append(claimed, a)
	}
	return claimed, deferred, nil
}

// ApplyDeliveryClaim picks, from due (active deliveries with RunAt <= now,
// ascending RunAt, at most c.ScanSize() of them), the deliveries c allows
// and returns them claimed.
func ApplyDeliveryClaim(due []webhook.Delivery, now time.Time, c DeliveryClaim) []webhook.Delivery {
	limit := c.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	var out []webhook.Delivery
	mine := map[string]int{}
	for _, d := range due {
		if len(out) >= limit {
			break
		}
		if !d.Status.Active() || d.RunAt.After(now) {
			continue
		}
		if _, skip := c.Skip[d.ID]; skip {
			continue
		}
		if c.PerEndpoint > 0 && c.InFlight[d.EndpointID]+mine[d.EndpointID] >= c.PerEndpoint {
			continue
		}
		mine[d.EndpointID]++
		d.Status, d.LeaseOwner, d.RunAt, d.UpdatedAt = webhook.DeliveryClaimed, c.Owner, c.LeaseUntil, now
		out = append(out, d)
	}
	return out
}

// ScanSize is how many due deliveries a claim looks at: Scan, or 8 x the
// effective Limit.
func (c DeliveryClaim) ScanSize() int {
	if c.Scan > 0 {
		return c.Scan
	}
	if c.Limit <= 0 {
		return 8 * DefaultLimit
	}
	return 8 * c.Limit
}

// ClaimAttempts is ApplyAttemptClaim followed by the write-back every
// adapter makes: put stores each claimed attempt, in the adapter's
// transaction. It returns what ApplyAttemptClaim returns.
func ClaimAttempts(due []retry.Attempt, now time.Time, c AttemptClaim,
	inFlight func(customerID string) (int, error), put func(retry.Attempt) error) ([]retry.Attempt, int, error) {
	claimed, deferred, err := ApplyAttemptClaim(due, now, c, inFlight)
	if err != nil {
		return nil, 0, err
	}
	for _, a := range claimed {
		if err := put(a); err != nil {
			return nil, 0, err
		}
	}
	return claimed, deferred, nil
}

// ClaimDeliveries is ApplyDeliveryClaim followed by the write-back every
// adapter makes: put stores each claimed delivery, in the adapter's
// transaction.
func ClaimDeliveries(due []webhook.Delivery, now time.Time, c DeliveryClaim, put func(webhook.Delivery) error) ([]webhook.Delivery, error) {
	claimed := ApplyDeliveryClaim(due, now, c)
	for _, d := range claimed {
		if err := put(d); err != nil {
			return nil, err
		}
	}
	return claimed, nil
}
