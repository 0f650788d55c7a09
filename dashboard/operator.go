package dashboard

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/apikey"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/webhook"
)

// Operator pages: payments, the dunning queue, webhooks, events, API keys.
// Each reads one bounded page through the Engine's list operation (the
// ones the HTTP API lists with) and pages on cursors.

const opPageSize = 25

// cursors reads ?starting_after / ?ending_before (one of them).
func cursors(r *http.Request) coffer.ListParams {
	qs := r.URL.Query()
	lp := coffer.ListParams{Limit: opPageSize, StartingAfter: qs.Get("starting_after"), EndingBefore: qs.Get("ending_before")}
	if lp.StartingAfter != "" {
		lp.EndingBefore = ""
	}
	return lp
}

// formCursors is the page of a list that carries a create form: the
// request's cursors, or the first page when the list is shown again after
// the form was refused (the POST's URL holds no cursor worth keeping).
func formCursors(q *req, pr problem) coffer.ListParams {
	if pr.Code != "" {
		return coffer.ListParams{Limit: opPageSize}
	}
	return cursors(q.r)
}

// pager returns the newer (prev) and older (next) page URLs of a list:
// base is the page path with its filter values (without cursors).
func pager[T any](base string, filter url.Values, lp coffer.ListParams, l coffer.List[T], id func(T) string) (prev, next string) {
	mk := func(k, v string) string {
		q := url.Values{}
		for fk, fv := range filter {
			if len(fv) > 0 && fv[0] != "" {
				q[fk] = fv
			}
		}
		if k != "" {
			q.Set(k, v)
		}
		if len(q) == 0 {
			return base
		}
		return base + "?" + q.Encode()
	}
	n := len(l.Data)
	if n == 0 {
		if lp.StartingAfter != "" || lp.EndingBefore != "" {
			prev = mk("", "")
		}
		return
	}
	first, last := id(l.Data[0]), id(l.Data[n-1])
	switch {
	case lp.EndingBefore != "":
		if l.HasMore {
			prev = mk("ending_before", first)
		}
		next = mk("starting_after", last)
	case lp.StartingAfter != "":
		prev = mk("ending_before", first)
		if l.HasMore {
			next = mk("starting_after", last)
		}
	case l.HasMore:
		next = mk("starting_after", last)
	}
	return
}

// listError handles a list's error: a stale cursor restarts at the first
// page of the filter; true when the request was answered.
func (h *Handler) listError(q *req, err error, base string, filter url.Values) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, coffer.ErrInvalidCursor) {
		prev, _ := pager(base, filter, coffer.ListParams{StartingAfter: "x"}, coffer.List[struct{}]{}, nil)
		http.Redirect(q.w, q.r, prev, http.StatusSeeOther)
		return true
	}
	h.engineError(q, err)
	return true
}

type listPage[T any] struct {
	Rows       []T
	Prev, Next string
	Filter     string   // the chosen filter value
	Choices    []string // the filter's options
}

// ---- payments

var paymentStatuses = []string{string(subscription.PaymentSucceeded), string(subscription.PaymentFailed),
	string(subscription.PaymentPending), string(subscription.PaymentRefunded), string(subscription.PaymentPartiallyRefunded)}

func (h *Handler) payments(q *req) {
	status := q.r.URL.Query().Get("status")
	if status != "" && !slices.Contains(paymentStatuses, status) {
		h.render(q.w, http.StatusUnprocessableEntity, "error", page{Title: "Unknown status", CSRF: q.csrf, Nav: "payments",
			Error: "There is no payment status " + status + ". Choose one of: " + strings.Join(paymentStatuses, ", ") + "."})
		return
	}
	lp := cursors(q.r)
	p := coffer.PaymentListParams{ListParams: lp}
	if status != "" {
		p.Statuses = []subscription.PaymentStatus{subscription.PaymentStatus(status)}
	}
	base, filter := h.o.Prefix+"/payments", url.Values{"status": {status}}
	l, err := h.eng.ListPayments(q.r.Context(), p)
	if h.listError(q, err, base, filter) {
		return
	}
	d := listPage[subscription.Payment]{Rows: l.Data, Filter: status, Choices: paymentStatuses}
	d.Prev, d.Next = pager(base, filter, lp, l, func(p subscription.Payment) string { return p.ID })
	h.render(q.w, http.StatusOK, "payments", page{Title: "Payments", CSRF: q.csrf, Nav: "payments", Data: d})
}

// ---- dunning queue

var attemptStatuses = []string{string(retry.AttemptScheduled), string(retry.AttemptClaimed), string(retry.AttemptSucceeded),
	string(retry.AttemptFailed), string(retry.AttemptCancelled)}

