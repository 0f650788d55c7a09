package coffer

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/webhook"
)

// idsOf returns a function listing the ids of a page (and panicking on
// the error that came with it), to compare pages as id lists.
func idsOf[T any](id func(T) string) func(List[T], error) []string {
	return func(list List[T], err error) []string {
		if err != nil {
			panic(err)
		}
		out := []string{}
		for _, v := range list.Data {
			out = append(out, id(v))
		}
		return out
	}
}

var payIDs = idsOf(func(p subscription.Payment) string { return p.ID })

// TestAccountWideLists runs every account-wide list with its filters on
// every store.
func TestAccountWideLists(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		v.clock.Set(rtAuthorised)
		mk := func(name, email string) customer.Customer {
			v.clock.Advance(time.Minute)
			c, err := v.CreateCustomer(v.ctx, customer.Params{Name: &name, Email: &email,
				DID: new("did:example:" + strings.ToLower(strings.Fields(name)[0]))})
			require.NoError(t, err)
			return c
		}
		ada, alan, bob := mk("Ada Lovelace", "ada@example.com"), mk("Alan Turing", "ALAN@example.com"), mk("Bob", "bob@example.com")
		cusID := func(c customer.Customer) string { return c.ID }

		// Customers.
		require.Equal(t, []string{bob.ID, alan.ID, ada.ID}, idsOf(cusID)(v.ListCustomers(v.ctx, CustomerListParams{})))
		require.Equal(t, []string{alan.ID}, idsOf(cusID)(v.ListCustomers(v.ctx, CustomerListParams{Email: "alan@EXAMPLE.com"})))
		require.Equal(t, []string{bob.ID}, idsOf(cusID)(v.ListCustomers(v.ctx, CustomerListParams{DID: " did:example:bob "})))
		require.Equal(t, []string{alan.ID, ada.ID}, idsOf(cusID)(v.ListCustomers(v.ctx, CustomerListParams{NamePrefix: "A"})))
		require.Equal(t, []string{alan.ID}, idsOf(cusID)(v.ListCustomers(v.ctx, CustomerListParams{NamePrefix: "alan t"})))
		require.Equal(t, []string{alan.ID}, idsOf(cusID)(v.ListCustomers(v.ctx, CustomerListParams{
			Created: TimeRange{From: alan.CreatedAt, To: bob.CreatedAt}})))

		// Subscriptions and payments: Ada pays twice, Alan's card fails and
		// is scheduled for retry, Bob has a mandate only.
		v.clock.Advance(time.Minute)
		subA, payA1 := v.rtSubscribe(ada.ID, processor.CardOK)
		v.clock.Advance(time.Minute)
		v.proc.Script(processor.CardInsufficientFunds, processor.InsufficientFunds)
		subL, payL := v.rtSubscribe(alan.ID, processor.CardInsufficientFunds)
		v.clock.Advance(time.Minute)
		payA2, err := v.Charge(v.ctx, subA.ID, ChargeParams{ProductPrice: new(int64(7_00))})
		require.NoError(t, err)
		v.clock.Advance(time.Minute)
		subB := v.odSubscribe(bob.ID, processor.CardOK)
		require.Equal(t, subscription.PaymentFailed, payL.Status)

		require.Equal(t, []string{payA2.ID, payL.ID, payA1.ID}, payIDs(v.ListPayments(v.ctx, PaymentListParams{})),
			"every customer's payments")
		require.Equal(t, []string{payA2.ID, payA1.ID}, payIDs(v.ListPayments(v.ctx, PaymentListParams{CustomerID: ada.ID})))
		require.Equal(t, []string{payL.ID}, payIDs(v.ListPayments(v.ctx, PaymentListParams{SubscriptionID: subL.ID})))
		require.Equal(t, []string{payL.ID}, payIDs(v.ListPayments(v.ctx, PaymentListParams{
			Statuses: []subscription.PaymentStatus{subscription.PaymentFailed}})))
		require.Equal(t, []string{payA2.ID, payA1.ID}, payIDs(v.ListPayments(v.ctx, PaymentListParams{CustomerID: ada.ID,
			SubscriptionID: subA.ID, Statuses: []subscription.PaymentStatus{subscription.PaymentSucceeded}})))
		require.Equal(t, []string{payL.ID, payA1.ID}, payIDs(v.ListPayments(v.ctx, PaymentListParams{
			Created: TimeRange{To: payA2.CreatedAt}})))
		require.Empty(t, payIDs(v.ListPayments(v.ctx, PaymentListParams{CustomerID: bob.ID})))

		subID := func(s subscription.Subscription) string { return s.ID }
		require.Equal(t, []string{subB.ID, subL.ID, subA.ID}, idsOf(subID)(v.ListSubscriptions(v.ctx, SubscriptionListParams{})))
		require.Equal(t, []string{subA.ID}, idsOf(subID)(v.ListSubscriptions(v.ctx, SubscriptionListParams{CustomerID: ada.ID})))
		active := idsOf(subID)(v.ListSubscriptions(v.ctx, SubscriptionListParams{Status: subscription.StatusActive}))
		require.Contains(t, active, subA.ID)

		// Products: rtSubscribe and odSubscribe each created one.
		prods, err := v.ListProducts(v.ctx, ProductListParams{})
		require.NoError(t, err)
		require.Len(t, prods.Data, 3)
		require.Equal(t, subB.ProductID, prods.Data[0].ID)

		// Refunds, per payment and account-wide.
		v.clock.Advance(time.Minute)
		r1, err := v.Refund(v.ctx, payA1.ID, RefundParams{Amount: 1_00, IdempotencyKey: "r1"})
		require.NoError(t, err)
		v.clock.Advance(time.Minute)
		r2, err := v.Refund(v.ctx, payA2.ID, RefundParams{Amount: 1_00, IdempotencyKey: "r2"})
		require.NoError(t, err)
		refID := func(r subscription.Refund) string { return r.ID }
		require.Equal(t, []string{r2.ID, r1.ID}, idsOf(refID)(v.ListRefunds(v.ctx, RefundListParams{})))
		require.Equal(t, []string{r1.ID}, idsOf(refID)(v.ListRefunds(v.ctx, RefundListParams{PaymentID: payA1.ID})))

		// The dunning queue: Alan's retry, soonest first.
		attID := func(a retry.Attempt) string { return a.ID }
		queue, err := v.ListAttempts(v.ctx, AttemptListParams{Status: retry.AttemptScheduled})
		require.NoError(t, err)
		require.Len(t, queue.Data, 1)
		require.Equal(t, subL.ID, queue.Data[0].SubscriptionID)
		require.Empty(t, idsOf(attID)(v.ListAttempts(v.ctx, AttemptListParams{Due: TimeRange{To: v.clock.Now()}})),
			"nothing due yet")
		require.Len(t, idsOf(attID)(v.ListAttempts(v.ctx, AttemptListParams{Due: TimeRange{To: queue.Data[0].RunAt.Add(time.Second)}})), 1)

		// Events, by type, and one by id.
		evs, err := v.ListEvents(v.ctx, EventListParams{Type: EventCustomerCreated})
		require.NoError(t, err)
		require.Len(t, evs.Data, 3)
		require.Equal(t, bob.ID, evs.Data[0].CustomerID)
		ev, err := v.Event(v.ctx, evs.Data[1].ID)
		require.NoError(t, err)
		require.Equal(t, alan.ID, ev.CustomerID)
		_, err = v.Event(v.ctx, "evt_missing")
		require.ErrorIs(t, err, ErrEventNotFound)
		require.Equal(t, http.StatusNotFound, HTTPStatus(err))
		all, err := v.ListEvents(v.ctx, EventListParams{ListParams: ListParams{Limit: 100}})
		require.NoError(t, err)
		require.Len(t, all.Data, len(v.events()))
	})
}

