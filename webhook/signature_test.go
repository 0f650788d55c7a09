package webhook

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Standard Webhooks test vector, copied from the reference libraries of
// github.com/standard-webhooks/standard-webhooks: libraries/go/webhook_test.go
// (TestWebhookSign, and defaultMsgID/defaultPayload/defaultSecret) and
// libraries/javascript/src/webhook.test.ts ("sign function works").
const (
	vecSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vecBare      = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // same key without prefix
	vecMsgID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vecTimestamp = int64(1614265330)
	vecPayload   = `{"test": 2432232314}`
	vecSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	// vecForeignSig is the well-formed but non-matching signature the
	// reference tests use ("invalid signature is invalid", "valid multi sig").
	vecForeignSig = "Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
)

var vecTime = time.Unix(vecTimestamp, 0)

func vecHeader() http.Header {
	h := http.Header{}
	h.Set(HeaderID, vecMsgID)
	h.Set(HeaderTimestamp, strconv.FormatInt(vecTimestamp, 10))
	h.Set(HeaderSignature, vecSignature)
	return h
}

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func newTestVerifier(t *testing.T, secret string, now time.Time) *Verifier {
	t.Helper()
	v, err := NewVerifier(secret, WithClock(fixedClock(now)))
	require.NoError(t, err)
	return v
}

func TestSignStandardWebhooksVector(t *testing.T) {
	for _, secret := range []string{vecSecret, vecBare} {
		sig, err := Sign(secret, vecMsgID, vecTime, []byte(vecPayload))
		require.NoError(t, err)
		require.Equal(t, vecSignature, sig)
	}
	// Sub-second parts do not change the signature: the header has seconds.
	sig, err := Sign(vecSecret, vecMsgID, vecTime.Add(999*time.Millisecond), []byte(vecPayload))
	require.NoError(t, err)
	require.Equal(t, vecSignature, sig)
}

