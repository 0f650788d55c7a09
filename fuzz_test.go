package coffer

// Engine-level fuzz targets: random input goes through the public API of an
// Engine on the in-memory store with the deterministic test processor. Every
// target checks the same promise: bad input never panics, an error changes
// nothing (no balance, entry, hold, payment, subscription, customer, endpoint
// or outbox event appears or moves), and whatever is accepted leaves the
// ledger invariants intact and is stored exactly as it was returned.
//
// Each target builds its engine once per fuzz worker (the setup before
// f.Fuzz) and compares snapshots taken before and after each input, so an
// iteration costs a few microseconds. Run one with
//
//	go test -run '^$' -fuzz '^FuzzCreateEntry$' -fuzztime 15s .
//
// Seed inputs live in testdata/fuzz/<target>/ as well as in f.Add calls.
// COFFER_FUZZ_STORE=bolt (or postgres, with COFFER_POSTGRES_DSN) runs a
// target on that store instead, which also fuzzes the adapter's encoding
// (every target compares what it reads back with what the call returned).
//
// Besides the engine's own rules, every target requires that what it
// accepts can be kept by every store (requirePortable): text in valid
// UTF-8 without NUL, idempotency keys a unique index can hold, quantities
// that fit a PostgreSQL integer. TestUnstorableInputRejected and
// TestAcceptedTextReadsBack, at the end, are the regressions for what the
// targets found.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/cofferhq/coffer/clock"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/bolt"
	"github.com/cofferhq/coffer/store/memory"
	"github.com/cofferhq/coffer/store/postgres"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
	"github.com/cofferhq/coffer/webhook"
)

// fzWorld is one engine a fuzz target hammers for the life of a worker.
type fzWorld struct {
	eng   *Engine
	st    store.Store
	clk   *clock.Test
	proc  *processor.Test
	ctx   context.Context
	seq   int64 // a known event sequence: no event after it is missed by lastSeq
	iters int
}

// newFzWorld builds the engine a fuzz target uses: on the in-memory store,
// or on the store COFFER_FUZZ_STORE names ("bolt", or "postgres" with
// COFFER_POSTGRES_DSN), to fuzz an adapter's encoding as well; bolt fsyncs,
// so expect a few hundred inputs a second.
func newFzWorld(tb testing.TB, opts ...Option) *fzWorld {
	tb.Helper()
	var st store.Store
	switch kind := os.Getenv("COFFER_FUZZ_STORE"); kind {
	case "", "memory":
		st = memory.New()
	case "bolt":
		b, err := bolt.Open(filepath.Join(tb.TempDir(), "fuzz.db"))
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { b.Close() })
		st = b
	case "postgres":
		st = fzPostgres(tb)
	default:
		tb.Fatalf("COFFER_FUZZ_STORE=%q: want memory, bolt or postgres", kind)
	}
	return newFzWorldOn(tb, st, opts...)
}

func newFzWorldOn(tb testing.TB, st store.Store, opts ...Option) *fzWorld {
	tb.Helper()
	clk := clock.NewTest(t0)
	proc := processor.NewTest(clk)
	eng, err := New(st, append([]Option{WithClock(clk), WithProcessor(proc)}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	return &fzWorld{eng: eng, st: st, clk: clk, proc: proc, ctx: context.Background()}
}

// view runs fn in a read transaction and fails the test on an error.
func (w *fzWorld) view(t testing.TB, fn func(tx store.Tx) error) {
	t.Helper()
	if err := w.st.View(w.ctx, fn); err != nil {
		t.Fatalf("view: %v", err)
	}
}

// lastSeq returns the sequence of the newest outbox event.
func (w *fzWorld) lastSeq(t testing.TB) int64 {
	t.Helper()
	w.view(t, func(tx store.Tx) error {
		for {
			list, err := tx.Events(w.seq, 500)
			if err != nil {
				return err
			}
			if len(list) == 0 {
				return nil
			}
			w.seq = list[len(list)-1].Seq
		}
	})
	return w.seq
}

// eventsAfter returns every event written after seq, oldest first.
func (w *fzWorld) eventsAfter(t testing.TB, seq int64) []webhook.Event {
	t.Helper()
	var out []webhook.Event
	w.view(t, func(tx store.Tx) error {
		for {
			list, err := tx.Events(seq, 500)
			if err != nil {
				return err
			}
			if len(list) == 0 {
				return nil
			}
			out = append(out, list...)
			seq = list[len(list)-1].Seq
		}
	})
	return out
}

func (w *fzWorld) newCustomer(t testing.TB, p customer.Params) customer.Customer {
	t.Helper()
	c, err := w.eng.CreateCustomer(w.ctx, p)
	if err != nil {
		t.Fatalf("create customer: %v", err)
	}
	return c
}

// fzSnap is what a failed call must leave untouched.
type fzSnap struct {
	seq            int64
	customers      []string // ids of the tracked customers that exist
	customerRecs   []customer.Customer
	balances       []wallet.Balance
	newestEntry    []string
	newestPayment  string
	newestSub      []string
	newestCustomer string
	endpoints      []webhook.Endpoint
	charges        int
}

// snap records the state of the given customers and the global lists.
func (w *fzWorld) snap(t testing.TB, customers ...string) fzSnap {
	t.Helper()
	s := fzSnap{seq: w.lastSeq(t), charges: w.proc.ChargeCount()}
	w.view(t, func(tx store.Tx) error {
		for _, id := range customers {
			c, err := tx.Customer(id)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			s.customers = append(s.customers, id)
			s.customerRecs = append(s.customerRecs, c)
			bs, err := tx.Balances(id)
			if err != nil {
				return err
			}
			s.balances = append(s.balances, bs...)
			es, _, err := tx.ListEntries(store.EntryQuery{CustomerID: id, Page: store.Page{Limit: 1}})
			if err != nil {
				return err
			}
			s.newestEntry = append(s.newestEntry, fzFirstID(es, func(e ledger.Entry) string { return e.ID }))
			subs, _, err := tx.ListSubscriptions(id, store.Page{Limit: 1})
			if err != nil {
				return err
			}
			s.newestSub = append(s.newestSub, fzFirstID(subs, func(s subscription.Subscription) string { return s.ID }))
		}
		ps, _, err := tx.ListPayments(store.PaymentQuery{Page: store.Page{Limit: 1}})
		if err != nil {
			return err
		}
		s.newestPayment = fzFirstID(ps, func(p subscription.Payment) string { return p.ID })
		cs, _, err := tx.ListCustomers(store.CustomerQuery{Page: store.Page{Limit: 1}})
		if err != nil {
			return err
		}
		s.newestCustomer = fzFirstID(cs, func(c customer.Customer) string { return c.ID })
		s.endpoints, err = tx.Endpoints()
		return err
	})
	return s
}

func fzFirstID[T any](list []T, id func(T) string) string {
	if len(list) == 0 {
		return ""
	}
	return id(list[0])
}

// requireUnchanged fails when anything moved between two snapshots.
func requireUnchanged(t testing.TB, what string, before, after fzSnap) {
	t.Helper()
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("%s changed the state:\nbefore %+v\nafter  %+v", what, before, after)
	}
}

// requireClientError fails unless err is a documented 4xx error: bad input
// must never look like a server failure.
func requireClientError(t testing.TB, err error) {
	t.Helper()
	if s := HTTPStatus(err); s < 400 || s >= 500 {
		t.Fatalf("error %v has status %d, want a 4xx class", err, s)
	}
}

// audit checks the ledger invariants of a customer's wallet from scratch:
// every balance is the sum of its entries, entries chain (before of one is
// after of the previous), 0 <= held <= amount, and no hold is left over
// once every charge has settled (charges here are synchronous).
func (w *fzWorld) audit(t testing.TB, customerID string) {
	t.Helper()
	w.view(t, func(tx store.Tx) error {
		bs, err := tx.Balances(customerID)
		if err != nil {
			return err
		}
		for _, b := range bs {
			if err := b.Check(); err != nil {
				t.Fatalf("balance %+v: %v", b, err)
			}
			if b.Held != 0 {
				t.Fatalf("balance %+v holds %d with no charge in flight", b, b.Held)
			}
			var sum int64
			next := b.Amount // balance_after expected of the next older entry
			q := store.EntryQuery{CustomerID: customerID, Currency: b.Currency, Page: store.Page{Limit: store.MaxLimit}}
			for {
				list, more, err := tx.ListEntries(q)
				if err != nil {
					return err
				}
				for _, e := range list {
					if e.Currency != b.Currency || e.CustomerID != customerID || e.Amount <= 0 {
						t.Fatalf("entry %+v in the %s wallet of %s", e, b.Currency, customerID)
					}
					if e.BalanceAfter != next || e.BalanceAfter-e.BalanceBefore != e.Signed() {
						t.Fatalf("entry %+v breaks the chain (expected after %d)", e, next)
					}
					next = e.BalanceBefore
					sum += e.Signed()
				}
				if !more || len(list) == 0 {
					break
				}
				q.StartingAfter = list[len(list)-1].ID
			}
			if next != 0 || sum != b.Amount {
				t.Fatalf("%s %s: entries sum to %d (oldest before %d), balance %d", customerID, b.Currency, sum, next, b.Amount)
			}
		}
		return nil
	})
}

func fzBalance(list []wallet.Balance, customerID, currency string) wallet.Balance {
	for _, b := range list {
		if b.CustomerID == customerID && b.Currency == currency {
			return b
		}
	}
	return wallet.Balance{CustomerID: customerID, Currency: currency}
}

func fzEventTypes(evs []webhook.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

// fzMeta builds n metadata keys from a key and a value (n 0: nil map, 255:
// an empty non-nil map).
func fzMeta(n uint8, k, v string) map[string]string {
	switch n {
	case 0:
		return nil
	case 255:
		return map[string]string{}
	}
	m := map[string]string{k: v}
	for i := 1; i < int(n%64); i++ {
		m[fmt.Sprint(k, i)] = v
	}
	return m
}

// sameMeta treats a nil and an empty metadata map as equal.
func sameMeta(a, b map[string]string) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}

// requirePortable fails when an accepted record holds text that not every
// store can keep as it is: invalid UTF-8 (PostgreSQL refuses it in text
// columns, and JSON encoding silently turns it into U+FFFD) or NUL (refused
// by PostgreSQL text and jsonb). Such input must be refused by validation
// (422) on every store, not accepted by memory and bolt and fail with a 500
// on PostgreSQL.
func requirePortable(t testing.TB, what string, v any) {
	t.Helper()
	if path, s, ok := fzBadText(reflect.ValueOf(v), what); !ok {
		t.Fatalf("accepted %s holds text no store can portably keep: %q", path, s)
	}
}

var fzTimeType = reflect.TypeOf(time.Time{})

func fzBadText(v reflect.Value, path string) (string, string, bool) {
	switch v.Kind() {
	case reflect.String:
		if s := v.String(); !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			return path, s, false
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return fzBadText(v.Elem(), path)
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return "", "", true // raw bytes (event payloads) are not text
		}
		for i := 0; i < v.Len(); i++ {
			if p, s, ok := fzBadText(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); !ok {
				return p, s, ok
			}
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			if p, s, ok := fzBadText(it.Key(), path+" key"); !ok {
				return p, s, ok
			}
			if p, s, ok := fzBadText(it.Value(), fmt.Sprintf("%s[%q]", path, it.Key())); !ok {
				return p, s, ok
			}
		}
	case reflect.Struct:
		if v.Type() == fzTimeType {
			return "", "", true
		}
		for i := 0; i < v.NumField(); i++ {
			if !v.Type().Field(i).IsExported() {
				continue
			}
			if p, s, ok := fzBadText(v.Field(i), path+"."+v.Type().Field(i).Name); !ok {
				return p, s, ok
			}
		}
	}
	return "", "", true
}

