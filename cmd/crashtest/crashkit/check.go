package crashkit

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
	"github.com/cofferhq/coffer/webhook"
)

// CheckOptions says what Check compares the store with.
type CheckOptions struct {
	// Ops is the journal: every acknowledged op must be in the store
	// exactly once, and keys only ever refused must be absent.
	Ops []Op
	// Proc, when set, is matched against the store: every charge and
	// refund the processor made belongs to a payment or refund recorded
	// with the same outcome and amount, and the other way round.
	Proc *FileProcessor
	// Settled says nothing is in flight (the writers are dead or done and
	// Reconcile has run): no payment or refund may be pending and no
	// wallet may hold anything.
	Settled bool
}

// Stats is what the store held when checked.
type Stats struct {
	Customers, Entries, Payments, Refunds, Events, Attempts int
	Acked, Nacked                                           int
	PaymentsBy                                              map[subscription.PaymentStatus]int
}

// String is the one-line summary the tests log.
func (s Stats) String() string {
	return fmt.Sprintf("%d customers, %d entries, %d payments %v, %d refunds, %d attempts, %d events; journal: %d acked, %d refused keys",
		s.Customers, s.Entries, s.Payments, s.PaymentsBy, s.Refunds, s.Attempts, s.Events, s.Acked, s.Nacked)
}

// ViolationError lists the invariants a store broke.
type ViolationError struct {
	Violations []string
	Total      int
}

// Error lists the first violations (the count says how many there were).
func (e *ViolationError) Error() string {
	return fmt.Sprintf("crashkit: %d invariant violations:\n  %s", e.Total, strings.Join(e.Violations, "\n  "))
}

// snapshot is everything in the store, read in one transaction.
type snapshot struct {
	customers map[string]customer.Customer
	balances  map[string]wallet.Balance // customer\x00currency
	entries   []ledger.Entry            // per customer, oldest first
	payments  map[string]subscription.Payment
	refunds   map[string]subscription.Refund
	holds     map[string]ledger.Hold
	subs      map[string]subscription.Subscription
	attempts  map[string]retry.Attempt
	events    []webhook.Event
	entryByID map[string]int // index into entries, built on demand
	payByKey  map[string]subscription.Payment
}

func read(ctx context.Context, s store.Store) (*snapshot, error) {
	var snap *snapshot
	err := s.View(ctx, func(tx store.Tx) error {
		snap = &snapshot{customers: map[string]customer.Customer{}, balances: map[string]wallet.Balance{},
			payments: map[string]subscription.Payment{}, refunds: map[string]subscription.Refund{},
			holds: map[string]ledger.Hold{}, subs: map[string]subscription.Subscription{}, attempts: map[string]retry.Attempt{}}
		var cs []customer.Customer
		q := store.CustomerQuery{Page: store.Page{Limit: store.MaxLimit}}
		for {
			list, more, err := tx.ListCustomers(q)
			if err != nil {
				return fmt.Errorf("list customers: %w", err)
			}
			cs = append(cs, list...)
			if !more || len(list) == 0 {
				break
			}
			q.StartingAfter = list[len(list)-1].ID
		}
		for _, c := range cs {
			snap.customers[c.ID] = c
			bs, err := tx.Balances(c.ID)
			if err != nil {
				return fmt.Errorf("balances of %s: %w", c.ID, err)
			}
			for _, b := range bs {
				snap.balances[c.ID+"\x00"+b.Currency] = b
			}
			var es []ledger.Entry
			eq := store.EntryQuery{CustomerID: c.ID, Page: store.Page{Limit: store.MaxLimit}}
			for {
				list, more, err := tx.ListEntries(eq)
				if err != nil {
					return fmt.Errorf("entries of %s: %w", c.ID, err)
				}
				es = append(es, list...)
				if !more || len(list) == 0 {
					break
				}
				eq.StartingAfter = list[len(list)-1].ID
			}
			slices.Reverse(es)
			snap.entries = append(snap.entries, es...)
			pq := store.PaymentQuery{CustomerID: c.ID, Page: store.Page{Limit: store.MaxLimit}}
			for {
				list, more, err := tx.ListPayments(pq)
				if err != nil {
					return fmt.Errorf("payments of %s: %w", c.ID, err)
				}
				for _, p := range list {
					snap.payments[p.ID] = p
					rs, err := tx.ListRefunds(p.ID)
					if err != nil {
						return fmt.Errorf("refunds of %s: %w", p.ID, err)
					}
					for _, r := range rs {
						snap.refunds[r.ID] = r
					}
					if p.HoldID != "" {
						h, err := tx.Hold(p.HoldID)
						if err != nil {
							return fmt.Errorf("hold %s of %s: %w", p.HoldID, p.ID, err)
						}
						snap.holds[h.ID] = h
					}
				}
				if !more || len(list) == 0 {
					break
				}
				pq.StartingAfter = list[len(list)-1].ID
			}
			sp := store.Page{Limit: store.MaxLimit}
			for {
				list, more, err := tx.ListSubscriptions(c.ID, sp)
				if err != nil {
					return fmt.Errorf("subscriptions of %s: %w", c.ID, err)
				}
				for _, sub := range list {
					snap.subs[sub.ID] = sub
					as, err := tx.AttemptsBySubscription(sub.ID)
					if err != nil {
						return fmt.Errorf("attempts of %s: %w", sub.ID, err)
					}
					for _, a := range as {
						snap.attempts[a.ID] = a
					}
				}
				if !more || len(list) == 0 {
					break
				}
				sp.StartingAfter = list[len(list)-1].ID
			}
		}
		var after int64
		for {
			list, err := tx.Events(after, 1000)
			if err != nil {
				return fmt.Errorf("events: %w", err)
			}
			if len(list) == 0 {
				break
			}
			snap.events = append(snap.events, list...)
			after = list[len(list)-1].Seq
		}
		return nil
	})
	return snap, err
}

