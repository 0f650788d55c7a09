package dashboard

import (
	"context"
	"fmt"
	"net/http"

	"github.com/cofferhq/coffer"
)

func init() {
	notices["topup_paused"] = "Auto top-up rule paused."
	notices["topup_resumed"] = "Auto top-up rule resumed: it is checked at once."
}

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

// topUpState pauses (state=paused) or resumes (state=active) a customer's
// auto top-up rule; another customer's rule is not found.
func (h *Handler) topUpState(q *req) {
	ctx := q.r.Context()
	id := q.r.PathValue("id")
	r, err := h.eng.TopUp(ctx, q.r.PathValue("tid"))
	if err == nil && r.CustomerID != id {
		err = fmt.Errorf("%w: %q", coffer.ErrTopUpNotFound, r.ID)
	}
	if err != nil {
		h.engineError(q, err)
		return
	}
	paused, notice := true, "topup_paused"
	if q.r.PostForm.Get("state") == "active" {
		paused, notice = false, "topup_resumed"
	}
	if _, err := h.eng.UpdateTopUp(ctx, r.ID, coffer.TopUpUpdate{Paused: &paused}); err != nil {
		h.engineError(q, err)
		return
	}
	http.Redirect(q.w, q.r, h.customerURL(id, "wallet", notice), http.StatusSeeOther)
}
