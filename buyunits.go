package coffer

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/cofferhq/coffer/internal/charge"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/subscription"
)

// BuyUnitsParams is a purchase of credit units with a payment method.
type BuyUnitsParams struct {
	// Unit is a defined unit with a price; Quantity its minor units, a
	// positive multiple of the price's Per.
	Unit          string            `json:"unit"`
	Quantity      int64             `json:"quantity"`
	PaymentMethod string            `json:"payment_method"`
	Description   string            `json:"description,omitempty"`
	Metadata      map[string]string `json:"metadata,omitempty"`
	// IdempotencyKey makes the call safe to retry, as for BuyCredit.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// CreditKind, Priority and ExpiresAt are the terms of the units
	// credited, as in EntryParams.
	CreditKind ledger.CreditKind `json:"credit_kind,omitempty"`
	Priority   int               `json:"priority,omitempty"`
	ExpiresAt  time.Time         `json:"expires_at,omitzero"`
}

// BuyUnits sells a customer Quantity of a priced unit for money: the cost
// is Quantity/Price.Per × Price.Amount in the price's currency (exact, no
// rounding; beyond int64 it is money.ErrOverflow; a unit without a price or
// a quantity that is not a multiple of Per is money.ErrInvalidUnit). It is
// BuyCredit's path — a one-time payment of kind credit_purchase charged in
// full to the payment method, the wallet never applied, the credit posted
// in the transaction that records the success, once — except that the
// credit is Quantity in the unit's wallet. The payment records the unit
// and quantity in its metadata (the reserved keys coffer_unit and
// coffer_unit_quantity). A purchase of units is refunded in full only (to
// the payment method, taking the whole quantity back; a partial refund is
// invalid_refund_amount).
func (e *Engine) BuyUnits(ctx context.Context, customerID string, p BuyUnitsParams) (subscription.Payment, error) {
	if err := reservedUnitMeta(p.Metadata); err != nil {
		return subscription.Payment{}, err
	}
	u, err := e.Unit(ctx, strings.TrimSpace(p.Unit))
	if err != nil {
		return subscription.Payment{}, err
	}
	cost, err := u.Cost(p.Quantity)
	if err != nil {
		return subscription.Payment{}, err
	}
	// The credit must fit the wallet before the card is charged: a credit
	// that overflowed once charged could not be posted. (Only concurrent
	// credits of nearly 2^63 minor units could still make it overflow.)
	b, err := e.Balance(ctx, customerID, u.Code)
	if err != nil {
		return subscription.Payment{}, err
	}
	if _, err := money.AddMinor(b.Amount, p.Quantity); err != nil {
		return subscription.Payment{}, fmt.Errorf("%w: the %s wallet cannot hold %d more", err, u.Code, p.Quantity)
	}
	md := make(map[string]string, len(p.Metadata)+2)
	maps.Copy(md, p.Metadata)
	md[charge.UnitMetaKey] = u.Code
	md[charge.UnitQuantityMetaKey] = strconv.FormatInt(p.Quantity, 10)
	desc := p.Description
	if desc == "" {
		desc = u.Format(p.Quantity) + " " + u.Code
	}
	return e.buyCredit(ctx, customerID, BuyCreditParams{Amount: cost.Minor, Currency: cost.Currency, PaymentMethod: p.PaymentMethod,
		Description: desc, Metadata: md, IdempotencyKey: p.IdempotencyKey,
		CreditKind: p.CreditKind, Priority: p.Priority, ExpiresAt: p.ExpiresAt})
}

// reservedUnitMeta refuses the metadata keys BuyUnits reserves.
func reservedUnitMeta(md map[string]string) error {
	for _, k := range []string{charge.UnitMetaKey, charge.UnitQuantityMetaKey} {
		if _, ok := md[k]; ok {
			return fmt.Errorf("%w: metadata key %s is reserved for purchases of units", ErrInvalid, k)
		}
	}
	return nil
}

// PurchaseUnits returns the unit and quantity a purchase of units
// (BuyUnits) credits; ok is false for any other payment.
func PurchaseUnits(pay subscription.Payment) (unit string, quantity int64, ok bool) {
	return charge.PurchaseUnits(pay)
}
