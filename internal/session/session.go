// Package session signs the browser sessions of the dashboard and the
// customer portal and derives their CSRF tokens. A session is a cookie
// holding an HMAC-SHA256-signed, expiring claim (the same construction as
// internal/portaltoken): a purpose ("dashboard", "portal"), a subject (an
// API key id or a customer id), a random nonce and an expiry. No server
// state is kept; the pages re-check the subject (the key is still active,
// the customer still exists) on every request.
//
// Format: base64url(payload) "." base64url(HMAC-SHA256(key, "s1." +
// base64url(payload))), payload being JSON {"p","s","n","e"}.
package session

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// MinSecretLen is the shortest secret New accepts (bytes).
const MinSecretLen = 32

// maxTokenLen bounds a token Verify reads.
const maxTokenLen = 4096

// ErrInvalid: a token is malformed, tampered with, of another purpose or
// expired.
var ErrInvalid = errors.New("session: invalid or expired session")

// Session is what a token says.
type Session struct {
	Purpose   string
	Subject   string
	Nonce     string
	ExpiresAt time.Time
}

type payload struct {
	P string `json:"p"`
	S string `json:"s"`
	N string `json:"n"`
	E int64  `json:"e"`
}

// Signer signs and verifies sessions and CSRF tokens with one key.
type Signer struct{ key []byte }

// New derives a Signer from secret (at least MinSecretLen bytes). The key
// is HMAC(secret, "coffer session v1"), so the same secret can sign portal
// links (internal/portaltoken) without a session token ever verifying as a
// link or the other way round.
func New(secret []byte) (*Signer, error) {
	if len(secret) < MinSecretLen {
		return nil, errors.New("session: secret shorter than 32 bytes")
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("coffer session v1"))
	return &Signer{key: m.Sum(nil)}, nil
}

// Random returns a Signer with a random key: its sessions end with the
// process.
func Random() *Signer {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return &Signer{key: b}
}

var enc = base64.RawURLEncoding

// Nonce returns 16 random bytes, base64url.
func Nonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return enc.EncodeToString(b)
}

// Sign returns a token for purpose and subject valid until now+ttl, with a
// fresh nonce.
func (s *Signer) Sign(purpose, subject string, now time.Time, ttl time.Duration) string {
	b, _ := json.Marshal(payload{P: purpose, S: subject, N: Nonce(), E: now.Add(ttl).Unix()})
	body := enc.EncodeToString(b)
	return body + "." + enc.EncodeToString(s.mac("s1.", body))
}

func (s *Signer) mac(domain, body string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(domain))
	m.Write([]byte(body))
	return m.Sum(nil)
}

// Verify checks a token's signature, purpose and expiry at now.
func (s *Signer) Verify(token, purpose string, now time.Time) (Session, error) {
	if len(token) > maxTokenLen {
		return Session{}, ErrInvalid
	}
	body, sig, ok := strings.Cut(token, ".")
	if !ok || body == "" {
		return Session{}, ErrInvalid
	}
	got, err := enc.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac("s1.", body)) {
		return Session{}, ErrInvalid
	}
	raw, err := enc.DecodeString(body)
	if err != nil {
		return Session{}, ErrInvalid
	}
	var p payload
	if err := json.Unmarshal(raw, &p); err != nil || p.S == "" || p.N == "" || p.E == 0 || p.P != purpose {
		return Session{}, ErrInvalid
	}
	out := Session{Purpose: p.P, Subject: p.S, Nonce: p.N, ExpiresAt: time.Unix(p.E, 0).UTC()}
	if !now.Before(out.ExpiresAt) {
		return Session{}, ErrInvalid
	}
	return out, nil
}

// CSRF returns the CSRF token of a session nonce (or of a pre-session
// nonce, for a sign-in form): forms carry it in a hidden field.
func (s *Signer) CSRF(nonce string) string {
	return enc.EncodeToString(s.mac("csrf.", nonce))
}

// CheckCSRF reports whether token is the CSRF token of nonce.
func (s *Signer) CheckCSRF(nonce, token string) bool {
	if nonce == "" || token == "" {
		return false
	}
	got, err := enc.DecodeString(token)
	return err == nil && hmac.Equal(got, s.mac("csrf.", nonce))
}
