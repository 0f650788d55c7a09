package bolt

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/topup"
)

// Auto top-up rules (store.TopUps) live in buckets of their own, created by
// the first write that needs them:
//
//	topups         id -> rule (JSON)
//	topups.wallet  customer \0 currency \0 created (8 bytes) id -> ""
//	topups.due     next check (8 bytes) id -> ""   rules with a next check
var (
	bTopUps       = []byte("topups")
	bTopUpsWallet = []byte("topups.wallet")
	bTopUpsDue    = []byte("topups.due")
	topupBuckets  = [][]byte{bTopUps, bTopUpsWallet, bTopUpsDue}
)

var _ store.TopUps = (*tx)(nil)

// tb returns a top-up bucket (see lazyBucket).
func (t *tx) tb(name []byte) (*bbolt.Bucket, error) { return t.lazyBucket(name, topupBuckets) }

func topupWalletKey(r topup.Rule) []byte {
	k := walletPrefix(r.CustomerID, r.Currency)
	k = binary.BigEndian.AppendUint64(k, uint64(r.CreatedAt.UnixMicro())^1<<63)
	return append(k, r.ID...)
}

func normTopUp(r *topup.Rule) {
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	r.State.NextCheck, r.State.Anchor = r.State.NextCheck.UTC(), r.State.Anchor.UTC()
	r.State.FirstFailure, r.State.LastTopUpAt = r.State.FirstFailure.UTC(), r.State.LastTopUpAt.UTC()
	if p := r.State.Pending; p != nil {
		p.At, p.ExpiresAt = p.At.UTC(), p.ExpiresAt.UTC()
	}
}

// putTopUp writes r and moves it in the due index from its old next check.
func (t *tx) putTopUp(r topup.Rule, oldNext time.Time) error {
	normTopUp(&r)
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := t.btx.Bucket(bTopUps).Put([]byte(r.ID), v); err != nil {
		return fmt.Errorf("bolt: %w", err)
	}
	if oldNext.Equal(r.State.NextCheck) {
		return nil
	}
	due := t.btx.Bucket(bTopUpsDue)
	if !oldNext.IsZero() {
		err = due.Delete(dueKey(oldNext, r.ID))
	}
	if err == nil && !r.State.NextCheck.IsZero() {
		err = due.Put(dueKey(r.State.NextCheck, r.ID), []byte{})
	}
	if err != nil {
		return fmt.Errorf("bolt: %w", err)
	}
	return nil
}

// InsertTopUp stores a new rule.
func (t *tx) InsertTopUp(r topup.Rule) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := r.Check(); err != nil {
		return err
	}
	b, err := t.tb(bTopUps)
	if err != nil {
		return err
	}
	if b.Get([]byte(r.ID)) != nil {
		return fmt.Errorf("%w: top-up rule %q", store.ErrDuplicate, r.ID)
	}
	normTopUp(&r)
	if err := t.btx.Bucket(bTopUpsWallet).Put(topupWalletKey(r), []byte{}); err != nil {
		return fmt.Errorf("bolt: %w", err)
	}
	return t.putTopUp(r, time.Time{})
}

// UpdateTopUp replaces a rule.
func (t *tx) UpdateTopUp(r topup.Rule) error {
	if err := t.writable(); err != nil {
		return err
	}
	old, err := t.TopUp(r.ID)
	if err != nil {
		return err
	}
	r.CustomerID, r.Currency, r.CreatedAt = old.CustomerID, old.Currency, old.CreatedAt
	if err := r.Check(); err != nil {
		return err
	}
	return t.putTopUp(r, old.State.NextCheck)
}

// DeleteTopUp removes a rule.
func (t *tx) DeleteTopUp(id string) error {
	if err := t.writable(); err != nil {
		return err
	}
	old, err := t.TopUp(id)
	if err != nil {
		return err
	}
	err = t.btx.Bucket(bTopUps).Delete([]byte(id))
	if err == nil {
		err = t.btx.Bucket(bTopUpsWallet).Delete(topupWalletKey(old))
	}
	if err == nil && !old.State.NextCheck.IsZero() {
		err = t.btx.Bucket(bTopUpsDue).Delete(dueKey(old.State.NextCheck, id))
	}
	if err != nil {
		return fmt.Errorf("bolt: %w", err)
	}
	return nil
}

// TopUp reads a rule.
func (t *tx) TopUp(id string) (topup.Rule, error) {
	var r topup.Rule
	b, err := t.tb(bTopUps)
	if err != nil {
		return r, err
	}
	var v []byte
	if b != nil {
		v = b.Get([]byte(id))
	}
	if v == nil {
		return r, fmt.Errorf("%w: top-up rule %q", store.ErrNotFound, id)
	}
	if err := json.Unmarshal(v, &r); err != nil {
		return r, fmt.Errorf("bolt: top-up rule %q: %w", id, err)
	}
	return r, nil
}

// WalletTopUps lists a wallet's rules, oldest first.
func (t *tx) WalletTopUps(customerID, currency string) ([]topup.Rule, error) {
	ib := t.btx.Bucket(bTopUpsWallet)
	if ib == nil {
		return nil, nil
	}
	prefix := walletPrefix(customerID, currency)
	var out []topup.Rule
	c := ib.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		r, err := t.TopUp(string(k[len(prefix)+8:]))
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// DueTopUps lists the rules due for a check, earliest first.
func (t *tx) DueTopUps(now time.Time, limit int) ([]topup.Rule, error) {
	if limit <= 0 {
		limit = store.DefaultLimit
	}
	var out []topup.Rule
	err := scanDue(t.btx.Bucket(bTopUpsDue), now, func(id string) (bool, error) {
		r, err := t.TopUp(id)
		if err != nil {
			return false, err
		}
		out = append(out, r)
		return len(out) < limit, nil
	})
	return out, err
}
