package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/store/bolt"
)

// BenchmarkLedgerEntryHTTP compares a ledger entry posted over HTTP (a
// real net/http server on 127.0.0.1, keep-alive clients) with the same
// entry made by Engine.CreateEntry directly, on the bbolt store (every
// entry fsynced; concurrent writers share fsyncs), with 1 and 64
// concurrent clients, one customer each. Both make the same entry: 1 USD
// credit with a fresh idempotency key. entries/s is the metric; NOTES-h6.md
// has the table of http/engine.
//
//	go test -run '^$' -bench LedgerEntry -benchtime 3s ./httpapi
func BenchmarkLedgerEntryHTTP(b *testing.B) {
	for _, mode := range []string{"engine", "http"} {
		for _, clients := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/clients=%d", mode, clients), func(b *testing.B) {
				benchLedgerEntry(b, mode == "http", clients)
			})
		}
	}
}

func benchLedgerEntry(b *testing.B, overHTTP bool, clients int) {
	ctx := context.Background()
	st, err := bolt.Open(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	eng, err := coffer.New(st, coffer.WithoutProcessor())
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
	var post func(client int, key string) error
	if overHTTP {
		h, err := New(eng, WithAuthenticator(testAuth))
		if err != nil {
			b.Fatal(err)
		}
		srv := httptest.NewServer(h) // 127.0.0.1, a real net/http server
		b.Cleanup(srv.Close)
		tr := &http.Transport{MaxIdleConns: clients, MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
		b.Cleanup(tr.CloseIdleConnections)
		hc := &http.Client{Transport: tr}
		post = func(client int, key string) error {
			body := `{"amount":1,"currency":"USD","entry_type":"credit","reason":"bench","idempotency_key":"` + key + `"}`
			req, err := http.NewRequest("POST", srv.URL+"/customers/"+ids[client]+"/wallets/ledger-entries", bytes.NewReader([]byte(body)))
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+opKey)
			req.Header.Set("Content-Type", "application/json")
			res, err := hc.Do(req)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, res.Body) // read to the end: the connection is reused
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				return fmt.Errorf("status %d", res.StatusCode)
			}
			return nil
		}
	} else {
		post = func(client int, key string) error {
			_, err := eng.CreateEntry(ctx, ids[client], coffer.EntryParams{Amount: 1, Currency: "USD",
				Type: ledger.Credit, Reason: "bench", IdempotencyKey: key})
			return err
		}
	}
	// Warm up (connections, pages) outside the timing.
	for i := range clients {
		if err := post(i, "warm_"+strconv.Itoa(i)); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	var failed atomic.Pointer[error]
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := next.Add(1)
				if n > int64(b.N) || failed.Load() != nil {
					return
				}
				if err := post(c, "k_"+strconv.FormatInt(n, 10)); err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if p := failed.Load(); p != nil {
		b.Fatal(*p)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}
