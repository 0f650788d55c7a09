package httpapi

import (
	"strings"

	"github.com/cofferhq/coffer"
)

// creditPurchaseCreate is the body of POST
// /customers/{customer_id}/wallets/credit-purchases (a coffer extension):
// Engine.BuyCredit's params, the credit terms as on a ledger entry.
type creditPurchaseCreate struct {
	Amount         Int64    `json:"amount"`
	Currency       string   `json:"currency"`
	PaymentMethod  string   `json:"payment_method"`
	Description    *string  `json:"description"`
	Metadata       Metadata `json:"metadata"`
	IdempotencyKey *string  `json:"idempotency_key"`
	CreditKind     *string  `json:"credit_kind"`
	Priority       Int64    `json:"priority"`
	ExpiresAt      *string  `json:"expires_at"`
}

func (h *Handler) purchaseRoutes() {
	h.handle("POST /customers/{customer_id}/wallets/credit-purchases", h.buyCredit, doc{Tag: "wallets", Extension: true,
		Summary: "Buy wallet credit with a card",
		Description: "Engine.BuyCredit: a one-time payment of amount, charged in full to payment_method (the wallet is never " +
			"applied to it), that credits the wallet with amount in the transaction recording its success, under the " +
			"optional credit terms (credit_kind paid or granted, priority, expires_at) of a ledger entry. Requires an " +
			"idempotency key (body idempotency_key or the Idempotency-Key header): a purchase moves money, so a resend " +
			"without one could charge twice. The same key with the same body returns the same payment; with another body " +
			"it is a 409. The answer is the payment (status succeeded, failed, or processing while the processor's answer " +
			"is unknown). customer_id may be \"me\" for a restricted key.",
		Body: creditPurchaseCreate{}, Result: Payment{}})
}

// purchaseTerms reads the credit terms of a purchase body (credit or unit
// purchase) with the ledger entry's rules.
func purchaseTerms(kind *string, priority Int64, expiresAt *string) (coffer.EntryParams, error) {
	var tp coffer.EntryParams
	terms := ledgerEntryCreate{CreditKind: kind, Priority: priority, ExpiresAt: expiresAt}
	err := terms.creditTerms(&tp)
	return tp, err
}

func (h *Handler) buyCredit(c *call) (any, error) {
	cu, err := c.customerParam()
	if err != nil {
		return nil, err
	}
	var in creditPurchaseCreate
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	key, err := c.requiredKey(in.IdempotencyKey, "purchase")
	if err != nil {
		return nil, err
	}
	if !in.Amount.Set {
		return nil, invalidParam("amount", "amount is required: the credit bought, in minor units")
	}
	tp, err := purchaseTerms(in.CreditKind, in.Priority, in.ExpiresAt)
	if err != nil {
		return nil, err
	}
	p := coffer.BuyCreditParams{Amount: in.Amount.V, Currency: strings.ToUpper(strings.TrimSpace(in.Currency)),
		PaymentMethod: in.PaymentMethod, Metadata: in.Metadata, IdempotencyKey: key,
		CreditKind: tp.CreditKind, Priority: tp.Priority, ExpiresAt: tp.ExpiresAt}
	if in.Description != nil {
		p.Description = *in.Description
	}
	pay, err := h.eng.BuyCredit(c.ctx(), cu.ID, p)
	if err != nil {
		return nil, err
	}
	return h.payment(c, pay)
}
