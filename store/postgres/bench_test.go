package postgres_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/postgres"
	"github.com/cofferhq/coffer/wallet"
	"github.com/cofferhq/coffer/webhook"
)

// BenchmarkLedgerPost measures ledger entry creation, the hottest write of
// a billing engine, with 1, 8, 32 and 64 concurrent writers on one hot
// wallet and on 1024 spread wallets. Two contenders run on the same pool and
// tables:
//
//   - coffer: Store.Update running what the engine does (lock the balance
//     with Balance, ledger.Post, InsertEntry, PutBalance, InsertEvent);
//   - pgx: a hand-written pgx transaction doing the same work the way one
//     would write it by hand: UPDATE ... RETURNING the new balance, INSERT
//     the entry, INSERT the outbox event, COMMIT.
//
// They alternate in rounds within each benchmark, so drifting load on the
// machine affects both alike. Each benchmark reports coffer-ops/s,
// pgx-ops/s and coffer/pgx (%), the median of the per-round throughput
// ratios; ns/op covers both contenders' operations and is of no interest. After the run TestMain prints the table. Run it
// with
//
//	COFFER_POSTGRES_DSN=... go test -run '^$' -bench LedgerPost -benchtime 2000x ./store/postgres/
//
// COFFER_BENCH_SYNCHRONOUS_COMMIT=off measures without waiting for the WAL
// flush, which otherwise dominates on slow disks.
func BenchmarkLedgerPost(b *testing.B) {
	benchShapes(b, func(b *testing.B, d string, wallets int) {
		s := benchStore(b, d, wallets)
		for _, writers := range []int{1, 8, 32, 64} {
			b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
				runPaired(b, writers,
					func(i int64) error { return postCoffer(s, wallets, i) },
					func(i int64) error { return postPgx(s.Pool(), wallets, i) })
			})
		}
	})
}

// benchPoolSize is the pool of both contenders: a typical application
// setting, above the machine's cores; writers beyond it wait for a
// connection, as they would in an application.
const benchPoolSize = 32

func benchStore(b *testing.B, d string, wallets int) *postgres.Store {
	schema := newSchema(b, d)
	opts := []postgres.Option{postgres.WithMaxConns(benchPoolSize)}
	if sc := os.Getenv("COFFER_BENCH_SYNCHRONOUS_COMMIT"); sc != "" {
		opts = append(opts, postgres.WithPoolConfig(func(c *pgxpool.Config) {
			c.ConnConfig.RuntimeParams["synchronous_commit"] = sc
		}))
	}
	s := openIn(b, d, schema, opts...)
	benchSeed(b, s, wallets)
	return s
}