// checker collects violations.
type checker struct {
	v     []string
	total int
}

func (c *checker) fail(format string, args ...any) {
	c.total++
	if len(c.v) < 60 {
		c.v = append(c.v, fmt.Sprintf(format, args...))
	}
}

// eventData is the part of an event payload the checker reads.
type eventData struct {
	ID             string `json:"id"`
	FirstPaymentID string `json:"first_payment_id"`
	Entry          *struct {
		ID           string `json:"id"`
		Amount       int64  `json:"amount"`
		BalanceAfter int64  `json:"balance_after"`
	} `json:"entry"`
	Balance *struct {
		CustomerID string `json:"customer_id"`
		Currency   string `json:"currency"`
		Amount     int64  `json:"amount"`
	} `json:"balance"`
}

// Check reads the whole store in one transaction and checks coffer's
// invariants against it, the journal and the processor's record:
//
//   - ledger: per wallet, entries chain (before of one is after of the
//     previous, from 0) and add up to the balance; no balance is negative;
//     0 <= held <= balance and held is exactly the sum of pending holds;
//     no idempotency key appears twice (entries, payments, refunds);
//   - charges: wallet + processor parts make the amount; a paid payment's
//     hold is captured by exactly one debit of its wallet part, a failed
//     one's released; the processor's charge agrees with the payment;
//     refunds add up to the payment's refunded amount, never beyond it;
//   - outbox: every ledger entry has exactly one wallet.balance_changed,
//     every settled payment exactly one payment.succeeded or .failed, every
//     settled refund one refund.succeeded or .failed, every retry attempt
//     one payment.retry_scheduled, every customer one customer.created; no
//     event refers to a record that does not exist;
//   - journal: every acknowledged op is in the store exactly once with its
//     acknowledged result, and keys that were only ever refused are absent.
func Check(ctx context.Context, s store.Store, o CheckOptions) (Stats, error) {
	snap, err := read(ctx, s)
	if err != nil {
		return Stats{}, err
	}
	st := Stats{Customers: len(snap.customers), Entries: len(snap.entries), Payments: len(snap.payments),
		Refunds: len(snap.refunds), Events: len(snap.events), Attempts: len(snap.attempts),
		PaymentsBy: map[subscription.PaymentStatus]int{}}
	c := &checker{}
	c.ledger(snap, o)
	c.payments(snap, o)
	c.outbox(snap)
	st.Acked, st.Nacked = c.journal(snap, o.Ops)
	for _, p := range snap.payments {
		st.PaymentsBy[p.Status]++
	}
	if c.total > 0 {
		return st, &ViolationError{Violations: c.v, Total: c.total}
	}
	return st, nil
}

