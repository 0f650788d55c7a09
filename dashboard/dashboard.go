// Package dashboard is coffer's operator dashboard: server-rendered pages
// (html/template, embed.FS, no JavaScript needed to read) a Go application
// mounts as an http.Handler; `coffer serve` mounts it at /dashboard/.
//
// An operator signs in with a secret API key (checked with
// Engine.Authenticate; restricted keys are refused) and gets an HttpOnly,
// SameSite=Strict session cookie holding a signed, expiring session
// (internal/session). Every request re-checks that the key is still
// active. Every form carries a CSRF token derived from the session, and
// every action calls the same Engine operation the HTTP API calls.
package dashboard

import (
	"context"
	"embed"
	"errors"
	"github.com/cofferhq/coffer/internal/webui"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/internal/session"
)

//go:embed templates/*.html static/*
var files embed.FS

// Options configure a dashboard.
type Options struct {
	// Prefix is the path the handler is mounted at, without the trailing
	// slash; default "/dashboard".
	Prefix string
	// Secret signs the session cookies (at least 32 bytes); nil: a random
	// per-process key (sessions end with the process).
	Secret []byte
	// SecureCookies sets the Secure flag (serve it over HTTPS).
	SecureCookies bool
	// SessionTTL is how long a sign-in lasts; default 8 hours.
	SessionTTL time.Duration
	// PortalLink makes a customer portal link (the same function the HTTP
	// API's POST /customers/{id}/customer-portal/session uses); nil hides
	// the portal invite.
	PortalLink func(ctx context.Context, customerID, returnURL string) (string, error)
	// Logger logs server errors; default slog.Default().
	Logger *slog.Logger
	// Now is the clock of sessions; default time.Now.
	Now func() time.Time
}

// Handler is the dashboard.
type Handler struct {
	eng    *coffer.Engine
	o      Options
	sess   *session.Signer
	tmpl   *template.Template
	mux    *http.ServeMux
	static http.Handler
}

const (
	cookieSession = "coffer_dashboard"
	cookiePre     = "coffer_dashboard_pre"
	cookieColumns = "coffer_dashboard_columns"
	purpose       = "dashboard"
)

