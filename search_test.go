package coffer

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/webhook"
)

func customerNames(list List[customer.Customer]) []string {
	out := []string{}
	for _, c := range list.Data {
		out = append(out, c.Name)
	}
	return out
}

// TestEmailFilterAndSearchFoldAlike: the email filter and search give one
// answer on every store. memory folded Unicode (strings.EqualFold: the long
// s "ſ" matches "S") while bbolt and PostgreSQL lower-cased, and a search
// term holding U+0001 matched across two fields on PostgreSQL only (it
// joined the fields with U+0001); control characters in a term are now
// refused with a 422 naming "search" on every store.
func TestEmailFilterAndSearchFoldAlike(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		w := newFzWorldOn(t, newStore(t))
		w.newCustomer(t, customer.Params{Name: new("Upper"), Email: new("SAM@example.com")})
		w.newCustomer(t, customer.Params{Name: new("Long s"), Email: new("ſam@example.com")})
		w.newCustomer(t, customer.Params{Name: new("Dotted"), Email: new("İpek@example.com")})
		w.newCustomer(t, customer.Params{Name: new("ann"), Email: new("bob@example.com")})

		list, err := w.eng.ListCustomers(w.ctx, CustomerListParams{Email: " sam@EXAMPLE.com "})
		if err != nil {
			t.Fatal(err)
		}
		if got := customerNames(list); fmt.Sprint(got) != "[Long s Upper]" {
			t.Errorf("email sam@EXAMPLE.com lists %v, want [Long s Upper]", got)
		}
		list, err = w.eng.ListCustomers(w.ctx, CustomerListParams{Email: "ipek@example.com"})
		if err != nil || len(list.Data) != 0 {
			t.Errorf("ipek@ matched İpek@ (%v, %v): İ and i are not one letter under simple folding", customerNames(list), err)
		}
		for q, want := range map[string]string{"ſAM": "[Long s Upper]", "sam example": "[Long s Upper]", "İPEK": "[Dotted]",
			"ann bob@": "[ann]", "annbob": "[]"} {
			list, err := w.eng.SearchCustomers(w.ctx, CustomerSearchParams{Query: q})
			if err != nil {
				t.Fatalf("search %q: %v", q, err)
			}
			if got := fmt.Sprint(customerNames(list)); got != want {
				t.Errorf("search %q lists %s, want %s", q, got, want)
			}
		}
		for _, q := range []string{"ann\x01bob", "ann\x00", "\x1b[31m", "x\u0085y\u009f"} {
			_, err := w.eng.SearchCustomers(w.ctx, CustomerSearchParams{Query: q})
			if HTTPStatus(err) != http.StatusUnprocessableEntity || !errors.Is(err, customer.ErrInvalidSearch) ||
				!strings.Contains(err.Error(), "search") {
				t.Errorf("search %q: %v (status %d), want a 422 naming search", q, err, HTTPStatus(err))
			}
		}
	})
}

