package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"path"
	"runtime/debug"
	"strings"
	"time"

	"github.com/cofferhq/coffer"
)

// DefaultMaxBody bounds a request body (1 MiB).
const DefaultMaxBody = 1 << 20

// DefaultBusinessID is the business_id every object carries unless
// WithBusinessID names another: coffer serves one business.
const DefaultBusinessID = "bus_coffer"

// Principal is who a request acts for: the API key it was signed with and,
// for a restricted key, the one customer it may reach.
type Principal struct {
	// KeyID is the id of the API key (never the secret).
	KeyID string
	// CustomerID, when not empty, restricts the key to that customer:
	// every other customer's records answer 403, and operator-only routes
	// (products, webhooks, keys, account-wide lists) answer 403 too.
	CustomerID string
	// Livemode is the key's mode.
	Livemode bool
}

// Restricted reports whether p is restricted to one customer.
func (p Principal) Restricted() bool { return p.CustomerID != "" }

// Authenticator checks a bearer secret and returns its principal. Errors
// are reported as they are (a coffer.Error of kind unauthenticated is a
// 401).
type Authenticator func(ctx context.Context, secret string) (Principal, error)

// Option configures a Handler.
type Option func(*Handler) error

// WithBusinessID sets the business_id (and brand_id) objects carry.
func WithBusinessID(id string) Option {
	return func(h *Handler) error {
		if id == "" || len(id) > 64 {
			return fmt.Errorf("%w: business id must be 1..64 bytes", coffer.ErrInvalidConfig)
		}
		h.businessID = id
		return nil
	}
}

// WithLogger sets the logger of server errors (5xx, panics). Default: a
// logger that discards.
func WithLogger(l *slog.Logger) Option {
	return func(h *Handler) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", coffer.ErrInvalidConfig)
		}
		h.log = l
		return nil
	}
}

// WithMaxBody bounds request bodies (default DefaultMaxBody); a larger
// body is a 413.
func WithMaxBody(n int64) Option {
	return func(h *Handler) error {
		if n < 1024 {
			return fmt.Errorf("%w: max body below 1 KiB", coffer.ErrInvalidConfig)
		}
		h.maxBody = n
		return nil
	}
}

// WithAuthenticator replaces the default authentication (the Engine's API
// keys) with a function of the host's.
func WithAuthenticator(a Authenticator) Option {
	return func(h *Handler) error {
		if a == nil {
			return fmt.Errorf("%w: nil authenticator", coffer.ErrInvalidConfig)
		}
		h.auth = a
		return nil
	}
}

// WithPortalLink sets how POST /customers/{id}/customer-portal/session
// makes its link. Default: coffer's portal at PortalBaseURL.
func WithPortalLink(f func(ctx context.Context, customerID, returnURL string) (string, error)) Option {
	return func(h *Handler) error {
		if f == nil {
			return fmt.Errorf("%w: nil portal link function", coffer.ErrInvalidConfig)
		}
		h.portalLink = f
		return nil
	}
}

// WithHostedPaymentMethod names the payment method token that makes the
// processor collect the payment method on a hosted page. A subscription
// created with payment_link: true and no payment_method_id (Dodo's hosted
// checkout) authorises its mandate on that token: the customer completes it
// at the link. With the test processor it is processor.CardRequiresAction,
// which `coffer serve` sets in test mode. Without it payment_method_id is
// required.
func WithHostedPaymentMethod(token string) Option {
	return func(h *Handler) error {
		if token == "" || len(token) > 255 {
			return fmt.Errorf("%w: hosted payment method token must be 1..255 bytes", coffer.ErrInvalidConfig)
		}
		h.hostedMethod = token
		return nil
	}
}

// Handler serves coffer's HTTP API. Create it with New.
type Handler struct {
	eng        *coffer.Engine
	mux        *http.ServeMux
	businessID string
	log        *slog.Logger
	maxBody    int64
	auth       Authenticator
	portalLink func(ctx context.Context, customerID, returnURL string) (string, error)
	pages      *pageCache
	docs       []route
	// usdRates converts wallets for total_balance_usd (WithUSDRates).
	usdRates map[string]usdRate
	// hostedMethod is the payment method token of a hosted mandate page.
	hostedMethod string
	now          func() time.Time
	// created is the CreatedAt of customers createLedgerEntry has read.
	created createdCache
	// keys are the API keys engineAuth verified (auth.go).
	keys keyCache
}

