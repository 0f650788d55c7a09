package memory

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/webhook"
)

// The account-wide lists (store/query.go) come from ordered indexes: one
// sorted slice per scope (a record kind and the values of the filters it
// serves, "payments of customer c in status s"), ordered by (time, seq).
// A query binary-searches its scope for the cursor and the time range and
// walks only the page; several scopes (several statuses) are merged.
// Records are indexed on insert, moved on update when a scope or time
// changes, and the undo log puts them back on rollback.

// tkey orders an index: a record's time, then its sequence. It is
// pointer-free so that large indexes (events) cost the collector nothing.
type tkey struct {
	sec  int64
	nsec int32
	seq  int64
}

func tkeyOf(t time.Time, seq int64) tkey {
	return tkey{sec: t.Unix(), nsec: int32(t.Nanosecond()), seq: seq}
}

func (a tkey) cmp(b tkey) int {
	switch {
	case a.sec != b.sec:
		return cmpInt(a.sec, b.sec)
	case a.nsec != b.nsec:
		return cmpInt(int64(a.nsec), int64(b.nsec))
	}
	return cmpInt(a.seq, b.seq)
}

type lent[R any] struct {
	k tkey
	r R
}

// lindex is one scope: entries ascending by key.
type lindex[R any] struct{ e []lent[R] }

func (x *lindex[R]) pos(k tkey) int {
	i, _ := slices.BinarySearchFunc(x.e, k, func(e lent[R], k tkey) int { return e.k.cmp(k) })
	return i
}

func (x *lindex[R]) add(k tkey, r R) {
	if n := len(x.e); n == 0 || x.e[n-1].k.cmp(k) < 0 {
		x.e = append(x.e, lent[R]{k, r}) // the common case: the newest record
		return
	}
	i := x.pos(k)
	if i < len(x.e) && x.e[i].k == k {
		x.e[i].r = r
		return
	}
	x.e = slices.Insert(x.e, i, lent[R]{k, r})
}

func (x *lindex[R]) del(k tkey) {
	i := x.pos(k)
	if i < len(x.e) && x.e[i].k == k {
		x.e = slices.Delete(x.e, i, i+1)
	}
}

// lists holds the indexes; the zero value is ready.
type lists struct {
	byScope  map[string]*lindex[string] // record id
	events   map[string]*lindex[uint32] // index in the event table
	prodKeys map[string]*prodNode
	epKeys   map[string]*epNode
	// walked counts index entries visited by queries, so tests can check
	// that a page costs what it returns.
	walked atomic.Int64
}

// entry is one index entry of a record: its scopes at a key.
type entry struct {
	scopes []string
	k      tkey
}

