package coffer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
)

// Credits that expire; paid and granted credits.
//
// A credit entry may carry terms (ledger.CreditTerms: a kind, paid or
// granted; a priority, lower consumed first, default 0; an expiry). Such a
// credit is a grant (ledger.Grant), kept by the store beside its entry
// (store.CreditGrants). Every debit takes from the wallet's credit in
// consumption order — priority, then earliest expiry (never last), then
// age — and records what it took from each grant (its allocations); a hold
// reserves in the same order, its capture consumes what it reserved, its
// release frees it. The grant's remainder is derived data kept in the
// transaction of the entry that moves it; the ledger entries stay the one
// balance (balance = sum of entries).
//
// A plain credit (no terms) on a wallet without open grants is not
// tracked: it joins the wallet's untracked credit (ledger.Untracked), a
// paid credit of priority 0 that never expires, older than every open
// grant. On a wallet with open grants a plain credit becomes a paid grant
// too, so that age order holds exactly. The cost of an entry on a wallet
// that never had terms is one lookup of its (empty) open grants.

// errCreditsUnsupported: credit terms on a store that keeps no grants.
var errCreditsUnsupported = fmt.Errorf("%w: this store keeps no credit grants", ledger.ErrInvalidCredit)

// creditWallet is what a posting knows of its wallet's grants: the store's
// grant methods (nil when it has none) and the open grants read with the
// balance.
type creditWallet struct {
	g    store.CreditGrants
	open []ledger.Grant
}

func (c creditWallet) tracks() bool { return c.g != nil }

// checkCredit normalises a request's credit terms: plain terms are dropped
// (a plain credit), others checked for shape. The expiry is checked against
// the clock when the entry is posted (trackEntry), after the idempotency
// lookup, so that a replay after the expiry still answers the original.
func (e *Engine) checkCredit(req *ledger.Request) error {
	if req.Credit == nil {
		return nil
	}
	if req.Credit.Plain() {
		req.Credit = nil
		return nil
	}
	if err := req.Credit.Validate(time.Time{}); err != nil {
		return err
	}
	t := req.Credit.Normal()
	req.Credit = &t
	return nil
}

// balanceGrantsForUpdate is balanceForUpdate that also reads the wallet's
// open grants when the store keeps grants (in the same step: one round
// trip on PostgreSQL).
func (e *Engine) balanceGrantsForUpdate(tx store.Tx, customerID, currency string) (wallet.Balance, creditWallet, error) {
	cg, ok := store.As[store.CreditGrants](tx)
	if !ok {
		b, err := e.balanceForUpdate(tx, customerID, currency)
		return b, creditWallet{}, err
	}
	b, open, err := cg.BalanceGrants(customerID, currency)
	if err == nil {
		return b, creditWallet{g: cg, open: open}, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return b, creditWallet{}, err
	}
	b, err = e.balanceForUpdate(tx, customerID, currency)
	return b, creditWallet{g: cg}, err
}

// trackEntry records what entry (posted on balance b) does to the wallet's
// grants: a credit with terms (or any credit on a wallet with open grants)
// becomes a grant, a refund credit re-grants what the payment consumed, a
// debit consumes grants in order.
func (e *Engine) trackEntry(tx store.Tx, cw creditWallet, b wallet.Balance, entry *ledger.Entry, req ledger.Request) error {
	if !cw.tracks() {
		if req.Credit != nil {
			return errCreditsUnsupported
		}
		return nil
	}
	switch entry.Type {
	case ledger.Credit:
		if req.Credit != nil && !req.Credit.ExpiresAt.IsZero() && !req.Credit.ExpiresAt.After(entry.CreatedAt) {
			return fmt.Errorf("%w: expires_at must be in the future", ledger.ErrInvalidCredit)
		}
		if req.Reference.Type == ledger.RefRefund && req.Credit == nil {
			return e.regrant(tx, cw, entry, req.Reference.ID)
		}
		if req.Credit == nil && len(cw.open) == 0 {
			return nil // untracked
		}
		var terms ledger.CreditTerms
		if req.Credit != nil {
			terms = *req.Credit
		}
		return cw.g.InsertGrant(ledger.NewGrant(*entry, terms))
	case ledger.Debit:
		if len(cw.open) == 0 {
			return nil
		}
		_, err := consumeGrants(cw, b, entry.ID, entry.Amount, 1, 0)
		return err
	}
	return nil
}

