package bolt

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/bbolt"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/webhook"
)

// The account-wide lists (store/query.go) come from one index bucket,
// "lists", whose keys are scope(index, filter values...) + timeKey(time) +
// seq: the record's CreatedAt (RunAt for attempts) and sequence, so each
// scope is ordered as the list is and a time range is a key range. A query
// seeks to its cursor or range bound and walks the page; several scopes
// (several statuses) are merged. The keys are ordinary list keys of each
// record (see customerKeys, paymentKeys, ...), so insert and update keep
// them as they keep every other index, and a store written before they
// existed is indexed once when it is opened (backfillLists).

var (
	bLists       = []byte("lists")
	bProductKey  = []byte("products.key")  // unique: idempotency key
	bEndpointKey = []byte("endpoints.key") // unique: idempotency key
	keyListsDone = []byte("lists")         // in meta: the lists bucket is complete
)

const listSuffix = timeKeyLen + 8

func lkey(t time.Time, seq uint64, parts ...string) ikey {
	return ikey{bucket: bLists, key: appendSeq(appendTime(scope(parts...), t), seq)}
}

// undispatchedKey marks an event not yet dispatched: the lists bucket's
// "ev.u" scope, at the zero time, so the scope is in sequence order. It
// shares the lists bucket with the event's other list keys ("ev", "ev.t")
// instead of a bucket of its own (layout 1's events.undispatched).
func undispatchedKey(seq uint64) ikey { return lkey(time.Time{}, seq, "ev.u") }

func customerListKeys(c customer.Customer, seq uint64) []ikey {
	ks := []ikey{lkey(c.CreatedAt, seq, "cus")}
	if c.Email != "" {
		ks = append(ks, lkey(c.CreatedAt, seq, "cus.email", customer.Fold(c.Email)))
	}
	// No "cus.did" scope (layout 2): a DID names one customer, found in
	// the customers.did bucket (QueryCustomers).
	for _, p := range store.NamePrefixes(c.Name) {
		ks = append(ks, lkey(c.CreatedAt, seq, "cus.name", p))
	}
	return ks
}

func paymentListKeys(p subscription.Payment, seq uint64) []ikey {
	st, at := string(p.Status), p.CreatedAt
	ks := []ikey{lkey(at, seq, "pay"), lkey(at, seq, "pay.c", p.CustomerID), lkey(at, seq, "pay.t", st),
		lkey(at, seq, "pay.ct", p.CustomerID, st)}
	if p.SubscriptionID != "" {
		ks = append(ks, lkey(at, seq, "pay.s", p.SubscriptionID), lkey(at, seq, "pay.st", p.SubscriptionID, st))
	}
	return ks
}

func subscriptionListKeys(s subscription.Subscription, seq uint64) []ikey {
	st, at := string(s.Status), s.CreatedAt
	return []ikey{lkey(at, seq, "sub"), lkey(at, seq, "sub.c", s.CustomerID), lkey(at, seq, "sub.t", st),
		lkey(at, seq, "sub.ct", s.CustomerID, st)}
}

func productKeys(p subscription.Product, seq uint64) []ikey {
	ks := []ikey{lkey(p.CreatedAt, seq, "prod")}
	if p.IdempotencyKey != "" {
		ks = append(ks, uniqueKey(bProductKey, []byte(p.IdempotencyKey)))
	}
	return ks
}

func refundListKeys(r subscription.Refund, seq uint64) []ikey {
	return []ikey{lkey(r.CreatedAt, seq, "ref"), lkey(r.CreatedAt, seq, "ref.p", r.PaymentID)}
}

func attemptListKeys(a retry.Attempt, seq uint64) []ikey {
	return []ikey{lkey(a.RunAt, seq, "att"), lkey(a.RunAt, seq, "att.t", string(a.Status)),
		lkey(a.RunAt, seq, "att.s", a.SubscriptionID)}
}