// TestListParamsValidation: unknown statuses, a backwards range, malformed
// ids and cursors are 422 errors naming the parameter; an unknown
// customer or subscription is a 404.
func TestListParamsValidation(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		c := v.customer()
		now := v.clock.Now()
		backwards := TimeRange{From: now, To: now.Add(-time.Second)}
		for _, tc := range []struct {
			name   string
			call   func() error
			status int
			param  string
			code   string
		}{
			{"payment status", func() error {
				_, err := v.ListPayments(v.ctx, PaymentListParams{Statuses: []subscription.PaymentStatus{"paid"}})
				return err
			}, 422, "", "invalid_request"},
			{"subscription status", func() error {
				_, err := v.ListSubscriptions(v.ctx, SubscriptionListParams{Status: "live"})
				return err
			}, 422, "status", "invalid_request"},
			{"attempt status", func() error {
				_, err := v.ListAttempts(v.ctx, AttemptListParams{Status: "queued"})
				return err
			}, 422, "status", "invalid_request"},
			{"event type", func() error {
				_, err := v.ListEvents(v.ctx, EventListParams{Type: "payment.succeded"})
				return err
			}, 422, "type", "invalid_event_type"},
			{"created range", func() error {
				_, err := v.ListPayments(v.ctx, PaymentListParams{Created: backwards})
				return err
			}, 422, "created", "invalid_request"},
			{"empty range", func() error {
				_, err := v.ListCustomers(v.ctx, CustomerListParams{Created: TimeRange{From: now, To: now}})
				return err
			}, 422, "created", "invalid_request"},
			{"due range", func() error {
				_, err := v.ListAttempts(v.ctx, AttemptListParams{Due: backwards})
				return err
			}, 422, "due", "invalid_request"},
			{"malformed customer", func() error {
				_, err := v.ListPayments(v.ctx, PaymentListParams{CustomerID: "cus_\xff"})
				return err
			}, 422, "customer_id", "invalid_id"},
			{"malformed subscription", func() error {
				_, err := v.ListPayments(v.ctx, PaymentListParams{SubscriptionID: "sub\x00"})
				return err
			}, 422, "subscription_id", "invalid_id"},
			{"malformed cursor", func() error {
				_, err := v.ListProducts(v.ctx, ProductListParams{ListParams: ListParams{StartingAfter: "prod\x00"}})
				return err
			}, 422, "starting_after", "invalid_cursor"},
			{"unknown cursor", func() error {
				_, err := v.ListEvents(v.ctx, EventListParams{ListParams: ListParams{EndingBefore: "evt_nope"}})
				return err
			}, 422, "", "invalid_cursor"},
			{"both cursors", func() error {
				_, err := v.ListRefunds(v.ctx, RefundListParams{ListParams: ListParams{StartingAfter: "a", EndingBefore: "b"}})
				return err
			}, 422, "", "invalid_request"},
			{"limit", func() error {
				_, err := v.ListEndpoints(v.ctx, EndpointListParams{ListParams: ListParams{Limit: 101}})
				return err
			}, 422, "", "invalid_limit"},
			{"name prefix", func() error {
				_, err := v.ListCustomers(v.ctx, CustomerListParams{NamePrefix: "a\tb"})
				return err
			}, 422, "name_prefix", "invalid_text"},
			{"entries need a customer", func() error {
				_, err := v.ListEntries(v.ctx, EntryListParams{})
				return err
			}, 422, "customer_id", "invalid_customer"},
			{"unknown customer", func() error {
				_, err := v.ListSubscriptions(v.ctx, SubscriptionListParams{CustomerID: "cus_nope"})
				return err
			}, 404, "", "customer_not_found"},
			{"unknown subscription", func() error {
				_, err := v.ListPayments(v.ctx, PaymentListParams{CustomerID: c.ID, SubscriptionID: "sub_nope"})
				return err
			}, 404, "", "subscription_not_found"},
			{"unknown payment", func() error {
				_, err := v.ListRefunds(v.ctx, RefundListParams{PaymentID: "pay_nope"})
				return err
			}, 404, "", "payment_not_found"},
		} {
			err := tc.call()
			require.Error(t, err, tc.name)
			e := AsError(err)
			require.Equal(t, tc.status, HTTPStatus(err), "%s: %v", tc.name, err)
			require.Equal(t, tc.code, e.Code, "%s: %v", tc.name, err)
			if tc.param != "" {
				require.Equal(t, tc.param, e.Param, "%s: %v", tc.name, err)
			}
		}
	})
}