func TestVerifyStandardWebhooksVectors(t *testing.T) {
	cases := []struct {
		name    string
		secret  string
		now     time.Time
		modify  func(h http.Header)
		body    string
		wantErr error
	}{
		{name: "valid", secret: vecSecret, now: vecTime},
		{name: "valid with bare secret", secret: vecBare, now: vecTime},
		{name: "valid 4m59s later", secret: vecSecret, now: vecTime.Add(4*time.Minute + 59*time.Second)},
		{name: "valid at exactly the tolerance", secret: vecSecret, now: vecTime.Add(DefaultTolerance)},
		{name: "valid at exactly the tolerance ahead", secret: vecSecret, now: vecTime.Add(-DefaultTolerance)},
		{
			name: "valid multi sig", secret: vecSecret, now: vecTime,
			modify: func(h http.Header) {
				h.Set(HeaderSignature, strings.Join([]string{
					"v1," + vecForeignSig, "v2," + vecForeignSig, vecSignature, "v1," + vecForeignSig,
				}, " "))
			},
		},
		{
			name: "unknown versions ignored", secret: vecSecret, now: vecTime,
			modify: func(h http.Header) {
				h.Set(HeaderSignature, "v1a,"+vecForeignSig+" "+vecSignature+" v2,"+strings.TrimPrefix(vecSignature, "v1,"))
			},
		},
		{
			name: "invalid signature", secret: vecSecret, now: vecTime, wantErr: ErrInvalidSignature,
			modify: func(h http.Header) { h.Set(HeaderSignature, "v1,"+vecForeignSig) },
		},
		{
			name: "right signature under another version", secret: vecSecret, now: vecTime, wantErr: ErrInvalidSignature,
			modify: func(h http.Header) { h.Set(HeaderSignature, "v2,"+strings.TrimPrefix(vecSignature, "v1,")) },
		},
		{
			name: "short garbage signature", secret: vecSecret, now: vecTime, wantErr: ErrInvalidSignature,
			modify: func(h http.Header) { h.Set(HeaderSignature, "v1,dawfeoifkpqwoekfpqoekf") },
		},
		{
			name: "partial signature", secret: vecSecret, now: vecTime, wantErr: ErrInvalidSignature,
			modify: func(h http.Header) { h.Set(HeaderSignature, vecSignature[:8]) },
		},
		{
			name: "empty v1 signature", secret: vecSecret, now: vecTime, wantErr: ErrInvalidSignature,
			modify: func(h http.Header) { h.Set(HeaderSignature, "v1,") },
		},
		{
			name: "signature without version", secret: vecSecret, now: vecTime, wantErr: ErrInvalidSignature,
			modify: func(h http.Header) { h.Set(HeaderSignature, strings.TrimPrefix(vecSignature, "v1,")) },
		},
		{name: "tampered body", secret: vecSecret, now: vecTime, body: `{"test": 2432232315}`, wantErr: ErrInvalidSignature},
		{name: "body with trailing newline", secret: vecSecret, now: vecTime, body: vecPayload + "\n", wantErr: ErrInvalidSignature},
		{name: "wrong secret", secret: "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 24)), now: vecTime, wantErr: ErrInvalidSignature},
		{
			name: "tampered id", secret: vecSecret, now: vecTime, wantErr: ErrInvalidSignature,
			modify: func(h http.Header) { h.Set(HeaderID, vecMsgID+"x") },
		},
		{
			name: "tampered timestamp within tolerance", secret: vecSecret, now: vecTime, wantErr: ErrInvalidSignature,
			modify: func(h http.Header) { h.Set(HeaderTimestamp, strconv.FormatInt(vecTimestamp+1, 10)) },
		},
		{name: "stale", secret: vecSecret, now: vecTime.Add(DefaultTolerance + time.Second), wantErr: ErrTimestampTooOld},
		{name: "future", secret: vecSecret, now: vecTime.Add(-DefaultTolerance - time.Second), wantErr: ErrTimestampTooNew},
		{name: "ancient", secret: vecSecret, now: vecTime.Add(24 * 365 * time.Hour), wantErr: ErrTimestampTooOld},
		{
			name: "missing id", secret: vecSecret, now: vecTime, wantErr: ErrMissingHeaders,
			modify: func(h http.Header) { h.Del(HeaderID) },
		},
		{
			name: "missing timestamp", secret: vecSecret, now: vecTime, wantErr: ErrMissingHeaders,
			modify: func(h http.Header) { h.Del(HeaderTimestamp) },
		},
		{
			name: "missing signature", secret: vecSecret, now: vecTime, wantErr: ErrMissingHeaders,
			modify: func(h http.Header) { h.Del(HeaderSignature) },
		},
		{
			name: "blank signature", secret: vecSecret, now: vecTime, wantErr: ErrMissingHeaders,
			modify: func(h http.Header) { h.Set(HeaderSignature, "   ") },
		},
		{
			name: "no headers at all", secret: vecSecret, now: vecTime, wantErr: ErrMissingHeaders,
			modify: func(h http.Header) { clear(h) },
		},
		{
			name: "timestamp not a number", secret: vecSecret, now: vecTime, wantErr: ErrInvalidTimestamp,
			modify: func(h http.Header) { h.Set(HeaderTimestamp, "hello") },
		},
		{
			name: "timestamp fractional", secret: vecSecret, now: vecTime, wantErr: ErrInvalidTimestamp,
			modify: func(h http.Header) { h.Set(HeaderTimestamp, "1614265330.5") },
		},
		{
			name: "timestamp overflows int64", secret: vecSecret, now: vecTime, wantErr: ErrInvalidTimestamp,
			modify: func(h http.Header) { h.Set(HeaderTimestamp, "99999999999999999999") },
		},
		{
			name: "timestamp max int64", secret: vecSecret, now: vecTime, wantErr: ErrTimestampTooNew,
			modify: func(h http.Header) { h.Set(HeaderTimestamp, "9223372036854775807") },
		},
		{
			name: "timestamp min int64", secret: vecSecret, now: vecTime, wantErr: ErrTimestampTooOld,
			modify: func(h http.Header) { h.Set(HeaderTimestamp, "-9223372036854775808") },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := vecHeader()
			if tc.modify != nil {
				tc.modify(h)
			}
			body := vecPayload
			if tc.body != "" {
				body = tc.body
			}
			err := newTestVerifier(t, tc.secret, tc.now).Verify(h, []byte(body))
			if tc.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.wantErr)
		})
	}
}

