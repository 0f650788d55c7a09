package store

import (
	"slices"
	"strings"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/subscription"
)

// The index choice and the record filter of the list queries, written once
// for the adapters that keep their own indexes (memory, bolt): a query
// walks the index scopes Scopes returns, newest first, and keeps the
// records Matches accepts. A scope is the index's name and the values that
// key it ("pay.ct", customer id, status); each adapter turns the parts into
// its own key. The scopes' names are those the adapters index records
// under.

// Scopes is the index scope QueryCustomers walks: the DID index, else the
// (folded) email index, else the name-prefix index, else all customers.
func (q CustomerListQuery) Scopes() [][]string {
	switch email, prefix := customer.Fold(q.Email), customer.Fold(q.NamePrefix); {
	case q.DID != "":
		return [][]string{{"cus.did", q.DID}}
	case email != "":
		return [][]string{{"cus.email", email}}
	case prefix != "":
		return [][]string{{"cus.name", PrefixKey(prefix)}}
	}
	return [][]string{{"cus"}}
}

// Matches reports whether c passes every filter of q.
func (q CustomerListQuery) Matches(c *customer.Customer) bool {
	return (q.DID == "" || c.DID == q.DID) && (q.Email == "" || customer.Fold(c.Email) == customer.Fold(q.Email)) &&
		(q.NamePrefix == "" || strings.HasPrefix(customer.Fold(c.Name), customer.Fold(q.NamePrefix))) &&
		q.Created.Contains(c.CreatedAt)
}

// statuses returns q's statuses without repeats, in order.
func (q PaymentListQuery) statuses() []string {
	var sts []string
	for _, st := range q.Statuses {
		if !slices.Contains(sts, string(st)) {
			sts = append(sts, string(st))
		}
	}
	return sts
}

// Scopes are the index scopes QueryPayments walks (and merges): one per
// status when statuses are given, on the subscription's, the customer's or
// the account's status index; otherwise the subscription's, the
// customer's or every payment. A subscription has one customer, so
// subscription + customer walks the subscription's index.
func (q PaymentListQuery) Scopes() [][]string {
	sts := q.statuses()
	var out [][]string
	each := func(name string, key ...string) [][]string {
		for _, st := range sts {
			out = append(out, append(slices.Clone(append([]string{name}, key...)), st))
		}
		return out
	}
	switch {
	case q.SubscriptionID != "" && len(sts) > 0:
		return each("pay.st", q.SubscriptionID)
	case q.SubscriptionID != "":
		return [][]string{{"pay.s", q.SubscriptionID}}
	case q.CustomerID != "" && len(sts) > 0:
		return each("pay.ct", q.CustomerID)
	case q.CustomerID != "":
		return [][]string{{"pay.c", q.CustomerID}}
	case len(sts) > 0:
		return each("pay.t")
	}
	return [][]string{{"pay"}}
}

// Matches reports whether p passes every filter of q.
func (q PaymentListQuery) Matches(p *subscription.Payment) bool {
	return (q.CustomerID == "" || p.CustomerID == q.CustomerID) &&
		(q.SubscriptionID == "" || p.SubscriptionID == q.SubscriptionID) &&
		(len(q.Statuses) == 0 || slices.Contains(q.Statuses, p.Status)) && q.Created.Contains(p.CreatedAt)
}

// Scopes is the index scope QuerySubscriptions walks.
func (q SubscriptionListQuery) Scopes() [][]string {
	switch {
	case q.CustomerID != "" && q.Status != "":
		return [][]string{{"sub.ct", q.CustomerID, string(q.Status)}}
	case q.CustomerID != "":
		return [][]string{{"sub.c", q.CustomerID}}
	case q.Status != "":
		return [][]string{{"sub.t", string(q.Status)}}
	}
	return [][]string{{"sub"}}
}

// Matches reports whether s passes every filter of q.
func (q SubscriptionListQuery) Matches(s *subscription.Subscription) bool {
	return (q.CustomerID == "" || s.CustomerID == q.CustomerID) && (q.Status == "" || s.Status == q.Status) &&
		q.Created.Contains(s.CreatedAt)
}
