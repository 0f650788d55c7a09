package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
)

// billingRoutes registers products, subscriptions, payments and refunds.
func (h *Handler) billingRoutes() {
	h.productRoutes()
	h.subscriptionRoutes()
	h.paymentRoutes()
	h.refundRoutes()
}

// BillingAddress is Dodo's BillingAddress. coffer keeps an address as
// line1/line2/city/state/postal_code/country: Dodo's street is line1 (a
// line2 is appended after ", " on the way out) and zipcode is postal_code.
type BillingAddress struct {
	Country string  `json:"country"`
	City    *string `json:"city"`
	State   *string `json:"state"`
	Street  *string `json:"street"`
	Zipcode *string `json:"zipcode"`
}

func billingOut(a *customer.Address) BillingAddress {
	if a == nil {
		return BillingAddress{}
	}
	street := a.Line1
	if a.Line2 != "" {
		if street != "" {
			street += ", "
		}
		street += a.Line2
	}
	return BillingAddress{Country: a.Country, City: optString(a.City), State: optString(a.State),
		Street: optString(street), Zipcode: optString(a.PostalCode)}
}

// billingIn is the request form of BillingAddress (every field nullable).
type billingIn struct {
	Country *string `json:"country"`
	City    *string `json:"city"`
	State   *string `json:"state"`
	Street  *string `json:"street"`
	Zipcode *string `json:"zipcode"`
}

func (b billingIn) address() *customer.Address {
	s := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	return &customer.Address{Line1: s(b.Street), City: s(b.City), State: s(b.State), PostalCode: s(b.Zipcode),
		Country: s(b.Country)}
}

// noItems is an element of the Dodo arrays coffer always answers empty
// (entitlements, meters, addons, disputes, ...): coffer has none of them.
type noItems struct{}

// TimeInterval values are capitalised in Dodo ('Month').
var timeIntervals = []string{"Day", "Week", "Month", "Year"}

// customers reads customers once per request for embedded
// CustomerLimitedDetails.
type customers struct {
	c *call
	m map[string]CustomerLimitedDetails
}

func (c *call) customers() *customers {
	return &customers{c: c, m: map[string]CustomerLimitedDetails{}}
}

func (cs *customers) get(id string) (CustomerLimitedDetails, error) {
	if d, ok := cs.m[id]; ok {
		return d, nil
	}
	d, err := cs.c.limited(id)
	if err != nil {
		return d, err
	}
	cs.m[id] = d
	return d, nil
}

// unsupportedFilter is the answer for a Dodo list filter coffer cannot
// apply: a 422, never a silently unfiltered list.
func unsupportedFilter(name, why string) error {
	return &apiError{status: http.StatusUnprocessableEntity, code: "UNSUPPORTED_FILTER", param: name,
		message: name + " is not supported as a filter here: " + why}
}

// unsupported is a 422 for a Dodo feature coffer does not have.
func unsupported(code, param, msg string) error {
	return &apiError{status: http.StatusUnprocessableEntity, code: code, param: param, message: msg}
}

// refuseFilters answers 422 for the first of names given in q.
func refuseFilters(q query, why string, names ...string) error {
	for _, n := range names {
		if q.has(n) {
			return unsupportedFilter(n, why)
		}
	}
	return nil
}

// brandMatches reads brand_id: coffer has one brand, the business id, so
// brand_id names it (every record) or another (no record).
func (c *call) brandMatches(q query) bool {
	b := q.str("brand_id")
	return b == "" || b == c.h.businessID
}

// emptyPage is a list nothing can match.
func emptyPage[T any]() Page[T] { return Page[T]{Items: []T{}} }

// MaxFilterScan bounds the records one request reads to apply a filter the
// Engine cannot (refunds by customer or status).
const MaxFilterScan = 5000

// filtered wraps a list with a predicate the Engine cannot apply: it reads
// pages of 100 after the cursor and keeps the matching records, at most
// MaxFilterScan records per call. A call that reached the bound with some
// matches returns them (the next page continues after the last); with none
// it is a 422 FILTER_TOO_BROAD.
func filtered[T any](list func(coffer.ListParams) (coffer.List[T], error), keep func(T) bool, id func(T) string) func(coffer.ListParams) (coffer.List[T], error) {
	return func(lp coffer.ListParams) (coffer.List[T], error) {
		if lp.EndingBefore != "" {
			return coffer.List[T]{}, invalidParam("ending_before", "ending_before cannot be combined with this filter; use starting_after or page_number")
		}
		limit := lp.Limit
		if limit <= 0 {
			limit = DefaultPageSize
		}
		out := []T{}
		after, scanned := lp.StartingAfter, 0
		for {
			chunk, err := list(coffer.ListParams{Limit: MaxPageSize, StartingAfter: after})
			if err != nil {
				return coffer.List[T]{}, err
			}
			for i, v := range chunk.Data {
				if !keep(v) {
					continue
				}
				out = append(out, v)
				if len(out) == limit {
					more := i < len(chunk.Data)-1 || chunk.HasMore
					res := coffer.List[T]{Data: out, HasMore: more}
					if more {
						res.NextCursor = id(v)
					}
					return res, nil
				}
			}
			scanned += len(chunk.Data)
			if !chunk.HasMore || len(chunk.Data) == 0 {
				return coffer.List[T]{Data: out}, nil
			}
			after = id(chunk.Data[len(chunk.Data)-1])
			if scanned >= MaxFilterScan {
				if len(out) > 0 {
					return coffer.List[T]{Data: out, HasMore: true, NextCursor: id(out[len(out)-1])}, nil
				}
				return coffer.List[T]{}, &apiError{status: http.StatusUnprocessableEntity, code: "FILTER_TOO_BROAD",
					message: "no match in the next " + strconv.Itoa(MaxFilterScan) + " records; narrow the list (payment_id, created_at_gte/lte)"}
			}
		}
	}
}

// restrictedNotFound hides from a restricted key whether a record it may
// not see exists (403, as customerParam does).
func (c *call) restrictedNotFound(err error, notFound error) error {
	if c.p.Restricted() && errors.Is(err, notFound) {
		return errForbidden("this API key is restricted to another customer")
	}
	return err
}

// idempotencyKey reads the optional Idempotency-Key header and the body's
// idempotency_key (an extension; the Dodo SDK sends neither); both given
// must agree.
func (c *call) idempotencyKey(body *string) (string, error) {
	hdr := strings.TrimSpace(c.r.Header.Get("Idempotency-Key"))
	var b string
	if body != nil {
		b = *body
	}
	if hdr != "" && b != "" && hdr != b {
		return "", invalidParam("idempotency_key", "the Idempotency-Key header and the body's idempotency_key differ")
	}
	if b != "" {
		return b, nil
	}
	return hdr, nil
}

// contextWithoutCancel is the request's context without its
// cancellation: reading back what a request committed must not fail
// because the client left.
func contextWithoutCancel(c *call) context.Context { return context.WithoutCancel(c.ctx()) }

// scopedFilters reads the filters the customer-scoped lists share: the
// customer (forced to a restricted key's own) and created_at_gte/lte.
func (c *call) scopedFilters(q query) (string, coffer.TimeRange, error) {
	cust, err := c.scopeCustomer(q.str("customer_id"))
	if err != nil {
		return "", coffer.TimeRange{}, err
	}
	created, err := createdRange(q)
	return cust, created, err
}
