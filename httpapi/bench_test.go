package httpapi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/store/bolt"
)

// The ledger-entry benchmarks compare a ledger entry posted over HTTP (a
// real net/http server on 127.0.0.1 serving the Handler as `coffer serve`
// does, authenticating with an API key of the Engine's; keep-alive clients,
// see benchConn) with the same
// entry made by Engine.CreateEntry directly, on the bbolt store opened
// exactly as `coffer serve` opens it (bolt.ServeOptions: every entry
// fsynced; concurrent writers share fsyncs), with 1 and 64 concurrent
// clients, one customer each. Both make the same entry: 1 USD credit with a
// fresh idempotency key. docs/HTTP-API.md has the table.
//
//	go test -run '^$' -bench LedgerEntry -benchtime 3s -count 3 ./httpapi
//
// BenchmarkLedgerEntryRatio is the comparison to quote on a shared
// machine: engine and HTTP take turns, in rounds, within one benchmark, so
// both see the same load, and it reports http/engine directly.
// BenchmarkLedgerEntryHTTP runs each side alone (for -cpuprofile and
// allocs/op of one side); its engine and http leaves of one client count
// run one after the other.

// BenchmarkLedgerEntryHTTP runs one side per leaf. allocs/op of the http
// leaves counts the client's allocations too (same process).
func BenchmarkLedgerEntryHTTP(b *testing.B) {
	for _, clients := range []int{1, 64} {
		for _, mode := range []string{"engine", "http"} {
			b.Run(fmt.Sprintf("%s/clients=%d", mode, clients), func(b *testing.B) {
				lb := newLedgerBench(b, mode == "http", clients)
				b.ReportAllocs()
				b.ResetTimer()
				if err := lb.run(b.N); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
			})
		}
	}
}

// BenchmarkLedgerEntryRatio alternates rounds of engine entries and HTTP
// entries (two stores, same options, both open for the whole run); one op is
// one entry on each side. It reports each side's entries/s over its own
// rounds, their ratio, and each side's CPU time (user and system, the whole
// process: the store's committer, and for HTTP the server and the client)
// and allocations per entry (the HTTP side's include the client's).
func BenchmarkLedgerEntryRatio(b *testing.B) {
	for _, clients := range []int{1, 64} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			sides := [2]*ledgerBench{newLedgerBench(b, false, clients), newLedgerBench(b, true, clients)}
			round := max(50, 20*clients)
			var took, cpu [2]time.Duration
			var mallocs [2]uint64
			var ms runtime.MemStats
			b.ResetTimer()
			for done := 0; done < b.N; {
				k := min(round, b.N-done)
				for i, s := range sides {
					runtime.ReadMemStats(&ms)
					m0, c0, t0 := ms.Mallocs, processCPU(), time.Now()
					if err := s.run(k); err != nil {
						b.Fatal(err)
					}
					took[i] += time.Since(t0)
					cpu[i] += processCPU() - c0
					runtime.ReadMemStats(&ms)
					mallocs[i] += ms.Mallocs - m0
				}
				done += k
			}
			b.StopTimer()
			engine := float64(b.N) / took[0].Seconds()
			web := float64(b.N) / took[1].Seconds()
			b.ReportMetric(engine, "engine_entries/s")
			b.ReportMetric(web, "http_entries/s")
			b.ReportMetric(web/engine, "http/engine")
			b.ReportMetric(float64(cpu[0].Microseconds())/float64(b.N), "engine_cpu_us/entry")
			b.ReportMetric(float64(cpu[1].Microseconds())/float64(b.N), "http_cpu_us/entry")
			b.ReportMetric(float64(mallocs[0])/float64(b.N), "engine_allocs/entry")
			b.ReportMetric(float64(mallocs[1])/float64(b.N), "http_allocs/entry")
		})
	}
}

