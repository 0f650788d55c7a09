package apikey

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSecretFormat(t *testing.T) {
	s := NewSecret(false)
	require.Len(t, s, SecretLen)
	require.Equal(t, 51, SecretLen)
	require.True(t, strings.HasPrefix(s, TestPrefix))
	require.True(t, ValidSecret(s))
	require.False(t, IsLive(s))
	l := NewSecret(true)
	require.True(t, strings.HasPrefix(l, LivePrefix))
	require.True(t, ValidSecret(l))
	require.True(t, IsLive(l))
	require.NotEqual(t, s, NewSecret(false), "random")

	body := s[len(TestPrefix):]
	for _, bad := range []string{
		"", "sk_test_", TestPrefix + body[:42], s + "A", "sk_prod_" + body, "pk_test_" + body,
		TestPrefix + "+" + body[1:],                // not base64url
		TestPrefix + body[:42] + "=",               // padding
		TestPrefix + strings.Repeat("_", 43),       // non-canonical: the 2 spare low bits are set
		TestPrefix + body[:42] + "\x00",            // NUL
		strings.ToUpper(TestPrefix) + body,         // prefix is case-sensitive
		TestPrefix + body[:41] + "é",               // not ASCII
		TestPrefix + strings.Repeat("A", 42) + "B", // non-canonical last character (strict)
	} {
		require.False(t, ValidSecret(bad), "%q", bad)
	}
}

func TestHashAndMatch(t *testing.T) {
	s := NewSecret(false)
	k, err := New("key_1", "  ci  ", s, "cus_1", time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("x", 3600)))
	require.NoError(t, err)
	require.Equal(t, "ci", k.Name)
	require.Equal(t, s[:PrefixLen], k.Prefix)
	require.Len(t, k.Hash, 32)
	require.Equal(t, time.UTC, k.CreatedAt.Location())
	require.True(t, k.Matches(s))
	require.False(t, k.Matches(NewSecret(false)))
	require.False(t, Key{}.Matches(s))
	require.True(t, k.Active())
	require.True(t, k.Restricted())

	_, err = New("key_2", "x", "sk_test_short", "", time.Now())
	require.ErrorIs(t, err, ErrMalformedSecret)
	require.ErrorIs(t, err, ErrInvalid)
	_, err = New("key_2", strings.Repeat("n", MaxNameLen+1), s, "", time.Now())
	require.ErrorIs(t, err, ErrInvalidName)
	_, err = New("key_2", "a\x00b", s, "", time.Now())
	require.ErrorIs(t, err, ErrInvalidName)
	live, err := New("key_3", "", NewSecret(true), "", time.Now())
	require.NoError(t, err)
	require.True(t, live.Livemode)
}

func TestHashNeverInJSON(t *testing.T) {
	k, err := New("key_1", "n", NewSecret(false), "", time.Now())
	require.NoError(t, err)
	b, err := json.Marshal(k)
	require.NoError(t, err)
	require.NotContains(t, string(b), "hash")
	require.NotContains(t, string(b), "revoked_at", "zero RevokedAt is omitted")
}
