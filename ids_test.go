package coffer

import (
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

// malformedIDs are ids no record can have: a NUL byte and invalid UTF-8
// (PostgreSQL refused both with SQLSTATE 22021, a 500, where memory and
// bbolt answered not found) and more bytes than MaxIDLen.
var malformedIDs = map[string]string{
	"NUL":       "cus_\x00",
	"not UTF-8": "cus_\xff",
	"300 bytes": "cus_" + strings.Repeat("x", 296),
}

// idCall is one Engine entry point driven with a malformed value.
type idCall struct {
	name string
	// param is the parameter the error must name.
	param string
	// notID marks a value that is not an id (a did, a filter, a search):
	// want gives its answer per malformedIDs case instead of ErrInvalidID.
	notID bool
	want  map[string]int
	do    func(w *fzWorld, fx idFixture, bad string) error
}

type idFixture struct{ cust, sub, pay string }

// idCalls is every Engine entry point that takes an id, key, cursor or
// filter and hands it to a store.
func idCalls() []idCall {
	page := func(bad string, after bool) ListParams {
		if after {
			return ListParams{StartingAfter: bad}
		}
		return ListParams{EndingBefore: bad}
	}
	var calls []idCall
	add := func(name, param string, do func(w *fzWorld, fx idFixture, bad string) error) {
		calls = append(calls, idCall{name: name, param: param, do: do})
	}
	for _, after := range []bool{true, false} {
		param := "ending_before"
		if after {
			param = "starting_after"
		}
		add("ListCustomers "+param, param, func(w *fzWorld, fx idFixture, bad string) error {
			_, err := w.eng.ListCustomers(w.ctx, CustomerListParams{ListParams: page(bad, after)})
			return err
		})
		add("SearchCustomers "+param, param, func(w *fzWorld, fx idFixture, bad string) error {
			_, err := w.eng.SearchCustomers(w.ctx, CustomerSearchParams{Query: "victim", ListParams: page(bad, after)})
			return err
		})
		add("ListEntries "+param, param, func(w *fzWorld, fx idFixture, bad string) error {
			_, err := w.eng.ListEntries(w.ctx, EntryListParams{CustomerID: fx.cust, ListParams: page(bad, after)})
			return err
		})
		add("ListPayments "+param, param, func(w *fzWorld, fx idFixture, bad string) error {
			_, err := w.eng.ListPayments(w.ctx, PaymentListParams{CustomerID: fx.cust, ListParams: page(bad, after)})
			return err
		})
		add("ListSubscriptions "+param, param, func(w *fzWorld, fx idFixture, bad string) error {
			_, err := w.eng.ListSubscriptions(w.ctx, SubscriptionListParams{CustomerID: fx.cust, ListParams: page(bad, after)})
			return err
		})
		add("ListDeliveries "+param, param, func(w *fzWorld, fx idFixture, bad string) error {
			_, err := w.eng.ListDeliveries(w.ctx, DeliveryListParams{ListParams: page(bad, after)})
			return err
		})
	}
	add("Customer", "customer_id", func(w *fzWorld, fx idFixture, bad string) error {
		_, err := w.eng.Customer(w.ctx, bad)
		return err
	})
	add("UpdateCustomer", "customer_id", func(w *fzWorld, fx idFixture, bad string) error {
		_, err := w.eng.UpdateCustomer(w.ctx, bad, customer.Params{Name: new("x")})
		return err
	})
	add("CreateEntry", "customer_id", func(w *fzWorld, fx idFixture, bad string) error {
		_, err := w.eng.CreateEntry(w.ctx, bad, EntryParams{Amount: 1, Currency: "USD", Type: ledger.Credit})
		return err
	})
	add("CreateEntry idempotency_key", "idempotency_key", func(w *fzWorld, fx idFixture, bad string) error {
		_, err := w.eng.CreateEntry(w.ctx, fx.cust, EntryParams{Amount: 1, Currency: "USD", Type: ledger.Credit, IdempotencyKey: bad})
		return err
	})
	add("CreateEntry reference id", "reference_id", func(w *fzWorld, fx idFixture, bad string) error {
		_, err := w.eng.CreateEntry(w.ctx, fx.cust, EntryParams{Amount: 1, Currency: "USD", Type: ledger.Credit,
			ReferenceID: bad})
		return err
	})
	add("Balances", "customer_id", func(w *fzWorld, fx idFixture, bad string) error {
		_, err := w.eng.Balances(w.ctx, bad)
		return err
	})
	add("Balance", "customer_id", func(w *fzWorld, fx idFixture, bad string) error {
		_, err := w.eng.Balance(w.ctx, bad, "USD")
		return err
	})
	add("SetLowBalanceThreshold", "customer_id", func(w *fzWorld, fx idFixture, bad string) error {
		_, err := w.eng.SetLowBalanceThreshold(w.ctx, bad, LowBalanceParams{Currency: "USD", Threshold: 5})
		return err
	})
	add("ListEntries", "customer_id", func(w *fzWorld, fx idFixture, bad string) error {
		_, err := w.eng.ListEntries(w.ctx, EntryListParams{CustomerID: bad})
		return err
	})
	add("SpendingReport", "customer_id", func(w *fzWorld, fx idFixture, bad string) error {
		_, err := w.eng.SpendingReport(w.ctx, bad, SpendingReportParams{Currency: "USD", From: t0, To: t0.Add(24 * time.Hour)})
		return err
	})
	add("Payment", "payment_id", func(w *fzWorld, fx idFixture, bad string) error {
		_, err := w.eng.Payment(w.ctx, bad)
		return err
	})
	add("ListPayments", "customer_id", func(w *fzWorld, fx idFixture, bad string) error {
		_, err := w.eng.ListPayments(w.ctx, PaymentListParams{CustomerID: bad})
		return err
	})
	add("Overdue", "customer_id", func(w *fzWorld, fx idFixture, bad string) error {
		_, err := w.eng.Overdue(w.ctx, bad)
		return err
	})
	add("Refund", "payment_id", func(w *fzWorld, fx idFixture, bad string) error {
		_, err := w.eng.Refund(w.ctx, bad, RefundParams{IdempotencyKey: "r1"})
		return err
	})
	add("Refund idempotency_key", "idempotency_key", func(w *fzWorld, fx idFixture, bad string) error {
		_, err := w.eng.Refund(w.ctx, fx.pay, RefundParams{IdempotencyKey: bad})
		return err
	})
	add("Refunds", "payment_id", func(w *fzWorld, fx idFixture, bad string) error {
		_, err := pageData(w.eng.ListRefunds(w.ctx, RefundListParams{PaymentID: bad}))
		return err
	})
	add("UpdatePaymentMethod", "subscription_id", func(w *fzWorld, fx idFixture, bad string) error {
		_, err := w.eng.UpdatePaymentMethod(w.ctx, bad, PaymentMethodParams{PaymentMethod: processor.CardOK})
		return err
	})
	add("CollectOverdue", "payment_id", func(w *fzWorld, fx idFixture, bad string) error {
		_, err := w.eng.CollectOverdue(w.ctx, bad, CollectOverdueParams{IdempotencyKey: ""})
		return err
	})
	add("CollectOverdue idempotency_key", "idempotency_key", func(w *fzWorld, fx idFixture, bad string) error {
		_, err := w.eng.CollectOverdue(w.ctx, fx.pay, CollectOverdueParams{IdempotencyKey: bad})
		return err
	})
	add("Charge", "subscription_id", func(w *fzWorld, fx idFixture, bad string) error {
		_, err := w.eng.Charge(w.ctx, bad, ChargeParams{ProductPrice: new(int64(100))})
		return err
	})
	add("Charge idempotency_key", "idempotency_key", func(w *fzWorld, fx idFixture, bad string) error {
		_, err := w.eng.Charge(w.ctx, fx.sub, ChargeParams{ProductPrice: new(int64(100)), IdempotencyKey: bad})
		return err
	})
	add("ChargeOneTime", "customer_id", func(w *fzWorld, fx idFixture, bad string) error {
		_, err := w.eng.ChargeOneTime(w.ctx, bad, OneTimeParams{Amount: 100, Currency: "USD", PaymentMethod: processor.CardOK})
		return err
	})
	add("ChargeOneTime idempotency_key", "idempotency_key", func(w *fzWorld, fx idFixture, bad string) error {
		_, err := w.eng.ChargeOneTime(w.ctx, fx.cust, OneTimeParams{Amount: 100, Currency: "USD",
			PaymentMethod: processor.CardOK, IdempotencyKey: bad})
		return err
	})
	add("Attempts", "subscription_id", func(w *fzWorld, fx idFixture, bad string) error {
		_, err := pageData(w.eng.ListAttempts(w.ctx, AttemptListParams{SubscriptionID: bad}))
		return err
	})
	add("Product", "product_id", func(w *fzWorld, fx idFixture, bad string) error {
		_, err := w.eng.Product(w.ctx, bad)
		return err
	})
	add("CreateSubscription product_id", "product_id", func(w *fzWorld, fx idFixture, bad string) error {
		_, err := w.eng.CreateSubscription(w.ctx, SubscriptionParams{ProductID: bad, Quantity: 1, CustomerID: fx.cust,
			PaymentMethod: processor.CardOK, OnDemand: &OnDemand{MandateOnly: new(true)}})
		return err
	})
	add("CreateSubscription customer_id", "customer_id", func(w *fzWorld, fx idFixture, bad string) error {
		prod, err := w.eng.ListSubscriptions(w.ctx, SubscriptionListParams{CustomerID: fx.cust, ListParams: ListParams{Limit: 1}})
		if err != nil {
			return err
		}
		_, err = w.eng.CreateSubscription(w.ctx, SubscriptionParams{ProductID: prod.Data[0].ProductID, Quantity: 1,
			CustomerID: bad, PaymentMethod: processor.CardOK, OnDemand: &OnDemand{MandateOnly: new(true)}})
		return err
	})
	add("ConfirmMandate", "subscription_id", func(w *fzWorld, fx idFixture, bad string) error {
		_, err := w.eng.ConfirmMandate(w.ctx, bad)
		return err
	})
	add("Subscription", "subscription_id", func(w *fzWorld, fx idFixture, bad string) error {
		_, err := w.eng.Subscription(w.ctx, bad)
		return err
	})
	add("ListSubscriptions", "customer_id", func(w *fzWorld, fx idFixture, bad string) error {
		_, err := w.eng.ListSubscriptions(w.ctx, SubscriptionListParams{CustomerID: bad})
		return err
	})
	add("CancelSubscription", "subscription_id", func(w *fzWorld, fx idFixture, bad string) error {
		_, err := w.eng.CancelSubscription(w.ctx, bad)
		return err
	})
	// Not ids: a did is a text field of up to 500 characters, so a
	// 300-byte one is well formed and simply unknown; an email filter
	// likewise; a search is bounded to 256 bytes.
	calls = append(calls,
		idCall{name: "CustomerByDID", param: "did", notID: true,
			want: map[string]int{"NUL": 422, "not UTF-8": 422, "300 bytes": 404},
			do: func(w *fzWorld, fx idFixture, bad string) error {
				_, err := w.eng.CustomerByDID(w.ctx, bad)
				return err
			}},
		idCall{name: "ListCustomers email", param: "email", notID: true,
			want: map[string]int{"NUL": 422, "not UTF-8": 422, "300 bytes": 200},
			do: func(w *fzWorld, fx idFixture, bad string) error {
				list, err := w.eng.ListCustomers(w.ctx, CustomerListParams{Email: bad})
				if err == nil && len(list.Data) > 0 {
					return errors.New("matched a customer")
				}
				return err
			}},
		idCall{name: "ListPayments statuses", param: "statuses", notID: true,
			want: map[string]int{"NUL": 422, "not UTF-8": 422, "300 bytes": 422},
			do: func(w *fzWorld, fx idFixture, bad string) error {
				_, err := w.eng.ListPayments(w.ctx, PaymentListParams{CustomerID: fx.cust, Statuses: []subscription.PaymentStatus{"failed", subscription.PaymentStatus(bad)}})
				return err
			}},
		idCall{name: "SearchCustomers", param: "search", notID: true,
			want: map[string]int{"NUL": 422, "not UTF-8": 422, "300 bytes": 422},
			do: func(w *fzWorld, fx idFixture, bad string) error {
				_, err := w.eng.SearchCustomers(w.ctx, CustomerSearchParams{Query: bad})
				return err
			}},
	)
	return calls
}

// TestMalformedIDs drives every Engine entry point taking an id, key,
// cursor or filter with a NUL byte, invalid UTF-8 and a 300-byte id, on
// every store: each answers the same typed 4xx error (ErrInvalidID, 422,
// naming the parameter; the documented answer for dids, filters and
// searches) and changes nothing. Before, PostgreSQL answered 500 (SQLSTATE
// 22021) where memory and bbolt answered 404 or 422.
func TestMalformedIDs(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		w := newFzWorldOn(t, newStore(t))
		prod, err := w.eng.CreateProduct(w.ctx, ProductParams{Name: "plan", Price: 100, Currency: "USD"})
		if err != nil {
			t.Fatal(err)
		}
		c := w.newCustomer(t, customer.Params{Name: new("victim"), DID: new("did:example:victim")})
		res, err := w.eng.CreateSubscription(w.ctx, SubscriptionParams{ProductID: prod.ID, Quantity: 1, CustomerID: c.ID,
			PaymentMethod: processor.CardOK, OnDemand: &OnDemand{MandateOnly: new(true)}})
		if err != nil {
			t.Fatal(err)
		}
		pay, err := w.eng.Charge(w.ctx, res.Subscription.ID, ChargeParams{ProductPrice: new(int64(100))})
		if err != nil {
			t.Fatal(err)
		}
		fx := idFixture{cust: c.ID, sub: res.Subscription.ID, pay: pay.ID}
		for _, call := range idCalls() {
			for _, kind := range []string{"NUL", "not UTF-8", "300 bytes"} {
				bad := malformedIDs[kind]
				before := w.snap(t, fx.cust)
				err := call.do(w, fx, bad)
				got := HTTPStatus(err)
				want := http.StatusUnprocessableEntity
				if call.notID {
					want = call.want[kind]
				} else if err != nil && !errors.Is(err, ErrInvalidID) {
					t.Errorf("%s(%s): %v is not ErrInvalidID", call.name, kind, err)
				}
				if got != want {
					t.Errorf("%s(%s): %v (status %d), want status %d", call.name, kind, err, got, want)
				}
				if got == http.StatusUnprocessableEntity && !strings.Contains(err.Error(), call.param) {
					t.Errorf("%s(%s): %q does not name %s", call.name, kind, err, call.param)
				}
				if err != nil && len(err.Error()) > 300 {
					t.Errorf("%s(%s): a %d-byte error message", call.name, kind, len(err.Error()))
				}
				if after := w.snap(t, fx.cust); !reflect.DeepEqual(before, after) {
					t.Errorf("%s(%s) changed the state", call.name, kind)
				}
			}
		}
	})
}

