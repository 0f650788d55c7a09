package coffer

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/internal/text"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/webhook"
)

// Every collection the Engine exposes is listed the same way:
//
//	func (e *Engine) ListX(ctx context.Context, p XListParams) (List[T], error)
//
// XListParams embeds ListParams (Limit, StartingAfter, EndingBefore) and
// adds the collection's filters; the result is one page with HasMore and
// NextCursor. Iterate turns any of them into an iter.Seq2 that fetches the
// pages for the caller. Each list is served by a store index, so a page
// costs what it returns, however many records are stored (see
// store/query.go for which filter combinations each index serves).

// TimeRange bounds a list by time: From <= t < To. A zero bound is open;
// with both set, From must be before To.
type TimeRange struct {
	From time.Time `json:"from,omitzero"`
	To   time.Time `json:"to,omitzero"`
}

// check validates r for the parameter param and converts it for the store.
func (r TimeRange) check(param string) (store.TimeRange, error) {
	if !r.From.IsZero() && !r.To.IsZero() && !r.From.Before(r.To) {
		return store.TimeRange{}, &customer.FieldError{Field: param,
			Err: fmt.Errorf("%w: %s.from must be before %s.to", ErrInvalid, param, param)}
	}
	return store.TimeRange{From: r.From, To: r.To}, nil
}

// listParams gives Iterate the page fields of any XListParams.
func (p *ListParams) listParams() *ListParams { return p }

// Iterate returns every record of a list, fetching one page at a time with
// list (any Engine ListX method) and the filters of p, from p's
// StartingAfter on (or the start). It stops at the first error, which it
// yields with the zero T, and as soon as the caller stops ranging. Records
// created while it runs may or may not be seen; none is seen twice.
// Iterate pages forward only: a p with EndingBefore yields ErrInvalid.
//
//	for pay, err := range coffer.Iterate(ctx, coffer.PaymentListParams{}, e.ListPayments) {
//		if err != nil { return err }
//		...
//	}
func Iterate[P any, PP interface {
	*P
	listParams() *ListParams
}, T any](ctx context.Context, p P, list func(context.Context, P) (List[T], error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		lp := PP(&p).listParams()
		if lp.EndingBefore != "" {
			yield(zero, fmt.Errorf("%w: Iterate pages forward; use starting_after, not ending_before", ErrInvalid))
			return
		}
		for {
			page, err := list(ctx, p)
			if err != nil {
				yield(zero, err)
				return
			}
			for _, v := range page.Data {
				if !yield(v, nil) {
					return
				}
			}
			if !page.HasMore || page.NextCursor == "" {
				return
			}
			lp.StartingAfter = page.NextCursor
		}
	}
}

// newList builds a page; NextCursor continues in the direction the page
// was read (see List).
func newList[T any](data []T, more bool, p store.Page, id func(T) string) List[T] {
	l := List[T]{Data: data, HasMore: more}
	if more && len(data) > 0 {
		if p.EndingBefore != "" && p.StartingAfter == "" {
			l.NextCursor = id(data[0])
		} else {
			l.NextCursor = id(data[len(data)-1])
		}
	}
	return l
}

// listView runs one page query in a View transaction.
func listView[T any](ctx context.Context, e *Engine, p store.Page, id func(T) string,
	q func(tx store.Tx) ([]T, bool, error)) (List[T], error) {
	var out List[T]
	err := e.store.View(ctx, func(tx store.Tx) error {
		data, more, err := q(tx)
		if err != nil {
			return listErr(err)
		}
		out = newList(data, more, p, id)
		return nil
	})
	return out, err
}

// ---- validation of filters

func checkSubscriptionStatus(s subscription.Status) error {
	switch s {
	case "", subscription.StatusPending, subscription.StatusActive, subscription.StatusOnHold,
		subscription.StatusCancelled, subscription.StatusFailed:
		return nil
	}
	return &customer.FieldError{Field: "status", Err: fmt.Errorf("%w: unknown subscription status %s",
		subscription.ErrInvalid, text.Quote(string(s)))}
}

func checkAttemptStatus(s retry.AttemptStatus) error {
	switch s {
	case "", retry.AttemptScheduled, retry.AttemptClaimed, retry.AttemptSucceeded, retry.AttemptFailed,
		retry.AttemptCancelled:
		return nil
	}
	return &customer.FieldError{Field: "status", Err: fmt.Errorf("%w: unknown retry attempt status %s",
		subscription.ErrInvalid, text.Quote(string(s)))}
}

func checkEventType(typ string) error {
	if typ == "" {
		return nil
	}
	if slices.Contains(EventTypes(), typ) {
		return nil
	}
	return &customer.FieldError{Field: "type", Err: fmt.Errorf("%w: unknown event type %s",
		webhook.ErrInvalidEventType, text.Quote(typ))}
}

// checkNamePrefix refuses a name prefix no stored name can start with:
// not storable text, or holding a control character (which names, as the
// search rules them, never match).
func checkNamePrefix(p string) error {
	if err := checkText(customer.ErrInvalidText, "name_prefix", p, maxTextLen); err != nil {
		return &customer.FieldError{Field: "name_prefix", Err: err}
	}
	if strings.IndexFunc(p, unicode.IsControl) >= 0 {
		return &customer.FieldError{Field: "name_prefix",
			Err: fmt.Errorf("%w: name_prefix holds a control character", customer.ErrInvalidText)}
	}
	return nil
}

