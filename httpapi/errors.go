package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/cofferhq/coffer"
)

// ErrorBody is the JSON body of every error answer: Dodo's {code, message}
// plus the offending parameter when there is one. Code is coffer's stable
// error code in Dodo's UPPER_SNAKE style (coffer's "insufficient_funds" is
// "INSUFFICIENT_FUNDS"; see the README's table), or one of the HTTP layer's
// own codes (MALFORMED_JSON, INVALID_TYPE, ...).
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Param   string `json:"param,omitempty"`
}

// apiError is a failure of the HTTP layer itself (a body that is not JSON,
// a bad query parameter, a missing key), with its own status.
type apiError struct {
	status  int
	code    string
	param   string
	message string
	// retry, when set, is sent as x-should-retry.
	retry *bool
}

func (e *apiError) Error() string { return e.message }

// invalidParam is a 422 naming a parameter.
func invalidParam(param, msg string) error {
	return &apiError{status: http.StatusUnprocessableEntity, code: "INVALID_PARAMETER", param: param, message: msg}
}

// errorBody maps err to its status and body.
func errorBody(err error) (int, ErrorBody, *bool) {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.status, ErrorBody{Code: ae.code, Message: ae.message, Param: ae.param}, ae.retry
	}
	e := coffer.AsError(err)
	status := e.HTTPStatus()
	body := ErrorBody{Code: strings.ToUpper(e.Code), Message: e.Message, Param: e.Param}
	if e.Kind == coffer.KindInternal {
		body.Message = "internal error"
	}
	return status, body, nil
}

// shouldRetry decides the x-should-retry header: the Dodo SDK retries
// 408, 409, 429 and 5xx by default and resends the same body. A 409 is never
// transient in coffer except an idempotency key in use, so it says false;
// 5xx answers say true (they are only given when nothing was committed).
func shouldRetry(status int, code string, override *bool) (string, bool) {
	if override != nil {
		return strconv.FormatBool(*override), true
	}
	switch {
	case status == http.StatusConflict:
		return strconv.FormatBool(code == "IDEMPOTENCY_KEY_IN_USE"), true
	case status >= 500 || status == http.StatusTooManyRequests || status == http.StatusRequestTimeout:
		return "true", true
	case status >= 400:
		return "false", true
	}
	return "", false
}

// writeError answers err.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, b := h.errorAnswer(w, r, err)
	writeBody(w, status, b)
}

// writeJSON encodes v with status (0 = 200). An empty value writes no body.
// It writes what encode returns, through a pooled buffer (a jsonAppender
// appends itself to it, without reflection).
func (h *Handler) writeJSON(w http.ResponseWriter, status int, v any) {
	if status == 0 {
		status = http.StatusOK
	}
	if _, ok := v.(empty); ok {
		writeBody(w, status, nil)
		return
	}
	if b, ok := v.(rawBody); ok { // invoices.go: a PDF or HTML answer
		writeRaw(w, status, b)
		return
	}
	if a, ok := v.(jsonAppender); ok {
		p := appendBufs.Get().(*[]byte)
		if b, ok := a.appendJSON((*p)[:0]); ok {
			b = append(b, '\n')
			writeBody(w, status, b) // the ResponseWriter copies it
			if cap(b) <= maxPooledAnswer {
				*p = b
				appendBufs.Put(p)
			}
			return
		}
		appendBufs.Put(p)
	}
	buf := answerBufs.Get().(*bytes.Buffer)
	buf.Reset()
	// Encode writes json.Marshal's bytes (HTML escaped too) and a newline.
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		answerBufs.Put(buf)
		h.log.Error("httpapi: encode response", "error", err.Error())
		writeBody(w, http.StatusInternalServerError, []byte(encodeFailure))
		return
	}
	writeBody(w, status, buf.Bytes()) // the ResponseWriter copies it
	if buf.Cap() <= maxPooledAnswer {
		answerBufs.Put(buf)
	}
}

// answerBufs are writeJSON's buffers; one that grew beyond maxPooledAnswer
// (a long list) is left to the GC.
var answerBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// appendBufs are writeJSON's buffers for a jsonAppender.
var appendBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

const maxPooledAnswer = 64 << 10

const encodeFailure = `{"code":"INTERNAL_ERROR","message":"internal error"}` + "\n"

// encode is what writeJSON writes: the status and the body (nil for
// empty).
func (h *Handler) encode(status int, v any) (int, []byte) {
	if status == 0 {
		status = http.StatusOK
	}
	if _, ok := v.(empty); ok {
		return status, nil
	}
	if a, ok := v.(jsonAppender); ok {
		if b, ok := a.appendJSON(nil); ok {
			return status, append(b, '\n')
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		h.log.Error("httpapi: encode response", "error", err.Error())
		return http.StatusInternalServerError, []byte(encodeFailure)
	}
	return status, append(b, '\n')
}

// writeBody writes an encoded answer (a nil body: none).
func writeBody(w http.ResponseWriter, status int, b []byte) {
	if b != nil {
		// Both values in one allocation; each slice is capped so that an
		// Add to one cannot write into the other.
		v := make([]string, 2)
		v[0], v[1] = "application/json", strconv.Itoa(len(b))
		h := w.Header()
		h["Content-Type"], h["Content-Length"] = v[0:1:1], v[1:2:2]
	}
	w.WriteHeader(status)
	if b != nil {
		_, _ = w.Write(b)
	}
}

// errorAnswer encodes err as writeError would, setting its headers on w.
func (h *Handler) errorAnswer(w http.ResponseWriter, r *http.Request, err error) (int, []byte) {
	status, body, override := errorBody(err)
	if status >= 500 && status != http.StatusServiceUnavailable {
		h.log.Error("httpapi: server error", "request_id", w.Header().Get("X-Request-Id"),
			"method", r.Method, "path", r.URL.Path, "status", status, "error", err.Error())
	}
	if v, ok := shouldRetry(status, body.Code, override); ok {
		w.Header().Set("X-Should-Retry", v)
	}
	return h.encode(status, body)
}

// boundText cuts s to at most n bytes on a rune boundary, for echoing input.
func boundText(s string, n int) string {
	if len(s) <= n {
		if utf8.ValidString(s) {
			return s
		}
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.ToValidUTF8(s[:cut], "\uFFFD") + "..."
}
