package dashboard

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
)

// Customer page actions: charge now, cancel, wallet credit/debit, collect
// an overdue charge. Each one calls the Engine operation the HTTP API
// calls; a refused form is shown again inside the page with its message.

func (h *Handler) customerURL(id, tab, notice string) string {
	u := h.o.Prefix + "/customers/" + url.PathEscape(id) + "?tab=" + tab
	if notice != "" {
		u += "&notice=" + notice
	}
	return u
}

// ownSubscription returns the subscription {sid} of customer {id}; another
// customer's subscription is the same not-found error as a missing one.
func (h *Handler) ownSubscription(q *req) (subscription.Subscription, bool) {
	s, err := h.eng.Subscription(q.r.Context(), q.r.PathValue("sid"))
	if err == nil && s.CustomerID != q.r.PathValue("id") {
		err = fmt.Errorf("%w: subscription %s", subscription.ErrNotFound, s.ID)
	}
	if err != nil {
		h.engineError(q, err)
		return s, false
	}
	return s, true
}

// parseAmount reads a decimal amount of currency code ("12.50") in minor
// units, > 0; a refusal is a problem with the code of money's error.
func parseAmount(s, code string) (int64, problem) {
	code = strings.ToUpper(strings.TrimSpace(code))
	cur, err := money.Lookup(code)
	if err != nil {
		return 0, local("unknown_currency", "There is no currency "+strconv.Quote(code)+".")
	}
	return parseAmountIn(s, code, cur)
}

// walletAmount is parseAmount for a wallet entry, whose code may also be a
// credit unit defined on the engine ("api_calls", kept as typed: unit codes
// are lower case); an ISO code is upper-cased as everywhere else.
func (h *Handler) walletAmount(ctx context.Context, s, raw string) (code string, amt int64, pr problem) {
	raw = strings.TrimSpace(raw)
	if !money.IsUnitCode(raw) {
		code = strings.ToUpper(raw)
		amt, pr = parseAmount(s, code)
		return code, amt, pr
	}
	u, err := h.eng.Unit(ctx, raw)
	if err != nil {
		return raw, 0, local("unknown_unit", "There is no credit unit "+strconv.Quote(raw)+".")
	}
	amt, pr = parseAmountIn(s, raw, u.Currency())
	return raw, amt, pr
}

// parseAmountIn reads a decimal amount of cur (named code in messages).
func parseAmountIn(s, code string, cur money.Currency) (int64, problem) {
	s = strings.TrimSpace(s)
	n, err := money.ParseMinor(s, cur)
	switch {
	case s == "":
		return 0, local("invalid_amount", "Enter an amount greater than zero in "+code+", such as 12.50.")
	case err != nil:
		pr := explain(err)
		pr.Message = "The amount " + strconv.Quote(s) + " is not a valid " + code + " amount."
		return 0, pr
	case n <= 0:
		return 0, local("invalid_amount", "Enter an amount greater than zero in "+code+", such as 12.50.")
	}
	return n, problem{}
}

func (h *Handler) charge(q *req) {
	s, ok := h.ownSubscription(q)
	if !ok {
		return
	}
	f := q.r.PostForm
	form := "charge-" + s.ID
	fail := func(pr problem) {
		h.customerPage(q, s.CustomerID, "subscriptions", http.StatusUnprocessableEntity, form, pr)
	}
	cur := strings.ToUpper(strings.TrimSpace(f.Get("currency")))
	if cur == "" {
		cur = s.Currency
	}
	amt, pr := parseAmount(f.Get("amount"), cur)
	if pr.Code != "" {
		fail(pr)
		return
	}
	if f.Get("idempotency_key") == "" {
		fail(local(codeNoKey, "The form has no idempotency key."))
		return
	}
	p, err := h.eng.Charge(q.r.Context(), s.ID, coffer.ChargeParams{ProductPrice: &amt, ProductCurrency: cur,
		ProductDescription: strings.TrimSpace(f.Get("description")), IdempotencyKey: f.Get("idempotency_key")})
	if err != nil {
		if internal(err) {
			h.serverError(q.w, q.r, err)
			return
		}
		fail(explain(err))
		return
	}
	notice := "charged"
	switch p.Status {
	case subscription.PaymentFailed:
		notice = "declined"
	case subscription.PaymentPending:
		notice = "pending"
	}
	http.Redirect(q.w, q.r, h.customerURL(s.CustomerID, "payments", notice), http.StatusSeeOther)
}

