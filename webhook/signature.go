package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks header names. They are written in their canonical
// net/http form; HTTP header names are case-insensitive, so receivers see
// them as webhook-id, webhook-timestamp and webhook-signature.
const (
	HeaderID        = "Webhook-Id"
	HeaderTimestamp = "Webhook-Timestamp"
	HeaderSignature = "Webhook-Signature"
)

// SecretPrefix marks a serialized signing secret, so that a secret pasted
// into the wrong place is recognisable and the signature scheme (HMAC) is
// unambiguous.
const SecretPrefix = "whsec_"

// Secret sizes in bytes. The Standard Webhooks specification asks for at
// least 192 bits and at most 512 bits of key material.
const (
	MinSecretBytes = 24
	MaxSecretBytes = 64
	// newSecretBytes is what NewSecret generates: 256 bits, the HMAC-SHA256
	// block-size sweet spot and well inside the allowed range.
	newSecretBytes = 32
)

// DefaultTolerance is how far webhook-timestamp may be from the receiver's
// clock, in either direction, before a delivery is refused as a replay (or
// as coming from a badly skewed sender).
const DefaultTolerance = 5 * time.Minute

// signatureVersion identifies symmetric (HMAC-SHA256) signatures; the
// asymmetric ed25519 scheme uses "v1a", which this package does not verify
// and skips.
const signatureVersion = "v1"

// Verification and signing errors. Use errors.Is: the returned errors wrap
// these with details (which header, how far off the timestamp was).
var (
	// ErrInvalidSecret means a secret is not whsec_<base64> (or bare
	// base64) of MinSecretBytes..MaxSecretBytes bytes. It is a
	// configuration error, not an attack.
	ErrInvalidSecret = errors.New("webhook: invalid secret")
	// ErrMissingHeaders means webhook-id, webhook-timestamp or
	// webhook-signature is absent or empty: the request did not come from
	// a Standard Webhooks sender.
	ErrMissingHeaders = errors.New("webhook: missing required headers")
	// ErrInvalidTimestamp means webhook-timestamp is not an integer number
	// of Unix seconds.
	ErrInvalidTimestamp = errors.New("webhook: invalid timestamp")
	// ErrTimestampOutOfTolerance is the common cause of ErrTimestampTooOld
	// and ErrTimestampTooNew, for callers that do not care which side of
	// the window the timestamp fell.
	ErrTimestampOutOfTolerance = errors.New("webhook: timestamp outside tolerance")
	// ErrTimestampTooOld means the delivery was signed longer ago than the
	// tolerance: possibly a replay of a captured request.
	ErrTimestampTooOld = fmt.Errorf("%w: too old", ErrTimestampOutOfTolerance)
	// ErrTimestampTooNew means the delivery claims to be signed further in
	// the future than the tolerance: a skewed or forged sender.
	ErrTimestampTooNew = fmt.Errorf("%w: too new", ErrTimestampOutOfTolerance)
	// ErrInvalidSignature means no v1 signature in webhook-signature matched
	// the body: it was tampered with, or signed with another secret.
	ErrInvalidSignature = errors.New("webhook: no matching signature")
	// ErrInvalidMessageID means a message ID given to Sign is empty or
	// contains '.', which would make the signed content id.ts.body
	// ambiguous.
	ErrInvalidMessageID = errors.New("webhook: invalid message id")
	// ErrNoSecrets means SignatureHeader was given no secret to sign with.
	ErrNoSecrets = errors.New("webhook: no signing secrets")
	// ErrInvalidTolerance means a Verifier was configured with a
	// non-positive tolerance, which would either accept everything or
	// nothing.
	ErrInvalidTolerance = errors.New("webhook: tolerance must be positive")
)

