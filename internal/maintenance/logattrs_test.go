package maintenance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/internal/logattr"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/memory"
	"github.com/cofferhq/coffer/subscription"
)

func jsonLines(t *testing.T, b *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		out = append(out, m)
	}
	return out
}

// A pass's joined errors are logged one line each, with the ids each
// error carries.
func TestReporterLogsIDsOfEachError(t *testing.T) {
	var buf bytes.Buffer
	r := &Runner{Log: slog.New(slog.NewJSONHandler(&buf, nil))}
	var hooked error
	r.OnError = func(err error) { hooked = err }
	err := errors.Join(
		logattr.Wrap(errors.New("charge a: boom"), slog.String("payment_id", "pay_a"), slog.String("customer_id", "cus_a")),
		logattr.Wrap(errors.New("charge b: boom"), slog.String("payment_id", "pay_b")),
		errors.New("plain"))
	r.Reporter(context.Background(), "scheduler")(err)
	lines := jsonLines(t, &buf)
	require.Len(t, lines, 3)
	require.Equal(t, "pay_a", lines[0]["payment_id"])
	require.Equal(t, "cus_a", lines[0]["customer_id"])
	require.Equal(t, "charge a: boom", lines[0]["error"])
	require.Equal(t, "pay_b", lines[1]["payment_id"])
	require.Nil(t, lines[1]["customer_id"])
	require.Nil(t, lines[2]["payment_id"])
	for _, l := range lines {
		require.Equal(t, "scheduler", l["worker"])
		require.Equal(t, "coffer: background worker error", l["msg"])
	}
	require.Same(t, err, hooked, "the hook gets the error as it was")
}

type failingAttempts struct{ err error }

func (failingAttempts) Announce(store.Outbox, retry.Attempt) error { return nil }
func (f failingAttempts) Charge(context.Context, retry.Attempt) (subscription.Payment, retry.AttemptStatus, error) {
	return subscription.Payment{}, "", f.err
}
func (failingAttempts) ChainEnded(store.Tx, string) error { return nil }

// An attempt that fails returns an error naming the attempt, its chain's
// first payment, the subscription and the customer.
func TestRunAttemptErrorCarriesIDs(t *testing.T) {
	s := memory.New()
	defer s.Close()
	boom := errors.New("processor down")
	r, err := NewRetrier(RetrierConfig{Store: s, Attempts: failingAttempts{err: boom}})
	require.NoError(t, err)
	_, err = r.RunAttempt(context.Background(), retry.Attempt{ID: "att_1", FirstPaymentID: "pay_first",
		SubscriptionID: "sub_1", CustomerID: "cus_1"})
	require.ErrorIs(t, err, boom)
	got := map[string]string{}
	for _, a := range logattr.Attrs(err) {
		got[a.Key] = a.Value.String()
	}
	require.Equal(t, map[string]string{"attempt_id": "att_1", "first_payment_id": "pay_first", "subscription_id": "sub_1",
		"customer_id": "cus_1"}, got)
}