// consumeGrants allocates amount across the wallet's credit in consumption
// order, applies it to the grants (consume, hold: see ledger.Apply) and
// stores the changed grants and the allocations under owner.
func consumeGrants(cw creditWallet, b wallet.Balance, owner string, amount, consume, hold int64) ([]ledger.Allocation, error) {
	open := slices.Clone(cw.open)
	ledger.SortGrants(open)
	u, uh := ledger.Untracked(b, open)
	allocs, err := ledger.Allocate(open, u-uh, amount)
	if err != nil {
		return nil, err
	}
	return allocs, applyAllocations(cw.g, open, owner, allocs, consume, hold, true)
}

// applyAllocations applies allocs to the open grants and stores the
// grants it changed, and (when record) the allocations under owner.
func applyAllocations(g store.CreditGrants, open []ledger.Grant, owner string, allocs []ledger.Allocation, consume, hold int64, record bool) error {
	changed, err := ledger.Apply(open, allocs, consume, hold)
	if err != nil {
		return err
	}
	for _, c := range changed {
		if err := g.UpdateGrant(c); err != nil {
			return err
		}
	}
	if record && len(allocs) > 0 {
		return g.PutAllocations(owner, allocs)
	}
	return nil
}

// ---- holds ----

// holdGrants moves a wallet's grants for a hold that changed status:
// placed (pending, reserving its amount in consumption order), captured
// (its entry consumes what it reserved) or released (freeing it). b is
// the balance before the change. A store without grants does nothing.
func (e *Engine) holdGrants(tx store.Tx, b wallet.Balance, h ledger.Hold) error {
	cg, ok := store.As[store.CreditGrants](tx)
	if !ok {
		return nil
	}
	switch h.Status {
	case ledger.HoldPending:
		open, err := cg.OpenGrants(h.CustomerID, h.Currency)
		if err != nil || len(open) == 0 {
			return err
		}
		_, err = consumeGrants(creditWallet{g: cg, open: open}, b, h.ID, h.Amount, 0, 1)
		return err
	case ledger.HoldCaptured, ledger.HoldReleased:
		allocs, err := cg.Allocations(h.ID)
		if err != nil || len(allocs) == 0 {
			return err
		}
		open, err := cg.OpenGrants(h.CustomerID, h.Currency)
		if err != nil {
			return err
		}
		if h.Status == ledger.HoldReleased {
			return applyAllocations(cg, open, h.ID, allocs, 0, -1, false)
		}
		return applyAllocations(cg, open, h.EntryID, allocs, 1, -1, true)
	}
	return nil
}

// ---- refunds to the wallet ----

// regrant makes the grants of a refund credit: the wallet part of a
// payment came from grants (the allocations of its captured hold), and the
// refund gives back fresh grants with the original terms (kind, priority,
// expiry), the last consumed first; what the payment took from untracked
// credit (or what no allocation covers) comes back as paid credit, a paid
// grant when the wallet has open grants. An expiry that has passed
// meanwhile is kept: the next expiry pass expires that part.
func (e *Engine) regrant(tx store.Tx, cw creditWallet, entry *ledger.Entry, refundID string) error {
	allocs, err := refundSources(tx, cw.g, refundID)
	if err != nil {
		return err
	}
	left, paid := entry.Amount, int64(0)
	var grants []ledger.Grant
	for _, a := range allocs {
		if left == 0 {
			break
		}
		amt := min(a.Amount, left)
		left -= amt
		if a.GrantID == "" {
			paid += amt
			continue
		}
		src, err := cw.g.Grant(a.GrantID)
		if err != nil {
			return err
		}
		g := ledger.NewGrant(*entry, ledger.CreditTerms{Kind: src.Kind, Priority: src.Priority, ExpiresAt: src.ExpiresAt})
		g.Amount, g.Remaining, g.Source = amt, amt, src.ID
		grants = append(grants, g)
	}
	paid += left
	if paid > 0 && (len(grants) > 0 || len(cw.open) > 0) {
		g := ledger.NewGrant(*entry, ledger.CreditTerms{})
		g.Amount, g.Remaining = paid, paid
		grants = append(grants, g)
	}
	for i, g := range grants {
		if len(grants) > 1 {
			g.ID = entry.ID + ":" + strconv.Itoa(i+1)
		}
		if err := cw.g.InsertGrant(g); err != nil {
			return err
		}
	}
	return nil
}

