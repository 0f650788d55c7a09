// Command webhook-receiver is a minimal receiver of coffer webhooks: it
// verifies each delivery's Standard Webhooks signature with webhook.Verify,
// deduplicates on webhook-id (delivery is at least once) and decodes the
// event's data into coffer's own types.
//
// Run without flags it demonstrates itself against a real coffer Engine
// (on the in-memory store, with the deterministic test processor): it
// registers the receiver as an endpoint, makes real changes (a customer, a
// wallet top-up, a one-time charge paid from the wallet and a card, which
// also crosses the low-balance threshold), and lets the engine's dispatcher
// deliver the resulting outbox events. It then replays a real event tampered
// with in transit and one signed with the wrong secret (both refused), and
// redelivers one (acknowledged as a duplicate). It prints what happened and
// exits with status 1 if any outcome was not the expected one:
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

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/clock"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/memory"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
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
	ok, err := demo(rcv, *secret)
	if err != nil {
		log.Fatal(err)
	}
	if !ok {
		os.Exit(1)
	}
}

// The data of the events this receiver handles. customer.* events carry a
// customer.Customer and payment.* events a subscription.Payment; the wallet
// events wrap the ledger and wallet types (see docs/webhook-events.md).
type (
	balanceChanged struct {
		Entry   ledger.Entry   `json:"entry"`
		Balance wallet.Balance `json:"balance"`
	}
	balanceLow struct {
		Balance   wallet.Balance `json:"balance"`
		Threshold int64          `json:"threshold"`
	}
)

// receiver is the http.Handler an application would mount at its webhook URL.
type receiver struct {
	verifier *webhook.Verifier
	out      io.Writer
	outMu    sync.Mutex

	mu         sync.Mutex
	seen       map[string]bool // webhook-id of processed events; use a store with expiry in production
	processed  int
	duplicates int
	rejected   int
}

// printf writes one line of the receiver's output; deliveries arrive
// concurrently, so the writes are serialized.
func (rc *receiver) printf(format string, args ...any) {
	rc.outMu.Lock()
	defer rc.outMu.Unlock()
	fmt.Fprintf(rc.out, format, args...)
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
		rc.mu.Lock()
		rc.rejected++
		rc.mu.Unlock()
		rc.printf("  receiver: rejected %q: %v\n", id, err)
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
	if dup {
		rc.duplicates++
	}
	rc.mu.Unlock()
	if dup {
		// Already processed: acknowledge so the sender stops retrying.
		rc.printf("  receiver: duplicate %s (%s) acknowledged, not processed again\n", id, env.Type)
		w.WriteHeader(http.StatusOK)
		return
	}
	what, err := describe(env)
	if err != nil {
		// A payload this receiver cannot read: answering non-2xx makes
		// coffer retry, and the delivery shows up as failing.
		rc.printf("  receiver: %s %s: %v\n", id, env.Type, err)
		http.Error(w, "unreadable event data", http.StatusUnprocessableEntity)
		return
	}
	rc.mu.Lock()
	rc.processed++
	rc.mu.Unlock()
	rc.printf("  receiver: verified %s: %s\n", env.Type, what)
	w.WriteHeader(http.StatusNoContent)
}

// describe decodes an event's data into coffer's types, as a real handler
// would before acting on it.
func describe(env webhook.Envelope) (string, error) {
	decode := func(v any) error { return json.Unmarshal(env.Data, v) }
	switch env.Type {
	case coffer.EventCustomerCreated, coffer.EventCustomerUpdated, coffer.EventCustomerDelinquent, coffer.EventCustomerInGoodStand:
		var c customer.Customer
		if err := decode(&c); err != nil {
			return "", err
		}
		return fmt.Sprintf("customer %s %q", c.ID, c.Name), nil
	case coffer.EventBalanceChanged:
		var d balanceChanged
		if err := decode(&d); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s of %d %s (%s), balance %d -> %d", d.Entry.Type, d.Entry.Amount, d.Entry.Currency,
			d.Entry.Reason, d.Entry.BalanceBefore, d.Entry.BalanceAfter), nil
	case coffer.EventBalanceLow:
		var d balanceLow
		if err := decode(&d); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s available %d (balance %d, %d held) is below %d", d.Balance.Currency,
			d.Balance.Available(), d.Balance.Amount, d.Balance.Held, d.Threshold), nil
	case coffer.EventPaymentSucceeded, coffer.EventPaymentFailed:
		var p subscription.Payment
		if err := decode(&p); err != nil {
			return "", err
		}
		return fmt.Sprintf("payment %s %s: %d %s (%d from the wallet, %d from %s)", p.ID, p.Status, p.Amount, p.Currency,
			p.WalletAmount, p.ProcessorAmount, p.PaymentMethod), nil
	}
	return "data " + string(env.Data), nil
}

// tamperingTransport plays a man in the middle that edits request bodies.
type tamperingTransport struct{ from, to []byte }