// benchSeed creates the wallets.
func benchSeed(b testing.TB, s *postgres.Store, wallets int) {
	err := s.Update(context.Background(), func(tx store.Tx) error {
		for w := range wallets {
			id := benchCustomer(w)
			if err := tx.InsertCustomer(customer.Customer{ID: id, CreatedAt: t0, UpdatedAt: t0}); err != nil {
				return err
			}
			if err := tx.PutBalance(wallet.Balance{CustomerID: id, Currency: "USD", UpdatedAt: t0}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

func benchCustomer(w int) string { return fmt.Sprintf("cus_%04d", w) }

// seq makes entry and event ids unique across every run of the benchmark.
var seq atomic.Int64

var benchEvent = []byte(`{"object":"wallet.balance_changed","amount":1,"currency":"USD"}`)

// postCoffer credits one minor unit through the adapter, as the engine
// posts an entry.
func postCoffer(s *postgres.Store, wallets int, i int64) error {
	n := seq.Add(1)
	cus := benchCustomer(int(i) % wallets)
	req := ledger.Request{Amount: 1, Currency: "USD", Type: ledger.Credit, Reason: "bench",
		IdempotencyKey: fmt.Sprintf("key_%d", n)}
	return s.Update(context.Background(), func(tx store.Tx) error {
		b, err := tx.Balance(cus, "USD")
		if err != nil {
			return err
		}
		now := time.Now()
		e, after, err := ledger.Post(b, req, fmt.Sprintf("le_%d", n), now)
		if err != nil {
			return err
		}
		if err := tx.InsertEntry(e); err != nil {
			return err
		}
		if err := tx.PutBalance(after); err != nil {
			return err
		}
		return tx.InsertEvent(webhook.Event{ID: fmt.Sprintf("evt_%d", n), Type: "wallet.balance_changed",
			CustomerID: cus, Data: benchEvent, CreatedAt: now})
	})
}

// postPgx does the same work by hand.
func postPgx(pool *pgxpool.Pool, wallets int, i int64) error {
	ctx := context.Background()
	n := seq.Add(1)
	cus := benchCustomer(int(i) % wallets)
	req := ledger.Request{Amount: 1, Currency: "USD", Type: ledger.Credit, Reason: "bench",
		IdempotencyKey: fmt.Sprintf("key_%d", n)}
	now := time.Now().UTC()
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var after int64
		err := tx.QueryRow(ctx, `UPDATE wallet_balances SET amount = amount + $3, updated_at = $4
			WHERE customer_id = $1 AND currency = $2 RETURNING amount`,
			cus, req.Currency, req.Amount, now).Scan(&after)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO ledger_entries (id, customer_id, currency, entry_type, amount,
			balance_before, balance_after, reason, idempotency_key, reference_type, reference_id,
			fingerprint, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			fmt.Sprintf("le_%d", n), cus, req.Currency, string(req.Type), req.Amount, after-req.Amount, after,
			req.Reason, req.IdempotencyKey, string(ledger.RefManual), "", req.Fingerprint(), now)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO events (id, type, customer_id, data, created_at, dispatched)
			VALUES ($1, $2, $3, $4, $5, false)`,
			fmt.Sprintf("evt_%d", n), "wallet.balance_changed", cus, benchEvent, now)
		return err
	})
}

// benchRounds is how many alternating rounds a paired benchmark runs.
const benchRounds = 20

// runPaired runs b.N operations of each contender, alternating in rounds
// (and alternating which goes first), and records both throughputs and
// the median of the per-round ratios: a burst of load elsewhere on the
// machine spoils a round or two, not the comparison.
func runPaired(b *testing.B, writers int, coffer, pgx func(i int64) error) {
	var spent [2]time.Duration
	done := [2]int{}
	ops := [2]func(int64) error{coffer, pgx}
	var ratios []float64
	b.ResetTimer()
	for r := range benchRounds {
		n := b.N*(r+1)/benchRounds - b.N*r/benchRounds
		if n == 0 {
			continue
		}
		var took [2]time.Duration
		for k := range 2 {
			c := (r + k) % 2
			start := time.Now()
			if err := runWriters(writers, n, ops[c]); err != nil {
				b.Fatal(err)
			}
			took[c] = time.Since(start)
			spent[c] += took[c]
			done[c] += n
		}
		ratios = append(ratios, took[1].Seconds()/took[0].Seconds())
	}
	b.StopTimer()
	var tput [2]float64
	for c := range 2 {
		if spent[c] > 0 {
			tput[c] = float64(done[c]) / spent[c].Seconds()
		}
	}
	ratio := median(ratios)
	b.ReportMetric(tput[0], "coffer-ops/s")
	b.ReportMetric(tput[1], "pgx-ops/s")
	b.ReportMetric(100*ratio, "coffer/pgx-%")
	benchMu.Lock()
	benchResults[b.Name()] = append(benchResults[b.Name()], benchRun{n: b.N, coffer: tput[0], pgx: tput[1], ratio: ratio})
	benchMu.Unlock()
}

// runWriters runs n operations on the given number of goroutines.
func runWriters(writers, n int, op func(i int64) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var first atomic.Pointer[error]
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				if err := op(i); err != nil {
					first.CompareAndSwap(nil, &err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := first.Load(); err != nil {
		return *err
	}
	return nil
}

type benchRun struct {
	n                  int
	coffer, pgx, ratio float64
}

// benchResults holds every run of each benchmark; the table uses the
// median of the runs with the largest b.N (the measured ones, not the
// calibration runs), so -count=N gives a steadier figure.
var (
	benchMu      sync.Mutex
	benchResults = map[string][]benchRun{}
)

// measured returns, over the runs with the largest b.N (not the
// calibration runs), the median throughput of each contender and the median
// of the runs' paired ratios.
func measured(runs []benchRun) (coffer, pgx, ratio float64) {
	top := 0
	for _, r := range runs {
		top = max(top, r.n)
	}
	var c, p, q []float64
	for _, r := range runs {
		if r.n == top && r.pgx > 0 {
			c, p, q = append(c, r.coffer), append(p, r.pgx), append(q, r.ratio)
		}
	}
	return median(c), median(p), median(q)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	sort.Float64s(v)
	if len(v)%2 == 0 {
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return v[len(v)/2]
}

func TestMain(m *testing.M) {
	code := m.Run()
	printBenchTable()
	os.Exit(code)
}

// printBenchTable prints coffer's throughput beside the hand-written one.
func printBenchTable() {
	benchMu.Lock()
	defer benchMu.Unlock()
	if len(benchResults) == 0 {
		return
	}
	keys := make([]string, 0, len(benchResults))
	for k := range benchResults {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		si, sj := strings.Contains(keys[i], "spread"), strings.Contains(keys[j], "spread")
		if si != sj {
			return !si
		}
		return writersOf(keys[i]) < writersOf(keys[j])
	})
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "wallets\twriters\tcoffer ops/s\tpgx ops/s\tcoffer/pgx (median of paired rounds)\t")
	for _, k := range keys {
		c, p, q := measured(benchResults[k])
		wallets := "hot (1)"
		if strings.Contains(k, "spread") {
			wallets = "spread (1024)"
		}
		ratio := "-"
		if q > 0 {
			ratio = fmt.Sprintf("%.0f%%", 100*q)
		}
		fmt.Fprintf(w, "%s\t%d\t%.0f\t%.0f\t%s\t\n", wallets, writersOf(k), c, p, ratio)
	}
	_ = w.Flush()
}

func cutLast(s, sep string) (string, string, bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}

func writersOf(name string) int {
	var n int
	if i := strings.Index(name, "writers="); i >= 0 {
		fmt.Sscanf(name[i+len("writers="):], "%d", &n)
	}
	return n
}

// benchShapes runs f as the sub-benchmarks "hot" (one wallet) and
// "spread" (1024 wallets) on the PostgreSQL at COFFER_POSTGRES_DSN (d),
// skipping when it is unset.
func benchShapes(b *testing.B, f func(b *testing.B, d string, wallets int)) {
	d := os.Getenv("COFFER_POSTGRES_DSN")
	if d == "" {
		b.Skip("COFFER_POSTGRES_DSN not set")
	}
	for _, wallets := range []int{1, 1024} {
		name := "hot"
		if wallets > 1 {
			name = "spread"
		}
		b.Run(name, func(b *testing.B) { f(b, d, wallets) })
	}
}
