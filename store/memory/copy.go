package memory

import (
	"maps"
	"slices"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/webhook"
)

// Deep copies of the records that hold maps, slices or pointers: stored
// values never share memory with what callers hold.

func copyMeta(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	return maps.Clone(m)
}

func copyAddress(a *customer.Address) *customer.Address {
	if a == nil {
		return nil
	}
	c := *a
	return &c
}

func copyCustomer(c customer.Customer) customer.Customer {
	c.Address = copyAddress(c.Address)
	if c.Shipping != nil {
		sh := *c.Shipping
		c.Shipping = &sh
	}
	c.Metadata = copyMeta(c.Metadata)
	return c
}

func copySub(s subscription.Subscription) subscription.Subscription {
	s.BillingAddress = copyAddress(s.BillingAddress)
	s.Metadata = copyMeta(s.Metadata)
	return s
}

func copyPayment(p subscription.Payment) subscription.Payment {
	p.Metadata = copyMeta(p.Metadata)
	return p
}

func copyAttempt(a retry.Attempt) retry.Attempt {
	a.Metadata = copyMeta(a.Metadata)
	return a
}

func copyEndpoint(e webhook.Endpoint) webhook.Endpoint {
	if e.EventTypes != nil {
		e.EventTypes = slices.Clone(e.EventTypes)
	}
	return e
}

// same is the identity copy, for records without maps, slices or pointers.
func same[T any](v T) T { return v }