func eventListKeys(e webhook.Event, seq uint64) []ikey {
	return []ikey{lkey(e.CreatedAt, seq, "ev"), lkey(e.CreatedAt, seq, "ev.t", e.Type)}
}

func endpointKeys(e webhook.Endpoint, seq uint64) []ikey {
	ks := []ikey{lkey(e.CreatedAt, seq, "ep")}
	if e.IdempotencyKey != "" {
		ks = append(ks, uniqueKey(bEndpointKey, []byte(e.IdempotencyKey)))
	}
	return ks
}

// ---- walking

// titer walks one scope of the lists bucket between exclusive suffix bounds.
type titer struct {
	c      *bbolt.Cursor
	prefix []byte
	lo, hi []byte // full keys, exclusive
	down   bool
	k      []byte
}

func newTiter(b *bbolt.Bucket, prefix, lo, hi []byte, down bool) *titer {
	it := &titer{c: b.Cursor(), prefix: prefix, lo: append(bytes.Clone(prefix), lo...),
		hi: append(bytes.Clone(prefix), hi...), down: down}
	var k []byte
	if down {
		k, _ = it.c.Seek(it.hi)
		if k == nil {
			k, _ = it.c.Last()
		}
		for k != nil && bytes.Compare(k, it.hi) >= 0 {
			k, _ = it.c.Prev()
		}
	} else {
		k, _ = it.c.Seek(it.lo)
		for k != nil && bytes.Compare(k, it.lo) <= 0 {
			k, _ = it.c.Next()
		}
	}
	it.set(k)
	return it
}

func (it *titer) set(k []byte) {
	if k != nil && len(k) == len(it.prefix)+listSuffix && bytes.HasPrefix(k, it.prefix) &&
		bytes.Compare(k, it.lo) > 0 && bytes.Compare(k, it.hi) < 0 {
		it.k = k
	} else {
		it.k = nil
	}
}

func (it *titer) next() {
	var k []byte
	if it.down {
		k, _ = it.c.Prev()
	} else {
		k, _ = it.c.Next()
	}
	it.set(k)
}

func (it *titer) suffix() []byte { return it.k[len(it.k)-listSuffix:] }

// lplan is one list query: the scopes to merge, the order, the time range.
type lplan struct {
	scopes [][]byte
	desc   bool
	r      store.TimeRange
	p      store.Page
	k      kind
	at     func(v []byte) (time.Time, error) // a record's order time, for cursors
}

var (
	minSuffix = make([]byte, listSuffix)
	maxSuffix = bytes.Repeat([]byte{0xff}, listSuffix)
)

func maxBytes(a, b []byte) []byte {
	if bytes.Compare(a, b) >= 0 {
		return a
	}
	return b
}

func minBytes(a, b []byte) []byte {
	if bytes.Compare(a, b) <= 0 {
		return a
	}
	return b
}

// lbounds are the exclusive suffix bounds (timeKey + seq) of pl's range
// and cursors.
func lbounds(t *tx, pl lplan) (lo, hi []byte, err error) {
	lo, hi = minSuffix, maxSuffix
	if !pl.r.From.IsZero() {
		lo = appendSeq(appendTime(nil, pl.r.From), 0) // before every record at From
	}
	if !pl.r.To.IsZero() {
		hi = appendSeq(appendTime(nil, pl.r.To), 0) // before every record at To
	}
	for _, c := range []struct {
		id    string
		after bool
		name  string
	}{{pl.p.StartingAfter, true, "starting_after"}, {pl.p.EndingBefore, false, "ending_before"}} {
		if c.id == "" {
			continue
		}
		seq, v, err := t.lookup(pl.k, c.id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil, fmt.Errorf("%w: %s %s %s", store.ErrNotFound, c.name, pl.k.primary, c.id)
		} else if err != nil {
			return nil, nil, err
		}
		at, err := pl.at(v)
		if err != nil {
			return nil, nil, err
		}
		ck := appendSeq(appendTime(nil, at), seq)
		if c.after == pl.desc {
			hi = minBytes(hi, ck)
		} else {
			lo = maxBytes(lo, ck)
		}
	}
	return lo, hi, nil
}