func paid(p subscription.Payment) bool { return p.Paid() > 0 }

func (c *checker) ledger(snap *snapshot, o CheckOptions) {
	type wkey = string
	sum := map[wkey]int64{}
	last := map[wkey]int64{}
	keys := map[string]int{}
	for _, e := range snap.entries {
		w := e.CustomerID + "\x00" + e.Currency
		if e.BalanceBefore != last[w] {
			c.fail("entry %s (%s %s): balance_before %d, previous entry left %d", e.ID, e.CustomerID, e.Currency, e.BalanceBefore, last[w])
		}
		if e.BalanceAfter != e.BalanceBefore+e.Signed() || e.Amount <= 0 || e.BalanceAfter < 0 {
			c.fail("entry %s: %d %s %d -> %d does not add up", e.ID, e.BalanceBefore, e.Type, e.Amount, e.BalanceAfter)
		}
		last[w] = e.BalanceAfter
		sum[w] += e.Signed()
		if e.IdempotencyKey != "" {
			k := e.CustomerID + "\x00" + e.IdempotencyKey
			if keys[k]++; keys[k] == 2 {
				c.fail("idempotency key %q of %s applied twice (entries)", e.IdempotencyKey, e.CustomerID)
			}
		}
		switch e.Reference.Type {
		case ledger.RefPayment:
			p, ok := snap.payments[e.Reference.ID]
			switch {
			case !ok:
				c.fail("entry %s refers to a missing payment %s", e.ID, e.Reference.ID)
			case !paid(p) || e.Type != ledger.Debit || e.Amount != p.WalletAmount || e.IdempotencyKey != "hold:"+p.HoldID:
				c.fail("entry %s (%s %d, key %s) does not capture payment %s (%s, wallet part %d, hold %s)",
					e.ID, e.Type, e.Amount, e.IdempotencyKey, p.ID, p.Status, p.WalletAmount, p.HoldID)
			}
		case ledger.RefRefund:
			r, ok := snap.refunds[e.Reference.ID]
			switch {
			case !ok:
				c.fail("entry %s refers to a missing refund %s", e.ID, e.Reference.ID)
			case r.Status != subscription.RefundSucceeded || e.Type != ledger.Credit || e.Amount != r.WalletAmount:
				c.fail("entry %s (%s %d) does not credit refund %s (%s, wallet part %d)", e.ID, e.Type, e.Amount, r.ID, r.Status, r.WalletAmount)
			}
		}
		if _, ok := snap.customers[e.CustomerID]; !ok {
			c.fail("entry %s of a missing customer %s", e.ID, e.CustomerID)
		}
	}
	held := map[wkey]int64{}
	for _, h := range snap.holds {
		if h.Status == ledger.HoldPending {
			held[h.CustomerID+"\x00"+h.Currency] += h.Amount
		}
	}
	for w, b := range snap.balances {
		if err := b.Check(); err != nil {
			c.fail("balance %s %s %+v: %v", b.CustomerID, b.Currency, b, err)
		}
		if b.Amount != sum[w] {
			c.fail("balance %s %s is %d, its entries add up to %d", b.CustomerID, b.Currency, b.Amount, sum[w])
		}
		if b.Held != held[w] {
			c.fail("balance %s %s holds %d, its pending holds add up to %d", b.CustomerID, b.Currency, b.Held, held[w])
		}
		if o.Settled && b.Held != 0 {
			c.fail("balance %s %s still holds %d after reconcile", b.CustomerID, b.Currency, b.Held)
		}
	}
	for w, v := range sum {
		if _, ok := snap.balances[w]; !ok && v != 0 {
			c.fail("entries of a missing wallet %q add up to %d", w, v)
		}
	}
	for id := range snap.customers {
		if len(snap.balances[id+"\x00USD"].CustomerID) == 0 {
			c.fail("customer %s has no USD wallet", id)
		}
	}
}

