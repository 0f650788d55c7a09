package memory

import (
	"slices"
	"time"

	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/topup"
)

// topupTable holds the auto top-up rules (store.TopUps): by id, the ids of
// each wallet's rules by (CreatedAt, id), and the due index: the rules
// with a next check, sorted by (next check, id). Writes are undone through
// opFunc closures.
type topupTable struct {
	byID   map[string]*topup.Rule
	wallet map[pair][]string
	due    []dueKey
}

func (c *topupTable) init() {
	if c.byID == nil {
		c.byID = make(map[string]*topup.Rule)
		c.wallet = make(map[pair][]string)
	}
}

var _ store.TopUps = (*tx)(nil)

func copyRule(r topup.Rule) topup.Rule {
	if r.State.Pending != nil {
		p := *r.State.Pending
		r.State.Pending = &p
	}
	return r
}

func normRule(r *topup.Rule) {
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	r.State.NextCheck, r.State.Anchor = r.State.NextCheck.UTC(), r.State.Anchor.UTC()
	r.State.FirstFailure, r.State.LastTopUpAt = r.State.FirstFailure.UTC(), r.State.LastTopUpAt.UTC()
	if p := r.State.Pending; p != nil {
		p.At, p.ExpiresAt = p.At.UTC(), p.ExpiresAt.UTC()
	}
}

// setDue moves rule id from the due index at from (zero: absent) to to
// (zero: absent).
func (c *topupTable) setDue(id string, from, to time.Time) {
	if from.Equal(to) {
		return
	}
	if !from.IsZero() {
		if i, ok := slices.BinarySearchFunc(c.due, dueKey{from, id}, cmpDue); ok {
			c.due = slices.Delete(c.due, i, i+1)
		}
	}
	if !to.IsZero() {
		k := dueKey{to, id}
		i, _ := slices.BinarySearchFunc(c.due, k, cmpDue)
		c.due = slices.Insert(c.due, i, k)
	}
}

// InsertTopUp stores a new rule.
func (t *tx) InsertTopUp(r topup.Rule) error {
	if err := t.write(); err != nil {
		return err
	}
	if err := r.Check(); err != nil {
		return err
	}
	c := &t.s.topups
	c.init()
	if _, ok := c.byID[r.ID]; ok {
		return duplicate("top-up rule", r.ID)
	}
	r = copyRule(r)
	normRule(&r)
	w := pair{r.CustomerID, r.Currency}
	c.byID[r.ID] = &r
	ids := c.wallet[w]
	i, _ := slices.BinarySearchFunc(ids, dueKey{r.CreatedAt, r.ID}, func(id string, k dueKey) int {
		return cmpDue(dueKey{c.byID[id].CreatedAt, id}, k)
	})
	c.wallet[w] = slices.Insert(slices.Clone(ids), i, r.ID)
	c.setDue(r.ID, time.Time{}, r.State.NextCheck)
	t.s.w.add(opFunc, func() {
		c.setDue(r.ID, r.State.NextCheck, time.Time{})
		c.wallet[w] = ids
		if len(c.wallet[w]) == 0 {
			delete(c.wallet, w)
		}
		delete(c.byID, r.ID)
	}, "", 0)
	return nil
}

// UpdateTopUp replaces a rule.
func (t *tx) UpdateTopUp(r topup.Rule) error {
	if err := t.write(); err != nil {
		return err
	}
	c := &t.s.topups
	n, ok := c.byID[r.ID]
	if !ok {
		return notFound("top-up rule", r.ID)
	}
	r.CustomerID, r.Currency, r.CreatedAt = n.CustomerID, n.Currency, n.CreatedAt
	if err := r.Check(); err != nil {
		return err
	}
	r = copyRule(r)
	normRule(&r)
	old := *n
	*n = r
	c.setDue(r.ID, old.State.NextCheck, r.State.NextCheck)
	t.s.w.add(opFunc, func() {
		c.setDue(r.ID, r.State.NextCheck, old.State.NextCheck)
		*n = old
	}, "", 0)
	return nil
}

// DeleteTopUp removes a rule.
func (t *tx) DeleteTopUp(id string) error {
	if err := t.write(); err != nil {
		return err
	}
	c := &t.s.topups
	n, ok := c.byID[id]
	if !ok {
		return notFound("top-up rule", id)
	}
	old := *n
	w := pair{old.CustomerID, old.Currency}
	ids := c.wallet[w]
	i := slices.Index(ids, id)
	c.wallet[w] = slices.Delete(slices.Clone(ids), i, i+1)
	if len(c.wallet[w]) == 0 {
		delete(c.wallet, w)
	}
	delete(c.byID, id)
	c.setDue(id, old.State.NextCheck, time.Time{})
	t.s.w.add(opFunc, func() {
		c.setDue(id, time.Time{}, old.State.NextCheck)
		c.wallet[w] = ids
		c.byID[id] = n
	}, "", 0)
	return nil
}

// TopUp reads a rule.
func (t *tx) TopUp(id string) (topup.Rule, error) {
	n, ok := t.s.topups.byID[id]
	if !ok {
		return topup.Rule{}, notFound("top-up rule", id)
	}
	return copyRule(*n), nil
}

// WalletTopUps lists a wallet's rules, oldest first.
func (t *tx) WalletTopUps(customerID, currency string) ([]topup.Rule, error) {
	ids := t.s.topups.wallet[pair{customerID, currency}]
	out := make([]topup.Rule, 0, len(ids))
	for _, id := range ids {
		out = append(out, copyRule(*t.s.topups.byID[id]))
	}
	return out, nil
}

// DueTopUps lists the rules due for a check, earliest first.
func (t *tx) DueTopUps(now time.Time, limit int) ([]topup.Rule, error) {
	if limit <= 0 {
		limit = store.DefaultLimit
	}
	var out []topup.Rule
	for _, k := range t.s.topups.due {
		if k.at.After(now) || len(out) == limit {
			break
		}
		out = append(out, copyRule(*t.s.topups.byID[k.id]))
	}
	return out, nil
}