func scopeOf(parts ...string) string {
	var b []byte
	for _, p := range parts {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	return string(b)
}

func (l *lists) scope(s string) *lindex[string] {
	if l.byScope == nil {
		l.byScope = make(map[string]*lindex[string])
	}
	x := l.byScope[s]
	if x == nil {
		x = &lindex[string]{}
		l.byScope[s] = x
	}
	return x
}

func (l *lists) add(e entry, id string) {
	for _, s := range e.scopes {
		l.scope(s).add(e.k, id)
	}
}

func (l *lists) del(e entry) {
	for _, s := range e.scopes {
		if x := l.byScope[s]; x != nil {
			x.del(e.k)
			if len(x.e) == 0 {
				delete(l.byScope, s)
			}
		}
	}
}

// move re-indexes a record whose entry changed from old to now, touching
// only the scopes that differ (an update of an old record must not shift a
// big index twice).
func (l *lists) move(old, now entry, id string) {
	if old.k == now.k {
		var gone, added []string
		for _, s := range old.scopes {
			if !slices.Contains(now.scopes, s) {
				gone = append(gone, s)
			}
		}
		for _, s := range now.scopes {
			if !slices.Contains(old.scopes, s) {
				added = append(added, s)
			}
		}
		l.del(entry{gone, old.k})
		l.add(entry{added, now.k}, id)
		return
	}
	l.del(old)
	l.add(now, id)
}

// ---- what each record kind indexes

func customerEntry(c customer.Customer, seq int64) entry {
	sc := []string{scopeOf("cus")}
	if c.Email != "" {
		sc = append(sc, scopeOf("cus.email", customer.Fold(c.Email)))
	}
	if c.DID != "" {
		sc = append(sc, scopeOf("cus.did", c.DID))
	}
	for _, p := range store.NamePrefixes(c.Name) {
		sc = append(sc, scopeOf("cus.name", p))
	}
	return entry{sc, tkeyOf(c.CreatedAt, seq)}
}

func paymentEntry(p subscription.Payment, seq int64) entry {
	st := string(p.Status)
	sc := []string{scopeOf("pay"), scopeOf("pay.c", p.CustomerID), scopeOf("pay.t", st), scopeOf("pay.ct", p.CustomerID, st)}
	if p.SubscriptionID != "" {
		sc = append(sc, scopeOf("pay.s", p.SubscriptionID), scopeOf("pay.st", p.SubscriptionID, st))
	}
	return entry{sc, tkeyOf(p.CreatedAt, seq)}
}

func subEntry(s subscription.Subscription, seq int64) entry {
	st := string(s.Status)
	return entry{[]string{scopeOf("sub"), scopeOf("sub.c", s.CustomerID), scopeOf("sub.t", st),
		scopeOf("sub.ct", s.CustomerID, st)}, tkeyOf(s.CreatedAt, seq)}
}

func productEntry(p subscription.Product, seq int64) entry {
	return entry{[]string{scopeOf("prod")}, tkeyOf(p.CreatedAt, seq)}
}

func refundEntry(r subscription.Refund, seq int64) entry {
	return entry{[]string{scopeOf("ref"), scopeOf("ref.p", r.PaymentID)}, tkeyOf(r.CreatedAt, seq)}
}

func attemptEntry(a retry.Attempt, seq int64) entry {
	return entry{[]string{scopeOf("att"), scopeOf("att.t", string(a.Status)), scopeOf("att.s", a.SubscriptionID)},
		tkeyOf(a.RunAt, seq)}
}

func endpointEntry(e webhook.Endpoint, seq int64) entry {
	return entry{[]string{scopeOf("ep")}, tkeyOf(e.CreatedAt, seq)}
}

func eventEntry(e webhook.Event) entry {
	return entry{[]string{scopeOf("ev"), scopeOf("ev.t", e.Type)}, tkeyOf(e.CreatedAt, e.Seq)}
}

func (l *lists) addEvent(e webhook.Event, i uint32) {
	if l.events == nil {
		l.events = make(map[string]*lindex[uint32])
	}
	en := eventEntry(e)
	for _, s := range en.scopes {
		x := l.events[s]
		if x == nil {
			x = &lindex[uint32]{}
			l.events[s] = x
		}
		x.add(en.k, i)
	}
}

func (l *lists) delEvent(e webhook.Event) {
	en := eventEntry(e)
	for _, s := range en.scopes {
		if x := l.events[s]; x != nil {
			x.del(en.k)
		}
	}
}

// ---- walking

// span is an open interval of keys; a nil end is unbounded.
type span struct{ lo, hi *tkey }

func (sp span) in(k tkey) bool {
	return (sp.lo == nil || k.cmp(*sp.lo) > 0) && (sp.hi == nil || k.cmp(*sp.hi) < 0)
}

func timeSpan(r store.TimeRange) span {
	var sp span
	if !r.From.IsZero() {
		k := tkeyOf(r.From, -1<<63) // before every record at From: From is included
		sp.lo = &k
	}
	if !r.To.IsZero() {
		k := tkeyOf(r.To, -1<<63) // before every record at To: To is excluded
		sp.hi = &k
	}
	return sp
}

func tighterLo(a *tkey, b tkey) *tkey {
	if a == nil || b.cmp(*a) > 0 {
		return &b
	}
	return a
}

func tighterHi(a *tkey, b tkey) *tkey {
	if a == nil || b.cmp(*a) < 0 {
		return &b
	}
	return a
}

// plan is one list query: the scopes to merge, the order, the time range.
type plan struct {
	scopes []string
	desc   bool // newest first
	r      store.TimeRange
	p      store.Page
	what   string
}

// walk pages the merged scopes of pl: cursor resolves a cursor id to its
// key (false: unknown), take returns whether a record passes the residual
// filters and, if so, keeps it. It returns hasMore.
func walk[R any](idx map[string]*lindex[R], walked *atomic.Int64, pl plan, cursor func(id string) (tkey, bool), take func(R) bool) (bool, error) {
	sp := timeSpan(pl.r)
	for _, c := range []struct {
		id    string
		after bool
		name  string
	}{{pl.p.StartingAfter, true, "starting_after"}, {pl.p.EndingBefore, false, "ending_before"}} {
		if c.id == "" {
			continue
		}
		k, ok := cursor(c.id)
		if !ok {
			return false, fmt.Errorf("%w: %s %s %s", store.ErrNotFound, c.name, pl.what, c.id)
		}
		// In a newest-first list "after" is older: below the cursor.
		if c.after == pl.desc {
			sp.hi = tighterHi(sp.hi, k)
		} else {
			sp.lo = tighterLo(sp.lo, k)
		}
	}
	back := pl.p.EndingBefore != "" && pl.p.StartingAfter == ""
	down := pl.desc != back // walking toward smaller keys
	limit := pl.p.Size()
	type head struct {
		x *lindex[R]
		i int
	}
	var hs []head
	for _, s := range pl.scopes {
		x := idx[s]
		if x == nil {
			continue
		}
		var i int
		if down {
			i = len(x.e) - 1
			if sp.hi != nil {
				i = x.pos(*sp.hi) - 1
			}
		} else if sp.lo != nil {
			i = x.pos(*sp.lo)
			if i < len(x.e) && x.e[i].k == *sp.lo {
				i++
			}
		}
		hs = append(hs, head{x, i})
	}
	n := 0
	for {
		best := -1
		for j, h := range hs {
			if h.i < 0 || h.i >= len(h.x.e) || !sp.in(h.x.e[h.i].k) {
				continue
			}
			if best < 0 {
				best = j
				continue
			}
			c := h.x.e[h.i].k.cmp(hs[best].x.e[hs[best].i].k)
			if (down && c > 0) || (!down && c < 0) {
				best = j
			}
		}
		if best < 0 {
			return false, nil
		}
		h := &hs[best]
		walked.Add(1)
		r := h.x.e[h.i].r
		if down {
			h.i--
		} else {
			h.i++
		}
		if n == limit {
			// One more match proves there is more.
			if take(r) {
				return true, nil
			}
			continue
		}
		if take(r) {
			n++
		}
	}
}

// collect runs walk and drops the probe record walk keeps past the limit;
// rev says the walk went backwards, so the page is reversed into list order.
func collect[T any](out []T, more bool, err error, limit int, rev bool) ([]T, bool, error) {
	if err != nil {
		return nil, false, err
	}
	if len(out) > limit {
		out = out[:limit]
	}
	if rev {
		slices.Reverse(out)
	}
	return out, more, nil
}

func reversed(p store.Page) bool { return p.EndingBefore != "" && p.StartingAfter == "" }

// query is walk for the id-keyed kinds: get loads a record by id and says
// whether it passes the filters.
func query[T any](t *tx, pl plan, cursor func(id string) (tkey, bool), get func(id string) (T, bool)) ([]T, bool, error) {
	var out []T
	more, err := walk(t.s.lists.byScope, &t.s.lists.walked, pl, cursor, func(id string) bool {
		v, ok := get(id)
		if ok && len(out) < pl.p.Size() {
			out = append(out, v)
		}
		return ok
	})
	return collect(out, more, err, pl.p.Size(), reversed(pl.p))
}

func nodeKey[T any](m map[string]*node[T], at func(*T) time.Time) func(string) (tkey, bool) {
	return func(id string) (tkey, bool) {
		n, ok := m[id]
		if !ok {
			return tkey{}, false
		}
		return tkeyOf(at(&n.v), n.seq), true
	}
}

// ---- queries

func (t *tx) QueryCustomers(q store.CustomerListQuery) ([]customer.Customer, bool, error) {
	s := t.s
	pl := plan{scopes: memScopes(q.Scopes()), desc: true, r: q.Created, p: q.Page, what: "customer"}
	return query(t, pl, nodeKey(s.customers, func(c *customer.Customer) time.Time { return c.CreatedAt }),
		func(id string) (customer.Customer, bool) {
			if c := &s.customers[id].v; q.Matches(c) {
				return copyCustomer(*c), true
			}
			return customer.Customer{}, false
		})
}

// memScopes turns the store's index scopes into this adapter's keys.
func memScopes(parts [][]string) []string {
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = scopeOf(p...)
	}
	return out
}

