package dashboard

import (
	"context"

	"github.com/cofferhq/coffer"
)

// walletTopUps reads a customer's auto top-up rules in every currency of
// the engine, oldest first within a currency (at most
// coffer.MaxTopUpsPerWallet each).
func (h *Handler) walletTopUps(ctx context.Context, customerID string) ([]coffer.TopUpRule, error) {
	var out []coffer.TopUpRule
	for _, cur := range h.eng.Currencies() {
		list, err := h.eng.ListTopUps(ctx, customerID, cur)
		if err != nil {
			return nil, err
		}
		out = append(out, list...)
	}
	return out, nil
}
