package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/postgres"
)

// The tests run against the PostgreSQL in COFFER_POSTGRES_DSN, each store in
// a fresh schema dropped afterwards. Without the variable they skip; with
// it and CI=true, an unreachable server fails them, so CI cannot pass
// without exercising this adapter.

var ctx = context.Background()

// dsn returns the test database or skips.
func dsn(t testing.TB) string {
	t.Helper()
	d := os.Getenv("COFFER_POSTGRES_DSN")
	if d == "" {
		t.Skip("COFFER_POSTGRES_DSN not set")
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, d)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL at COFFER_POSTGRES_DSN unreachable in CI: %v", err)
		}
		t.Skipf("PostgreSQL at COFFER_POSTGRES_DSN unreachable: %v", err)
	}
	_ = conn.Close(cctx)
	return d
}

// newSchema returns a fresh schema name and drops the schema at cleanup.
func newSchema(t testing.TB, d string) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "coffer_test_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, d)
		if err != nil {
			t.Logf("drop schema %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+name+" CASCADE"); err != nil {
			t.Logf("drop schema %s: %v", name, err)
		}
	})
	return name
}

// openIn opens a store on schema; cleanup closes it.
func openIn(t testing.TB, d, schema string, opts ...postgres.Option) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(ctx, d, append([]postgres.Option{postgres.WithSchema(schema)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// newStore opens a store in a fresh schema.
func newStore(t testing.TB, opts ...postgres.Option) *postgres.Store {
	t.Helper()
	d := dsn(t)
	return openIn(t, d, newSchema(t, d), opts...)
}

// TestNewFromPool: a Store on the application's own pool. The pool's
// search_path must name the schema given with WithSchema.
func TestNewFromPool(t *testing.T) {
	d := dsn(t)
	schema := newSchema(t, d)
	cfg, err := pgxpool.ParseConfig(d)
	require.NoError(t, err)
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	s, err := postgres.NewFromPool(ctx, pool, postgres.WithSchema(schema))
	require.NoError(t, err)
	addCustomer(t, s, "cus_p", "USD", 1)
	require.NoError(t, s.Close())
	require.ErrorIs(t, s.View(ctx, func(store.Tx) error { return nil }), store.ErrClosed)
	require.NoError(t, pool.Ping(ctx), "the caller's pool stays open")

	_, err = postgres.NewFromPool(ctx, pool, postgres.WithSchema("another_schema"))
	require.ErrorContains(t, err, "search_path")
}

func TestOptionsValidated(t *testing.T) {
	for _, o := range []postgres.Option{
		postgres.WithSchema("Bad-Name"), postgres.WithSchema(""), postgres.WithSchema("a;drop"),
		postgres.WithMaxAttempts(0), postgres.WithMaxConns(0),
	} {
		_, err := postgres.Open(ctx, "postgres://127.0.0.1:1/none", o)
		require.Error(t, err)
	}
}
