package postgres_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/clock"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
)

// Tests of whole Engines, as separate application instances run them: each
// Engine has its own Store (its own pool) on one shared schema.

func twoEngines(t *testing.T, opts ...coffer.Option) (*coffer.Engine, *coffer.Engine) {
	a, b := twoStores(t)
	ea, err := coffer.New(a, opts...)
	require.NoError(t, err)
	eb, err := coffer.New(b, opts...)
	require.NoError(t, err)
	return ea, eb
}

// TestEnginesDebitOneWallet: two Engines debit one wallet at once, with
// idempotency keys each of them also sends. The wallet never goes
// negative, every key applies once, and the ledger adds up.
func TestEnginesDebitOneWallet(t *testing.T) {
	ea, eb := twoEngines(t, coffer.WithoutProcessor())
	c, err := ea.CreateCustomer(ctx, customer.Params{Name: new("Hot wallet")})
	require.NoError(t, err)
	_, err = ea.CreateEntry(ctx, c.ID, coffer.EntryParams{Amount: 1000, Currency: "USD", Type: ledger.Credit,
		IdempotencyKey: "deposit"})
	require.NoError(t, err)

	const debit, keys, writers = 30, 60, 6
	var applied, replayed, refused atomic.Int64
	var wg sync.WaitGroup
	for w := range writers {
		e := ea
		if w%2 == 1 {
			e = eb
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range keys {
				k := (i*(w+1) + w) % keys
				res, err := e.CreateEntry(ctx, c.ID, coffer.EntryParams{Amount: debit, Currency: "USD",
					Type: ledger.Debit, Reason: "usage", IdempotencyKey: fmt.Sprintf("use-%d", k)})
				switch {
				case errors.Is(err, wallet.ErrInsufficientFunds):
					refused.Add(1)
				case err != nil:
					t.Error(err)
					return
				case res.Replayed:
					replayed.Add(1)
				default:
					applied.Add(1)
				}
			}
		}()
	}
	wg.Wait()

	want := int64(1000 / debit)
	require.Equal(t, want, applied.Load())
	b, err := eb.Balance(ctx, c.ID, "USD")
	require.NoError(t, err)
	require.Equal(t, 1000-want*debit, b.Amount)
	list, err := ea.ListEntries(ctx, coffer.EntryListParams{CustomerID: c.ID, ListParams: coffer.ListParams{Limit: 100}})
	require.NoError(t, err)
	require.Len(t, list.Data, int(want)+1)
	sum, keysSeen := int64(0), map[string]bool{}
	for _, e := range list.Data {
		require.False(t, keysSeen[e.IdempotencyKey], "key %s applied twice", e.IdempotencyKey)
		keysSeen[e.IdempotencyKey] = true
		sum += e.Signed()
	}
	require.Equal(t, b.Amount, sum)
}

// TestEnginesRetrySchedulers: retry schedulers of two Engines run the same
// due attempts at once; each attempt is charged exactly once.
func TestEnginesRetrySchedulers(t *testing.T) {
	authorised := time.Date(2026, 3, 2, 13, 10, 0, 0, time.UTC)
	clk := clock.NewTest(authorised)
	proc := processor.NewTest(clk)
	opts := []coffer.Option{coffer.WithClock(clk), coffer.WithProcessor(proc)}
	a, b := twoStores(t)
	ea, err := coffer.New(a, append(opts, coffer.WithRetryOptions(coffer.RetryOptions{Owner: "a", PerAccount: 100}))...)
	require.NoError(t, err)
	eb, err := coffer.New(b, append(opts, coffer.WithRetryOptions(coffer.RetryOptions{Owner: "b", PerAccount: 100}))...)
	require.NoError(t, err)

	prod, err := ea.CreateProduct(ctx, coffer.ProductParams{Name: "Plan", Price: 1500, Currency: "USD"})
	require.NoError(t, err)
	const subs = 12
	for i := range subs {
		res, err := ea.CreateSubscription(ctx, coffer.SubscriptionParams{ProductID: prod.ID, Quantity: 1,
			Customer:      &customer.Params{Name: new(fmt.Sprintf("c%d", i))},
			PaymentMethod: processor.CardInsufficientFunds, OnDemand: &coffer.OnDemand{MandateOnly: new(false)}})
		require.NoError(t, err)
		require.Equal(t, subscription.PaymentFailed, res.Payment.Status)
	}
	require.Equal(t, subs, proc.ChargeCount())
	clk.Advance(3 * 24 * time.Hour)

	var wg sync.WaitGroup
	var attempted atomic.Int64
	for _, e := range []*coffer.Engine{ea, eb, ea, eb} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				rep, err := e.RunDue(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				attempted.Add(int64(rep.Attempted))
				if rep.Attempted == 0 && rep.Deferred == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	require.Equal(t, int64(subs), attempted.Load(), "each due attempt charged by one scheduler")
	require.Equal(t, 2*subs, proc.ChargeCount(), "initial charge and one retry per subscription")
}

// TestEnginesDispatchers: webhook dispatchers of two Engines deliver the
// same outbox at once; every event reaches the endpoint exactly once.
func TestEnginesDispatchers(t *testing.T) {
	var mu sync.Mutex
	got := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.Header.Get("webhook-id")]++
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)

	// The receiver listens on loopback: private networks must be allowed.
	ea, eb := twoEngines(t, coffer.WithoutProcessor(), coffer.WithWebhookOptions(coffer.WebhookOptions{AllowPrivateNetworks: true}))
	_, err := ea.CreateEndpoint(ctx, coffer.EndpointParams{URL: srv.URL})
	require.NoError(t, err)
	const customers = 15
	for i := range customers {
		c, err := ea.CreateCustomer(ctx, customer.Params{Name: new(fmt.Sprintf("c%d", i))})
		require.NoError(t, err)
		_, err = eb.CreateEntry(ctx, c.ID, coffer.EntryParams{Amount: 100, Currency: "USD", Type: ledger.Credit})
		require.NoError(t, err)
	}

	var wg sync.WaitGroup
	var succeeded atomic.Int64
	for _, e := range []*coffer.Engine{ea, eb, ea, eb} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				rep, err := e.DispatchDue(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				succeeded.Add(int64(rep.Succeeded))
				if rep.Events == 0 && rep.Attempted == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, got)
	require.Equal(t, int64(len(got)), succeeded.Load())
	for id, n := range got {
		require.Equal(t, 1, n, "event %s delivered %d times", id, n)
	}
}
