package bolt

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/wallet"
)

// Credit grants (store.CreditGrants) live in buckets of their own, created
// by the first write that needs them (a store that never saw a grant has
// none, and a read finds no grants):
//
//	credit_grants         id -> grant (JSON)
//	credit_grants.wallet  customer \0 currency \0 id -> ""   every grant
//	credit_grants.open    customer \0 currency \0 id -> ""   Remaining > 0
//	credit_grants.due     expiry (8 bytes) id -> ""          open, with an expiry
//	credit_allocations    owner id -> allocations (JSON)
var (
	bGrants       = []byte("credit_grants")
	bGrantsWallet = []byte("credit_grants.wallet")
	bGrantsOpen   = []byte("credit_grants.open")
	bGrantsDue    = []byte("credit_grants.due")
	bAllocations  = []byte("credit_allocations")
	grantBuckets  = [][]byte{bGrants, bGrantsWallet, bGrantsOpen, bGrantsDue, bAllocations}
)

var _ store.CreditGrants = (*tx)(nil)

// gb returns a grant bucket (see lazyBucket).
func (t *tx) gb(name []byte) (*bbolt.Bucket, error) { return t.lazyBucket(name, grantBuckets) }

// lazyBucket returns the bucket name of a group of buckets created by the
// first write that needs them (credit grants, auto top-up rules,
// invoices): in a write transaction it creates the whole group; in a read
// transaction of a store that has none it is nil.
func (t *tx) lazyBucket(name []byte, group [][]byte) (*bbolt.Bucket, error) {
	if t.btx == nil {
		panic("bolt: store.Tx used after its transaction function returned")
	}
	if b := t.btx.Bucket(name); b != nil || !t.btx.Writable() {
		return b, nil
	}
	for _, n := range group {
		if _, err := t.btx.CreateBucketIfNotExists(n); err != nil {
			return nil, fmt.Errorf("bolt: %w", err)
		}
	}
	return t.btx.Bucket(name), nil
}

func walletPrefix(customerID, currency string) []byte {
	return []byte(customerID + "\x00" + currency + "\x00")
}

func dueKey(at time.Time, id string) []byte {
	k := binary.BigEndian.AppendUint64(nil, uint64(at.UnixMicro())^1<<63)
	return append(k, id...)
}

// BalanceGrants reads a balance and its open grants.
func (t *tx) BalanceGrants(customerID, currency string) (wallet.Balance, []ledger.Grant, error) {
	b, err := t.Balance(customerID, currency)
	if err != nil {
		return b, nil, err
	}
	g, err := t.OpenGrants(customerID, currency)
	return b, g, err
}

// OpenGrants lists a wallet's open grants.
func (t *tx) OpenGrants(customerID, currency string) ([]ledger.Grant, error) {
	return t.walletGrants(bGrantsOpen, customerID, currency)
}

// ListGrants lists every grant of a wallet.
func (t *tx) ListGrants(customerID, currency string) ([]ledger.Grant, error) {
	return t.walletGrants(bGrantsWallet, customerID, currency)
}

func (t *tx) walletGrants(index []byte, customerID, currency string) ([]ledger.Grant, error) {
	ib := t.btx.Bucket(index)
	if ib == nil {
		return nil, nil
	}
	prefix := walletPrefix(customerID, currency)
	var out []ledger.Grant
	c := ib.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		g, err := t.Grant(string(k[len(prefix):]))
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

// Grant reads a grant.
func (t *tx) Grant(id string) (ledger.Grant, error) {
	var g ledger.Grant
	b := t.btx.Bucket(bGrants)
	var v []byte
	if b != nil {
		v = b.Get([]byte(id))
	}
	if v == nil {
		return g, fmt.Errorf("%w: grant %q", store.ErrNotFound, id)
	}
	if err := json.Unmarshal(v, &g); err != nil {
		return g, fmt.Errorf("bolt: grant %q: %w", id, err)
	}
	return g, nil
}

// InsertGrant stores a new grant.
func (t *tx) InsertGrant(g ledger.Grant) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := g.Check(); err != nil {
		return err
	}
	b, err := t.gb(bGrants)
	if err != nil {
		return err
	}
	if b.Get([]byte(g.ID)) != nil {
		return fmt.Errorf("%w: grant %q", store.ErrDuplicate, g.ID)
	}
	g.CreatedAt, g.ExpiresAt = g.CreatedAt.UTC(), g.ExpiresAt.UTC()
	if err := t.btx.Bucket(bGrantsWallet).Put(append(walletPrefix(g.CustomerID, g.Currency), g.ID...), []byte{}); err != nil {
		return fmt.Errorf("bolt: %w", err)
	}
	return t.putGrant(g, false)
}