// refundSources returns the allocations a refund gives back: those of the
// refunded payment's captured hold, in reverse consumption order, after
// what the payment's earlier succeeded wallet refunds gave back.
func refundSources(tx store.Tx, cg store.CreditGrants, refundID string) ([]ledger.Allocation, error) {
	r, err := tx.Refund(refundID)
	if err != nil {
		return nil, err
	}
	pay, err := getPayment(tx, r.PaymentID)
	if err != nil || pay.HoldID == "" {
		return nil, err
	}
	h, err := tx.Hold(pay.HoldID)
	if err != nil || h.Status != ledger.HoldCaptured {
		return nil, err
	}
	allocs, err := cg.Allocations(h.EntryID)
	if err != nil || len(allocs) == 0 {
		return nil, err
	}
	slices.Reverse(allocs)
	refunds, err := tx.ListRefunds(pay.ID)
	if err != nil {
		return nil, err
	}
	var done int64
	for _, o := range refunds {
		if o.ID != r.ID && o.Status == subscription.RefundSucceeded {
			done += o.WalletAmount
		}
	}
	out := allocs[:0]
	for _, a := range allocs {
		skip := min(a.Amount, done)
		done -= skip
		if a.Amount > skip {
			out = append(out, ledger.Allocation{GrantID: a.GrantID, Amount: a.Amount - skip})
		}
	}
	return out, nil
}

// ---- expiry ----

// expireBatch bounds one batch of due grants; maxExpireBatches bounds the
// batches of one pass.
const (
	expireBatch      = 100
	maxExpireBatches = 10
)

// ExpireCredits runs one expiry pass: for every grant whose expiry has
// passed (by the engine's clock) and that has a free remainder, it posts
// one debit entry "Expired credit" of that remainder (reference type
// expiry, the grant's id), atomically with wallet.balance_changed and
// wallet.credit_expired events. It reads due grants through the store's
// expiry index, in batches of 100 (at most 1,000 a pass), one transaction
// per grant. It is idempotent and safe to run from several processes at
// once: a grant's remainder expires once. A part of an expired grant that
// a pending hold reserves is not expired while held: captured it is
// consumed, released it expires at the next pass. It returns the number of
// grants it expired.
func (e *Engine) ExpireCredits(ctx context.Context) (int, error) {
	n := 0
	for range maxExpireBatches {
		now := e.clock.Now()
		var due []ledger.Grant
		err := e.store.View(ctx, func(tx store.Tx) error {
			cg, ok := store.As[store.CreditGrants](tx)
			if !ok {
				return nil
			}
			var err error
			due, err = cg.DueGrants(now, expireBatch)
			return err
		})
		if err != nil || len(due) == 0 {
			return n, err
		}
		progress := false
		for _, g := range due {
			done, err := e.expireGrant(ctx, g)
			if err != nil {
				return n, err
			}
			if done {
				n++
			}
			progress = true
		}
		if len(due) < expireBatch || !progress {
			return n, nil
		}
	}
	return n, nil
}

