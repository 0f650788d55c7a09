package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/clock"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store/memory"
)

// fuzzEnv is one Handler over a memory engine, shared by a fuzzing
// process's executions, with two customers: $C (with money in USD) and $D.
type fuzzEnv struct {
	eng  *coffer.Engine
	h    *Handler
	v    *openAPIValidator
	c, d string
}

func newFuzzEnv(tb testing.TB) *fuzzEnv {
	tb.Helper()
	ctx := context.Background()
	clk := clock.NewTest(t0)
	eng, err := coffer.New(memory.New(), coffer.WithClock(clk), coffer.WithProcessor(processor.NewTest(clk)),
		coffer.WithCurrencies("USD", "INR", "EUR", "JPY"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { eng.Close() })
	h, err := New(eng, WithAuthenticator(testAuth), WithPortalLink(func(_ context.Context, id, _ string) (string, error) {
		return "https://portal.example.com/" + id, nil
	}))
	if err != nil {
		tb.Fatal(err)
	}
	e := &fuzzEnv{eng: eng, h: h, v: validatorFor(tb, h)}
	for i, p := range []*string{&e.c, &e.d} {
		cu, err := eng.CreateCustomer(ctx, customer.Params{Name: new(fmt.Sprint("Fuzz ", i)),
			Email: new(fmt.Sprintf("fuzz%d@example.com", i)), DID: new(fmt.Sprintf("did:fuzz:%d", i))})
		if err != nil {
			tb.Fatal(err)
		}
		*p = cu.ID
	}
	if _, err := eng.CreateEntry(ctx, e.c, coffer.EntryParams{Amount: 10_000, Currency: "USD", Type: "credit",
		IdempotencyKey: "fuzz_seed"}); err != nil {
		tb.Fatal(err)
	}
	return e
}

// fuzzSnapshot is cheap evidence of a change: the newest event (every
// change the Engine makes emits one), the newest customer, and both
// customers with their balances and newest ledger entry.
type fuzzSnapshot struct {
	Event, Customer string
	C, D            customer.Customer
	CBal, DBal      any
	CEntry          string
}

func (e *fuzzEnv) snapshot(t *testing.T) fuzzSnapshot {
	ctx := context.Background()
	var s fuzzSnapshot
	ev, err := e.eng.ListEvents(ctx, coffer.EventListParams{ListParams: coffer.ListParams{Limit: 1}})
	must(t, err)
	if len(ev.Data) > 0 {
		s.Event = ev.Data[0].ID
	}
	cs, err := e.eng.ListCustomers(ctx, coffer.CustomerListParams{ListParams: coffer.ListParams{Limit: 1}})
	must(t, err)
	if len(cs.Data) > 0 {
		s.Customer = cs.Data[0].ID
	}
	s.C, err = e.eng.Customer(ctx, e.c)
	must(t, err)
	s.D, err = e.eng.Customer(ctx, e.d)
	must(t, err)
	s.CBal, err = e.eng.Balances(ctx, e.c)
	must(t, err)
	s.DBal, err = e.eng.Balances(ctx, e.d)
	must(t, err)
	en, err := e.eng.ListEntries(ctx, coffer.EntryListParams{ListParams: coffer.ListParams{Limit: 1}, CustomerID: e.c})
	must(t, err)
	if len(en.Data) > 0 {
		s.CEntry = en.Data[0].ID
	}
	return s
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// fuzzKeys: 0 the operator, 1 restricted to $C, 2 none, 3 a wrong key.
var fuzzKeys = []string{opKey, "sk_test_for_$C", "", "sk_test_wrong"}

// FuzzHandler drives the Handler with random requests grown from real ones
// of every route family (the documented routes' own, and hand-written
// ones): no answer is a 5xx, every answer is what the OpenAPI document
// allows, every error is an ErrorBody with a code and a message, and a 4xx
// changed nothing. "$C" and "$D" in the path, query or body stand for the
// two customers' ids.
//
//	go test -run '^$' -fuzz '^FuzzHandler$' -fuzztime 20000x ./httpapi
func FuzzHandler(f *testing.F) {
	e := newFuzzEnv(f)
	for _, s := range fuzzSeeds {
		f.Add(s.method, s.path, s.query, s.body, s.auth)
	}
	// One seed per documented route, so routes added later are fuzzed too.
	for _, rt := range e.h.docs {
		methods, path, params, err := parsePattern(rt.pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, p := range params {
			path = strings.ReplaceAll(path, "{"+p+"}", "$C")
		}
		q := url.Values{}
		for _, p := range rt.doc.Query {
			q.Set(p.Name, map[string]string{"integer": "1", "boolean": "true", "date-time": "2026-03-02T09:00:00Z"}[p.Type])
			if len(p.Enum) > 0 {
				q.Set(p.Name, p.Enum[0])
			}
		}
		body := ""
		if rt.doc.Body != nil {
			b, err := json.Marshal(reflect.New(reflect.TypeOf(rt.doc.Body)).Elem().Interface())
			if err != nil {
				f.Fatal(err)
			}
			body = string(b)
		}
		f.Add(strings.ToUpper(methods[0]), path, "", body, uint8(0))
		if len(q) > 0 {
			f.Add(strings.ToUpper(methods[0]), path, q.Encode(), body, uint8(0))
		}
	}
	f.Fuzz(func(t *testing.T, method, path, query, body string, auth uint8) {
		sub := strings.NewReplacer("$C", e.c, "$D", e.d)
		path, query, body = sub.Replace(path), sub.Replace(query), sub.Replace(body)
		if !validMethod(method) || len(path) > 4096 || len(query) > 4096 {
			return // net/http refuses these before any handler
		}
		target := "/" + strings.TrimPrefix(path, "/")
		if query != "" {
			target += "?" + query
		}
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return // net/http answers 400 itself
		}
		req := &http.Request{Method: method, URL: u, RequestURI: target, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{}, Host: "coffer.test", Body: http.NoBody}
		req = req.WithContext(context.Background())
		if body != "" {
			req.Body = ioNopCloser{strings.NewReader(body)}
			req.ContentLength = int64(len(body))
			req.Header.Set("Content-Type", "application/json")
		}
		if k := sub.Replace(fuzzKeys[int(auth)%len(fuzzKeys)]); k != "" {
			req.Header.Set("Authorization", "Bearer "+k)
		}
		before := e.snapshot(t)
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		status, got := rec.Code, rec.Body.Bytes()
		where := fmt.Sprintf("%s %s (key %d) body %q", method, target, auth%4, boundText(body, 300))
		if status >= 500 {
			t.Fatalf("%s: status %d: %s", where, status, got)
		}
		if err := e.v.check(req, req.Pattern, status, rec.Header(), got); err != nil {
			t.Fatalf("%s: %d: not what the OpenAPI document allows: %v\nbody: %s", where, status, err, got)
		}
		if muxRedirect(status, rec.Header()) {
			// The ServeMux's redirect of an unclean path (//, /./, /..):
			// its body is the mux's HTML, not an ErrorBody. See NOTES-h6.md.
			return
		}
		if status >= 300 {
			var eb ErrorBody
			dec := json.NewDecoder(bytes.NewReader(got))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&eb); err != nil || eb.Code == "" || eb.Message == "" {
				t.Fatalf("%s: %d: not an ErrorBody with a code and a message (%v): %s", where, status, err, got)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Fatalf("%s: %d: content type %q", where, status, ct)
			}
		}
		if status >= 400 && status < 500 {
			if after := e.snapshot(t); !reflect.DeepEqual(before, after) {
				t.Fatalf("%s: %d %s, yet the state changed:\nbefore %+v\nafter  %+v", where, status, got, before, after)
			}
		}
	})
}

type ioNopCloser struct{ *strings.Reader }

func (ioNopCloser) Close() error { return nil }

// validMethod: an HTTP token, as net/http requires.
func validMethod(m string) bool {
	if m == "" || len(m) > 32 {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}

// fuzzSeeds are real requests of each route family.
var fuzzSeeds = []struct {
	method, path, query, body string
	auth                      uint8
}{
	// customers
	{"POST", "/customers", "", `{"name":"Ada","email":"ada@example.com","metadata":{"plan":"pro","seats":3,"vip":true},"phone_number":"+14155550100"}`, 0},
	{"POST", "/customers", "", `{"name":"Bo","email":"bo@example.com","address":{"line1":"1 Main St","city":"Paris","country":"FR"},"did":"did:web:bo"}`, 0},
	{"POST", "/customers", "", `{"name":"x","email":"x@y.co"}`, 1},
	{"POST", "/customers", "", `{"name":`, 0},
	{"GET", "/customers", "page_size=10&page_number=0", "", 0},
	{"GET", "/customers", "email=fuzz0@example.com&name=fuzz&created_at_gte=2026-01-01T00:00:00Z", "", 0},
	{"GET", "/customers", "search=fuzz&page_size=5", "", 0},
	{"GET", "/customers", "starting_after=$C&page_size=1", "", 0},
	{"GET", "/customers", "", "", 2},
	{"GET", "/customers/$C", "", "", 1},
	{"GET", "/customers/$D", "", "", 1},
	{"GET", "/customers/did:fuzz:1", "", "", 0},
	{"PATCH", "/customers/$C", "", `{"name":"Fuzz 0 L.","email":null,"metadata":{"k":""}}`, 0},
	{"PATCH", "/customers/$D", "", `{"remove_address":true,"invoice_prefix":"INV"}`, 0},
	// wallets and ledger entries
	{"GET", "/customers/$C/wallets", "", "", 0},
	{"POST", "/customers/$C/wallets/ledger-entries", "", `{"amount":500,"currency":"USD","entry_type":"credit","reason":"top-up","idempotency_key":"k1"}`, 0},
	{"POST", "/customers/$C/wallets/ledger-entries", "", `{"amount":100000,"currency":"USD","entry_type":"debit","idempotency_key":"k2"}`, 0},
	{"POST", "/customers/$C/wallets/ledger-entries", "", `{"amount":1,"currency":"USD","entry_type":"credit","idempotency_key":"fuzz_seed"}`, 0},
	{"POST", "/customers/$D/wallets/ledger-entries", "", `{"amount":1.5,"currency":"XXX","entry_type":"refund","reference_id":"ord_1"}`, 1},
	{"GET", "/customers/$C/wallets/ledger-entries", "currency=USD&page_size=50&page_number=0", "", 0},
	{"GET", "/customers/$C/wallets/ledger-entries", "page_number=3&page_size=1", "", 1},
	{"POST", "/customers/$C/wallets/ledger-entries", "", `{"amount":700,"currency":"USD","entry_type":"credit","credit_kind":"granted","priority":-2,"expires_at":"2030-01-01T00:00:00Z"}`, 0},
	{"POST", "/customers/$C/wallets/ledger-entries", "", `{"amount":7,"currency":"USD","entry_type":"debit","credit_kind":"bonus","priority":1001,"expires_at":"2020-01-01"}`, 0},
	{"GET", "/customers/$C/wallets/USD/credits", "within=30d", "", 0},
	{"GET", "/customers/$C/wallets/usd/credits", "within=-1", "", 1},
	// portal
	{"POST", "/customers/$C/customer-portal/session", "return_url=https://shop.example.com/account&send_email=false", "", 0},
	// the other families (products, subscriptions, payments, refunds,
	// webhooks, events, extensions): Dodo's routes, fuzzed once they exist
	{"POST", "/products", "", `{"name":"Pro","price":{"type":"recurring_price","price":1000,"currency":"USD","payment_frequency_count":1,"payment_frequency_interval":"Month","subscription_period_count":1,"subscription_period_interval":"Year"},"tax_category":"saas"}`, 0},
	{"GET", "/products", "page_size=10", "", 0},
	{"POST", "/subscriptions", "", `{"customer":{"customer_id":"$C"},"product_id":"pdt_1","quantity":1,"billing":{"country":"US"}}`, 0},
	{"GET", "/subscriptions", "customer_id=$C&status=active", "", 1},
	{"POST", "/payments", "", `{"customer":{"customer_id":"$C"},"product_cart":[{"product_id":"pdt_1","quantity":1}],"billing":{"country":"US"}}`, 0},
	{"GET", "/payments", "customer_id=$C", "", 0},
	{"POST", "/refunds", "", `{"payment_id":"pay_1","reason":"duplicate"}`, 0},
	{"GET", "/refunds", "", "", 0},
	{"POST", "/webhooks", "", `{"url":"https://hooks.example.com/coffer","filter_types":["payment.succeeded"]}`, 0},
	{"GET", "/webhooks", "", "", 0},
	{"GET", "/events", "type=customer.created&limit=5", "", 0},
	// the document, unknown routes, odd methods
	{"GET", "/openapi.json", "", "", 2},
	{"GET", "/nope", "", "", 0},
	{"DELETE", "/customers/$C", "", "", 0},
	{"OPTIONS", "/customers", "", "", 0},
	{"GET", "/customers/%2F/wallets", "", "", 0},
}
