package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type received struct {
	header http.Header
	body   []byte
	err    error // from Verify
}

// verifyingServer answers status after checking each request with Verify
// (the package function, real clock) and records what it saw.
func verifyingServer(t *testing.T, secret string, status int) (*httptest.Server, <-chan received) {
	t.Helper()
	ch := make(chan received, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("reading body: %v", err)
		}
		verr := Verify(secret, r.Header, body)
		ch <- received{header: r.Header.Clone(), body: body, err: verr}
		if verr != nil {
			http.Error(w, verr.Error(), http.StatusUnauthorized)
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv, ch
}

func testEvent() Event {
	return Event{
		ID:        "evt_0123456789abcdef",
		Type:      "payment.succeeded",
		Data:      json.RawMessage(`{"payment_id":"pay_1","amount":{"minor":1250,"currency":"EUR"}}`),
		CreatedAt: time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC),
	}
}

func TestSendSuccessVerifiedByReceiver(t *testing.T) {
	secret, err := NewSecret()
	require.NoError(t, err)
	for _, status := range []int{http.StatusOK, http.StatusNoContent, 299} {
		srv, got := verifyingServer(t, secret, status)
		ev := testEvent()
		now := time.Now()
		res := (&Sender{AllowPrivateNetworks: true}).Send(context.Background(), Endpoint{ID: "ep_1", URL: srv.URL, Secret: secret}, ev, now)
		require.NoError(t, res.Err)
		require.True(t, res.OK())
		require.Equal(t, status, res.StatusCode)
		require.Positive(t, res.Duration)

		r := <-got
		require.NoError(t, r.err, "receiver-side Verify")
		want, err := Payload(ev)
		require.NoError(t, err)
		require.Equal(t, want, r.body, "the body is exactly the payload that was signed")
		require.Equal(t, ev.ID, r.header.Get("webhook-id"))
		require.Equal(t, "application/json", r.header.Get("Content-Type"))
		require.Equal(t, UserAgent, r.header.Get("User-Agent"))
		require.Equal(t, now.Unix(), mustAtoi(t, r.header.Get("webhook-timestamp")))
		require.Len(t, strings.Split(r.header.Get("webhook-signature"), " "), 1)
	}
}

func mustAtoi(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	require.NoError(t, json.Unmarshal([]byte(s), &n))
	return n
}

func TestSendDuringRotationSignsWithBothSecrets(t *testing.T) {
	oldSecret, err := NewSecret()
	require.NoError(t, err)
	newSecret, err := NewSecret()
	require.NoError(t, err)
	now := time.Now()
	ep := Endpoint{ID: "ep_rot", Secret: newSecret, PreviousSecret: oldSecret, PreviousExpiresAt: now.Add(24 * time.Hour)}

	// A receiver that has not picked up the new secret yet keeps working.
	srv, got := verifyingServer(t, oldSecret, http.StatusOK)
	ep.URL = srv.URL
	res := (&Sender{AllowPrivateNetworks: true}).Send(context.Background(), ep, testEvent(), now)
	require.NoError(t, res.Err)
	r := <-got
	require.NoError(t, r.err)
	require.Len(t, strings.Split(r.header.Get("webhook-signature"), " "), 2)

	// After the grace period only the new secret signs. (The live receiver
	// refuses it as signed in its future; re-verify what it received on a
	// clock set to that future.)
	later := now.Add(25 * time.Hour)
	res = (&Sender{AllowPrivateNetworks: true}).Send(context.Background(), ep, testEvent(), later)
	require.ErrorIs(t, res.Err, ErrUnexpectedStatus)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	r = <-got
	require.ErrorIs(t, r.err, ErrTimestampTooNew)
	require.Len(t, strings.Split(r.header.Get("webhook-signature"), " "), 1)
	require.ErrorIs(t, newTestVerifier(t, oldSecret, later).Verify(r.header, r.body), ErrInvalidSignature)
	require.NoError(t, newTestVerifier(t, newSecret, later).Verify(r.header, r.body))
}

func TestSendServerError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, "database\n  is down "+strings.Repeat("x", 10000))
	}))
	t.Cleanup(srv.Close)
	res := (&Sender{AllowPrivateNetworks: true}).Send(context.Background(), Endpoint{ID: "ep", URL: srv.URL, Secret: vecSecret}, testEvent(), time.Now())
	require.False(t, res.OK())
	require.Equal(t, http.StatusInternalServerError, res.StatusCode)
	require.ErrorIs(t, res.Err, ErrUnexpectedStatus)
	require.Contains(t, res.Err.Error(), "HTTP 500 Internal Server Error")
	require.NotContains(t, res.Err.Error(), "database", "the response body is never kept")
	require.Equal(t, "HTTP 500 Internal Server Error", res.Summary())
	require.Equal(t, 2*time.Minute, res.RetryAfter)
}