// expireGrant expires one grant's free remainder, if it is still there.
func (e *Engine) expireGrant(ctx context.Context, due ledger.Grant) (bool, error) {
	done := false
	err := e.update(ctx, func(tx store.Tx) error {
		done = false
		cg, _ := store.As[store.CreditGrants](tx)
		b, open, err := cg.BalanceGrants(due.CustomerID, due.Currency)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(open, func(g ledger.Grant) bool { return g.ID == due.ID })
		now := e.clock.Now()
		if i < 0 || !open[i].ExpiredAt(now) || open[i].Free() <= 0 {
			return nil // expired by another pass meanwhile, or held
		}
		g := open[i]
		amount := g.Free()
		req := ledger.Request{Amount: amount, Currency: g.Currency, Type: ledger.Debit, Reason: ledger.ExpiredReason,
			IdempotencyKey: "expire:" + g.ID + ":" + strconv.FormatInt(g.Expired, 10),
			Reference:      ledger.Reference{Type: ledger.RefExpiry, ID: g.ID}}
		entry, after, err := ledger.Post(b, req, newID("le"), now)
		if err != nil {
			return err
		}
		if err := tx.InsertEntry(entry); err != nil {
			return err
		}
		g.Remaining -= amount
		g.Expired += amount
		if err := cg.UpdateGrant(g); err != nil {
			return err
		}
		if err := cg.PutAllocations(entry.ID, []ledger.Allocation{{GrantID: g.ID, Amount: amount}}); err != nil {
			return err
		}
		if err := e.putBalance(tx, after, &entry); err != nil {
			return err
		}
		after, err = tx.Balance(after.CustomerID, after.Currency)
		if err != nil {
			return err
		}
		done = true
		return e.emit(tx, EventCreditExpired, g.CustomerID, CreditExpired{Grant: g, Entry: entry, Balance: after})
	})
	return done, err
}

func (e *Engine) expirePass(ctx context.Context) error {
	n, err := e.ExpireCredits(ctx)
	if n > 0 {
		e.log.LogAttrs(ctx, slog.LevelInfo, "coffer: credits expired", slog.Int("grants", n))
	}
	return err
}

// ---- reading ----

// CreditSummary is a wallet's credit by kind and what of it expires soon.
type CreditSummary struct {
	Balance wallet.Balance `json:"balance"`
	// Untracked is the plain paid credit no grant tracks (part of Paid).
	Untracked int64 `json:"untracked"`
	// Paid and Granted split the balance by kind: Paid + Granted ==
	// Balance.Amount.
	Paid    int64 `json:"paid"`
	Granted int64 `json:"granted"`
	// Expiring is the remainder of the grants that expire at or before
	// ExpiringBefore (now + the window asked for), held parts included.
	Expiring       int64     `json:"expiring"`
	ExpiringBefore time.Time `json:"expiring_before"`
	// Grants are the wallet's open grants, in consumption order.
	Grants []ledger.Grant `json:"grants"`
}

// ExpiringCredits returns a wallet's credit by kind, its open grants in
// consumption order, and how much of it expires within the window (from
// the engine's clock). A store that keeps no grants reports the whole
// balance as untracked paid credit.
func (e *Engine) ExpiringCredits(ctx context.Context, customerID, currency string, within time.Duration) (CreditSummary, error) {
	var out CreditSummary
	if err := checkCustomerID(customerID); err != nil {
		return out, err
	}
	if within < 0 {
		return out, fmt.Errorf("%w: the expiry window must not be negative", ErrInvalid)
	}
	code, err := e.walletCode(ctx, currency)
	if err != nil {
		return out, err
	}
	err = e.store.View(ctx, func(tx store.Tx) error {
		b, cw, err := e.balanceGrantsForUpdate(tx, customerID, code)
		if err != nil {
			return err
		}
		out = summarize(b, cw.open, e.clock.Now().Add(within))
		return nil
	})
	return out, err
}

func summarize(b wallet.Balance, open []ledger.Grant, before time.Time) CreditSummary {
	open = slices.Clone(open)
	ledger.SortGrants(open)
	u, _ := ledger.Untracked(b, open)
	s := CreditSummary{Balance: b, Untracked: u, Paid: u, ExpiringBefore: before.UTC(), Grants: open}
	if s.Grants == nil {
		s.Grants = []ledger.Grant{}
	}
	for _, g := range open {
		if g.Kind == ledger.KindGranted {
			s.Granted += g.Remaining
		} else {
			s.Paid += g.Remaining
		}
		if !g.ExpiresAt.IsZero() && !g.ExpiresAt.After(before) {
			s.Expiring += g.Remaining
		}
	}
	return s
}
