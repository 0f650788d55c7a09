package bolt

import (
	"context"
	"math"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/store"
)

// oldWalk is the search plan before the prefilter: the Walk of boltTokens
// without it (every customer of an all-common-terms page decoded), kept
// so that the benchmark runs both plans side by side.
type oldWalk struct{ boltTokens }

func (o oldWalk) Walk(lo, hi uint64, down bool, _ *store.Prefilter, fn func(uint64, customer.Customer, bool) (bool, error)) error {
	return o.boltTokens.Walk(lo, hi, down, nil, fn)
}

// BenchmarkSearch1M: one first search page (limit 20) on the 1M-customer
// file of dashboard/bench_test.go (COFFER_BENCH_1M_BOLT; skipped when
// unset), old plan and new plan alternating in one run. Reports p50-ms and
// p99-ms.
//
//	COFFER_BENCH_1M_BOLT=/tmp/coffer-bench-1m.db go test -run '^$' -bench BenchmarkSearch1M -benchtime 40x ./store/bolt/
func BenchmarkSearch1M(b *testing.B) {
	path := os.Getenv("COFFER_BENCH_1M_BOLT")
	if path == "" {
		b.Skip("COFFER_BENCH_1M_BOLT unset")
	}
	s, err := Open(path, WithLockTimeout(5*time.Second))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	for _, q := range searchBenchQueries {
		sq, err := customer.ParseSearch(q.Query)
		if err != nil {
			b.Fatal(err)
		}
		for _, plan := range []string{"old", "new"} {
			b.Run(q.Kind+"/"+plan, func(b *testing.B) {
				var lat []time.Duration
				n := 0
				for i := 0; i < b.N; i++ {
					t0 := time.Now()
					err := s.View(context.Background(), func(stx store.Tx) error {
						t := stx.(*tx)
						var ix store.TokenIndex[uint64] = boltTokens{t}
						if plan == "old" {
							ix = oldWalk{boltTokens{t}}
						}
						pg, err := store.RunSearch[uint64](ix, store.CustomerSearchQuery{Search: sq, Page: store.Page{Limit: 20}}, 0, math.MaxUint64)
						n = len(pg.Customers)
						return err
					})
					lat = append(lat, time.Since(t0))
					if err != nil {
						b.Fatal(err)
					}
				}
				reportLatency(b, lat)
				b.ReportMetric(float64(n), "found")
			})
		}
	}
}

// searchBenchQueries are the query kinds of the search benchmarks, on the
// fixture of dashboard/bench_test.go (customer i: first name i%20, last
// name (i/20)%30, email first.last.i@example.com).
var searchBenchQueries = []struct{ Kind, Query string }{
	{"hit", "cus_bench00777777"},
	{"miss", "qzxv"},
	{"common-dense", "grace hopper"},  // 1,667 customers, the newest at the top
	{"common-rare", "alan turing 77"}, // 17 customers, the newest 220k down
	{"common-empty", "grace ada"},     // none: one first name each
}

// reportLatency reports the p50 and p99 of lat in milliseconds.
func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e6 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}
