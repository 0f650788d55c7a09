package ledger

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cofferhq/coffer/wallet"
)

// CreditKind says where a credit came from: paid for by the customer (a
// top-up, a refund to the wallet) or granted by the merchant (a welcome
// bonus, a promotion).
type CreditKind string

// Credit kinds.
const (
	KindPaid    CreditKind = "paid"
	KindGranted CreditKind = "granted"
)

// Priority bounds. Lower priorities are consumed first; the default is 0.
const (
	MinPriority = -1000
	MaxPriority = 1000
)

// RefExpiry is the reference type of an "Expired credit" debit: its
// reference id is the grant (the credit entry) whose remainder expired.
const RefExpiry RefType = "expiry"

// ExpiredReason is the reason of the debit that expires a grant's remainder.
const ExpiredReason = "Expired credit"

// ErrInvalidCredit: credit terms that cannot be applied (an unknown kind, a
// priority out of range, an expiry not in the future, terms on a debit).
// It is of the ErrInvalid (422) class.
var ErrInvalidCredit = fmt.Errorf("%w: credit terms", ErrInvalid)

// CreditTerms are the attributes a credit entry may carry. The zero value
// (a paid credit of priority 0 that never expires) is a plain credit.
type CreditTerms struct {
	// Kind is paid (the default) or granted.
	Kind CreditKind `json:"credit_kind,omitempty"`
	// Priority orders consumption: lower first, default 0, within
	// [MinPriority, MaxPriority].
	Priority int `json:"priority,omitempty"`
	// ExpiresAt, when not zero, is when the credit's unconsumed remainder
	// expires (stored to the microsecond).
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// Plain reports whether t are the default terms.
func (t CreditTerms) Plain() bool {
	return (t.Kind == "" || t.Kind == KindPaid) && t.Priority == 0 && t.ExpiresAt.IsZero()
}

// Normal returns t with its kind defaulted and its expiry in UTC,
// truncated to the microsecond (what every store keeps).
func (t CreditTerms) Normal() CreditTerms {
	if t.Kind == "" {
		t.Kind = KindPaid
	}
	if !t.ExpiresAt.IsZero() {
		t.ExpiresAt = t.ExpiresAt.UTC().Truncate(time.Microsecond)
	}
	return t
}

// Validate checks t against now: a known kind, a priority in range, and an
// expiry (if any) after now.
func (t CreditTerms) Validate(now time.Time) error {
	if t.Kind != "" && t.Kind != KindPaid && t.Kind != KindGranted {
		return fmt.Errorf("%w: credit_kind must be paid or granted", ErrInvalidCredit)
	}
	if t.Priority < MinPriority || t.Priority > MaxPriority {
		return fmt.Errorf("%w: priority must be within [%d, %d]", ErrInvalidCredit, MinPriority, MaxPriority)
	}
	if !t.ExpiresAt.IsZero() && !t.ExpiresAt.After(now) {
		return fmt.Errorf("%w: expires_at must be in the future", ErrInvalidCredit)
	}
	return nil
}

// appendFingerprint adds t to a request's fingerprint bytes. Plain terms add
// nothing, so the fingerprints of plain requests are those of before.
func (t CreditTerms) appendFingerprint(buf []byte) []byte {
	if t.Plain() {
		return buf
	}
	t = t.Normal()
	buf = append(buf, "credit"...)
	buf = binary.BigEndian.AppendUint64(buf, uint64(len(t.Kind)))
	buf = append(buf, t.Kind...)
	buf = binary.BigEndian.AppendUint64(buf, uint64(int64(t.Priority)))
	var exp int64
	if !t.ExpiresAt.IsZero() {
		exp = t.ExpiresAt.UnixMicro()
	}
	return binary.BigEndian.AppendUint64(buf, uint64(exp))
}

// Grant is the tracked part of a credit entry: its terms, and what of it is
// left. Kind, Priority, ExpiresAt, Amount and CreatedAt never change; the
// rest is derived from the ledger (Remaining = Amount minus every
// allocation to it of a debit entry, Held = the allocations of pending
// holds, Expired = what "Expired credit" debits took) and kept by the
// engine in the transaction of each entry that moves it.
type Grant struct {
	// ID is the grant's id: the id of its credit entry, or (for the
	// grants a refund to the wallet makes, one per grant it gives back)
	// that id and a suffix.
	ID string `json:"id"`
	// EntryID is the credit entry that made the grant.
	EntryID    string     `json:"entry_id"`
	CustomerID string     `json:"customer_id"`
	Currency   string     `json:"currency"`
	Kind       CreditKind `json:"credit_kind"`
	Priority   int        `json:"priority"`
	ExpiresAt  time.Time  `json:"expires_at,omitzero"`
	Amount     int64      `json:"amount"`
	Remaining  int64      `json:"remaining"`
	Held       int64      `json:"held"`
	Expired    int64      `json:"expired"`
	// Source, on a grant a refund made, is the grant the refunded payment
	// consumed (whose terms it carries).
	Source    string    `json:"source,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// Free is what a debit or a hold may take of g.
func (g Grant) Free() int64 { return g.Remaining - g.Held }

// Open reports whether g has anything left.
func (g Grant) Open() bool { return g.Remaining > 0 }

// ExpiredAt reports whether g's expiry has passed at now.
func (g Grant) ExpiredAt(now time.Time) bool {
	return !g.ExpiresAt.IsZero() && !now.Before(g.ExpiresAt)
}

// Check reports a violated invariant of g, or nil.
func (g Grant) Check() error {
	if g.Amount <= 0 || g.Remaining < 0 || g.Remaining > g.Amount || g.Held < 0 || g.Held > g.Remaining ||
		g.Expired < 0 || g.Expired > g.Amount-g.Remaining {
		return fmt.Errorf("ledger: grant %s: amounts outside their bounds (amount %d, remaining %d, held %d, expired %d)",
			g.ID, g.Amount, g.Remaining, g.Held, g.Expired)
	}
	return nil
}

// NewGrant returns the grant of a credit entry e posted with terms t.
func NewGrant(e Entry, t CreditTerms) Grant {
	t = t.Normal()
	return Grant{ID: e.ID, EntryID: e.ID, CustomerID: e.CustomerID, Currency: e.Currency, Kind: t.Kind, Priority: t.Priority,
		ExpiresAt: t.ExpiresAt, Amount: e.Amount, Remaining: e.Amount, CreatedAt: e.CreatedAt}
}

// Allocation is the part of a debit (or a hold) taken from one grant.
// GrantID "" is the wallet's untracked credit (Untracked).
type Allocation struct {
	GrantID string `json:"grant_id"`
	Amount  int64  `json:"amount"`
}

// Before reports whether g is consumed before h: lower priority first, then
// earlier expiry (a grant that never expires last), then the older (by
// CreatedAt, then by id).
func Before(g, h Grant) bool { return compare(g, h) < 0 }

func compare(g, h Grant) int {
	if g.Priority != h.Priority {
		return g.Priority - h.Priority
	}
	ge, he := g.ExpiresAt.IsZero(), h.ExpiresAt.IsZero()
	switch {
	case ge != he:
		if ge {
			return 1
		}
		return -1
	case !ge && !g.ExpiresAt.Equal(h.ExpiresAt):
		return g.ExpiresAt.Compare(h.ExpiresAt)
	}
	if c := g.CreatedAt.Compare(h.CreatedAt); c != 0 {
		return c
	}
	return strings.Compare(g.ID, h.ID)
}

// SortGrants sorts grants in consumption order.
func SortGrants(grants []Grant) { slices.SortFunc(grants, compare) }

// untrackedFirst reports whether the wallet's untracked credit is consumed
// before g. Untracked credit is a paid credit of priority 0 that never
// expires and is older than every open grant (a plain credit joins it only
// when the wallet has no open grant), so it goes before the grants of
// priority > 0 and the non-expiring grants of priority 0.
func untrackedFirst(g Grant) bool {
	return g.Priority > 0 || (g.Priority == 0 && g.ExpiresAt.IsZero())
}

// Untracked is the wallet's credit that no open grant tracks (plain credits
// posted while it had no open grant): b.Amount minus the remainders of the
// grants, and the part of it pending holds reserve.
func Untracked(b wallet.Balance, open []Grant) (amount, held int64) {
	amount, held = b.Amount, b.Held
	for _, g := range open {
		amount -= g.Remaining
		held -= g.Held
	}
	return amount, held
}

// Allocate takes amount from the free parts of a wallet's open grants and
// its untracked credit, in consumption order. open must be sorted
// (SortGrants); untrackedFree is the free untracked credit. It returns the
// allocations, in consumption order, the untracked part as GrantID "" (left
// out when 0), or wallet.ErrInsufficientFunds when they do not cover
// amount. It changes nothing.
func Allocate(open []Grant, untrackedFree, amount int64) ([]Allocation, error) {
	var out []Allocation
	left := amount
	take := func(id string, free int64) {
		if left == 0 || free <= 0 {
			return
		}
		n := min(free, left)
		out = append(out, Allocation{GrantID: id, Amount: n})
		left -= n
	}
	pool := untrackedFree
	for _, g := range open {
		if pool > 0 && untrackedFirst(g) {
			take("", pool)
			pool = 0
		}
		take(g.ID, g.Free())
	}
	take("", pool)
	if left > 0 {
		return nil, fmt.Errorf("%w: %d short of %d across the grants", wallet.ErrInsufficientFunds, left, amount)
	}
	return out, nil
}

// Apply changes the grants of open (by id) by allocs: consume takes the
// allocated amounts from Remaining (a debit); hold adds them to Held (a
// hold placed) or, with a negative sign, frees them (a hold released); a
// capture consumes and unholds. It returns the grants it changed.
func Apply(open []Grant, allocs []Allocation, consume, hold int64) ([]Grant, error) {
	var changed []Grant
	for _, a := range allocs {
		if a.GrantID == "" {
			continue
		}
		i := slices.IndexFunc(open, func(g Grant) bool { return g.ID == a.GrantID })
		if i < 0 {
			return nil, fmt.Errorf("ledger: allocation to grant %s, not open on the wallet", a.GrantID)
		}
		g := &open[i]
		g.Remaining -= consume * a.Amount
		g.Held += hold * a.Amount
		if err := g.Check(); err != nil {
			return nil, err
		}
		changed = append(changed, *g)
	}
	return changed, nil
}