func (c *checker) payments(snap *snapshot, o CheckOptions) {
	var charges map[string]ProcCharge
	var procRefunds map[string]ProcRefund
	if o.Proc != nil {
		cs, rs := o.Proc.Record()
		charges, procRefunds = map[string]ProcCharge{}, map[string]ProcRefund{}
		for _, ch := range cs {
			charges[ch.Key] = ch
		}
		for _, r := range rs {
			procRefunds[r.Key] = r
		}
	}
	captures := map[string]int{}
	for _, e := range snap.entries {
		if e.Reference.Type == ledger.RefPayment {
			captures[e.Reference.ID]++
		}
	}
	refundedBy := map[string]int64{}
	keys := map[string]int{}
	for _, r := range snap.refunds {
		if r.Amount != r.WalletAmount+r.ProcessorAmount || r.Amount <= 0 || r.WalletAmount < 0 || r.ProcessorAmount < 0 {
			c.fail("refund %s: %d != wallet %d + processor %d", r.ID, r.Amount, r.WalletAmount, r.ProcessorAmount)
		}
		if r.Status != subscription.RefundFailed {
			refundedBy[r.PaymentID] += r.Amount
		}
		if o.Settled && r.Status == subscription.RefundPending {
			c.fail("refund %s still pending after reconcile", r.ID)
		}
		k := r.PaymentID + "\x00" + r.IdempotencyKey
		if keys[k]++; keys[k] == 2 {
			c.fail("refund key %q of payment %s applied twice", r.IdempotencyKey, r.PaymentID)
		}
		if _, ok := snap.payments[r.PaymentID]; !ok {
			c.fail("refund %s of a missing payment %s", r.ID, r.PaymentID)
		}
		if procRefunds != nil && r.Status != subscription.RefundPending {
			pr, ok := procRefunds[r.ID]
			switch {
			case r.Status == subscription.RefundSucceeded && r.ProcessorAmount > 0 && (!ok || pr.Amount != r.ProcessorAmount):
				c.fail("refund %s succeeded with %d through the processor, which refunded %+v", r.ID, r.ProcessorAmount, pr)
			case r.Status == subscription.RefundFailed && ok:
				c.fail("refund %s failed but the processor refunded %+v", r.ID, pr)
			case r.ProcessorAmount == 0 && ok:
				c.fail("refund %s has no processor part but the processor refunded %+v", r.ID, pr)
			}
		}
	}
	for _, pr := range procRefunds {
		r, ok := snap.refunds[pr.Key]
		switch {
		case !ok:
			c.fail("the processor refunded %+v for a refund the store does not have", pr)
		case r.Status == subscription.RefundFailed:
			c.fail("the processor refunded %+v but refund %s is failed", pr, r.ID)
		}
	}
	pkeys := map[string]int{}
	for _, p := range snap.payments {
		if p.Amount <= 0 || p.Amount != p.WalletAmount+p.ProcessorAmount || p.WalletAmount < 0 || p.ProcessorAmount < 0 {
			c.fail("payment %s: %d != wallet %d + processor %d", p.ID, p.Amount, p.WalletAmount, p.ProcessorAmount)
		}
		if o.Settled && p.Status == subscription.PaymentPending {
			c.fail("payment %s still pending after reconcile", p.ID)
		}
		if p.IdempotencyKey != "" {
			k := p.CustomerID + "\x00" + p.IdempotencyKey
			if pkeys[k]++; pkeys[k] == 2 {
				c.fail("payment key %q of %s applied twice", p.IdempotencyKey, p.CustomerID)
			}
		}
		if p.RefundedAmount != refundedBy[p.ID] || p.RefundedAmount < 0 || p.RefundedAmount > p.Amount {
			c.fail("payment %s: refunded_amount %d, its refunds add up to %d (amount %d)", p.ID, p.RefundedAmount, refundedBy[p.ID], p.Amount)
		}
		switch {
		case p.RefundedAmount > 0 && p.RefundedAmount == p.Amount && p.Status != subscription.PaymentRefunded,
			p.RefundedAmount > 0 && p.RefundedAmount < p.Amount && p.Status != subscription.PaymentPartiallyRefunded,
			p.RefundedAmount == 0 && (p.Status == subscription.PaymentRefunded || p.Status == subscription.PaymentPartiallyRefunded):
			c.fail("payment %s is %s with %d of %d refunded", p.ID, p.Status, p.RefundedAmount, p.Amount)
		}
		wantCaptures := 0
		if p.WalletAmount > 0 {
			h, ok := snap.holds[p.HoldID]
			want := map[subscription.PaymentStatus]ledger.HoldStatus{subscription.PaymentPending: ledger.HoldPending,
				subscription.PaymentFailed: ledger.HoldReleased}[p.Status]
			if paid(p) {
				want, wantCaptures = ledger.HoldCaptured, 1
			}
			switch {
			case !ok:
				c.fail("payment %s applies %d of the wallet without a hold", p.ID, p.WalletAmount)
			case h.Amount != p.WalletAmount || h.Reference.ID != p.ID || h.CustomerID != p.CustomerID || h.Currency != p.Currency:
				c.fail("hold %s %+v does not match payment %s", h.ID, h, p.ID)
			case h.Status != want:
				c.fail("hold %s of payment %s (%s) is %s, want %s", h.ID, p.ID, p.Status, h.Status, want)
			}
		} else if p.HoldID != "" {
			c.fail("payment %s has hold %s but no wallet part", p.ID, p.HoldID)
		}
		if captures[p.ID] != wantCaptures {
			c.fail("payment %s (%s, wallet part %d) is captured by %d entries, want %d", p.ID, p.Status, p.WalletAmount, captures[p.ID], wantCaptures)
		}
		if charges == nil || p.Status == subscription.PaymentPending {
			continue
		}
		ch, ok := charges[p.ID]
		switch {
		case p.ProcessorAmount == 0 && ok:
			c.fail("payment %s has no processor part but the processor charged %+v", p.ID, ch)
		case p.ProcessorAmount == 0:
		case paid(p) && (!ok || ch.Status != string(processor.ChargeSucceeded) || ch.Amount != p.ProcessorAmount ||
			ch.Currency != p.Currency || ch.ID != p.ProcessorID):
			c.fail("payment %s is %s for %d %s (processor id %q), the processor has %+v", p.ID, p.Status, p.ProcessorAmount, p.Currency, p.ProcessorID, ch)
		case p.Status == subscription.PaymentFailed && ok && ch.Status == string(processor.ChargeSucceeded):
			c.fail("payment %s is failed but the processor charged %+v", p.ID, ch)
		case p.Status == subscription.PaymentFailed && ok && ch.Decline != p.DeclineCode:
			c.fail("payment %s declined %q, the processor says %q", p.ID, p.DeclineCode, ch.Decline)
		}
	}
	for _, ch := range charges {
		if _, ok := snap.payments[ch.Key]; !ok {
			c.fail("the processor charged %+v for a payment the store does not have", ch)
		}
	}
	c.dunning(snap)
}