// ---- ledger entries ----

// FuzzCreateEntry posts random requests to a customer's wallet.
func FuzzCreateEntry(f *testing.F) {
	f.Add(int64(500), "USD", "credit", "Welcome bonus", "k1", uint8(0))
	f.Add(int64(500), "USD", "credit", "Welcome bonus", "k1", uint8(0)) // replay
	f.Add(int64(501), "USD", "credit", "Welcome bonus", "k1", uint8(0)) // conflict
	f.Add(int64(200), "usd", "debit", "purchase", "", uint8(1))
	f.Add(int64(1)<<62, " INR ", "debit", "", "", uint8(2))
	f.Add(int64(math.MaxInt64), "INR", "credit", "", "big", uint8(3))
	f.Add(int64(0), "JPY", "credit", "\xff", strings.Repeat("k", 256), uint8(15))
	f.Add(int64(-1), "XXX", "refund", "", "", uint8(31))
	w := &fzEntryWorld{fzWorld: newFzWorld(f, WithLowBalanceThreshold("USD", 1000))}
	f.Fuzz(func(t *testing.T, amount int64, currency, typ, reason, key string, target uint8) {
		w.iters++
		if w.iters%512 == 1 {
			// A fresh wallet now and then keeps audits cheap and lets the
			// balance leave the overflow ceiling.
			w.cust = w.newCustomer(t, customer.Params{Name: new("fuzz")}).ID
		}
		w.clk.Advance(time.Second)
		cust := w.cust
		if target%16 == 15 {
			cust = "cus_missing"
		}
		req := EntryParams{Amount: amount, Currency: currency, Type: ledger.Type(typ), Reason: reason, IdempotencyKey: key}
		before := w.snap(t, w.cust)
		res, err := w.eng.CreateEntry(w.ctx, cust, req)
		after := w.snap(t, w.cust)
		if err != nil {
			requireClientError(t, err)
			requireUnchanged(t, fmt.Sprintf("CreateEntry(%q, %+v) = %v", cust, req, err), before, after)
			if res != (EntryResult{}) {
				t.Fatalf("error %v with a result %+v", err, res)
			}
			return
		}
		if cust != w.cust {
			t.Fatalf("entry %+v posted for a missing customer", res.Entry)
		}
		if res.Replayed {
			if key == "" || res.Entry.IdempotencyKey != key || res.Entry.Amount != amount {
				t.Fatalf("replay of %+v returned %+v", req, res.Entry)
			}
			requireUnchanged(t, "a replay", before, after)
			return
		}
		e := res.Entry
		requirePortable(t, "entry", e)
		prev := fzBalance(before.balances, cust, e.Currency)
		now := fzBalance(after.balances, cust, e.Currency)
		if !w.eng.currencies.Has(e.Currency) || e.Amount != amount || e.Type != req.Type || e.Reason != reason ||
			e.IdempotencyKey != key || e.CustomerID != cust || e.Reference.Type != ledger.RefManual {
			t.Fatalf("request %+v posted %+v", req, e)
		}
		if e.BalanceBefore != prev.Amount || e.BalanceAfter != now.Amount || now.Amount-prev.Amount != e.Signed() ||
			now.Held != prev.Held || res.Balance.Amount != now.Amount {
			t.Fatalf("entry %+v moved %+v to %+v (result balance %+v)", e, prev, now, res.Balance)
		}
		if err := now.Check(); err != nil {
			t.Fatalf("balance after %+v: %v", now, err)
		}
		for _, b := range after.balances {
			if b.Currency != e.Currency && b != fzBalance(before.balances, cust, b.Currency) {
				t.Fatalf("a %s entry moved the %s balance", e.Currency, b.Currency)
			}
		}
		if after.newestEntry[0] != e.ID {
			t.Fatalf("newest entry %s, posted %s", after.newestEntry[0], e.ID)
		}
		evs := w.eventsAfter(t, before.seq)
		if len(evs) == 0 || evs[0].Type != EventBalanceChanged || len(evs) > 2 ||
			(len(evs) == 2 && evs[1].Type != EventBalanceLow) {
			t.Fatalf("entry wrote events %v", fzEventTypes(evs))
		}
		if w.iters%64 == 0 {
			w.audit(t, cust)
		}
	})
}