// lpage returns one page of pl; load decodes a record (by sequence and
// value) and says whether it passes the residual filters.
func lpage[T any](t *tx, pl lplan, load func(seq uint64, v []byte) (T, bool, error)) ([]T, bool, error) {
	lo, hi, err := lbounds(t, pl)
	if err != nil {
		return nil, false, err
	}
	back := pl.p.EndingBefore != "" && pl.p.StartingAfter == ""
	down := pl.desc != back
	b := t.b(bLists)
	var its []*titer
	for _, s := range pl.scopes {
		its = append(its, newTiter(b, s, lo, hi, down))
	}
	prim := t.b(pl.k.primary)
	limit := pl.p.Size()
	var out []T
	for {
		best := -1
		for i, it := range its {
			if it.k == nil {
				continue
			}
			if best < 0 {
				best = i
				continue
			}
			c := bytes.Compare(it.suffix(), its[best].suffix())
			if (down && c > 0) || (!down && c < 0) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		seq := seqOfKey(its[best].k)
		its[best].next()
		t.listScanned++
		v := prim.Get(seqKey(seq))
		if v == nil {
			return nil, false, errDangling(pl.k, seq)
		}
		r, keep, err := load(seq, v)
		if err != nil {
			return nil, false, err
		}
		if !keep {
			continue
		}
		if len(out) == limit {
			if back {
				slices.Reverse(out)
			}
			return out, true, nil
		}
		out = append(out, r)
	}
	if back {
		slices.Reverse(out)
	}
	return out, false, nil
}

func atOf[T any](dec func([]byte) (T, error), at func(*T) time.Time) func([]byte) (time.Time, error) {
	return func(v []byte) (time.Time, error) {
		r, err := dec(v)
		if err != nil {
			return time.Time{}, err
		}
		return at(&r), nil
	}
}

// ---- queries

func (t *tx) QueryCustomers(q store.CustomerListQuery) ([]customer.Customer, bool, error) {
	pl := lplan{scopes: boltScopes(q.Scopes()), desc: true, r: q.Created, p: q.Page, k: kCustomers,
		at: atOf(decodeCustomer, func(c *customer.Customer) time.Time { return c.CreatedAt })}
	if q.DID != "" {
		return t.customerPageByDID(q, pl)
	}
	return lpage(t, pl, func(_ uint64, v []byte) (customer.Customer, bool, error) {
		c, err := decodeCustomer(v)
		return c, err == nil && q.Matches(&c), err
	})
}

func (t *tx) QueryPayments(q store.PaymentListQuery) ([]subscription.Payment, bool, error) {
	pl := lplan{scopes: boltScopes(q.Scopes()), desc: true, r: q.Created, p: q.Page, k: kPayments,
		at: atOf(decodePayment, func(p *subscription.Payment) time.Time { return p.CreatedAt })}
	return lpage(t, pl, func(_ uint64, v []byte) (subscription.Payment, bool, error) {
		p, err := decodePayment(v)
		return p, err == nil && q.Matches(&p), err
	})
}

// customerPageByDID is QueryCustomers' DID scope: the customer the unique
// customers.did bucket names, if it passes q's filters and lies between
// the page's bounds (which is the page a one-key list scope would give).
func (t *tx) customerPageByDID(q store.CustomerListQuery, pl lplan) ([]customer.Customer, bool, error) {
	lo, hi, err := lbounds(t, pl)
	if err != nil {
		return nil, false, err
	}
	v := t.b(bCustomerDID).Get([]byte(q.DID))
	if v == nil {
		return nil, false, nil
	}
	seq, err := decodeSeq(v)
	if err != nil {
		return nil, false, err
	}
	rec := t.b(kCustomers.primary).Get(seqKey(seq))
	if rec == nil {
		return nil, false, errDangling(kCustomers, seq)
	}
	t.listScanned++
	c, err := decodeCustomer(rec)
	if err != nil {
		return nil, false, err
	}
	ck := appendSeq(appendTime(nil, c.CreatedAt), seq)
	if !q.Matches(&c) || bytes.Compare(ck, lo) <= 0 || bytes.Compare(ck, hi) >= 0 {
		return nil, false, nil
	}
	return []customer.Customer{c}, false, nil
}

// boltScopes turns the store's index scopes into this adapter's keys.
func boltScopes(parts [][]string) [][]byte {
	out := make([][]byte, len(parts))
	for i, p := range parts {
		out[i] = scope(p...)
	}
	return out
}

func (t *tx) QuerySubscriptions(q store.SubscriptionListQuery) ([]subscription.Subscription, bool, error) {
	pl := lplan{scopes: boltScopes(q.Scopes()), desc: true, r: q.Created, p: q.Page, k: kSubs,
		at: atOf(decodeSubscription, func(s *subscription.Subscription) time.Time { return s.CreatedAt })}
	return lpage(t, pl, func(_ uint64, v []byte) (subscription.Subscription, bool, error) {
		s, err := decodeSubscription(v)
		return s, err == nil && q.Matches(&s), err
	})
}

func (t *tx) QueryProducts(q store.ProductListQuery) ([]subscription.Product, bool, error) {
	pl := lplan{scopes: [][]byte{scope("prod")}, desc: true, r: q.Created, p: q.Page, k: kProducts,
		at: atOf(decodeProduct, func(p *subscription.Product) time.Time { return p.CreatedAt })}
	return lpage(t, pl, func(_ uint64, v []byte) (subscription.Product, bool, error) {
		p, err := decodeProduct(v)
		return p, err == nil && q.Created.Contains(p.CreatedAt), err
	})
}

func (t *tx) QueryRefunds(q store.RefundListQuery) ([]subscription.Refund, bool, error) {
	sc := scope("ref")
	if q.PaymentID != "" {
		sc = scope("ref.p", q.PaymentID)
	}
	pl := lplan{scopes: [][]byte{sc}, desc: true, r: q.Created, p: q.Page, k: kRefunds,
		at: atOf(decodeRefund, func(r *subscription.Refund) time.Time { return r.CreatedAt })}
	return lpage(t, pl, func(_ uint64, v []byte) (subscription.Refund, bool, error) {
		r, err := decodeRefund(v)
		return r, err == nil && (q.PaymentID == "" || r.PaymentID == q.PaymentID) && q.Created.Contains(r.CreatedAt), err
	})
}

func (t *tx) QueryAttempts(q store.AttemptListQuery) ([]retry.Attempt, bool, error) {
	sc := scope("att")
	switch {
	case q.SubscriptionID != "":
		sc = scope("att.s", q.SubscriptionID)
	case q.Status != "":
		sc = scope("att.t", string(q.Status))
	}
	pl := lplan{scopes: [][]byte{sc}, desc: false, r: q.Due, p: q.Page, k: kAttempts,
		at: atOf(decodeAttempt, func(a *retry.Attempt) time.Time { return a.RunAt })}
	return lpage(t, pl, func(_ uint64, v []byte) (retry.Attempt, bool, error) {
		a, err := decodeAttempt(v)
		ok := err == nil && (q.SubscriptionID == "" || a.SubscriptionID == q.SubscriptionID) &&
			(q.Status == "" || a.Status == q.Status) && q.Due.Contains(a.RunAt)
		return a, ok, err
	})
}

func (t *tx) QueryEvents(q store.EventListQuery) ([]webhook.Event, bool, error) {
	sc := scope("ev")
	if q.Type != "" {
		sc = scope("ev.t", q.Type)
	}
	pl := lplan{scopes: [][]byte{sc}, desc: true, r: q.Created, p: q.Page, k: kEvents,
		at: func(v []byte) (time.Time, error) {
			e, err := decodeEvent(0, v)
			return e.CreatedAt, err
		}}
	return lpage(t, pl, func(seq uint64, v []byte) (webhook.Event, bool, error) {
		e, err := decodeEvent(seq, v)
		return e, err == nil, err
	})
}

func (t *tx) QueryEndpoints(q store.EndpointListQuery) ([]webhook.Endpoint, bool, error) {
	pl := lplan{scopes: [][]byte{scope("ep")}, desc: true, p: q.Page, k: kEndpoints,
		at: atOf(decodeEndpoint, func(e *webhook.Endpoint) time.Time { return e.CreatedAt })}
	return lpage(t, pl, func(_ uint64, v []byte) (webhook.Endpoint, bool, error) {
		e, err := decodeEndpoint(v)
		return e, err == nil, err
	})
}

func (t *tx) ProductByKey(key string) (subscription.Product, error) {
	if key == "" {
		return subscription.Product{}, fmt.Errorf("%w: product with empty idempotency key", store.ErrNotFound)
	}
	v, err := t.lookupUnique(kProducts, bProductKey, []byte(key), "product key "+key)
	if err != nil {
		return subscription.Product{}, err
	}
	return decodeProduct(v)
}

func (t *tx) EndpointByKey(key string) (webhook.Endpoint, error) {
	if key == "" {
		return webhook.Endpoint{}, fmt.Errorf("%w: endpoint with empty idempotency key", store.ErrNotFound)
	}
	v, err := t.lookupUnique(kEndpoints, bEndpointKey, []byte(key), "endpoint key "+key)
	if err != nil {
		return webhook.Endpoint{}, err
	}
	return decodeEndpoint(v)
}

// ---- opening a store written before the lists existed

// backfillLists creates the list buckets and, the first time a store is
// opened by a version that has them, indexes every stored record. It costs
// one pass over the store, once.
func backfillLists(btx *bbolt.Tx) error {
	if err := backfillSearch(btx); err != nil {
		return err
	}
	for _, name := range [][]byte{bLists, bProductKey, bEndpointKey} {
		if _, err := btx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("bolt: init bucket %s: %w", name, err)
		}
	}
	meta := btx.Bucket(bMeta)
	if meta.Get(keyListsDone) != nil {
		return nil
	}
	kinds := []struct {
		k    kind
		keys func(seq uint64, v []byte) ([]ikey, error)
	}{
		{kCustomers, oldKeysOf(decodeCustomer, customerListKeys)},
		{kPayments, oldKeysOf(decodePayment, paymentListKeys)},
		{kSubs, oldKeysOf(decodeSubscription, subscriptionListKeys)},
		{kProducts, oldKeysOf(decodeProduct, productKeys)},
		{kRefunds, oldKeysOf(decodeRefund, refundListKeys)},
		{kAttempts, oldKeysOf(decodeAttempt, attemptListKeys)},
		{kEndpoints, oldKeysOf(decodeEndpoint, endpointKeys)},
		{kEvents, func(seq uint64, v []byte) ([]ikey, error) {
			e, err := decodeEvent(seq, v)
			if err != nil {
				return nil, err
			}
			return eventListKeys(e, seq), nil
		}},
	}
	for _, kd := range kinds {
		err := btx.Bucket(kd.k.primary).ForEach(func(k, v []byte) error {
			seq := seqOfKey(k)
			keys, err := kd.keys(seq, v)
			if err != nil {
				return err
			}
			for _, ik := range keys {
				val := []byte{}
				if ik.unique {
					val = seqKey(seq)
				}
				if err := btx.Bucket(ik.bucket).Put(ik.key, val); err != nil {
					return fmt.Errorf("bolt: %w", err)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return meta.Put(keyListsDone, []byte{1})
}