// New returns the HTTP API over eng. Mount it at the root or under a
// prefix with http.StripPrefix:
//
//	mux.Handle("/billing/", http.StripPrefix("/billing", h))
func New(eng *coffer.Engine, opts ...Option) (*Handler, error) {
	if eng == nil {
		return nil, fmt.Errorf("%w: nil engine", coffer.ErrInvalidConfig)
	}
	h := &Handler{
		eng:        eng,
		mux:        http.NewServeMux(),
		businessID: DefaultBusinessID,
		log:        slog.New(slog.DiscardHandler),
		maxBody:    DefaultMaxBody,
		pages:      newPageCache(4096, 10*time.Minute),
		now:        time.Now,
	}
	h.auth = h.engineAuth
	for _, o := range opts {
		if err := o(h); err != nil {
			return nil, err
		}
	}
	h.routes()
	return h, nil
}

// ServeHTTP implements http.Handler.
// A path that is not clean (//x, /./x, /a/../x) is a JSON 404, where the
// ServeMux would answer a text redirect an API client does not expect.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p := r.URL.EscapedPath(); p != "" && p != "/" && path.Clean(p) != strings.TrimSuffix(p, "/") {
		h.writeError(w, r, errRoute(r))
		return
	}
	h.mux.ServeHTTP(w, r)
}

// routes registers every route; each resource file adds its own.
func (h *Handler) routes() {
	h.customerRoutes()
	h.billingRoutes()
	h.webhookRoutes()
	h.extraRoutes()
	h.apiKeyRoutes()
	h.openAPIRoutes() // last: the document is generated from every route above
	// Anything else is a JSON 404 (or 405), not the mux's text page.
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if allow := h.allowed(r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			h.writeError(w, r, &apiError{status: http.StatusMethodNotAllowed, code: "METHOD_NOT_ALLOWED",
				message: r.Method + " is not allowed on " + boundText(r.URL.Path, 200)})
			return
		}
		h.writeError(w, r, errRoute(r))
	})
}

// allowed lists the methods another route serves r's path with.
func (h *Handler) allowed(r *http.Request) []string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := h.mux.Handler(probe); pattern != "" && pattern != "/" {
			out = append(out, m)
		}
	}
	return out
}

// call is one request being served.
type call struct {
	h *Handler
	w http.ResponseWriter
	r *http.Request
	p Principal
	// status overrides 200 for the result.
	status int
}

// ctx is the request's context.
func (c *call) ctx() context.Context { return c.r.Context() }

// empty is a result with no body (Dodo's void endpoints answer 200 with
// nothing).
type empty struct{}

// doc describes a route for the OpenAPI document (openapi.go), next to
// the route itself so the two cannot drift: the document's schemas are
// generated from Body and Result by reflection, and the tests validate
// real answers against it.
type doc struct {
	// Summary is one line; Description may say more (Dodo differences).
	Summary     string
	Description string
	// Tag groups routes (customers, wallets, subscriptions, ...).
	Tag string
	// Body is a value of the request body's Go type (nil: no body).
	Body any
	// Result is a value of the 200 answer's Go type (nil: an empty body).
	Result any
	// Query lists the query parameters.
	Query []queryParam
	// Extension marks a coffer route Dodo does not have.
	Extension bool
	// Public marks a route that needs no API key.
	Public bool
	// NoReplay keeps the route's answers out of the Idempotency-Key store
	// (an answer carrying a secret shown once).
	NoReplay bool
}

// queryParam is one documented query parameter.
type queryParam struct {
	Name string
	// Type is "string", "integer", "boolean" or "date-time".
	Type        string
	Description string
	Enum        []string
}

// route is a registered route with its documentation.
type route struct {
	pattern string
	doc     doc
}

// handle registers pattern (a Go 1.22 ServeMux pattern, "GET /customers")
// behind authentication (unless d.Public). fn returns the value to encode as
// JSON, or an error.
func (h *Handler) handle(pattern string, fn func(c *call) (any, error), d doc) {
	h.docs = append(h.docs, route{pattern: pattern, doc: d})
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		h.serve(w, r, !d.Public, d.NoReplay, fn)
	})
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, authed, noReplay bool, fn func(c *call) (any, error)) {
	c := &call{h: h, w: w, r: r}
	reqID := r.Header.Get("X-Request-Id")
	if !validRequestID(reqID) {
		reqID = newRequestID()
	}
	w.Header().Set("X-Request-Id", reqID)
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			h.log.Error("httpapi: panic", "request_id", reqID, "method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			h.writeError(w, r, errInternal)
		}
	}()
	// A body whose Content-Length is within the bound cannot exceed it (the
	// server reads no further); only a larger or chunked one needs the
	// MaxBytesReader (its 413, and closing the connection).
	if r.Body != nil && (r.ContentLength < 0 || r.ContentLength > h.maxBody) {
		r.Body = http.MaxBytesReader(w, r.Body, h.maxBody)
	}
	if authed {
		p, err := h.authenticate(r)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		c.p = p
		r = r.WithContext(withPrincipal(r.Context(), p))
		c.r = r
	}
	if authed && r.Method == http.MethodPost && r.Header.Get("Idempotency-Key") != "" {
		h.serveIdempotent(c, fn, noReplay)
		return
	}
	v, err := fn(c)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.writeJSON(w, c.status, v)
}

