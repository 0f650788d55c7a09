package dashboard

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/internal/session"
	"github.com/cofferhq/coffer/invoice"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
)

// Columns of the customers table, in order.
var allColumns = []column{
	{"name", "Name"}, {"id", "Customer ID"}, {"email", "Email"}, {"phone", "Phone"}, {"created", "Created (UTC)"},
}

type column struct{ Key, Label string }

// PageSizes are the row counts the customers page offers.
var PageSizes = []int{10, 20, 50, 100}

const defaultPageSize = 20

type customersData struct {
	Search    string
	Limit     int
	Sizes     []int
	Columns   []column
	Shown     map[string]bool
	Customers []customer.Customer
	Prev      string // URL of the newer page, "" on the first
	Next      string // URL of the older page, "" on the last
	Report    string // URL of the CSV export of this filter
	Portal    bool
	// Partial: a search page cut short by the store's read budget (every
	// term is common); Next continues it.
	Partial bool
}

// shownColumns reads the column choice cookie (every column by default).
func shownColumns(r *http.Request) map[string]bool {
	out := map[string]bool{}
	if c, err := r.Cookie(cookieColumns); err == nil {
		for _, k := range strings.Split(c.Value, ".") {
			if slices.ContainsFunc(allColumns, func(c column) bool { return c.Key == k }) {
				out[k] = true
			}
		}
	}
	if len(out) == 0 {
		for _, c := range allColumns {
			out[c.Key] = true
		}
	}
	return out
}

func pageSize(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || !slices.Contains(PageSizes, n) {
		return defaultPageSize
	}
	return n
}

func (h *Handler) listCustomers(q *req, search string, lp coffer.ListParams) (coffer.List[customer.Customer], error) {
	if search != "" {
		return h.eng.SearchCustomers(q.r.Context(), coffer.CustomerSearchParams{ListParams: lp, Query: search})
	}
	return h.eng.ListCustomers(q.r.Context(), coffer.CustomerListParams{ListParams: lp})
}

func (h *Handler) customersURL(search string, limit int, cursor, value string) string {
	v := url.Values{}
	if search != "" {
		v.Set("search", search)
	}
	if limit != defaultPageSize {
		v.Set("limit", strconv.Itoa(limit))
	}
	if cursor != "" {
		v.Set(cursor, value)
	}
	u := h.o.Prefix + "/customers"
	if len(v) > 0 {
		u += "?" + v.Encode()
	}
	return u
}

func (h *Handler) customers(q *req) {
	qs := q.r.URL.Query()
	search := strings.TrimSpace(qs.Get("search"))
	limit := pageSize(qs.Get("limit"))
	lp := coffer.ListParams{Limit: limit, StartingAfter: qs.Get("starting_after"), EndingBefore: qs.Get("ending_before")}
	if lp.StartingAfter != "" {
		lp.EndingBefore = ""
	}
	l, err := h.listCustomers(q, search, lp)
	if errors.Is(err, coffer.ErrInvalidCursor) {
		http.Redirect(q.w, q.r, h.customersURL(search, limit, "", ""), http.StatusSeeOther)
		return
	}
	if err != nil {
		h.engineError(q, err)
		return
	}
	d := customersData{Search: search, Limit: limit, Sizes: PageSizes, Columns: allColumns, Shown: shownColumns(q.r),
		Customers: l.Data, Portal: h.o.PortalLink != nil}
	if n := len(l.Data); n > 0 {
		first, last := l.Data[0].ID, l.Data[n-1].ID
		switch {
		case lp.EndingBefore != "":
			if l.HasMore {
				d.Prev = h.customersURL(search, limit, "ending_before", first)
			}
			d.Next = h.customersURL(search, limit, "starting_after", last)
		case lp.StartingAfter != "":
			d.Prev = h.customersURL(search, limit, "ending_before", first)
			if l.HasMore {
				d.Next = h.customersURL(search, limit, "starting_after", last)
			}
		case l.HasMore:
			d.Next = h.customersURL(search, limit, "starting_after", last)
		}
	} else if lp.EndingBefore != "" || lp.StartingAfter != "" {
		d.Prev = h.customersURL(search, limit, "", "")
	}
	if search != "" && lp.EndingBefore == "" && l.HasMore && l.NextCursor != "" {
		// A search page whose read budget ran out is short (even empty):
		// it continues from the last customer read, not the last shown.
		d.Next = h.customersURL(search, limit, "starting_after", l.NextCursor)
		d.Partial = len(l.Data) < limit
	}
	rep := url.Values{}
	if search != "" {
		rep.Set("search", search)
	}
	d.Report = h.o.Prefix + "/customers/report.csv"
	if len(rep) > 0 {
		d.Report += "?" + rep.Encode()
	}
	title := "Customers"
	if search != "" {
		title = "Customers matching “" + search + "”"
	}
	h.render(q.w, http.StatusOK, "customers", page{Title: title, CSRF: q.csrf, Nav: "customers", Data: d,
		Notice: notices[qs.Get("notice")]})
}