// benchStore opens a bbolt store in dir as `coffer serve` does.
func benchStore(b *testing.B) *bolt.Store {
	st, err := bolt.Open(filepath.Join(b.TempDir(), "bench.db"), bolt.ServeOptions()...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// ledgerBench posts ledger entries for clients concurrent clients, over
// HTTP or through the Engine.
type ledgerBench struct {
	clients int
	post    func(client int, key string) error
	keys    atomic.Int64
}

func newLedgerBench(b *testing.B, overHTTP bool, clients int) *ledgerBench {
	ctx := context.Background()
	eng, err := coffer.New(benchStore(b), coffer.WithoutProcessor())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { eng.Close() })
	ids := make([]string, clients)
	for i := range ids {
		c, err := eng.CreateCustomer(ctx, customer.Params{Name: new("bench " + strconv.Itoa(i)), Email: new(fmt.Sprintf("b%d@example.com", i))})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = c.ID
	}
	lb := &ledgerBench{clients: clients}
	if overHTTP {
		// The Engine's own API keys, as `coffer serve` authenticates.
		key, err := eng.CreateAPIKey(ctx, coffer.APIKeyParams{Name: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		h, err := New(eng)
		if err != nil {
			b.Fatal(err)
		}
		srv := httptest.NewServer(h) // 127.0.0.1, a real net/http server
		b.Cleanup(srv.Close)
		conns := make([]*benchConn, clients)
		for i := range conns {
			bc, err := dialBench(srv.Listener.Addr().String(), "/customers/"+ids[i]+"/wallets/ledger-entries", key.Secret)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { bc.conn.Close() })
			conns[i] = bc
		}
		lb.post = func(client int, key string) error { return conns[client].post(key) }
	} else {
		lb.post = func(client int, key string) error {
			_, err := eng.CreateEntry(ctx, ids[client], coffer.EntryParams{Amount: 1, Currency: "USD",
				Type: ledger.Credit, Reason: "bench", IdempotencyKey: key})
			return err
		}
	}
	// Warm up (connections, pages) outside the timing: every client's
	// connection is opened here, at once.
	var wg sync.WaitGroup
	errs := make([]error, clients)
	for i := range clients {
		wg.Go(func() { errs[i] = lb.post(i, "warm_"+strconv.Itoa(i)) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	return lb
}

// run makes n entries with lb.clients concurrent clients.
func (lb *ledgerBench) run(n int) error {
	var next atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	for c := range lb.clients {
		wg.Go(func() {
			for next.Add(1) <= int64(n) && failed.Load() == nil {
				if err := lb.post(c, "k_"+strconv.FormatInt(lb.keys.Add(1), 10)); err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
			}
		})
	}
	wg.Wait()
	if p := failed.Load(); p != nil {
		return *p
	}
	return nil
}

// benchConn is the benchmark's HTTP/1.1 client: one keep-alive connection,
// used by one goroutine at a time. The client is not what the benchmark
// measures, and net/http's Client costs about as much CPU per request as
// the server (two goroutines per connection and their channel hand-offs, a
// copied header map, a cancelable context): on a 2-core machine that CPU
// is taken from the server and the store. benchConn writes each request
// from a buffer that only has the idempotency key and the lengths filled
// in, and reads the answer with http.ReadResponse over a bufio.Reader,
// checking its status and reading its body to the end. The server side is
// the real Handler in a net/http server on a TCP socket, as `coffer serve`
// runs it.
type benchConn struct {
	conn net.Conn
	br   *bufio.Reader
	head string // request line and headers up to Content-Length's value
	req  []byte
	body []byte
}

func dialBench(addr, path, secret string) (*benchConn, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &benchConn{conn: conn, br: bufio.NewReader(conn),
		head: "POST " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: coffer-bench\r\n" +
			"Authorization: Bearer " + secret + "\r\nContent-Type: application/json\r\nContent-Length: "}, nil
}

// post makes one ledger entry (1 USD credit under idempotency key key) and
// checks the answer is a 200 with a JSON body.
func (bc *benchConn) post(key string) error {
	bc.body = append(append(append(bc.body[:0],
		`{"amount":1,"currency":"USD","entry_type":"credit","reason":"bench","idempotency_key":"`...), key...), `"}`...)
	bc.req = append(strconv.AppendInt(append(bc.req[:0], bc.head...), int64(len(bc.body)), 10), "\r\n\r\n"...)
	bc.req = append(bc.req, bc.body...)
	if _, err := bc.conn.Write(bc.req); err != nil {
		return err
	}
	res, err := http.ReadResponse(bc.br, nil)
	if err != nil {
		return err
	}
	n, err := io.Copy(io.Discard, res.Body) // to the end: the connection is reused
	res.Body.Close()
	switch {
	case err != nil:
		return err
	case res.StatusCode != http.StatusOK:
		return fmt.Errorf("status %d", res.StatusCode)
	case res.Close:
		return errors.New("the server closed the connection")
	case n == 0 || res.Header.Get("Content-Type") != "application/json":
		return fmt.Errorf("answer of %d bytes, Content-Type %q", n, res.Header.Get("Content-Type"))
	}
	return nil
}
