package session

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var now = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func TestSession(t *testing.T) {
	s, err := New([]byte(strings.Repeat("k", 32)))
	require.NoError(t, err)
	_, err = New([]byte("short"))
	require.Error(t, err)

	tok := s.Sign("dashboard", "key_1", now, time.Hour)
	got, err := s.Verify(tok, "dashboard", now.Add(59*time.Minute))
	require.NoError(t, err)
	require.Equal(t, "key_1", got.Subject)
	require.NotEmpty(t, got.Nonce)

	_, err = s.Verify(tok, "portal", now) // another purpose
	require.ErrorIs(t, err, ErrInvalid)
	_, err = s.Verify(tok, "dashboard", now.Add(time.Hour)) // expired
	require.ErrorIs(t, err, ErrInvalid)
	other, _ := New([]byte(strings.Repeat("x", 32)))
	_, err = other.Verify(tok, "dashboard", now) // another key
	require.ErrorIs(t, err, ErrInvalid)
	body, sig, _ := strings.Cut(tok, ".")
	_, err = s.Verify(body[:len(body)-2]+"AA."+sig, "dashboard", now) // tampered
	require.ErrorIs(t, err, ErrInvalid)

	c := s.CSRF(got.Nonce)
	require.True(t, s.CheckCSRF(got.Nonce, c))
	require.False(t, s.CheckCSRF(got.Nonce, ""))
	require.False(t, s.CheckCSRF("other", c))
	require.False(t, other.CheckCSRF(got.Nonce, c))
}