// TestListCursors pages an account-wide list both ways with NextCursor.
func TestListCursors(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		var want []string // newest first
		for range 7 {
			v.clock.Advance(time.Second)
			want = append([]string{v.customer().ID}, want...)
		}
		var got []string
		p := CustomerListParams{ListParams: ListParams{Limit: 3}}
		for {
			page, err := v.ListCustomers(v.ctx, p)
			require.NoError(t, err)
			got = append(got, idsOf(func(c customer.Customer) string { return c.ID })(page, nil)...)
			if !page.HasMore {
				require.Empty(t, page.NextCursor)
				break
			}
			require.Equal(t, page.Data[len(page.Data)-1].ID, page.NextCursor)
			p.StartingAfter = page.NextCursor
		}
		require.Equal(t, want, got)

		// Backwards from the oldest: NextCursor is the page's first id.
		page, err := v.ListCustomers(v.ctx, CustomerListParams{ListParams: ListParams{Limit: 3, EndingBefore: want[6]}})
		require.NoError(t, err)
		require.Equal(t, want[3:6], idsOf(func(c customer.Customer) string { return c.ID })(page, nil))
		require.True(t, page.HasMore)
		require.Equal(t, want[3], page.NextCursor)
		page, err = v.ListCustomers(v.ctx, CustomerListParams{ListParams: ListParams{Limit: 3, EndingBefore: page.NextCursor}})
		require.NoError(t, err)
		require.Equal(t, want[0:3], idsOf(func(c customer.Customer) string { return c.ID })(page, nil))
		require.False(t, page.HasMore)
	})
}