type fzEntryWorld struct {
	*fzWorld
	cust string
}

// ---- customers ----

// fzCustomerParams builds Params from fuzz strings; bit i of nilMask leaves
// field i nil (not given).
func fzCustomerParams(nilMask uint16, name, email, phone, desc, did, country, mk, mv, prefix string, nmeta uint8, livemode bool) customer.Params {
	p := customer.Params{Livemode: livemode}
	field := func(i uint, v string) *string {
		if nilMask&(1<<i) != 0 {
			return nil
		}
		return &v
	}
	p.Name, p.Email, p.Phone = field(0, name), field(1, email), field(2, phone)
	p.Description, p.DID, p.InvoicePrefix = field(3, desc), field(4, did), field(5, prefix)
	if nilMask&(1<<6) == 0 {
		p.Address = &customer.Address{Line1: name, City: desc, Country: country}
	}
	if nilMask&(1<<7) == 0 {
		p.Shipping = &customer.Shipping{Name: name, Phone: phone, Address: customer.Address{Country: country}}
	}
	p.Metadata = fzMeta(nmeta, mk, mv)
	return p
}

var fzCustomerSeeds = []struct {
	mask                                                uint16
	name, email, phone, desc, did, country, mk, mv, pre string
	nmeta                                               uint8
	live                                                bool
}{
	{0, "Ada Lovelace", "ada@example.com", "+44 1", "vip", "did:ada", "gb", "plan", "gold", "ADA", 1, false},
	{0xffff, "", "", "", "", "", "", "", "", "", 0, true},
	{0, "Ada", "ada@example.com", "", "", "did:other", "GB", "k", "v", "", 1, false},
	{0x0010, " ", "not an email", "\xff", "", "", "UK", "", "v", "", 1, false},
	{0x00c0, "n", "a@b.co", "p", "d", " did:x ", "zz", strings.Repeat("k", 41), "v", "", 51, false},
	{0x0003, strings.Repeat("x", 501), "", "", "", "", "", "k", "", "", 255, false},
}

// FuzzCreateCustomer creates customers from random params.
func FuzzCreateCustomer(f *testing.F) {
	for _, s := range fzCustomerSeeds {
		f.Add(s.mask, s.name, s.email, s.phone, s.desc, s.did, s.country, s.mk, s.mv, s.pre, s.nmeta, s.live)
	}
	w := newFzWorld(f)
	w.newCustomer(f, customer.Params{Name: new("other"), DID: new("did:other")})
	f.Fuzz(func(t *testing.T, mask uint16, name, email, phone, desc, did, country, mk, mv, prefix string, nmeta uint8, live bool) {
		w.clk.Advance(time.Second)
		p := fzCustomerParams(mask, name, email, phone, desc, did, country, mk, mv, prefix, nmeta, live)
		before := w.snap(t)
		c, err := w.eng.CreateCustomer(w.ctx, p)
		if err != nil {
			requireClientError(t, err)
			requireUnchanged(t, fmt.Sprintf("CreateCustomer(%+v) = %v", p, err), before, w.snap(t))
			if !reflect.DeepEqual(c, customer.Customer{}) {
				t.Fatalf("error %v with customer %+v", err, c)
			}
			return
		}
		after := w.snap(t, c.ID)
		if after.newestCustomer != c.ID || len(after.customerRecs) != 1 {
			t.Fatalf("created %s, newest is %s", c.ID, after.newestCustomer)
		}
		if stored := after.customerRecs[0]; !reflect.DeepEqual(stored, c) {
			t.Fatalf("stored customer differs from the returned one:\nstored   %+v\nreturned %+v", stored, c)
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("stored customer %+v is invalid: %v", c, err)
		}
		requirePortable(t, "customer", c)
		if !c.CreatedAt.Equal(w.clk.Now()) || !c.UpdatedAt.Equal(c.CreatedAt) || c.Livemode != live {
			t.Fatalf("customer %+v created at %v", c, w.clk.Now())
		}
		if len(after.balances) != len(w.eng.Currencies()) {
			t.Fatalf("customer %s has balances %+v", c.ID, after.balances)
		}
		for _, b := range after.balances {
			if b.Amount != 0 || b.Held != 0 {
				t.Fatalf("new wallet %+v", b)
			}
		}
		if evs := w.eventsAfter(t, before.seq); len(evs) != 1 || evs[0].Type != EventCustomerCreated || evs[0].CustomerID != c.ID {
			t.Fatalf("create wrote events %v", fzEventTypes(evs))
		}
		if c.DID != "" {
			got, err := w.eng.CustomerByDID(w.ctx, c.DID)
			if err != nil || got.ID != c.ID {
				t.Fatalf("CustomerByDID(%q) = %s, %v", c.DID, got.ID, err)
			}
		}
	})
}

// FuzzUpdateCustomer applies random partial updates to a customer.
func FuzzUpdateCustomer(f *testing.F) {
	for _, s := range fzCustomerSeeds {
		f.Add(s.mask, s.name, s.email, s.phone, s.desc, s.did, s.country, s.mk, s.mv, s.pre, s.nmeta, s.live)
	}
	w := newFzWorld(f)
	w.newCustomer(f, customer.Params{Name: new("other"), DID: new("did:other")})
	var victim string
	f.Fuzz(func(t *testing.T, mask uint16, name, email, phone, desc, did, country, mk, mv, prefix string, nmeta uint8, live bool) {
		w.iters++
		if w.iters%256 == 1 {
			// A fresh victim now and then: metadata merges, so an old one
			// ends up full.
			victim = w.newCustomer(t, customer.Params{Name: new("victim"),
				Email: new("victim@example.com"), Metadata: map[string]string{"tier": "gold"}}).ID
		}
		w.clk.Advance(time.Second)
		id := victim
		if mask&(1<<15) != 0 {
			id = "cus_missing"
		}
		p := fzCustomerParams(mask, name, email, phone, desc, did, country, mk, mv, prefix, nmeta, live)
		before := w.snap(t, victim)
		old := before.customerRecs[0]
		c, err := w.eng.UpdateCustomer(w.ctx, id, p)
		after := w.snap(t, victim)
		if err != nil {
			requireClientError(t, err)
			requireUnchanged(t, fmt.Sprintf("UpdateCustomer(%+v) = %v", p, err), before, after)
			if !reflect.DeepEqual(c, customer.Customer{}) {
				t.Fatalf("error %v with customer %+v", err, c)
			}
			return
		}
		if id != victim {
			t.Fatalf("updated a missing customer: %+v", c)
		}
		if stored := after.customerRecs[0]; !reflect.DeepEqual(stored, c) {
			t.Fatalf("stored customer differs from the returned one:\nstored   %+v\nreturned %+v", stored, c)
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("stored customer %+v is invalid: %v", c, err)
		}
		requirePortable(t, "customer", c)
		if c.ID != old.ID || !c.CreatedAt.Equal(old.CreatedAt) || !c.UpdatedAt.Equal(w.clk.Now()) ||
			c.Livemode != old.Livemode || c.Delinquent != old.Delinquent {
			t.Fatalf("update moved fixed fields: %+v -> %+v", old, c)
		}
		// Omitted fields keep their values.
		keep := []struct {
			given    bool
			old, now string
		}{
			{p.Name != nil, old.Name, c.Name}, {p.Email != nil, old.Email, c.Email}, {p.Phone != nil, old.Phone, c.Phone},
			{p.Description != nil, old.Description, c.Description}, {p.DID != nil, old.DID, c.DID},
			{p.InvoicePrefix != nil, old.InvoicePrefix, c.InvoicePrefix},
		}
		for i, k := range keep {
			if !k.given && k.old != k.now {
				t.Fatalf("omitted field %d changed %q -> %q", i, k.old, k.now)
			}
		}
		if (p.Address == nil && !reflect.DeepEqual(old.Address, c.Address)) ||
			(p.Shipping == nil && !reflect.DeepEqual(old.Shipping, c.Shipping)) ||
			(p.Metadata == nil && !reflect.DeepEqual(old.Metadata, c.Metadata)) {
			t.Fatalf("omitted address/shipping/metadata changed: %+v -> %+v", old, c)
		}
		if !reflect.DeepEqual(before.balances, after.balances) || !reflect.DeepEqual(before.newestEntry, after.newestEntry) {
			t.Fatalf("customer update touched the wallet")
		}
		if evs := w.eventsAfter(t, before.seq); len(evs) != 1 || evs[0].Type != EventCustomerUpdated || evs[0].CustomerID != c.ID {
			t.Fatalf("update wrote events %v", fzEventTypes(evs))
		}
	})
}

