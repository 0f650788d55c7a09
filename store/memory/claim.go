package memory

import (
	"slices"
	"time"

	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/webhook"
)

// The claim and prune methods. Writers run one at a time, so a claim's
// in-flight counts cannot change under it.

func (t *tx) DueNotices(now time.Time, limit int) ([]retry.Attempt, error) {
	limit = batch(limit)
	var res []retry.Attempt
	for x := t.s.attDue.first(); x != nil && len(res) < limit && !x.k.at.After(now); x = x.next[0] {
		if !x.v.v.Notified {
			res = append(res, copyAttempt(x.v.v))
		}
	}
	return res, nil
}

func (t *tx) ClaimDueAttempts(now time.Time, c store.AttemptClaim) ([]retry.Attempt, int, error) {
	if err := t.write(); err != nil {
		return nil, 0, err
	}
	// An attempt whose notice time came but not its due time waits (the
	// scheduler moves its RunAt to DueAt when it writes the notice).
	limit := batch(c.Limit)
	var due []retry.Attempt
	for x := t.s.attDue.first(); x != nil && len(due) < limit && !x.k.at.After(now); x = x.next[0] {
		if !x.v.v.DueAt.After(now) {
			due = append(due, copyAttempt(x.v.v))
		}
	}
	return store.ClaimAttempts(due, now, c, func(customerID string) (int, error) {
		return t.s.inFlight(customerID, now), nil
	}, t.PutAttempt)
}

// inFlight counts the claimed attempts with a live lease, of one customer
// or ("") all.
func (s *Store) inFlight(customerID string, now time.Time) int {
	set := s.claimedAll
	if customerID != "" {
		ci := s.cust[customerID]
		if ci == nil {
			return 0
		}
		set = ci.claimed
	}
	count := 0
	for n := range set {
		if n.v.LeaseUntil.After(now) {
			count++
		}
	}
	return count
}

func (t *tx) ClaimDueDeliveries(now time.Time, c store.DeliveryClaim) ([]webhook.Delivery, error) {
	if err := t.write(); err != nil {
		return nil, err
	}
	due, err := t.DueDeliveries(now, c.ScanSize())
	if err != nil {
		return nil, err
	}
	return store.ClaimDeliveries(due, now, c, t.PutDelivery)
}

// PruneEvents walks the index of dispatched events from the oldest. A
// pruned event stays in the event table as a tombstone that no read
// returns (the table is append-only, pointer-free chunks); its record and
// strings are not reclaimed.
func (t *tx) PruneEvents(before time.Time, limit int) (int, error) {
	if err := t.write(); err != nil {
		return 0, err
	}
	limit = batch(limit)
	s := t.s
	n := 0
	for x := s.evDone.first(); x != nil && n < limit && x.k.at.Before(before); {
		next := x.next[0]
		i := x.v
		r := s.events.recs.at(i)
		if len(s.delByEvent[s.events.str(r, vsID)]) == 0 {
			s.evDone.delete(x.k)
			r.pruned = true
			s.w.add(opPruneEvent, nil, "", int(i))
			n++
		}
		x = next
	}
	return n, nil
}

// PruneDeliveries walks the index of finished deliveries from the oldest.
func (t *tx) PruneDeliveries(before time.Time, limit int) (int, error) {
	if err := t.write(); err != nil {
		return 0, err
	}
	limit = batch(limit)
	s := t.s
	n := 0
	for x := s.delDone.first(); x != nil && n < limit && x.k.at.Before(before); {
		next := x.next[0]
		d := x.v
		s.delIndexDel(d, d.v)
		delete(s.deliveries, d.v.ID)
		s.delList = removeBySeq(s.delList, d)
		dropBySeq(s.delByEvent, d.v.EventID, d)
		dropBySeq(s.delByEp, d.v.EndpointID, d)
		s.w.add(opPruneDelivery, d, "", 0)
		n++
		x = next
	}
	return n, nil
}

// restoreDelivery undoes PruneDeliveries of n.
func (s *Store) restoreDelivery(n *delNode) {
	s.deliveries[n.v.ID] = n
	s.delList = insertBySeq(s.delList, n)
	s.delByEvent[n.v.EventID] = insertBySeq(s.delByEvent[n.v.EventID], n)
	s.delByEp[n.v.EndpointID] = insertBySeq(s.delByEp[n.v.EndpointID], n)
	s.delIndexAdd(n, n.v)
}

func bySeq(d *delNode, seq int64) int { return cmpInt(d.seq, seq) }

func removeBySeq(list []*delNode, n *delNode) []*delNode {
	if j, ok := slices.BinarySearchFunc(list, n.seq, bySeq); ok {
		return slices.Delete(list, j, j+1)
	}
	return list
}

func insertBySeq(list []*delNode, n *delNode) []*delNode {
	j, _ := slices.BinarySearchFunc(list, n.seq, bySeq)
	return slices.Insert(list, j, n)
}

func dropBySeq[K comparable](m map[K][]*delNode, k K, n *delNode) {
	if l := removeBySeq(m[k], n); len(l) == 0 {
		delete(m, k)
	} else {
		m[k] = l
	}
}
