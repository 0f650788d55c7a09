package webhook

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// countingServer counts the requests that reach it.
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		_, _ = io.WriteString(w, "internal secret page")
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// TestSendRefusesPrivateDestinations: by default a Sender never connects
// to loopback, whatever the URL's spelling or the client it was given.
func TestSendRefusesPrivateDestinations(t *testing.T) {
	srv, hits := countingServer(t)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	urls := []string{
		srv.URL,
		fmt.Sprintf("http://localhost:%d/hook", port),
		fmt.Sprintf("http://[::ffff:127.0.0.1]:%d/hook", port),
		fmt.Sprintf("http://2130706433:%d/hook", port),
		fmt.Sprintf("http://0.0.0.0:%d/hook", port),
		"http://169.254.169.254/latest/meta-data/",
		"http://[::1]:1/hook",
	}
	clients := map[string]*http.Client{
		"default":         nil,
		"caller client":   srv.Client(),
		"with a proxy":    {Transport: &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: srv.Listener.Addr().String()})}},
		"plain transport": {Transport: &http.Transport{}},
	}
	for name, c := range clients {
		s := &Sender{Client: c, Timeout: 2 * time.Second}
		for _, u := range urls {
			res := s.Send(context.Background(), Endpoint{URL: u, Secret: vecSecret}, testEvent(), time.Now())
			require.False(t, res.OK(), "%s %s", name, u)
			require.Zero(t, res.StatusCode, "%s %s", name, u)
			if !strings.Contains(u, "2130706433") { // the Go resolver does not read it as a number: no such host
				require.ErrorIs(t, res.Err, ErrDestinationNotAllowed, "%s %s", name, u)
				require.True(t, strings.HasPrefix(res.Summary(), "connect refused: destination not allowed"), res.Summary())
			}
		}
	}
	require.Zero(t, hits.Load(), "no request reached the loopback server")

	// Opting in delivers, with or without a client of one's own.
	for _, c := range []*http.Client{nil, srv.Client()} {
		res := (&Sender{Client: c, AllowPrivateNetworks: true}).Send(context.Background(), Endpoint{URL: srv.URL, Secret: vecSecret}, testEvent(), time.Now())
		require.NoError(t, res.Err)
	}
	require.EqualValues(t, 2, hits.Load())
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestSendUnguardableClient: a transport the guard cannot wrap is refused
// rather than trusted, unless private networks are allowed.
func TestSendUnguardableClient(t *testing.T) {
	srv, hits := countingServer(t)
	custom := &http.Client{Transport: roundTripFunc(http.DefaultTransport.RoundTrip)}
	tlsDialer := &http.Client{Transport: &http.Transport{DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return tls.Dial(network, addr, nil)
	}}}
	for _, c := range []*http.Client{custom, tlsDialer} {
		res := (&Sender{Client: c}).Send(context.Background(), Endpoint{URL: srv.URL, Secret: vecSecret}, testEvent(), time.Now())
		require.ErrorIs(t, res.Err, ErrUnguardedClient)
		require.Contains(t, res.Summary(), "cannot be guarded")
	}
	require.Zero(t, hits.Load())
	res := (&Sender{Client: custom, AllowPrivateNetworks: true}).Send(context.Background(), Endpoint{URL: srv.URL, Secret: vecSecret}, testEvent(), time.Now())
	require.NoError(t, res.Err)
	require.EqualValues(t, 1, hits.Load())
}

