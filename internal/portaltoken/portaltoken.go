// Package portaltoken signs and verifies the tokens of customer portal
// links (`<public url>/portal/session/<token>`): an HMAC-SHA256-signed,
// expiring claim of a customer id and a return URL. A token needs no
// server-side state, so it is only as secret as the link it is in and is
// valid until it expires (TTL) for whoever holds it.
//
// Format: base64url(payload) "." base64url(HMAC-SHA256(secret, "v1." +
// base64url(payload))), payload being JSON {"c": customer id, "r": return
// url, "e": expiry in Unix seconds}.
package portaltoken

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

// TTL is how long a token is valid after Sign.
const TTL = time.Hour

// MinSecretLen is the shortest secret New accepts (bytes).
const MinSecretLen = 32

// MaxTokenLen bounds a token Verify reads.
const MaxTokenLen = 4096

// Errors of Verify.
var (
	// ErrInvalid: the token is malformed or its signature does not match
	// (tampered, or signed with another secret).
	ErrInvalid = errors.New("portaltoken: invalid token")
	// ErrExpired: the signature is good but the token is past its expiry.
	ErrExpired = errors.New("portaltoken: token expired")
)

// Claims is what a token says.
type Claims struct {
	CustomerID string
	ReturnURL  string
	ExpiresAt  time.Time
}

type payload struct {
	C string `json:"c"`
	R string `json:"r,omitempty"`
	E int64  `json:"e"`
}

// Signer signs and verifies tokens with one secret.
type Signer struct {
	secret []byte
	ttl    time.Duration
}

// New returns a Signer for secret (at least MinSecretLen bytes).
func New(secret []byte) (*Signer, error) {
	if len(secret) < MinSecretLen {
		return nil, errors.New("portaltoken: secret shorter than 32 bytes")
	}
	return &Signer{secret: append([]byte(nil), secret...), ttl: TTL}, nil
}

// Random returns a Signer with a random secret: its tokens do not survive
// the process.
func Random() *Signer {
	b := make([]byte, MinSecretLen)
	_, _ = rand.Read(b)
	return &Signer{secret: b, ttl: TTL}
}

var enc = base64.RawURLEncoding

// Sign returns a token for customerID and returnURL, valid for TTL from now.
func (s *Signer) Sign(customerID, returnURL string, now time.Time) string {
	b, _ := json.Marshal(payload{C: customerID, R: returnURL, E: now.Add(s.ttl).Unix()})
	body := enc.EncodeToString(b)
	return body + "." + enc.EncodeToString(s.mac(body))
}

func (s *Signer) mac(body string) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("v1."))
	m.Write([]byte(body))
	return m.Sum(nil)
}

// Verify checks token's signature and expiry at now and returns its claims.
func (s *Signer) Verify(token string, now time.Time) (Claims, error) {
	if len(token) > MaxTokenLen {
		return Claims{}, ErrInvalid
	}
	body, sig, ok := strings.Cut(token, ".")
	if !ok || body == "" {
		return Claims{}, ErrInvalid
	}
	got, err := enc.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(body)) {
		return Claims{}, ErrInvalid
	}
	raw, err := enc.DecodeString(body)
	if err != nil {
		return Claims{}, ErrInvalid
	}
	var p payload
	if err := json.Unmarshal(raw, &p); err != nil || p.C == "" || p.E == 0 {
		return Claims{}, ErrInvalid
	}
	c := Claims{CustomerID: p.C, ReturnURL: p.R, ExpiresAt: time.Unix(p.E, 0).UTC()}
	if !now.Before(c.ExpiresAt) {
		return c, ErrExpired
	}
	return c, nil
}