func (h *Handler) cancel(q *req) {
	s, ok := h.ownSubscription(q)
	if !ok {
		return
	}
	if q.r.PostForm.Get("confirm") == "" {
		h.customerPage(q, s.CustomerID, "subscriptions", http.StatusUnprocessableEntity, "cancel-"+s.ID,
			local(codeConfirm, "Tick “I confirm the cancellation” to cancel the subscription."))
		return
	}
	if _, err := h.eng.CancelSubscription(q.r.Context(), s.ID); err != nil {
		if internal(err) {
			h.serverError(q.w, q.r, err)
			return
		}
		h.customerPage(q, s.CustomerID, "subscriptions", http.StatusUnprocessableEntity, "cancel-"+s.ID, explain(err))
		return
	}
	http.Redirect(q.w, q.r, h.customerURL(s.CustomerID, "subscriptions", "cancelled"), http.StatusSeeOther)
}

func (h *Handler) entry(q *req) {
	ctx := q.r.Context()
	c, err := h.eng.Customer(ctx, q.r.PathValue("id"))
	if err != nil {
		h.engineError(q, err)
		return
	}
	f := q.r.PostForm
	fail := func(pr problem) {
		h.customerPage(q, c.ID, "wallet", http.StatusUnprocessableEntity, "entry", pr)
	}
	typ := ledger.Type(f.Get("type"))
	if typ != ledger.Credit && typ != ledger.Debit {
		fail(local("invalid_entry_type", "Choose credit (add money) or debit (take money)."))
		return
	}
	cur, amt, pr := h.walletAmount(ctx, f.Get("amount"), f.Get("currency"))
	if pr.Code != "" {
		fail(pr)
		return
	}
	reason := strings.TrimSpace(f.Get("reason"))
	if reason == "" {
		fail(local("invalid_reason", "Give a reason: it is kept in the ledger."))
		return
	}
	if f.Get("idempotency_key") == "" {
		fail(local(codeNoKey, "The form has no idempotency key."))
		return
	}
	p := coffer.EntryParams{Amount: amt, Currency: cur, Type: typ, Reason: reason, IdempotencyKey: f.Get("idempotency_key")}
	if pr := creditTerms(f, &p); pr.Code != "" {
		fail(pr)
		return
	}
	_, err = h.eng.CreateEntry(ctx, c.ID, p)
	switch {
	case errors.Is(err, wallet.ErrInsufficientFunds):
		pr := explain(err)
		pr.Message = "Insufficient funds: the wallet does not hold " + money.Format(amt, cur) + " " + cur + " available to debit."
		fail(pr)
		return
	case err != nil && internal(err):
		h.serverError(q.w, q.r, err)
		return
	case err != nil:
		fail(explain(err))
		return
	}
	http.Redirect(q.w, q.r, h.customerURL(c.ID, "wallet", "entry"), http.StatusSeeOther)
}

// expiryLayouts are what the form's "Expires at (UTC)" field takes: a
// datetime-local value (read as UTC), with seconds, RFC 3339, or a date
// (midnight UTC).
var expiryLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339Nano, "2006-01-02"}

// creditTerms reads the wallet form's optional credit terms (kind,
// priority, expiry in UTC) into p. What it cannot parse is a problem;
// the rest (a kind other than paid or granted, a priority out of range,
// an expiry not in the future, terms on a debit) is the Engine's to
// refuse, with its code.
func creditTerms(f url.Values, p *coffer.EntryParams) problem {
	p.CreditKind = ledger.CreditKind(strings.TrimSpace(f.Get("credit_kind")))
	if s := strings.TrimSpace(f.Get("priority")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < math.MinInt32 || n > math.MaxInt32 {
			return local(codeBadTerms, "The priority must be a whole number, such as 0 or 10.")
		}
		p.Priority = n
	}
	if s := strings.TrimSpace(f.Get("expires_at")); s != "" {
		for _, l := range expiryLayouts {
			if t, err := time.Parse(l, s); err == nil {
				p.ExpiresAt = t.UTC()
				break
			}
		}
		if p.ExpiresAt.IsZero() {
			return local(codeBadTerms, "The expiry must be a date and time in UTC, such as 2026-04-01T09:00.")
		}
	}
	return problem{}
}

