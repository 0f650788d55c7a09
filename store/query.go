package store

import (
	"time"
	"unicode/utf8"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/subscription"
)

// The account-wide lists of issue 11 (QueryCustomers, QueryPayments, ...).
//
// Every one is served by an index whose order is (time, sequence): the
// record's CreatedAt (RunAt for attempts) then the sequence the store gave
// it on insert, newest first (attempts: soonest due first). Whenever the
// clock does not go backwards this is insertion order, the order of the
// older List methods. Ordering by time first is what lets a created (or
// due) range bound the walk of any index, so that a page costs what it
// returns: O(page + log n), never O(table).
//
// Cursors are record ids, as for Page: StartingAfter continues after the
// cursor in list order, EndingBefore returns the records just before it
// (still in list order). The cursor record need not match the filters; an
// unknown cursor is ErrNotFound.
//
// Which filter combinations an index serves is part of the contract, so
// every store costs the same; see each query type. A combination not served
// by its own index walks the most selective index it names and checks the
// rest on the way, and is listed with the reason its walk is bounded.

// TimeRange bounds a time: From <= t < To. A zero bound is open.
type TimeRange struct {
	From time.Time
	To   time.Time
}

// IsZero reports whether r bounds nothing.
func (r TimeRange) IsZero() bool { return r.From.IsZero() && r.To.IsZero() }

// Contains reports whether t is in r.
func (r TimeRange) Contains(t time.Time) bool {
	return (r.From.IsZero() || !t.Before(r.From)) && (r.To.IsZero() || t.Before(r.To))
}

// NamePrefixLen is the length, in runes, of the customer name prefixes the
// stores index. A NamePrefix filter up to that long is one index scope; a
// longer one walks the scope of its first NamePrefixLen runes and checks
// the rest.
const NamePrefixLen = 4

// NamePrefixes returns the indexed prefixes of a customer name: the first
// 1..NamePrefixLen runes of customer.Fold(name). An empty name has none.
func NamePrefixes(name string) []string {
	f := customer.Fold(name)
	var out []string
	for i, r := range f {
		out = append(out, f[:i+utf8.RuneLen(r)])
		if len(out) == NamePrefixLen {
			break
		}
	}
	return out
}

// PrefixKey returns the indexed scope a folded name prefix p is looked up
// in: p itself, cut to NamePrefixLen runes.
func PrefixKey(p string) string {
	n := 0
	for i := range p {
		if n == NamePrefixLen {
			return p[:i]
		}
		n++
	}
	return p
}

// CustomerListQuery filters QueryCustomers, newest CreatedAt first.
//
//   - DID: at most one customer (unique index); every other filter is
//     checked on it.
//   - Email: folded exact match (customer.Fold), index by email; NamePrefix
//     is checked on the customers with that email.
//   - NamePrefix: the folded name starts with customer.Fold(NamePrefix)
//     (index by name prefix, see NamePrefixLen).
//   - Created: bounds the walk of whichever index is used.
type CustomerListQuery struct {
	Email      string
	DID        string
	NamePrefix string
	Created    TimeRange
	Page
}

// PaymentListQuery filters QueryPayments, newest CreatedAt first.
// CustomerID "" is every customer; an empty Statuses every status.
//
// Indexes: all, customer, subscription, status, customer+status,
// subscription+status, each ordered by CreatedAt; several statuses merge
// one index scope per status. Customer+subscription walks the subscription
// index and checks the customer (a subscription has one customer, so every
// record walked matches or none does). Created bounds every walk.
type PaymentListQuery struct {
	CustomerID     string
	SubscriptionID string
	Statuses       []subscription.PaymentStatus
	Created        TimeRange
	Page
}

// SubscriptionListQuery filters QuerySubscriptions, newest CreatedAt first.
// Indexes: all, customer, status, customer+status.
type SubscriptionListQuery struct {
	CustomerID string
	Status     subscription.Status
	Created    TimeRange
	Page
}

// ProductListQuery pages the catalog, newest CreatedAt first.
type ProductListQuery struct {
	Created TimeRange
	Page
}

// RefundListQuery filters QueryRefunds, newest CreatedAt first; PaymentID
// "" is every payment. Indexes: all, payment.
type RefundListQuery struct {
	PaymentID string
	Created   TimeRange
	Page
}

// AttemptListQuery filters QueryAttempts: the dunning queue, soonest RunAt
// first (ascending, unlike the other lists). Due bounds RunAt.
//
// Indexes: all, status, subscription, each ordered by RunAt.
// Subscription+status walks the subscription index and checks the status:
// a subscription has at most the retry policy's attempts.
type AttemptListQuery struct {
	SubscriptionID string
	Status         retry.AttemptStatus
	Due            TimeRange
	Page
}

// EventListQuery filters QueryEvents, newest CreatedAt first. Indexes: all,
// type.
type EventListQuery struct {
	Type    string
	Created TimeRange
	Page
}

// EndpointListQuery pages the webhook endpoints, newest CreatedAt first.
type EndpointListQuery struct {
	Page
}