// putGrant writes g and moves it in or out of the open and due indexes
// (wasOpen: it is in them now).
func (t *tx) putGrant(g ledger.Grant, wasOpen bool) error {
	v, err := json.Marshal(g)
	if err != nil {
		return err
	}
	if err := t.btx.Bucket(bGrants).Put([]byte(g.ID), v); err != nil {
		return fmt.Errorf("bolt: %w", err)
	}
	if wasOpen == g.Open() {
		return nil
	}
	ok := append(walletPrefix(g.CustomerID, g.Currency), g.ID...)
	open, due := t.btx.Bucket(bGrantsOpen), t.btx.Bucket(bGrantsDue)
	if g.Open() {
		err = open.Put(ok, []byte{})
		if err == nil && !g.ExpiresAt.IsZero() {
			err = due.Put(dueKey(g.ExpiresAt, g.ID), []byte{})
		}
	} else {
		err = open.Delete(ok)
		if err == nil && !g.ExpiresAt.IsZero() {
			err = due.Delete(dueKey(g.ExpiresAt, g.ID))
		}
	}
	if err != nil {
		return fmt.Errorf("bolt: %w", err)
	}
	return nil
}

// UpdateGrant stores a grant's derived amounts.
func (t *tx) UpdateGrant(g ledger.Grant) error {
	if err := t.writable(); err != nil {
		return err
	}
	old, err := t.Grant(g.ID)
	if err != nil {
		return err
	}
	upd := old
	upd.Remaining, upd.Held, upd.Expired = g.Remaining, g.Held, g.Expired
	if err := upd.Check(); err != nil {
		return err
	}
	return t.putGrant(upd, old.Open())
}

// PutAllocations stores an owner's allocations.
func (t *tx) PutAllocations(ownerID string, a []ledger.Allocation) error {
	if err := t.writable(); err != nil {
		return err
	}
	b, err := t.gb(bAllocations)
	if err != nil {
		return err
	}
	if b.Get([]byte(ownerID)) != nil {
		return fmt.Errorf("%w: allocations of %q", store.ErrDuplicate, ownerID)
	}
	v, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if err := b.Put([]byte(ownerID), v); err != nil {
		return fmt.Errorf("bolt: %w", err)
	}
	return nil
}

// Allocations reads an owner's allocations.
func (t *tx) Allocations(ownerID string) ([]ledger.Allocation, error) {
	b := t.btx.Bucket(bAllocations)
	if b == nil {
		return nil, nil
	}
	v := b.Get([]byte(ownerID))
	if v == nil {
		return nil, nil
	}
	var out []ledger.Allocation
	if err := json.Unmarshal(v, &out); err != nil {
		return nil, fmt.Errorf("bolt: allocations of %q: %w", ownerID, err)
	}
	return out, nil
}

// DueGrants lists the due grants with a free remainder, earliest expiry
// first, through the due index.
func (t *tx) DueGrants(now time.Time, limit int) ([]ledger.Grant, error) {
	if limit <= 0 {
		limit = store.DefaultLimit
	}
	var out []ledger.Grant
	err := scanDue(t.btx.Bucket(bGrantsDue), now, func(id string) (bool, error) {
		g, err := t.Grant(id)
		if err != nil {
			return false, err
		}
		if g.Free() > 0 {
			out = append(out, g)
		}
		return len(out) < limit, nil
	})
	return out, err
}

// scanDue walks a due index (dueKey: an 8-byte time, then an id) from its
// earliest key up to now, calling next with each id until next returns
// false or an error. A missing bucket (nil) has nothing due.
func scanDue(due *bbolt.Bucket, now time.Time, next func(id string) (bool, error)) error {
	if due == nil {
		return nil
	}
	end := dueKey(now, "")
	c := due.Cursor()
	for k, _ := c.First(); k != nil && bytes.Compare(k[:8], end) <= 0; k, _ = c.Next() {
		if more, err := next(string(k[8:])); err != nil || !more {
			return err
		}
	}
	return nil
}
