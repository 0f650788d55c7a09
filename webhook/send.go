package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// UserAgent identifies coffer's deliveries in receivers' logs; the trailing
// number changes only if the wire format does.
const UserAgent = "coffer-webhooks/1"

// DefaultTimeout bounds one delivery attempt when Sender.Timeout is zero.
// The Standard Webhooks specification recommends 15 to 30 seconds, enough
// for a receiver to process and acknowledge.
const DefaultTimeout = 15 * time.Second

// maxResponseBody is how much of a receiver's answer is read (and then
// discarded): enough to reuse the connection for small answers, never enough
// for a hostile endpoint to make the sender buffer megabytes.
const maxResponseBody = 4 << 10

// maxErrorSnippet is how much of a failed response's body goes into
// Result.Err, to explain a dead letter without bloating the store.
const maxErrorSnippet = 256

// Delivery errors, wrapped in Result.Err.
var (
	// ErrUnexpectedStatus means the endpoint answered with a status outside
	// 200..299. Redirects count too: the endpoint's URL should be updated
	// rather than followed on every delivery.
	ErrUnexpectedStatus = errors.New("webhook: endpoint answered non-2xx")
	// ErrTimeout means the endpoint did not answer within the Sender's
	// per-attempt timeout.
	ErrTimeout = errors.New("webhook: delivery attempt timed out")
)

// Sender makes single delivery attempts over HTTP. It knows nothing of the
// store: the dispatcher decides what to send, when, and what to record. The
// zero value is ready to use. A Sender is safe for concurrent use.
type Sender struct {
	// Client sends the requests. Nil means a client that does not follow
	// redirects (a 3xx is a failed attempt, as the specification advises).
	Client *http.Client
	// Timeout bounds each attempt, from connecting to reading the (bounded)
	// response. Zero means DefaultTimeout.
	Timeout time.Duration
}

// Result is the outcome of one delivery attempt.
type Result struct {
	// StatusCode is the endpoint's HTTP status, 0 if none was received
	// (refused connection, timeout, bad URL).
	StatusCode int
	// Err is nil exactly when the endpoint answered 2xx.
	Err error
	// Duration is the wall-clock time the attempt took.
	Duration time.Duration
	// RetryAfter is the endpoint's Retry-After on a failed answer (429,
	// 503...), zero if absent or unparsable. The dispatcher may use it as a
	// lower bound for the next attempt.
	RetryAfter time.Duration
}

// OK reports whether the attempt succeeded.
func (r Result) OK() bool { return r.Err == nil }

var defaultClient = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func (s *Sender) client() *http.Client {
	if s != nil && s.Client != nil {
		return s.Client
	}
	return defaultClient
}

func (s *Sender) timeout() time.Duration {
	if s != nil && s.Timeout > 0 {
		return s.Timeout
	}
	return DefaultTimeout
}

// Send POSTs ev to ep once, signed at now with every active secret of ep
// (see SigningSecrets), and reports the outcome. webhook-id is the event ID,
// so a receiver can deduplicate redeliveries. Send does not check
// ep.Disabled or the event-type filter; the caller does. If ctx itself is
// cancelled the Result's error wraps ctx.Err(), so the caller can tell a
// shutdown from a failing endpoint.
func (s *Sender) Send(ctx context.Context, ep Endpoint, ev Event, now time.Time) Result {
	start := time.Now()
	res := s.send(ctx, ep, ev, now)
	res.Duration = time.Since(start)
	return res
}

func (s *Sender) send(ctx context.Context, ep Endpoint, ev Event, now time.Time) Result {
	body, err := Payload(ev)
	if err != nil {
		return Result{Err: err}
	}
	sig, err := SignatureHeader(SigningSecrets(ep, now), ev.ID, now, body)
	if err != nil {
		return Result{Err: fmt.Errorf("webhook: signing for endpoint %s: %w", ep.ID, err)}
	}

	timeout := s.timeout()
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return Result{Err: fmt.Errorf("webhook: endpoint %s: %w", ep.ID, err)}
	}
	req.Header.Set(HeaderID, ev.ID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(HeaderSignature, sig)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)

	resp, err := s.client().Do(req)
	if err != nil {
		if ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
			return Result{Err: fmt.Errorf("%w after %v: %w", ErrTimeout, timeout, err)}
		}
		return Result{Err: err}
	}
	defer resp.Body.Close()
	// Read a little so small answers keep the connection reusable; the rest
	// is dropped with the connection. Errors here do not change the outcome:
	// the status line has already been received.
	head, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))

	res := Result{StatusCode: resp.StatusCode}
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return res
	}
	res.Err = fmt.Errorf("%w: %s%s", ErrUnexpectedStatus, resp.Status, snippet(head))
	res.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), now)
	return res
}

// snippet renders the start of a response body for an error message: valid
// UTF-8, one line, bounded.
func snippet(b []byte) string {
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return ""
	}
	if len(s) > maxErrorSnippet {
		cut := maxErrorSnippet
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return ": " + s
}

// retryAfter parses a Retry-After value, either delay-seconds or an
// HTTP-date (taken relative to now). Unparsable or past values give 0.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64((1<<63-1)/time.Second) {
			return time.Duration(1<<63 - 1)
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// Backoff is a delivery retry schedule: element i is the delay before
// attempt i+1, counted from the previous failure (element 0, before the
// first attempt, is normally 0).
type Backoff []time.Duration

// DefaultBackoff is the schedule suggested by the Standard Webhooks
// specification, cut after eight attempts (27 h 35 min 5 s from first to last):
// immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
var DefaultBackoff = Backoff{
	0,
	5 * time.Second,
	5 * time.Minute,
	30 * time.Minute,
	2 * time.Hour,
	5 * time.Hour,
	10 * time.Hour,
	10 * time.Hour,
}

// Next returns the delay before the next attempt of a delivery that has
// already been attempted attempts times, and false once the schedule is
// exhausted: the delivery then becomes a dead letter.
func (b Backoff) Next(attempts int) (time.Duration, bool) {
	if attempts < 0 {
		attempts = 0
	}
	if attempts >= len(b) {
		return 0, false
	}
	return b[attempts], true
}

// MaxAttempts is the number of attempts the schedule allows.
func (b Backoff) MaxAttempts() int { return len(b) }
