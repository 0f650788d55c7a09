package postgres_test

import (
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/postgres"
	"github.com/cofferhq/coffer/store/storetest"
)

// TestConformance runs the suite every adapter passes, each subtest on a
// store in its own fresh schema.
//
// The suite checks storage, not billing rules, so it writes records whose
// parents it never created (a balance of a customer that was not
// inserted), which the schema's foreign keys refuse. It therefore runs with
// session_replication_role = replica, which turns off foreign-key
// enforcement (a trigger) and nothing else: checks, unique keys, locking and
// everything the suite tests work as in production. The foreign keys are
// tested by TestBalanceConstraints and the other tests of this package.
func TestConformance(t *testing.T) {
	dsn(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return newStore(t, postgres.WithPoolConfig(func(c *pgxpool.Config) {
			c.ConnConfig.RuntimeParams["session_replication_role"] = "replica"
		}))
	})
}