func (h *Handler) retries(q *req) {
	status := q.r.URL.Query().Get("status")
	if status != "" && !slices.Contains(attemptStatuses, status) {
		h.render(q.w, http.StatusUnprocessableEntity, "error", page{Title: "Unknown status", CSRF: q.csrf, Nav: "retries",
			Error: "There is no attempt status " + status + ". Choose one of: " + strings.Join(attemptStatuses, ", ") + "."})
		return
	}
	lp := cursors(q.r)
	base, filter := h.o.Prefix+"/retries", url.Values{"status": {status}}
	l, err := h.eng.ListAttempts(q.r.Context(), coffer.AttemptListParams{ListParams: lp, Status: retry.AttemptStatus(status)})
	if h.listError(q, err, base, filter) {
		return
	}
	d := listPage[retry.Attempt]{Rows: l.Data, Filter: status, Choices: attemptStatuses}
	d.Prev, d.Next = pager(base, filter, lp, l, func(a retry.Attempt) string { return a.ID })
	h.render(q.w, http.StatusOK, "retries", page{Title: "Dunning queue", CSRF: q.csrf, Nav: "retries", Data: d})
}

// ---- webhooks

var deliveryStatuses = []string{string(webhook.DeliveryPending), string(webhook.DeliveryClaimed),
	string(webhook.DeliverySucceeded), string(webhook.DeliveryFailed)}

type endpointData struct {
	Endpoint webhook.Endpoint
	listPage[webhook.Delivery]
	Graces []struct {
		Value string
		Label string
		D     time.Duration
	}
	// Form is the refused form ("state", "rotate", "redeliver-<id>").
	Form    string
	Problem problem
}

func (h *Handler) webhook(q *req) {
	h.endpointPage(q, q.r.PathValue("id"), http.StatusOK, "", problem{})
}

// endpointPage renders an endpoint and its deliveries; form and pr, when
// set, show a refused form's problem next to it.
func (h *Handler) endpointPage(q *req, id string, status int, form string, pr problem) {
	ctx := q.r.Context()
	ep, err := h.eng.Endpoint(ctx, id)
	if err != nil {
		h.engineError(q, err)
		return
	}
	dstatus := q.r.URL.Query().Get("status")
	if dstatus != "" && !slices.Contains(deliveryStatuses, dstatus) {
		h.render(q.w, http.StatusUnprocessableEntity, "error", page{Title: "Unknown status", CSRF: q.csrf, Nav: "webhooks",
			Error: "There is no delivery status " + dstatus + ". Choose one of: " + strings.Join(deliveryStatuses, ", ") + "."})
		return
	}
	lp := cursors(q.r)
	base, filter := h.o.Prefix+"/webhooks/"+url.PathEscape(ep.ID), url.Values{"status": {dstatus}}
	l, err := h.eng.ListDeliveries(ctx, coffer.DeliveryListParams{ListParams: lp, EndpointID: ep.ID,
		Status: webhook.DeliveryStatus(dstatus)})
	if h.listError(q, err, base, filter) {
		return
	}
	d := endpointData{Endpoint: ep, listPage: listPage[webhook.Delivery]{Rows: l.Data, Filter: dstatus, Choices: deliveryStatuses},
		Graces: graces, Form: form, Problem: pr}
	d.Prev, d.Next = pager(base, filter, lp, l, func(d webhook.Delivery) string { return d.ID })
	h.render(q.w, status, "webhook", page{Title: "Endpoint " + ep.URL, CSRF: q.csrf, Nav: "webhooks", Data: d,
		Notice: notices[q.r.URL.Query().Get("notice")]})
}

func (h *Handler) redeliver(q *req) {
	ctx := q.r.Context()
	d, err := h.eng.Delivery(ctx, q.r.PathValue("did"))
	if err == nil && d.EndpointID != q.r.PathValue("id") {
		err = fmt.Errorf("%w: delivery %s", coffer.ErrDeliveryNotFound, d.ID)
	}
	if err != nil {
		h.engineError(q, err)
		return
	}
	if _, err = h.eng.Redeliver(ctx, d.ID); err != nil {
		if internal(err) {
			h.serverError(q.w, q.r, err)
			return
		}
		h.endpointPage(q, d.EndpointID, coffer.HTTPStatus(err), "redeliver-"+d.ID, explain(err))
		return
	}
	http.Redirect(q.w, q.r, h.o.Prefix+"/webhooks/"+url.PathEscape(d.EndpointID)+"?notice=redelivered", http.StatusSeeOther)
}

// ---- events

