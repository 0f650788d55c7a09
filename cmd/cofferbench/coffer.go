package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/bolt"
	"github.com/cofferhq/coffer/store/memory"
	"github.com/cofferhq/coffer/store/postgres"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
)

// newID is shaped like the engine's ids: prefix_ and 32 random hex digits.
func newID(prefix string) string {
	u := uuid.New()
	return prefix + "_" + hex.EncodeToString(u[:])
}

// chargeAmount is what every benchmark charge asks for, in cents.
const chargeAmount = 100

// cellSeq numbers the files and schemas of one run.
var cellSeq atomic.Int64

// cofferContender drives an Engine.
type cofferContender struct {
	path  string
	eng   *coffer.Engine
	st    store.Store
	ids   []string // customers (entry) or subscriptions (charge, mixed)
	custs []string // mixed: the customer of each subscription in ids
	keys  atomic.Int64
	after func() error // drops the schema
	mixed mixedPaid
}

// mixedPaid keeps, per wallet, the last payments a refund may pick.
type mixedPaid struct {
	mu   sync.Mutex
	paid map[int][]string
}

func (m *mixedPaid) add(w int, id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.paid == nil {
		m.paid = map[int][]string{}
	}
	l := append(m.paid[w], id)
	if len(l) > 16 {
		l = l[1:]
	}
	m.paid[w] = l
}

func (m *mixedPaid) pick(w int) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.paid[w]
	if len(l) == 0 {
		return ""
	}
	return l[rand.IntN(len(l))]
}

func newCofferContender(ctx context.Context, cfg config, c cell, dir string, pg *pgEnv) (*cofferContender, error) {
	var (
		st    store.Store
		after func() error
		err   error
	)
	switch c.store {
	case "memory":
		st = memory.New()
	case "bolt":
		// Durable defaults: every Update is fsynced before it returns.
		file := filepath.Join(dir, fmt.Sprintf("coffer-%d.db", cellSeq.Add(1)))
		after = func() error { return os.Remove(file) }
		st, err = bolt.Open(file)
	case "postgres":
		schema := pg.newSchema()
		after = func() error { return pg.dropSchema(schema) }
		st, err = postgres.Open(ctx, pg.dsn, postgres.WithSchema(schema), postgres.WithMaxConns(int32(cfg.pgConns)))
		if err != nil {
			_ = after()
		}
	}
	if err != nil {
		return nil, err
	}
	eng, err := coffer.New(st, coffer.WithProcessor(processor.NewTest(nil)))
	if err != nil {
		st.Close()
		return nil, err
	}
	cc := &cofferContender{path: c.path, eng: eng, st: st, after: after}
	if cc.ids, cc.custs, err = seed(ctx, st, c.path, c.wallets); err != nil {
		cc.close()
		return nil, fmt.Errorf("seeding: %w", err)
	}
	return cc, nil
}

func (cc *cofferContender) op(ctx context.Context) error {
	w := pick(len(cc.ids))
	id := cc.ids[w]
	key := fmt.Sprintf("bench-%d", cc.keys.Add(1))
	if cc.path == pathMixed {
		return cc.mixedOp(ctx, w, key)
	}
	if cc.path == pathEntry {
		_, err := cc.eng.CreateEntry(ctx, id, coffer.EntryParams{Amount: 1, Currency: "USD", Type: ledger.Credit,
			Reason: "bench", IdempotencyKey: key})
		return err
	}
	p, err := cc.eng.Charge(ctx, id, coffer.ChargeParams{ProductPrice: new(int64(chargeAmount)), IdempotencyKey: key})
	if err != nil {
		return err
	}
	if p.Status != subscription.PaymentSucceeded || p.ProcessorAmount != chargeAmount {
		return fmt.Errorf("charge %s: %s, %d to the processor", p.ID, p.Status, p.ProcessorAmount)
	}
	return nil
}