// TestMalformedWebhookIDs is TestMalformedIDs for the webhook entry points
// (endpoint and delivery ids, ListDeliveries' event_id and endpoint_id
// filters; its cursors go through ListParams.page and are covered there).
func TestMalformedWebhookIDs(t *testing.T) {
	calls := map[string]struct {
		param string
		do    func(w *fzWorld, bad string) error
	}{
		"Endpoint": {"endpoint_id", func(w *fzWorld, b string) error { _, err := w.eng.Endpoint(w.ctx, b); return err }},
		"UpdateEndpoint": {"endpoint_id", func(w *fzWorld, b string) error {
			_, err := w.eng.UpdateEndpoint(w.ctx, b, UpdateEndpointParams{})
			return err
		}},
		"DisableEndpoint": {"endpoint_id", func(w *fzWorld, b string) error { _, err := w.eng.DisableEndpoint(w.ctx, b); return err }},
		"EnableEndpoint":  {"endpoint_id", func(w *fzWorld, b string) error { _, err := w.eng.EnableEndpoint(w.ctx, b); return err }},
		"DeleteEndpoint":  {"endpoint_id", func(w *fzWorld, b string) error { return w.eng.DeleteEndpoint(w.ctx, b) }},
		"RotateEndpointSecret": {"endpoint_id", func(w *fzWorld, b string) error {
			_, err := w.eng.RotateEndpointSecret(w.ctx, b, RotateSecretParams{Grace: 0})
			return err
		}},
		"Delivery":  {"delivery_id", func(w *fzWorld, b string) error { _, err := w.eng.Delivery(w.ctx, b); return err }},
		"Redeliver": {"delivery_id", func(w *fzWorld, b string) error { _, err := w.eng.Redeliver(w.ctx, b); return err }},
		"ListDeliveries event": {"event_id", func(w *fzWorld, b string) error {
			_, err := w.eng.ListDeliveries(w.ctx, DeliveryListParams{EventID: b})
			return err
		}},
		"ListDeliveries endpoint": {"endpoint_id", func(w *fzWorld, b string) error {
			_, err := w.eng.ListDeliveries(w.ctx, DeliveryListParams{EndpointID: b})
			return err
		}},
	}
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		w := newFzWorldOn(t, newStore(t))
		for name, call := range calls {
			for kind, bad := range malformedIDs {
				before := w.snap(t)
				err := call.do(w, bad)
				if !errors.Is(err, ErrInvalidID) || HTTPStatus(err) != http.StatusUnprocessableEntity || !strings.Contains(err.Error(), call.param) {
					t.Errorf("%s(%s): %v (status %d), want ErrInvalidID naming %s", name, kind, err, HTTPStatus(err), call.param)
				}
				if after := w.snap(t); !reflect.DeepEqual(before, after) {
					t.Errorf("%s(%s) changed the state", name, kind)
				}
			}
		}
	})
}

func TestIsEngineKey(t *testing.T) {
	for _, p := range reservedKeyPrefixes {
		if !IsEngineKey(p + "x") {
			t.Errorf("IsEngineKey(%q) = false", p+"x")
		}
		if checkIdempotencyKey(ErrInvalid, p+"x") == nil {
			t.Errorf("a caller's key %q was accepted", p+"x")
		}
	}
	for _, k := range []string{"order-1", "Retry:1", "x-retry:1", ""} {
		if IsEngineKey(k) {
			t.Errorf("IsEngineKey(%q) = true", k)
		}
	}
}