// ---- charges ----

type fzChargeWorld struct {
	*fzWorld
	cust, decl              string // customers: card ok, card declining
	ok, declining, inactive string // subscriptions
}

func (w *fzChargeWorld) reset(t testing.TB) {
	t.Helper()
	prod, err := w.eng.CreateProduct(w.ctx, ProductParams{Name: "fuzz", Price: 500, Currency: "USD"})
	if err != nil {
		t.Fatal(err)
	}
	sub := func(cust, pm string, meta map[string]string) string {
		res, err := w.eng.CreateSubscription(w.ctx, SubscriptionParams{ProductID: prod.ID, Quantity: 1, CustomerID: cust,
			PaymentMethod: pm, Metadata: meta, OnDemand: &OnDemand{MandateOnly: new(true), ProductDescription: "fuzz plan"}})
		if err != nil {
			t.Fatal(err)
		}
		return res.Subscription.ID
	}
	w.cust = w.newCustomer(t, customer.Params{Name: new("payer")}).ID
	w.decl = w.newCustomer(t, customer.Params{Name: new("decliner")}).ID
	w.ok = sub(w.cust, processor.CardOK, map[string]string{"plan": "fuzz"})
	w.declining = sub(w.decl, processor.CardDoNotHonor, nil)
	w.inactive = sub(w.cust, processor.CardRequiresAction, nil) // stays pending
}

// FuzzChargeParams charges subscriptions with random params, after topping
// the wallet up by a random amount so that charges are paid by the wallet,
// the card or both.
func FuzzChargeParams(f *testing.F) {
	f.Add(true, int64(300), "", "", uint8(0), "", "", uint8(0), "", uint32(0), uint8(0))
	f.Add(true, int64(300), "USD", "coffee", uint8(1), "order", "42", uint8(1), "k1", uint32(1000), uint8(0))
	f.Add(true, int64(300), "USD", "coffee", uint8(1), "order", "42", uint8(1), "k1", uint32(0), uint8(0)) // replay
	f.Add(true, int64(301), "USD", "coffee", uint8(1), "order", "42", uint8(1), "k1", uint32(0), uint8(0)) // conflict
	f.Add(false, int64(0), "", "", uint8(0), "", "", uint8(0), "", uint32(0), uint8(0))
	f.Add(true, int64(0), "", "", uint8(0), "", "", uint8(0), "", uint32(0), uint8(0))
	f.Add(true, int64(-5), "inr", "", uint8(2), "", "", uint8(0), "", uint32(0), uint8(0))
	f.Add(true, int64(math.MaxInt64), "INR", "", uint8(2), "", "v", uint8(1), "", uint32(7), uint8(0))
	f.Add(true, int64(100), "JPY", "", uint8(0), "k", "v", uint8(60), "", uint32(0), uint8(0))
	f.Add(true, int64(100), "XXX", "\xff", uint8(0), "", "", uint8(255), "", uint32(0), uint8(1))
	f.Add(true, int64(100), "", "", uint8(0), "", "", uint8(0), "d1", uint32(0), uint8(1))
	f.Add(true, int64(100), "", "", uint8(0), "", "", uint8(0), "", uint32(0), uint8(2))
	f.Add(true, int64(100), "", "", uint8(0), "", "", uint8(0), "", uint32(0), uint8(3))
	w := &fzChargeWorld{fzWorld: newFzWorld(f)}
	f.Fuzz(func(t *testing.T, hasPrice bool, price int64, currency, desc string, fees uint8, mk, mv string, nmeta uint8,
		key string, topUp uint32, target uint8) {
		w.iters++
		if w.iters%256 == 1 {
			w.reset(t)
		}
		w.clk.Advance(time.Second)
		if topUp%1_000_000 > 0 {
			if _, err := w.eng.CreateEntry(w.ctx, w.cust, EntryParams{Amount: int64(topUp % 1_000_000), Currency: "USD",
				Type: ledger.Credit, Reason: "top up"}); err != nil && !errors.Is(err, money.ErrOverflow) {
				t.Fatalf("top up: %v", err)
			}
		}
		p := ChargeParams{ProductCurrency: currency, ProductDescription: desc, Metadata: fzMeta(nmeta, mk, mv), IdempotencyKey: key}
		if hasPrice {
			p.ProductPrice = &price
		}
		switch fees % 3 {
		case 1:
			p.AdaptiveCurrencyFeesInclusive = new(true)
		case 2:
			p.AdaptiveCurrencyFeesInclusive = new(false)
		}
		subID, cust := w.ok, w.cust
		switch target % 8 {
		case 1:
			subID, cust = w.declining, w.decl
		case 2:
			subID = w.inactive
		case 3:
			subID = "sub_missing"
		}
		before := w.snap(t, w.cust, w.decl)
		pay, err := w.eng.Charge(w.ctx, subID, p)
		after := w.snap(t, w.cust, w.decl)
		if err != nil {
			requireClientError(t, err)
			requireUnchanged(t, fmt.Sprintf("Charge(%s, %+v) = %v", subID, p, err), before, after)
			return
		}
		if subID != w.ok && subID != w.declining {
			t.Fatalf("charged %s: %+v", subID, pay)
		}
		if pay.CreatedAt.Before(w.clk.Now()) { // made by an earlier input: a replay
			if key == "" || pay.IdempotencyKey != key || pay.Amount != price {
				t.Fatalf("replay of %+v returned %+v", p, pay)
			}
			requireUnchanged(t, "a replayed charge", before, after)
			return
		}
		w.checkCharge(t, cust, p, pay, before, after)
	})
}

