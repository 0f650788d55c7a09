package otelcoffer_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/otelcoffer"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/memory"
)

// TestWrapStoreKeepsTopUps: a wrapped store keeps the adapter's auto
// top-up rules (store.TopUps) beside its credit grants, so the Engine's
// top-up calls work through it.
func TestWrapStoreKeepsTopUps(t *testing.T) {
	s := otelcoffer.WrapStore(memory.New(), otelcoffer.Options{})
	require.NoError(t, s.View(context.Background(), func(tx store.Tx) error {
		_, topUps := store.As[store.TopUps](tx)
		_, grants := store.As[store.CreditGrants](tx)
		require.True(t, topUps, "auto top-up rules lost")
		require.True(t, grants, "credit grants lost")
		return nil
	}))
}