func TestVerifyErrorDetails(t *testing.T) {
	h := vecHeader()
	h.Del(HeaderID)
	h.Del(HeaderSignature)
	err := newTestVerifier(t, vecSecret, vecTime).Verify(h, []byte(vecPayload))
	require.ErrorIs(t, err, ErrMissingHeaders)
	require.Contains(t, err.Error(), "webhook-id, webhook-signature")
	require.NotContains(t, err.Error(), "webhook-timestamp")

	// Both tolerance errors share a cause for callers that do not care
	// which side of the window was hit.
	err = newTestVerifier(t, vecSecret, vecTime.Add(time.Hour)).Verify(vecHeader(), []byte(vecPayload))
	require.ErrorIs(t, err, ErrTimestampOutOfTolerance)
	require.NotErrorIs(t, err, ErrTimestampTooNew)
	require.Contains(t, err.Error(), "1h0m0s ago")
	err = newTestVerifier(t, vecSecret, vecTime.Add(-time.Hour)).Verify(vecHeader(), []byte(vecPayload))
	require.ErrorIs(t, err, ErrTimestampOutOfTolerance)
	require.NotErrorIs(t, err, ErrTimestampTooOld)

	// Attacker-controlled text is bounded in error messages.
	h = vecHeader()
	h.Set(HeaderTimestamp, strings.Repeat("x", 10000))
	err = newTestVerifier(t, vecSecret, vecTime).Verify(h, []byte(vecPayload))
	require.ErrorIs(t, err, ErrInvalidTimestamp)
	require.Less(t, len(err.Error()), 100)
}

func TestVerifyLowercaseHandBuiltHeader(t *testing.T) {
	h := http.Header{
		"webhook-id":        {vecMsgID},
		"webhook-timestamp": {strconv.FormatInt(vecTimestamp, 10)},
		"webhook-signature": {vecSignature},
	}
	require.NoError(t, newTestVerifier(t, vecSecret, vecTime).Verify(h, []byte(vecPayload)))
}

func TestVerifyPackageFunction(t *testing.T) {
	now := time.Now()
	body := []byte(`{"type":"x","timestamp":"2026-01-01T00:00:00Z","data":null}`)
	sig, err := Sign(vecSecret, "evt_1", now, body)
	require.NoError(t, err)
	h := http.Header{}
	h.Set(HeaderID, "evt_1")
	h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	h.Set(HeaderSignature, sig)
	require.NoError(t, Verify(vecSecret, h, body))
	require.ErrorIs(t, Verify(vecSecret, h, append(body, ' ')), ErrInvalidSignature)
	require.ErrorIs(t, Verify("whsec_nope", h, body), ErrInvalidSecret)

	h.Set(HeaderTimestamp, strconv.FormatInt(now.Add(-10*time.Minute).Unix(), 10))
	require.ErrorIs(t, Verify(vecSecret, h, body), ErrTimestampTooOld)
}

func TestVerifierOptions(t *testing.T) {
	_, err := NewVerifier(vecSecret, WithTolerance(0))
	require.ErrorIs(t, err, ErrInvalidTolerance)
	_, err = NewVerifier(vecSecret, WithTolerance(-time.Second))
	require.ErrorIs(t, err, ErrInvalidTolerance)
	_, err = NewVerifier(vecSecret, WithClock(nil))
	require.Error(t, err)
	_, err = NewVerifier("whsec_short")
	require.ErrorIs(t, err, ErrInvalidSecret)

	clock := vecTime
	v, err := NewVerifier(vecSecret, WithTolerance(time.Minute), WithClock(func() time.Time { return clock }))
	require.NoError(t, err)
	clock = vecTime.Add(30 * time.Second)
	require.NoError(t, v.Verify(vecHeader(), []byte(vecPayload)))
	clock = vecTime.Add(61 * time.Second)
	require.ErrorIs(t, v.Verify(vecHeader(), []byte(vecPayload)), ErrTimestampTooOld)
	clock = vecTime.Add(-61 * time.Second)
	require.ErrorIs(t, v.Verify(vecHeader(), []byte(vecPayload)), ErrTimestampTooNew)
}

func secretOfLen(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i + 1)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