// NewSecret returns a fresh random signing secret in whsec_<base64> form,
// for a newly registered endpoint or a secret rotation.
func NewSecret() (string, error) {
	key := make([]byte, newSecretBytes)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("webhook: generating secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(key), nil
}

// ParseSecret decodes a whsec_<base64> secret to its HMAC key. Like the
// reference Standard Webhooks libraries it also accepts the bare base64 part,
// since receivers often paste the secret without its prefix.
func ParseSecret(s string) ([]byte, error) {
	enc := strings.TrimPrefix(s, SecretPrefix)
	if enc == "" {
		return nil, fmt.Errorf("%w: empty", ErrInvalidSecret)
	}
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		// Never echo the secret itself into an error that may be logged.
		return nil, fmt.Errorf("%w: not base64", ErrInvalidSecret)
	}
	if len(key) < MinSecretBytes || len(key) > MaxSecretBytes {
		return nil, fmt.Errorf("%w: %d bytes, want %d..%d", ErrInvalidSecret, len(key), MinSecretBytes, MaxSecretBytes)
	}
	return key, nil
}

// Sign returns the Standard Webhooks signature "v1,<base64 HMAC-SHA256>" of
// msgID.unix(ts).body under secret. ts is truncated to whole seconds, as
// webhook-timestamp carries seconds.
func Sign(secret string, msgID string, ts time.Time, body []byte) (string, error) {
	key, err := ParseSecret(secret)
	if err != nil {
		return "", err
	}
	if msgID == "" || strings.Contains(msgID, ".") {
		return "", fmt.Errorf("%w: %q", ErrInvalidMessageID, msgID)
	}
	return signatureVersion + "," + base64.StdEncoding.EncodeToString(mac(key, msgID, strconv.FormatInt(ts.Unix(), 10), body)), nil
}

// mac computes HMAC-SHA256(key, id + "." + ts + "." + body).
func mac(key []byte, id, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// SignatureHeader signs with every secret and joins the signatures with
// spaces, the webhook-signature value. Several secrets are how rotation
// stays zero-downtime: receivers holding either the old or the new secret
// find a match.
func SignatureHeader(secrets []string, msgID string, ts time.Time, body []byte) (string, error) {
	if len(secrets) == 0 {
		return "", ErrNoSecrets
	}
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		sig, err := Sign(s, msgID, ts, body)
		if err != nil {
			return "", err
		}
		sigs = append(sigs, sig)
	}
	return strings.Join(sigs, " "), nil
}

// SigningSecrets returns the secrets that sign a delivery to e at now: the
// current secret, plus the previous one while its grace period lasts
// (now before PreviousExpiresAt; a zero PreviousExpiresAt means no grace).
// Empty secrets and a previous secret equal to the current one are skipped.
func SigningSecrets(e Endpoint, now time.Time) []string {
	var out []string
	if e.Secret != "" {
		out = append(out, e.Secret)
	}
	if e.PreviousSecret != "" && e.PreviousSecret != e.Secret && now.Before(e.PreviousExpiresAt) {
		out = append(out, e.PreviousSecret)
	}
	return out
}