// mixedOp is one operation of the mixed path on wallet w. A refusal the
// engine classifies (HTTPStatus not 500) is an operation done.
func (cc *cofferContender) mixedOp(ctx context.Context, w int, key string) error {
	var err error
	switch n := rand.IntN(100); {
	case n < 35:
		var p subscription.Payment
		p, err = cc.eng.Charge(ctx, cc.ids[w], coffer.ChargeParams{ProductPrice: new(int64(50 + rand.Int64N(350))),
			IdempotencyKey: key})
		if err == nil && p.Status != subscription.PaymentSucceeded {
			return fmt.Errorf("charge %s: %s", p.ID, p.Status)
		}
		if err == nil {
			cc.mixed.add(w, p.ID)
		}
	case n < 60:
		pay := cc.mixed.pick(w)
		if pay == "" {
			return nil
		}
		dest := subscription.ToPaymentMethod
		if rand.IntN(2) == 0 {
			dest = subscription.ToWallet
		}
		_, err = cc.eng.Refund(ctx, pay, coffer.RefundParams{Amount: rand.Int64N(120), Destination: dest,
			Reason: "bench", IdempotencyKey: key})
	default:
		req := coffer.EntryParams{Amount: 1 + rand.Int64N(300), Currency: "USD", Type: ledger.Credit, Reason: "bench",
			IdempotencyKey: key}
		if rand.IntN(5) < 2 {
			req.Type = ledger.Debit
		}
		_, err = cc.eng.CreateEntry(ctx, cc.custs[w], req)
	}
	if err != nil && coffer.HTTPStatus(err) != http.StatusInternalServerError {
		return nil
	}
	return err
}

func (cc *cofferContender) close() error {
	err := cc.st.Close()
	if cc.after != nil {
		if derr := cc.after(); err == nil {
			err = derr
		}
	}
	return err
}

// seed creates n customers with an empty wallet (USD and INR, as the
// engine's CreateCustomer does) and, for the charge path, an active
// mandate_only subscription each on the always-succeeding test card. It
// writes through the store directly, in parallel chunks, because 10,000
// customers through the engine one transaction (and fsync) at a time would
// take longer than the measurement. It returns the ids the operations pick
// from: customers for entries, subscriptions for charges and the mixed
// path, and the customers beside them.
func seed(ctx context.Context, st store.Store, path string, n int) ([]string, []string, error) {
	now := time.Now().UTC()
	prod := subscription.Product{ID: newID("prod"), Name: "bench", Price: chargeAmount, Currency: "USD", CreatedAt: now}
	subs := path == pathCharge || path == pathMixed
	if subs {
		if err := st.Update(ctx, func(tx store.Tx) error { return tx.PutProduct(prod) }); err != nil {
			return nil, nil, err
		}
	}
	ids, custs := make([]string, n), make([]string, n)
	const chunk = 500
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		sem   = make(chan struct{}, 4)
	)
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		sem <- struct{}{}
		go func(lo, hi int) {
			defer wg.Done()
			defer func() { <-sem }()
			err := st.Update(ctx, func(tx store.Tx) error {
				for i := lo; i < hi; i++ {
					c := customer.Customer{ID: newID("cus"), Name: fmt.Sprint("bench ", i), CreatedAt: now, UpdatedAt: now}
					if err := tx.InsertCustomer(c); err != nil {
						return err
					}
					for _, cur := range []string{"INR", "USD"} {
						if err := tx.PutBalance(wallet.Balance{CustomerID: c.ID, Currency: cur, UpdatedAt: now}); err != nil {
							return err
						}
					}
					ids[i], custs[i] = c.ID, c.ID
					if !subs {
						continue
					}
					s := subscription.Subscription{ID: newID("sub"), CustomerID: c.ID, ProductID: prod.ID, Quantity: 1,
						Status: subscription.StatusActive, PaymentMethod: processor.CardOK, MandateID: newID("mdt"),
						MandateAuthorizedAt: now, Price: chargeAmount, Currency: "USD", Description: "bench",
						MandateOnly: true, CreatedAt: now, UpdatedAt: now}
					if err := tx.InsertSubscription(s); err != nil {
						return err
					}
					ids[i] = s.ID
				}
				return nil
			})
			if err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}(lo, hi)
	}
	wg.Wait()
	return ids, custs, first
}