// TestSearchBounds: a query is at most 256 bytes and 10 terms (a 422
// naming "search" otherwise), and a query within the bounds is fast on
// every store. A 1 MB query took 33 s on memory and blocked every writer
// for 19.6 s; PostgreSQL answered a raw driver error for 70,000 terms.
func TestSearchBounds(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		w := newFzWorldOn(t, newStore(t))
		const n = 150
		err := w.st.Update(w.ctx, func(tx store.Tx) error {
			for i := range n {
				c, err := customer.New(fmt.Sprintf("cus_search%03d", i), customer.Params{
					Name: new(fmt.Sprintf("Customer %d Ångström", i)), Email: new(fmt.Sprintf("c%d@example.com", i)),
					Description: new(strings.Repeat("lorem ipsum ", 40))}, t0)
				if err != nil {
					return err
				}
				if err := tx.InsertCustomer(c); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for name, q := range map[string]string{
			"257 bytes":  strings.Repeat("a", 257),
			"11 terms":   strings.TrimSpace(strings.Repeat("ab ", 11)),
			"1 MB":       strings.Repeat("lorem ", 1<<20/6),
			"70k terms":  strings.Repeat("x ", 70000),
			"empty":      " \t ",
			"not UTF-8":  "\xff",
			"NUL inside": "a\x00b",
		} {
			start := time.Now()
			_, err := w.eng.SearchCustomers(w.ctx, CustomerSearchParams{Query: q})
			if HTTPStatus(err) != http.StatusUnprocessableEntity || !strings.Contains(err.Error(), "search") {
				t.Errorf("%s: %v (status %d), want a 422 naming search", name, err, HTTPStatus(err))
			}
			if err != nil && len(err.Error()) > 300 {
				t.Errorf("%s: %d-byte error", name, len(err.Error()))
			}
			// A coarse bound: the bug it guards took 33 s; -race on a
			// loaded 2-core machine must never come near it.
			if d := time.Since(start); d > time.Second {
				t.Errorf("%s: refused in %v", name, d)
			}
		}
		// The costliest bounded query: 10 terms, 256 bytes, nine matching
		// every customer and the last none, so every customer is read and
		// every term tried.
		terms := []string{"lorem", "ipsum", "CUSTOMER", "ångström", "example", "com", "@", "ips", "lor"}
		q := strings.Join(terms, " ") + " "
		q += strings.Repeat("z", customer.MaxSearchLen-len(q))
		start := time.Now()
		list, err := w.eng.SearchCustomers(w.ctx, CustomerSearchParams{Query: q, ListParams: ListParams{Limit: 100}})
		if err != nil || len(list.Data) != 0 {
			t.Fatalf("bounded query: %v, %d results", err, len(list.Data))
		}
		if d := time.Since(start); d > 10*time.Second { // coarse, as above
			t.Errorf("a bounded query over %d customers took %v", n, d)
		}
		list, err = w.eng.SearchCustomers(w.ctx, CustomerSearchParams{Query: strings.Join(terms, " ") + " 149", ListParams: ListParams{Limit: 100}})
		if err != nil || len(list.Data) != 1 || list.Data[0].ID != "cus_search149" {
			t.Fatalf("bounded matching query: %v, %v", err, customerNames(list))
		}
	})
}

// TestAddressStoredAsValidated: the billing country of a subscription was
// validated trimmed but stored untrimmed (" us " stored as " US "); every
// address line, of customers and subscriptions, is now stored as it was
// validated, on every store. Siblings: a product name was validated with
// its padding and stored without; a did was stored trimmed but looked up
// as given.
func TestAddressStoredAsValidated(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		w := newFzWorldOn(t, newStore(t))
		want := customer.Address{Line1: "1 Main St", City: "Springfield", Country: "US"}
		c := w.newCustomer(t, customer.Params{DID: new(" did:example:pad "),
			Address: &customer.Address{Line1: " 1 Main St", City: "Springfield ", Country: " us "}})
		if *c.Address != want {
			t.Errorf("customer address %+v, want %+v", *c.Address, want)
		}
		name := strings.Repeat("p", maxTextLen)
		prod, err := w.eng.CreateProduct(w.ctx, ProductParams{Name: "  " + name + "  ", Price: 100, Currency: "USD"})
		if err != nil || prod.Name != name {
			t.Fatalf("product name of %d characters with padding: %v", maxTextLen, err)
		}
		res, err := w.eng.CreateSubscription(w.ctx, SubscriptionParams{ProductID: prod.ID, Quantity: 1, CustomerID: c.ID,
			PaymentMethod: " " + processor.CardOK + " ", BillingAddress: &customer.Address{Line1: " 1 Main St", City: "Springfield ", Country: " us "},
			OnDemand: &OnDemand{MandateOnly: new(true)}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := w.eng.Subscription(w.ctx, res.Subscription.ID)
		if err != nil {
			t.Fatal(err)
		}
		if *res.Subscription.BillingAddress != want || *got.BillingAddress != want {
			t.Errorf("billing address returned %+v, stored %+v, want %+v", *res.Subscription.BillingAddress, *got.BillingAddress, want)
		}
		if got.PaymentMethod != processor.CardOK {
			t.Errorf("payment method stored as %q", got.PaymentMethod)
		}
		byDID, err := w.eng.CustomerByDID(w.ctx, " did:example:pad\t")
		if err != nil || byDID.ID != c.ID {
			t.Errorf("CustomerByDID with the padding it was created with: %v", err)
		}
	})
}

// TestErrorMessagesBounded: errors echoed their input whole, so a 1 MiB
// metadata key made a 1 MiB message. Every echo is now cut (text.Quote).
func TestErrorMessagesBounded(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		w := newFzWorldOn(t, newStore(t))
		huge := strings.Repeat("k", 1<<20)
		c := w.newCustomer(t, customer.Params{Name: new("echo")})
		prod, err := w.eng.CreateProduct(w.ctx, ProductParams{Name: "plan", Price: 100, Currency: "USD"})
		if err != nil {
			t.Fatal(err)
		}
		res, err := w.eng.CreateSubscription(w.ctx, SubscriptionParams{ProductID: prod.ID, Quantity: 1, CustomerID: c.ID,
			PaymentMethod: processor.CardOK, OnDemand: &OnDemand{MandateOnly: new(true)}})
		if err != nil {
			t.Fatal(err)
		}
		calls := map[string]func() error{
			"metadata key": func() error {
				_, err := w.eng.CreateCustomer(w.ctx, customer.Params{Metadata: map[string]string{huge: "v"}})
				return err
			},
			"metadata value": func() error {
				_, err := w.eng.UpdateCustomer(w.ctx, c.ID, customer.Params{Metadata: map[string]string{huge[:20]: huge}})
				return err
			},
			"subscription metadata key": func() error {
				_, err := w.eng.Charge(w.ctx, res.Subscription.ID, ChargeParams{ProductPrice: new(int64(1)), Metadata: map[string]string{huge: "v"}})
				return err
			},
			"country": func() error {
				_, err := w.eng.UpdateCustomer(w.ctx, c.ID, customer.Params{Address: &customer.Address{Country: huge}})
				return err
			},
			"entry currency": func() error {
				_, err := w.eng.CreateEntry(w.ctx, c.ID, EntryParams{Amount: 1, Currency: huge, Type: ledger.Credit})
				return err
			},
			"balance currency": func() error { _, err := w.eng.Balance(w.ctx, c.ID, huge); return err },
			"refund destination": func() error {
				_, err := w.eng.Refund(w.ctx, "pay_x", RefundParams{IdempotencyKey: "r", Destination: subscription.RefundDestination(huge)})
				return err
			},
			"delivery status filter": func() error {
				_, err := w.eng.ListDeliveries(w.ctx, DeliveryListParams{Status: webhook.DeliveryStatus(huge)})
				return err
			},
			"product currency": func() error {
				_, err := w.eng.CreateProduct(w.ctx, ProductParams{Name: "p", Price: 1, Currency: huge})
				return err
			},
			"one-time currency": func() error {
				_, err := w.eng.ChargeOneTime(w.ctx, c.ID, OneTimeParams{Amount: 1, Currency: huge, PaymentMethod: processor.CardOK})
				return err
			},
			"entry idempotency key": func() error {
				_, err := w.eng.CreateEntry(w.ctx, c.ID, EntryParams{Amount: 1, Currency: "USD", Type: ledger.Credit, IdempotencyKey: huge})
				return err
			},
			"charge idempotency key": func() error {
				_, err := w.eng.Charge(w.ctx, res.Subscription.ID, ChargeParams{ProductPrice: new(int64(1)), IdempotencyKey: huge})
				return err
			},
			"collect idempotency key": func() error {
				_, err := w.eng.CollectOverdue(w.ctx, "pay_x", CollectOverdueParams{IdempotencyKey: huge})
				return err
			},
			"customer id": func() error { _, err := w.eng.Customer(w.ctx, huge); return err },
			"did":         func() error { _, err := w.eng.CustomerByDID(w.ctx, huge); return err },
			"email filter": func() error {
				_, err := w.eng.ListCustomers(w.ctx, CustomerListParams{Email: huge})
				return err
			},
			"search": func() error { _, err := w.eng.SearchCustomers(w.ctx, CustomerSearchParams{Query: huge}); return err },
			"cursor": func() error {
				_, err := w.eng.ListCustomers(w.ctx, CustomerListParams{ListParams: ListParams{StartingAfter: huge}})
				return err
			},
			"product id": func() error {
				_, err := w.eng.CreateSubscription(w.ctx, SubscriptionParams{ProductID: huge, Quantity: 1, CustomerID: c.ID,
					PaymentMethod: processor.CardOK, OnDemand: &OnDemand{MandateOnly: new(true)}})
				return err
			},
		}
		for name, call := range calls {
			err := call()
			if err == nil {
				t.Errorf("%s: accepted 1 MiB", name)
				continue
			}
			if HTTPStatus(err) == http.StatusInternalServerError || len(err.Error()) > 300 {
				t.Errorf("%s: %d-byte error (status %d): %.120s", name, len(err.Error()), HTTPStatus(err), err)
			}
		}
	})
}
