package coffer

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/bolt"
	"github.com/cofferhq/coffer/store/memory"
	"github.com/cofferhq/coffer/store/postgres"
)

// The credit-grants overhead benchmark: CreateEntry on wallets that never
// had credit terms, through a store that keeps grants (the engine reads the
// wallet's open grants with its balance) and through the same store with
// its grant methods hidden (the engine's path before grants). Both go
// through a wrapper Tx of the same shape, so they pay the same
// indirection; they alternate in rounds on one store, and the benchmark
// reports the median of the per-round throughput ratios (grants/blind).
//
//	COFFER_POSTGRES_DSN=... go test -run '^$' -bench CreditsOverhead -benchtime 4000x .

type awareStore struct{ store.Store }
type blindStore struct{ store.Store }

// Wrapper Txs: memFull/plain forward the optional methods the inner Tx
// has (memory: all three; bolt, PostgreSQL: none), the aware ones
// CreditGrants too.
type (
	plainTx struct{ store.Tx }
	memTx   struct {
		store.Tx
		store.EntryKeyFinder
		store.EntryKeyInserter
		store.EventDataCopier
	}
	plainAwareTx struct {
		store.Tx
		store.CreditGrants
	}
	memAwareTx struct {
		memTx
		store.CreditGrants
	}
)

func wrapTx(tx store.Tx, aware bool) store.Tx {
	_, mem := tx.(store.EntryKeyInserter)
	cg, _ := tx.(store.CreditGrants)
	switch {
	case mem && aware:
		return memAwareTx{memTx{tx, tx.(store.EntryKeyFinder), tx.(store.EntryKeyInserter), tx.(store.EventDataCopier)}, cg}
	case mem:
		return memTx{tx, tx.(store.EntryKeyFinder), tx.(store.EntryKeyInserter), tx.(store.EventDataCopier)}
	case aware:
		return plainAwareTx{tx, cg}
	}
	return plainTx{tx}
}

func (s awareStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.Update(ctx, func(tx store.Tx) error { return fn(wrapTx(tx, true)) })
}
func (s awareStore) View(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.View(ctx, func(tx store.Tx) error { return fn(wrapTx(tx, true)) })
}
func (s blindStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.Update(ctx, func(tx store.Tx) error { return fn(wrapTx(tx, false)) })
}
func (s blindStore) View(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.View(ctx, func(tx store.Tx) error { return fn(wrapTx(tx, false)) })
}

func BenchmarkCreditsOverhead(b *testing.B) {
	opens := map[string]func(b *testing.B) store.Store{
		"memory": func(b *testing.B) store.Store { return memory.New() },
		"bolt": func(b *testing.B) store.Store {
			s, err := bolt.Open(filepath.Join(b.TempDir(), "bench.db"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		},
		"postgres": func(b *testing.B) store.Store {
			dsn := os.Getenv("COFFER_POSTGRES_DSN")
			if dsn == "" {
				b.Skip("COFFER_POSTGRES_DSN not set")
			}
			schema := "coffer_bench_credits_" + strconv.FormatInt(time.Now().UnixNano(), 36)
			s, err := postgres.Open(context.Background(), dsn, postgres.WithSchema(schema))
			if err != nil {
				b.Skip(err)
			}
			b.Cleanup(func() {
				_, _ = s.Pool().Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
				s.Close()
			})
			return s
		},
	}
	for _, name := range []string{"memory", "bolt", "postgres"} {
		b.Run("store="+name, func(b *testing.B) {
			ctx := context.Background()
			s := opens[name](b)
			aware, err := New(awareStore{s}, WithoutProcessor())
			if err != nil {
				b.Fatal(err)
			}
			blind, err := New(blindStore{s}, WithoutProcessor())
			if err != nil {
				b.Fatal(err)
			}
			const wallets = 100
			ids := make([]string, wallets)
			for i := range ids {
				c, err := aware.CreateCustomer(ctx, customer.Params{Name: new("bench")})
				if err != nil {
					b.Fatal(err)
				}
				ids[i] = c.ID
				if _, err := aware.CreateEntry(ctx, c.ID, EntryParams{Amount: 1 << 40, Currency: "USD", Type: ledger.Credit}); err != nil {
					b.Fatal(err)
				}
			}
			post := func(e *Engine, i int) {
				p := EntryParams{Amount: 1, Currency: "USD", Type: ledger.Credit, IdempotencyKey: "k" + strconv.Itoa(i)}
				if i%2 == 1 {
					p.Type = ledger.Debit
				}
				if _, err := e.CreateEntry(ctx, ids[i%wallets], p); err != nil {
					b.Fatal(err)
				}
			}
			const rounds = 10
			per := max(b.N/(2*rounds), 1)
			var ratios []float64
			var mallocs [2]uint64
			var ms runtime.MemStats
			n := 0
			b.ResetTimer()
			for range rounds {
				var d [2]time.Duration
				for k, e := range []*Engine{aware, blind} {
					runtime.ReadMemStats(&ms)
					m0 := ms.Mallocs
					start := time.Now()
					for range per {
						post(e, n)
						n++
					}
					d[k] = time.Since(start)
					runtime.ReadMemStats(&ms)
					mallocs[k] += ms.Mallocs - m0
				}
				ratios = append(ratios, d[1].Seconds()/d[0].Seconds())
			}
			slices.Sort(ratios)
			b.ReportMetric(ratios[len(ratios)/2], "grants/blind")
			b.ReportMetric(ratios[0], "min_ratio")
			b.ReportMetric(ratios[len(ratios)-1], "max_ratio")
			b.ReportMetric(float64(mallocs[0])/float64(rounds*per), "grants_allocs/entry")
			b.ReportMetric(float64(mallocs[1])/float64(rounds*per), "blind_allocs/entry")
		})
	}
}