// authenticate reads the bearer token.
func (h *Handler) authenticate(r *http.Request) (Principal, error) {
	a := r.Header.Get("Authorization")
	scheme, secret, ok := strings.Cut(a, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
		return Principal{}, errUnauthenticated("missing API key: send Authorization: Bearer <secret key>")
	}
	p, err := h.auth(r.Context(), strings.TrimSpace(secret))
	if err != nil {
		// A failure to check (the store is down, the client left) is
		// reported as such; anything else is a bad key.
		var af *authFailure
		if errors.As(err, &af) {
			return Principal{}, af.err
		}
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return Principal{}, err
		}
		var ce *coffer.Error
		if errors.As(err, &ce) && (ce.Kind == coffer.KindUnavailable || ce.Kind == coffer.KindInternal) {
			return Principal{}, err
		}
		return Principal{}, errUnauthenticated("invalid API key")
	}
	return p, nil
}

type principalKey struct{}

// principalCtx carries a request's principal: one allocation, where
// context.WithValue takes two (the context and the boxed Principal).
type principalCtx struct {
	context.Context
	p Principal
}

// Value answers principalKey{} with the principal.
func (c *principalCtx) Value(key any) any {
	if key == (principalKey{}) {
		return c.p
	}
	return c.Context.Value(key)
}

func withPrincipal(ctx context.Context, p Principal) context.Context {
	return &principalCtx{Context: ctx, p: p}
}

// PrincipalFrom returns the principal of a request served by the Handler
// (for hosts wrapping it with middleware of their own).
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// allowCustomer refuses a restricted key outside its customer (403).
func (c *call) allowCustomer(customerID string) error {
	if c.p.Restricted() && c.p.CustomerID != customerID {
		return errForbidden("this API key is restricted to another customer")
	}
	return nil
}

// operatorOnly refuses a restricted key (403).
func (c *call) operatorOnly() error {
	if c.p.Restricted() {
		return errForbidden("this API key is restricted to one customer; this route needs an unrestricted key")
	}
	return nil
}

// scopeCustomer returns the customer filter a list must use: the
// restricted key's customer, or the one asked for (which a restricted key
// may only name if it is its own).
func (c *call) scopeCustomer(asked string) (string, error) {
	if !c.p.Restricted() {
		return asked, nil
	}
	if asked != "" && asked != c.p.CustomerID {
		return "", errForbidden("this API key is restricted to another customer")
	}
	return c.p.CustomerID, nil
}

func validRequestID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// newRequestID returns "req_" and 24 random hex digits. A request id
// needs to be unique, not secret: math/rand/v2's per-thread ChaCha8 gives
// its 96 bits without a system call, in one allocation.
func newRequestID() string {
	const digits = "0123456789abcdef"
	var b [4 + 24]byte
	copy(b[:], "req_")
	x, y := rand.Uint64(), rand.Uint32()
	for i := range 16 {
		b[4+i] = digits[x>>(60-4*i)&0xf]
	}
	for i := range 8 {
		b[20+i] = digits[y>>(28-4*i)&0xf]
	}
	return string(b[:])
}

// errRoute is the answer for a path no route serves.
func errRoute(r *http.Request) error {
	return &apiError{status: http.StatusNotFound, code: "NOT_FOUND",
		message: "no route " + r.Method + " " + boundText(r.URL.Path, 200)}
}

var errInternal = &apiError{status: http.StatusInternalServerError, code: "INTERNAL_ERROR", message: "internal error"}

func errUnauthenticated(msg string) error {
	return &apiError{status: http.StatusUnauthorized, code: "INVALID_API_KEY", message: msg}
}

func errForbidden(msg string) error {
	return &apiError{status: http.StatusForbidden, code: "FORBIDDEN", message: msg}
}

// isClientGone reports a request whose client went away.
func isClientGone(err error) bool {
	return errors.Is(err, context.Canceled)
}
