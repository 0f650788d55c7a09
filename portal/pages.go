package portal

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/invoice"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
)

type homeData struct {
	Customer      customer.Customer
	Payments      []subscription.Payment
	MorePayments  bool
	Subscriptions []subscription.Subscription
	Balances      []wallet.Balance
	Entries       []ledger.Entry
	// Expiring is, per currency with credit that expires within
	// expiryWindow, how much and the grants it is in.
	Expiring []expiring
	// Invoices holds the invoice of each listed payment, by payment id.
	Invoices map[string]invoice.Record
	// TopUps are the customer's auto top-up rules, every currency.
	TopUps []coffer.TopUpRule
}

// expiryWindow is the wallet view's "expires within" window.
const expiryWindow = 30 * 24 * time.Hour

// expiring is one currency's credit that expires within expiryWindow.
type expiring struct {
	Currency string
	Amount   int64
	Before   time.Time
	// Grants are the grants expiring by Before, soonest first (at most
	// maxExpiringShown; More counts the rest).
	Grants []ledger.Grant
	More   int
}

const maxExpiringShown = 20

// expiringCredits reads what of each wallet expires within expiryWindow.
func (h *Handler) expiringCredits(ctx context.Context, id string, balances []wallet.Balance) ([]expiring, error) {
	var out []expiring
	for _, b := range balances {
		if b.Amount <= 0 {
			continue
		}
		s, err := h.eng.ExpiringCredits(ctx, id, b.Currency, expiryWindow)
		if err != nil {
			return nil, err
		}
		if s.Expiring == 0 {
			continue
		}
		x := expiring{Currency: b.Currency, Amount: s.Expiring, Before: s.ExpiringBefore}
		for _, g := range s.Grants {
			if !g.ExpiresAt.IsZero() && !g.ExpiresAt.After(s.ExpiringBefore) {
				x.Grants = append(x.Grants, g)
			}
		}
		slices.SortStableFunc(x.Grants, func(a, b ledger.Grant) int { return a.ExpiresAt.Compare(b.ExpiresAt) })
		if len(x.Grants) > maxExpiringShown {
			x.More = len(x.Grants) - maxExpiringShown
			x.Grants = x.Grants[:maxExpiringShown]
		}
		out = append(out, x)
	}
	return out, nil
}

var notices = map[string]string{
	"profile":   "Your details are saved.",
	"cancelled": "The subscription is cancelled.",
}

func (h *Handler) home(q *req) {
	ctx := q.r.Context()
	id := q.customer.ID
	d := homeData{Customer: q.customer}
	pays, err := h.eng.ListPayments(ctx, coffer.PaymentListParams{ListParams: coffer.ListParams{Limit: 50}, CustomerID: id})
	if err != nil {
		h.serverError(q.w, q.r, err)
		return
	}
	d.Payments, d.MorePayments = pays.Data, pays.HasMore
	if d.Invoices, err = h.eng.PaymentInvoiceRecords(ctx, pays.Data); err != nil {
		h.serverError(q.w, q.r, err)
		return
	}
	subs, err := h.eng.ListSubscriptions(ctx, coffer.SubscriptionListParams{ListParams: coffer.ListParams{Limit: 50}, CustomerID: id})
	if err != nil {
		h.serverError(q.w, q.r, err)
		return
	}
	for _, s := range subs.Data {
		if s.Status != subscription.StatusFailed {
			d.Subscriptions = append(d.Subscriptions, s)
		}
	}
	if d.Balances, err = h.eng.Balances(ctx, id); err != nil {
		h.serverError(q.w, q.r, err)
		return
	}
	if d.Expiring, err = h.expiringCredits(ctx, id, d.Balances); err != nil {
		h.serverError(q.w, q.r, err)
		return
	}
	for _, cur := range h.eng.Currencies() {
		rules, err := h.eng.ListTopUps(ctx, id, cur)
		if err != nil {
			h.serverError(q.w, q.r, err)
			return
		}
		d.TopUps = append(d.TopUps, rules...)
	}
	ents, err := h.eng.ListEntries(ctx, coffer.EntryListParams{ListParams: coffer.ListParams{Limit: 20}, CustomerID: id})
	if err != nil {
		h.serverError(q.w, q.r, err)
		return
	}
	d.Entries = ents.Data
	p := h.base(q, "Your account")
	p.Data = d
	p.Notice = notices[q.r.URL.Query().Get("notice")]
	h.render(q.w, http.StatusOK, "home", p)
}

