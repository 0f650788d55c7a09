package otelcoffer_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/otelcoffer"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store/memory"
)

// exampleLog writes JSON lines without the values that change from run to
// run (time, span id, duration, payment id).
func exampleLog() *slog.Logger {
	return slog.New(otelcoffer.LogHandler(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			switch a.Key {
			case slog.TimeKey, "span_id", "duration", "payment_id":
				return slog.Attr{}
			}
			return a
		},
	})))
}

// An engine instrumented on the host's providers, behind the HTTP
// middleware: the charge a request makes logs a line with the request's
// id and trace id.
func ExampleHTTPMiddleware() {
	tp := sdktrace.NewTracerProvider() // the host's; export as it likes
	defer tp.Shutdown(context.Background())
	log := exampleLog()
	obs := otelcoffer.Options{TracerProvider: tp, Logger: log}

	s := memory.New()
	defer s.Close()
	eng, err := coffer.New(otelcoffer.WrapStore(s, obs),
		coffer.WithProcessor(otelcoffer.WrapProcessor(processor.NewTest(nil), obs)),
		coffer.WithTracerProvider(tp), coffer.WithLogger(log))
	if err != nil {
		panic(err)
	}
	defer eng.Close()
	c, _ := eng.CreateCustomer(context.Background(), customer.Params{})

	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := eng.ChargeOneTime(r.Context(), c.ID, coffer.OneTimeParams{Amount: 25_00, Currency: "USD",
			PaymentMethod: processor.CardOK})
		if err != nil {
			http.Error(w, "charge failed", http.StatusInternalServerError)
		}
	})
	h := otelcoffer.HTTPMiddleware(api, otelcoffer.HTTPOptions{Options: obs})

	req := httptest.NewRequest(http.MethodPost, "/charges", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	req.Header.Set("X-Request-Id", "req_checkout_42")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println("X-Request-Id:", rec.Header().Get("X-Request-Id"))
	// Output:
	// {"level":"INFO","msg":"coffer: processor charge","operation":"charge","outcome":"succeeded","amount":2500,"currency":"USD","decline_code":"none","request_id":"req_checkout_42","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}
	// X-Request-Id: req_checkout_42
}

// LogHandler adds the request id (and the trace and span ids) of the
// context a line is logged with.
func ExampleLogHandler() {
	log := exampleLog()
	ctx := otelcoffer.WithRequestID(context.Background(), func() string { return "req_7" })
	log.InfoContext(ctx, "order paid", "order", "ord_1")
	log.Info("no context, no id")
	// Output:
	// {"level":"INFO","msg":"order paid","order":"ord_1","request_id":"req_7"}
	// {"level":"INFO","msg":"no context, no id"}
}
