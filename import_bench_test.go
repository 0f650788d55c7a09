package coffer

import (
	"context"
	"fmt"
	"iter"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/bolt"
)

// TestImportThroughput measures ImportCustomers (issue 13 item 6); it is
// not part of the normal run:
//
//	COFFER_IMPORT_BENCH=1000000 go test -run TestImportThroughput -v -timeout 1h .
//	COFFER_IMPORT_BENCH=100000 COFFER_IMPORT_STORE=postgres go test -run TestImportThroughput -v .
//	COFFER_IMPORT_BENCH=100000 COFFER_IMPORT_OLD=1 go test -run TestImportThroughput -v .
//
// Every row is a customer (name, email, did) with a USD opening balance.
// COFFER_IMPORT_BATCH sets the batch size; COFFER_IMPORT_OLD=1 also runs
// the old way on a fresh store: CreateCustomer then CreateEntry per row,
// from 32 goroutines (so bbolt's group commit shares the fsyncs).
func TestImportThroughput(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("COFFER_IMPORT_BENCH"))
	if n == 0 {
		t.Skip("set COFFER_IMPORT_BENCH=rows to measure ImportCustomers")
	}
	batch, _ := strconv.Atoi(os.Getenv("COFFER_IMPORT_BATCH"))
	kind := os.Getenv("COFFER_IMPORT_STORE")
	if kind == "" {
		kind = "bolt"
	}
	newStore := func(t *testing.T) store.Store {
		if kind == "bolt" {
			// Not storeKinds["bolt"]: report the file size too.
			s, err := bolt.Open(filepath.Join(t.TempDir(), "import.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
		return storeKinds[kind](t)
	}
	ctx := context.Background()
	eng := func(s store.Store) *Engine {
		e, err := New(s, WithoutProcessor(), WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	size := func(s store.Store) string {
		if b, ok := s.(*bolt.Store); ok {
			if st, err := os.Stat(b.Path()); err == nil {
				return fmt.Sprintf(", file %d MB", st.Size()>>20)
			}
		}
		return ""
	}

	s := newStore(t)
	e := eng(s)
	start := time.Now()
	rep, err := e.ImportCustomers(ctx, ImportParams{BatchSize: batch}, benchRows(n))
	if err != nil {
		t.Fatal(err)
	}
	d := time.Since(start)
	if rep.Imported != n || rep.Entries != n {
		t.Fatalf("report %+v", withoutErrors(rep))
	}
	t.Logf("ImportCustomers on %s: %d rows in %s = %.0f rows/s (batch %d, %d batches%s)", kind, n, d.Round(time.Millisecond),
		float64(n)/d.Seconds(), max(batch, DefaultImportBatch*boolInt(batch == 0)), rep.Batches, size(s))
	start = time.Now()
	again, err := e.ImportCustomers(ctx, ImportParams{BatchSize: batch}, benchRows(n))
	if err != nil || again.Existing != n {
		t.Fatalf("re-run: %v %+v", err, withoutErrors(again))
	}
	t.Logf("re-run (every row already imported): %s", time.Since(start).Round(time.Millisecond))

	if os.Getenv("COFFER_IMPORT_OLD") == "" {
		return
	}
	s2 := newStore(t)
	e2 := eng(s2)
	start = time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	rows := make([]ImportRow, 0, n)
	for r := range benchRows(n) {
		rows = append(rows, r)
	}
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				r := rows[i]
				c, err := e2.CreateCustomer(ctx, r.Customer)
				if err != nil {
					t.Error(err)
					return
				}
				ob := r.Balances[0]
				if _, err := e2.CreateEntry(ctx, c.ID, EntryParams{Amount: ob.Amount, Currency: ob.Currency, Type: "credit",
					Reason: OpeningBalanceReason, IdempotencyKey: OpeningBalanceKeyPrefix + ob.Currency}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	d = time.Since(start)
	t.Logf("old way (CreateCustomer + CreateEntry, 32 goroutines) on %s: %d rows in %s = %.0f rows/s%s", kind, n,
		d.Round(time.Millisecond), float64(n)/d.Seconds(), size(s2))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func benchRows(n int) iter.Seq2[ImportRow, error] {
	return func(yield func(ImportRow, error) bool) {
		for i := range n {
			r := ImportRow{Customer: customer.Params{Name: new(fmt.Sprint("Customer ", i)),
				Email: new(fmt.Sprintf("user%d@example.com", i)), DID: new(fmt.Sprintf("ext-%09d", i))},
				Balances: []OpeningBalance{{Currency: "USD", Amount: int64(100 + i%10000)}}}
			if !yield(r, nil) {
				return
			}
		}
	}
}
