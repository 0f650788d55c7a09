package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store/postgres"
	"github.com/cofferhq/coffer/subscription"
)

// TestProfileCharge profiles the charge path (issue 13): Engine.Charge on
// the processor path next to the hand-written pgx transactions of
// cofferbench (the same SQL, copied), alternating in rounds, and reports
// per charge: wall time, the client's CPU (this process), the server's CPU
// (the backends of each contender's pool, read from /proc by their pids)
// and what the backends wait on (pg_stat_activity sampled every
// millisecond while the contender runs). It is a measurement, not a check:
// it runs only with COFFER_PROFILE_CHARGE=writers (e.g. 1 or 64), and
// COFFER_PROFILE_WALLETS (default 1) wallets.
//
//	COFFER_POSTGRES_DSN=... COFFER_PROFILE_CHARGE=64 COFFER_PROFILE_WALLETS=1 \
//	  go test -count=1 -run TestProfileCharge -v ./store/postgres/
func TestProfileCharge(t *testing.T) {
	writers, _ := strconv.Atoi(os.Getenv("COFFER_PROFILE_CHARGE"))
	if writers <= 0 {
		t.Skip("COFFER_PROFILE_CHARGE unset")
	}
	wallets := 1
	if s := os.Getenv("COFFER_PROFILE_WALLETS"); s != "" {
		wallets, _ = strconv.Atoi(s)
	}
	dur := 3 * time.Second
	if s := os.Getenv("COFFER_PROFILE_DURATION"); s != "" {
		dur, _ = time.ParseDuration(s)
	}
	d := dsn(t)
	const conns = 32
	appC, appR := fmt.Sprintf("pgperf-c-%d", os.Getpid()), fmt.Sprintf("pgperf-r-%d", os.Getpid())
	s := openIn(t, d, newSchema(t, d), postgres.WithMaxConns(conns), postgres.WithPoolConfig(func(c *pgxpool.Config) {
		c.ConnConfig.RuntimeParams["application_name"] = appC
	}))
	if os.Getenv("COFFER_PROFILE_NOLOCK") != "" {
		postgres.WithoutCustomerLocks(s)
	}
	if os.Getenv("COFFER_PROFILE_ROWLOCK") != "" {
		postgres.WithCustomerRowLocks(s)
	}
	eng, err := coffer.New(s, coffer.WithProcessor(processor.NewTest(nil)))
	require.NoError(t, err)
	prod, err := eng.CreateProduct(ctx, coffer.ProductParams{Name: "p", Price: 1_00, Currency: "USD"})
	require.NoError(t, err)
	subs := make([]string, wallets)
	for i := range subs {
		c, err := eng.CreateCustomer(ctx, customer.Params{Name: new("bench")})
		require.NoError(t, err)
		res, err := eng.CreateSubscription(ctx, coffer.SubscriptionParams{ProductID: prod.ID, Quantity: 1, CustomerID: c.ID,
			PaymentMethod: processor.CardOK, OnDemand: &coffer.OnDemand{MandateOnly: new(true)}})
		require.NoError(t, err)
		subs[i] = res.Subscription.ID
	}
	raw := newRawCharge(t, d, appR, conns, wallets)
	var keys atomic.Int64
	cofferOp := func() error {
		p, err := eng.Charge(ctx, subs[rand.IntN(len(subs))], coffer.ChargeParams{ProductPrice: new(int64(1_00)),
			IdempotencyKey: fmt.Sprint("k", keys.Add(1))})
		if err == nil && p.Status != subscription.PaymentSucceeded {
			err = fmt.Errorf("charge %s", p.Status)
		}
		return err
	}
	admin, err := pgx.Connect(ctx, d)
	require.NoError(t, err)
	defer admin.Close(ctx)
	type tally struct {
		ops        int64
		wall       time.Duration
		client     time.Duration
		server     time.Duration
		samples    int
		waits      map[string]int
		roundTrips int64
	}
	tallies := map[string]*tally{"coffer": {waits: map[string]int{}}, "raw": {waits: map[string]int{}}}
	run := func(name, app string, op func() error) {
		tl := tallies[name]
		// Warm every connection of the pool first.
		runFor(t, writers, 300*time.Millisecond, op)
		pids := backendPids(t, admin, app)
		srv0, cli0, rt0 := procCPU(pids), selfCPU(), s.Stats().RoundTrips
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc, err := pgx.Connect(ctx, d)
			if err != nil {
				return
			}
			defer sc.Close(ctx)
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Millisecond):
				}
				rows, err := sc.Query(ctx, `SELECT coalesce(wait_event_type, 'CPU') || ':' || coalesce(wait_event, state) FROM pg_stat_activity
					WHERE application_name = $1 AND state <> 'idle'`, app)
				if err != nil {
					return
				}
				for rows.Next() {
					var w string
					_ = rows.Scan(&w)
					tl.waits[w]++
				}
				rows.Close()
				tl.samples++
			}
		}()
		t0 := time.Now()
		n := runFor(t, writers, dur, op)
		tl.wall += time.Since(t0)
		close(stop)
		wg.Wait()
		tl.ops += n
		tl.server += procCPU(pids) - srv0
		tl.client += selfCPU() - cli0
		if name == "coffer" {
			tl.roundTrips += s.Stats().RoundTrips - rt0
		}
	}
	for round := range 2 {
		if round%2 == 0 {
			run("coffer", appC, cofferOp)
			run("raw", appR, raw.op)
		} else {
			run("raw", appR, raw.op)
			run("coffer", appC, cofferOp)
		}
	}
	la, _ := os.ReadFile("/proc/loadavg")
	t.Logf("writers %d, wallets %d, %v per contender, load %s", writers, wallets, 2*dur, strings.TrimSpace(string(la)))
	for _, name := range []string{"coffer", "raw"} {
		tl := tallies[name]
		per := func(x time.Duration) string {
			return fmt.Sprintf("%.0f µs", float64(x.Microseconds())/float64(tl.ops))
		}
		t.Logf("%-6s %6.0f charges/s; per charge: client CPU %s, server CPU %s (backends of its pool), wall %s",
			name, float64(tl.ops)/tl.wall.Seconds(), per(tl.client), per(tl.server), per(tl.wall))
		type kv struct {
			k string
			v int
		}
		var ws []kv
		total := 0
		for k, v := range tl.waits {
			ws = append(ws, kv{k, v})
			total += v
		}
		sort.Slice(ws, func(i, j int) bool { return ws[i].v > ws[j].v })
		var parts []string
		for _, w := range ws {
			if len(parts) == 8 {
				break
			}
			parts = append(parts, fmt.Sprintf("%s %.1f", w.k, float64(w.v)/float64(tl.samples)))
		}
		t.Logf("       busy backends per sample (%d samples, mean %.1f): %s", tl.samples, float64(total)/float64(tl.samples),
			strings.Join(parts, ", "))
		if tl.roundTrips > 0 {
			t.Logf("       round trips per charge %.2f", float64(tl.roundTrips)/float64(tl.ops))
		}
	}
}

