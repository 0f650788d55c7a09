package coffer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cofferhq/coffer/internal/text"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/wallet"
)

// Credit units (credit-based billing).
//
// A wallet holds an ISO-4217 currency or a unit (money.Unit): api_calls,
// tokens, credits, ... A unit wallet follows every rule of a money wallet —
// ledger entries with idempotency keys, no overdraft, credit terms (kind,
// priority, expiry: credits.go) and their expiry pass, low-balance
// thresholds, wallet.balance_changed / wallet.credit_expired events — and
// adds the usage debit call RecordUsage (usage.go). Charges, payments and
// refunds stay in ISO-4217 currencies: a unit code is refused wherever
// money moves through a processor, and a unit wallet is never applied to a
// money charge (a charge applies the wallet of its own currency only).
//
// Unit codes are lower-case (money.CheckUnitCode) and never three letters,
// so they can never be read as an ISO code, which coffer matches
// case-insensitively ("usd" is USD). An undefined unit code is
// money.ErrUnknownUnit (code unknown_unit); a malformed definition
// money.ErrInvalidUnit (invalid_unit); a code that is neither ISO-4217 nor
// unit-shaped stays money.ErrUnknownCurrency (unknown_currency).
//
// Units come from two places: WithUnits (configuration, kept in memory by
// that Engine only) and DefineUnit (stored: every Engine on the store
// sees it). A unit is immutable once defined; the Engine caches every unit
// it has read, so a wallet call in a unit costs no extra store read after
// the first.

// ErrUnitConflict: DefineUnit of a code already defined otherwise (another
// exponent, name or price). It is of the 409 class (unit_conflict).
var ErrUnitConflict = errors.New("coffer: unit already defined otherwise")

// errUnitsUnsupported: DefineUnit on a store that keeps no units.
var errUnitsUnsupported = fmt.Errorf("%w: this store keeps no units", ErrInvalidConfig)

// unitCache is an Engine's known units: those of WithUnits (static) and
// every stored unit it has read. Units never change, so an entry never
// goes stale; an undefined code is not cached (another Engine may define
// it at any time).
type unitCache struct {
	mu     sync.RWMutex
	byCode map[string]money.Unit
	static map[string]bool
}

func (c *unitCache) get(code string) (money.Unit, bool) {
	c.mu.RLock()
	u, ok := c.byCode[code]
	c.mu.RUnlock()
	return u, ok
}

func (c *unitCache) put(u money.Unit, static bool) {
	c.mu.Lock()
	if c.byCode == nil {
		c.byCode = make(map[string]money.Unit)
		c.static = make(map[string]bool)
	}
	c.byCode[u.Code] = u
	money.RegisterUnitFormat(u) // the dashboard and portal render it with its decimals
	if static {
		c.static[u.Code] = true
	}
	c.mu.Unlock()
}

func (c *unitCache) has(code string) bool { _, ok := c.get(code); return ok }

// WithUnits makes units known to this Engine without storing them (a unit
// of configuration, the same in every process that passes it). A code may
// not be passed twice; DefineUnit of one of these codes answers the unit
// when the definition is the same and ErrUnitConflict otherwise. A zero
// Price.Per is 1; CreatedAt is ignored.
func WithUnits(units ...money.Unit) Option {
	return func(e *Engine) error {
		for _, u := range units {
			u = u.Normal()
			u.CreatedAt = time.Time{}
			if err := u.Validate(); err != nil {
				return fmt.Errorf("%w: %v", ErrInvalidConfig, err)
			}
			if e.units.has(u.Code) {
				return fmt.Errorf("%w: unit %s given twice", ErrInvalidConfig, u.Code)
			}
			e.units.put(u, true)
		}
		return nil
	}
}

// UnitParams defines a unit (DefineUnit).
type UnitParams struct {
	// Code: 1..32 bytes of [a-z0-9_], starting with a letter, not three
	// letters alone (money.CheckUnitCode).
	Code string `json:"code"`
	// Exponent: decimal places of the unit's major unit, 0..6 (api_calls
	// 0, credits 2). Wallet amounts are in its minor unit.
	Exponent int `json:"exponent"`
	// Name: a display name, at most 64 characters.
	Name string `json:"name,omitempty"`
	// Price, when set: Price.Amount minor units of Price.Currency (ISO-4217)
	// for Price.Per minor units of the unit (0: 1).
	Price *money.UnitPrice `json:"price,omitempty"`
}

