package otelcoffer_test

import (
	"testing"

	"github.com/cofferhq/coffer/otelcoffer"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/memory"
	"github.com/cofferhq/coffer/store/storetest"
)

// The wrapper is transparent: a wrapped store passes the store
// conformance suite.
func TestWrappedStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s := otelcoffer.WrapStore(memory.New(), otelcoffer.Options{})
		t.Cleanup(func() { s.Close() })
		return s
	})
}
