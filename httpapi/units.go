package httpapi

import (
	"context"
	"strings"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/wallet"
)

// Credit units (coffer extensions): POST /units defines one, GET /units and
// GET /units/{code} read them. Wallets, ledger entries, credits, low-balance
// thresholds and spending reports take a unit code wherever they take a
// currency; the customer's token_balance shows its unit wallets.

// Unit is a credit unit on the wire.
type Unit struct {
	Code     string     `json:"code"`
	Exponent int        `json:"exponent"`
	Name     string     `json:"name"`
	Price    *UnitPrice `json:"price" null:"true"`
	// CreatedAt is null for a unit of the engine's configuration
	// (coffer.WithUnits), which is not stored.
	CreatedAt *time.Time `json:"created_at" null:"true"`
}

// UnitPrice is a unit's price: amount minor units of currency for per
// minor units of the unit.
type UnitPrice struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	Per      int64  `json:"per"`
}

// UnitList is the answer of GET /units (every unit, sorted by code: the
// list is bounded by what an operator defines, so it has no pages).
type UnitList struct {
	Items []Unit `json:"items"`
}

// unitCreate is the body of POST /units.
type unitCreate struct {
	Code     string `json:"code"`
	Exponent Int64  `json:"exponent"`
	Name     string `json:"name"`
	Price    *struct {
		Amount   Int64  `json:"amount"`
		Currency string `json:"currency"`
		Per      Int64  `json:"per"`
	} `json:"price"`
}

func unitOut(u money.Unit) Unit {
	out := Unit{Code: u.Code, Exponent: u.Exponent, Name: u.Name}
	if p := u.Price; p != nil {
		out.Price = &UnitPrice{Amount: p.Amount, Currency: p.Currency, Per: p.Per}
	}
	if !u.CreatedAt.IsZero() {
		t := u.CreatedAt
		out.CreatedAt = &t
	}
	return out
}

func (h *Handler) unitRoutes() {
	h.handle("POST /units", h.defineUnit, doc{Tag: "units", Extension: true,
		Summary: "Define a credit unit",
		Description: "Engine.DefineUnit: a unit wallets may hold besides ISO-4217 currencies (api_calls, tokens, credits). " +
			"code is 1 to 32 bytes of lower-case letters, digits and underscores, starting with a letter, and never three " +
			"letters alone (those are ISO-4217's); exponent 0 to 6 is its decimal places (wallet amounts count its minor " +
			"unit); price (optional) is amount minor units of an ISO-4217 currency for per minor units of the unit. A unit " +
			"is immutable: defining it again with the same body answers the unit, with another body it is a 409 " +
			"UNIT_CONFLICT. Needs an unrestricted key.",
		Body: unitCreate{}, Result: Unit{}})
	h.handle("GET /units", h.listUnits, doc{Tag: "units", Extension: true,
		Summary: "List the credit units", Description: "Every unit, sorted by code: those of the engine's configuration and those defined.",
		Result: UnitList{}})
	h.handle("GET /units/{code}", h.getUnit, doc{Tag: "units", Extension: true,
		Summary: "Retrieve a credit unit", Description: "An unknown unit is a 422 UNKNOWN_UNIT.", Result: Unit{}})
	h.unitPurchaseRoutes()
}

func (h *Handler) defineUnit(c *call) (any, error) {
	if err := c.operatorOnly(); err != nil {
		return nil, err
	}
	var in unitCreate
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if in.Exponent.V < 0 || in.Exponent.V > money.MaxUnitExponent {
		return nil, invalidParam("exponent", "exponent must be 0 to 6")
	}
	p := coffer.UnitParams{Code: in.Code, Exponent: int(in.Exponent.V), Name: in.Name}
	if in.Price != nil {
		p.Price = &money.UnitPrice{Amount: in.Price.Amount.V, Currency: in.Price.Currency, Per: in.Price.Per.V}
	}
	u, err := h.eng.DefineUnit(c.ctx(), p)
	if err != nil {
		return nil, err
	}
	return unitOut(u), nil
}

func (h *Handler) listUnits(c *call) (any, error) {
	us, err := h.eng.Units(c.ctx())
	if err != nil {
		return nil, err
	}
	out := UnitList{Items: make([]Unit, 0, len(us))}
	for _, u := range us {
		out.Items = append(out.Items, unitOut(u))
	}
	return out, nil
}

func (h *Handler) getUnit(c *call) (any, error) {
	u, err := h.eng.Unit(c.ctx(), c.r.PathValue("code"))
	if err != nil {
		return nil, err
	}
	return unitOut(u), nil
}

