package crashkit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
)

// Cust is a customer of the workload with its two subscriptions: one on a
// card whose charges succeed and one on a card whose charges are declined.
type Cust struct {
	ID, SubOK, SubDecl string
}

// Pool is what the workload's clients know: the customers to operate on
// and the succeeded payments they may refund. It is safe for concurrent use.
type Pool struct {
	mu        sync.Mutex
	customers []Cust
	paid      []Op // charge acks with status succeeded
	recent    []Op // recent intents, replayed now and then with their key
}

// Load fills the pool from a journal: the last maxCust acknowledged
// customers and the last maxPaid succeeded charges, so a new child carries
// on with its predecessors' customers.
func (p *Pool) Load(ops []Op, maxCust, maxPaid int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, op := range ops {
		if op.Phase != PhaseAck {
			continue
		}
		switch {
		case op.Kind == KindCustomer:
			p.customers = append(p.customers, Cust{ID: op.Customer, SubOK: op.SubOK, SubDecl: op.SubDecl})
		case op.Kind == KindCharge && op.Status == string(subscription.PaymentSucceeded):
			p.paid = append(p.paid, op)
		}
	}
	if len(p.customers) > maxCust {
		p.customers = p.customers[len(p.customers)-maxCust:]
	}
	if len(p.paid) > maxPaid {
		p.paid = p.paid[len(p.paid)-maxPaid:]
	}
}

// Customers returns how many customers the pool has.
func (p *Pool) Customers() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.customers)
}

func (p *Pool) addCustomer(c Cust) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.customers = append(p.customers, c)
}

func (p *Pool) addPaid(op Op) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paid = append(p.paid, op)
	if len(p.paid) > 256 {
		p.paid = append(p.paid[:0:0], p.paid[len(p.paid)-128:]...)
	}
}

func (p *Pool) remember(op Op) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.recent = append(p.recent, op)
	if len(p.recent) > 64 {
		p.recent = append(p.recent[:0:0], p.recent[len(p.recent)-32:]...)
	}
}

func (p *Pool) pickCustomer(rnd *rand.Rand) (Cust, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.customers) == 0 {
		return Cust{}, false
	}
	return p.customers[rnd.IntN(len(p.customers))], true
}

func (p *Pool) pickPaid(rnd *rand.Rand) (Op, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.paid) == 0 {
		return Op{}, false
	}
	return p.paid[rnd.IntN(len(p.paid))], true
}

func (p *Pool) pickRecent(rnd *rand.Rand) (Op, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.recent) == 0 {
		return Op{}, false
	}
	return p.recent[rnd.IntN(len(p.recent))], true
}

// Counts are what a Runner did, by outcome.
type Counts struct {
	Acks, Nacks, Replays, Customers, Updates, Lists atomic.Int64
	// Unknown counts calls cut short by their deadline (no ack, no nack);
	// Opaque counts those whose error did not wrap the context's error.
	Unknown, Opaque atomic.Int64
	// Pending counts charges and refunds acknowledged pending: the
	// processor's answer did not come back, Reconcile settles them.
	Pending atomic.Int64
}

// Runner runs the mixed workload against one Engine: credits and debits
// with idempotency keys, charges (covered by the wallet, partly, or not at
// all; some declined), refunds to the wallet and to the card, and, in soak
// mode, customer updates and list calls. Every call's outcome goes to the
// journal: an intent before the call, an ack or nack after it. A Runner is
// safe for concurrent use by many goroutines, each with its own rand.
type Runner struct {
	Eng  *coffer.Engine
	J    Journal
	Pool *Pool
	// Run numbers the process (or soak) so keys never collide across runs.
	Run int
	// Soak adds customer updates, list calls and concurrent replays of
	// recent keys to the mix.
	Soak bool
	// Timeouts is the percentage of keyed calls made with a deadline of a
	// few milliseconds, so they are cut short anywhere: in a transaction,
	// in the processor call, between the two. Their outcome is unknown to
	// the client, which retries them later (RetryUnfinished).
	Timeouts int
	// Counts tallies outcomes.
	Counts Counts

	seq     atomic.Int64
	product string
}

// Setup creates the product the workload's subscriptions are on.
func (r *Runner) Setup(ctx context.Context) error {
	p, err := r.Eng.CreateProduct(ctx, coffer.ProductParams{Name: "Crash plan", Price: 10_00, Currency: "USD"})
	if err != nil {
		return fmt.Errorf("create product: %w", err)
	}
	r.product = p.ID
	return nil
}

