package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"

	"github.com/cofferhq/coffer"
)

// HTTP idempotency, with Stripe's semantics: a POST may carry an
// Idempotency-Key header (1..255 printable ASCII bytes). The first request
// under a key runs and its answer is kept (24 hours, per API key); a retry
// with the same key, method, path, query and body gets that answer again
// with Idempotent-Replayed: true, without running anything. The same key
// with another request is a 422 IDEMPOTENCY_KEY_REUSED; a retry while the
// first is still running is a 409 IDEMPOTENCY_KEY_IN_USE that the SDK may
// resend (x-should-retry: true, Retry-After: 1).
//
// Answers below 500 are kept; a 5xx is not (it is only given when nothing
// was committed, and the retry runs again). The routes whose operation
// takes an idempotency key (charges, refunds, collections) also pass the
// header to the Engine, so even an answer that could not be kept never
// lets a resend apply a change twice.

// serveIdempotent runs fn under the request's Idempotency-Key.
func (h *Handler) serveIdempotent(c *call, fn func(c *call) (any, error), noReplay bool) {
	w, r := c.w, c.r
	body, err := c.body()
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	req := coffer.IdempotentRequest{Scope: c.p.KeyID, Key: r.Header.Get("Idempotency-Key"),
		RequestHash: coffer.HashRequest(r.Method, r.URL.RequestURI(), body)}
	stored, err := h.eng.BeginIdempotent(c.ctx(), req)
	if err != nil {
		if coffer.ErrorCode(err) == "idempotency_key_in_use" {
			w.Header().Set("Retry-After", "1")
		}
		h.writeError(w, r, err)
		return
	}
	if stored != nil {
		w.Header().Set("Idempotent-Replayed", "true")
		if stored.Status >= 400 {
			var eb ErrorBody
			_ = json.Unmarshal(stored.Body, &eb)
			if v, ok := shouldRetry(stored.Status, eb.Code, nil); ok {
				w.Header().Set("X-Should-Retry", v)
			}
		}
		var b []byte
		if len(stored.Body) > 0 {
			b = stored.Body
		}
		if ct := stored.ContentType; ct != "" && b != nil {
			w.Header().Set("Content-Type", ct)
		}
		if b != nil {
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		}
		w.WriteHeader(stored.Status)
		_, _ = w.Write(b)
		return
	}
	v, ferr := fn(c)
	var status int
	var out []byte
	if ferr != nil {
		status, out = h.errorAnswer(w, r, ferr)
	} else {
		status, out = h.encode(c.status, v)
	}
	// The key is released for a retry to run again when the answer is a
	// server error (nothing was committed), the client left, or the route
	// must not keep its answer; otherwise the answer is kept for replay.
	ctx := context.WithoutCancel(c.ctx())
	if status >= 500 || status == coffer.StatusClientClosedRequest || status == http.StatusTooManyRequests || noReplay {
		if err := h.eng.AbandonIdempotent(ctx, req); err != nil {
			h.log.Warn("httpapi: release idempotency key", "request_id", w.Header().Get("X-Request-Id"), "error", err.Error())
		}
	} else {
		ct := ""
		if out != nil {
			ct = "application/json"
		}
		if err := h.eng.FinishIdempotent(ctx, req, coffer.StoredResponse{Status: status, ContentType: ct, Body: out}); err != nil {
			// The answer still goes out; a retry finds the key in use
			// until its lock expires, then runs again (the Engine's own
			// keys keep the operation from applying twice).
			h.log.Warn("httpapi: keep idempotent answer", "request_id", w.Header().Get("X-Request-Id"), "error", err.Error())
		}
	}
	writeBody(w, status, out)
}