func (w *fzChargeWorld) checkCharge(t *testing.T, cust string, p ChargeParams, pay subscription.Payment, before, after fzSnap) {
	t.Helper()
	stored, err := w.eng.Payment(w.ctx, pay.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !sameMeta(stored.Metadata, pay.Metadata) {
		t.Fatalf("stored metadata %v, returned %v", stored.Metadata, pay.Metadata)
	}
	stored.Metadata = pay.Metadata
	if !reflect.DeepEqual(stored, pay) {
		t.Fatalf("stored payment differs from the returned one:\nstored   %+v\nreturned %+v", stored, pay)
	}
	requirePortable(t, "payment", pay)
	if len(pay.IdempotencyKey) > ledger.MaxKeyLen {
		t.Fatalf("accepted a %d-byte idempotency key (ledger entries allow %d; PostgreSQL's unique index fails past ~2700)",
			len(pay.IdempotencyKey), ledger.MaxKeyLen)
	}
	if after.newestPayment != pay.ID || pay.CustomerID != cust || pay.Amount != *p.ProductPrice ||
		!w.eng.currencies.Has(pay.Currency) || pay.WalletAmount < 0 || pay.ProcessorAmount < 0 ||
		pay.WalletAmount+pay.ProcessorAmount != pay.Amount {
		t.Fatalf("charge %+v made payment %+v", p, pay)
	}
	if p.ProductCurrency == "" && pay.Currency != "USD" {
		t.Fatalf("payment in %s, the subscription is in USD", pay.Currency)
	}
	if p.Metadata != nil && !sameMeta(p.Metadata, pay.Metadata) {
		t.Fatalf("payment metadata %v, asked %v", pay.Metadata, p.Metadata)
	}
	prev := fzBalance(before.balances, cust, pay.Currency)
	now := fzBalance(after.balances, cust, pay.Currency)
	if pay.WalletAmount > prev.Available() {
		t.Fatalf("wallet paid %d of %d available", pay.WalletAmount, prev.Available())
	}
	wantCharges := before.charges
	if pay.ProcessorAmount > 0 {
		wantCharges++
	}
	if after.charges != wantCharges {
		t.Fatalf("processor charged %d times for payment %+v", after.charges-before.charges, pay)
	}
	switch pay.Status {
	case subscription.PaymentSucceeded:
		if now.Amount != prev.Amount-pay.WalletAmount {
			t.Fatalf("succeeded payment %+v moved the balance %d -> %d", pay, prev.Amount, now.Amount)
		}
	case subscription.PaymentFailed:
		if now.Amount != prev.Amount {
			t.Fatalf("failed payment %+v moved the balance %d -> %d", pay, prev.Amount, now.Amount)
		}
	default:
		t.Fatalf("payment %+v left %s", pay, pay.Status)
	}
	if cust == w.decl && pay.Status != subscription.PaymentFailed && pay.ProcessorAmount > 0 {
		t.Fatalf("declining card paid %+v", pay)
	}
	evs := w.eventsAfter(t, before.seq)
	want := map[subscription.PaymentStatus]string{subscription.PaymentSucceeded: EventPaymentSucceeded, subscription.PaymentFailed: EventPaymentFailed}[pay.Status]
	found := false
	for _, e := range evs {
		found = found || e.Type == want
	}
	if !found {
		t.Fatalf("payment %s wrote events %v", pay.Status, fzEventTypes(evs))
	}
	if w.iters%32 == 0 {
		w.audit(t, w.cust)
		w.audit(t, w.decl)
	} else {
		for _, b := range after.balances {
			if b.Held != 0 || b.Check() != nil {
				t.Fatalf("balance %+v after a settled charge", b)
			}
		}
	}
}

// ---- subscriptions ----

// FuzzSubscriptionParams creates subscriptions from random params, for an
// existing customer or a new one, with known and unknown payment methods.
func FuzzSubscriptionParams(f *testing.F) {
	f.Add(int64(1), uint8(1), false, int64(0), "", uint8(0), "", processor.CardOK, false, "", "", "", uint8(0), "")
	f.Add(int64(3), uint8(2), true, int64(250), "INR", uint8(0), "", processor.CardOK, true, "Ada", "ada@example.com", "gb", uint8(1), "desc")
	f.Add(int64(2), uint8(2), false, int64(0), "", uint8(0), "", processor.CardDoNotHonor, false, "", "", "", uint8(0), "")
	f.Add(int64(1), uint8(1), false, int64(0), "", uint8(0), "", processor.CardRequiresAction, false, "", "", "", uint8(0), "https://x.test/back")
	f.Add(int64(1), uint8(1), false, int64(0), "", uint8(0), "", "pm_bogus", true, "n", "", "", uint8(0), "")
	f.Add(int64(1), uint8(1), false, int64(0), "", uint8(0), "", processor.CardStolen, false, "", "", "", uint8(0), "")
	f.Add(int64(0), uint8(0), false, int64(0), "", uint8(0), "", "", false, "", "", "", uint8(0), "")
	f.Add(int64(math.MaxInt64), uint8(2), true, int64(math.MaxInt64), "", uint8(0), "", processor.CardOK, false, "", "", "", uint8(0), "")
	f.Add(int64(-1), uint8(2), true, int64(-1), "JPY", uint8(1), "prod_x", " ", false, "", "bad", "zz", uint8(51), "")
	f.Add(int64(1), uint8(2), false, int64(0), "", uint8(2), "", processor.CardOK, false, "", "", "", uint8(0), "")
	f.Add(int64(1), uint8(1), false, int64(0), "usd", uint8(0), "", processor.CardOK, true, "", "not an email", "", uint8(0), "")
	w := newFzWorld(f)
	var prods [2]string // a priced product and a free one
	for i, price := range []int64{500, 0} {
		pr, err := w.eng.CreateProduct(w.ctx, ProductParams{Name: "fuzz", Description: "plan", Price: price, Currency: "USD"})
		if err != nil {
			f.Fatal(err)
		}
		prods[i] = pr.ID
	}
	var cust string
	f.Fuzz(func(t *testing.T, quantity int64, mandate uint8, hasPrice bool, price int64, currency string, prodSel uint8,
		productID, pm string, newCust bool, name, email, country string, nmeta uint8, text string) {
		w.iters++
		if w.iters%256 == 1 {
			cust = w.newCustomer(t, customer.Params{Name: new("subscriber")}).ID
		}
		w.clk.Advance(time.Second)
		p := SubscriptionParams{Quantity: int(quantity), PaymentMethod: pm, ReturnURL: text, PaymentLink: nmeta%2 == 1,
			Metadata: fzMeta(nmeta/2, name, text)}
		switch prodSel % 4 {
		case 0:
			p.ProductID = prods[0]
		case 1:
			p.ProductID = productID
		case 2:
			p.ProductID = prods[1]
		}
		if mandate%3 != 0 {
			p.OnDemand = &OnDemand{MandateOnly: new(mandate%3 == 1), ProductCurrency: currency, ProductDescription: text,
				AdaptiveCurrencyFeesInclusive: nmeta%4 >= 2}
			if hasPrice {
				p.OnDemand.ProductPrice = &price
			}
		} else if mandate%2 == 1 {
			p.OnDemand = &OnDemand{} // mandate_only missing
		}
		if newCust {
			p.Customer = &customer.Params{Name: &name, Email: &email, Address: &customer.Address{Country: country}}
		} else {
			p.CustomerID = cust
			if prodSel&8 != 0 {
				p.CustomerID = "cus_missing"
			}
		}
		if prodSel&16 != 0 {
			p.BillingAddress = &customer.Address{Line1: name, Country: country}
		}
		before := w.snap(t, cust)
		res, err := w.eng.CreateSubscription(w.ctx, p)
		after := w.snap(t, cust)
		if err != nil {
			requireClientError(t, err)
			if res.Subscription.ID == "" {
				requireUnchanged(t, fmt.Sprintf("CreateSubscription(%+v) = %v", p, err), before, after)
				return
			}
			// The processor refused the payment method after the
			// subscription was recorded: it is kept, failed, for the audit
			// trail (see mandateError); nothing else may have moved.
			sub, serr := w.eng.Subscription(w.ctx, res.Subscription.ID)
			if serr != nil || sub.Status != subscription.StatusFailed || !errors.Is(err, subscription.ErrInvalid) {
				t.Fatalf("rejected subscription %+v: %v (%v)", sub, err, serr)
			}
			if after.newestPayment != before.newestPayment || !reflect.DeepEqual(before.balances, after.balances) {
				t.Fatalf("rejected subscription moved money")
			}
			return
		}
		sub := res.Subscription
		requirePortable(t, "subscription", res)
		stored, serr := w.eng.Subscription(w.ctx, sub.ID)
		if serr != nil || !reflect.DeepEqual(stored, sub) {
			t.Fatalf("stored subscription differs from the returned one (%v):\nstored   %+v\nreturned %+v", serr, stored, sub)
		}
		if sub.Quantity != p.Quantity || sub.Quantity < 1 || (sub.CustomerID != cust && !newCust) || !w.eng.currencies.Has(sub.Currency) ||
			sub.MandateOnly != *p.OnDemand.MandateOnly || sub.PaymentMethod != strings.TrimSpace(pm) {
			t.Fatalf("params %+v made %+v", p, sub)
		}
		if sub.Quantity > math.MaxInt32 {
			t.Fatalf("accepted quantity %d: PostgreSQL stores it in an integer", sub.Quantity)
		}
		if hasPrice && sub.Price != price {
			t.Fatalf("price %d recorded as %d", price, sub.Price)
		}
		switch sub.Status {
		case subscription.StatusActive, subscription.StatusPending, subscription.StatusFailed, subscription.StatusOnHold:
		default:
			t.Fatalf("new subscription is %s", sub.Status)
		}
		if res.Payment != nil {
			pay := *res.Payment
			want, _ := money.MulMinor(sub.Price, int64(sub.Quantity))
			if sub.MandateOnly || pay.Amount != want || pay.Currency != sub.Currency || pay.SubscriptionID != sub.ID {
				t.Fatalf("initial payment %+v for %+v", pay, sub)
			}
			if pay.Status == subscription.PaymentSucceeded && sub.Status != subscription.StatusActive {
				t.Fatalf("paid subscription is %s", sub.Status)
			}
		} else if sub.Status == subscription.StatusActive && !sub.MandateOnly {
			t.Fatalf("active subscription %+v without its initial charge", sub)
		}
		if after.newestPayment != before.newestPayment && res.Payment == nil {
			t.Fatalf("a payment appeared without an initial charge")
		}
		w.audit(t, sub.CustomerID)
	})
}

// ---- webhook endpoints ----

// FuzzEndpointParams creates and updates webhook endpoints with random URLs,
// event-type filters, descriptions and secrets.
func FuzzEndpointParams(f *testing.F) {
	f.Add(uint8(0), "https://example.com/hooks", "main", "payment.*,customer.created", "")
	f.Add(uint8(0), "http://localhost:8080/x", "", "", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	f.Add(uint8(0), "ftp://example.com", "", "*", "")
	f.Add(uint8(0), "https://example.com/#frag", "\xff", "payment*", "whsec_short")
	f.Add(uint8(0), " https://a.b ", "", "a.b,a.b,*", "secret")
	f.Add(uint8(1), "https://example.com/new", "d", "wallet.*", "")
	f.Add(uint8(3), "", "", "", "")
	f.Add(uint8(7), "https://[::1]:99/x", strings.Repeat("d", 1025), ",", "")
	w := newFzWorld(f)
	var victim string
	f.Fuzz(func(t *testing.T, op uint8, rawURL, desc, types, secret string) {
		w.iters++
		w.clk.Advance(time.Second)
		var typeList []string
		if types != "" {
			typeList = strings.Split(types, ",")
		}
		if victim == "" || w.iters%128 == 0 {
			eps, err := pageData(w.eng.ListEndpoints(w.ctx, EndpointListParams{}))
			if err != nil {
				t.Fatal(err)
			}
			for _, ep := range eps {
				if err := w.eng.DeleteEndpoint(w.ctx, ep.ID); err != nil {
					t.Fatal(err)
				}
			}
			ep, err := w.eng.CreateEndpoint(w.ctx, EndpointParams{URL: "https://victim.example/hooks", EventTypes: []string{"payment.*"}})
			if err != nil {
				t.Fatal(err)
			}
			victim = ep.ID
		}
		before := w.snap(t)
		if op%2 == 0 {
			ep, err := w.eng.CreateEndpoint(w.ctx, EndpointParams{URL: rawURL, Description: desc, EventTypes: typeList, Secret: secret})
			after := w.snap(t)
			if err != nil {
				requireClientError(t, err)
				requireUnchanged(t, fmt.Sprintf("CreateEndpoint(%q, %q, %q) = %v", rawURL, typeList, secret, err), before, after)
				return
			}
			if len(after.endpoints) != len(before.endpoints)+1 || !reflect.DeepEqual(after.endpoints[len(after.endpoints)-1].Redacted(w.eng.clock.Now()), ep) {
				t.Fatalf("created %+v, stored %+v", ep, after.endpoints)
			}
			stored := after.endpoints[len(after.endpoints)-1]
			fzCheckEndpoint(t, stored, typeList)
			requirePortable(t, "endpoint", stored)
			if secret != "" && stored.Secret != secret {
				t.Fatalf("secret %q stored as %q", secret, stored.Secret)
			}
			if ep.Secret != "" || ep.PreviousSecret != "" {
				t.Fatalf("CreateEndpoint returned a secret")
			}
			if ep.URL != strings.TrimSpace(rawURL) {
				t.Fatalf("url %q stored as %q", rawURL, ep.URL)
			}
			return
		}
		up := UpdateEndpointParams{}
		if op&2 != 0 {
			up.URL = &rawURL
		}
		if op&4 != 0 {
			up.Description = &desc
		}
		if op&8 != 0 {
			up.EventTypes = &typeList
		}
		if op&16 != 0 {
			up.Disabled = new(op&32 != 0)
		}
		id := victim
		if op&64 != 0 {
			id = "ep_missing"
		}
		old, err := w.eng.Endpoint(w.ctx, victim)
		if err != nil {
			t.Fatal(err)
		}
		ep, err := w.eng.UpdateEndpoint(w.ctx, id, up)
		after := w.snap(t)
		if err != nil {
			requireClientError(t, err)
			requireUnchanged(t, fmt.Sprintf("UpdateEndpoint(%+v) = %v", up, err), before, after)
			return
		}
		stored, err := w.eng.Endpoint(w.ctx, victim)
		if err != nil || !reflect.DeepEqual(stored, ep) {
			t.Fatalf("stored endpoint differs from the returned one (%v):\nstored   %+v\nreturned %+v", err, stored, ep)
		}
		want := old.EventTypes
		if up.EventTypes != nil {
			want = typeList
		}
		storedAfter, storedBefore := fzEndpoint(after, victim), fzEndpoint(before, victim)
		fzCheckEndpoint(t, storedAfter, want)
		requirePortable(t, "endpoint", storedAfter)
		if (up.URL == nil && ep.URL != old.URL) || (up.Description == nil && ep.Description != old.Description) ||
			(up.Disabled == nil && ep.Disabled != old.Disabled) || storedAfter.Secret != storedBefore.Secret ||
			ep.SecretHint != old.SecretHint || !ep.CreatedAt.Equal(old.CreatedAt) {
			t.Fatalf("update %+v moved omitted fields: %+v -> %+v", up, old, ep)
		}
	})
}

// fzEndpoint is the stored endpoint id of a snapshot.
func fzEndpoint(s fzSnap, id string) webhook.Endpoint {
	for _, ep := range s.endpoints {
		if ep.ID == id {
			return ep
		}
	}
	return webhook.Endpoint{}
}

// fzCheckEndpoint checks an accepted endpoint: a usable URL and secret, and
// the filter as given without duplicates.
func fzCheckEndpoint(t *testing.T, ep webhook.Endpoint, types []string) {
	t.Helper()
	if _, err := checkEndpointURL(ep.URL); err != nil {
		t.Fatalf("stored url %q: %v", ep.URL, err)
	}
	if _, err := webhook.ParseSecret(ep.Secret); err != nil {
		t.Fatalf("stored secret %q: %v", ep.Secret, err)
	}
	if err := webhook.ValidateEventTypes(ep.EventTypes); err != nil {
		t.Fatalf("stored filter %q: %v", ep.EventTypes, err)
	}
	seen := map[string]bool{}
	for _, ty := range ep.EventTypes {
		if seen[ty] {
			t.Fatalf("filter %q keeps duplicates", ep.EventTypes)
		}
		seen[ty] = true
	}
	for _, ty := range types {
		if !seen[ty] {
			t.Fatalf("filter %q lost %q", ep.EventTypes, ty)
		}
		_ = webhook.Matches(ep, ty)
	}
	if len(seen) != 0 && len(types) == 0 {
		t.Fatalf("empty filter stored as %q", ep.EventTypes)
	}
}

// ---- regressions ----

// fzPostgres opens the PostgreSQL store in a fresh schema (dropped after
// the test), or skips when COFFER_POSTGRES_DSN is not set.
func fzPostgres(t testing.TB) store.Store {
	t.Helper()
	dsn := os.Getenv("COFFER_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("COFFER_POSTGRES_DSN not set")
	}
	ctx := context.Background()
	schema := fmt.Sprintf("fz_%d_%d", os.Getpid(), time.Now().UnixNano())
	st, err := postgres.Open(ctx, dsn, postgres.WithSchema(schema), postgres.WithMaxConns(4))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = st.Pool().Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		st.Close()
	})
	return st
}

