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
	"sync"
	"time"

	"github.com/cofferhq/coffer/internal/ssrf"
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
// for a hostile endpoint to make the sender buffer megabytes. None of it is
// kept: a response body can hold anything the endpoint's host serves, and an
// error that echoed it would turn the sender into a way to read it.
const maxResponseBody = 4 << 10

// Delivery errors, wrapped in Result.Err.
var (
	// ErrUnexpectedStatus means the endpoint answered with a status outside
	// 200..299. Redirects count too: the endpoint's URL should be updated
	// rather than followed on every delivery.
	ErrUnexpectedStatus = errors.New("webhook: endpoint answered non-2xx")
	// ErrTimeout means the endpoint did not answer within the Sender's
	// per-attempt timeout.
	ErrTimeout = errors.New("webhook: delivery attempt timed out")
	// ErrDestinationNotAllowed means the endpoint's host resolved to an
	// address the Sender refuses to connect to: loopback, private,
	// link-local (cloud metadata), carrier-grade NAT, multicast, broadcast
	// or another special-purpose range, in any spelling (IPv4-mapped IPv6,
	// NAT64, 6to4). Set Sender.AllowPrivateNetworks to allow them.
	ErrDestinationNotAllowed = ssrf.ErrDestinationNotAllowed
	// ErrUnguardedClient means Sender.Client cannot be made to refuse
	// private destinations: its Transport is not an *http.Transport, or it
	// dials TLS itself (DialTLSContext). Every attempt fails with it unless
	// Sender.AllowPrivateNetworks is set.
	ErrUnguardedClient = errors.New("webhook: client transport cannot be guarded against private destinations")
)

// Sender makes single delivery attempts over HTTP. It knows nothing of the
// store: the dispatcher decides what to send, when, and what to record. The
// zero value is ready to use. A Sender is safe for concurrent use, and must
// not be copied after its first Send.
//
// # Destinations
//
// Endpoint URLs come from whoever may register an endpoint, so by default
// a Sender refuses to connect to anything but public unicast addresses (see
// ErrDestinationNotAllowed). The check runs when connecting, on each address
// the host name resolved to, so numeric spellings such as 2130706433, DNS
// names pointing inside the network and DNS rebinding are all caught.
// AllowPrivateNetworks turns the check off, for development and for
// receivers on a private network by design.
type Sender struct {
	// Client sends the requests. Nil means a client of its own, tuned like
	// http.DefaultTransport. Whatever the client, redirects are never
	// followed: a 3xx is a failed attempt, as the specification advises (the
	// Sender uses a copy of Client with CheckRedirect replaced).
	//
	// Unless AllowPrivateNetworks is set, the destination guard is applied
	// to the client too: its *http.Transport is cloned with DialContext
	// replaced by the guard's dialer and Proxy cleared (a proxy would make
	// the guard check the proxy instead of the destination). A Transport
	// that is not an *http.Transport, or that sets DialTLSContext or
	// DialTLS, cannot be guarded: every attempt then fails with
	// ErrUnguardedClient.
	Client *http.Client
	// Timeout bounds each attempt, from connecting to reading the (bounded)
	// response. Zero means DefaultTimeout.
	Timeout time.Duration
	// AllowPrivateNetworks lets the Sender connect to loopback, private,
	// link-local and other special-purpose addresses. Leave it false in
	// production unless every endpoint is trusted.
	AllowPrivateNetworks bool

	once      sync.Once
	client    *http.Client
	clientErr error
}

