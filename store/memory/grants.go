package memory

import (
	"slices"
	"strings"
	"time"

	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/wallet"
)

// creditTable holds the credit grants (store.CreditGrants): by id, the ids
// of each wallet's grants (open ones in open), the allocations by owner, and
// the due index: the open grants with an expiry, sorted by (expiry, id).
// Writes are undone through opFunc closures.
type creditTable struct {
	byID   map[string]*ledger.Grant
	all    map[pair][]string // wallet -> grant ids, in insertion order
	open   map[pair][]string // wallet -> open grant ids
	allocs map[string][]ledger.Allocation
	due    []dueKey // sorted
}

type dueKey struct {
	at time.Time
	id string
}

func cmpDue(a, b dueKey) int {
	if c := a.at.Compare(b.at); c != 0 {
		return c
	}
	return strings.Compare(a.id, b.id)
}

func (c *creditTable) init() {
	if c.byID == nil {
		c.byID = make(map[string]*ledger.Grant)
		c.all = make(map[pair][]string)
		c.open = make(map[pair][]string)
		c.allocs = make(map[string][]ledger.Allocation)
	}
}

var _ store.CreditGrants = (*tx)(nil)

// BalanceGrants reads a balance and its open grants.
func (t *tx) BalanceGrants(customerID, currency string) (wallet.Balance, []ledger.Grant, error) {
	b, err := t.Balance(customerID, currency)
	if err != nil {
		return b, nil, err
	}
	g, err := t.OpenGrants(customerID, currency)
	return b, g, err
}

// OpenGrants lists a wallet's open grants, oldest first.
func (t *tx) OpenGrants(customerID, currency string) ([]ledger.Grant, error) {
	return t.grantsOf(t.s.credits.open[pair{customerID, currency}]), nil
}

// ListGrants lists every grant of a wallet, oldest first.
func (t *tx) ListGrants(customerID, currency string) ([]ledger.Grant, error) {
	return t.grantsOf(t.s.credits.all[pair{customerID, currency}]), nil
}

func (t *tx) grantsOf(ids []string) []ledger.Grant {
	if len(ids) == 0 {
		return nil
	}
	out := make([]ledger.Grant, 0, len(ids))
	for _, id := range ids {
		out = append(out, *t.s.credits.byID[id])
	}
	return out
}

// Grant reads a grant.
func (t *tx) Grant(id string) (ledger.Grant, error) {
	g, ok := t.s.credits.byID[id]
	if !ok {
		return ledger.Grant{}, notFound("grant", id)
	}
	return *g, nil
}

// InsertGrant stores a new grant.
func (t *tx) InsertGrant(g ledger.Grant) error {
	if err := t.write(); err != nil {
		return err
	}
	if err := g.Check(); err != nil {
		return err
	}
	c := &t.s.credits
	c.init()
	if _, ok := c.byID[g.ID]; ok {
		return duplicate("grant", g.ID)
	}
	g.CreatedAt, g.ExpiresAt = g.CreatedAt.UTC(), g.ExpiresAt.UTC()
	w := pair{g.CustomerID, g.Currency}
	c.byID[g.ID] = &g
	c.all[w] = append(c.all[w], g.ID)
	c.setOpen(w, g.ID, g.ExpiresAt, false, g.Open())
	t.s.w.add(opFunc, func() {
		c.setOpen(w, g.ID, g.ExpiresAt, g.Open(), false)
		c.all[w] = c.all[w][:len(c.all[w])-1]
		delete(c.byID, g.ID)
	}, "", 0)
	return nil
}

// setOpen moves grant id of wallet w in or out of the open and due
// indexes (was: it is in them now; is: it must be).
func (c *creditTable) setOpen(w pair, id string, at time.Time, was, is bool) {
	if was == is {
		return
	}
	k := dueKey{at, id}
	if is {
		c.open[w] = append(c.open[w], id)
		if !at.IsZero() {
			i, _ := slices.BinarySearchFunc(c.due, k, cmpDue)
			c.due = slices.Insert(c.due, i, k)
		}
		return
	}
	c.open[w] = slices.DeleteFunc(c.open[w], func(s string) bool { return s == id })
	if len(c.open[w]) == 0 {
		delete(c.open, w)
	}
	if !at.IsZero() {
		if i, ok := slices.BinarySearchFunc(c.due, k, cmpDue); ok {
			c.due = slices.Delete(c.due, i, i+1)
		}
	}
}

// UpdateGrant stores a grant's derived amounts.
func (t *tx) UpdateGrant(g ledger.Grant) error {
	if err := t.write(); err != nil {
		return err
	}
	c := &t.s.credits
	n, ok := c.byID[g.ID]
	if !ok {
		return notFound("grant", g.ID)
	}
	upd := *n
	upd.Remaining, upd.Held, upd.Expired = g.Remaining, g.Held, g.Expired
	if err := upd.Check(); err != nil {
		return err
	}
	old := *n
	w := pair{old.CustomerID, old.Currency}
	*n = upd
	c.setOpen(w, old.ID, old.ExpiresAt, old.Open(), upd.Open())
	t.s.w.add(opFunc, func() {
		c.setOpen(w, old.ID, old.ExpiresAt, upd.Open(), old.Open())
		*n = old
	}, "", 0)
	return nil
}

// PutAllocations stores an owner's allocations.
func (t *tx) PutAllocations(ownerID string, a []ledger.Allocation) error {
	if err := t.write(); err != nil {
		return err
	}
	c := &t.s.credits
	c.init()
	if _, ok := c.allocs[ownerID]; ok {
		return duplicate("allocations", ownerID)
	}
	c.allocs[ownerID] = slices.Clone(a)
	t.s.w.add(opFunc, func() { delete(c.allocs, ownerID) }, "", 0)
	return nil
}

// Allocations reads an owner's allocations.
func (t *tx) Allocations(ownerID string) ([]ledger.Allocation, error) {
	return slices.Clone(t.s.credits.allocs[ownerID]), nil
}

// DueGrants lists the due grants with a free remainder, earliest expiry
// first. Grants due but fully held are skipped (read, not returned).
func (t *tx) DueGrants(now time.Time, limit int) ([]ledger.Grant, error) {
	if limit <= 0 {
		limit = store.DefaultLimit
	}
	var out []ledger.Grant
	for _, k := range t.s.credits.due {
		if k.at.After(now) || len(out) == limit {
			break
		}
		if g := t.s.credits.byID[k.id]; g.Free() > 0 {
			out = append(out, *g)
		}
	}
	return out, nil
}
