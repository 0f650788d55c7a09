package bolt

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	"golang.org/x/sys/unix"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/wallet"
	"github.com/cofferhq/coffer/webhook"
)

// The open-time measurement (issue 13 item 5). It is not part of the normal
// test run; run it with
//
//	COFFER_OPEN_BENCH=1,10 go test ./store/bolt -run TestOpenTime -v -timeout 3h
//
// COFFER_OPEN_BENCH lists file sizes in GB. For each size it builds a store
// file (customers, two balances, an opening-balance entry and two events
// per customer, 5,000 customers per transaction, written with the freelist
// unsynced as files were before WithFreelistSync existed), then, in fresh
// subprocesses so RSS is the open's own:
//
//   - opens it with the freelist off (as before), warm and cold (the file's
//     pages dropped from the page cache with posix_fadvise), and measures
//     durable ledger postings per second, 1 writer and 32 writers;
//   - opens it once with the freelist on (the one-time rebuild and write),
//     then again warm and cold, with the map and the array freelist, and
//     measures the same postings.
//
// COFFER_OPEN_DIR is where the files go (default the test's temp dir,
// removed afterwards); COFFER_OPEN_KEEP=1 keeps them for a re-run.

func TestOpenTime(t *testing.T) {
	spec := os.Getenv("COFFER_OPEN_BENCH")
	if spec == "" {
		t.Skip("set COFFER_OPEN_BENCH=1,10 (sizes in GB) to measure bbolt open time")
	}
	dir := os.Getenv("COFFER_OPEN_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	for _, f := range strings.Split(spec, ",") {
		gb, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, fmt.Sprintf("open-%sgb.db", f))
		n := buildOpenFixture(t, path, int64(gb*(1<<30)))
		measureOpen(t, path, n)
		if os.Getenv("COFFER_OPEN_KEEP") == "" {
			_ = os.Remove(path)
		}
	}
}

// fixtureCustomer is the id of the i-th fixture customer: random-looking,
// as the engine's ids are, and the same in every process.
func fixtureCustomer(i int) string {
	r := rand.New(rand.NewPCG(uint64(i), 0x636f66666572))
	return fmt.Sprintf("cus_%016x%016x", r.Uint64(), r.Uint64())
}

const fixtureBatch = 5000