// Envelope is the JSON body of every delivery, in the Standard Webhooks
// shape, so receivers can dispatch on type before decoding data.
type Envelope struct {
	Type      string          `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// Payload returns the exact body sent for e: its envelope as compact JSON.
// The timestamp is the event's creation time in UTC, truncated to
// microseconds so the bytes do not depend on which store (PostgreSQL keeps
// microseconds) the event went through. HTML characters are not escaped, so
// Data reaches the receiver as written.
func Payload(e Event) ([]byte, error) {
	data := e.Data
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(Envelope{
		Type:      e.Type,
		Timestamp: e.CreatedAt.UTC().Truncate(time.Microsecond),
		Data:      data,
	})
	if err != nil {
		return nil, fmt.Errorf("webhook: encoding payload of event %s: %w", e.ID, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// Verifier checks deliveries against one secret. Build it once per secret
// with NewVerifier: the secret is parsed up front, so a misconfiguration
// surfaces at start-up rather than on the first delivery.
type Verifier struct {
	key       []byte
	tolerance time.Duration
	now       func() time.Time
}

// VerifyOption configures a Verifier.
type VerifyOption func(*Verifier) error

// WithTolerance sets how far webhook-timestamp may be from now, in either
// direction. It must be positive; the default is DefaultTolerance.
func WithTolerance(d time.Duration) VerifyOption {
	return func(v *Verifier) error {
		if d <= 0 {
			return fmt.Errorf("%w: %v", ErrInvalidTolerance, d)
		}
		v.tolerance = d
		return nil
	}
}

// WithClock sets the receiver's clock, so tests (and replays of recorded
// deliveries) can verify timestamps without sleeping. Default: time.Now.
func WithClock(now func() time.Time) VerifyOption {
	return func(v *Verifier) error {
		if now == nil {
			return errors.New("webhook: nil clock")
		}
		v.now = now
		return nil
	}
}

// NewVerifier returns a Verifier for secret (whsec_<base64> or bare base64).
func NewVerifier(secret string, opts ...VerifyOption) (*Verifier, error) {
	key, err := ParseSecret(secret)
	if err != nil {
		return nil, err
	}
	v := &Verifier{key: key, tolerance: DefaultTolerance, now: time.Now}
	for _, o := range opts {
		if err := o(v); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// Verify checks a delivery with the default tolerance and the system clock.
// body must be the raw request body, byte for byte: decoding and re-encoding
// JSON before verifying changes the bytes and fails the check.
func Verify(secret string, header http.Header, body []byte) error {
	v, err := NewVerifier(secret)
	if err != nil {
		return err
	}
	return v.Verify(header, body)
}

// Verify checks that header carries a webhook-timestamp within tolerance and
// at least one v1 signature of body made with the Verifier's secret.
// Signatures of other versions (e.g. v1a) are ignored. Signatures are
// compared in constant time. The error wraps one of ErrMissingHeaders,
// ErrInvalidTimestamp, ErrTimestampTooOld, ErrTimestampTooNew or
// ErrInvalidSignature.
func (v *Verifier) Verify(header http.Header, body []byte) error {
	id := headerValue(header, HeaderID)
	tsText := headerValue(header, HeaderTimestamp)
	sigs := headerValue(header, HeaderSignature)
	var missing []string
	for _, h := range []struct{ name, val string }{
		{"webhook-id", id}, {"webhook-timestamp", tsText}, {"webhook-signature", sigs},
	} {
		if h.val == "" {
			missing = append(missing, h.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s", ErrMissingHeaders, strings.Join(missing, ", "))
	}

	secs, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %q", ErrInvalidTimestamp, truncate(tsText, 32))
	}
	now := v.now()
	// time.Unix misbehaves far outside the years time.Time can represent,
	// so absurd timestamps are settled in integer seconds first. 1<<40 s
	// (about 35,000 years) exceeds any tolerance yet keeps the sums below
	// far from overflowing.
	const far = 1 << 40
	if nowSecs := now.Unix(); secs < nowSecs-far {
		return fmt.Errorf("%w: signed millennia ago", ErrTimestampTooOld)
	} else if secs > nowSecs+far {
		return fmt.Errorf("%w: signed millennia ahead", ErrTimestampTooNew)
	}
	ts := time.Unix(secs, 0)
	if age := now.Sub(ts); age > v.tolerance {
		return fmt.Errorf("%w: signed %v ago, tolerance %v", ErrTimestampTooOld, age.Truncate(time.Second), v.tolerance)
	}
	if ahead := ts.Sub(now); ahead > v.tolerance {
		return fmt.Errorf("%w: signed %v ahead, tolerance %v", ErrTimestampTooNew, ahead.Truncate(time.Second), v.tolerance)
	}

	want := []byte(base64.StdEncoding.EncodeToString(mac(v.key, id, tsText, body)))
	matched := false
	for _, entry := range strings.Split(sigs, " ") {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != signatureVersion {
			continue
		}
		// Keep comparing after a match so timing does not reveal which
		// entry matched.
		if hmac.Equal([]byte(sig), want) {
			matched = true
		}
	}
	if !matched {
		return ErrInvalidSignature
	}
	return nil
}

// headerValue reads a header by its canonical name, falling back to the
// lowercase spelling for http.Header maps built by hand rather than by
// net/http.
func headerValue(h http.Header, canonical string) string {
	if v := strings.TrimSpace(h.Get(canonical)); v != "" {
		return v
	}
	if vs := h[strings.ToLower(canonical)]; len(vs) > 0 {
		return strings.TrimSpace(vs[0])
	}
	return ""
}

// truncate shortens attacker-controlled text before it goes into an error.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