func (t *tx) QueryPayments(q store.PaymentListQuery) ([]subscription.Payment, bool, error) {
	s := t.s
	pl := plan{scopes: memScopes(q.Scopes()), desc: true, r: q.Created, p: q.Page, what: "payment"}
	return query(t, pl, nodeKey(s.payments, func(p *subscription.Payment) time.Time { return p.CreatedAt }),
		func(id string) (subscription.Payment, bool) {
			if p := &s.payments[id].v; q.Matches(p) {
				return copyPayment(*p), true
			}
			return subscription.Payment{}, false
		})
}

func (t *tx) QuerySubscriptions(q store.SubscriptionListQuery) ([]subscription.Subscription, bool, error) {
	s := t.s
	pl := plan{scopes: memScopes(q.Scopes()), desc: true, r: q.Created, p: q.Page, what: "subscription"}
	return query(t, pl, nodeKey(s.subs, func(v *subscription.Subscription) time.Time { return v.CreatedAt }),
		func(id string) (subscription.Subscription, bool) {
			if v := &s.subs[id].v; q.Matches(v) {
				return copySub(*v), true
			}
			return subscription.Subscription{}, false
		})
}

func (t *tx) QueryProducts(q store.ProductListQuery) ([]subscription.Product, bool, error) {
	s := t.s
	pl := plan{scopes: []string{scopeOf("prod")}, desc: true, r: q.Created, p: q.Page, what: "product"}
	return query(t, pl, nodeKey(s.products, func(v *subscription.Product) time.Time { return v.CreatedAt }),
		func(id string) (subscription.Product, bool) {
			v := s.products[id].v
			v.Metadata = copyMeta(v.Metadata)
			return v, q.Created.Contains(v.CreatedAt)
		})
}