// buildOpenFixture fills path until it holds size bytes (or reuses a file
// already there) and returns how many customers it holds.
func buildOpenFixture(t *testing.T, path string, size int64) int {
	if n, err := fixtureCount(path); err == nil && n > 0 {
		t.Logf("%s: reusing, %d customers", path, n)
		return n
	}
	s, err := Open(path, WithFreelistSync(false))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	now := time.Now().UTC().Truncate(time.Microsecond)
	n := 0
	for {
		err := s.Update(context.Background(), func(tx store.Tx) error {
			for i := n; i < n+fixtureBatch; i++ {
				if err := fixtureRow(tx, i, now); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		n += fixtureBatch
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if n%100000 == 0 {
			t.Logf("fixture: %d customers, %d MB, %s", n, st.Size()>>20, time.Since(start).Round(time.Second))
		}
		if st.Size() >= size {
			break
		}
	}
	err = s.Update(context.Background(), func(stx store.Tx) error {
		return stx.(*tx).btx.Bucket(bMeta).Put([]byte("fixture.count"), binary.BigEndian.AppendUint64(nil, uint64(n)))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	t.Logf("fixture %s: %d customers, %d MB, built in %s", path, n, st.Size()>>20, time.Since(start).Round(time.Second))
	return n
}

func fixtureCount(path string) (int, error) {
	if _, err := os.Stat(path); err != nil {
		return 0, err
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int
	err = db.View(func(btx *bbolt.Tx) error {
		b := btx.Bucket(bMeta)
		if b == nil {
			return fmt.Errorf("no meta")
		}
		v := b.Get([]byte("fixture.count"))
		if len(v) != 8 {
			return fmt.Errorf("no count")
		}
		n = int(binary.BigEndian.Uint64(v))
		return nil
	})
	return n, err
}

// fixtureRow writes what importing one customer with an opening balance
// writes: the customer, its USD and INR balances, the entry, and the
// customer.created and wallet.balance_changed events.
func fixtureRow(tx store.Tx, i int, now time.Time) error {
	id := fixtureCustomer(i)
	c := customer.Customer{ID: id, Name: fmt.Sprintf("Customer %d", i), Email: fmt.Sprintf("user%d@example.com", i),
		DID: fmt.Sprintf("ext-%09d", i), CreatedAt: now, UpdatedAt: now}
	if err := tx.InsertCustomer(c); err != nil {
		return err
	}
	for _, cur := range []string{"INR", "USD"} {
		if err := tx.PutBalance(wallet.Balance{CustomerID: id, Currency: cur, UpdatedAt: now}); err != nil {
			return err
		}
	}
	cj, _ := json.Marshal(c)
	if err := tx.InsertEvent(webhook.Event{ID: randomID("evt"), Type: "customer.created", CustomerID: id, Data: cj, CreatedAt: now}); err != nil {
		return err
	}
	return posting(tx, id, newPostingIDs(), now)
}

// openResult is what a child process reports.
type openResult struct {
	Mode      string  `json:"mode"`
	OpenMS    float64 `json:"open_ms"`
	RSSMB     float64 `json:"rss_mb"`
	Single    float64 `json:"single_per_s,omitempty"`
	Parallel  float64 `json:"parallel_per_s,omitempty"`
	FreePages int     `json:"free_pages,omitempty"`
}

func measureOpen(t *testing.T, path string, n int) {
	st, _ := os.Stat(path)
	t.Logf("== %s: %d MB, %d customers", filepath.Base(path), st.Size()>>20, n)
	run := func(mode, what string, cold bool) openResult {
		if cold {
			dropCache(t, path)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestOpenTimeChild$", "-test.v")
		cmd.Env = append(os.Environ(), "COFFER_OPEN_CHILD="+path, "COFFER_OPEN_MODE="+mode, "COFFER_OPEN_WHAT="+what,
			"COFFER_OPEN_N="+strconv.Itoa(n))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child %s %s: %v\n%s", mode, what, err, out)
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "RESULT "); ok {
				var r openResult
				if err := json.Unmarshal([]byte(rest), &r); err != nil {
					t.Fatal(err)
				}
				return r
			}
		}
		t.Fatalf("child %s %s: no result\n%s", mode, what, out)
		return openResult{}
	}
	median := func(mode string, cold bool) openResult {
		var rs []openResult
		for range 3 {
			rs = append(rs, run(mode, "open", cold))
		}
		sort.Slice(rs, func(i, j int) bool { return rs[i].OpenMS < rs[j].OpenMS })
		return rs[1]
	}
	type row struct {
		name       string
		warm, cold openResult
		commits    openResult
	}
	var rows []row
	// Freelist off, as files are written today.
	off := row{name: "NoFreelistSync (before)"}
	off.warm, off.cold = median("off", false), median("off", true)
	off.commits = run("off", "commits", false)
	rows = append(rows, off)
	// The first open with the freelist on rebuilds it once and writes it.
	first := run("map", "open", false)
	t.Logf("first open with the freelist synced (one-time rebuild + write): %.1f ms, RSS %.0f MB", first.OpenMS, first.RSSMB)
	for _, mode := range []string{"map", "array"} {
		r := row{name: "FreelistSync, " + mode}
		r.warm, r.cold = median(mode, false), median(mode, true)
		r.commits = run(mode, "commits", false)
		rows = append(rows, r)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%s, %d MB, %d customers\n", filepath.Base(path), st.Size()>>20, n)
	b.WriteString("| freelist | open warm (ms) | RSS after warm open (MB) | open cold (ms) | RSS after cold open (MB) | postings/s, 1 writer | postings/s, 32 writers |\n|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %.1f | %.0f | %.1f | %.0f | %.0f | %.0f |\n", r.name, r.warm.OpenMS, r.warm.RSSMB,
			r.cold.OpenMS, r.cold.RSSMB, r.commits.Single, r.commits.Parallel)
	}
	fmt.Fprintf(&b, "first open with FreelistSync after NoFreelistSync: %.1f ms (rebuild + write, once); free pages in the synced freelist: %d\n",
		first.OpenMS, rows[1].commits.FreePages)
	t.Log(b.String())
}

// dropCache evicts path's pages from the page cache (only this file's).
func dropCache(t *testing.T, path string) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
}

// TestOpenTimeChild is the subprocess of TestOpenTime.
func TestOpenTimeChild(t *testing.T) {
	path := os.Getenv("COFFER_OPEN_CHILD")
	if path == "" {
		t.Skip("run by TestOpenTime")
	}
	mode, what := os.Getenv("COFFER_OPEN_MODE"), os.Getenv("COFFER_OPEN_WHAT")
	n, _ := strconv.Atoi(os.Getenv("COFFER_OPEN_N"))
	opts := []Option{WithFreelistSync(mode != "off")}
	if mode == "array" {
		opts = append(opts, WithFreelistArray())
	}
	start := time.Now()
	s, err := Open(path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	res := openResult{Mode: mode, OpenMS: float64(time.Since(start).Microseconds()) / 1000, RSSMB: vmRSS()}
	if what == "commits" {
		res.Single = postingsPerSecond(t, s, n, 1, 5*time.Second)
		res.Parallel = postingsPerSecond(t, s, n, 32, 5*time.Second)
		if mode != "off" {
			res.FreePages = freePages(t, s)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(res)
	fmt.Printf("RESULT %s\n", out)
}

// freePages is the number of free pages bbolt tracks.
func freePages(t *testing.T, s *Store) int {
	path := s.Path()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, PreLoadFreelist: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return db.Stats().FreePageN
}

// postingsPerSecond runs durable ledger postings on random fixture
// customers for d with writers goroutines.
func postingsPerSecond(t *testing.T, s *Store, n, writers int, d time.Duration) float64 {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	var done atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	start := time.Now()
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				cust, ids := fixtureCustomer(rand.IntN(n)), newPostingIDs()
				if err := s.Update(ctx, func(tx store.Tx) error { return posting(tx, cust, ids, now) }); err != nil {
					t.Error(err)
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(done.Load()) / time.Since(start).Seconds()
}

// vmRSS is this process's resident set size in MB.
func vmRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}