// runFor runs op on writers goroutines for d and returns how many ran.
func runFor(t *testing.T, writers int, d time.Duration, op func() error) int64 {
	var n atomic.Int64
	var first atomic.Value
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				if err := op(); err != nil {
					first.CompareAndSwap(nil, err)
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	if err, _ := first.Load().(error); err != nil {
		t.Fatal(err)
	}
	return n.Load()
}

func backendPids(t *testing.T, admin *pgx.Conn, app string) []int {
	rows, err := admin.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, app)
	require.NoError(t, err)
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int])
	require.NoError(t, err)
	return pids
}

// procCPU sums utime+stime of the processes (clock ticks of 10 ms).
func procCPU(pids []int) time.Duration {
	var ticks int64
	for _, p := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + s
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rawCharge is cofferbench's hand-written pgx charge (cmd/cofferbench
// rawpg.go), copied.
type rawCharge struct {
	pool *pgxpool.Pool
	subs []string
	proc *processor.Test
	keys atomic.Int64
}

func newRawCharge(t *testing.T, d, app string, conns int32, n int) *rawCharge {
	schema := newSchema(t, d)
	st := openIn(t, d, schema, postgres.WithMaxConns(2))
	require.NoError(t, st.Close())
	pc, err := pgxpool.ParseConfig(d)
	require.NoError(t, err)
	pc.ConnConfig.RuntimeParams["search_path"] = schema
	pc.ConnConfig.RuntimeParams["application_name"] = app
	pc.MaxConns = conns
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	for _, q := range []string{
		`INSERT INTO customers (id, name, created_at, updated_at)
			SELECT 'cus_' || md5(g::text), 'bench ' || g, now(), now() FROM generate_series(1, ` + strconv.Itoa(n) + `) g`,
		`INSERT INTO wallet_balances (customer_id, currency, amount, updated_at)
			SELECT id, cur, 0, now() FROM customers, unnest(ARRAY['INR', 'USD']) cur`,
		`INSERT INTO products (id, name, price, currency, created_at) VALUES ('prod_bench', 'bench', 100, 'USD', now())`,
		`INSERT INTO subscriptions (id, customer_id, product_id, quantity, status, payment_method, mandate_id,
				mandate_authorized_at, price, currency, description, mandate_only, created_at, updated_at)
			SELECT 'sub_' || md5(id), id, 'prod_bench', 1, 'active', 'pm_card_ok', 'mdt_' || md5(id),
				now(), 100, 'USD', 'bench', true, now(), now() FROM customers`,
	} {
		_, err := pool.Exec(ctx, q)
		require.NoError(t, err)
	}
	rows, err := pool.Query(ctx, `SELECT id FROM subscriptions`)
	require.NoError(t, err)
	subs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return &rawCharge{pool: pool, subs: subs, proc: processor.NewTest(nil)}
}

func rawID(prefix string) string {
	u := uuid.New()
	return prefix + "_" + strings.ReplaceAll(u.String(), "-", "")
}

func (rp *rawCharge) op() error {
	subID := rp.subs[rand.IntN(len(rp.subs))]
	now := time.Now().UTC()
	pay := subscription.Payment{ID: rawID("pay"), SubscriptionID: subID, Kind: subscription.KindSubscription,
		Amount: 100, Currency: "USD", Status: subscription.PaymentPending, IdempotencyKey: fmt.Sprintf("bench-%d", rp.keys.Add(1)),
		Description: "bench", CreatedAt: now, UpdatedAt: now}
	var mandate string
	err := pgx.BeginFunc(ctx, rp.pool, func(tx pgx.Tx) error {
		var status string
		err := tx.QueryRow(ctx, `SELECT customer_id, status, payment_method, mandate_id FROM subscriptions
			WHERE id = $1 FOR UPDATE`, subID).Scan(&pay.CustomerID, &status, &pay.PaymentMethod, &mandate)
		if err != nil {
			return err
		}
		var amount, held int64
		err = tx.QueryRow(ctx, `SELECT amount, held FROM wallet_balances
			WHERE customer_id = $1 AND currency = $2 FOR UPDATE`, pay.CustomerID, pay.Currency).Scan(&amount, &held)
		if err != nil {
			return err
		}
		if amount-held > 0 {
			return errors.New("raw pgx: the wallets are meant to be empty")
		}
		pay.ProcessorAmount = pay.Amount
		_, err = tx.Exec(ctx, `INSERT INTO payments (id, customer_id, subscription_id, kind, amount, currency,
			wallet_amount, processor_amount, status, payment_method, idempotency_key, description, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
			pay.ID, pay.CustomerID, pay.SubscriptionID, string(pay.Kind), pay.Amount, pay.Currency, pay.WalletAmount,
			pay.ProcessorAmount, string(pay.Status), pay.PaymentMethod, pay.IdempotencyKey, pay.Description, now, now)
		return err
	})
	if err != nil {
		return err
	}
	ch, err := rp.proc.Charge(ctx, processor.ChargeRequest{IdempotencyKey: pay.ID, MandateID: mandate,
		PaymentMethod: pay.PaymentMethod, Amount: pay.ProcessorAmount, Currency: pay.Currency, Description: pay.Description})
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, rp.pool, func(tx pgx.Tx) error {
		var status string
		if err := tx.QueryRow(ctx, `SELECT status FROM payments WHERE id = $1 FOR UPDATE`, pay.ID).Scan(&status); err != nil {
			return err
		}
		done := time.Now().UTC()
		pay.Status, pay.ProcessorID, pay.UpdatedAt = subscription.PaymentSucceeded, ch.ID, done
		if _, err := tx.Exec(ctx, `UPDATE payments SET status = $2, processor_id = $3, updated_at = $4 WHERE id = $1`,
			pay.ID, string(pay.Status), pay.ProcessorID, done); err != nil {
			return err
		}
		data, err := json.Marshal(pay)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO events (id, type, customer_id, data, created_at) VALUES ($1, $2, $3, $4, $5)`,
			rawID("evt"), "payment.succeeded", pay.CustomerID, data, done); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE subscriptions SET last_payment_at = $2, updated_at = $2 WHERE id = $1`, subID, done)
		return err
	})
}

var _ = context.Background