func (t *tx) QueryRefunds(q store.RefundListQuery) ([]subscription.Refund, bool, error) {
	s := t.s
	sc := scopeOf("ref")
	if q.PaymentID != "" {
		sc = scopeOf("ref.p", q.PaymentID)
	}
	pl := plan{scopes: []string{sc}, desc: true, r: q.Created, p: q.Page, what: "refund"}
	return query(t, pl, nodeKey(s.refunds, func(v *subscription.Refund) time.Time { return v.CreatedAt }),
		func(id string) (subscription.Refund, bool) {
			v := s.refunds[id].v
			return v, (q.PaymentID == "" || v.PaymentID == q.PaymentID) && q.Created.Contains(v.CreatedAt)
		})
}

func (t *tx) QueryAttempts(q store.AttemptListQuery) ([]retry.Attempt, bool, error) {
	s := t.s
	sc := scopeOf("att")
	switch {
	case q.SubscriptionID != "":
		sc = scopeOf("att.s", q.SubscriptionID)
	case q.Status != "":
		sc = scopeOf("att.t", string(q.Status))
	}
	pl := plan{scopes: []string{sc}, desc: false, r: q.Due, p: q.Page, what: "attempt"}
	return query(t, pl, nodeKey(s.attempts, func(v *retry.Attempt) time.Time { return v.RunAt }),
		func(id string) (retry.Attempt, bool) {
			v := &s.attempts[id].v
			ok := (q.SubscriptionID == "" || v.SubscriptionID == q.SubscriptionID) &&
				(q.Status == "" || v.Status == q.Status) && q.Due.Contains(v.RunAt)
			if !ok {
				return retry.Attempt{}, false
			}
			return copyAttempt(*v), true
		})
}