// TestUnstorableInputRejected: input that the stores cannot all keep (NUL
// bytes, invalid UTF-8, keys longer than a unique index takes, a quantity
// beyond a PostgreSQL integer) must be refused by validation with a 422 and
// change nothing, on every store. The engine fuzz targets found that none of
// these fields is validated for it:
//
//   - memory keeps the input as given;
//   - bolt keeps it too, except in the records it encodes as JSON (payments,
//     endpoints, subscriptions' billing addresses), where invalid UTF-8 is
//     silently rewritten to U+FFFD, so what is read back differs from what
//     the call returned;
//   - PostgreSQL fails the transaction with a 500 (SQLSTATE 22021 invalid
//     byte sequence, 22P05 NUL in jsonb, 54000 index row size exceeds the
//     btree maximum, pgx's int4 range check), or, for a billing address
//     line in invalid UTF-8, silently rewrites it to U+FFFD.
func TestUnstorableInputRejected(t *testing.T) {
	long := strings.Repeat("0123456789abcdef", 256) // 4 KiB: past any btree row
	for b := range 256 {
		// Not compressible: PostgreSQL compresses index tuples.
		long = long[:b*16] + fmt.Sprintf("%016x", uint64(b)*0x9e3779b97f4a7c15) + long[b*16+16:]
	}
	type fixture struct {
		cust, sub, pay, prod string
	}
	cases := []struct {
		name string
		do   func(w *fzWorld, fx fixture) error
	}{
		{"customer name NUL", func(w *fzWorld, fx fixture) error {
			_, err := w.eng.CreateCustomer(w.ctx, customer.Params{Name: new("a\x00b")})
			return err
		}},
		{"customer metadata value NUL", func(w *fzWorld, fx fixture) error {
			_, err := w.eng.CreateCustomer(w.ctx, customer.Params{Metadata: map[string]string{"k": "a\x00b"}})
			return err
		}},
		{"customer address line NUL", func(w *fzWorld, fx fixture) error {
			_, err := w.eng.UpdateCustomer(w.ctx, fx.cust, customer.Params{Address: &customer.Address{Line1: "\x00"}})
			return err
		}},
		{"entry reason NUL", func(w *fzWorld, fx fixture) error {
			_, err := w.eng.CreateEntry(w.ctx, fx.cust, EntryParams{Amount: 1, Currency: "USD", Type: ledger.Credit, Reason: "a\x00b"})
			return err
		}},
		{"entry key invalid UTF-8", func(w *fzWorld, fx fixture) error {
			_, err := w.eng.CreateEntry(w.ctx, fx.cust, EntryParams{Amount: 1, Currency: "USD", Type: ledger.Credit, IdempotencyKey: "k\xff"})
			return err
		}},
		{"entry key NUL", func(w *fzWorld, fx fixture) error {
			_, err := w.eng.CreateEntry(w.ctx, fx.cust, EntryParams{Amount: 1, Currency: "USD", Type: ledger.Credit, IdempotencyKey: "k\x00"})
			return err
		}},
		{"charge description invalid UTF-8", func(w *fzWorld, fx fixture) error {
			_, err := w.eng.Charge(w.ctx, fx.sub, ChargeParams{ProductPrice: new(int64(100)), ProductDescription: "a\xffb"})
			return err
		}},
		{"charge key invalid UTF-8", func(w *fzWorld, fx fixture) error {
			_, err := w.eng.Charge(w.ctx, fx.sub, ChargeParams{ProductPrice: new(int64(100)), IdempotencyKey: "k\xff"})
			return err
		}},
		{"charge key 4 KiB", func(w *fzWorld, fx fixture) error {
			_, err := w.eng.Charge(w.ctx, fx.sub, ChargeParams{ProductPrice: new(int64(100)), IdempotencyKey: long})
			return err
		}},
		{"subscription payment method NUL", func(w *fzWorld, fx fixture) error {
			_, err := w.eng.CreateSubscription(w.ctx, SubscriptionParams{ProductID: fx.prod, Quantity: 1, CustomerID: fx.cust,
				PaymentMethod: processor.CardOK + "\x00", OnDemand: &OnDemand{MandateOnly: new(true)}})
			return err
		}},
		{"subscription billing line invalid UTF-8", func(w *fzWorld, fx fixture) error {
			_, err := w.eng.CreateSubscription(w.ctx, SubscriptionParams{ProductID: fx.prod, Quantity: 1, CustomerID: fx.cust,
				PaymentMethod: processor.CardOK, BillingAddress: &customer.Address{Line1: "a\xffb"},
				OnDemand: &OnDemand{MandateOnly: new(true)}})
			return err
		}},
		{"subscription return_url invalid UTF-8", func(w *fzWorld, fx fixture) error {
			_, err := w.eng.CreateSubscription(w.ctx, SubscriptionParams{ProductID: fx.prod, Quantity: 1, CustomerID: fx.cust,
				PaymentMethod: processor.CardOK, ReturnURL: "https://shop.test/\xae", OnDemand: &OnDemand{MandateOnly: new(true)}})
			return err
		}},
		{"subscription description NUL", func(w *fzWorld, fx fixture) error {
			_, err := w.eng.CreateSubscription(w.ctx, SubscriptionParams{ProductID: fx.prod, Quantity: 1, CustomerID: fx.cust,
				PaymentMethod: processor.CardOK, OnDemand: &OnDemand{MandateOnly: new(true), ProductDescription: "a\x00b"}})
			return err
		}},
		{"subscription quantity beyond int32", func(w *fzWorld, fx fixture) error {
			// subscriptions.quantity is a PostgreSQL integer.
			_, err := w.eng.CreateSubscription(w.ctx, SubscriptionParams{ProductID: fx.prod, Quantity: 1 << 40, CustomerID: fx.cust,
				PaymentMethod: processor.CardOK, OnDemand: &OnDemand{MandateOnly: new(true)}})
			return err
		}},
		{"product name NUL", func(w *fzWorld, fx fixture) error {
			_, err := w.eng.CreateProduct(w.ctx, ProductParams{Name: "p\x00", Price: 100, Currency: "USD"})
			return err
		}},
		{"endpoint url invalid UTF-8", func(w *fzWorld, fx fixture) error {
			_, err := w.eng.CreateEndpoint(w.ctx, EndpointParams{URL: "https://example.com/\xff"})
			return err
		}},
		{"endpoint description NUL", func(w *fzWorld, fx fixture) error {
			_, err := w.eng.CreateEndpoint(w.ctx, EndpointParams{URL: "https://example.com/", Description: "a\x00b"})
			return err
		}},
		{"refund reason NUL", func(w *fzWorld, fx fixture) error {
			_, err := w.eng.Refund(w.ctx, fx.pay, RefundParams{IdempotencyKey: "r1", Reason: "a\x00b"})
			return err
		}},
		{"refund key 4 KiB", func(w *fzWorld, fx fixture) error {
			_, err := w.eng.Refund(w.ctx, fx.pay, RefundParams{IdempotencyKey: long})
			return err
		}},
	}
	stores := []struct {
		name string
		open func(t *testing.T) store.Store
	}{
		{"memory", func(*testing.T) store.Store { return memory.New() }},
		{"bolt", func(t *testing.T) store.Store {
			b, err := bolt.Open(filepath.Join(t.TempDir(), "coffer.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			return b
		}},
		{"postgres", func(t *testing.T) store.Store { return fzPostgres(t) }},
	}
	for _, sk := range stores {
		t.Run(sk.name, func(t *testing.T) {
			w := newFzWorldOn(t, sk.open(t))
			prod, err := w.eng.CreateProduct(w.ctx, ProductParams{Name: "plan", Price: 100, Currency: "USD"})
			if err != nil {
				t.Fatal(err)
			}
			// Each case gets a customer with a subscription and a paid
			// charge of its own, so what an earlier case wrongly accepted
			// cannot get in its way.
			newFixture := func(t *testing.T) fixture {
				c := w.newCustomer(t, customer.Params{Name: new("victim")})
				res, err := w.eng.CreateSubscription(w.ctx, SubscriptionParams{ProductID: prod.ID, Quantity: 1, CustomerID: c.ID,
					PaymentMethod: processor.CardOK, OnDemand: &OnDemand{MandateOnly: new(true)}})
				if err != nil {
					t.Fatal(err)
				}
				pay, err := w.eng.Charge(w.ctx, res.Subscription.ID, ChargeParams{ProductPrice: new(int64(100))})
				if err != nil {
					t.Fatal(err)
				}
				return fixture{cust: c.ID, sub: res.Subscription.ID, pay: pay.ID, prod: prod.ID}
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					fx := newFixture(t)
					refunds := func() int {
						list, err := pageData(w.eng.ListRefunds(w.ctx, RefundListParams{PaymentID: fx.pay}))
						if err != nil {
							t.Fatal(err)
						}
						return len(list)
					}
					before, nref := w.snap(t, fx.cust), refunds()
					err := tc.do(w, fx)
					if err == nil || HTTPStatus(err) != http.StatusUnprocessableEntity {
						t.Errorf("got %v (status %d), want a 422 validation error", err, HTTPStatus(err))
					}
					after := w.snap(t, fx.cust)
					if !reflect.DeepEqual(before, after) || refunds() != nref {
						t.Errorf("the rejected call changed the state")
					}
				})
			}
		})
	}
}