// DefineUnit defines a credit unit on the store, so that every Engine on it
// accepts wallets and ledger entries in it. It is idempotent: defining a
// code again with the same definition answers the existing unit (with its
// original CreatedAt); with another definition it fails with
// ErrUnitConflict and changes nothing. A malformed definition is
// money.ErrInvalidUnit.
func (e *Engine) DefineUnit(ctx context.Context, p UnitParams) (money.Unit, error) {
	u := money.Unit{Code: p.Code, Exponent: p.Exponent, Name: p.Name, Price: p.Price}.Normal()
	if err := u.Validate(); err != nil {
		return money.Unit{}, err
	}
	if prev, ok := e.units.get(u.Code); ok {
		if !prev.Same(u) {
			return money.Unit{}, fmt.Errorf("%w: %s", ErrUnitConflict, u.Code)
		}
		e.units.mu.RLock()
		static := e.units.static[u.Code]
		e.units.mu.RUnlock()
		if static {
			return prev, nil
		}
	}
	u.CreatedAt = e.clock.Now().UTC().Truncate(time.Microsecond)
	var out money.Unit
	err := e.update(ctx, func(tx store.Tx) error {
		us, ok := store.As[store.Units](tx)
		if !ok {
			return errUnitsUnsupported
		}
		prev, err := us.Unit(u.Code)
		switch {
		case err == nil:
			if !prev.Same(u) {
				return fmt.Errorf("%w: %s", ErrUnitConflict, u.Code)
			}
			out = prev
			return nil
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		if err := us.InsertUnit(u); err != nil {
			return err
		}
		out = u
		return nil
	})
	if err != nil {
		return money.Unit{}, err
	}
	e.units.put(out, false)
	return out, nil
}

// Unit returns a unit by code: one of WithUnits or one defined on the
// store. An undefined (well-formed) code is money.ErrUnknownUnit, a
// malformed one money.ErrInvalidUnit.
func (e *Engine) Unit(ctx context.Context, code string) (money.Unit, error) {
	if err := money.CheckUnitCode(code); err != nil {
		return money.Unit{}, err
	}
	return e.lookupUnit(ctx, code)
}

// Units lists the known units, sorted by code: those of WithUnits and
// those stored.
func (e *Engine) Units(ctx context.Context) ([]money.Unit, error) {
	var out []money.Unit
	err := e.store.View(ctx, func(tx store.Tx) error {
		us, ok := store.As[store.Units](tx)
		if !ok {
			return nil
		}
		var err error
		out, err = us.ListUnits()
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, u := range out {
		e.units.put(u, false)
	}
	e.units.mu.RLock()
	for code := range e.units.static {
		if !slices.ContainsFunc(out, func(u money.Unit) bool { return u.Code == code }) {
			out = append(out, e.units.byCode[code])
		}
	}
	e.units.mu.RUnlock()
	slices.SortFunc(out, func(a, b money.Unit) int { return strings.Compare(a.Code, b.Code) })
	if out == nil {
		out = []money.Unit{}
	}
	return out, nil
}

// lookupUnit returns a well-formed unit code's unit: cached, or read from
// the store (and cached).
func (e *Engine) lookupUnit(ctx context.Context, code string) (money.Unit, error) {
	if u, ok := e.units.get(code); ok {
		return u, nil
	}
	var u money.Unit
	err := e.store.View(ctx, func(tx store.Tx) error {
		us, ok := store.As[store.Units](tx)
		if !ok {
			return store.ErrNotFound
		}
		var err error
		u, err = us.Unit(code)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return money.Unit{}, fmt.Errorf("%w: %s", money.ErrUnknownUnit, text.Quote(code))
	}
	if err != nil {
		return money.Unit{}, err
	}
	e.units.put(u, false)
	return u, nil
}

// walletCode resolves the currency of a wallet call: a unit-shaped code
// must be a known unit (money.ErrUnknownUnit otherwise); anything else is
// checked against the enabled ISO-4217 currencies, as before units
// (money.ErrUnknownCurrency, money.ErrCurrencyDisabled). It returns the
// code the wallet is stored under.
func (e *Engine) walletCode(ctx context.Context, code string) (string, error) {
	code = strings.TrimSpace(code)
	if money.IsUnitCode(code) {
		u, err := e.lookupUnit(ctx, code)
		return u.Code, err
	}
	c, err := e.currencies.Check(code)
	return c.Code, err
}

// filterCode resolves the currency filter of a list: any ISO-4217
// currency (enabled or not, as before units) or a known unit.
func (e *Engine) filterCode(ctx context.Context, code string) (string, error) {
	if money.IsUnitCode(code) {
		u, err := e.lookupUnit(ctx, code)
		return u.Code, err
	}
	c, err := money.Lookup(code)
	return c.Code, err
}

// walletKnownTx reports whether a wallet may exist in code: an enabled
// currency or a known unit — cached, or read in tx (a purchase of units
// settled by another process than the one that sold it).
func (e *Engine) walletKnownTx(tx store.Tx, code string) bool {
	if e.currencies.Has(code) || e.units.has(code) {
		return true
	}
	us, ok := store.As[store.Units](tx)
	if !ok || !money.IsUnitCode(code) {
		return false
	}
	u, err := us.Unit(code)
	if err != nil {
		return false
	}
	e.units.put(u, false)
	return true
}

// FormatUnits renders minor units of a wallet's code in major units: a
// currency's decimal places for an ISO-4217 code, the unit's exponent for
// a known unit (an unknown code renders as the bare integer).
func (e *Engine) FormatUnits(ctx context.Context, minor int64, code string) string {
	if money.IsUnitCode(code) {
		if u, err := e.lookupUnit(ctx, code); err == nil {
			return u.Format(minor)
		}
	}
	return money.Format(minor, code)
}

// preloadUnit reads a unit-shaped code's unit into the cache, so that the
// checks that follow (cachedWalletCode) find it; other codes pass.
func (e *Engine) preloadUnit(ctx context.Context, code string) error {
	code = strings.TrimSpace(code)
	if !money.IsUnitCode(code) {
		return nil
	}
	_, err := e.lookupUnit(ctx, code)
	return err
}

// cachedWalletCode is walletCode answering units from the cache only
// (money.ErrUnknownUnit for a unit not read yet: see preloadUnit).
func (e *Engine) cachedWalletCode(code string) (string, error) {
	code = strings.TrimSpace(code)
	if money.IsUnitCode(code) {
		if !e.units.has(code) {
			return "", fmt.Errorf("%w: %s", money.ErrUnknownUnit, text.Quote(code))
		}
		return code, nil
	}
	c, err := e.currencies.Check(code)
	return c.Code, err
}

// MaxBalancesBatch bounds the customer ids of one CustomerBalances call
// (a list page holds at most 100 customers).
const MaxBalancesBatch = 100

// CustomerBalances returns the wallet balances of several customers, read
// in one store View (one consistent read): customer id -> its balances,
// sorted by currency, as Balances gives them. It is for lists (the HTTP
// customer list's token_balance): customers are not checked to exist, so
// an unknown id gets what the store keeps for it (no wallets). A malformed
// id is customer.ErrInvalid (as in Balances); more than
// MaxBalancesBatch ids is ErrInvalid. Duplicate ids are read once.
func (e *Engine) CustomerBalances(ctx context.Context, customerIDs []string) (map[string][]wallet.Balance, error) {
	if len(customerIDs) > MaxBalancesBatch {
		return nil, fmt.Errorf("%w: at most %d customers per balances read", ErrInvalid, MaxBalancesBatch)
	}
	for _, id := range customerIDs {
		if err := checkCustomerID(id); err != nil {
			return nil, err
		}
	}
	out := make(map[string][]wallet.Balance, len(customerIDs))
	if len(customerIDs) == 0 {
		return out, nil
	}
	err := e.store.View(ctx, func(tx store.Tx) error {
		clear(out) // a retried View starts over
		for _, id := range customerIDs {
			if _, ok := out[id]; ok {
				continue
			}
			bs, err := tx.Balances(id)
			if err != nil {
				return err
			}
			out[id] = bs
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