func (t *tx) QueryEndpoints(q store.EndpointListQuery) ([]webhook.Endpoint, bool, error) {
	s := t.s
	pl := plan{scopes: []string{scopeOf("ep")}, desc: true, p: q.Page, what: "endpoint"}
	return query(t, pl, nodeKey(s.endpoints, func(v *webhook.Endpoint) time.Time { return v.CreatedAt }),
		func(id string) (webhook.Endpoint, bool) { return copyEndpoint(s.endpoints[id].v), true })
}

func (t *tx) QueryEvents(q store.EventListQuery) ([]webhook.Event, bool, error) {
	et := t.s.events
	sc := scopeOf("ev")
	if q.Type != "" {
		sc = scopeOf("ev.t", q.Type)
	}
	pl := plan{scopes: []string{sc}, desc: true, r: q.Created, p: q.Page, what: "event"}
	limit := pl.p.Size()
	var out []webhook.Event
	more, err := walk(t.s.lists.events, &t.s.lists.walked, pl, func(id string) (tkey, bool) {
		i, ok := et.find(id)
		if !ok {
			return tkey{}, false
		}
		r := et.recs.at(i)
		return tkeyOf(et.locs.unpack(r.created), r.seq), true
	}, func(i uint32) bool {
		if len(out) < limit {
			out = append(out, et.get(i))
		}
		return true
	})
	return collect(out, more, err, limit, reversed(pl.p))
}

func (t *tx) ProductByKey(key string) (subscription.Product, error) {
	n, ok := t.s.lists.prodKeys[key]
	if !ok || key == "" {
		return subscription.Product{}, notFound("product idempotency key", key)
	}
	return n.v, nil
}

func (t *tx) EndpointByKey(key string) (webhook.Endpoint, error) {
	n, ok := t.s.lists.epKeys[key]
	if !ok || key == "" {
		return webhook.Endpoint{}, notFound("endpoint idempotency key", key)
	}
	return copyEndpoint(n.v), nil
}

// ---- unique keys of products and endpoints

func (l *lists) productKeyTaken(key string, self *prodNode) bool {
	o, ok := l.prodKeys[key]
	return key != "" && ok && o != self
}

func (l *lists) setProductKey(old, now string, n *prodNode) {
	if old != "" && l.prodKeys[old] == n {
		delete(l.prodKeys, old)
	}
	if now != "" {
		if l.prodKeys == nil {
			l.prodKeys = make(map[string]*prodNode)
		}
		l.prodKeys[now] = n
	}
}

func (l *lists) endpointKeyTaken(key string, self *epNode) bool {
	o, ok := l.epKeys[key]
	return key != "" && ok && o != self
}

func (l *lists) setEndpointKey(old, now string, n *epNode) {
	if old != "" && l.epKeys[old] == n {
		delete(l.epKeys, old)
	}
	if now != "" {
		if l.epKeys == nil {
			l.epKeys = make(map[string]*epNode)
		}
		l.epKeys[now] = n
	}
}