// walletCode is a currency parameter as the engine takes it: a unit code
// (lower-case) as it is, anything else upper-cased (ISO-4217).
func walletCode(s string) string {
	s = strings.TrimSpace(s)
	if money.IsUnitCode(s) {
		return s
	}
	return strings.ToUpper(s)
}

// tokenBalance is PaymentKit's token_balance: the customer's unit wallets,
// unit code -> balance in major units as a decimal string ("12.34"
// credits, "1000" api_calls). ISO-4217 wallets are not in it.
func (h *Handler) tokenBalance(ctx context.Context, bs []wallet.Balance) map[string]string {
	out := map[string]string{}
	for _, b := range bs {
		if money.IsUnitCode(b.Currency) {
			out[b.Currency] = h.eng.FormatUnits(ctx, b.Amount, b.Currency)
		}
	}
	return out
}

// withTokens sets out's token_balance from the customer's wallets.
func (h *Handler) withTokens(c *call, out Customer) (Customer, error) {
	bs, err := h.eng.Balances(c.ctx(), out.CustomerID)
	if err != nil {
		return out, err
	}
	out.TokenBalance = h.tokenBalance(c.ctx(), bs)
	return out, nil
}

// walletCodeShape bounds a {currency} path parameter: a unit code, or at
// most 8 bytes (an ISO-4217 code, checked by the engine).
func walletCodeShape(s string) bool {
	return s != "" && (len(s) <= 8 || money.IsUnitCode(s))
}

// unitPurchaseCreate is the body of POST
// /customers/{customer_id}/wallets/unit-purchases: Engine.BuyUnits.
type unitPurchaseCreate struct {
	Unit           string   `json:"unit"`
	Quantity       Int64    `json:"quantity"`
	PaymentMethod  string   `json:"payment_method"`
	Description    *string  `json:"description"`
	Metadata       Metadata `json:"metadata"`
	IdempotencyKey *string  `json:"idempotency_key"`
	CreditKind     *string  `json:"credit_kind"`
	Priority       Int64    `json:"priority"`
	ExpiresAt      *string  `json:"expires_at"`
}

