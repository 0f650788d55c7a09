// Package testmode hosts, inside `coffer serve`, the authorisation page of
// the deterministic test processor (processor.Test): the page a customer
// would complete at a real processor to set up a mandate. Nothing on it
// moves money.
//
// A subscription created with payment method pm_card_requires_action gets
// a payment link <public url>/test-mode/authorize/<mandate id>?return_url=...
// (processor.Test.SetLinkBase). GET renders a form with Approve and Decline
// buttons; POST with form field action=approve|decline completes the
// mandate at the test processor (CompleteMandate) and then confirms it in
// the engine (Engine.ConfirmMandate) for the subscription holding it, which
// activates it (and makes its initial charge unless mandate_only) or fails
// it. The answer is a 303 redirect to the subscription's return_url (with
// subscription_id and status added), an HTML result page without one, or
// JSON when the request accepts application/json (scripts).
//
// The subscription of a mandate is found in O(1): Processor wraps the test
// processor and remembers, for every mandate awaiting customer action, the
// subscription it was authorised for (the engine passes the subscription id
// as the mandate's idempotency key). The test processor keeps its mandates
// in memory only, so a link does not survive a restart of the server.
package testmode

import (
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/subscription"
)

// Path is the prefix of the authorisation pages; a mandate's page is
// Path + mandate id.
const Path = "/test-mode/authorize/"

// Processor is a processor.Test that remembers which subscription each
// pending mandate belongs to. Give it to the engine (coffer.WithProcessor)
// in place of the Test it wraps.
type Processor struct {
	*processor.Test

	mu   sync.Mutex
	subs map[string]string // mandate id -> subscription id, while requires_action
}

var _ processor.Processor = (*Processor)(nil)

// NewProcessor wraps t.
func NewProcessor(t *processor.Test) *Processor {
	return &Processor{Test: t, subs: map[string]string{}}
}

// AuthorizeMandate is processor.Test's, recording the subscription (the
// request's idempotency key) of a mandate that needs the hosted page.
func (p *Processor) AuthorizeMandate(ctx context.Context, req processor.MandateRequest) (processor.Mandate, error) {
	m, err := p.Test.AuthorizeMandate(ctx, req)
	if err == nil && m.Status == processor.MandateRequiresAction {
		p.mu.Lock()
		p.subs[m.ID] = req.IdempotencyKey
		p.mu.Unlock()
	}
	return m, err
}

// SubscriptionOf returns the subscription a pending mandate was authorised
// for.
func (p *Processor) SubscriptionOf(mandateID string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	id, ok := p.subs[mandateID]
	return id, ok
}

// forget drops a mandate that no longer waits for the page.
func (p *Processor) forget(mandateID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.subs, mandateID)
}

// Handler serves the authorisation pages under Path.
type Handler struct {
	eng  *coffer.Engine
	proc *Processor
	log  *slog.Logger
	mux  *http.ServeMux
}

