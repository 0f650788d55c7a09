package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cofferhq/coffer/store/postgres"
)

// The measured paths.
const (
	pathEntry  = "entry"
	pathCharge = "charge"
	// pathMixed has no raw substrate: it measures coffer alone.
	pathMixed = "mixed"
	// pathHTTP is CreateEntry through the HTTP API; its raw side is
	// Engine.CreateEntry (http.go).
	pathHTTP = "http"
)

// cell is one row of the table.
type cell struct {
	path    string
	store   string
	writers int
	wallets int
}

func (c cell) String() string {
	return fmt.Sprintf("path=%s store=%s writers=%d wallets=%d", c.path, c.store, c.writers, c.wallets)
}

// row is a measured cell: operations per second of each contender (raw 0
// when the store has no substrate or it failed) and what went wrong.
type row struct {
	cell
	coffer, raw float64
	note        string
}

// contender runs one kind of operation against its own seeded storage.
type contender interface {
	// op performs one operation on a wallet it picks.
	op(ctx context.Context) error
	// close releases the storage (and drops a PostgreSQL schema).
	close() error
}

// setupTimeout bounds the setup of one cell's contenders.
const setupTimeout = 3 * time.Minute

// errHung reports writers that did not return within the cell's bound.
var errHung = errors.New("writers did not finish in time (abandoned)")

// runCell seeds both contenders, runs them in alternating rounds and
// returns their throughput. Failures are recorded in the row, not fatal, so
// one bad cell does not lose the table.
func runCell(ctx context.Context, cfg config, c cell, dir string, pg *pgEnv, sizes map[string]recordSizes) row {
	r := row{cell: c}
	var notes []string
	// Setup (opening, migrating, seeding) is bounded too.
	setup, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	cc := c
	if c.path == pathHTTP {
		cc.path = pathEntry // the same seeded wallets and operation
	}
	cof, err := newCofferContender(setup, cfg, cc, dir, pg)
	if err != nil {
		r.note = "coffer setup: " + err.Error()
		return r
	}
	var first contender = cof
	var raw contender
	switch {
	case c.path == pathHTTP:
		var hc *httpContender
		if hc, err = newHTTPContender(cof, c.writers); err != nil {
			cof.close()
			r.note = "http setup: " + err.Error()
			return r
		}
		first = hc
		raw, err = newCofferContender(setup, cfg, cc, dir, pg)
		notes = append(notes, "raw = Engine.CreateEntry on its own store")
	case c.path == pathMixed:
	case c.store == "bolt":
		raw, err = newRawBolt(c, dir, sizes[c.path])
	case c.store == "postgres":
		raw, err = newRawPg(setup, c, pg)
	}
	if err != nil {
		notes = append(notes, "raw setup: "+err.Error())
		raw = nil
	}
	type tally struct {
		ops     int64
		elapsed time.Duration
		err     error
	}
	var tallies [2]tally
	contenders := [2]contender{first, raw}
	per := cfg.duration / time.Duration(cfg.rounds)
	for round := 0; round < cfg.rounds; round++ {
		for k := 0; k < 2; k++ {
			j := (round + k) % 2 // alternate which contender goes first
			if contenders[j] == nil || tallies[j].err != nil {
				continue
			}
			ops, elapsed, err := measure(ctx, c.writers, per, contenders[j].op)
			tallies[j].ops += ops
			tallies[j].elapsed += elapsed
			tallies[j].err = err
		}
	}
	names := [2]string{"coffer", "raw"}
	for j, t := range tallies {
		if contenders[j] == nil {
			continue
		}
		if t.err != nil {
			notes = append(notes, names[j]+": "+t.err.Error())
		}
		if t.elapsed > 0 && t.err == nil {
			v := float64(t.ops) / t.elapsed.Seconds()
			if j == 0 {
				r.coffer = v
			} else {
				r.raw = v
			}
		}
		if errors.Is(t.err, errHung) {
			continue // its storage may still be in use: leak it rather than hang in close
		}
		if err := contenders[j].close(); err != nil {
			notes = append(notes, names[j]+" close: "+err.Error())
		}
	}
	if st, ok := cof.st.(*postgres.Store); ok {
		// The share of transactions PostgreSQL made run again.
		s := st.Stats()
		notes = append(notes, fmt.Sprintf("%d retries in %d transactions (%d deadlocks)", s.Retries,
			s.Transactions, s.Deadlocks))
	}
	for i, n := range notes {
		if i > 0 {
			r.note += "; "
		}
		r.note += n
	}
	return r
}

// measure runs op on writers goroutines until d has passed and returns how
// many operations completed and the time until the last one returned. It
// is bounded: the operations' context expires a grace period after d, and
// writers still running well after that are abandoned with errHung.
func measure(parent context.Context, writers int, d time.Duration, op func(ctx context.Context) error) (int64, time.Duration, error) {
	grace := 30*time.Second + 5*d
	ctx, cancel := context.WithTimeout(parent, d+grace)
	defer cancel()
	var (
		total atomic.Int64
		first atomic.Pointer[error]
		wg    sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if err := op(ctx); err != nil {
					if first.CompareAndSwap(nil, &err) {
						cancel()
					}
					return
				}
				total.Add(1)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d + grace + 10*time.Second):
		return total.Load(), time.Since(start), errHung
	}
	elapsed := time.Since(start)
	if err := first.Load(); err != nil {
		return total.Load(), elapsed, *err
	}
	if err := parent.Err(); err != nil {
		return total.Load(), elapsed, err
	}
	return total.Load(), elapsed, nil
}

// pick chooses the wallet an operation works on: always the one hot wallet,
// or a uniformly random one of the spread.
func pick(n int) int {
	if n <= 1 {
		return 0
	}
	return rand.IntN(n)
}