// TestIterate: Iterate fetches pages until the list ends, stops at the
// first error, and stops fetching when the caller breaks.
func TestIterate(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		var want []string
		for range 25 {
			v.clock.Advance(time.Second)
			want = append([]string{v.customer().ID}, want...)
		}
		calls := 0
		counted := func(ctx context.Context, p CustomerListParams) (List[customer.Customer], error) {
			calls++
			return v.ListCustomers(ctx, p)
		}
		p := CustomerListParams{ListParams: ListParams{Limit: 10}}

		var got []string
		for c, err := range Iterate(v.ctx, p, counted) {
			require.NoError(t, err)
			got = append(got, c.ID)
		}
		require.Equal(t, want, got)
		require.Equal(t, 3, calls, "25 records in pages of 10")

		// From a cursor, with a filter.
		got = nil
		from := CustomerListParams{Email: "", ListParams: ListParams{Limit: 4, StartingAfter: want[19]}}
		for c, err := range Iterate(v.ctx, from, v.ListCustomers) {
			require.NoError(t, err)
			got = append(got, c.ID)
		}
		require.Equal(t, want[20:], got)

		// The caller breaks: no page after the one it stopped in.
		calls, got = 0, nil
		for c, err := range Iterate(v.ctx, p, counted) {
			require.NoError(t, err)
			got = append(got, c.ID)
			if len(got) == 12 {
				break
			}
		}
		require.Equal(t, want[:12], got)
		require.Equal(t, 2, calls)

		// An error ends the iteration: yielded once, with the zero value.
		boom := errors.New("boom")
		calls, got = 0, nil
		var errs []error
		for c, err := range Iterate(v.ctx, p, func(ctx context.Context, p CustomerListParams) (List[customer.Customer], error) {
			calls++
			if calls == 2 {
				return List[customer.Customer]{}, boom
			}
			return v.ListCustomers(ctx, p)
		}) {
			if err != nil {
				require.Empty(t, c.ID)
				errs = append(errs, err)
				continue
			}
			got = append(got, c.ID)
		}
		require.Equal(t, []error{boom}, errs)
		require.Equal(t, want[:10], got)
		require.Equal(t, 2, calls)

		// A store error (a cancelled context) ends it the same way.
		cctx, cancel := context.WithCancel(v.ctx)
		cancel()
		n := 0
		for _, err := range Iterate(cctx, p, v.ListCustomers) {
			require.ErrorIs(t, err, context.Canceled)
			n++
		}
		require.Equal(t, 1, n)

		// EndingBefore is refused: Iterate pages forward.
		for _, err := range Iterate(v.ctx, CustomerListParams{ListParams: ListParams{EndingBefore: want[0]}}, v.ListCustomers) {
			require.ErrorIs(t, err, ErrInvalid)
		}

		// Every list has the shape Iterate takes.
		for _, err := range Iterate(v.ctx, PaymentListParams{}, v.ListPayments) {
			require.NoError(t, err)
		}
		for _, err := range Iterate(v.ctx, DeliveryListParams{}, v.ListDeliveries) {
			require.NoError(t, err)
		}
		for _, err := range Iterate(v.ctx, EventListParams{}, v.ListEvents) {
			require.NoError(t, err)
		}
		for _, f := range []func() error{
			func() error { return drain(Iterate(v.ctx, SubscriptionListParams{}, v.ListSubscriptions)) },
			func() error { return drain(Iterate(v.ctx, ProductListParams{}, v.ListProducts)) },
			func() error { return drain(Iterate(v.ctx, RefundListParams{}, v.ListRefunds)) },
			func() error { return drain(Iterate(v.ctx, AttemptListParams{}, v.ListAttempts)) },
			func() error { return drain(Iterate(v.ctx, EndpointListParams{}, v.ListEndpoints)) },
			func() error { return drain(Iterate(v.ctx, EntryListParams{CustomerID: want[0]}, v.ListEntries)) },
			func() error { return drain(Iterate(v.ctx, CustomerSearchParams{Query: "test"}, v.SearchCustomers)) },
		} {
			require.NoError(t, f())
		}
	})
}

