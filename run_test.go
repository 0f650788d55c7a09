package coffer

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
)

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// failingStore fails every Update once armed, to feed the workers errors.
type failingStore struct {
	store.Store
	armed atomic.Bool
}

var errTestStoreDown = errors.New("test: store down")

func (f *failingStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	if f.armed.Load() {
		return errTestStoreDown
	}
	return f.Store.Update(ctx, fn)
}

func (f *failingStore) View(ctx context.Context, fn func(store.Tx) error) error {
	if f.armed.Load() {
		return errTestStoreDown
	}
	return f.Store.View(ctx, fn)
}

// TestRunRunsEveryWorker: one Run retries due charges and delivers
// webhooks with the engine's own options, reports worker errors through the
// logger and the one error handler, and returns once every worker stopped.
func TestRunRunsEveryWorker(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		var got atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.Add(1) }))
		defer srv.Close()
		logs := &syncBuffer{}
		var (
			mu   sync.Mutex
			errs []error
		)
		fs := &failingStore{Store: newStore(t)}
		v := newEnv(t, func(*testing.T) store.Store { return fs },
			WithRetryOptions(RetryOptions{PollInterval: time.Millisecond}),
			WithWebhookOptions(WebhookOptions{AllowPrivateNetworks: true, PollInterval: time.Millisecond}),
			WithLogger(slog.New(slog.NewJSONHandler(logs, nil))),
			WithErrorHandler(func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() }))
		_, err := v.CreateEndpoint(v.ctx, EndpointParams{URL: srv.URL, EventTypes: []string{"payment.*"}})
		require.NoError(t, err)
		v.clock.Set(rtAuthorised)
		sub, _ := v.rtSubscribe("", "pm_card_insufficient_funds")
		v.clock.Set(rtAuthorised.Add(3 * retry.Day))

		ctx, cancel := context.WithCancel(v.ctx)
		defer cancel()
		stopped := make(chan error, 1)
		go func() { stopped <- v.Run(ctx) }()
		require.Eventually(t, func() bool {
			list, err := pageData(v.ListAttempts(v.ctx, AttemptListParams{SubscriptionID: sub.ID}))
			return err == nil && len(list) == 2 && list[0].Status == retry.AttemptFailed && got.Load() >= 3
		}, 20*time.Second, time.Millisecond, "the retry ran and its payment events were delivered")

		fs.armed.Store(true)
		require.Eventually(t, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(errs) > 0
		}, 10*time.Second, time.Millisecond)
		cancel()
		require.ErrorIs(t, <-stopped, context.Canceled)
		mu.Lock()
		require.ErrorIs(t, errs[0], errTestStoreDown)
		mu.Unlock()
		require.Contains(t, logs.String(), `"msg":"coffer: background worker error"`)
		require.Contains(t, logs.String(), "test: store down")
	})
}

func TestRunRefusesBadWebhookOptions(t *testing.T) {
	v := newEnv(t, storeKinds["memory"], WithWebhookOptions(WebhookOptions{Timeout: time.Minute, Lease: time.Second}))
	require.ErrorIs(t, v.Run(context.Background()), ErrInvalidConfig)
	_, err := New(v.store, WithLogger(nil))
	require.ErrorIs(t, err, ErrInvalidConfig)
}

// TestNewNeedsAProcessorChoice: a forgotten processor is found when the
// engine is built.
func TestNewNeedsAProcessorChoice(t *testing.T) {
	s := storeKinds["memory"](t)
	_, err := New(s)
	require.ErrorIs(t, err, ErrInvalidConfig)
	require.ErrorIs(t, err, ErrNoProcessor)
	require.Equal(t, "invalid_configuration", ErrorCode(err))
	_, err = New(s, WithProcessor(nil))
	require.ErrorIs(t, err, ErrInvalidConfig)
	_, err = New(s, WithoutProcessor(), WithProcessor(processor.NewTest(nil)))
	require.ErrorIs(t, err, ErrInvalidConfig)
	e, err := New(s, WithoutProcessor())
	require.NoError(t, err)
	c, err := e.CreateCustomer(t.Context(), customer.Params{Name: new("Ada")})
	require.NoError(t, err)
	_, err = e.ChargeOneTime(t.Context(), c.ID, OneTimeParams{Amount: 1, Currency: "USD", PaymentMethod: processor.CardOK})
	require.ErrorIs(t, err, ErrNoProcessor)
	require.Equal(t, 503, HTTPStatus(err))
}
