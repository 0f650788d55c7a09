package stripe_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"

	stripego "github.com/stripe/stripe-go/v84"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/processor/stripe"
)

// Example plugs the Stripe adapter into an engine and serves Stripe's
// webhooks. Mandate outcomes confirm the subscription through
// Engine.ConfirmMandate (which reads the mandate back from Stripe); charge
// outcomes need the Engine method the adapter's OutcomeSink documents, so
// until it exists Reconcile (run by Engine.Run) settles lost answers.
func Example() {
	proc, err := stripe.New(stripe.Config{
		SecretKey:     os.Getenv("STRIPE_SECRET_KEY"),     // never logged
		APIBase:       os.Getenv("STRIPE_API_BASE"),       // "" is api.stripe.com; stripe-mock in tests
		WebhookSecret: os.Getenv("STRIPE_WEBHOOK_SECRET"), // whsec_...
		ReturnURL:     "https://shop.example/billing/return",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	eng, err := coffer.Open("billing.db", coffer.WithProcessor(proc))
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close()

	http.Handle("POST /stripe/webhook", proc.Handler(stripe.SinkFuncs{
		Mandate: func(ctx context.Context, subscriptionID string, _ processor.Mandate) error {
			_, err := eng.ConfirmMandate(ctx, subscriptionID)
			return err
		},
	}, nil))
}

// ExampleDeclineCode shows the mapping of a Stripe decline to coffer's code.
func ExampleDeclineCode() {
	declined := &stripego.Error{Type: stripego.ErrorTypeCard, Code: "card_declined", DeclineCode: "insufficient_funds"}
	fmt.Println(stripe.DeclineCode(declined))
	fmt.Println(stripe.DeclineCode(&stripego.Error{Type: stripego.ErrorTypeCard, Code: "authentication_required"}))
	// Output:
	// INSUFFICIENT_FUNDS
	// AUTHENTICATION_FAILURE
}