func drain[T any](seq func(func(T, error) bool)) error {
	for _, err := range seq {
		if err != nil {
			return err
		}
	}
	return nil
}

// TestCreateIdempotentCatalog: a product or endpoint created again with the
// same key and params is the same record; other params conflict.
func TestCreateIdempotentCatalog(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		pp := ProductParams{Name: "Pro", Price: 20_00, Currency: "USD", IdempotencyKey: "plan-pro"}
		a, err := v.CreateProduct(v.ctx, pp)
		require.NoError(t, err)
		v.clock.Advance(time.Hour) // an application restart
		b, err := v.CreateProduct(v.ctx, pp)
		require.NoError(t, err)
		require.Equal(t, a, b)
		pp.Price = 25_00
		_, err = v.CreateProduct(v.ctx, pp)
		require.ErrorIs(t, err, subscription.ErrIdempotencyConflict)
		require.Equal(t, http.StatusConflict, HTTPStatus(err))
		_, err = v.CreateProduct(v.ctx, ProductParams{Name: "Other", Price: 1, Currency: "USD", IdempotencyKey: "k\x00"})
		require.ErrorIs(t, err, ErrInvalidID)
		c, err := v.CreateProduct(v.ctx, ProductParams{Name: "Pro", Price: 20_00, Currency: "USD"})
		require.NoError(t, err)
		require.NotEqual(t, a.ID, c.ID, "no key: a new product")
		prods, err := v.ListProducts(v.ctx, ProductListParams{})
		require.NoError(t, err)
		require.Len(t, prods.Data, 2)

		ep := EndpointParams{URL: "https://example.com/hooks", EventTypes: []string{"payment.*"}, IdempotencyKey: "main"}
		e1, err := v.CreateEndpoint(v.ctx, ep)
		require.NoError(t, err)
		secret := v.endpointSecret(e1.ID)
		v.clock.Advance(time.Hour)
		e2, err := v.CreateEndpoint(v.ctx, ep)
		require.NoError(t, err)
		require.Equal(t, e1.ID, e2.ID)
		require.Empty(t, e2.Secret)
		require.Equal(t, secret, v.endpointSecret(e1.ID), "the secret stays")
		ep.Secret = secret
		_, err = v.CreateEndpoint(v.ctx, ep)
		require.NoError(t, err, "the same secret is the same request")
		other, err := webhook.NewSecret()
		require.NoError(t, err)
		ep.Secret = other
		_, err = v.CreateEndpoint(v.ctx, ep)
		require.ErrorIs(t, err, subscription.ErrIdempotencyConflict)
		ep.Secret = ""
		ep.URL = "https://example.com/other"
		_, err = v.CreateEndpoint(v.ctx, ep)
		require.ErrorIs(t, err, subscription.ErrIdempotencyConflict)
		eps, err := v.ListEndpoints(v.ctx, EndpointListParams{})
		require.NoError(t, err)
		require.Len(t, eps.Data, 1)

		// Deleting the endpoint frees the key.
		require.NoError(t, v.DeleteEndpoint(v.ctx, e1.ID))
		e3, err := v.CreateEndpoint(v.ctx, ep)
		require.NoError(t, err)
		require.NotEqual(t, e1.ID, e3.ID)
	})
}