// ---- products

// ProductListParams filters ListProducts.
type ProductListParams struct {
	ListParams
	Created TimeRange `json:"created,omitzero"`
}

// ListProducts lists the catalog, newest first.
func (e *Engine) ListProducts(ctx context.Context, p ProductListParams) (List[subscription.Product], error) {
	q := store.ProductListQuery{}
	var err error
	if q.Page, err = p.page(); err != nil {
		return List[subscription.Product]{}, err
	}
	if q.Created, err = p.Created.check("created"); err != nil {
		return List[subscription.Product]{}, err
	}
	return listView(ctx, e, q.Page, func(p subscription.Product) string { return p.ID },
		func(tx store.Tx) ([]subscription.Product, bool, error) { return tx.QueryProducts(q) })
}

// ---- refunds

// RefundListParams filters ListRefunds; PaymentID "" lists the refunds of
// every payment.
type RefundListParams struct {
	ListParams
	PaymentID string    `json:"payment_id,omitempty"`
	Created   TimeRange `json:"created,omitzero"`
}

// ListRefunds lists refunds, newest first: of one payment (a payment that
// does not exist is a not-found error) or account-wide.
func (e *Engine) ListRefunds(ctx context.Context, p RefundListParams) (List[subscription.Refund], error) {
	var out List[subscription.Refund]
	if err := checkID(subscription.ErrInvalid, "payment_id", p.PaymentID); err != nil {
		return out, err
	}
	q := store.RefundListQuery{PaymentID: p.PaymentID}
	var err error
	if q.Page, err = p.page(); err != nil {
		return out, err
	}
	if q.Created, err = p.Created.check("created"); err != nil {
		return out, err
	}
	err = e.store.View(ctx, func(tx store.Tx) error {
		if q.PaymentID != "" {
			if _, err := getPayment(tx, q.PaymentID); err != nil {
				return err
			}
		}
		data, more, err := tx.QueryRefunds(q)
		if err != nil {
			return listErr(err)
		}
		out = newList(data, more, q.Page, func(r subscription.Refund) string { return r.ID })
		return nil
	})
	return out, err
}

// ---- retry attempts

// AttemptListParams filters ListAttempts: the dunning queue.
// SubscriptionID "" and Status "" match every attempt; Due bounds RunAt
// (Due.To = now lists what is due).
type AttemptListParams struct {
	ListParams
	SubscriptionID string              `json:"subscription_id,omitempty"`
	Status         retry.AttemptStatus `json:"status,omitempty"`
	Due            TimeRange           `json:"due,omitzero"`
}

// ListAttempts lists retry attempts soonest RunAt first (the one list
// that is not newest first: it is a queue). StartingAfter continues with
// the attempts due after the cursor.
func (e *Engine) ListAttempts(ctx context.Context, p AttemptListParams) (List[retry.Attempt], error) {
	var out List[retry.Attempt]
	if err := checkID(subscription.ErrInvalid, "subscription_id", p.SubscriptionID); err != nil {
		return out, err
	}
	if err := checkAttemptStatus(p.Status); err != nil {
		return out, err
	}
	q := store.AttemptListQuery{SubscriptionID: p.SubscriptionID, Status: p.Status}
	var err error
	if q.Page, err = p.page(); err != nil {
		return out, err
	}
	if q.Due, err = p.Due.check("due"); err != nil {
		return out, err
	}
	return listView(ctx, e, q.Page, func(a retry.Attempt) string { return a.ID },
		func(tx store.Tx) ([]retry.Attempt, bool, error) { return tx.QueryAttempts(q) })
}

// ---- events

// EventListParams filters ListEvents; Type "" lists every type.
type EventListParams struct {
	ListParams
	Type    string    `json:"type,omitempty"`
	Created TimeRange `json:"created,omitzero"`
}

// ListEvents lists outbox events, newest first. A Type the Engine never
// emits is a 422 error (webhook.ErrInvalidEventType) naming "type".
func (e *Engine) ListEvents(ctx context.Context, p EventListParams) (List[webhook.Event], error) {
	if err := checkEventType(p.Type); err != nil {
		return List[webhook.Event]{}, err
	}
	q := store.EventListQuery{Type: p.Type}
	var err error
	if q.Page, err = p.page(); err != nil {
		return List[webhook.Event]{}, err
	}
	if q.Created, err = p.Created.check("created"); err != nil {
		return List[webhook.Event]{}, err
	}
	return listView(ctx, e, q.Page, func(ev webhook.Event) string { return ev.ID },
		func(tx store.Tx) ([]webhook.Event, bool, error) { return tx.QueryEvents(q) })
}

// ErrEventNotFound: no event has the id.
var ErrEventNotFound = errors.New("coffer: event not found")

// Event returns one outbox event.
func (e *Engine) Event(ctx context.Context, id string) (webhook.Event, error) {
	if err := checkID(ErrInvalid, "event_id", id); err != nil {
		return webhook.Event{}, err
	}
	return view(ctx, e, func(tx store.Tx) (webhook.Event, error) {
		ev, err := tx.Event(id)
		if errors.Is(err, store.ErrNotFound) {
			return ev, fmt.Errorf("%w: %s", ErrEventNotFound, text.Quote(id))
		}
		return ev, err
	})
}
