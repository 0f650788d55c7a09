package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"time"

	"github.com/cofferhq/coffer/webhook"
)

// A receiver checks the raw body with Verify before trusting it.
func ExampleVerify() {
	secret, _ := webhook.NewSecret() // shared with the endpoint at registration
	body := []byte(`{"type":"payment.succeeded","timestamp":"2026-01-02T15:04:05Z","data":{"payment_id":"pay_1"}}`)

	// What the sender puts on the request.
	now := time.Now()
	sig, _ := webhook.Sign(secret, "evt_1", now, body)
	header := http.Header{}
	header.Set("webhook-id", "evt_1")
	header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	header.Set("webhook-signature", sig)

	fmt.Println("genuine:", webhook.Verify(secret, header, body))

	tampered := []byte(`{"type":"payment.succeeded","timestamp":"2026-01-02T15:04:05Z","data":{"payment_id":"pay_2"}}`)
	err := webhook.Verify(secret, header, tampered)
	fmt.Println("tampered:", errors.Is(err, webhook.ErrInvalidSignature))

	header.Del("webhook-signature")
	err = webhook.Verify(secret, header, body)
	fmt.Println("unsigned:", errors.Is(err, webhook.ErrMissingHeaders))
	// Output:
	// genuine: <nil>
	// tampered: true
	// unsigned: true
}

// A Verifier with an explicit clock checks recorded deliveries, here the
// Standard Webhooks reference test vector.
func ExampleVerifier_Verify() {
	signedAt := time.Unix(1614265330, 0)
	v, err := webhook.NewVerifier("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		webhook.WithTolerance(time.Minute),
		webhook.WithClock(func() time.Time { return signedAt.Add(30 * time.Second) }),
	)
	if err != nil {
		panic(err)
	}
	header := http.Header{}
	header.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	header.Set("webhook-timestamp", "1614265330")
	header.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	fmt.Println(v.Verify(header, []byte(`{"test": 2432232314}`)))
	// Output: <nil>
}

// Sender makes one signed delivery attempt; retries are the dispatcher's.
func ExampleSender_Send() {
	secret, _ := webhook.NewSecret()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify(secret, r.Header, body); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var env webhook.Envelope
		_ = json.Unmarshal(body, &env)
		fmt.Println("received", env.Type, string(env.Data))
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	ep := webhook.Endpoint{ID: "ep_1", URL: srv.URL, Secret: secret}
	ev := webhook.Event{ID: "evt_1", Type: "customer.created", Data: json.RawMessage(`{"id":"cus_1"}`), CreatedAt: time.Now()}
	if !webhook.Matches(ep, ev.Type) {
		return
	}
	// The receiver here is on loopback, which a Sender refuses by default.
	sender := &webhook.Sender{Timeout: 10 * time.Second, AllowPrivateNetworks: true}
	res := sender.Send(context.Background(), ep, ev, time.Now())
	fmt.Println("status", res.StatusCode, "ok", res.OK())

	next, ok := webhook.DefaultBackoff.Next(1)
	fmt.Println("after a first failure, retry in", next, ok)
	// Output:
	// received customer.created {"id":"cus_1"}
	// status 204 ok true
	// after a first failure, retry in 5s true
}
