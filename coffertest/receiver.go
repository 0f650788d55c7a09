package coffertest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/webhook"
)

// Delivery is one webhook request a Receiver verified and recorded.
type Delivery struct {
	// ID is the webhook-id header: the event id, the same on every retry.
	ID        string
	Type      string
	Timestamp time.Time // the event's, from the envelope
	Data      json.RawMessage
	// Body is the raw request body, byte for byte as it was signed.
	Body   []byte
	Header http.Header
}

// maxBody bounds a request body the Receiver reads.
const maxBody = 1 << 20

// Receiver is an httptest server that receives coffer's webhooks like an
// application's endpoint should: it verifies the signature of the raw body
// with coffer's webhook package (webhook.Verifier) before decoding it,
// answers 204 and records the delivery when it is valid, and answers 401
// and counts a rejection otherwise. It is safe for concurrent use.
type Receiver struct {
	// URL is the server's address, to register as an endpoint URL.
	URL string
	// status is answered to verified deliveries (SetStatus).
	status int

	srv      *httptest.Server
	verifier *webhook.Verifier
	secret   string

	mu       sync.Mutex
	got      []Delivery
	rejected []error
	changed  chan struct{} // closed and replaced on every request
}

// NewReceiver starts a Receiver verifying with secret (whsec_...) and opts
// (webhook.WithClock to verify against a test clock,
// webhook.WithTolerance). It is closed at the end of the test. Register
// its URL yourself (Engine.CreateEndpoint with the same Secret), or use
// Env.NewReceiver, which does both.
func NewReceiver(t testing.TB, secret string, opts ...webhook.VerifyOption) *Receiver {
	t.Helper()
	v, err := webhook.NewVerifier(secret, opts...)
	if err != nil {
		t.Fatalf("coffertest: receiver: %v", err)
	}
	r := &Receiver{verifier: v, secret: secret, changed: make(chan struct{}), status: http.StatusNoContent}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	r.URL = r.srv.URL
	t.Cleanup(r.srv.Close)
	return r
}

// NewReceiver starts a Receiver and registers it as a webhook endpoint of
// the Env's Engine for eventTypes (none: every event), with a fresh secret.
// It verifies timestamps against the Env's clock, so Advance may move
// time by days. Deliveries reach it when Advance (or Engine.DispatchDue,
// or a running dispatcher) runs.
func (env *Env) NewReceiver(t testing.TB, eventTypes ...string) *Receiver {
	t.Helper()
	secret, err := webhook.NewSecret()
	if err != nil {
		t.Fatalf("coffertest: %v", err)
	}
	r := NewReceiver(t, secret, webhook.WithClock(env.Clock.Now))
	_, err = env.Engine.CreateEndpoint(context.Background(), coffer.EndpointParams{
		URL: r.URL, Secret: secret, EventTypes: eventTypes, Description: "coffertest receiver",
	})
	if err != nil {
		t.Fatalf("coffertest: registering the receiver: %v", err)
	}
	return r
}

// Secret returns the signing secret the Receiver verifies with.
func (r *Receiver) Secret() string { return r.secret }

// SetStatus sets the status answered to verified deliveries (default
// 204); a non-2xx makes coffer record a failed attempt and retry. The
// delivery is recorded whatever the status.
func (r *Receiver) SetStatus(code int) {
	r.mu.Lock()
	r.status = code
	r.mu.Unlock()
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxBody))
	if err == nil {
		err = r.verifier.Verify(req.Header, body)
	}
	var env webhook.Envelope
	if err == nil {
		if err = json.Unmarshal(body, &env); err != nil {
			err = errors.Join(errors.New("coffertest: body is not a webhook envelope"), err)
		}
	}
	r.mu.Lock()
	status := r.status
	if err != nil {
		r.rejected = append(r.rejected, err)
		status = http.StatusUnauthorized
	} else {
		r.got = append(r.got, Delivery{ID: req.Header.Get(webhook.HeaderID), Type: env.Type, Timestamp: env.Timestamp,
			Data: env.Data, Body: body, Header: req.Header.Clone()})
	}
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
	w.WriteHeader(status)
}

// Deliveries returns the verified deliveries in the order received
// (retries of one event included: deduplicate on ID).
func (r *Receiver) Deliveries() []Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Delivery(nil), r.got...)
}

// Rejected returns the verification errors of the requests refused, in
// order (webhook.ErrInvalidSignature, webhook.ErrMissingHeaders, ...).
func (r *Receiver) Rejected() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.rejected...)
}

// Find returns the first verified delivery of type typ ("" any) for which
// match returns true (nil matches any).
func (r *Receiver) Find(typ string, match func(Delivery) bool) (Delivery, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.find(typ, match)
}

func (r *Receiver) find(typ string, match func(Delivery) bool) (Delivery, bool) {
	for _, d := range r.got {
		if (typ == "" || d.Type == typ) && (match == nil || match(d)) {
			return d, true
		}
	}
	return Delivery{}, false
}

// Require fails the test unless a matching delivery was received already
// (see Find). After Env.Advance every due delivery has been attempted, so
// no waiting is needed.
func (r *Receiver) Require(t testing.TB, typ string, match func(Delivery) bool) Delivery {
	t.Helper()
	d, ok := r.Find(typ, match)
	if !ok {
		t.Fatalf("coffertest: receiver got no matching %s delivery (%d verified, %d rejected)", typ,
			len(r.Deliveries()), len(r.Rejected()))
	}
	return d
}

// WaitFor waits up to timeout (real time) for a matching delivery, for
// tests that run a dispatcher in the background (Engine.Run or
// RunDispatcher), and fails the test when none arrives.
func (r *Receiver) WaitFor(t testing.TB, typ string, match func(Delivery) bool, timeout time.Duration) Delivery {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		d, ok := r.find(typ, match)
		changed := r.changed
		r.mu.Unlock()
		if ok {
			return d
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("coffertest: no matching %s delivery within %v (%d verified, %d rejected)", typ, timeout,
				len(r.Deliveries()), len(r.Rejected()))
			return Delivery{}
		}
	}
}