// notices are the messages a redirect may ask a page to show.
var notices = map[string]string{
	"columns":           "Column choice saved for this browser.",
	"refunded":          "Refund created.",
	"refund_pending":    "Refund recorded, but the processor has not answered yet: it stays pending and is sent again until it does.",
	"charged":           "Charge made: the payment succeeded.",
	"declined":          "Charge made, but it was declined: the payment failed (the retry policy decides what happens next).",
	"pending":           "Charge made: the processor has not answered yet; the payment is pending.",
	"cancelled":         "Subscription cancelled.",
	"entry":             "Wallet entry recorded.",
	"collected":         "Overdue charge collected.",
	"redelivered":       "Delivery queued again: the dispatcher sends it with a fresh backoff schedule.",
	"endpoint_disabled": "Endpoint disabled: its pending deliveries are dead letters, and new events are not queued for it.",
	"endpoint_enabled":  "Endpoint enabled: events from now on are delivered; redeliver the dead letters it missed.",
	"revoked":           "API key revoked: requests with its secret are refused from now on.",
	"not_collected":     "The overdue charge was tried again and failed; it is still overdue.",
}

func (h *Handler) columns(q *req) {
	var keys []string
	for _, c := range allColumns {
		if q.r.PostForm.Get("col_"+c.Key) != "" {
			keys = append(keys, c.Key)
		}
	}
	if !slices.Contains(keys, "name") && !slices.Contains(keys, "id") {
		keys = append([]string{"name"}, keys...) // a row needs a link to its customer
	}
	h.setCookie(q.w, cookieColumns, strings.Join(keys, "."), 365*24*time.Hour)
	u := h.customersURL(strings.TrimSpace(q.r.PostForm.Get("search")), pageSize(q.r.PostForm.Get("limit")), "", "")
	if strings.Contains(u, "?") {
		u += "&notice=columns"
	} else {
		u += "?notice=columns"
	}
	http.Redirect(q.w, q.r, u, http.StatusSeeOther)
}

// csvCell guards a cell against spreadsheet formula injection.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) && strings.Trim(s, "+-0123456789 ()") != "" {
		return "'" + s
	}
	return s
}

// report streams the CSV of every customer of the filter, one page at a
// time (constant memory whatever the count).
func (h *Handler) report(q *req) {
	search := strings.TrimSpace(q.r.URL.Query().Get("search"))
	ctx := q.r.Context()
	seq := coffer.Iterate(ctx, coffer.CustomerListParams{ListParams: coffer.ListParams{Limit: 100}}, h.eng.ListCustomers)
	if search != "" {
		seq = coffer.Iterate(ctx, coffer.CustomerSearchParams{ListParams: coffer.ListParams{Limit: 100}, Query: search},
			h.eng.SearchCustomers)
	}
	name := "customers-" + time.Now().UTC().Format("20060102-150405") + ".csv"
	q.w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	q.w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	q.w.Header().Set("Cache-Control", "no-store")
	cw := csv.NewWriter(q.w)
	_ = cw.Write([]string{"id", "name", "email", "phone_number", "created_at"})
	n := 0
	for c, err := range seq {
		if err != nil {
			// The header is sent: end the file with a marker line and log.
			h.o.Logger.Error("dashboard: report", "error", err.Error())
			_ = cw.Write([]string{"# export failed: " + err.Error()})
			break
		}
		_ = cw.Write([]string{c.ID, csvCell(c.Name), csvCell(c.Email), csvCell(c.Phone), c.CreatedAt.UTC().Format(time.RFC3339)})
		if n++; n%100 == 0 {
			cw.Flush()
		}
	}
	cw.Flush()
}

// ---- one customer

type customerData struct {
	Customer      customer.Customer
	Tab           string
	Payments      []subscription.Payment
	Invoices      map[string]invoice.Record // of Payments, by payment id
	NextPayments  string
	Subscriptions []subscription.Subscription
	Balances      []wallet.Balance
	Entries       []ledger.Entry
	NextEntries   string
	Portal        bool
	RefundKey     string
	// FormKey prefixes the idempotency keys of this rendering's forms
	// (charge, wallet entry, collect): one key per rendered form.
	FormKey    string
	Overdue    coffer.Overdue
	Currencies []string // the currencies the wallet form offers
	Charts     []chart
	// Credits is, per currency with a balance, its paid and granted
	// credit, what expires within creditWindow and its open grants (at
	// most maxGrantsShown; MoreGrants counts the rest).
	Credits []walletCredits
	// TopUps are the wallet's auto top-up rules, every currency (topups.go).
	TopUps []coffer.TopUpRule
	// Form is the form a refused POST re-renders ("charge-<sub id>",
	// "cancel-<sub id>", "refund-<payment id>", "collect-<payment id>",
	// "entry"), with its problem and the values sent.
	Form    string
	Problem problem
	Sent    url.Values
	// Cursor is the page's starting_after (forms post back to the same
	// page, so a refused form is on it).
	Cursor string
}