func TestSendDoesNotFollowRedirects(t *testing.T) {
	var followed atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/old", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/new", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/new", func(w http.ResponseWriter, r *http.Request) { followed.Add(1) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	res := (&Sender{AllowPrivateNetworks: true}).Send(context.Background(), Endpoint{URL: srv.URL + "/old", Secret: vecSecret}, testEvent(), time.Now())
	require.ErrorIs(t, res.Err, ErrUnexpectedStatus)
	require.Equal(t, http.StatusTemporaryRedirect, res.StatusCode)
	require.Zero(t, followed.Load())
}

func TestSendTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // hang until the sender gives up (or the test ends)
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })

	const timeout = 100 * time.Millisecond
	res := (&Sender{AllowPrivateNetworks: true, Timeout: timeout}).Send(context.Background(), Endpoint{URL: srv.URL, Secret: vecSecret}, testEvent(), time.Now())
	require.False(t, res.OK())
	require.Zero(t, res.StatusCode)
	require.ErrorIs(t, res.Err, ErrTimeout)
	require.ErrorIs(t, res.Err, context.DeadlineExceeded)
	require.GreaterOrEqual(t, res.Duration, timeout)
	require.Less(t, res.Duration, 5*time.Second)
}

func TestSendLateButWithinTimeout(t *testing.T) {
	const delay = 150 * time.Millisecond
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A slow receiver: real latency, not time logic under test.
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	res := (&Sender{AllowPrivateNetworks: true, Timeout: 5 * time.Second}).Send(context.Background(), Endpoint{URL: srv.URL, Secret: vecSecret}, testEvent(), time.Now())
	require.NoError(t, res.Err)
	require.Equal(t, http.StatusAccepted, res.StatusCode)
	require.GreaterOrEqual(t, res.Duration, delay)
}

func TestSendConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	res := (&Sender{AllowPrivateNetworks: true, Timeout: 5 * time.Second}).Send(context.Background(), Endpoint{URL: "http://" + addr + "/hook", Secret: vecSecret}, testEvent(), time.Now())
	require.False(t, res.OK())
	require.Zero(t, res.StatusCode)
	require.ErrorIs(t, res.Err, syscall.ECONNREFUSED)
	require.NotErrorIs(t, res.Err, ErrTimeout)
}

func TestSendLargeSuccessfulResponse(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(strings.Repeat("y", 8<<20)))
	}))
	t.Cleanup(srv.Close)
	res := (&Sender{AllowPrivateNetworks: true, Timeout: 5 * time.Second}).Send(context.Background(), Endpoint{URL: srv.URL, Secret: vecSecret}, testEvent(), time.Now())
	require.NoError(t, res.Err)
	require.Equal(t, http.StatusOK, res.StatusCode)
}

func TestSendCallerCancelled(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := (&Sender{AllowPrivateNetworks: true}).Send(ctx, Endpoint{URL: srv.URL, Secret: vecSecret}, testEvent(), time.Now())
	require.ErrorIs(t, res.Err, context.Canceled)
	require.NotErrorIs(t, res.Err, ErrTimeout, "a shutdown is not the endpoint's fault")
}

func TestSendLocalFailures(t *testing.T) {
	cases := []struct {
		name string
		ep   Endpoint
		ev   Event
		want error
	}{
		{"no secret", Endpoint{URL: "http://127.0.0.1:1"}, testEvent(), ErrNoSecrets},
		{"bad secret", Endpoint{URL: "http://127.0.0.1:1", Secret: "whsec_x"}, testEvent(), ErrInvalidSecret},
		{"bad event id", Endpoint{URL: "http://127.0.0.1:1", Secret: vecSecret}, Event{ID: "a.b", Type: "t"}, ErrInvalidMessageID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := (&Sender{AllowPrivateNetworks: true}).Send(context.Background(), tc.ep, tc.ev, time.Now())
			require.ErrorIs(t, res.Err, tc.want)
			require.Zero(t, res.StatusCode)
		})
	}
	for _, u := range []string{"://nope", "ftp://example.com/x", ""} {
		res := (&Sender{AllowPrivateNetworks: true}).Send(context.Background(), Endpoint{URL: u, Secret: vecSecret}, testEvent(), time.Now())
		require.Error(t, res.Err, u)
		require.Zero(t, res.StatusCode)
	}
	bad := testEvent()
	bad.Data = json.RawMessage("{")
	res := (&Sender{AllowPrivateNetworks: true}).Send(context.Background(), Endpoint{URL: "http://127.0.0.1:1", Secret: vecSecret}, bad, time.Now())
	require.Error(t, res.Err)
}

