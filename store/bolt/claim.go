package bolt

import (
	"bytes"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/webhook"
)

// The claim and prune methods. bbolt runs one write transaction at a time,
// so a claim's in-flight counts cannot change under it.

func (t *tx) DueNotices(now time.Time, limit int) ([]retry.Attempt, error) {
	// The due index holds notified attempts too (due now, or retaken after
	// a lease): they are what a scheduler pass is about to claim, so
	// walking past them stays within the due set.
	return dueWhere(t, kAttempts, bAttemptDue, now, batch(limit), decodeAttempt,
		func(a retry.Attempt) bool { return !a.Notified })
}

func (t *tx) ClaimDueAttempts(now time.Time, c store.AttemptClaim) ([]retry.Attempt, int, error) {
	if err := t.writable(); err != nil {
		return nil, 0, err
	}
	// An attempt whose notice time came but not its due time waits (the
	// scheduler moves its RunAt to DueAt when it writes the notice).
	list, err := dueWhere(t, kAttempts, bAttemptDue, now, batch(c.Limit), decodeAttempt,
		func(a retry.Attempt) bool { return !a.DueAt.After(now) })
	if err != nil {
		return nil, 0, err
	}
	return store.ClaimAttempts(list, now, c, func(customerID string) (int, error) {
		return t.inFlight(customerID, now)
	}, t.PutAttempt)
}

func (t *tx) ClaimDueDeliveries(now time.Time, c store.DeliveryClaim) ([]webhook.Delivery, error) {
	if err := t.writable(); err != nil {
		return nil, err
	}
	list, err := due(t, kDeliveries, bDeliveryDue, now, c.ScanSize(), decodeDelivery)
	if err != nil {
		return nil, err
	}
	return store.ClaimDeliveries(list, now, c, t.PutDelivery)
}

// expired walks a retention index (timeKey + seq) from its start up to the
// first key at or after before and returns the sequences of at most limit
// records keep accepts. Its cost is the keys visited.
func (t *tx) expired(bucket []byte, before time.Time, limit int, keep func(seq uint64) (bool, error)) ([]uint64, error) {
	bound := appendTime(nil, before)
	var out []uint64
	c := t.b(bucket).Cursor()
	for key, _ := c.First(); key != nil && len(out) < limit; key, _ = c.Next() {
		t.dueScanned++
		if len(key) != timeKeyLen+8 {
			return nil, fmt.Errorf("%w: %s key of %d bytes", errCorrupt, bucket, len(key))
		}
		if bytes.Compare(key[:timeKeyLen], bound) >= 0 {
			break
		}
		seq := seqOfKey(key)
		ok, err := keep(seq)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, seq)
		}
	}
	return out, nil
}

// remove deletes the record at seq with its id and index keys.
func (t *tx) remove(k kind, seq uint64, id string, keys []ikey) error {
	for _, ik := range keys {
		if err := t.b(ik.bucket).Delete(ik.key); err != nil {
			return fmt.Errorf("bolt: %w", err)
		}
	}
	if err := t.b(k.ids).Delete([]byte(id)); err != nil {
		return fmt.Errorf("bolt: %w", err)
	}
	if err := t.b(k.primary).Delete(seqKey(seq)); err != nil {
		return fmt.Errorf("bolt: %w", err)
	}
	return nil
}

func (t *tx) PruneEvents(before time.Time, limit int) (int, error) {
	if err := t.writable(); err != nil {
		return 0, err
	}
	prim := t.b(kEvents.primary)
	refs := t.b(bDeliveryEvent).Cursor()
	events := map[uint64]webhook.Event{}
	seqs, err := t.expired(bEventDone, before, batch(limit), func(seq uint64) (bool, error) {
		v := prim.Get(seqKey(seq))
		if v == nil {
			return false, errDangling(kEvents, seq)
		}
		e, err := decodeEvent(seq, v)
		if err != nil {
			return false, err
		}
		// An event a stored delivery refers to stays.
		prefix := scope(e.ID)
		if k, _ := refs.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8 {
			return false, nil
		}
		events[seq] = e
		return true, nil
	})
	if err != nil {
		return 0, err
	}
	for _, seq := range seqs {
		e := events[seq]
		if err := t.remove(kEvents, seq, e.ID, eventKeys(e, seq)); err != nil {
			return 0, err
		}
	}
	return len(seqs), nil
}

func (t *tx) PruneDeliveries(before time.Time, limit int) (int, error) {
	if err := t.writable(); err != nil {
		return 0, err
	}
	prim := t.b(kDeliveries.primary)
	list := map[uint64]webhook.Delivery{}
	seqs, err := t.expired(bDeliveryDone, before, batch(limit), func(seq uint64) (bool, error) {
		v := prim.Get(seqKey(seq))
		if v == nil {
			return false, errDangling(kDeliveries, seq)
		}
		d, err := decodeDelivery(v)
		list[seq] = d
		return err == nil, err
	})
	if err != nil {
		return 0, err
	}
	for _, seq := range seqs {
		d := list[seq]
		if err := t.remove(kDeliveries, seq, d.ID, deliveryKeys(d, seq)); err != nil {
			return 0, err
		}
	}
	return len(seqs), nil
}

// backfillRetention fills the retention indexes of a file written before
// they existed.
func backfillRetention(btx *bbolt.Tx) error {
	t := &tx{btx: btx}
	defer t.finish()
	fill := func(k kind, keys func(seq uint64, v []byte) ([]ikey, error)) error {
		return t.b(k.primary).ForEach(func(sk, v []byte) error {
			seq, err := decodeSeq(sk)
			if err != nil {
				return err
			}
			ks, err := keys(seq, v)
			if err != nil {
				return err
			}
			return t.putKeys(ks, sk)
		})
	}
	if err := fill(kEvents, func(seq uint64, v []byte) ([]ikey, error) {
		e, err := decodeEvent(seq, v)
		if err != nil || !e.Dispatched {
			return nil, err
		}
		return eventKeys(e, seq), nil
	}); err != nil {
		return err
	}
	return fill(kDeliveries, func(seq uint64, v []byte) ([]ikey, error) {
		d, err := decodeDelivery(v)
		if err != nil || d.Status.Active() {
			return nil, err
		}
		return []ikey{listKey(bDeliveryDone, appendTime(nil, d.UpdatedAt), seq)}, nil
	})
}
