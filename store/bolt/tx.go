package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
	"github.com/cofferhq/coffer/webhook"
)

// tx adapts one bbolt transaction to store.Tx. It holds no state of its own
// besides the bbolt transaction, so a batch that bbolt re-runs starts clean.
type tx struct {
	btx *bbolt.Tx
	// dueScanned counts due-index keys visited, so tests can check that a
	// due query reads only what it returns.
	dueScanned int
	// listScanned counts list-index keys visited (lists.go), likewise.
	listScanned int
	// bulk, in a Store.Bulk transaction, holds the list-index keys to
	// put, sorted, when its function returns (bulk.go).
	bulk *bulkKeys
}

var _ store.Tx = (*tx)(nil)

func (t *tx) finish() { t.btx = nil }

// b returns a bucket created by Open. Using a Tx after its function
// returned is a programming error that bbolt would turn into memory faults,
// so it panics with a clear message instead.
func (t *tx) b(name []byte) *bbolt.Bucket {
	if t.btx == nil {
		panic("bolt: store.Tx used after its transaction function returned")
	}
	b := t.btx.Bucket(name)
	if b == nil {
		panic(fmt.Sprintf("bolt: bucket %q missing", name))
	}
	return b
}

func (t *tx) writable() error {
	if t.btx == nil {
		panic("bolt: store.Tx used after its transaction function returned")
	}
	if !t.btx.Writable() {
		return store.ErrReadOnly
	}
	return nil
}

func errDangling(k kind, seq uint64) error {
	return fmt.Errorf("%w: %s index points at missing sequence %d", errCorrupt, k.primary, seq)
}