// New returns the dashboard over eng.
func New(eng *coffer.Engine, o Options) (*Handler, error) {
	if eng == nil {
		return nil, errors.New("dashboard: nil engine")
	}
	if o.Prefix == "" {
		o.Prefix = "/dashboard"
	}
	o.Prefix = "/" + strings.Trim(o.Prefix, "/")
	if o.SessionTTL <= 0 {
		o.SessionTTL = 8 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	h := &Handler{eng: eng, o: o}
	if o.Secret != nil {
		s, err := session.New(o.Secret)
		if err != nil {
			return nil, err
		}
		h.sess = s
	} else {
		h.sess = session.Random()
	}
	t, err := template.New("").Funcs(funcs).ParseFS(files, "templates/*.html")
	if err != nil {
		return nil, err
	}
	h.tmpl = t
	st, _ := fs.Sub(files, "static")
	h.static = http.StripPrefix(o.Prefix+"/static/", http.FileServerFS(st))
	p := o.Prefix
	m := http.NewServeMux()
	m.Handle("GET "+p+"/static/", h.static)
	m.Handle("GET "+p+"/static/style.css", http.StripPrefix(p+"/static/", http.FileServerFS(webui.Static())))
	m.HandleFunc("GET "+p+"/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, p+"/customers", http.StatusSeeOther)
	})
	m.HandleFunc("GET "+p+"/login", h.loginForm)
	m.HandleFunc("POST "+p+"/login", h.login)
	m.HandleFunc("POST "+p+"/logout", h.authed(h.logout))
	m.HandleFunc("GET "+p+"/customers", h.authed(h.customers))
	m.HandleFunc("POST "+p+"/customers/columns", h.authed(h.columns))
	m.HandleFunc("GET "+p+"/customers/report.csv", h.authed(h.report))
	m.HandleFunc("GET "+p+"/customers/{id}", h.authed(h.customer))
	m.HandleFunc("POST "+p+"/customers/{id}/portal-invite", h.authed(h.portalInvite))
	m.HandleFunc("POST "+p+"/customers/{id}/payments/{pid}/refund", h.authed(h.refund))
	m.HandleFunc("POST "+p+"/customers/{id}/payments/{pid}/collect", h.authed(h.collect))
	m.HandleFunc("GET "+p+"/customers/{id}/payments/{pid}/invoice", h.authed(h.invoice))
	m.HandleFunc("POST "+p+"/customers/{id}/subscriptions/{sid}/charge", h.authed(h.charge))
	m.HandleFunc("POST "+p+"/customers/{id}/subscriptions/{sid}/cancel", h.authed(h.cancel))
	m.HandleFunc("POST "+p+"/customers/{id}/wallet/entries", h.authed(h.entry))
	m.HandleFunc("POST "+p+"/customers/{id}/auto-top-ups/{tid}/state", h.authed(h.topUpState))
	m.HandleFunc("GET "+p+"/payments", h.authed(h.payments))
	m.HandleFunc("GET "+p+"/retries", h.authed(h.retries))
	m.HandleFunc("GET "+p+"/webhooks", h.authed(h.webhooks))
	m.HandleFunc("POST "+p+"/webhooks", h.authed(h.createEndpoint))
	m.HandleFunc("GET "+p+"/webhooks/{id}", h.authed(h.webhook))
	m.HandleFunc("POST "+p+"/webhooks/{id}/state", h.authed(h.setEndpointState))
	m.HandleFunc("POST "+p+"/webhooks/{id}/rotate", h.authed(h.rotateSecret))
	m.HandleFunc("POST "+p+"/webhooks/{id}/deliveries/{did}/redeliver", h.authed(h.redeliver))
	m.HandleFunc("GET "+p+"/events", h.authed(h.events))
	m.HandleFunc("GET "+p+"/keys", h.authed(h.keys))
	m.HandleFunc("POST "+p+"/keys", h.authed(h.createKey))
	m.HandleFunc("GET "+p+"/keys/{kid}/revoke", h.authed(h.revokeForm))
	m.HandleFunc("POST "+p+"/keys/{kid}/revoke", h.authed(h.revokeKey))
	h.mux = m
	return h, nil
}

// ServeHTTP serves the dashboard with its security headers.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	session.SecurityHeaders(w)
	h.mux.ServeHTTP(w, r)
}

// req is one signed-in request.
type req struct {
	w     http.ResponseWriter
	r     *http.Request
	keyID string
	csrf  string
	nonce string
}

func (h *Handler) authed(fn func(*req)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(cookieSession)
		if err != nil {
			h.toLogin(w, r)
			return
		}
		s, err := h.sess.Verify(c.Value, purpose, h.o.Now())
		if err != nil {
			h.clearCookie(w, cookieSession)
			h.toLogin(w, r)
			return
		}
		k, err := h.eng.APIKey(r.Context(), s.Subject)
		if err != nil || !k.Active() || k.Restricted() {
			if err != nil && coffer.HTTPStatus(err) >= 500 {
				h.serverError(w, r, err)
				return
			}
			h.clearCookie(w, cookieSession)
			h.toLogin(w, r)
			return
		}
		q := &req{w: w, r: r, keyID: k.ID, nonce: s.Nonce, csrf: h.sess.CSRF(s.Nonce)}
		if r.Method == http.MethodPost {
			if err := r.ParseForm(); err != nil || !h.sess.CheckCSRF(s.Nonce, r.PostForm.Get("csrf")) {
				h.render(w, http.StatusForbidden, "error", page{Title: "Form expired",
					Error: "This form has expired or did not come from this dashboard. Go back, reload the page and try again."})
				return
			}
		}
		fn(q)
	}
}

func (h *Handler) toLogin(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		h.render(w, http.StatusUnauthorized, "error", page{Title: "Signed out",
			Error: "Your session has ended. Sign in again.", SignIn: h.o.Prefix + "/login"})
		return
	}
	http.Redirect(w, r, h.o.Prefix+"/login", http.StatusSeeOther)
}

