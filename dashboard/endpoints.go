package dashboard

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/internal/session"
	"github.com/cofferhq/coffer/webhook"
)

// Webhook endpoint management: create (URL, description, event-type
// filter), disable/enable, rotate the signing secret. Each calls the
// Engine operation the HTTP API's /webhook_endpoints calls
// (CreateEndpoint, DisableEndpoint, EnableEndpoint, RotateEndpointSecret,
// and EndpointSecret for the secret shown once after a create or a
// rotation).

// webhooksData is the endpoints page: the list and the create form.
type webhooksData struct {
	listPage[webhook.Endpoint]
	Types   []string // coffer.EventTypes(), the filter's checkboxes
	FormKey string   // idempotency key of the create form
	Problem problem
	Sent    url.Values
	Chosen  map[string]bool // types ticked in a refused form
}

// secretData is the answer to a create or a rotation: the secret, once.
type secretData struct {
	Endpoint webhook.Endpoint
	Secret   string
	Rotated  bool
}

// graces are the rotation grace periods offered.
var graces = []struct {
	Value string
	Label string
	D     time.Duration
}{
	{"0", "none: the old secret stops now", 0},
	{"1h", "1 hour", time.Hour},
	{"24h", "24 hours", 24 * time.Hour},
	{"168h", "7 days", 7 * 24 * time.Hour},
}

func (h *Handler) webhooks(q *req) { h.webhooksPage(q, http.StatusOK, problem{}) }

func (h *Handler) webhooksPage(q *req, status int, pr problem) {
	lp := formCursors(q, pr)
	base := h.o.Prefix + "/webhooks"
	l, err := h.eng.ListEndpoints(q.r.Context(), coffer.EndpointListParams{ListParams: lp})
	if h.listError(q, err, base, url.Values{}) {
		return
	}
	d := webhooksData{listPage: listPage[webhook.Endpoint]{Rows: l.Data}, Types: coffer.EventTypes(),
		FormKey: "dashboard-" + session.Nonce() + "-endpoint", Problem: pr, Chosen: map[string]bool{}}
	if pr.Code != "" {
		d.Sent = q.r.PostForm
		d.FormKey = d.Sent.Get("idempotency_key")
		for _, t := range d.Sent["event_type"] {
			d.Chosen[t] = true
		}
	}
	d.Prev, d.Next = pager(base, url.Values{}, lp, l, func(e webhook.Endpoint) string { return e.ID })
	h.render(q.w, status, "webhooks", page{Title: "Webhook endpoints", CSRF: q.csrf, Nav: "webhooks", Data: d,
		Notice: notices[q.r.URL.Query().Get("notice")]})
}

// maxPatterns bounds the free-text patterns of the create form (the
// Engine bounds the filter too).
const maxPatterns = 100

func (h *Handler) createEndpoint(q *req) {
	f := q.r.PostForm
	u := strings.TrimSpace(f.Get("url"))
	if u == "" {
		h.webhooksPage(q, http.StatusUnprocessableEntity, local("invalid_endpoint", "Enter the URL that receives the events."))
		return
	}
	if f.Get("idempotency_key") == "" {
		h.webhooksPage(q, http.StatusUnprocessableEntity, local(codeNoKey, "The form has no idempotency key."))
		return
	}
	var types []string
	for _, t := range f["event_type"] {
		if !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	for _, t := range strings.FieldsFunc(f.Get("patterns"), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
		if len(types) == maxPatterns {
			break
		}
		if !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	ep, err := h.eng.CreateEndpoint(q.r.Context(), coffer.EndpointParams{URL: u, Description: strings.TrimSpace(f.Get("description")),
		EventTypes: types, IdempotencyKey: f.Get("idempotency_key")})
	if err != nil {
		if internal(err) {
			h.serverError(q.w, q.r, err)
			return
		}
		pr := explain(err)
		pr.Message = "The endpoint was not created: " + pr.Message
		h.webhooksPage(q, http.StatusUnprocessableEntity, pr)
		return
	}
	h.showSecret(q, ep, false, http.StatusCreated)
}

// showSecret answers the page with the endpoint's secret: the only page
// that shows it (no-store, like every page); everywhere else it is the
// masked hint.
func (h *Handler) showSecret(q *req, ep webhook.Endpoint, rotated bool, status int) {
	s, err := h.eng.EndpointSecret(q.r.Context(), ep.ID)
	if err != nil {
		h.engineError(q, err)
		return
	}
	title := "Webhook endpoint created"
	if rotated {
		title = "Signing secret rotated"
	}
	h.render(q.w, status, "endpoint-secret", page{Title: title, CSRF: q.csrf, Nav: "webhooks",
		Data: secretData{Endpoint: ep, Secret: s, Rotated: rotated}})
}

func (h *Handler) setEndpointState(q *req) {
	ctx := q.r.Context()
	id := q.r.PathValue("id")
	var (
		ep  webhook.Endpoint
		err error
	)
	notice := "disabled"
	if q.r.PostForm.Get("state") == "enabled" {
		ep, err = h.eng.EnableEndpoint(ctx, id)
		notice = "enabled"
	} else {
		ep, err = h.eng.DisableEndpoint(ctx, id)
	}
	if err != nil {
		if internal(err) {
			h.serverError(q.w, q.r, err)
			return
		}
		h.endpointPage(q, id, http.StatusUnprocessableEntity, "state", explain(err))
		return
	}
	http.Redirect(q.w, q.r, h.o.Prefix+"/webhooks/"+url.PathEscape(ep.ID)+"?notice=endpoint_"+notice, http.StatusSeeOther)
}

func (h *Handler) rotateSecret(q *req) {
	id := q.r.PathValue("id")
	f := q.r.PostForm
	if f.Get("confirm") == "" {
		h.endpointPage(q, id, http.StatusUnprocessableEntity, "rotate",
			local(codeConfirm, "Tick “I confirm” to give the endpoint a new signing secret."))
		return
	}
	var grace time.Duration
	found := false
	for _, g := range graces {
		if g.Value == f.Get("grace") {
			grace, found = g.D, true
		}
	}
	if !found {
		h.endpointPage(q, id, http.StatusUnprocessableEntity, "rotate",
			local("invalid_endpoint", "Choose how long the old secret keeps signing from the list."))
		return
	}
	ep, err := h.eng.RotateEndpointSecret(q.r.Context(), id, coffer.RotateSecretParams{Grace: grace})
	if err != nil {
		if internal(err) {
			h.serverError(q.w, q.r, err)
			return
		}
		h.endpointPage(q, id, http.StatusUnprocessableEntity, "rotate", explain(err))
		return
	}
	h.showSecret(q, ep, true, http.StatusOK)
}
