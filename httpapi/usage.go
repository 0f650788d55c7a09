package httpapi

import (
	"fmt"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
)

// POST /usage (a coffer extension): Engine.RecordUsage, a batch of metered
// debits in one transaction.

// maxUsageItems bounds a POST /usage body (coffer.MaxUsageBatch).
const maxUsageItems = coffer.MaxUsageBatch

// usageCreate is the body of POST /usage.
type usageCreate struct {
	Items []usageItem `json:"items"`
}

type usageItem struct {
	CustomerID     string  `json:"customer_id"`
	Unit           string  `json:"unit"`
	Quantity       Int64   `json:"quantity"`
	IdempotencyKey string  `json:"idempotency_key"`
	Reason         *string `json:"reason"`
	ReferenceID    *string `json:"reference_id"`
}

// UsageBatch is the answer of POST /usage: one result per item, in the
// body's order, and the counts.
type UsageBatch struct {
	Items    []UsageItemResult `json:"items"`
	Applied  int               `json:"applied"`
	Replayed int               `json:"replayed"`
	Refused  int               `json:"refused"`
}

// UsageItemResult is one item's outcome: applied (entry and wallet),
// replayed (the original entry, replayed true), or refused (error, and
// nothing of the item applied).
type UsageItemResult struct {
	Status   string          `json:"status"` // applied, replayed or refused
	Entry    *LedgerEntry    `json:"entry" null:"true"`
	Wallet   *CustomerWallet `json:"wallet" null:"true"`
	Replayed bool            `json:"replayed"`
	Error    *ErrorBody      `json:"error" null:"true"`
}

func (h *Handler) usageRoutes() {
	h.handle("POST /usage", h.recordUsage, doc{Tag: "wallets", Extension: true,
		Summary: "Record a batch of metered usage",
		Description: "Engine.RecordUsage: up to 1000 items {customer_id, unit, quantity (minor units, > 0), idempotency_key " +
			"(required, per customer), reason, reference_id}, each a ledger debit of its wallet, all in one transaction. " +
			"Each item is applied, replayed (its key was applied with the same item: the original entry) or refused with " +
			"its own error (INSUFFICIENT_FUNDS: the whole quantity is not available, nothing is debited; " +
			"CUSTOMER_NOT_FOUND; IDEMPOTENCY_CONFLICT) while the others apply: the answer is 200 with every outcome. A " +
			"malformed batch (no or too many items, a bad field, an unknown unit, a key twice for one customer) is a 422 " +
			"that changes nothing. Resending the same body is safe. Needs an unrestricted key (a restricted key moves no " +
			"money; metering is the operator's).",
		Body: usageCreate{}, Result: UsageBatch{}})
}

func (h *Handler) recordUsage(c *call) (any, error) {
	if err := c.operatorOnly(); err != nil {
		return nil, err
	}
	var in usageCreate
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if len(in.Items) == 0 || len(in.Items) > maxUsageItems {
		return nil, invalidParam("items", fmt.Sprintf("items must hold 1 to %d usage records", maxUsageItems))
	}
	batch := make([]coffer.Usage, len(in.Items))
	for i, it := range in.Items {
		id := it.CustomerID
		if !it.Quantity.Set {
			return nil, invalidParam(fmt.Sprintf("items[%d].quantity", i), "quantity is required: minor units of the unit, > 0")
		}
		u := coffer.Usage{CustomerID: id, Unit: walletCode(it.Unit), Quantity: it.Quantity.V, IdempotencyKey: it.IdempotencyKey}
		if it.Reason != nil {
			u.Reason = *it.Reason
		}
		if it.ReferenceID != nil {
			u.ReferenceID = *it.ReferenceID
		}
		batch[i] = u
	}
	res, err := h.eng.RecordUsage(c.ctx(), batch)
	if err != nil {
		return nil, err
	}
	out := UsageBatch{Items: make([]UsageItemResult, len(res))}
	custs := map[string]customer.Customer{} // one read per customer of the batch
	for i, r := range res {
		switch {
		case r.Error != nil:
			_, body, _ := errorBody(r.Error)
			out.Items[i] = UsageItemResult{Status: "refused", Error: &body}
			out.Refused++
		default:
			e := h.entryOut(r.Entry)
			cu, ok := custs[r.Entry.CustomerID]
			if !ok {
				var err error
				if cu, err = h.eng.Customer(c.ctx(), r.Entry.CustomerID); err != nil {
					return nil, err
				}
				custs[cu.ID] = cu
			}
			w := walletOut(cu, r.Balance)
			status := "applied"
			if r.Replayed {
				status = "replayed"
				out.Replayed++
			} else {
				out.Applied++
			}
			out.Items[i] = UsageItemResult{Status: status, Entry: &e, Wallet: &w, Replayed: r.Replayed}
		}
	}
	return out, nil
}