func (h *Handler) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: h.o.Prefix + "/", HttpOnly: true,
		Secure: h.o.SecureCookies, SameSite: http.SameSiteStrictMode, MaxAge: int(maxAge / time.Second)})
}

func (h *Handler) clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: h.o.Prefix + "/", HttpOnly: true,
		Secure: h.o.SecureCookies, SameSite: http.SameSiteStrictMode, MaxAge: -1})
}

// ---- sign-in

func (h *Handler) loginForm(w http.ResponseWriter, r *http.Request) {
	h.renderLogin(w, http.StatusOK, "")
}

func (h *Handler) renderLogin(w http.ResponseWriter, status int, msg string) {
	nonce := session.Nonce()
	h.setCookie(w, cookiePre, nonce, 30*time.Minute)
	h.render(w, status, "login", page{Title: "Sign in", CSRF: h.sess.CSRF(nonce), Error: msg, Public: true})
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	pre, err := r.Cookie(cookiePre)
	if err := r.ParseForm(); err != nil {
		h.renderLogin(w, http.StatusBadRequest, "The form could not be read.")
		return
	}
	if err != nil || !h.sess.CheckCSRF(pre.Value, r.PostForm.Get("csrf")) {
		h.renderLogin(w, http.StatusForbidden, "This sign-in form expired. Enter the key again.")
		return
	}
	k, err := h.eng.Authenticate(r.Context(), strings.TrimSpace(r.PostForm.Get("key")))
	switch {
	case err != nil && coffer.HTTPStatus(err) >= 500:
		h.serverError(w, r, err)
		return
	case err != nil:
		h.renderLogin(w, http.StatusUnauthorized, "That key is not valid. Paste an active secret API key (sk_test_… or sk_live_…).")
		return
	case k.Restricted():
		h.renderLogin(w, http.StatusForbidden, "That key is restricted to one customer. The dashboard needs an operator (unrestricted) key.")
		return
	}
	h.clearCookie(w, cookiePre)
	h.setCookie(w, cookieSession, h.sess.Sign(purpose, k.ID, h.o.Now(), h.o.SessionTTL), h.o.SessionTTL)
	http.Redirect(w, r, h.o.Prefix+"/customers", http.StatusSeeOther)
}

func (h *Handler) logout(q *req) {
	h.clearCookie(q.w, cookieSession)
	http.Redirect(q.w, q.r, h.o.Prefix+"/login", http.StatusSeeOther)
}

// ---- rendering

// page is what every template gets.
type page struct {
	Title  string
	Prefix string
	CSRF   string
	Nav    string
	Error  string
	Notice string
	SignIn string
	// Public: a page of a signed-out visitor (no navigation).
	Public bool
	Data   any
}

func (h *Handler) render(w http.ResponseWriter, status int, name string, p page) {
	p.Prefix = h.o.Prefix
	w.Header().Set("Cache-Control", "no-store")
	webui.Render(w, h.tmpl, status, name, p, h.o.Logger, "dashboard")
}

func (h *Handler) serverError(w http.ResponseWriter, r *http.Request, err error) {
	h.o.Logger.Error("dashboard: request failed", "path", r.URL.Path, "error", err.Error())
	h.render(w, http.StatusInternalServerError, "error", page{Title: "Something went wrong",
		Error: "The server could not complete this request. Try again; if it keeps failing, check the server log."})
}

// engineError renders an engine error: its HTTP status and message for a
// client error, a generic page for a server error.
func (h *Handler) engineError(q *req, err error) {
	status := coffer.HTTPStatus(err)
	if status >= 500 {
		h.serverError(q.w, q.r, err)
		return
	}
	h.render(q.w, status, "error", page{Title: http.StatusText(status), CSRF: q.csrf, Error: err.Error(), Nav: navOf(q.r.URL.Path, h.o.Prefix)})
}

// navOf is the navigation entry of a path ("customers", "payments", ...).
func navOf(path, prefix string) string {
	rest := strings.TrimPrefix(strings.TrimPrefix(path, prefix), "/")
	first, _, _ := strings.Cut(rest, "/")
	return first
}
