// Package portal is coffer's customer portal: a customer's self-service
// area (payment history with receipts, subscriptions with cancel, wallet,
// profile), server-rendered with html/template and embed.FS. `coffer serve`
// mounts it at /portal/.
//
// A customer enters only through a signed portal link (the one POST
// /customers/{id}/customer-portal/session returns): GET
// <prefix>/session/{token} verifies the token, sets an HttpOnly,
// SameSite=Strict session cookie naming that one customer and redirects to
// <prefix>/. Every page and action reads the customer id from the session
// only and checks that each record it touches belongs to it, so no URL or
// parameter reaches another customer's data. Every form is CSRF-protected.
package portal

import (
	"context"
	"embed"
	"errors"
	"github.com/cofferhq/coffer/internal/webui"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/internal/session"
)

//go:embed templates/*.html
var files embed.FS

// ErrExpiredLink is what a VerifyLink function returns for a link past
// its expiry (any other error: not a valid link).
var ErrExpiredLink = errors.New("portal: link expired")

// Options configure a portal.
type Options struct {
	// Prefix is the mount path without the trailing slash; default "/portal".
	Prefix string
	// VerifyLink checks a portal link token and returns its customer and
	// return URL (required).
	VerifyLink func(ctx context.Context, token string) (customerID, returnURL string, err error)
	// Secret signs the session cookies (at least 32 bytes); nil: a random
	// per-process key.
	Secret []byte
	// SecureCookies sets the Secure flag.
	SecureCookies bool
	// SessionTTL is how long a portal visit lasts; default 1 hour.
	SessionTTL time.Duration
	Logger     *slog.Logger
	Now        func() time.Time
}

// Handler is the portal.
type Handler struct {
	eng  *coffer.Engine
	o    Options
	sess *session.Signer
	tmpl *template.Template
	mux  *http.ServeMux
}

const (
	cookieSession = "coffer_portal"
	purpose       = "portal"
)

// New returns the portal over eng.
func New(eng *coffer.Engine, o Options) (*Handler, error) {
	if eng == nil || o.VerifyLink == nil {
		return nil, errors.New("portal: an engine and VerifyLink are required")
	}
	if o.Prefix == "" {
		o.Prefix = "/portal"
	}
	o.Prefix = "/" + strings.Trim(o.Prefix, "/")
	if o.SessionTTL <= 0 {
		o.SessionTTL = time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	h := &Handler{eng: eng, o: o, sess: session.Random()}
	if o.Secret != nil {
		s, err := session.New(o.Secret)
		if err != nil {
			return nil, err
		}
		h.sess = s
	}
	t, err := template.New("").Funcs(funcs).ParseFS(files, "templates/*.html")
	if err != nil {
		return nil, err
	}
	h.tmpl = t
	p := o.Prefix
	m := http.NewServeMux()
	m.Handle("GET "+p+"/static/", http.StripPrefix(p+"/static/", http.FileServerFS(webui.Static())))
	m.HandleFunc("GET "+p+"/session/{token}", h.enter)
	m.HandleFunc("GET "+p+"/{$}", h.authed(h.home))
	m.HandleFunc("POST "+p+"/profile", h.authed(h.profile))
	m.HandleFunc("GET "+p+"/subscriptions/{id}/cancel", h.authed(h.cancelForm))
	m.HandleFunc("POST "+p+"/subscriptions/{id}/cancel", h.authed(h.cancel))
	m.HandleFunc("GET "+p+"/payments/{id}/receipt", h.authed(h.receipt))
	m.HandleFunc("GET "+p+"/payments/{id}/invoice", h.authed(h.invoice))
	m.HandleFunc("POST "+p+"/logout", h.authed(h.logout))
	h.mux = m
	return h, nil
}

// ServeHTTP serves the portal with its security headers.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	session.SecurityHeaders(w)
	w.Header().Set("Cache-Control", "no-store")
	h.mux.ServeHTTP(w, r)
}

// req is one request of a customer's session.
type req struct {
	w         http.ResponseWriter
	r         *http.Request
	customer  customer.Customer
	returnURL string
	csrf      string
}

