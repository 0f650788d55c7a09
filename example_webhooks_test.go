package coffer_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"strings"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/store/memory"
	"github.com/cofferhq/coffer/webhook"
)

// Register an endpoint, let the engine commit an event, and deliver it: the
// receiver verifies the Standard Webhooks signature before trusting the body.
func ExampleEngine_CreateEndpoint() {
	ctx := context.Background()
	// The receiver below listens on loopback, which the dispatcher refuses
	// by default: endpoint URLs must not reach into coffer's own network.
	eng, err := coffer.New(memory.New(), coffer.WithoutProcessor(), coffer.WithWebhookOptions(coffer.WebhookOptions{AllowPrivateNetworks: true}))
	if err != nil {
		log.Fatal(err)
	}

	// The receiving application keeps the endpoint's secret.
	secret, _ := webhook.NewSecret()
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err := webhook.Verify(secret, r.Header, body); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var env webhook.Envelope
		_ = json.Unmarshal(body, &env)
		var c customer.Customer
		_ = json.Unmarshal(env.Data, &c)
		fmt.Println("verified", env.Type, "for", c.Name)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()

	ep, err := eng.CreateEndpoint(ctx, coffer.EndpointParams{
		URL:        receiver.URL + "/webhooks/coffer",
		EventTypes: []string{"customer.*"},
		Secret:     secret, // or leave empty and hand the receiver eng.EndpointSecret(ctx, ep.ID)
	})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := eng.CreateCustomer(ctx, customer.Params{Name: new("Ada")}); err != nil {
		log.Fatal(err)
	}

	rep, err := eng.DispatchDue(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("events %d, delivered %d\n", rep.Events, rep.Succeeded)

	list, _ := eng.ListDeliveries(ctx, coffer.DeliveryListParams{EndpointID: ep.ID})
	d := list.Data[0]
	fmt.Println(d.Status, d.Attempts, d.LastStatus)
	// Output:
	// verified customer.created for Ada
	// events 1, delivered 1
	// succeeded 1 204
}

// An application runs the dispatcher beside its server for as long as it
// lives; each instance sharing a PostgreSQL store can run one.
func ExampleEngine_RunDispatcher() {
	eng, err := coffer.Open("billing.db", coffer.WithoutProcessor())
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// ... start the application's server with eng, then deliver webhooks
	// until interrupted; Run lets attempts in flight finish before it
	// returns.
	err = eng.RunDispatcher(ctx, coffer.WebhookOptions{
		OnError: func(err error) { log.Printf("webhooks: %v", err) },
	})
	if !errors.Is(err, context.Canceled) {
		log.Fatal(err)
	}
}

// Endpoints come back redacted, so they can be listed, logged and served
// as they are; EndpointSecret is the one call that reveals the secret.
func ExampleEngine_EndpointSecret() {
	ctx := context.Background()
	eng, err := coffer.New(memory.New(), coffer.WithoutProcessor())
	if err != nil {
		log.Fatal(err)
	}
	ep, err := eng.CreateEndpoint(ctx, coffer.EndpointParams{URL: "https://billing.example.com/webhooks"})
	if err != nil {
		log.Fatal(err)
	}
	b, _ := json.Marshal(ep)
	fmt.Println("secret in the endpoint's JSON:", strings.Contains(string(b), `"secret"`))

	secret, err := eng.EndpointSecret(ctx, ep.ID) // hand this to the receiver
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("hint matches:", ep.SecretHint == webhook.MaskSecret(secret))
	_, err = webhook.ParseSecret(secret)
	fmt.Println("valid secret:", err == nil)
	// Output:
	// secret in the endpoint's JSON: false
	// hint matches: true
	// valid secret: true
}
