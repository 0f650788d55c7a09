package coffer_test

import (
	"context"
	"fmt"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/store/memory"
)

// WithTracerProvider makes the engine's own spans on the host's provider
// (here one recording into memory).
func ExampleWithTracerProvider() {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	s := memory.New()
	defer s.Close()
	eng, err := coffer.New(s, coffer.WithoutProcessor(), coffer.WithTracerProvider(tp))
	if err != nil {
		panic(err)
	}
	defer eng.Close()
	ctx := context.Background()
	c, _ := eng.CreateCustomer(ctx, customer.Params{})
	_, err = eng.CreateEntry(ctx, c.ID, coffer.EntryParams{Amount: 10_00, Currency: "USD", Type: ledger.Credit, Reason: "welcome"})
	if err != nil {
		panic(err)
	}
	for _, sp := range spans.Ended() {
		fmt.Println(sp.Name(), sp.Status().Code)
	}
	// Output:
	// coffer.ledger.entry Unset
}