// TestSendCallerClientDoesNotFollowRedirects: a caller's client that would
// follow redirects (CheckRedirect nil) is used without following them.
func TestSendCallerClientDoesNotFollowRedirects(t *testing.T) {
	var followed atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/old", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/new", http.StatusFound) })
	mux.HandleFunc("/new", func(w http.ResponseWriter, r *http.Request) { followed.Add(1) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	client := srv.Client()
	require.Nil(t, client.CheckRedirect)
	for _, allow := range []bool{true, false} {
		res := (&Sender{Client: client, AllowPrivateNetworks: allow}).Send(context.Background(), Endpoint{URL: srv.URL + "/old", Secret: vecSecret}, testEvent(), time.Now())
		require.False(t, res.OK())
		if allow {
			require.Equal(t, http.StatusFound, res.StatusCode)
			require.Equal(t, "HTTP 302 Found", res.Summary())
		}
	}
	require.Zero(t, followed.Load())
	require.Nil(t, client.CheckRedirect, "the caller's client is not modified")
}

// TestSendErrorsHideURLSecrets: the URL's query and userinfo appear in
// neither Result.Err nor Summary.
func TestSendErrorsHideURLSecrets(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	for _, u := range []string{
		"http://alice:hunter2@" + addr + "/hook?token=tok_SECRET",
		"http://" + addr + "/hook?token=tok_SECRET",
		"ftp://alice:hunter2@example.com/x?token=tok_SECRET",
		"http://alice:hunter2@exa mple.com/?token=tok_SECRET",
		"http://alice:hunter2@no-such-host.invalid/?token=tok_SECRET",
	} {
		res := (&Sender{AllowPrivateNetworks: true, Timeout: 5 * time.Second}).Send(context.Background(), Endpoint{URL: u, Secret: vecSecret}, testEvent(), time.Now())
		require.Error(t, res.Err, u)
		for _, leak := range []string{"tok_SECRET", "hunter2", "alice"} {
			require.NotContains(t, res.Err.Error(), leak, u)
			require.NotContains(t, res.Summary(), leak, u)
		}
		require.LessOrEqual(t, len(res.Summary()), MaxSummary)
		t.Logf("%s -> %s", u, res.Summary())
	}
}

// TestSendMalformedResponseNotEchoed: bytes a non-HTTP service answers with
// never reach the summary (net/http quotes them in its error).
func TestSendMalformedResponseNotEchoed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = bufio.NewReader(c).ReadString('\n')
				_, _ = io.WriteString(c, "SSH-2.0-OpenSSH_9.6 banner:root-password=hunter2\r\n\r\n")
			}()
		}
	}()
	res := (&Sender{AllowPrivateNetworks: true, Timeout: 5 * time.Second}).Send(context.Background(), Endpoint{URL: "http://" + ln.Addr().String() + "/", Secret: vecSecret}, testEvent(), time.Now())
	require.Error(t, res.Err)
	require.NotContains(t, res.Summary(), "hunter2")
	require.NotContains(t, res.Summary(), "SSH")
	t.Log(res.Summary())
}

func TestSummary(t *testing.T) {
	cases := []struct {
		res  Result
		want string
	}{
		{Result{StatusCode: 200}, "HTTP 200 OK"},
		{Result{StatusCode: 503, Err: ErrUnexpectedStatus}, "HTTP 503 Service Unavailable"},
		{Result{StatusCode: 599, Err: ErrUnexpectedStatus}, "HTTP 599"},
		{Result{}, ""},
		{Result{Err: fmt.Errorf("%w after 1s: %w", ErrTimeout, context.DeadlineExceeded), Duration: 1001 * time.Millisecond}, "timed out after 1.001s"},
		{Result{Err: context.Canceled}, "cancelled"},
		{Result{Err: &url.Error{Op: "Post", URL: "http://x/?a=b", Err: &net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}}}, "dns: no such host"},
		{Result{Err: &url.Error{Op: "Post", URL: "http://x/?a=b", Err: errors.New(`malformed HTTP response "\x00secret"`)}}, "request failed: malformed HTTP response"},
		{Result{Err: errors.New(strings.Repeat("é", 500))}, ""},
		{Result{Err: fmt.Errorf("signing: %w", ErrInvalidSecret)}, "not sent: invalid signing secret"},
	}
	for _, tc := range cases {
		got := tc.res.Summary()
		require.LessOrEqual(t, len(got), MaxSummary)
		if tc.want != "" || tc.res.Err == nil {
			require.Equal(t, tc.want, got, "%v", tc.res.Err)
		}
	}
	require.Equal(t, "https://example.com/hook", RedactURL("https://bob:pw@example.com/hook?token=x#frag"))
	require.Equal(t, "(invalid url)", RedactURL("http://a b/%zz"))
}