func (h *Handler) enter(w http.ResponseWriter, r *http.Request) {
	id, ret, err := h.o.VerifyLink(r.Context(), r.PathValue("token"))
	if errors.Is(err, ErrExpiredLink) {
		h.render(w, http.StatusGone, "message", page{Title: "Link expired", Error: "This portal link has expired. Ask for a new one."})
		return
	}
	if err != nil {
		h.render(w, http.StatusNotFound, "message", page{Title: "Invalid link", Error: "This portal link is not valid."})
		return
	}
	cu, err := h.eng.Customer(r.Context(), id)
	if err != nil {
		if coffer.HTTPStatus(err) >= 500 {
			h.serverError(w, r, err)
			return
		}
		h.render(w, http.StatusNotFound, "message", page{Title: "Invalid link", Error: "This portal link is not valid."})
		return
	}
	if u, err := url.Parse(ret); err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		ret = ""
	}
	// The subject is the customer id and the return URL, signed together.
	tok := h.sess.Sign(purpose, id+"\n"+ret, h.o.Now(), h.o.SessionTTL)
	http.SetCookie(w, &http.Cookie{Name: cookieSession, Value: tok, Path: h.o.Prefix + "/", HttpOnly: true,
		Secure: h.o.SecureCookies, SameSite: http.SameSiteStrictMode, MaxAge: int(h.o.SessionTTL / time.Second)})
	// A 303 to a same-site page: SameSite=Strict cookies are sent on it
	// because the navigation now starts on this site... except when the
	// link was opened from another site (an email), where browsers do not
	// send Strict cookies on the redirect's request. The landing page is
	// therefore reached through a same-origin meta refresh instead.
	h.render(w, http.StatusOK, "enter", page{Title: "Opening your portal", Name: cu.Name, Data: h.o.Prefix + "/"})
}

func (h *Handler) authed(fn func(*req)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(cookieSession)
		var s session.Session
		if err == nil {
			s, err = h.sess.Verify(c.Value, purpose, h.o.Now())
		}
		if err != nil {
			h.render(w, http.StatusUnauthorized, "message", page{Title: "Portal session ended",
				Error: "Your portal session has ended or was never opened. Open the portal link you were sent again, or ask for a new one."})
			return
		}
		id, ret, _ := strings.Cut(s.Subject, "\n")
		cu, err := h.eng.Customer(r.Context(), id)
		if err != nil {
			if coffer.HTTPStatus(err) >= 500 {
				h.serverError(w, r, err)
				return
			}
			h.render(w, http.StatusUnauthorized, "message", page{Title: "Portal session ended", Error: "This portal is no longer available."})
			return
		}
		q := &req{w: w, r: r, customer: cu, returnURL: ret, csrf: h.sess.CSRF(s.Nonce)}
		if r.Method == http.MethodPost {
			if err := r.ParseForm(); err != nil || !h.sess.CheckCSRF(s.Nonce, r.PostForm.Get("csrf")) {
				h.render(w, http.StatusForbidden, "message", page{Title: "Form expired", CSRF: q.csrf,
					Error: "This form has expired or did not come from your portal. Go back, reload and try again."})
				return
			}
		}
		fn(q)
	}
}

func (h *Handler) logout(q *req) {
	http.SetCookie(q.w, &http.Cookie{Name: cookieSession, Value: "", Path: h.o.Prefix + "/", HttpOnly: true,
		Secure: h.o.SecureCookies, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	h.render(q.w, http.StatusOK, "message", page{Title: "Signed out", Notice: "You have left the portal. Open a new portal link to come back.",
		ReturnURL: q.returnURL})
}

// page is what every template gets.
type page struct {
	Title     string
	Prefix    string
	CSRF      string
	Name      string
	ReturnURL string
	Error     string
	Notice    string
	Data      any
}

func (h *Handler) render(w http.ResponseWriter, status int, name string, p page) {
	p.Prefix = h.o.Prefix
	webui.Render(w, h.tmpl, status, name, p, h.o.Logger, "portal")
}

func (h *Handler) serverError(w http.ResponseWriter, r *http.Request, err error) {
	h.o.Logger.Error("portal: request failed", "path", logPath(r.URL.Path, h.o.Prefix), "error", err.Error())
	h.render(w, http.StatusInternalServerError, "message", page{Title: "Something went wrong",
		Error: "We could not complete this request. Try again in a moment."})
}

func logPath(p, prefix string) string {
	if strings.HasPrefix(p, prefix+"/session/") {
		return prefix + "/session/<token>"
	}
	return p
}

func (h *Handler) base(q *req, title string) page {
	return page{Title: title, CSRF: q.csrf, Name: q.customer.Name, ReturnURL: q.returnURL}
}

// notFound is the one answer for a record that does not exist or is
// another customer's: the two are indistinguishable.
func (h *Handler) notFound(q *req) {
	p := h.base(q, "Not found")
	p.Error = "There is no such record in your account."
	h.render(q.w, http.StatusNotFound, "message", p)
}