// TestAcceptedTextReadsBack: whatever a call accepts reads back exactly as
// it was given, on every store. Found by FuzzChargeParams and
// FuzzEndpointParams with COFFER_FUZZ_STORE=bolt: bolt encodes payments,
// endpoints and billing addresses as JSON, which turns invalid UTF-8 into
// U+FFFD, so the payment description, the endpoint URL and the billing
// line below read back different from what was accepted (PostgreSQL does
// the same to the billing line, a jsonb column). A charge paid by the
// processor even returns the rewritten description (it is re-read before
// it is settled) while one paid by the wallet returns the original. Refusing
// such input (422) also passes.
func TestAcceptedTextReadsBack(t *testing.T) {
	for _, sk := range []string{"memory", "bolt", "postgres"} {
		t.Run(sk, func(t *testing.T) {
			t.Setenv("COFFER_FUZZ_STORE", sk)
			w := newFzWorld(t)
			c := w.newCustomer(t, customer.Params{Name: new("reader")})
			prod, err := w.eng.CreateProduct(w.ctx, ProductParams{Name: "plan", Price: 100, Currency: "USD"})
			if err != nil {
				t.Fatal(err)
			}
			check := func(what string, err error, returned, stored any) {
				t.Helper()
				if err != nil {
					if HTTPStatus(err) != http.StatusUnprocessableEntity {
						t.Errorf("%s: %v (status %d): want success or a 422", what, err, HTTPStatus(err))
					}
					return
				}
				if !reflect.DeepEqual(returned, stored) {
					t.Errorf("%s reads back different from what was accepted:\naccepted %q\nstored   %q", what, returned, stored)
				}
			}
			res, err := w.eng.CreateSubscription(w.ctx, SubscriptionParams{ProductID: prod.ID, Quantity: 1, CustomerID: c.ID,
				PaymentMethod: processor.CardOK, BillingAddress: &customer.Address{Line1: "a\xffb"},
				OnDemand: &OnDemand{MandateOnly: new(true)}})
			if err == nil {
				got, gerr := w.eng.Subscription(w.ctx, res.Subscription.ID)
				if gerr != nil {
					t.Fatal(gerr)
				}
				check("billing line", nil, "a\xffb", got.BillingAddress.Line1)
			} else {
				check("billing line", err, nil, nil)
			}
			res, err = w.eng.CreateSubscription(w.ctx, SubscriptionParams{ProductID: prod.ID, Quantity: 1, CustomerID: c.ID,
				PaymentMethod: processor.CardOK, OnDemand: &OnDemand{MandateOnly: new(true)}})
			if err != nil {
				t.Fatal(err)
			}
			pay, err := w.eng.Charge(w.ctx, res.Subscription.ID, ChargeParams{ProductPrice: new(int64(100)), ProductDescription: "\xff(\x82"})
			var stored any
			if err == nil {
				p, gerr := w.eng.Payment(w.ctx, pay.ID)
				if gerr != nil {
					t.Fatal(gerr)
				}
				stored = p.Description
			}
			check("payment description", err, "\xff(\x82", stored)
			ep, err := w.eng.CreateEndpoint(w.ctx, EndpointParams{URL: "http://\x92"})
			stored = nil
			if err == nil {
				got, gerr := w.eng.Endpoint(w.ctx, ep.ID)
				if gerr != nil {
					t.Fatal(gerr)
				}
				stored = got.URL
			}
			check("endpoint url", err, "http://\x92", stored)
		})
	}
}