// Reservation is a usage reservation (a hold on a wallet).
type Reservation struct {
	ID         string    `json:"id"`
	CustomerID string    `json:"customer_id"`
	Unit       string    `json:"unit"`
	Quantity   int64     `json:"quantity"`
	Status     string    `json:"status"` // pending, captured (settled with a debit), released
	EntryID    *string   `json:"entry_id" null:"true"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	// Wallet is the wallet after the call.
	Wallet CustomerWallet `json:"wallet"`
}

type reservationCreate struct {
	Unit           string  `json:"unit"`
	Quantity       Int64   `json:"quantity"`
	IdempotencyKey *string `json:"idempotency_key"`
}

type reservationSettle struct {
	Quantity Int64   `json:"quantity"`
	Reason   *string `json:"reason"`
}

func (h *Handler) unitPurchaseRoutes() {
	h.handle("POST /customers/{customer_id}/wallets/unit-purchases", h.buyUnits, doc{Tag: "units", Extension: true,
		Summary: "Buy credit units with a card",
		Description: "Engine.BuyUnits: quantity (minor units of a priced unit, a multiple of its price's per) charged to " +
			"payment_method at quantity/per × price.amount in the price's currency (exact; an overflow is a 422 " +
			"AMOUNT_OVERFLOW), never from the wallet; the units are credited in the transaction recording the success, " +
			"under the optional credit terms. Requires an idempotency key (body or Idempotency-Key header). The answer is " +
			"the payment (its metadata names the unit and quantity). Refunds are in full only. Needs an unrestricted key.",
		Body: unitPurchaseCreate{}, Result: Payment{}})
	h.handle("POST /customers/{customer_id}/wallets/reservations", h.reserveUsage, doc{Tag: "units", Extension: true,
		Summary: "Reserve usage on a wallet",
		Description: "Engine.ReserveUsage: a hold of quantity on the wallet in unit (no overdraft: 400 INSUFFICIENT_FUNDS), " +
			"reserving credit grants in consumption order; settle it with what was used, or release it. Requires an " +
			"idempotency key: the same key and body answer the same reservation. Needs an unrestricted key.",
		Body: reservationCreate{}, Result: Reservation{}})
	h.handle("POST /reservations/{hold_id}/settle", h.settleUsage, doc{Tag: "units", Extension: true,
		Summary: "Settle a usage reservation",
		Description: "Engine.SettleUsage: releases the hold and debits quantity (>= 0; beyond the reserved quantity the " +
			"excess must be available) in one transaction. Settling again with the same quantity answers the same; " +
			"otherwise 409 HOLD_NOT_PENDING. Needs an unrestricted key.",
		Body: reservationSettle{}, Result: Reservation{}})
	h.handle("POST /reservations/{hold_id}/release", h.releaseUsage, doc{Tag: "units", Extension: true,
		Summary: "Release a usage reservation", Description: "Engine.ReleaseUsage. Needs an unrestricted key.",
		Result: Reservation{}})
}

func (h *Handler) buyUnits(c *call) (any, error) {
	if err := c.operatorOnly(); err != nil {
		return nil, err
	}
	cu, err := c.customerParam()
	if err != nil {
		return nil, err
	}
	var in unitPurchaseCreate
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	key, err := c.requiredKey(in.IdempotencyKey, "purchase")
	if err != nil {
		return nil, err
	}
	if !in.Quantity.Set {
		return nil, invalidParam("quantity", "quantity is required: minor units of the unit")
	}
	tp, err := purchaseTerms(in.CreditKind, in.Priority, in.ExpiresAt)
	if err != nil {
		return nil, err
	}
	p := coffer.BuyUnitsParams{Unit: in.Unit, Quantity: in.Quantity.V, PaymentMethod: in.PaymentMethod, Metadata: in.Metadata,
		IdempotencyKey: key, CreditKind: tp.CreditKind, Priority: tp.Priority, ExpiresAt: tp.ExpiresAt}
	if in.Description != nil {
		p.Description = *in.Description
	}
	pay, err := h.eng.BuyUnits(c.ctx(), cu.ID, p)
	if err != nil {
		return nil, err
	}
	return h.payment(c, pay)
}

func (h *Handler) reservationOut(c *call, hd ledger.Hold, b wallet.Balance) (Reservation, error) {
	cu, err := h.eng.Customer(c.ctx(), hd.CustomerID)
	if err != nil {
		return Reservation{}, err
	}
	return Reservation{ID: hd.ID, CustomerID: hd.CustomerID, Unit: hd.Currency, Quantity: hd.Amount, Status: string(hd.Status),
		EntryID: optString(hd.EntryID), CreatedAt: hd.CreatedAt, UpdatedAt: hd.UpdatedAt, Wallet: walletOut(cu, b)}, nil
}

func (h *Handler) reserveUsage(c *call) (any, error) {
	if err := c.operatorOnly(); err != nil {
		return nil, err
	}
	cu, err := c.customerParam()
	if err != nil {
		return nil, err
	}
	var in reservationCreate
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	key, err := c.requiredKey(in.IdempotencyKey, "reservation")
	if err != nil {
		return nil, err
	}
	if !in.Quantity.Set {
		return nil, invalidParam("quantity", "quantity is required: minor units of the unit, > 0")
	}
	hd, b, err := h.eng.ReserveUsage(c.ctx(), cu.ID, coffer.ReserveParams{Unit: walletCode(in.Unit), Quantity: in.Quantity.V, IdempotencyKey: key})
	if err != nil {
		return nil, err
	}
	return h.reservationOut(c, hd, b)
}

func (h *Handler) settleUsage(c *call) (any, error) {
	if err := c.operatorOnly(); err != nil {
		return nil, err
	}
	id, err := c.pathID("hold_id")
	if err != nil {
		return nil, err
	}
	var in reservationSettle
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if !in.Quantity.Set {
		return nil, invalidParam("quantity", "quantity is required: the minor units used, >= 0")
	}
	p := coffer.SettleParams{Quantity: in.Quantity.V}
	if in.Reason != nil {
		p.Reason = *in.Reason
	}
	res, err := h.eng.SettleUsage(c.ctx(), id, p)
	if err != nil {
		return nil, err
	}
	return h.readReservation(c, id, res.Balance)
}

func (h *Handler) releaseUsage(c *call) (any, error) {
	if err := c.operatorOnly(); err != nil {
		return nil, err
	}
	id, err := c.pathID("hold_id")
	if err != nil {
		return nil, err
	}
	hd, b, err := h.eng.ReleaseUsage(c.ctx(), id)
	if err != nil {
		return nil, err
	}
	return h.reservationOut(c, hd, b)
}

// readReservation answers a settled reservation: the hold as stored now.
func (h *Handler) readReservation(c *call, id string, b wallet.Balance) (Reservation, error) {
	var hd ledger.Hold
	err := h.eng.View(c.ctx(), func(tx store.ReadTx) error {
		var err error
		hd, err = tx.Hold(id)
		return err
	})
	if err != nil {
		return Reservation{}, err
	}
	if b.CustomerID == "" {
		if b, err = h.eng.Balance(c.ctx(), hd.CustomerID, hd.Currency); err != nil {
			return Reservation{}, err
		}
	}
	return h.reservationOut(c, hd, b)
}