// dunning checks the retry schedule and the delinquent flag against the
// failed payments: a failed charge with a retry pending has exactly one
// scheduled attempt due when the payment says; a customer is delinquent
// exactly when one of their overdue charges has no retry pending.
func (c *checker) dunning(snap *snapshot) {
	scheduled := map[string][]retry.Attempt{}
	for _, a := range snap.attempts {
		if a.Status != retry.AttemptScheduled {
			continue
		}
		scheduled[a.FirstPaymentID] = append(scheduled[a.FirstPaymentID], a)
		p, ok := snap.payments[a.FirstPaymentID]
		switch {
		case !ok:
			c.fail("attempt %s retries a missing payment %s", a.ID, a.FirstPaymentID)
		case !p.Overdue() || !p.NextRetryAt.Equal(a.DueAt):
			c.fail("attempt %s (due %s) is scheduled for payment %s (%s, next retry %s, settled by %q)",
				a.ID, a.DueAt, p.ID, p.Status, p.NextRetryAt, p.SettledBy)
		}
	}
	delinquent := map[string]bool{}
	for _, p := range snap.payments {
		if p.Delinquent() {
			delinquent[p.CustomerID] = true
		}
		if p.Overdue() && !p.NextRetryAt.IsZero() && len(scheduled[p.ID]) != 1 {
			c.fail("payment %s is due a retry at %s with %d scheduled attempts", p.ID, p.NextRetryAt, len(scheduled[p.ID]))
		}
	}
	for id, cu := range snap.customers {
		if cu.Delinquent != delinquent[id] {
			c.fail("customer %s: delinquent flag %v, overdue charges without a retry say %v", id, cu.Delinquent, delinquent[id])
		}
	}
}

