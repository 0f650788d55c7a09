package postgres_test

import (
	"testing"

	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/storetest"
)

// TestConformance runs the suite every adapter passes, each subtest on a
// store in its own fresh schema, with every constraint of the schema
// enforced: the suite writes each record's parent (the customer of a
// balance, the payment of a refund, the event of a delivery) before the
// record, so the foreign keys hold throughout.
func TestConformance(t *testing.T) {
	dsn(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return newStore(t)
	})
}
