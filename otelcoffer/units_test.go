package otelcoffer_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/otelcoffer"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/memory"
)

// TestWrapStoreKeepsUnits: a wrapped store keeps store.Units, so
// DefineUnit works through it.
func TestWrapStoreKeepsUnits(t *testing.T) {
	ctx := context.Background()
	s := otelcoffer.WrapStore(memory.New(), otelcoffer.Options{})
	require.NoError(t, s.View(ctx, func(tx store.Tx) error {
		_, units := store.As[store.Units](tx)
		_, grants := store.As[store.CreditGrants](tx)
		require.True(t, units && grants, "units or grants lost")
		return nil
	}))
	eng, err := coffer.New(s, coffer.WithoutProcessor())
	require.NoError(t, err)
	u, err := eng.DefineUnit(ctx, coffer.UnitParams{Code: "api_calls"})
	require.NoError(t, err)
	other, err := coffer.New(s, coffer.WithoutProcessor())
	require.NoError(t, err)
	got, err := other.Unit(ctx, "api_calls")
	require.NoError(t, err)
	require.Equal(t, u, got)
}