func (t tamperingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	body = bytes.Replace(body, t.from, t.to, 1)
	r = r.Clone(r.Context())
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return http.DefaultTransport.RoundTrip(r)
}

// demo serves rc on a free local port, feeds it the real events of a small
// billing session and reports whether every outcome was the expected one.
func demo(rc *receiver, secret string) (bool, error) {
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return false, err
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

	// A real engine. The receiver is on loopback, which the dispatcher
	// refuses by default (endpoint URLs must not reach into coffer's own
	// network): this demo allows private networks explicitly.
	st := memory.New()
	eng, err := coffer.New(st,
		coffer.WithProcessor(processor.NewTest(clock.System{})),
		coffer.WithLowBalanceThreshold("USD", 10_00),
		coffer.WithWebhookOptions(coffer.WebhookOptions{AllowPrivateNetworks: true, Timeout: 5 * time.Second}),
	)
	if err != nil {
		return false, err
	}
	ep, err := eng.CreateEndpoint(ctx, coffer.EndpointParams{URL: url, Secret: secret})
	if err != nil {
		return false, err
	}

	fmt.Println("1. coffer commits real events: a customer, a top-up, a charge")
	c, err := eng.CreateCustomer(ctx, customer.Params{Name: new("Ada Lovelace"), Email: new("ada@example.com")})
	if err != nil {
		return false, err
	}
	if _, err := eng.CreateEntry(ctx, c.ID, coffer.EntryParams{Amount: 15_00, Currency: "USD", Type: ledger.Credit, Reason: "top-up"}); err != nil {
		return false, err
	}
	pay, err := eng.ChargeOneTime(ctx, c.ID, coffer.OneTimeParams{Amount: 20_00, Currency: "USD", PaymentMethod: processor.CardOK, Description: "order 1001"})
	if err != nil {
		return false, err
	}
	var events []webhook.Event
	if err := st.View(ctx, func(tx store.Tx) error {
		events, err = tx.Events(0, 100)
		return err
	}); err != nil {
		return false, err
	}

	fmt.Printf("2. the dispatcher delivers the %d outbox events, signed\n", len(events))
	rep, err := eng.DispatchDue(ctx)
	if err != nil {
		return false, err
	}
	fmt.Printf("  sender: %d attempted, %d succeeded\n", rep.Attempted, rep.Succeeded)
	allGood := rep.Succeeded == len(events) && rc.processed == len(events)

	// The next two replay a real event outside the engine, as an attacker
	// or a misconfigured receiver would see it.
	var paid webhook.Event
	for _, ev := range events {
		if ev.Type == coffer.EventPaymentSucceeded {
			paid = ev
		}
	}
	stored := webhook.Endpoint{ID: ep.ID, URL: url, Secret: secret}
	forgedSecret, err := webhook.NewSecret()
	if err != nil {
		return false, err
	}
	forged := stored
	forged.Secret = forgedSecret
	amount := fmt.Appendf(nil, `"amount":%d`, pay.Amount)
	mitm := &webhook.Sender{Timeout: 5 * time.Second, AllowPrivateNetworks: true, Client: &http.Client{
		Transport: tamperingTransport{from: amount, to: []byte(`"amount":1`)},
	}}
	honest := &webhook.Sender{Timeout: 5 * time.Second, AllowPrivateNetworks: true}
	for i, c := range []struct {
		what   string
		sender *webhook.Sender
		ep     webhook.Endpoint
	}{
		{"the payment event with its amount rewritten in transit", mitm, stored},
		{"the payment event signed with the wrong secret", honest, forged},
	} {
		fmt.Printf("%d. %s\n", i+3, c.what)
		res := c.sender.Send(ctx, c.ep, paid, time.Now())
		verdict := "as expected"
		if res.OK() || res.StatusCode != http.StatusUnauthorized {
			verdict, allGood = "UNEXPECTED", false
		}
		fmt.Printf("  sender: %s: %s\n", res.Summary(), verdict)
	}

	fmt.Println("5. a redelivery of the payment event (same webhook-id)")
	list, err := eng.ListDeliveries(ctx, coffer.DeliveryListParams{EventID: paid.ID})
	if err != nil || len(list.Data) != 1 {
		return false, fmt.Errorf("deliveries of %s: %v", paid.ID, err)
	}
	if _, err := eng.Redeliver(ctx, list.Data[0].ID); err != nil {
		return false, err
	}
	rep, err = eng.DispatchDue(ctx)
	if err != nil {
		return false, err
	}
	fmt.Printf("  sender: %d attempted, %d succeeded\n", rep.Attempted, rep.Succeeded)
	allGood = allGood && rep.Succeeded == 1 && rc.duplicates == 1 && rc.rejected == 2

	if allGood {
		fmt.Println("all outcomes as expected")
	}
	return allGood, nil
}
