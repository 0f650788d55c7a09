package coffer

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/bolt"
	"github.com/cofferhq/coffer/store/memory"
	"github.com/cofferhq/coffer/store/postgres"
)

// BenchmarkUsageBatch compares RecordUsage (one call of 100 usage debits,
// one transaction) with 100 single CreateEntry debits, on each store, in
// one run: rounds alternate between the two sides on one engine (10
// api_calls wallets), and the benchmark reports each side's debits/s and
// their ratio (batch/single). PostgreSQL runs when COFFER_POSTGRES_DSN is
// set.
//
//	COFFER_POSTGRES_DSN=... go test -run '^$' -bench BenchmarkUsageBatch -benchtime 20x .
func BenchmarkUsageBatch(b *testing.B) {
	const size, wallets = 100, 10
	kinds := []string{"memory", "bolt", "postgres"}
	for _, kind := range kinds {
		b.Run(kind, func(b *testing.B) {
			ctx := context.Background()
			var s store.Store
			switch kind {
			case "memory":
				s = memory.New()
			case "bolt":
				bs, err := bolt.Open(filepath.Join(b.TempDir(), "bench.db"))
				if err != nil {
					b.Fatal(err)
				}
				defer bs.Close()
				s = bs
			case "postgres":
				dsn := os.Getenv("COFFER_POSTGRES_DSN")
				if dsn == "" {
					b.Skip("COFFER_POSTGRES_DSN not set")
				}
				schema := "coffer_bench_usage_" + strconv.FormatInt(time.Now().UnixNano(), 36)
				ps, err := postgres.Open(ctx, dsn, postgres.WithSchema(schema))
				if err != nil {
					b.Skip(err)
				}
				defer func() {
					ps.Close()
					if conn, err := pgx.Connect(ctx, dsn); err == nil {
						_, _ = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
						_ = conn.Close(ctx)
					}
				}()
				s = ps
			}
			eng, err := New(s, WithoutProcessor(), WithUnits(money.Unit{Code: "api_calls"}))
			if err != nil {
				b.Fatal(err)
			}
			ids := make([]string, wallets)
			for i := range ids {
				c, err := eng.CreateCustomer(ctx, customer.Params{Name: new("bench")})
				if err != nil {
					b.Fatal(err)
				}
				ids[i] = c.ID
				if _, err := eng.CreateEntry(ctx, c.ID, EntryParams{Amount: 1 << 50, Currency: "api_calls", Type: ledger.Credit, Reason: "fund"}); err != nil {
					b.Fatal(err)
				}
			}
			var batchDur, singleDur time.Duration
			k := 0
			b.ResetTimer()
			for round := 0; round < b.N; round++ {
				batch := make([]Usage, size)
				for i := range batch {
					k++
					batch[i] = Usage{CustomerID: ids[k%wallets], Unit: "api_calls", Quantity: 1, IdempotencyKey: "b" + strconv.Itoa(k)}
				}
				t := time.Now()
				res, err := eng.RecordUsage(ctx, batch)
				batchDur += time.Since(t)
				if err != nil || Summarize(res).Applied != size {
					b.Fatal(err, Summarize(res))
				}
				t = time.Now()
				for range size {
					k++
					if _, err := eng.CreateEntry(ctx, ids[k%wallets], EntryParams{Amount: 1, Currency: "api_calls", Type: ledger.Debit,
						Reason: UsageReason, IdempotencyKey: "s" + strconv.Itoa(k)}); err != nil {
						b.Fatal(err)
					}
				}
				singleDur += time.Since(t)
			}
			n := float64(b.N * size)
			batchRate, singleRate := n/batchDur.Seconds(), n/singleDur.Seconds()
			b.ReportMetric(batchRate, "batch_debits/s")
			b.ReportMetric(singleRate, "single_debits/s")
			b.ReportMetric(batchRate/singleRate, "batch/single")
		})
	}
}