func TestSendConcurrent(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := Verify(vecSecret, r.Header, body); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		n.Add(1)
	}))
	t.Cleanup(srv.Close)
	s := &Sender{AllowPrivateNetworks: true, Client: srv.Client(), Timeout: 5 * time.Second} // one Sender, many goroutines
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			ev := testEvent()
			ev.ID = "evt_" + string(rune('a'+i))
			if res := s.Send(context.Background(), Endpoint{URL: srv.URL, Secret: vecSecret}, ev, time.Now()); res.Err != nil {
				t.Errorf("send %d: %v", i, res.Err)
			}
		})
	}
	wg.Wait()
	require.EqualValues(t, 16, n.Load())
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"120", 2 * time.Minute},
		{" 7 ", 7 * time.Second},
		{"0", 0},
		{"-5", 0},
		{"soon", 0},
		{"99999999999999999", time.Duration(1<<63 - 1)},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, retryAfter(tc.in, now), tc.in)
	}
}

func TestBackoff(t *testing.T) {
	want := []time.Duration{0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}
	require.Equal(t, 8, DefaultBackoff.MaxAttempts())
	var total time.Duration
	for attempts, w := range want {
		d, ok := DefaultBackoff.Next(attempts)
		require.True(t, ok, "attempts=%d", attempts)
		require.Equal(t, w, d, "attempts=%d", attempts)
		total += d
	}
	require.Equal(t, 27*time.Hour+35*time.Minute+5*time.Second, total)
	for _, attempts := range []int{8, 9, 1000} {
		_, ok := DefaultBackoff.Next(attempts)
		require.False(t, ok, "attempts=%d is a dead letter", attempts)
	}
	d, ok := DefaultBackoff.Next(-1)
	require.True(t, ok)
	require.Zero(t, d)

	custom := Backoff{time.Second}
	d, ok = custom.Next(0)
	require.True(t, ok)
	require.Equal(t, time.Second, d)
	_, ok = custom.Next(1)
	require.False(t, ok)
	_, ok = Backoff(nil).Next(0)
	require.False(t, ok)
}

func TestMatches(t *testing.T) {
	cases := []struct {
		filter []string
		typ    string
		want   bool
	}{
		{nil, "payment.succeeded", true},
		{[]string{}, "anything", true},
		{[]string{"payment.succeeded"}, "payment.succeeded", true},
		{[]string{"payment.succeeded"}, "payment.failed", false},
		{[]string{"payment.succeeded"}, "payment.succeeded.extra", false},
		{[]string{"payment.*"}, "payment.failed", true},
		{[]string{"payment.*"}, "payment.retry_scheduled", true},
		{[]string{"payment.*"}, "payment.refund.created", true},
		{[]string{"payment.*"}, "payment", false},
		{[]string{"payment.*"}, "payment.", false},
		{[]string{"payment.*"}, "payments.failed", false},
		{[]string{"payment.*"}, "refund.succeeded", false},
		{[]string{"wallet.balance_low", "payment.*"}, "wallet.balance_low", true},
		{[]string{"wallet.balance_low", "payment.*"}, "wallet.balance_changed", false},
		{[]string{"*"}, "customer.created", true},
		{[]string{"Payment.Failed"}, "payment.failed", false},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, Matches(Endpoint{EventTypes: tc.filter}, tc.typ), "%v / %s", tc.filter, tc.typ)
	}
	// Disabled is the dispatcher's concern, not the filter's.
	require.True(t, Matches(Endpoint{Disabled: true}, "x.y"))
}

func TestValidateEventTypes(t *testing.T) {
	require.NoError(t, ValidateEventTypes(nil))
	require.NoError(t, ValidateEventTypes([]string{"payment.succeeded", "payment.*", "*", "wallet.balance_low", "a-b.c_d.*"}))
	for _, bad := range []string{"", ".*", "payment*", "payment.", ".payment", "payment..failed", "payment.failed ", "pay ment", "payment.**", "*.failed", "payment.*.x"} {
		err := ValidateEventTypes([]string{"ok.type", bad})
		require.ErrorIs(t, err, ErrInvalidEventType, "%q", bad)
	}
	require.True(t, errors.Is(ValidateEventTypes([]string{"é.x"}), ErrInvalidEventType))
}