func (c *checker) outbox(snap *snapshot) {
	count := map[string]int{} // type\x00id
	// Per wallet, balance_changed events must come in the order of the
	// entries' chain, or a webhook consumer replays balances out of order.
	lastAfter := map[string]int64{}
	for _, ev := range snap.events {
		var d eventData
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			c.fail("event %s (%s): payload %q: %v", ev.ID, ev.Type, ev.Data, err)
			continue
		}
		if _, ok := snap.customers[ev.CustomerID]; !ok {
			c.fail("event %s (%s) of a missing customer %q", ev.ID, ev.Type, ev.CustomerID)
		}
		id := d.ID
		var exists bool
		switch ev.Type {
		case coffer.EventCustomerCreated, coffer.EventCustomerUpdated, coffer.EventCustomerDelinquent, coffer.EventCustomerInGoodStand:
			_, exists = snap.customers[d.ID]
		case coffer.EventBalanceChanged:
			if d.Entry == nil {
				break
			}
			id = d.Entry.ID
			e, ok := findEntry(snap, id)
			exists = ok && e.Amount == d.Entry.Amount && e.BalanceAfter == d.Entry.BalanceAfter
			if ok && (d.Balance == nil || d.Balance.Amount != e.BalanceAfter) {
				c.fail("event %s: balance in the payload %+v, entry %s left %d", ev.ID, d.Balance, e.ID, e.BalanceAfter)
			}
			if ok {
				w := e.CustomerID + "\x00" + e.Currency
				if e.BalanceBefore != lastAfter[w] {
					c.fail("event %s (seq %d) for entry %s from balance %d follows events that left %d: out of chain order",
						ev.ID, ev.Seq, e.ID, e.BalanceBefore, lastAfter[w])
				}
				lastAfter[w] = e.BalanceAfter
			}
		case coffer.EventBalanceLow:
			if d.Balance != nil {
				id = d.Balance.CustomerID + "/" + d.Balance.Currency
				_, exists = snap.balances[d.Balance.CustomerID+"\x00"+d.Balance.Currency]
			}
		case coffer.EventSubscriptionPending, coffer.EventSubscriptionActive, coffer.EventSubscriptionUpdated,
			coffer.EventSubscriptionFailed, coffer.EventSubscriptionOnHold, coffer.EventSubscriptionCancelled:
			_, exists = snap.subs[d.ID]
		case coffer.EventPaymentSucceeded, coffer.EventPaymentFailed:
			_, exists = snap.payments[d.ID]
		case coffer.EventRefundSucceeded, coffer.EventRefundFailed:
			_, exists = snap.refunds[d.ID]
		case coffer.EventRetryScheduled, coffer.EventRetryUpcoming:
			_, exists = snap.attempts[d.ID]
		default:
			c.fail("event %s has an unknown type %q", ev.ID, ev.Type)
			continue
		}
		if !exists {
			c.fail("event %s (%s) refers to %q, which the store does not have (or has otherwise)", ev.ID, ev.Type, id)
		}
		count[ev.Type+"\x00"+id]++
	}
	want := func(typ, id string, n int, what string) {
		if got := count[typ+"\x00"+id]; got != n {
			c.fail("%s has %d %s events, want %d", what, got, typ, n)
		}
	}
	for _, e := range snap.entries {
		want(coffer.EventBalanceChanged, e.ID, 1, "entry "+e.ID)
	}
	for id := range snap.customers {
		want(coffer.EventCustomerCreated, id, 1, "customer "+id)
	}
	for _, p := range snap.payments {
		s, f := 0, 0
		switch {
		case paid(p):
			s = 1
		case p.Status == subscription.PaymentFailed:
			f = 1
		}
		want(coffer.EventPaymentSucceeded, p.ID, s, "payment "+p.ID+" ("+string(p.Status)+")")
		want(coffer.EventPaymentFailed, p.ID, f, "payment "+p.ID+" ("+string(p.Status)+")")
	}
	for _, r := range snap.refunds {
		s, f := 0, 0
		switch r.Status {
		case subscription.RefundSucceeded:
			s = 1
		case subscription.RefundFailed:
			f = 1
		}
		want(coffer.EventRefundSucceeded, r.ID, s, "refund "+r.ID+" ("+string(r.Status)+")")
		want(coffer.EventRefundFailed, r.ID, f, "refund "+r.ID+" ("+string(r.Status)+")")
	}
	for _, a := range snap.attempts {
		want(coffer.EventRetryScheduled, a.ID, 1, "attempt "+a.ID)
	}
	for _, s := range snap.subs {
		active := count[coffer.EventSubscriptionActive+"\x00"+s.ID]
		switch s.Status {
		case subscription.StatusPending:
			if active != 0 {
				c.fail("subscription %s is pending with %d subscription.active events", s.ID, active)
			}
		case subscription.StatusFailed:
		default:
			if active == 0 && !s.MandateAuthorizedAt.IsZero() {
				c.fail("subscription %s is %s with no subscription.active event", s.ID, s.Status)
			}
		}
	}
}