func (h *Handler) collect(q *req) {
	ctx := q.r.Context()
	pay, err := h.eng.Payment(ctx, q.r.PathValue("pid"))
	if err == nil && pay.CustomerID != q.r.PathValue("id") {
		err = fmt.Errorf("%w: payment %s", subscription.ErrNotFound, pay.ID)
	}
	if err != nil {
		h.engineError(q, err)
		return
	}
	key := q.r.PostForm.Get("idempotency_key")
	if key == "" {
		h.customerPage(q, pay.CustomerID, "payments", http.StatusUnprocessableEntity, "collect-"+pay.ID,
			local(codeNoKey, "The form has no idempotency key."))
		return
	}
	np, err := h.eng.CollectOverdue(ctx, pay.ID, coffer.CollectOverdueParams{IdempotencyKey: key})
	if err != nil {
		if internal(err) {
			h.serverError(q.w, q.r, err)
			return
		}
		pr := explain(err)
		pr.Message = "Not collected: " + pr.Message
		h.customerPage(q, pay.CustomerID, "payments", http.StatusUnprocessableEntity, "collect-"+pay.ID, pr)
		return
	}
	notice := "collected"
	if np.Status != subscription.PaymentSucceeded {
		notice = "not_collected"
	}
	http.Redirect(q.w, q.r, h.customerURL(pay.CustomerID, "payments", notice), http.StatusSeeOther)
}

// ---- balance-trend chart

// chart is a server-rendered SVG line of a wallet's closing balance per
// day, with the points for the data-table fallback.
type chart struct {
	ID       string // element id prefix
	Currency string
	From, To time.Time
	Days     []coffer.DayBalance
	W, H     int
	Points   string // polyline points
	Area     string // polygon points (under the line)
	Max, Min int64
	MaxY     int // y of the Max label
	ZeroY    int
	Last     int64
	LastX    int
	LastY    int
}

const chartDays = 30

func (h *Handler) balanceChart(q *req, customerID, currency string) (chart, error) {
	now := h.o.Now().UTC()
	to := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, 1)
	from := to.AddDate(0, 0, -chartDays)
	rep, err := h.eng.SpendingReport(q.r.Context(), customerID, coffer.SpendingReportParams{Currency: currency, From: from, To: to})
	if err != nil {
		return chart{}, err
	}
	if rep.Entries == 0 && rep.ClosingBalance == 0 {
		return chart{}, nil // nothing to draw
	}
	return makeChart(currency, rep.Days, from, to), nil
}

func makeChart(currency string, days []coffer.DayBalance, from, to time.Time) chart {
	c := chart{ID: "trend-" + strings.ToLower(currency), Currency: currency, From: from, To: to.AddDate(0, 0, -1), Days: days,
		W: 600, H: 160}
	if len(days) == 0 {
		return c
	}
	const padL, padR, padT, padB = 8, 8, 16, 16
	c.Min, c.Max = 0, 0
	for _, d := range days {
		c.Min, c.Max = min(c.Min, d.Closing), max(c.Max, d.Closing)
	}
	span := c.Max - c.Min
	if span == 0 {
		span = 1
	}
	x := func(i int) int {
		if len(days) == 1 {
			return c.W / 2
		}
		return padL + i*(c.W-padL-padR)/(len(days)-1)
	}
	y := func(v int64) int { return padT + int((c.Max-v)*int64(c.H-padT-padB)/span) }
	var pts []string
	for i, d := range days {
		pts = append(pts, strconv.Itoa(x(i))+","+strconv.Itoa(y(d.Closing)))
	}
	c.Points = strings.Join(pts, " ")
	c.ZeroY = y(0)
	c.Area = strconv.Itoa(x(0)) + "," + strconv.Itoa(c.ZeroY) + " " + c.Points + " " +
		strconv.Itoa(x(len(days)-1)) + "," + strconv.Itoa(c.ZeroY)
	c.MaxY = y(c.Max)
	c.Last = days[len(days)-1].Closing
	c.LastX, c.LastY = x(len(days)-1), y(c.Last)
	return c
}