func (r *Runner) key(kind string) string {
	return fmt.Sprintf("r%d-%s-%d", r.Run, kind, r.seq.Add(1))
}

// NewCustomer creates a customer and its two subscriptions: one on a card
// whose charges succeed, with an initial charge of the product's price
// (mandate_only false), and a mandate-only one on a card whose charges are
// declined. The customer's id is journaled as soon as it exists, so a
// successor can finish the job (ResumeCustomer) if this process is killed
// in the middle.
func (r *Runner) NewCustomer(ctx context.Context) error {
	n := r.seq.Add(1)
	c, err := r.Eng.CreateCustomer(ctx, customer.Params{
		Name:  new(fmt.Sprintf("Crash %d-%d", r.Run, n)),
		Email: new(fmt.Sprintf("crash-%d-%d@example.com", r.Run, n)),
	})
	if err != nil {
		return fmt.Errorf("create customer: %w", err)
	}
	op := Op{Phase: PhaseIntent, Kind: KindCustomer, Run: r.Run, Key: "customer:" + c.ID, Customer: c.ID}
	if err := r.J.Write(op, false); err != nil {
		return err
	}
	return r.ResumeCustomer(ctx, op)
}

// ResumeCustomer gives a customer whatever its creation did not finish:
// a subscription that is missing is created, one left pending (the crash
// came between recording it and applying its mandate) is confirmed, and an
// active one whose initial charge may have been lost gets ConfirmMandate,
// which makes that charge at most once (idempotent by its key). Then the
// customer is acked.
func (r *Runner) ResumeCustomer(ctx context.Context, op Op) error {
	list, err := r.Eng.ListSubscriptions(ctx, coffer.SubscriptionListParams{CustomerID: op.Customer, ListParams: coffer.ListParams{Limit: 100}})
	if err != nil {
		return fmt.Errorf("resume customer %s: %w", op.Customer, err)
	}
	subs := [2]string{}
	for i, pm := range []string{processor.CardOK, processor.CardInsufficientFunds} {
		var sub subscription.Subscription
		for _, s := range list.Data {
			if s.PaymentMethod == pm {
				sub = s
				break
			}
		}
		if sub.ID == "" {
			res, err := r.Eng.CreateSubscription(ctx, coffer.SubscriptionParams{
				ProductID: r.product, Quantity: 1, CustomerID: op.Customer, PaymentMethod: pm,
				OnDemand: &coffer.OnDemand{MandateOnly: new(pm != processor.CardOK)},
			})
			if err != nil {
				return fmt.Errorf("create subscription (%s): %w", pm, err)
			}
			sub = res.Subscription
		} else if sub.Status == subscription.StatusPending || !sub.MandateOnly {
			res, err := r.Eng.ConfirmMandate(ctx, sub.ID)
			if err != nil {
				return fmt.Errorf("confirm mandate of %s: %w", sub.ID, err)
			}
			sub = res.Subscription
		}
		if sub.Status != subscription.StatusActive {
			return fmt.Errorf("subscription %s on %s is %s, want active", sub.ID, pm, sub.Status)
		}
		subs[i] = sub.ID
	}
	cu := Cust{ID: op.Customer, SubOK: subs[0], SubDecl: subs[1]}
	ack := Op{Phase: PhaseAck, Kind: KindCustomer, Run: r.Run, Key: op.Key, Customer: cu.ID, SubOK: cu.SubOK, SubDecl: cu.SubDecl}
	if err := r.J.Write(ack, true); err != nil {
		return err
	}
	r.Pool.addCustomer(cu)
	r.Counts.Customers.Add(1)
	return nil
}

func currency(rnd *rand.Rand) string {
	if rnd.IntN(4) == 0 {
		return "INR"
	}
	return "USD"
}

