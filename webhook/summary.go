package webhook

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/cofferhq/coffer/internal/ssrf"
)

// MaxSummary bounds Result.Summary, in bytes.
const MaxSummary = 200

// Summary describes the attempt in one short line that is safe to store and
// to show to whoever registered the endpoint: the HTTP status line ("HTTP
// 500 Internal Server Error", with the standard reason phrase) or the class
// of failure ("timed out after 10s", "connect refused: destination not
// allowed (loopback address)", "dns: no such host"). It never holds the
// response body, the URL, its query or its userinfo, and is at most
// MaxSummary bytes of valid UTF-8. A successful attempt has its status line.
//
// Error messages from the network stack are not stored as they are: they
// can carry the URL with its query (where receivers put tokens) and bytes
// the endpoint sent ("malformed HTTP response ..."), which would let anyone
// who can register an endpoint read what a host answers.
func (r Result) Summary() string {
	if r.StatusCode != 0 {
		return statusLine(r.StatusCode)
	}
	if r.Err == nil {
		return ""
	}
	return boundLine(describe(r), MaxSummary)
}

func describe(r Result) string {
	err := r.Err
	var (
		refused *ssrf.Error
		dns     *net.DNSError
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		invalid x509.CertificateInvalidError
		record  tls.RecordHeaderError
		urlErr  *url.Error
		opErr   *net.OpError
	)
	switch {
	case errors.As(err, &refused):
		return "connect refused: destination not allowed (" + refused.Reason + " address)"
	case errors.Is(err, ErrDestinationNotAllowed):
		return "connect refused: destination not allowed"
	case errors.Is(err, ErrUnguardedClient):
		return "not sent: the client's transport cannot be guarded against private destinations"
	case errors.Is(err, ErrTimeout):
		if r.Duration > 0 {
			return "timed out after " + r.Duration.Round(time.Millisecond).String()
		}
		return "timed out"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case errors.Is(err, ErrNoSecrets):
		return "not sent: the endpoint has no signing secret"
	case errors.Is(err, ErrInvalidSecret):
		return "not sent: invalid signing secret"
	case errors.Is(err, ErrInvalidMessageID):
		return "not sent: invalid event id"
	case errors.As(err, &dns):
		switch {
		case dns.IsNotFound:
			return "dns: no such host"
		case dns.IsTimeout:
			return "dns: lookup timed out"
		}
		return "dns: lookup failed"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connect refused: connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by peer"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "connect failed: host unreachable"
	case errors.Is(err, syscall.ENETUNREACH):
		return "connect failed: network unreachable"
	case errors.As(err, &unknown):
		return "tls: certificate signed by unknown authority"
	case errors.As(err, &host):
		return "tls: certificate not valid for the endpoint's host"
	case errors.As(err, &invalid):
		if invalid.Reason == x509.Expired {
			return "tls: certificate expired or not yet valid"
		}
		return "tls: invalid certificate"
	case errors.As(err, &record):
		return "tls: the endpoint did not answer with TLS"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed before a response"
	case errors.As(err, &urlErr) && urlErr.Op == "parse":
		return "not sent: invalid endpoint url"
	case errors.As(err, &opErr):
		return "connect failed: " + untrusted(innermost(opErr.Err))
	case errors.As(err, &urlErr):
		return "request failed: " + untrusted(urlErr.Err.Error())
	}
	return "request failed: " + untrusted(err.Error())
}

// innermost is the message of the deepest error in a chain of single
// wrappers (the errno under an os.SyscallError, say).
func innermost(err error) string {
	for {
		var sc *os.SyscallError
		if errors.As(err, &sc) {
			err = sc.Err
			continue
		}
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

// untrusted keeps the part of a message before anything quoted (net/http
// quotes the bytes of a malformed response) or URL-like.
func untrusted(s string) string {
	for _, stop := range []string{`"`, "'", "`", "://", "?"} {
		if i := strings.Index(s, stop); i >= 0 {
			s = s[:i]
		}
	}
	s = strings.TrimRight(strings.TrimSpace(s), ":")
	if s == "" {
		return "unknown error"
	}
	return s
}

// boundLine renders s as one line of valid UTF-8 of at most max bytes.
func boundLine(s string, max int) string {
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "\uFFFD")), " ")
	if len(s) <= max {
		return s
	}
	cut := max - len("...")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// redactURLError rewrites the URL in a *url.Error (what http.Client.Do
// returns) to scheme://host/path: the query may carry a receiver's token
// and the userinfo a password, and error messages end up in logs.
func redactURLError(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	if ue == err {
		return &url.Error{Op: ue.Op, URL: RedactURL(ue.URL), Err: ue.Err}
	}
	ue.URL = RedactURL(ue.URL)
	return err
}

// RedactURL returns raw without its userinfo, query and fragment, for logs
// and error messages. An unparsable URL gives "(invalid url)".
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid url)"
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}
