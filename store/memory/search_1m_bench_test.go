package memory

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/store"
)

// oldWalk is memTokens without the prefilter (the plan before it), for the
// side-by-side benchmark.
type oldWalk struct{ memTokens }

func (o oldWalk) Walk(lo, hi int64, down bool, _ *store.Prefilter, fn func(int64, customer.Customer, bool) (bool, error)) error {
	return o.memTokens.Walk(lo, hi, down, nil, fn)
}

// BenchmarkSearchScale: one first search page (limit 20) over the
// customers of dashboard/bench_test.go's fixture (COFFER_BENCH_CUSTOMERS,
// default 1,000,000), the plan before the prefilter and the current one
// alternating in one run. Reports p50-ms and p99-ms.
//
//	go test -run '^$' -bench BenchmarkSearchScale -benchtime 20x ./store/memory/
func BenchmarkSearchScale(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("COFFER_BENCH_CUSTOMERS")); err == nil && v > 0 {
		n = v
	}
	first := []string{"Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "John", "Margaret", "Ken",
		"Dennis", "Radia", "Niklaus", "Leslie", "Shafi", "Tim", "Whitfield", "Adele", "Butler", "Sophie"}
	last := []string{"Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "McCarthy", "Hamilton",
		"Thompson", "Ritchie", "Perlman", "Wirth", "Lamport", "Goldwasser", "Berners-Lee", "Diffie", "Goldberg",
		"Lampson", "Wilson", "Backus", "Kay", "Cerf", "Kahn", "Hoare", "Milner", "Rivest", "Shamir", "Adleman", "Hellman"}
	s := New()
	ctx := context.Background()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i += 10000 {
		err := s.Update(ctx, func(tx store.Tx) error {
			for j := i; j < min(n, i+10000); j++ {
				f, l := first[j%20], last[(j/20)%30]
				c := customer.Customer{ID: fmt.Sprintf("cus_bench%08d", j), Name: f + " " + l,
					Email:     fmt.Sprintf("%s.%s.%d@example.com", strings.ToLower(f), strings.ToLower(l), j),
					Phone:     fmt.Sprintf("+1555%07d", j),
					CreatedAt: at, UpdatedAt: at}
				if err := tx.InsertCustomer(c); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	queries := []struct{ kind, q string }{
		{"hit", fmt.Sprintf("cus_bench%08d", n*7/9)},
		{"miss", "qzxv"},
		{"common-dense", "grace hopper"},
		{"common-rare", "alan turing 77"},
		{"common-empty", "grace ada"},
	}
	for _, q := range queries {
		sq, err := customer.ParseSearch(q.q)
		if err != nil {
			b.Fatal(err)
		}
		for _, plan := range []string{"old", "new"} {
			b.Run(q.kind+"/"+plan, func(b *testing.B) {
				var lat []time.Duration
				found := 0
				for i := 0; i < b.N; i++ {
					t0 := time.Now()
					err := s.View(ctx, func(store.Tx) error {
						var ix store.TokenIndex[int64] = memTokens{s}
						if plan == "old" {
							ix = oldWalk{memTokens{s}}
						}
						pg, err := store.RunSearch[int64](ix, store.CustomerSearchQuery{Search: sq, Page: store.Page{Limit: 20}}, math.MinInt64, math.MaxInt64)
						found = len(pg.Customers)
						return err
					})
					lat = append(lat, time.Since(t0))
					if err != nil {
						b.Fatal(err)
					}
				}
				slices.Sort(lat)
				pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e6 }
				b.ReportMetric(pct(0.5), "p50-ms")
				b.ReportMetric(pct(0.99), "p99-ms")
				b.ReportMetric(float64(found), "found")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}