// Step runs one random operation.
func (r *Runner) Step(ctx context.Context, rnd *rand.Rand) error {
	c, ok := r.Pool.pickCustomer(rnd)
	if !ok {
		return r.NewCustomer(ctx)
	}
	roll := rnd.IntN(100)
	if r.Soak {
		switch {
		case roll < 5:
			if op, ok := r.Pool.pickRecent(rnd); ok {
				r.Counts.Replays.Add(1)
				return r.Do(ctx, op)
			}
		case roll < 10:
			return r.updateCustomer(ctx, c, rnd)
		case roll < 22:
			return r.list(ctx, c, rnd)
		}
	}
	var op Op
	switch {
	case roll < 30:
		op = Op{Kind: KindCredit, Customer: c.ID, Currency: currency(rnd), Amount: 100 + rnd.Int64N(5000)}
	case roll < 55:
		op = Op{Kind: KindDebit, Customer: c.ID, Currency: currency(rnd), Amount: 50 + rnd.Int64N(3000)}
	case roll < 85:
		op = Op{Kind: KindCharge, Customer: c.ID, Sub: c.SubOK, Amount: 100 + rnd.Int64N(6000)}
		if rnd.IntN(4) == 0 {
			op.Sub = c.SubDecl
		}
		if rnd.IntN(5) == 0 {
			op.Currency = "INR"
		}
	default:
		paid, ok := r.Pool.pickPaid(rnd)
		if !ok {
			return nil
		}
		op = Op{Kind: KindRefund, Customer: paid.Customer, Payment: paid.Payment, Dest: string(subscription.ToWallet)}
		if rnd.IntN(2) == 0 {
			op.Dest = string(subscription.ToPaymentMethod)
		}
		if rnd.IntN(4) != 0 {
			op.Amount = 1 + rnd.Int64N(max(paid.Total/2, 1))
		}
	}
	op.Key = r.key(op.Kind)
	if r.Timeouts > 0 && rnd.IntN(100) < r.Timeouts {
		var cancel context.CancelFunc
		// Log-uniform over 0.1..51 ms, so the deadline falls anywhere from
		// the first transaction to the settling one, on a fast store or a
		// slow one.
		d := time.Duration(float64(100*time.Microsecond) * math.Exp2(rnd.Float64()*9))
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	return r.Do(ctx, op)
}

// RetryUnfinished retries, with their keys, the intents of ops that have
// no ack or nack, as a client does after a crash or a timeout.
func (r *Runner) RetryUnfinished(ctx context.Context, ops []Op) (int, error) {
	un := Unfinished(ops)
	for _, op := range un {
		var err error
		if op.Kind == KindCustomer {
			err = r.ResumeCustomer(ctx, op)
		} else {
			err = r.Do(ctx, op)
		}
		if err != nil {
			return 0, fmt.Errorf("retrying %s %s: %w", op.Kind, op.Key, err)
		}
	}
	return len(un), nil
}

// Do runs one keyed operation: intent, engine call, ack or nack. It is also
// how an unfinished intent of a killed predecessor is retried.
func (r *Runner) Do(ctx context.Context, op Op) error {
	op.Run, op.Phase = r.Run, PhaseIntent
	op.Err, op.Replayed = "", false
	if err := r.J.Write(op, false); err != nil {
		return err
	}
	r.Pool.remember(op)
	res, err := r.call(ctx, op)
	if err != nil {
		if ctx.Err() != nil && !expected(op.Kind, err) {
			// Cut short by the deadline: the outcome is unknown.
			r.Counts.Unknown.Add(1)
			if !errors.Is(err, ctx.Err()) {
				r.Counts.Opaque.Add(1)
			}
			return nil
		}
		if !expected(op.Kind, err) {
			return fmt.Errorf("%s %s: %w", op.Kind, op.Key, err)
		}
		nack := op
		nack.Phase, nack.Err = PhaseNack, err.Error()
		r.Counts.Nacks.Add(1)
		return r.J.Write(nack, true)
	}
	res.Phase = PhaseAck
	if err := r.J.Write(res, true); err != nil {
		return err
	}
	r.Counts.Acks.Add(1)
	if res.Status == string(subscription.PaymentPending) {
		r.Counts.Pending.Add(1)
	}
	if res.Kind == KindCharge && res.Status == string(subscription.PaymentSucceeded) {
		r.Pool.addPaid(res)
	}
	return nil
}

// expected reports whether err is a refusal the workload provokes on
// purpose and that changes nothing.
func expected(kind string, err error) bool {
	switch kind {
	case KindDebit:
		return errors.Is(err, wallet.ErrInsufficientFunds)
	case KindCharge:
		return errors.Is(err, subscription.ErrNotActive)
	case KindRefund:
		return errors.Is(err, subscription.ErrInvalidRefund) || errors.Is(err, subscription.ErrNotRefundable)
	}
	return false
}

// call makes the engine call of op and returns op with its results.
func (r *Runner) call(ctx context.Context, op Op) (Op, error) {
	switch op.Kind {
	case KindCredit, KindDebit:
		typ := ledger.Credit
		if op.Kind == KindDebit {
			typ = ledger.Debit
		}
		res, err := r.Eng.CreateEntry(ctx, op.Customer, coffer.EntryParams{Amount: op.Amount, Currency: op.Currency, Type: typ,
			Reason: "crash " + op.Kind, IdempotencyKey: op.Key})
		if err != nil {
			return op, err
		}
		op.EntryID, op.BalanceAfter, op.Replayed = res.Entry.ID, res.Entry.BalanceAfter, res.Replayed
		if res.Replayed {
			r.Counts.Replays.Add(1)
		}
		return op, nil
	case KindCharge:
		p, err := r.Eng.Charge(ctx, op.Sub, coffer.ChargeParams{ProductPrice: new(int64(op.Amount)),
			ProductCurrency: op.Currency, IdempotencyKey: op.Key})
		if err != nil {
			return op, err
		}
		op.Payment, op.Status, op.Total = p.ID, string(p.Status), p.Amount
		op.WalletAmount, op.ProcessorAmount = p.WalletAmount, p.ProcessorAmount
		return op, nil
	case KindRefund:
		rf, err := r.Eng.Refund(ctx, op.Payment, coffer.RefundParams{Amount: op.Amount,
			Destination: subscription.RefundDestination(op.Dest), Reason: "crash refund", IdempotencyKey: op.Key})
		if err != nil {
			return op, err
		}
		op.RefundID, op.Status, op.Total = rf.ID, string(rf.Status), rf.Amount
		op.WalletAmount, op.ProcessorAmount = rf.WalletAmount, rf.ProcessorAmount
		return op, nil
	}
	return op, fmt.Errorf("crashkit: unknown op kind %q", op.Kind)
}

// updateCustomer changes a customer's description (soak only).
func (r *Runner) updateCustomer(ctx context.Context, c Cust, rnd *rand.Rand) error {
	_, err := r.Eng.UpdateCustomer(ctx, c.ID, customer.Params{
		Description: new(fmt.Sprintf("soak %d", rnd.IntN(1000))),
		Metadata:    map[string]string{"tier": fmt.Sprint(rnd.IntN(3))},
	})
	if err != nil {
		return fmt.Errorf("update customer %s: %w", c.ID, err)
	}
	r.Counts.Updates.Add(1)
	return nil
}

// list makes one of the read calls an API would serve and checks the
// pages are well formed (soak only).
func (r *Runner) list(ctx context.Context, c Cust, rnd *rand.Rand) error {
	r.Counts.Lists.Add(1)
	switch rnd.IntN(5) {
	case 0:
		l, err := r.Eng.ListCustomers(ctx, coffer.CustomerListParams{ListParams: coffer.ListParams{Limit: 10}})
		if err != nil || len(l.Data) > 10 {
			return fmt.Errorf("list customers: %d rows, %v", len(l.Data), err)
		}
	case 1:
		l, err := r.Eng.ListEntries(ctx, coffer.EntryListParams{CustomerID: c.ID, ListParams: coffer.ListParams{Limit: 20}})
		if err != nil {
			return fmt.Errorf("list entries: %w", err)
		}
		for i := 1; i < len(l.Data); i++ {
			if l.Data[i].ID == l.Data[i-1].ID {
				return fmt.Errorf("list entries: duplicate %s", l.Data[i].ID)
			}
		}
	case 2:
		if _, err := r.Eng.ListPayments(ctx, coffer.PaymentListParams{CustomerID: c.ID, ListParams: coffer.ListParams{Limit: 20}}); err != nil {
			return fmt.Errorf("list payments: %w", err)
		}
	case 3:
		bs, err := r.Eng.Balances(ctx, c.ID)
		if err != nil {
			return fmt.Errorf("balances: %w", err)
		}
		for _, b := range bs {
			if err := b.Check(); err != nil {
				return fmt.Errorf("balance %s %s read mid-run: %+v: %w", b.CustomerID, b.Currency, b, err)
			}
		}
	default:
		if _, err := r.Eng.SearchCustomers(ctx, coffer.CustomerSearchParams{Query: "crash", ListParams: coffer.ListParams{Limit: 5}}); err != nil {
			return fmt.Errorf("search customers: %w", err)
		}
	}
	return nil
}
