package coffer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/clock"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/bolt"
	"github.com/cofferhq/coffer/store/memory"
	"github.com/cofferhq/coffer/store/postgres"
	"github.com/cofferhq/coffer/webhook"
)

// t0 is the test clock's start: 2026-03-02 09:00 UTC, a Monday.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// env is one engine under test with its fakes.
type env struct {
	*Engine
	t     *testing.T
	ctx   context.Context
	clock *clock.Test
	proc  *processor.Test
	store store.Store
}

// storeKinds are the adapters every engine test runs on.
var storeKinds = map[string]func(t *testing.T) store.Store{
	"memory": func(t *testing.T) store.Store { return memory.New() },
	"bolt": func(t *testing.T) store.Store {
		s, err := bolt.Open(filepath.Join(t.TempDir(), "coffer.db"))
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return s
	},
}

// eachStore runs f once per store adapter: memory, bolt, and PostgreSQL
// when COFFER_POSTGRES_DSN is set (CI always sets it).
func eachStore(t *testing.T, f func(t *testing.T, newStore func(t *testing.T) store.Store)) {
	for _, name := range []string{"memory", "bolt", "postgres"} {
		t.Run(name, func(t *testing.T) { f(t, storeKinds[name]) })
	}
}

func init() {
	storeKinds["postgres"] = func(t *testing.T) store.Store {
		dsn := os.Getenv("COFFER_POSTGRES_DSN")
		if dsn == "" {
			t.Skip("COFFER_POSTGRES_DSN not set")
		}
		ctx := context.Background()
		var b [6]byte
		_, _ = rand.Read(b[:])
		schema := "coffer_engine_" + hex.EncodeToString(b[:])
		s, err := postgres.Open(ctx, dsn, postgres.WithSchema(schema), postgres.WithMaxConns(16))
		if err != nil && os.Getenv("CI") != "true" {
			t.Skipf("PostgreSQL unreachable: %v", err)
		}
		require.NoError(t, err, "PostgreSQL at COFFER_POSTGRES_DSN must be reachable in CI")
		t.Cleanup(func() {
			s.Close()
			if conn, err := pgx.Connect(ctx, dsn); err == nil {
				_, _ = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
				_ = conn.Close(ctx)
			}
		})
		return s
	}
}

// newEnv builds an engine on a fresh store of the given kind.
func newEnv(t *testing.T, newStore func(t *testing.T) store.Store, opts ...Option) *env {
	t.Helper()
	clk := clock.NewTest(t0)
	proc := processor.NewTest(clk)
	s := newStore(t)
	e, err := New(s, append([]Option{WithClock(clk), WithProcessor(proc), WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
	require.NoError(t, err)
	return &env{Engine: e, t: t, ctx: context.Background(), clock: clk, proc: proc, store: s}
}

// events returns every outbox event, oldest first.
func (v *env) events() []webhook.Event {
	v.t.Helper()
	var out []webhook.Event
	require.NoError(v.t, v.store.View(v.ctx, func(tx store.Tx) error {
		var after int64
		for {
			list, err := tx.Events(after, 500)
			if err != nil {
				return err
			}
			if len(list) == 0 {
				return nil
			}
			out = append(out, list...)
			after = list[len(list)-1].Seq
		}
	}))
	return out
}

// eventTypes counts events by type.
func (v *env) eventTypes() map[string]int {
	m := map[string]int{}
	for _, e := range v.events() {
		m[e.Type]++
	}
	return m
}

var errorsIsFn = errors.Is
