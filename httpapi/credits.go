package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/ledger"
)

// Credit terms (issue 15, items 1–2) as coffer extensions: a credit
// ledger entry may carry credit_kind, priority and expires_at; GET
// /customers/{customer_id}/wallets/{currency}/credits reads a wallet's
// credit by kind, what expires within a window and its open grants; the
// wallet.credit_expired webhook carries API-shaped objects.

// CreditGrant is the tracked part of a credit ledger entry (a grant): its
// terms and what of it is left. Amounts are in the currency's minor units.
type CreditGrant struct {
	// ID is the grant's id: its credit entry's id, or (for the grants a
	// refund to the wallet makes) that id and a suffix.
	ID            string `json:"id"`
	LedgerEntryID string `json:"ledger_entry_id"`
	CreditKind    string `json:"credit_kind"`
	Priority      int    `json:"priority"`
	// ExpiresAt is null for a grant that never expires.
	ExpiresAt *time.Time `json:"expires_at"`
	Amount    int64      `json:"amount"`
	Remaining int64      `json:"remaining"`
	// Held is the part of Remaining reserved by charges in flight;
	// Available = Remaining - Held.
	Held      int64 `json:"held"`
	Available int64 `json:"available"`
	// Expired is what "Expired credit" debits took from the grant.
	Expired int64 `json:"expired"`
	// Source, on a grant a refund made, is the grant whose terms it carries.
	Source    string    `json:"source,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

func grantOut(g ledger.Grant) CreditGrant {
	out := CreditGrant{ID: g.ID, LedgerEntryID: g.EntryID, CreditKind: string(g.Kind), Priority: g.Priority,
		Amount: g.Amount, Remaining: g.Remaining, Held: g.Held, Available: g.Free(), Expired: g.Expired,
		Source: g.Source, CreatedAt: g.CreatedAt}
	if out.CreditKind == "" {
		out.CreditKind = string(ledger.KindPaid)
	}
	if !g.ExpiresAt.IsZero() {
		t := g.ExpiresAt.UTC()
		out.ExpiresAt = &t
	}
	return out
}

// WalletCredits is the answer of GET
// /customers/{customer_id}/wallets/{currency}/credits: the wallet's
// balance split by kind, what of it expires within the window asked for,
// and its open grants in consumption order (priority, then earliest
// expiry, then age).
type WalletCredits struct {
	CustomerID string `json:"customer_id"`
	Currency   string `json:"currency"`
	Balance    int64  `json:"balance"`
	Held       int64  `json:"held"`
	Available  int64  `json:"available"`
	// Paid + Granted == Balance; Untracked is the plain paid credit no
	// grant tracks (part of Paid).
	Paid      int64 `json:"paid"`
	Granted   int64 `json:"granted"`
	Untracked int64 `json:"untracked"`
	// Expiring is the remainder of the grants that expire at or before
	// ExpiringBefore (now + within), held parts included.
	Expiring       int64     `json:"expiring"`
	ExpiringBefore time.Time `json:"expiring_before"`
	// WithinSeconds is the window used.
	WithinSeconds int64         `json:"within_seconds"`
	Grants        []CreditGrant `json:"grants"`
}

func creditsOut(s coffer.CreditSummary, within time.Duration) WalletCredits {
	b := s.Balance
	out := WalletCredits{CustomerID: b.CustomerID, Currency: b.Currency, Balance: b.Amount, Held: b.Held,
		Available: b.Available(), Paid: s.Paid, Granted: s.Granted, Untracked: s.Untracked, Expiring: s.Expiring,
		ExpiringBefore: s.ExpiringBefore, WithinSeconds: int64(within / time.Second),
		Grants: make([]CreditGrant, 0, len(s.Grants))}
	for _, g := range s.Grants {
		out.Grants = append(out.Grants, grantOut(g))
	}
	return out
}

// DefaultCreditWindow is the window of GET .../credits without within.
const DefaultCreditWindow = 30 * 24 * time.Hour

// maxCreditWindow bounds within (100 years).
const maxCreditWindow = 100 * 365 * 24 * time.Hour

// parseWindow reads a window: whole seconds ("2592000"), whole days
// ("30d") or a Go duration ("720h", "90m"); within [0, 100 years].
func parseWindow(name, s string) (time.Duration, error) {
	bad := invalidParam(name, name+` must be whole seconds (2592000), days ("30d") or a duration ("720h"), from 0 to 100 years`)
	var d time.Duration
	switch {
	case s == "":
		return DefaultCreditWindow, nil
	case strings.HasSuffix(s, "d"):
		n, err := strconv.ParseInt(strings.TrimSuffix(s, "d"), 10, 64)
		if err != nil || n < 0 || n > int64(maxCreditWindow/(24*time.Hour)) {
			return 0, bad
		}
		d = time.Duration(n) * 24 * time.Hour
	default:
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			if n < 0 || n > int64(maxCreditWindow/time.Second) {
				return 0, bad
			}
			d = time.Duration(n) * time.Second
			break
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return 0, bad
		}
		d = v
	}
	if d < 0 || d > maxCreditWindow {
		return 0, bad
	}
	return d, nil
}

func (h *Handler) creditRoutes() {
	h.handle("GET /customers/{customer_id}/wallets/{currency}/credits", h.getCredits, doc{Tag: "wallets", Extension: true,
		Summary: "Read a wallet's paid and granted credit and what expires soon",
		Description: "The balance split into paid and granted credit (paid + granted = balance; untracked is plain paid " +
			"credit no grant tracks), the remainder of the grants expiring within the window (expiring, up to " +
			"expiring_before), and the open grants in consumption order: priority (lower first), then earliest expiry " +
			"(never last), then age. within is whole seconds, days (\"30d\") or a duration (\"720h\"); default 30 days. " +
			"customer_id may be \"me\" for a restricted key.",
		Result: WalletCredits{}, Query: []queryParam{
			{Name: "within", Type: "string", Description: "The expiry window: 2592000, \"30d\" or \"720h\" (default 30 days, at most 100 years)."},
		}})
}

func (h *Handler) getCredits(c *call) (any, error) {
	cu, err := c.customerParam()
	if err != nil {
		return nil, err
	}
	cur := c.r.PathValue("currency")
	if !walletCodeShape(cur) {
		return nil, invalidParam("currency", "currency must be an ISO-4217 code such as USD or a unit code such as api_calls")
	}
	q, err := c.query()
	if err != nil {
		return nil, err
	}
	within, err := parseWindow("within", q.str("within"))
	if err != nil {
		return nil, err
	}
	s, err := h.eng.ExpiringCredits(c.ctx(), cu.ID, walletCode(cur), within)
	if err != nil {
		return nil, err
	}
	return creditsOut(s, within), nil
}

// creditTerms turns a ledger-entry body's credit extensions into the
// EntryParams fields. A malformed expires_at is a 422 INVALID_PARAMETER;
// every other check (a kind other than paid or granted, a priority out of
// range, an expiry not in the future, terms on a debit) is the Engine's,
// with its code (INVALID_ENTRY).
func (in *ledgerEntryCreate) creditTerms(p *coffer.EntryParams) error {
	if in.CreditKind != nil {
		p.CreditKind = ledger.CreditKind(*in.CreditKind)
	}
	if in.Priority.Set {
		// An int64 beyond int (32-bit platforms) is out of range either way:
		// the Engine refuses it with its own code.
		v := in.Priority.V
		switch {
		case v > math.MaxInt32:
			v = ledger.MaxPriority + 1
		case v < math.MinInt32:
			v = ledger.MinPriority - 1
		}
		p.Priority = int(v)
	}
	if in.ExpiresAt != nil {
		t, err := time.Parse(time.RFC3339Nano, *in.ExpiresAt)
		if err != nil {
			return invalidParam("expires_at", "expires_at must be an RFC 3339 date-time such as 2026-04-01T09:00:00Z")
		}
		p.ExpiresAt = t
	}
	return nil
}

// entryTerms are the terms an entry posted with p carries, as the Engine
// keeps them (kind defaulted, expiry in UTC to the microsecond); false for
// a plain entry.
func entryTerms(p coffer.EntryParams) (ledger.CreditTerms, bool) {
	t := ledger.CreditTerms{Kind: p.CreditKind, Priority: p.Priority, ExpiresAt: p.ExpiresAt}
	if p.Type != ledger.Credit || t.Plain() {
		return ledger.CreditTerms{}, false
	}
	return t.Normal(), true
}

// withTerms sets an entry answer's credit extensions.
func (e LedgerEntry) withTerms(t ledger.CreditTerms) LedgerEntry {
	k, pr := string(t.Kind), t.Priority
	e.CreditKind, e.Priority = &k, &pr
	if !t.ExpiresAt.IsZero() {
		x := t.ExpiresAt.UTC()
		e.ExpiresAt = &x
	}
	return e
}

// CreditExpiredEvent is the data of a wallet.credit_expired webhook in
// Dodo's envelope: the grant after the expiry (expired counts what
// expired), the "Expired credit" debit entry (reference_type expiry,
// reference_object_id the grant) and the wallet after it, as the API
// shows them.
type CreditExpiredEvent struct {
	CustomerID  string         `json:"customer_id"`
	Currency    string         `json:"currency"`
	Amount      int64          `json:"amount"`
	Grant       CreditGrant    `json:"grant"`
	LedgerEntry LedgerEntry    `json:"ledger_entry"`
	Wallet      CustomerWallet `json:"wallet"`
	PayloadType string         `json:"payload_type"`
}

func (h *Handler) creditExpiredData(ctx context.Context, raw []byte) (any, error) {
	var d coffer.CreditExpired
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, err
	}
	if d.Grant.CustomerID == "" || d.Entry.ID == "" {
		return nil, fmt.Errorf("not a wallet.credit_expired event's data")
	}
	cu, err := h.eng.Customer(ctx, d.Grant.CustomerID)
	if err != nil {
		return nil, err
	}
	return CreditExpiredEvent{CustomerID: cu.ID, Currency: d.Grant.Currency, Amount: d.Entry.Amount,
		Grant: grantOut(d.Grant), LedgerEntry: h.entryOut(d.Entry), Wallet: walletOut(cu, d.Balance),
		PayloadType: "CreditExpired"}, nil
}