func (h *Handler) profile(q *req) {
	f := q.r.PostForm
	name, email, phone := strings.TrimSpace(f.Get("name")), strings.TrimSpace(f.Get("email")), strings.TrimSpace(f.Get("phone"))
	_, err := h.eng.UpdateCustomer(q.r.Context(), q.customer.ID, customer.Params{Name: &name, Email: &email, Phone: &phone})
	if err != nil {
		if coffer.HTTPStatus(err) >= 500 {
			h.serverError(q.w, q.r, err)
			return
		}
		p := h.base(q, "Details not saved")
		p.Error = "Your details were not saved: " + err.Error()
		h.render(q.w, http.StatusUnprocessableEntity, "message", p)
		return
	}
	http.Redirect(q.w, q.r, h.o.Prefix+"/?notice=profile", http.StatusSeeOther)
}

// ownSubscription reads a subscription of the session's customer; another
// customer's is not found.
func (h *Handler) ownSubscription(q *req) (subscription.Subscription, bool) {
	s, err := h.eng.Subscription(q.r.Context(), q.r.PathValue("id"))
	if err != nil || s.CustomerID != q.customer.ID {
		if err != nil && coffer.HTTPStatus(err) >= 500 {
			h.serverError(q.w, q.r, err)
			return s, false
		}
		h.notFound(q)
		return s, false
	}
	return s, true
}

func (h *Handler) cancelForm(q *req) {
	s, ok := h.ownSubscription(q)
	if !ok {
		return
	}
	p := h.base(q, "Cancel subscription")
	p.Data = s
	h.render(q.w, http.StatusOK, "cancel", p)
}

func (h *Handler) cancel(q *req) {
	s, ok := h.ownSubscription(q)
	if !ok {
		return
	}
	if q.r.PostForm.Get("confirm") == "" {
		p := h.base(q, "Cancel subscription")
		p.Data = s
		p.Error = "Tick the box to confirm the cancellation."
		h.render(q.w, http.StatusUnprocessableEntity, "cancel", p)
		return
	}
	if _, err := h.eng.CancelSubscription(q.r.Context(), s.ID); err != nil {
		if coffer.HTTPStatus(err) >= 500 {
			h.serverError(q.w, q.r, err)
			return
		}
		p := h.base(q, "Subscription not cancelled")
		p.Error = "The subscription could not be cancelled: " + err.Error()
		h.render(q.w, coffer.HTTPStatus(err), "message", p)
		return
	}
	http.Redirect(q.w, q.r, h.o.Prefix+"/?notice=cancelled", http.StatusSeeOther)
}

// paid reports whether a payment has a receipt (it was collected).
func paid(p subscription.Payment) bool {
	switch p.Status {
	case subscription.PaymentSucceeded, subscription.PaymentPartiallyRefunded, subscription.PaymentRefunded:
		return true
	}
	return false
}

// receipt renders an HTML receipt of one collected payment of the
// session's customer (its numbered invoice, HTML or PDF, is invoice).
func (h *Handler) receipt(q *req) {
	pay, err := h.eng.Payment(q.r.Context(), q.r.PathValue("id"))
	if err != nil && coffer.HTTPStatus(err) >= 500 && !errors.Is(err, subscription.ErrNotFound) {
		h.serverError(q.w, q.r, err)
		return
	}
	if err != nil || pay.CustomerID != q.customer.ID || !paid(pay) {
		h.notFound(q)
		return
	}
	p := h.base(q, "Receipt "+pay.ID)
	p.Data = struct {
		Customer customer.Customer
		Payment  subscription.Payment
	}{q.customer, pay}
	h.render(q.w, http.StatusOK, "receipt", p)
}
