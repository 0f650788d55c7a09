// Command webhook-receiver is a minimal receiver of coffer webhooks: it
// verifies each delivery's Standard Webhooks signature with webhook.Verify,
// deduplicates on webhook-id (delivery is at least once) and prints the
// event.
//
// Run without flags it demonstrates itself: it listens on a free local
// port, sends itself sample deliveries with webhook.Sender (a genuine one,
// one tampered with in transit, one signed with the wrong secret, and a
// redelivery of the first), prints what happened and exits (status 1 if any
// outcome was not the expected one):
//
//	go run ./examples/webhook-receiver
//
// With -listen it only serves, with the secret from -secret or
// $COFFER_WEBHOOK_SECRET (a fresh one is generated and printed if neither is
// set):
//
//	go run ./examples/webhook-receiver -listen 127.0.0.1:8080 -secret whsec_...
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/cofferhq/coffer/webhook"
)

// maxBody bounds what the receiver reads; coffer's payloads are far smaller.
const maxBody = 1 << 20

func main() {
	listen := flag.String("listen", "", "serve on this address (e.g. 127.0.0.1:8080) instead of running the self-demo")
	secret := flag.String("secret", os.Getenv("COFFER_WEBHOOK_SECRET"), "endpoint signing secret, whsec_<base64>")
	flag.Parse()
	log.SetFlags(0)

	if *secret == "" {
		s, err := webhook.NewSecret()
		if err != nil {
			log.Fatal(err)
		}
		*secret = s
		if *listen != "" {
			fmt.Println("generated secret (register it with the endpoint):", s)
		}
	}
	rcv, err := newReceiver(*secret, os.Stdout)
	if err != nil {
		log.Fatal(err)
	}

	if *listen != "" {
		srv := &http.Server{Addr: *listen, Handler: rcv, ReadHeaderTimeout: 10 * time.Second}
		fmt.Println("listening on", *listen)
		log.Fatal(srv.ListenAndServe())
	}
	if !demo(rcv, *secret) {
		os.Exit(1)
	}
}

// receiver is the http.Handler an application would mount at its webhook URL.
type receiver struct {
	verifier *webhook.Verifier
	out      io.Writer

	mu   sync.Mutex
	seen map[string]bool // webhook-id of processed events; use a store with expiry in production
}

func newReceiver(secret string, out io.Writer) (*receiver, error) {
	v, err := webhook.NewVerifier(secret) // fails now, not on the first delivery, if the secret is malformed
	if err != nil {
		return nil, err
	}
	return &receiver{verifier: v, out: out, seen: map[string]bool{}}, nil
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	// Verify the raw bytes: decoding and re-encoding JSON first would change
	// them and break the signature.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	id := r.Header.Get("webhook-id")
	if err := rc.verifier.Verify(r.Header, body); err != nil {
		fmt.Fprintf(rc.out, "  receiver: rejected %q: %v\n", id, err)
		status := http.StatusUnauthorized
		if errors.Is(err, webhook.ErrMissingHeaders) || errors.Is(err, webhook.ErrInvalidTimestamp) {
			status = http.StatusBadRequest
		}
		http.Error(w, "invalid webhook", status)
		return
	}
	var env webhook.Envelope
	if err := json.Unmarshal(body, &env); err != nil {
		http.Error(w, "invalid payload", http.StatusBadRequest)
		return
	}

	rc.mu.Lock()
	dup := rc.seen[id]
	rc.seen[id] = true
	rc.mu.Unlock()
	if dup {
		// Already processed: acknowledge so the sender stops retrying.
		fmt.Fprintf(rc.out, "  receiver: duplicate %s (%s) acknowledged, not processed again\n", id, env.Type)
		w.WriteHeader(http.StatusOK)
		return
	}
	fmt.Fprintf(rc.out, "  receiver: verified %s %s at %s: %s\n", id, env.Type, env.Timestamp.Format(time.RFC3339), env.Data)
	w.WriteHeader(http.StatusNoContent)
}

// tamperingTransport plays a man in the middle that edits request bodies.
type tamperingTransport struct{ from, to []byte }

func (t tamperingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	body = bytes.ReplaceAll(body, t.from, t.to)
	r = r.Clone(r.Context())
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return http.DefaultTransport.RoundTrip(r)
}

// demo serves rc on a free local port, sends it sample deliveries and
// reports whether every outcome was the expected one.
func demo(rc *receiver, secret string) bool {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: rc, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	url := "http://" + ln.Addr().String() + "/webhooks"
	fmt.Println("receiver listening on", url)

	forgedSecret, err := webhook.NewSecret()
	if err != nil {
		log.Fatal(err)
	}
	ep := webhook.Endpoint{ID: "ep_demo", URL: url, Secret: secret}
	forged := ep
	forged.Secret = forgedSecret

	now := time.Now()
	paid := webhook.Event{
		ID: "evt_0001", Type: "payment.succeeded", CreatedAt: now,
		Data: json.RawMessage(`{"payment_id":"pay_1","customer_id":"cus_1","amount":{"minor":1250,"currency":"EUR"}}`),
	}
	low := webhook.Event{
		ID: "evt_0002", Type: "wallet.balance_low", CreatedAt: now,
		Data: json.RawMessage(`{"customer_id":"cus_1","currency":"EUR","balance":{"minor":300},"threshold":{"minor":500}}`),
	}

	honest := &webhook.Sender{Timeout: 5 * time.Second}
	mitm := &webhook.Sender{Timeout: 5 * time.Second, Client: &http.Client{
		Transport: tamperingTransport{from: []byte(`"minor":300`), to: []byte(`"minor":30000`)},
	}}

	cases := []struct {
		what   string
		sender *webhook.Sender
		ep     webhook.Endpoint
		ev     webhook.Event
		wantOK bool
	}{
		{"genuine delivery", honest, ep, paid, true},
		{"body tampered in transit", mitm, ep, low, false},
		{"signed with the wrong secret", honest, forged, low, false},
		{"redelivery of the first event", honest, ep, paid, true},
	}
	allGood := true
	for i, c := range cases {
		fmt.Printf("%d. %s (%s %s)\n", i+1, c.what, c.ev.ID, c.ev.Type)
		res := c.sender.Send(context.Background(), c.ep, c.ev, time.Now())
		verdict := "as expected"
		if res.OK() != c.wantOK {
			verdict = "UNEXPECTED"
			allGood = false
		}
		errText := ""
		if res.Err != nil {
			errText = ", " + res.Err.Error()
		}
		fmt.Printf("  sender: status %d%s in %v: %s\n", res.StatusCode, errText, res.Duration.Round(time.Microsecond), verdict)
	}
	if allGood {
		fmt.Println("all outcomes as expected")
	}
	return allGood
}