func TestParseSecret(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		wantLen int // 0: error
	}{
		{"reference vector", vecSecret, 24},
		{"bare base64", vecBare, 24},
		{"minimum", secretOfLen(MinSecretBytes), MinSecretBytes},
		{"32 bytes", secretOfLen(32), 32},
		{"maximum", secretOfLen(MaxSecretBytes), MaxSecretBytes},
		{"too short", secretOfLen(MinSecretBytes - 1), 0},
		{"too long", secretOfLen(MaxSecretBytes + 1), 0},
		{"empty", "", 0},
		{"prefix only", "whsec_", 0},
		{"not base64", "whsec_!!!!not-base64!!!!!!!!!!!!!", 0},
		{"url-safe alphabet", "whsec_" + base64.URLEncoding.EncodeToString([]byte(strings.Repeat("\xfb\xff", 12))), 0},
		{"missing padding", strings.TrimRight(secretOfLen(25), "="), 0},
		{"whitespace", " " + vecSecret, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			key, err := ParseSecret(tc.in)
			if tc.wantLen == 0 {
				require.ErrorIs(t, err, ErrInvalidSecret)
				require.NotContains(t, err.Error(), "!!!!", "the secret must not be echoed")
				return
			}
			require.NoError(t, err)
			require.Len(t, key, tc.wantLen)
		})
	}
}

func TestNewSecret(t *testing.T) {
	a, err := NewSecret()
	require.NoError(t, err)
	b, err := NewSecret()
	require.NoError(t, err)
	require.NotEqual(t, a, b)
	require.True(t, strings.HasPrefix(a, SecretPrefix))
	key, err := ParseSecret(a)
	require.NoError(t, err)
	require.Len(t, key, 32)

	// A fresh secret round-trips through Sign and Verify.
	sig, err := Sign(a, "evt_x", vecTime, []byte("{}"))
	require.NoError(t, err)
	h := http.Header{}
	h.Set(HeaderID, "evt_x")
	h.Set(HeaderTimestamp, strconv.FormatInt(vecTimestamp, 10))
	h.Set(HeaderSignature, sig)
	require.NoError(t, newTestVerifier(t, a, vecTime).Verify(h, []byte("{}")))
	require.ErrorIs(t, newTestVerifier(t, b, vecTime).Verify(h, []byte("{}")), ErrInvalidSignature)
}

func TestSignErrors(t *testing.T) {
	_, err := Sign("whsec_", "evt_1", vecTime, nil)
	require.ErrorIs(t, err, ErrInvalidSecret)
	_, err = Sign(vecSecret, "", vecTime, nil)
	require.ErrorIs(t, err, ErrInvalidMessageID)
	_, err = Sign(vecSecret, "evt.1", vecTime, nil)
	require.ErrorIs(t, err, ErrInvalidMessageID)

	_, err = SignatureHeader(nil, "evt_1", vecTime, nil)
	require.ErrorIs(t, err, ErrNoSecrets)
	_, err = SignatureHeader([]string{vecSecret, "bad"}, "evt_1", vecTime, nil)
	require.ErrorIs(t, err, ErrInvalidSecret)
}

func TestSigningSecretsAndRotation(t *testing.T) {
	oldSecret, newSecret, otherSecret := secretOfLen(24), secretOfLen(32), secretOfLen(40)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ep := Endpoint{Secret: newSecret, PreviousSecret: oldSecret, PreviousExpiresAt: now.Add(time.Hour)}

	cases := []struct {
		name string
		ep   Endpoint
		at   time.Time
		want []string
	}{
		{"grace period", ep, now, []string{newSecret, oldSecret}},
		{"just before expiry", ep, now.Add(time.Hour - time.Nanosecond), []string{newSecret, oldSecret}},
		{"at expiry", ep, now.Add(time.Hour), []string{newSecret}},
		{"no previous", Endpoint{Secret: newSecret}, now, []string{newSecret}},
		{"previous without expiry", Endpoint{Secret: newSecret, PreviousSecret: oldSecret}, now, []string{newSecret}},
		{"previous equals current", Endpoint{Secret: newSecret, PreviousSecret: newSecret, PreviousExpiresAt: now.Add(time.Hour)}, now, []string{newSecret}},
		{"no secret", Endpoint{}, now, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, SigningSecrets(tc.ep, tc.at))
		})
	}

	body := []byte(`{"type":"payment.succeeded"}`)
	header := func(at time.Time) http.Header {
		sig, err := SignatureHeader(SigningSecrets(ep, at), "evt_rot", at, body)
		require.NoError(t, err)
		h := http.Header{}
		h.Set(HeaderID, "evt_rot")
		h.Set(HeaderTimestamp, strconv.FormatInt(at.Unix(), 10))
		h.Set(HeaderSignature, sig)
		return h
	}

	during := header(now)
	require.Len(t, strings.Split(during.Get(HeaderSignature), " "), 2)
	require.NoError(t, newTestVerifier(t, oldSecret, now).Verify(during, body), "receiver not yet rotated")
	require.NoError(t, newTestVerifier(t, newSecret, now).Verify(during, body), "receiver already rotated")
	require.ErrorIs(t, newTestVerifier(t, otherSecret, now).Verify(during, body), ErrInvalidSignature)

	after := now.Add(2 * time.Hour)
	h := header(after)
	require.Len(t, strings.Split(h.Get(HeaderSignature), " "), 1)
	require.NoError(t, newTestVerifier(t, newSecret, after).Verify(h, body))
	require.ErrorIs(t, newTestVerifier(t, oldSecret, after).Verify(h, body), ErrInvalidSignature)
}