// NewHandler returns the pages for mandates of proc, confirmed in eng. A
// nil log discards.
func NewHandler(eng *coffer.Engine, proc *Processor, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{eng: eng, proc: proc, log: log, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET "+Path+"{mandate_id}", h.show)
	h.mux.HandleFunc("POST "+Path+"{mandate_id}", h.act)
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http: https:")
	h.mux.ServeHTTP(w, r)
}

// Result is the JSON answer of a POST.
type Result struct {
	MandateID      string `json:"mandate_id"`
	SubscriptionID string `json:"subscription_id"`
	// Status is the subscription's status after the confirmation.
	Status      string `json:"status"`
	DeclineCode string `json:"decline_code,omitempty"`
	// PaymentID and PaymentStatus describe the initial charge, if one was made.
	PaymentID     string `json:"payment_id,omitempty"`
	PaymentStatus string `json:"payment_status,omitempty"`
}

// pageData fills the page template.
type pageData struct {
	Title     string
	MandateID string
	Sub       subscription.Subscription
	Customer  string
	Amount    string
	Pending   bool
	Action    string
	Message   string
	Result    *Result
}

func (h *Handler) lookup(w http.ResponseWriter, r *http.Request) (string, subscription.Subscription, bool) {
	mid := r.PathValue("mandate_id")
	subID, ok := h.proc.SubscriptionOf(mid)
	if !ok {
		h.fail(w, r, http.StatusNotFound, "No test-mode mandate "+mid+" is waiting for authorisation here. "+
			"Links of the test processor do not survive a restart of the server.")
		return "", subscription.Subscription{}, false
	}
	sub, err := h.eng.Subscription(r.Context(), subID)
	if err != nil {
		h.serverError(w, r, err)
		return "", subscription.Subscription{}, false
	}
	return mid, sub, true
}

func (h *Handler) show(w http.ResponseWriter, r *http.Request) {
	mid, sub, ok := h.lookup(w, r)
	if !ok {
		return
	}
	d := h.data(r, mid, sub)
	d.Title = "Authorise payment method (test mode)"
	d.Action = r.URL.RequestURI()
	h.render(w, http.StatusOK, d)
}

func (h *Handler) data(r *http.Request, mid string, sub subscription.Subscription) pageData {
	d := pageData{MandateID: mid, Sub: sub, Pending: sub.Status == subscription.StatusPending}
	if c, err := h.eng.Customer(r.Context(), sub.CustomerID); err == nil {
		d.Customer = c.Name
	}
	if total, err := money.MulMinor(sub.Price, int64(sub.Quantity)); err == nil {
		d.Amount = money.Format(total, sub.Currency) + " " + sub.Currency
	}
	return d
}

func (h *Handler) act(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	var approve bool
	switch r.PostForm.Get("action") {
	case "approve":
		approve = true
	case "decline":
	default:
		h.fail(w, r, http.StatusBadRequest, "action must be approve or decline.")
		return
	}
	mid, sub, ok := h.lookup(w, r)
	if !ok {
		return
	}
	if _, err := h.proc.CompleteMandate(mid, approve); err != nil && !errors.Is(err, processor.ErrMandateNotPending) {
		// Not pending: a second submit of the form; the confirmation
		// below reports what the first one did.
		if errors.Is(err, processor.ErrMandateNotFound) {
			h.fail(w, r, http.StatusNotFound, "No test-mode mandate "+mid+".")
			return
		}
		h.serverError(w, r, err)
		return
	}
	res, err := h.eng.ConfirmMandate(r.Context(), sub.ID)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	sub = res.Subscription
	if sub.Status != subscription.StatusPending {
		h.proc.forget(mid)
	}
	out := Result{MandateID: mid, SubscriptionID: sub.ID, Status: string(sub.Status), DeclineCode: sub.DeclineCode}
	if res.Payment != nil {
		out.PaymentID, out.PaymentStatus = res.Payment.ID, string(res.Payment.Status)
	}
	h.log.LogAttrs(r.Context(), slog.LevelInfo, "test mode: mandate completed", slog.String("mandate_id", mid),
		slog.String("subscription_id", sub.ID), slog.Bool("approved", approve), slog.String("status", out.Status))
	switch {
	case wantsJSON(r):
		writeJSON(w, http.StatusOK, out)
	case sub.ReturnURL != "":
		// The subscription's own return_url (validated when it was
		// created), not the link's query: no open redirect.
		http.Redirect(w, r, withResult(sub.ReturnURL, out), http.StatusSeeOther)
	default:
		d := h.data(r, mid, sub)
		d.Title = "Payment method " + map[bool]string{true: "approved", false: "declined"}[approve] + " (test mode)"
		d.Result = &out
		d.Pending = false
		h.render(w, http.StatusOK, d)
	}
}

// withResult adds subscription_id and status to the return URL's query.
func withResult(ret string, res Result) string {
	u, err := url.Parse(ret)
	if err != nil {
		return ret
	}
	q := u.Query()
	q.Set("subscription_id", res.SubscriptionID)
	q.Set("status", res.Status)
	u.RawQuery = q.Encode()
	return u.String()
}

func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if wantsJSON(r) {
		writeJSON(w, status, map[string]string{"error": msg})
		return
	}
	h.render(w, status, pageData{Title: "Test mode: " + http.StatusText(status), Message: msg})
}

func (h *Handler) serverError(w http.ResponseWriter, r *http.Request, err error) {
	h.log.LogAttrs(r.Context(), slog.LevelError, "test mode: page failed", slog.String("path", r.URL.Path),
		slog.String("error", err.Error()))
	status := coffer.HTTPStatus(err)
	if status < 500 {
		h.fail(w, r, status, err.Error())
		return
	}
	h.fail(w, r, status, "The server could not complete this request.")
}

func (h *Handler) render(w http.ResponseWriter, status int, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := page.Execute(w, d); err != nil {
		h.log.Error("test mode: rendering page", "error", err)
	}
}

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{.Title}}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#111}
.banner{background:#fff3cd;border:2px solid #8a6d00;padding:.75rem;font-weight:bold}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{font-weight:bold}
button{font-size:1rem;padding:.6rem 1.2rem;margin-right:1rem;border-radius:.3rem;border:2px solid #111;cursor:pointer}
button:focus-visible{outline:3px solid #0b57d0;outline-offset:2px}
.approve{background:#0a6b2f;color:#fff}.decline{background:#fff;color:#8b0000;border-color:#8b0000}
</style>
</head>
<body>
<main>
<p class="banner" role="note">TEST MODE: no real money moves and no card is charged.</p>
<h1>{{.Title}}</h1>
{{if .Message}}<p role="alert">{{.Message}}</p>{{end}}
{{if .MandateID}}
<dl>
<dt>Customer</dt><dd>{{if .Customer}}{{.Customer}}{{else}}{{.Sub.CustomerID}}{{end}}</dd>
<dt>Subscription</dt><dd><code>{{.Sub.ID}}</code></dd>
<dt>Mandate</dt><dd><code>{{.MandateID}}</code></dd>
{{if .Sub.Description}}<dt>Description</dt><dd>{{.Sub.Description}}</dd>{{end}}
<dt>{{if .Sub.MandateOnly}}Later charges up to{{else}}First charge{{end}}</dt><dd>{{.Amount}}</dd>
<dt>Status</dt><dd id="status">{{.Sub.Status}}</dd>
</dl>
{{end}}
{{with .Result}}
<p role="status">The subscription is now <strong>{{.Status}}</strong>{{if .DeclineCode}} ({{.DeclineCode}}){{end}}.
{{if .PaymentID}}Initial payment <code>{{.PaymentID}}</code>: {{.PaymentStatus}}.{{end}}</p>
{{end}}
{{if .Pending}}
<form method="post" action="{{.Action}}">
<p>Authorise this payment method for charges by the merchant?</p>
<button type="submit" name="action" value="approve" class="approve">Approve</button>
<button type="submit" name="action" value="decline" class="decline">Decline</button>
</form>
{{else if and .MandateID (not .Result)}}
<p role="status">This mandate is no longer waiting for authorisation.</p>
{{end}}
</main>
</body>
</html>
`))