var tabs = []string{"payments", "subscriptions", "wallet"}

// creditWindow is the wallet tab's "expiring within" window.
const creditWindow = 30 * 24 * time.Hour

// maxGrantsShown bounds the grants listed per currency.
const maxGrantsShown = 50

// walletCredits is one currency's credit by kind and its open grants.
type walletCredits struct {
	coffer.CreditSummary
	MoreGrants int
}

// walletCredits reads the credits of every currency of balances that has
// a balance or open grants.
func (h *Handler) walletCredits(ctx context.Context, customerID string, balances []wallet.Balance) ([]walletCredits, error) {
	var out []walletCredits
	for _, b := range balances {
		if b.Amount == 0 && b.Held == 0 {
			continue
		}
		s, err := h.eng.ExpiringCredits(ctx, customerID, b.Currency, creditWindow)
		if err != nil {
			return nil, err
		}
		wc := walletCredits{CreditSummary: s}
		if len(wc.Grants) > maxGrantsShown {
			wc.MoreGrants = len(wc.Grants) - maxGrantsShown
			wc.Grants = wc.Grants[:maxGrantsShown]
		}
		out = append(out, wc)
	}
	return out, nil
}

func (h *Handler) customer(q *req) {
	tab := q.r.URL.Query().Get("tab")
	h.customerPage(q, q.r.PathValue("id"), tab, http.StatusOK, "", problem{})
}

// customerPage renders a customer's tab; form and pr, when set, re-render
// a refused form inside the page, open, with its values and problem.
func (h *Handler) customerPage(q *req, id, tab string, status int, form string, pr problem) {
	ctx := q.r.Context()
	c, err := h.eng.Customer(ctx, id)
	if err != nil {
		h.engineError(q, err)
		return
	}
	qs := q.r.URL.Query()
	if !slices.Contains(tabs, tab) {
		tab = "payments"
	}
	nonce := session.Nonce()
	d := customerData{Customer: c, Tab: tab, Portal: h.o.PortalLink != nil, RefundKey: "dashboard-refund-" + nonce,
		FormKey: "dashboard-" + nonce, Form: form, Problem: pr}
	if form != "" {
		d.Sent = q.r.PostForm
		if pr.Code == codeRefundBad {
			// That key now names the failed refund: a new attempt needs
			// a new one.
			d.Sent = url.Values{}
			for k, v := range q.r.PostForm {
				if k != "idempotency_key" {
					d.Sent[k] = v
				}
			}
		}
	}
	if d.Overdue, err = h.eng.Overdue(ctx, c.ID); err != nil {
		h.engineError(q, err)
		return
	}
	base := h.o.Prefix + "/customers/" + url.PathEscape(c.ID) + "?tab=" + tab + "&starting_after="
	lp := coffer.ListParams{Limit: 20, StartingAfter: qs.Get("starting_after")}
	d.Cursor = lp.StartingAfter
	switch tab {
	case "payments":
		l, err := h.eng.ListPayments(ctx, coffer.PaymentListParams{ListParams: lp, CustomerID: c.ID})
		if err != nil {
			h.engineError(q, err)
			return
		}
		d.Payments = l.Data
		if d.Invoices, err = h.eng.PaymentInvoiceRecords(ctx, l.Data); err != nil {
			h.engineError(q, err)
			return
		}
		if l.HasMore {
			d.NextPayments = base + url.QueryEscape(l.NextCursor)
		}
	case "subscriptions":
		for s, err := range coffer.Iterate(ctx, coffer.SubscriptionListParams{CustomerID: c.ID, Status: subscription.StatusActive},
			h.eng.ListSubscriptions) {
			if err != nil {
				h.engineError(q, err)
				return
			}
			d.Subscriptions = append(d.Subscriptions, s)
			if len(d.Subscriptions) == 100 {
				break
			}
		}
	case "wallet":
		if d.Balances, err = h.eng.Balances(ctx, c.ID); err != nil {
			h.engineError(q, err)
			return
		}
		l, err := h.eng.ListEntries(ctx, coffer.EntryListParams{ListParams: lp, CustomerID: c.ID})
		if err != nil {
			h.engineError(q, err)
			return
		}
		d.Entries = l.Data
		if l.HasMore {
			d.NextEntries = base + url.QueryEscape(l.NextCursor)
		}
		d.Currencies = h.eng.Currencies()
		if d.Credits, err = h.walletCredits(ctx, c.ID, d.Balances); err != nil {
			h.engineError(q, err)
			return
		}
		if d.TopUps, err = h.walletTopUps(ctx, c.ID); err != nil {
			h.engineError(q, err)
			return
		}
		for _, b := range d.Balances {
			if len(d.Charts) == 3 {
				break
			}
			ch, err := h.balanceChart(q, c.ID, b.Currency)
			if err != nil {
				h.engineError(q, err)
				return
			}
			if ch.ID != "" {
				d.Charts = append(d.Charts, ch)
			}
		}
	}
	title := c.Name
	if title == "" {
		title = c.ID
	}
	h.render(q.w, status, "customer", page{Title: title, CSRF: q.csrf, Nav: "customers", Data: d,
		Notice: notices[qs.Get("notice")]})
}