func TestPayload(t *testing.T) {
	ev := Event{
		ID:        "evt_1",
		Type:      "payment.succeeded",
		CreatedAt: time.Date(2026, 1, 2, 15, 4, 5, 123456789, time.FixedZone("CET", 3600)),
		Data:      json.RawMessage(`{ "amount": 1250,  "note": "<b>&" }`),
		Seq:       7,
	}
	b, err := Payload(ev)
	require.NoError(t, err)
	require.Equal(t,
		`{"type":"payment.succeeded","timestamp":"2026-01-02T14:04:05.123456Z","data":{"amount":1250,"note":"<b>&"}}`,
		string(b))

	var env Envelope
	require.NoError(t, json.Unmarshal(b, &env))
	require.Equal(t, ev.Type, env.Type)
	require.True(t, env.Timestamp.Equal(ev.CreatedAt.Truncate(time.Microsecond)))
	require.JSONEq(t, string(ev.Data), string(env.Data))

	// Deterministic: the same event always gives the same bytes.
	b2, err := Payload(ev)
	require.NoError(t, err)
	require.Equal(t, b, b2)

	whole := ev
	whole.CreatedAt = time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	whole.Data = nil
	b, err = Payload(whole)
	require.NoError(t, err)
	require.Equal(t, `{"type":"payment.succeeded","timestamp":"2026-01-02T15:04:05Z","data":null}`, string(b))

	bad := ev
	bad.Data = json.RawMessage(`{"unterminated":`)
	_, err = Payload(bad)
	require.Error(t, err)
	require.Contains(t, err.Error(), "evt_1")
}

// FuzzVerify checks that arbitrary header values and bodies never panic
// Verify, that every failure is one of the documented errors, and that
// success implies the header really contained the correct signature.
func FuzzVerify(f *testing.F) {
	ts := strconv.FormatInt(vecTimestamp, 10)
	f.Add(vecMsgID, ts, vecSignature, []byte(vecPayload))
	f.Add(vecMsgID, ts, "v1,"+vecForeignSig+" v2,"+vecForeignSig+" "+vecSignature, []byte(vecPayload))
	f.Add(vecMsgID, ts, "v1a,"+vecForeignSig, []byte(vecPayload))
	f.Add(vecMsgID, "hello", vecSignature, []byte(vecPayload))
	f.Add(vecMsgID, "-9223372036854775808", vecSignature, []byte{})
	f.Add("", "", "", []byte(nil))
	f.Add("a.b", "1.5", "v1,,, ,v1 v1,", []byte("\x00\xff"))
	f.Add(vecMsgID, ts, vecSignature[:8], []byte(vecPayload))

	v, err := NewVerifier(vecSecret, WithClock(fixedClock(vecTime)))
	require.NoError(f, err)
	known := []error{ErrMissingHeaders, ErrInvalidTimestamp, ErrTimestampOutOfTolerance, ErrInvalidSignature}

	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set(HeaderID, id)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, sig)
		err := v.Verify(h, body)
		if err != nil {
			for _, k := range known {
				if errors.Is(err, k) {
					return
				}
			}
			t.Fatalf("undocumented error %v", err)
		}
		// Accepted: recompute what must have been in the header.
		id, ts = strings.TrimSpace(id), strings.TrimSpace(ts)
		want := "v1," + base64.StdEncoding.EncodeToString(mac(v.key, id, ts, body))
		if !strings.Contains(" "+strings.TrimSpace(sig)+" ", " "+want+" ") {
			t.Fatalf("accepted %q without the right signature %q", sig, want)
		}
	})
}