func decodeSeq(v []byte) (uint64, error) {
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: sequence of %d bytes", errCorrupt, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// seqOf is the sequence of the record of kind k with this id.
func (t *tx) seqOf(k kind, id string) (uint64, error) {
	v := t.b(k.ids).Get([]byte(id))
	if v == nil {
		return 0, fmt.Errorf("%w: %s %q", store.ErrNotFound, k.primary, id)
	}
	return decodeSeq(v)
}

// lookup returns the sequence and stored value of a record by id. The value
// is bbolt memory: decode it before the transaction ends.
func (t *tx) lookup(k kind, id string) (uint64, []byte, error) {
	seq, err := t.seqOf(k, id)
	if err != nil {
		return 0, nil, err
	}
	v := t.b(k.primary).Get(seqKey(seq))
	if v == nil {
		return 0, nil, errDangling(k, seq)
	}
	return seq, v, nil
}

// lookupUnique resolves a unique index key to the record it names.
func (t *tx) lookupUnique(k kind, bucket, key []byte, what string) ([]byte, error) {
	v := t.b(bucket).Get(key)
	if v == nil {
		return nil, fmt.Errorf("%w: %s", store.ErrNotFound, what)
	}
	seq, err := decodeSeq(v)
	if err != nil {
		return nil, err
	}
	rec := t.b(k.primary).Get(seqKey(seq))
	if rec == nil {
		return nil, errDangling(k, seq)
	}
	return rec, nil
}

func get[T any](t *tx, k kind, id string, dec func([]byte) (T, error)) (T, error) {
	_, v, err := t.lookup(k, id)
	if err != nil {
		var zero T
		return zero, err
	}
	return dec(v)
}

// ikey is one index entry of a record. List keys end with the record's
// sequence and have empty values; unique keys map to the sequence.
type ikey struct {
	bucket []byte
	key    []byte
	unique bool
	// free: a unique key the caller has just found free in this
	// transaction, so insert does not look it up again.
	free bool
}

func listKey(bucket, prefix []byte, seq uint64) ikey {
	return ikey{bucket: bucket, key: appendSeq(prefix, seq)}
}

func uniqueKey(bucket, key []byte) ikey { return ikey{bucket: bucket, key: key, unique: true} }

// nextSeq checks that id is free and returns the sequence a new record of
// kind k will get.
func (t *tx) nextSeq(k kind, id string) (uint64, error) {
	if err := t.writable(); err != nil {
		return 0, err
	}
	if id == "" {
		return 0, fmt.Errorf("bolt: %s: empty id", k.primary)
	}
	if t.b(k.ids).Get([]byte(id)) != nil {
		return 0, fmt.Errorf("%w: %s %q", store.ErrDuplicate, k.primary, id)
	}
	return t.b(k.primary).Sequence() + 1, nil
}

// insert stores a new record under seq (from nextSeq) with its index keys.
// Every check happens before the first write, so a failed insert leaves the
// transaction as it was even if the caller goes on.
func (t *tx) insert(k kind, id string, seq uint64, val []byte, keys []ikey) error {
	for _, ik := range keys {
		if ik.unique && !ik.free && t.b(ik.bucket).Get(ik.key) != nil {
			return fmt.Errorf("%w: %s %q", store.ErrDuplicate, ik.bucket, ik.key)
		}
	}
	prim := t.b(k.primary)
	// Primary keys only grow, so a split page never gets another insert:
	// fill pages almost full instead of bbolt's default half.
	prim.FillPercent = appendFillPercent
	got, err := prim.NextSequence()
	if err != nil {
		return fmt.Errorf("bolt: %w", err)
	}
	if got != seq {
		return fmt.Errorf("%w: %s sequence %d, expected %d", errCorrupt, k.primary, got, seq)
	}
	sk := seqKey(seq)
	if err := prim.Put(sk, val); err != nil {
		return fmt.Errorf("bolt: %w", err)
	}
	if err := t.b(k.ids).Put([]byte(id), sk); err != nil {
		return fmt.Errorf("bolt: %w", err)
	}
	return t.putKeys(keys, sk)
}

func (t *tx) putKeys(keys []ikey, sk []byte) error {
	for _, ik := range keys {
		v := []byte{}
		if ik.unique {
			v = sk
		} else if t.bulk != nil && t.bulk.take(ik) {
			continue
		}
		if err := t.b(ik.bucket).Put(ik.key, v); err != nil {
			return fmt.Errorf("bolt: %w", err)
		}
	}
	return nil
}

func sameKey(a, b ikey) bool { return bytes.Equal(a.bucket, b.bucket) && bytes.Equal(a.key, b.key) }

func containsKey(keys []ikey, k ikey) bool {
	for _, x := range keys {
		if sameKey(x, k) {
			return true
		}
	}
	return false
}

// replace overwrites the record at seq and moves its index keys from old to
// now: keys no longer wanted (an old status, RunAt, email or DID) go, new
// ones come. Unique keys are checked before the first write.
func (t *tx) replace(k kind, seq uint64, val []byte, old, now []ikey) error {
	sk := seqKey(seq)
	var add []ikey
	for _, nk := range now {
		if containsKey(old, nk) {
			continue
		}
		if nk.unique {
			if v := t.b(nk.bucket).Get(nk.key); v != nil && !bytes.Equal(v, sk) {
				return fmt.Errorf("%w: %s %q", store.ErrDuplicate, nk.bucket, nk.key)
			}
		}
		add = append(add, nk)
	}
	for _, gone := range old {
		if containsKey(now, gone) {
			continue
		}
		if err := t.b(gone.bucket).Delete(gone.key); err != nil {
			return fmt.Errorf("bolt: %w", err)
		}
	}
	if err := t.putKeys(add, sk); err != nil {
		return err
	}
	if err := t.b(k.primary).Put(sk, val); err != nil {
		return fmt.Errorf("bolt: %w", err)
	}
	return nil
}

// upsert inserts a record or replaces the one with the same id; keys
// computes the index keys of a record at a sequence, decodeOld the keys of
// the stored version.
func (t *tx) upsert(k kind, id string, val []byte, keys func(seq uint64) []ikey, oldKeys func(seq uint64, v []byte) ([]ikey, error)) error {
	if err := t.writable(); err != nil {
		return err
	}
	seq, v, err := t.lookup(k, id)
	if err == nil {
		old, err := oldKeys(seq, v)
		if err != nil {
			return err
		}
		return t.replace(k, seq, val, old, keys(seq))
	}
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	seq, err = t.nextSeq(k, id)
	if err != nil {
		return err
	}
	return t.insert(k, id, seq, val, keys(seq))
}

// update replaces an existing record (ErrNotFound when there is none).
func (t *tx) update(k kind, id string, val []byte, keys func(seq uint64) []ikey, oldKeys func(seq uint64, v []byte) ([]ikey, error)) error {
	if err := t.writable(); err != nil {
		return err
	}
	seq, v, err := t.lookup(k, id)
	if err != nil {
		return err
	}
	old, err := oldKeys(seq, v)
	if err != nil {
		return err
	}
	return t.replace(k, seq, val, old, keys(seq))
}

// appendFillPercent is the split threshold for buckets keyed by a growing
// sequence.
const appendFillPercent = 0.9

func noKeys(uint64) []ikey { return nil }

func noOldKeys(uint64, []byte) ([]ikey, error) { return nil, nil }

// oldKeysOf adapts a decoder and a key function to upsert's oldKeys.
func oldKeysOf[T any](dec func([]byte) (T, error), keys func(T, uint64) []ikey) func(uint64, []byte) ([]ikey, error) {
	return func(seq uint64, v []byte) ([]ikey, error) {
		r, err := dec(v)
		if err != nil {
			return nil, err
		}
		return keys(r, seq), nil
	}
}

func ignoreSeq[T any](dec func([]byte) (T, error)) func(uint64, []byte) (T, error) {
	return func(_ uint64, v []byte) (T, error) { return dec(v) }
}

func keepAll[T any](dec func([]byte) (T, error)) func(uint64, []byte) (T, bool, error) {
	return func(_ uint64, v []byte) (T, bool, error) {
		r, err := dec(v)
		return r, err == nil, err
	}
}

// batch is the size of an unpaged work query (due attempts, pending
// refunds, events): limit <= 0 means store.DefaultLimit, and there is no
// upper bound, since workers size their own batches.
func batch(limit int) int {
	if limit <= 0 {
		return store.DefaultLimit
	}
	return limit
}

func primary(t *tx, k kind) source { return source{bucket: t.b(k.primary)} }

// ---- customers ----

var decodeCustomer = decodeAs[customer.Customer]("customer")

func customerKeys(c customer.Customer, seq uint64) []ikey {
	ks := customerListKeys(c, seq)
	if c.DID != "" {
		ks = append(ks, uniqueKey(bCustomerDID, []byte(c.DID)))
	}
	return append(ks, searchKeys(c, seq)...)
}

func (t *tx) InsertCustomer(c customer.Customer) error {
	seq, err := t.nextSeq(kCustomers, c.ID)
	if err != nil {
		return err
	}
	v, err := encodeJSON(c)
	if err != nil {
		return err
	}
	return t.insert(kCustomers, c.ID, seq, v, customerKeys(c, seq))
}

func (t *tx) Customer(id string) (customer.Customer, error) {
	return get(t, kCustomers, id, decodeCustomer)
}

func (t *tx) CustomerByDID(did string) (customer.Customer, error) {
	if did == "" {
		return customer.Customer{}, fmt.Errorf("%w: customer with empty did", store.ErrNotFound)
	}
	v, err := t.lookupUnique(kCustomers, bCustomerDID, []byte(did), "customer did "+did)
	if err != nil {
		return customer.Customer{}, err
	}
	return decodeCustomer(v)
}

func (t *tx) UpdateCustomer(c customer.Customer) error {
	v, err := encodeJSON(c)
	if err != nil {
		return err
	}
	return t.update(kCustomers, c.ID, v, func(seq uint64) []ikey { return customerKeys(c, seq) },
		oldKeysOf(decodeCustomer, customerKeys))
}

func (t *tx) ListCustomers(q store.CustomerQuery) ([]customer.Customer, bool, error) {
	email := customer.Fold(q.Email)
	load := func(_ uint64, v []byte) (customer.Customer, bool, error) {
		c, err := decodeCustomer(v)
		if err != nil {
			return c, false, err
		}
		return c, email == "" || customer.Fold(c.Email) == email, nil
	}
	if email == "" {
		return page(t, kCustomers, []source{primary(t, kCustomers)}, q.Page, load)
	}
	// The "cus.email" scope of the lists bucket: newest first by
	// (CreatedAt, sequence), which is insertion order when records are
	// created in time order.
	return lpage(t, lplan{scopes: [][]byte{scope("cus.email", email)}, desc: true, p: q.Page, k: kCustomers,
		at: atOf(decodeCustomer, func(c *customer.Customer) time.Time { return c.CreatedAt })}, load)
}

// ---- balances ----

// walletKey is scope(customer) + tag + rest, in the wallets bucket.
func walletKey(customerID string, tag byte, rest ...string) []byte {
	k := append(scope(customerID), tag)
	if tag == tagEntries {
		return append(k, scope(rest...)...)
	}
	for _, r := range rest {
		k = append(k, r...)
	}
	return k
}

func (t *tx) Balance(customerID, currency string) (wallet.Balance, error) {
	v := t.b(bWallets).Get(walletKey(customerID, tagBalances, currency))
	if v == nil {
		return wallet.Balance{}, fmt.Errorf("%w: balance %s %s", store.ErrNotFound, customerID, currency)
	}
	return decodeBalance(v)
}

func (t *tx) PutBalance(b wallet.Balance) error {
	if err := t.writable(); err != nil {
		return err
	}
	if b.CustomerID == "" || b.Currency == "" {
		return fmt.Errorf("bolt: balance without customer or currency")
	}
	if err := t.b(bWallets).Put(walletKey(b.CustomerID, tagBalances, b.Currency), encodeBalance(b)); err != nil {
		return fmt.Errorf("bolt: %w", err)
	}
	return nil
}

func (t *tx) Balances(customerID string) ([]wallet.Balance, error) {
	prefix := walletKey(customerID, tagBalances)
	var out []wallet.Balance
	c := t.b(bWallets).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		b, err := decodeBalance(v)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// ---- ledger entries ----

func entryKeys(e ledger.Entry, seq uint64) []ikey {
	ks := make([]ikey, 0, 2)
	ks = append(ks, listKey(bWallets, walletKey(e.CustomerID, tagEntries, e.Currency), seq))
	if e.IdempotencyKey != "" {
		ks = append(ks, uniqueKey(bWallets, walletKey(e.CustomerID, tagEntryKey, e.IdempotencyKey)))
	}
	return ks
}

func (t *tx) InsertEntry(e ledger.Entry) error {
	seq, err := t.nextSeq(kEntries, e.ID)
	if err != nil {
		return err
	}
	return t.insert(kEntries, e.ID, seq, encodeEntry(e), entryKeys(e, seq))
}

// InsertEntryOrExisting is InsertEntry returning the entry that already
// holds e's idempotency key instead of an error (store.EntryKeyInserter):
// a fresh key costs no ErrNotFound error value (EntryByKey builds one for
// every miss). Nothing is written when the key is taken.
func (t *tx) InsertEntryOrExisting(e ledger.Entry) (ledger.Entry, bool, error) {
	if err := t.writable(); err != nil {
		return ledger.Entry{}, false, err
	}
	var keys [2]ikey
	if e.IdempotencyKey != "" {
		uk := uniqueKey(bWallets, walletKey(e.CustomerID, tagEntryKey, e.IdempotencyKey))
		if v := t.b(bWallets).Get(uk.key); v != nil {
			seq, err := decodeSeq(v)
			if err != nil {
				return ledger.Entry{}, false, err
			}
			rec := t.b(kEntries.primary).Get(seqKey(seq))
			if rec == nil {
				return ledger.Entry{}, false, errDangling(kEntries, seq)
			}
			prev, err := decodeEntry(rec)
			return prev, err == nil, err
		}
		uk.free = true
		keys[1] = uk
	}
	seq, err := t.nextSeq(kEntries, e.ID)
	if err != nil {
		return ledger.Entry{}, false, err
	}
	keys[0] = listKey(bWallets, walletKey(e.CustomerID, tagEntries, e.Currency), seq)
	ks := keys[:1]
	if e.IdempotencyKey != "" {
		ks = keys[:2] // found free above: insert does not look again
	}
	return ledger.Entry{}, false, t.insert(kEntries, e.ID, seq, encodeEntry(e), ks)
}

// FindEntryByKey is EntryByKey without an error value for a miss
// (store.EntryKeyFinder).
func (t *tx) FindEntryByKey(customerID, idempotencyKey string) (ledger.Entry, bool, error) {
	if idempotencyKey == "" {
		return ledger.Entry{}, false, nil
	}
	v := t.b(bWallets).Get(walletKey(customerID, tagEntryKey, idempotencyKey))
	if v == nil {
		return ledger.Entry{}, false, nil
	}
	seq, err := decodeSeq(v)
	if err != nil {
		return ledger.Entry{}, false, err
	}
	rec := t.b(kEntries.primary).Get(seqKey(seq))
	if rec == nil {
		return ledger.Entry{}, false, errDangling(kEntries, seq)
	}
	e, err := decodeEntry(rec)
	return e, err == nil, err
}

var (
	_ store.EntryKeyInserter = (*tx)(nil)
	_ store.EntryKeyFinder   = (*tx)(nil)
)

func (t *tx) Entry(id string) (ledger.Entry, error) {
	return get(t, kEntries, id, decodeEntry)
}

func (t *tx) EntryByKey(customerID, idempotencyKey string) (ledger.Entry, error) {
	if idempotencyKey == "" {
		return ledger.Entry{}, fmt.Errorf("%w: entry with empty idempotency key", store.ErrNotFound)
	}
	v, err := t.lookupUnique(kEntries, bWallets, walletKey(customerID, tagEntryKey, idempotencyKey), "entry key "+idempotencyKey)
	if err != nil {
		return ledger.Entry{}, err
	}
	return decodeEntry(v)
}

// currencySources lists a customer's entries in every currency: one source
// per currency it has entries in, merged by sequence. A customer holds a
// handful of currencies, so finding them is a few seeks.
func (t *tx) currencySources(customerID string) []source {
	b := t.b(bWallets)
	base := walletKey(customerID, tagEntries)
	var srcs []source
	c := b.Cursor()
	k, _ := c.Seek(base)
	for k != nil && bytes.HasPrefix(k, base) {
		n, w := binary.Uvarint(k[len(base):])
		end := len(base) + w + int(n)
		if w <= 0 || end+8 != len(k) {
			break // not an entry key: corrupt, and nothing to list
		}
		prefix := bytes.Clone(k[:end])
		srcs = append(srcs, source{bucket: b, prefix: prefix})
		k, _ = c.Seek(append(bytes.Clone(prefix), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))
	}
	return srcs
}

func (t *tx) ListEntries(q store.EntryQuery) ([]ledger.Entry, bool, error) {
	var srcs []source
	switch {
	case q.CustomerID == "":
		srcs = []source{primary(t, kEntries)}
	case q.Currency == "":
		srcs = t.currencySources(q.CustomerID)
	default:
		srcs = []source{{bucket: t.b(bWallets), prefix: walletKey(q.CustomerID, tagEntries, q.Currency)}}
	}
	return page(t, kEntries, srcs, q.Page, func(_ uint64, v []byte) (ledger.Entry, bool, error) {
		e, err := decodeEntry(v)
		return e, err == nil && (q.Currency == "" || e.Currency == q.Currency), err
	})
}

// ---- holds and products ----

var (
	decodeHold    = decodeAs[ledger.Hold]("hold")
	decodeProduct = decodeAs[subscription.Product]("product")
)

func (t *tx) PutHold(h ledger.Hold) error {
	v, err := encodeJSON(h)
	if err != nil {
		return err
	}
	return t.upsert(kHolds, h.ID, v, noKeys, noOldKeys)
}

func (t *tx) Hold(id string) (ledger.Hold, error) { return get(t, kHolds, id, decodeHold) }

func (t *tx) PutProduct(p subscription.Product) error {
	v, err := encodeJSON(p)
	if err != nil {
		return err
	}
	return t.upsert(kProducts, p.ID, v, func(seq uint64) []ikey { return productKeys(p, seq) },
		oldKeysOf(decodeProduct, productKeys))
}

func (t *tx) Product(id string) (subscription.Product, error) {
	return get(t, kProducts, id, decodeProduct)
}

// ---- subscriptions ----

func subscriptionKeys(s subscription.Subscription, seq uint64) []ikey {
	return subscriptionListKeys(s, seq)
}

func (t *tx) InsertSubscription(s subscription.Subscription) error {
	seq, err := t.nextSeq(kSubs, s.ID)
	if err != nil {
		return err
	}
	v, err := encodeSubscription(s)
	if err != nil {
		return err
	}
	return t.insert(kSubs, s.ID, seq, v, subscriptionKeys(s, seq))
}

func (t *tx) Subscription(id string) (subscription.Subscription, error) {
	return get(t, kSubs, id, decodeSubscription)
}

func (t *tx) UpdateSubscription(s subscription.Subscription) error {
	v, err := encodeSubscription(s)
	if err != nil {
		return err
	}
	return t.update(kSubs, s.ID, v, func(seq uint64) []ikey { return subscriptionKeys(s, seq) },
		oldKeysOf(decodeSubscription, subscriptionKeys))
}

func (t *tx) ListSubscriptions(customerID string, p store.Page) ([]subscription.Subscription, bool, error) {
	if customerID == "" {
		return page(t, kSubs, []source{primary(t, kSubs)}, p, keepAll(decodeSubscription))
	}
	return lpage(t, lplan{scopes: [][]byte{scope("sub.c", customerID)}, desc: true, p: p, k: kSubs,
		at: atOf(decodeSubscription, func(s *subscription.Subscription) time.Time { return s.CreatedAt })},
		keepAll(decodeSubscription))
}

// ---- payments ----

func paymentKeys(p subscription.Payment, seq uint64) []ikey {
	ks := paymentListKeys(p, seq)
	if p.IdempotencyKey != "" {
		ks = append(ks, uniqueKey(bWallets, walletKey(p.CustomerID, tagPaymentKey, p.IdempotencyKey)))
	}
	return ks
}

func (t *tx) InsertPayment(p subscription.Payment) error {
	seq, err := t.nextSeq(kPayments, p.ID)
	if err != nil {
		return err
	}
	v, err := encodePayment(p)
	if err != nil {
		return err
	}
	return t.insert(kPayments, p.ID, seq, v, paymentKeys(p, seq))
}

func (t *tx) Payment(id string) (subscription.Payment, error) {
	return get(t, kPayments, id, decodePayment)
}

func (t *tx) PaymentByKey(customerID, idempotencyKey string) (subscription.Payment, error) {
	if idempotencyKey == "" {
		return subscription.Payment{}, fmt.Errorf("%w: payment with empty idempotency key", store.ErrNotFound)
	}
	v, err := t.lookupUnique(kPayments, bWallets, walletKey(customerID, tagPaymentKey, idempotencyKey), "payment key "+idempotencyKey)
	if err != nil {
		return subscription.Payment{}, err
	}
	return decodePayment(v)
}

func (t *tx) UpdatePayment(p subscription.Payment) error {
	v, err := encodePayment(p)
	if err != nil {
		return err
	}
	return t.update(kPayments, p.ID, v, func(seq uint64) []ikey { return paymentKeys(p, seq) },
		oldKeysOf(decodePayment, paymentKeys))
}

func (t *tx) ListPayments(q store.PaymentQuery) ([]subscription.Payment, bool, error) {
	var statuses []string
	for _, s := range q.Statuses {
		if !containsString(statuses, string(s)) {
			statuses = append(statuses, string(s))
		}
	}
	// The scopes of the lists bucket (paymentListKeys), merged: newest
	// first by (CreatedAt, sequence), which is insertion order when
	// payments are created in time order.
	var scopes [][]byte
	switch {
	case q.CustomerID != "" && len(statuses) > 0:
		for _, s := range statuses {
			scopes = append(scopes, scope("pay.ct", q.CustomerID, s))
		}
	case q.CustomerID != "":
		scopes = [][]byte{scope("pay.c", q.CustomerID)}
	case len(statuses) > 0:
		for _, s := range statuses {
			scopes = append(scopes, scope("pay.t", s))
		}
	default:
		scopes = [][]byte{scope("pay")}
	}
	return lpage(t, lplan{scopes: scopes, desc: true, p: q.Page, k: kPayments,
		at: atOf(decodePayment, func(p *subscription.Payment) time.Time { return p.CreatedAt })}, keepAll(decodePayment))
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ---- refunds ----

func refundPending(r subscription.Refund) bool { return r.Status == subscription.RefundPending }

func refundKeys(r subscription.Refund, seq uint64) []ikey {
	ks := refundListKeys(r, seq)
	if r.IdempotencyKey != "" {
		ks = append(ks, uniqueKey(bRefundKey, scope(r.PaymentID, r.IdempotencyKey)))
	}
	if refundPending(r) {
		ks = append(ks, listKey(bRefundPending, nil, seq))
	}
	return ks
}

func (t *tx) InsertRefund(r subscription.Refund) error {
	seq, err := t.nextSeq(kRefunds, r.ID)
	if err != nil {
		return err
	}
	v, err := encodeRefund(r)
	if err != nil {
		return err
	}
	return t.insert(kRefunds, r.ID, seq, v, refundKeys(r, seq))
}

func (t *tx) Refund(id string) (subscription.Refund, error) {
	return get(t, kRefunds, id, decodeRefund)
}

func (t *tx) RefundByKey(paymentID, idempotencyKey string) (subscription.Refund, error) {
	if idempotencyKey == "" {
		return subscription.Refund{}, fmt.Errorf("%w: refund with empty idempotency key", store.ErrNotFound)
	}
	v, err := t.lookupUnique(kRefunds, bRefundKey, scope(paymentID, idempotencyKey), "refund key "+idempotencyKey)
	if err != nil {
		return subscription.Refund{}, err
	}
	return decodeRefund(v)
}

func (t *tx) UpdateRefund(r subscription.Refund) error {
	v, err := encodeRefund(r)
	if err != nil {
		return err
	}
	return t.update(kRefunds, r.ID, v, func(seq uint64) []ikey { return refundKeys(r, seq) },
		oldKeysOf(decodeRefund, refundKeys))
}

func (t *tx) ListRefunds(paymentID string) ([]subscription.Refund, error) {
	// The "ref.p" scope of the lists bucket, oldest first.
	it := newTiter(t.b(bLists), scope("ref.p", paymentID), minSuffix, maxSuffix, false)
	prim := t.b(kRefunds.primary)
	var out []subscription.Refund
	for ; it.k != nil; it.next() {
		seq := seqOfKey(it.k)
		v := prim.Get(seqKey(seq))
		if v == nil {
			return nil, errDangling(kRefunds, seq)
		}
		r, err := decodeRefund(v)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func (t *tx) PendingRefunds(limit int) ([]subscription.Refund, error) {
	return ascending(t, kRefunds, source{bucket: t.b(bRefundPending)}, 0, batch(limit), ignoreSeq(decodeRefund))
}

// ---- events ----

func eventKeys(e webhook.Event, seq uint64) []ikey {
	ks := eventListKeys(e, seq)
	if e.Dispatched {
		return append(ks, listKey(bEventDone, appendTime(nil, e.CreatedAt), seq))
	}
	return append(ks, undispatchedKey(seq))
}

func (t *tx) InsertEvent(e webhook.Event) error {
	seq, err := t.nextSeq(kEvents, e.ID)
	if err != nil {
		return err
	}
	e.Seq = int64(seq)
	return t.insert(kEvents, e.ID, seq, encodeEvent(e), eventKeys(e, seq))
}

func (t *tx) Event(id string) (webhook.Event, error) {
	seq, v, err := t.lookup(kEvents, id)
	if err != nil {
		return webhook.Event{}, err
	}
	return decodeEvent(seq, v)
}

func (t *tx) Events(afterSeq int64, limit int) ([]webhook.Event, error) {
	bound := uint64(0)
	if afterSeq > 0 {
		bound = uint64(afterSeq)
	}
	return ascending(t, kEvents, primary(t, kEvents), bound, batch(limit), decodeEvent)
}

func (t *tx) UndispatchedEvents(limit int) ([]webhook.Event, error) {
	// The "ev.u" scope of the lists bucket, oldest first: its keys carry
	// the zero time, so they are in sequence order.
	it := newTiter(t.b(bLists), scope("ev.u"), minSuffix, maxSuffix, false)
	prim := t.b(kEvents.primary)
	var out []webhook.Event
	for n := batch(limit); it.k != nil && len(out) < n; it.next() {
		seq := seqOfKey(it.k)
		v := prim.Get(seqKey(seq))
		if v == nil {
			return nil, errDangling(kEvents, seq)
		}
		e, err := decodeEvent(seq, v)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func (t *tx) MarkEventDispatched(id string) error {
	if err := t.writable(); err != nil {
		return err
	}
	seq, v, err := t.lookup(kEvents, id)
	if err != nil {
		return err
	}
	e, err := decodeEvent(seq, v)
	if err != nil {
		return err
	}
	if e.Dispatched {
		return nil
	}
	old := eventKeys(e, seq)
	e.Dispatched = true
	return t.replace(kEvents, seq, encodeEvent(e), old, eventKeys(e, seq))
}

// ---- retry attempts ----

func appendInt(b []byte, n int64) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(n)^(1<<63))
}

func attemptKeys(a retry.Attempt, seq uint64) []ikey {
	ks := attemptListKeys(a, seq)
	ks = append(ks, listKey(bAttemptSubscription, appendInt(scope(a.SubscriptionID), int64(a.Number)), seq))
	if a.Status.Active() {
		ks = append(ks, listKey(bAttemptDue, appendTime(nil, a.RunAt), seq))
	}
	if a.Status == retry.AttemptClaimed {
		ks = append(ks,
			listKey(bAttemptLease, appendTime(scope(a.CustomerID), a.LeaseUntil), seq),
			listKey(bAttemptLeaseAll, appendTime(nil, a.LeaseUntil), seq))
	}
	return ks
}

func (t *tx) PutAttempt(a retry.Attempt) error {
	v, err := encodeAttempt(a)
	if err != nil {
		return err
	}
	return t.upsert(kAttempts, a.ID, v, func(seq uint64) []ikey { return attemptKeys(a, seq) },
		oldKeysOf(decodeAttempt, attemptKeys))
}

func (t *tx) Attempt(id string) (retry.Attempt, error) {
	return get(t, kAttempts, id, decodeAttempt)
}

// due walks a due index (timeKey + seq) from its start and stops at the
// first key after now, so its cost is the number of records returned.
func due[T any](t *tx, k kind, bucket []byte, now time.Time, limit int, dec func([]byte) (T, error)) ([]T, error) {
	return dueWhere(t, k, bucket, now, limit, dec, nil)
}

// dueWhere is due keeping only the records keep accepts (nil: all); the
// others are visited but not counted against limit.
func dueWhere[T any](t *tx, k kind, bucket []byte, now time.Time, limit int, dec func([]byte) (T, error), keep func(T) bool) ([]T, error) {
	nowKey := appendTime(nil, now)
	prim := t.b(k.primary)
	var out []T
	c := t.b(bucket).Cursor()
	for key, _ := c.First(); key != nil && (limit <= 0 || len(out) < limit); key, _ = c.Next() {
		t.dueScanned++
		if len(key) != timeKeyLen+8 {
			return nil, fmt.Errorf("%w: %s key of %d bytes", errCorrupt, bucket, len(key))
		}
		if bytes.Compare(key[:timeKeyLen], nowKey) > 0 {
			break
		}
		seq := seqOfKey(key)
		v := prim.Get(seqKey(seq))
		if v == nil {
			return nil, errDangling(k, seq)
		}
		r, err := dec(v)
		if err != nil {
			return nil, err
		}
		if keep == nil || keep(r) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (t *tx) AttemptsBySubscription(subscriptionID string) ([]retry.Attempt, error) {
	prefix := scope(subscriptionID)
	prim := t.b(kAttempts.primary)
	var out []retry.Attempt
	c := t.b(bAttemptSubscription).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+16; k, _ = c.Next() {
		seq := seqOfKey(k)
		v := prim.Get(seqKey(seq))
		if v == nil {
			return nil, errDangling(kAttempts, seq)
		}
		a, err := decodeAttempt(v)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// inFlight counts claimed attempts with a live lease, of one customer or
// ("") all, walking the lease index from now.
func (t *tx) inFlight(customerID string, now time.Time) (int, error) {
	bucket, prefix := bAttemptLeaseAll, []byte(nil)
	if customerID != "" {
		bucket, prefix = bAttemptLease, scope(customerID)
	}
	// Every key with LeaseUntil == now sorts before now's time key followed
	// by the largest sequence; the walk counts only leases still running.
	start := appendSeq(appendTime(bytes.Clone(prefix), now), ^uint64(0))
	n := 0
	c := t.b(bucket).Cursor()
	for k, _ := c.Seek(start); k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+timeKeyLen+8; k, _ = c.Next() {
		n++
	}
	return n, nil
}

// ---- webhook endpoints ----

func (t *tx) PutEndpoint(e webhook.Endpoint) error {
	v, err := encodeEndpoint(e)
	if err != nil {
		return err
	}
	return t.upsert(kEndpoints, e.ID, v, func(seq uint64) []ikey { return endpointKeys(e, seq) },
		oldKeysOf(decodeEndpoint, endpointKeys))
}

func (t *tx) Endpoint(id string) (webhook.Endpoint, error) {
	return get(t, kEndpoints, id, decodeEndpoint)
}

func (t *tx) DeleteEndpoint(id string) error {
	if err := t.writable(); err != nil {
		return err
	}
	seq, v, err := t.lookup(kEndpoints, id)
	if err != nil {
		return err
	}
	old, err := oldKeysOf(decodeEndpoint, endpointKeys)(seq, v)
	if err != nil {
		return err
	}
	for _, k := range old {
		if err := t.b(k.bucket).Delete(k.key); err != nil {
			return fmt.Errorf("bolt: %w", err)
		}
	}
	if err := t.b(kEndpoints.primary).Delete(seqKey(seq)); err != nil {
		return fmt.Errorf("bolt: %w", err)
	}
	if err := t.b(kEndpoints.ids).Delete([]byte(id)); err != nil {
		return fmt.Errorf("bolt: %w", err)
	}
	return nil
}

func (t *tx) Endpoints() ([]webhook.Endpoint, error) {
	return ascending(t, kEndpoints, primary(t, kEndpoints), 0, 0, ignoreSeq(decodeEndpoint))
}

// ---- webhook deliveries ----

func deliveryKeys(d webhook.Delivery, seq uint64) []ikey {
	ks := make([]ikey, 0, 4)
	ks = append(ks,
		listKey(bDeliveryEvent, scope(d.EventID), seq),
		listKey(bDeliveryEndpoint, scope(d.EndpointID), seq),
		listKey(bDeliveryStatus, scope(string(d.Status)), seq))
	if d.Status.Active() {
		ks = append(ks, listKey(bDeliveryDue, appendTime(nil, d.RunAt), seq))
	} else {
		ks = append(ks, listKey(bDeliveryDone, appendTime(nil, d.UpdatedAt), seq))
	}
	return ks
}

func (t *tx) PutDelivery(d webhook.Delivery) error {
	v, err := encodeDelivery(d)
	if err != nil {
		return err
	}
	return t.upsert(kDeliveries, d.ID, v, func(seq uint64) []ikey { return deliveryKeys(d, seq) },
		oldKeysOf(decodeDelivery, deliveryKeys))
}

func (t *tx) Delivery(id string) (webhook.Delivery, error) {
	return get(t, kDeliveries, id, decodeDelivery)
}

func (t *tx) DueDeliveries(now time.Time, limit int) ([]webhook.Delivery, error) {
	return due(t, kDeliveries, bDeliveryDue, now, batch(limit), decodeDelivery)
}

func (t *tx) ListDeliveries(q store.DeliveryQuery) ([]webhook.Delivery, bool, error) {
	var src source
	switch {
	case q.EventID != "":
		src = source{bucket: t.b(bDeliveryEvent), prefix: scope(q.EventID)}
	case q.EndpointID != "":
		src = source{bucket: t.b(bDeliveryEndpoint), prefix: scope(q.EndpointID)}
	case q.Status != "":
		src = source{bucket: t.b(bDeliveryStatus), prefix: scope(string(q.Status))}
	default:
		src = primary(t, kDeliveries)
	}
	return page(t, kDeliveries, []source{src}, q.Page, func(_ uint64, v []byte) (webhook.Delivery, bool, error) {
		d, err := decodeDelivery(v)
		if err != nil {
			return d, false, err
		}
		keep := (q.EventID == "" || d.EventID == q.EventID) &&
			(q.EndpointID == "" || d.EndpointID == q.EndpointID) &&
			(q.Status == "" || d.Status == q.Status)
		return d, keep, nil
	})
}