func (h *Handler) events(q *req) {
	typ := q.r.URL.Query().Get("type")
	types := coffer.EventTypes()
	if typ != "" && !slices.Contains(types, typ) {
		h.render(q.w, http.StatusUnprocessableEntity, "error", page{Title: "Unknown event type", CSRF: q.csrf, Nav: "events",
			Error: "coffer writes no event of type " + typ + ". Pick a type from the list on the events page."})
		return
	}
	lp := cursors(q.r)
	base, filter := h.o.Prefix+"/events", url.Values{"type": {typ}}
	l, err := h.eng.ListEvents(q.r.Context(), coffer.EventListParams{ListParams: lp, Type: typ})
	if h.listError(q, err, base, filter) {
		return
	}
	d := listPage[webhook.Event]{Rows: l.Data, Filter: typ, Choices: types}
	d.Prev, d.Next = pager(base, filter, lp, l, func(e webhook.Event) string { return e.ID })
	h.render(q.w, http.StatusOK, "events", page{Title: "Events", CSRF: q.csrf, Nav: "events", Data: d})
}

// ---- API keys

type keysData struct {
	listPage[apikey.Key]
	Self string // the id of the key this session signed in with
	// The create form re-rendered after a refusal.
	Problem problem
	Sent    url.Values
}

func (h *Handler) keys(q *req) { h.keysPage(q, http.StatusOK, problem{}) }

func (h *Handler) keysPage(q *req, status int, pr problem) {
	lp := formCursors(q, pr)
	base := h.o.Prefix + "/keys"
	l, err := h.eng.ListAPIKeys(q.r.Context(), coffer.APIKeyListParams{ListParams: lp})
	if h.listError(q, err, base, url.Values{}) {
		return
	}
	d := keysData{listPage: listPage[apikey.Key]{Rows: l.Data}, Self: q.keyID, Problem: pr}
	if pr.Code != "" {
		d.Sent = q.r.PostForm
	}
	d.Prev, d.Next = pager(base, url.Values{}, lp, l, func(k apikey.Key) string { return k.ID })
	h.render(q.w, status, "keys", page{Title: "API keys", CSRF: q.csrf, Nav: "keys", Data: d,
		Notice: notices[q.r.URL.Query().Get("notice")]})
}

func (h *Handler) createKey(q *req) {
	f := q.r.PostForm
	name := strings.TrimSpace(f.Get("name"))
	if name == "" {
		h.keysPage(q, http.StatusUnprocessableEntity, local("invalid_api_key_name", "Give the key a name, so that you can tell it apart later."))
		return
	}
	k, err := h.eng.CreateAPIKey(q.r.Context(), coffer.APIKeyParams{Name: name, CustomerID: strings.TrimSpace(f.Get("customer_id")),
		Livemode: f.Get("livemode") != ""})
	if err != nil {
		if internal(err) {
			h.serverError(q.w, q.r, err)
			return
		}
		pr := explain(err)
		pr.Message = "The key was not created: " + pr.Message
		h.keysPage(q, http.StatusUnprocessableEntity, pr)
		return
	}
	// The secret is in this answer only (the store keeps its hash); the
	// page is no-store like every page.
	h.render(q.w, http.StatusCreated, "key-created", page{Title: "API key created", CSRF: q.csrf, Nav: "keys", Data: k})
}

func (h *Handler) ownKey(q *req) (apikey.Key, bool) {
	k, err := h.eng.APIKey(q.r.Context(), q.r.PathValue("kid"))
	if err != nil {
		h.engineError(q, err)
		return k, false
	}
	return k, true
}

func (h *Handler) revokeForm(q *req) {
	k, ok := h.ownKey(q)
	if !ok {
		return
	}
	h.render(q.w, http.StatusOK, "revoke", page{Title: "Revoke " + k.Name, CSRF: q.csrf, Nav: "keys",
		Data: struct {
			Key  apikey.Key
			Self bool
		}{k, k.ID == q.keyID}})
}

func (h *Handler) revokeKey(q *req) {
	k, ok := h.ownKey(q)
	if !ok {
		return
	}
	if q.r.PostForm.Get("confirm") == "" {
		h.render(q.w, http.StatusUnprocessableEntity, "revoke", page{Title: "Revoke " + k.Name, CSRF: q.csrf, Nav: "keys",
			Error: "Tick “I confirm” to revoke the key.",
			Data: struct {
				Key  apikey.Key
				Self bool
			}{k, k.ID == q.keyID}})
		return
	}
	if _, err := h.eng.RevokeAPIKey(q.r.Context(), k.ID); err != nil {
		h.engineError(q, err)
		return
	}
	if k.ID == q.keyID { // this session's own key: it is signed out
		h.clearCookie(q.w, cookieSession)
		http.Redirect(q.w, q.r, h.o.Prefix+"/login", http.StatusSeeOther)
		return
	}
	http.Redirect(q.w, q.r, h.o.Prefix+"/keys?notice=revoked", http.StatusSeeOther)
}
