package logattr

import (
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

func keys(attrs []slog.Attr) map[string]string {
	m := map[string]string{}
	for _, a := range attrs {
		m[a.Key] = a.Value.String()
	}
	return m
}

func TestAttrsThroughWrapping(t *testing.T) {
	require.Nil(t, Wrap(nil, slog.String("a", "1")))
	base := errors.New("store down")
	err := fmt.Errorf("pass: %w", Wrap(fmt.Errorf("outer: %w", Wrap(base, slog.String("payment_id", "pay_inner"),
		slog.String("customer_id", "cus_1"))), slog.String("payment_id", "pay_outer")))
	require.ErrorIs(t, err, base)
	require.Equal(t, "pass: outer: store down", err.Error())
	require.Equal(t, map[string]string{"payment_id": "pay_outer", "customer_id": "cus_1"}, keys(Attrs(err)),
		"outermost first, a key once")
	require.Empty(t, Attrs(base))
}

func TestSplit(t *testing.T) {
	a := Wrap(errors.New("a"), slog.String("attempt_id", "att_a"))
	b := Wrap(errors.New("b"), slog.String("attempt_id", "att_b"))
	parts := Split(errors.Join(a, b))
	require.Len(t, parts, 2)
	require.Equal(t, "att_a", keys(Attrs(parts[0]))["attempt_id"])
	require.Equal(t, "att_b", keys(Attrs(parts[1]))["attempt_id"])
	require.Equal(t, []error{a}, Split(a))
	require.Nil(t, Split(nil))
}
