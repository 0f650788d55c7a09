package portaltoken

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var now = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func signer(t *testing.T, secret string) *Signer {
	t.Helper()
	s, err := New([]byte(secret))
	require.NoError(t, err)
	return s
}

func TestRoundTrip(t *testing.T) {
	s := signer(t, strings.Repeat("k", 32))
	tok := s.Sign("cus_1", "https://shop.example/back?x=1", now)
	c, err := s.Verify(tok, now.Add(59*time.Minute))
	require.NoError(t, err)
	require.Equal(t, Claims{CustomerID: "cus_1", ReturnURL: "https://shop.example/back?x=1", ExpiresAt: now.Add(TTL)}, c)
}

func TestExpiry(t *testing.T) {
	s := signer(t, strings.Repeat("k", 32))
	tok := s.Sign("cus_1", "", now)
	_, err := s.Verify(tok, now.Add(TTL))
	require.ErrorIs(t, err, ErrExpired)
	_, err = s.Verify(tok, now.Add(2*TTL))
	require.ErrorIs(t, err, ErrExpired)
}

func TestTamper(t *testing.T) {
	s := signer(t, strings.Repeat("k", 32))
	tok := s.Sign("cus_1", "", now)
	body, sig, _ := strings.Cut(tok, ".")

	// Another customer's claims under the original signature.
	other := s.Sign("cus_2", "", now)
	otherBody, _, _ := strings.Cut(other, ".")
	for name, bad := range map[string]string{
		"swapped body":   otherBody + "." + sig,
		"flipped sig":    body + "." + flip(sig),
		"flipped body":   flip(body) + "." + sig,
		"no signature":   body,
		"empty":          "",
		"empty body":     "." + sig,
		"bad base64":     body + ".!!!",
		"other secret":   signer(t, strings.Repeat("x", 32)).Sign("cus_1", "", now),
		"too long":       strings.Repeat("a", MaxTokenLen+1),
		"extra segments": tok + ".x",
	} {
		_, err := s.Verify(bad, now)
		require.ErrorIs(t, err, ErrInvalid, name)
	}
}

func TestSecrets(t *testing.T) {
	_, err := New([]byte("short"))
	require.Error(t, err)
	a, b := Random(), Random()
	_, err = b.Verify(a.Sign("cus_1", "", now), now)
	require.ErrorIs(t, err, ErrInvalid)
}

func flip(s string) string {
	b := []byte(s)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}
