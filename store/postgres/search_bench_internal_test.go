package postgres

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/store"
)

// BenchmarkSearch1M: one first search page (limit 20) on the schema
// bench_dashboard_1000000 of dashboard/bench_test.go (skipped when it or
// COFFER_POSTGRES_DSN is missing), the plan before the prefilter ("old")
// and the current one alternating in one run. Reports p50-ms and p99-ms.
//
//	COFFER_POSTGRES_DSN='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' \
//	  go test -run '^$' -bench BenchmarkSearch1M -benchtime 20x ./store/postgres/
//
// It also reports server-cpu-ms, the CPU time of the store's one backend
// per search (when PostgreSQL runs on this machine: from /proc), which a
// loaded machine inflates far less than the latencies. COFFER_BENCH_SEARCH_SCHEMA
// names another fixture schema.
func BenchmarkSearch1M(b *testing.B) {
	dsn := os.Getenv("COFFER_POSTGRES_DSN")
	if dsn == "" {
		b.Skip("COFFER_POSTGRES_DSN unset")
	}
	ctx := context.Background()
	schema := "bench_dashboard_1000000"
	if v := os.Getenv("COFFER_BENCH_SEARCH_SCHEMA"); v != "" {
		schema = v
	}
	// One connection, so its backend's CPU time (from /proc, when the
	// server runs on this machine) is the queries' server CPU.
	s, err := Open(ctx, dsn, WithSchema(schema), WithMaxConns(1))
	if err != nil {
		b.Skip(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	var pid int
	if err := s.Pool().QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		b.Fatal(err)
	}
	queries := []struct{ kind, q string }{
		{"hit", "cus_bench00777777"},
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
				searchPrefilter = plan == "new"
				defer func() { searchPrefilter = true }()
				var lat []time.Duration
				n := 0
				cpu0 := backendCPU(pid)
				for i := 0; i < b.N; i++ {
					t0 := time.Now()
					err := s.View(ctx, func(tx store.Tx) error {
						pg, err := tx.SearchCustomers(store.CustomerSearchQuery{Search: sq, Page: store.Page{Limit: 20}})
						n = len(pg.Customers)
						return err
					})
					lat = append(lat, time.Since(t0))
					if err != nil {
						b.Fatal(err)
					}
				}
				if cpu := backendCPU(pid); cpu >= 0 && cpu0 >= 0 {
					b.ReportMetric(float64(cpu-cpu0)/1e6/float64(b.N), "server-cpu-ms")
				}
				slices.Sort(lat)
				pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e6 }
				b.ReportMetric(pct(0.5), "p50-ms")
				b.ReportMetric(pct(0.99), "p99-ms")
				b.ReportMetric(float64(n), "found")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

// backendCPU is the CPU time (user + system) of the server process pid,
// read from /proc, or -1 when it cannot be read (a remote server).
func backendCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return time.Duration(u+st) * 10 * time.Millisecond // clock ticks of 10 ms
}