func findEntry(snap *snapshot, id string) (ledger.Entry, bool) {
	if snap.entryByID == nil {
		snap.entryByID = make(map[string]int, len(snap.entries))
		for i, e := range snap.entries {
			snap.entryByID[e.ID] = i
		}
	}
	i, ok := snap.entryByID[id]
	if !ok {
		return ledger.Entry{}, false
	}
	return snap.entries[i], true
}

// journal checks the acknowledged ops and returns how many keys were acked
// and how many only refused.
func (c *checker) journal(snap *snapshot, ops []Op) (acked, nacked int) {
	entryByKey := map[string]ledger.Entry{}
	for _, e := range snap.entries {
		if e.IdempotencyKey != "" {
			entryByKey[e.CustomerID+"\x00"+e.IdempotencyKey] = e
		}
	}
	payByKey := map[string]subscription.Payment{}
	for _, p := range snap.payments {
		if p.IdempotencyKey != "" {
			payByKey[p.CustomerID+"\x00"+p.IdempotencyKey] = p
		}
	}
	snap.payByKey = payByKey
	refundByKey := map[string]subscription.Refund{}
	for _, r := range snap.refunds {
		refundByKey[r.PaymentID+"\x00"+r.IdempotencyKey] = r
	}
	type keyState struct {
		ack    *Op
		nacked bool
		op     Op
	}
	keys := map[string]*keyState{}
	var order []string
	for i := range ops {
		op := ops[i]
		if op.Kind == KindCustomer {
			if op.Phase == PhaseAck {
				acked++
				c.customerAck(snap, op)
			}
			continue
		}
		if op.Key == "" || op.Phase == PhaseIntent {
			continue
		}
		ks := keys[op.Key]
		if ks == nil {
			ks = &keyState{op: op}
			keys[op.Key] = ks
			order = append(order, op.Key)
		}
		switch op.Phase {
		case PhaseNack:
			ks.nacked = true
		case PhaseAck:
			if ks.ack == nil {
				ks.ack = &ops[i]
				continue
			}
			first := ks.ack
			if first.EntryID != op.EntryID || first.Payment != op.Payment || first.RefundID != op.RefundID {
				c.fail("key %s acknowledged twice with different results: %+v and %+v", op.Key, *first, op)
			}
		}
	}
	for _, k := range order {
		ks := keys[k]
		if ks.ack == nil {
			nacked++
			op := ks.op
			var found bool
			switch op.Kind {
			case KindCredit, KindDebit:
				_, found = entryByKey[op.Customer+"\x00"+k]
			case KindCharge:
				_, found = payByKey[op.Customer+"\x00"+k]
			case KindRefund:
				_, found = refundByKey[op.Payment+"\x00"+k]
			}
			if found {
				c.fail("%s %s was refused (%s) but is in the store", op.Kind, k, op.Err)
			}
			continue
		}
		acked++
		op := *ks.ack
		switch op.Kind {
		case KindCredit, KindDebit:
			e, ok := entryByKey[op.Customer+"\x00"+k]
			switch {
			case !ok:
				c.fail("acknowledged %s %s (entry %s) is not in the store", op.Kind, k, op.EntryID)
			case e.ID != op.EntryID || e.Amount != op.Amount || string(e.Type) != op.Kind || e.Currency != op.Currency:
				c.fail("acknowledged %s %s %d %s (entry %s) is in the store as %s %s %d %s", op.Kind, k, op.Amount, op.Currency,
					op.EntryID, e.ID, e.Type, e.Amount, e.Currency)
			case !op.Replayed && e.BalanceAfter != op.BalanceAfter:
				c.fail("acknowledged %s %s left balance %d, the entry says %d", op.Kind, k, op.BalanceAfter, e.BalanceAfter)
			}
		case KindCharge:
			p, ok := payByKey[op.Customer+"\x00"+k]
			switch {
			case !ok:
				c.fail("acknowledged charge %s (payment %s) is not in the store", k, op.Payment)
			case p.ID != op.Payment || p.Amount != op.Amount || p.Amount != op.Total || p.WalletAmount != op.WalletAmount ||
				p.ProcessorAmount != op.ProcessorAmount || p.SubscriptionID != op.Sub:
				c.fail("acknowledged charge %s %+v is in the store as %s %d (wallet %d, processor %d) on %s", k, op,
					p.ID, p.Amount, p.WalletAmount, p.ProcessorAmount, p.SubscriptionID)
			case op.Status == string(subscription.PaymentSucceeded) && !paid(p),
				op.Status == string(subscription.PaymentFailed) && p.Status != subscription.PaymentFailed:
				c.fail("charge %s was acknowledged %s, payment %s is %s", k, op.Status, p.ID, p.Status)
			}
		case KindRefund:
			r, ok := refundByKey[op.Payment+"\x00"+k]
			switch {
			case !ok:
				c.fail("acknowledged refund %s (%s) is not in the store", k, op.RefundID)
			case r.ID != op.RefundID || r.Amount != op.Total || (op.Amount != 0 && r.Amount != op.Amount) ||
				r.WalletAmount != op.WalletAmount || string(r.Destination) != op.Dest:
				c.fail("acknowledged refund %s %+v is in the store as %+v", k, op, r)
			case op.Status == string(subscription.RefundSucceeded) && r.Status != subscription.RefundSucceeded:
				c.fail("refund %s was acknowledged succeeded, %s is %s", k, r.ID, r.Status)
			}
		}
	}
	return acked, nacked
}

func (c *checker) customerAck(snap *snapshot, op Op) {
	if _, ok := snap.customers[op.Customer]; !ok {
		c.fail("acknowledged customer %s is not in the store", op.Customer)
		return
	}
	for _, id := range []string{op.SubOK, op.SubDecl} {
		s, ok := snap.subs[id]
		if !ok || s.CustomerID != op.Customer || s.MandateAuthorizedAt.IsZero() {
			c.fail("acknowledged subscription %s of %s: %+v", id, op.Customer, s)
		}
	}
	if p, ok := snap.payByKey[op.Customer+"\x00initial:"+op.SubOK]; !ok || p.SubscriptionID != op.SubOK {
		c.fail("acknowledged subscription %s of %s has no initial charge", op.SubOK, op.Customer)
	}
}