func (h *Handler) portalInvite(q *req) {
	c, err := h.eng.Customer(q.r.Context(), q.r.PathValue("id"))
	if err != nil {
		h.engineError(q, err)
		return
	}
	if h.o.PortalLink == nil {
		h.render(q.w, http.StatusNotImplemented, "error", page{Title: "No portal", CSRF: q.csrf,
			Error: "No customer portal is configured for this server."})
		return
	}
	link, err := h.o.PortalLink(q.r.Context(), c.ID, "")
	if err != nil {
		h.engineError(q, err)
		return
	}
	h.render(q.w, http.StatusOK, "invite", page{Title: "Portal invite for " + c.Name, CSRF: q.csrf, Nav: "customers",
		Data: struct {
			Customer customer.Customer
			Link     string
		}{c, link}})
}

func (h *Handler) refund(q *req) {
	ctx := q.r.Context()
	c, err := h.eng.Customer(ctx, q.r.PathValue("id"))
	if err != nil {
		h.engineError(q, err)
		return
	}
	pay, err := h.eng.Payment(ctx, q.r.PathValue("pid"))
	if err == nil && pay.CustomerID != c.ID {
		err = fmt.Errorf("%w: payment %s", subscription.ErrNotFound, pay.ID)
	}
	if err != nil {
		h.engineError(q, err)
		return
	}
	f := q.r.PostForm
	fail := func(pr problem) {
		h.customerPage(q, c.ID, "payments", http.StatusUnprocessableEntity, "refund-"+pay.ID, pr)
	}
	if f.Get("confirm") == "" {
		fail(local(codeConfirm, "Tick “I confirm this refund” to refund the payment."))
		return
	}
	p := coffer.RefundParams{Reason: strings.TrimSpace(f.Get("reason")), IdempotencyKey: f.Get("idempotency_key")}
	switch f.Get("destination") {
	case "", string(subscription.ToPaymentMethod):
		p.Destination = subscription.ToPaymentMethod
	case string(subscription.ToWallet):
		p.Destination = subscription.ToWallet
	default:
		fail(local("invalid_request", "Choose where the money goes: the card or the wallet."))
		return
	}
	if a := strings.TrimSpace(f.Get("amount")); a != "" {
		var pr problem
		if p.Amount, pr = parseAmount(a, pay.Currency); pr.Code != "" {
			pr.Hint += " Leave the amount empty to refund all that is refundable (" + money.Format(pay.Refundable(), pay.Currency) +
				" " + pay.Currency + ")."
			fail(pr)
			return
		}
	}
	if p.IdempotencyKey == "" {
		fail(local(codeNoKey, "The form has no idempotency key."))
		return
	}
	r, err := h.eng.Refund(ctx, pay.ID, p)
	switch {
	case err != nil && r.Status == subscription.RefundFailed && r.ID != "":
		// The processor answered no: the refund is recorded as failed.
		h.o.Logger.Warn("dashboard: refund refused by the processor", "refund_id", r.ID, "error", err.Error())
		fail(local(codeRefundBad, "The payment processor refused the refund "+r.ID+" of "+
			money.Format(r.Amount, r.Currency)+" "+r.Currency+"; it is recorded as failed."))
		return
	case err != nil && internal(err):
		h.serverError(q.w, q.r, err)
		return
	case err != nil:
		pr := explain(err)
		if errors.Is(err, subscription.ErrInvalidRefund) {
			pr.Message = "The refund is more than the refundable part of the payment (" +
				money.Format(pay.Refundable(), pay.Currency) + " " + pay.Currency + ")."
		}
		fail(pr)
		return
	}
	notice := "refunded"
	if r.Status == subscription.RefundPending {
		notice = "refund_pending"
	}
	http.Redirect(q.w, q.r, h.o.Prefix+"/customers/"+url.PathEscape(c.ID)+"?tab=payments&notice="+notice, http.StatusSeeOther)
}