// Result is the outcome of one delivery attempt.
type Result struct {
	// StatusCode is the endpoint's HTTP status, 0 if none was received
	// (refused connection, timeout, bad URL).
	StatusCode int
	// Err is nil exactly when the endpoint answered 2xx. It never holds the
	// response body, nor the URL's query or userinfo.
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

func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// The clients of Senders without a Client of their own, shared so that
// connections are pooled across Senders.
var (
	guardedClient = sync.OnceValue(func() *http.Client { c, _ := buildClient(nil, false); return c })
	privateClient = sync.OnceValue(func() *http.Client { c, _ := buildClient(nil, true); return c })
)

func (s *Sender) httpClient() (*http.Client, error) {
	if s == nil {
		return guardedClient(), nil
	}
	if s.Client == nil {
		if s.AllowPrivateNetworks {
			return privateClient(), nil
		}
		return guardedClient(), nil
	}
	s.once.Do(func() { s.client, s.clientErr = buildClient(s.Client, s.AllowPrivateNetworks) })
	return s.client, s.clientErr
}

// buildClient derives the client a Sender uses from base (nil: none): never
// following redirects and, unless allowPrivate, dialing through the
// destination guard.
func buildClient(base *http.Client, allowPrivate bool) (*http.Client, error) {
	c := &http.Client{}
	if base != nil {
		*c = *base
	}
	c.CheckRedirect = refuseRedirect
	var t *http.Transport
	switch rt := c.Transport.(type) {
	case nil:
		t = http.DefaultTransport.(*http.Transport).Clone()
	case *http.Transport:
		if allowPrivate {
			return c, nil // the caller's transport, as given
		}
		if rt.DialTLSContext != nil || rt.DialTLS != nil { // TLS dialled by the caller bypasses DialContext
			return nil, ErrUnguardedClient
		}
		t = rt.Clone()
	default:
		if allowPrivate {
			return c, nil
		}
		return nil, ErrUnguardedClient
	}
	if !allowPrivate {
		t.Proxy = nil // through a proxy, the guard would check the proxy's address, not the endpoint's
	}
	// DialContext takes precedence over the deprecated Dial.
	t.DialContext = ssrf.Guard{AllowPrivate: allowPrivate}.Dialer().DialContext
	c.Transport = t
	return c, nil
}

// Validate reports whether the Sender can send at all: ErrUnguardedClient
// when Client cannot be guarded against private destinations (see Client).
// Send would fail every attempt with the same error.
func (s *Sender) Validate() error {
	_, err := s.httpClient()
	return err
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
	var res Result
	if body, err := Payload(ev); err != nil {
		res = Result{Err: err}
	} else {
		res = s.send(ctx, ep, ev, body, now)
	}
	res.Duration = time.Since(start)
	return res
}

// SendBody is Send with a body of the caller's instead of Payload(ev): it
// POSTs body to ep once, as the delivery of ev (webhook-id is ev.ID), signs
// body exactly as given, and reports the outcome. It is for receivers that
// expect another envelope than the Standard Webhooks one.
func (s *Sender) SendBody(ctx context.Context, ep Endpoint, ev Event, body []byte, now time.Time) Result {
	start := time.Now()
	res := s.send(ctx, ep, ev, body, now)
	res.Duration = time.Since(start)
	return res
}

func (s *Sender) send(ctx context.Context, ep Endpoint, ev Event, body []byte, now time.Time) Result {
	sig, err := SignatureHeader(SigningSecrets(ep, now), ev.ID, now, body)
	if err != nil {
		return Result{Err: fmt.Errorf("webhook: signing for endpoint %s: %w", ep.ID, err)}
	}

	timeout := s.timeout()
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return Result{Err: fmt.Errorf("webhook: endpoint %s: %w", ep.ID, redactURLError(err))}
	}
	req.Header.Set(HeaderID, ev.ID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(HeaderSignature, sig)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)

	client, err := s.httpClient()
	if err != nil {
		return Result{Err: err}
	}
	resp, err := client.Do(req)
	if err != nil {
		err = redactURLError(err)
		if ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
			return Result{Err: fmt.Errorf("%w after %v: %w", ErrTimeout, timeout, err)}
		}
		return Result{Err: err}
	}
	defer resp.Body.Close()
	// Read a little so small answers keep the connection reusable; the rest
	// is dropped with the connection. Errors here do not change the outcome:
	// the status line has already been received.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBody))

	res := Result{StatusCode: resp.StatusCode}
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return res
	}
	res.Err = fmt.Errorf("%w: %s", ErrUnexpectedStatus, statusLine(resp.StatusCode))
	res.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), now)
	return res
}

// statusLine is "HTTP 503 Service Unavailable", with the standard reason
// phrase rather than the endpoint's (which it may fill with anything).
func statusLine(code int) string {
	if text := http.StatusText(code); text != "" {
		return "HTTP " + strconv.Itoa(code) + " " + text
	}
	return "HTTP " + strconv.Itoa(code)
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
