package ledger_test

import (
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/wallet"
)

// walletModel drives one wallet through the posting rules and tracks what
// the invariants are checked against.
type walletModel struct {
	t        *testing.T
	rng      *rand.Rand
	b        wallet.Balance
	pending  []ledger.Hold // pending holds
	finished []ledger.Hold // captured or released holds, for retry attempts
	entries  []ledger.Entry
	credits  int64
	debits   int64
	now      time.Time
	seq      int
}

func (m *walletModel) nextID(prefix string) string {
	m.seq++
	return fmt.Sprintf("%s_%d", prefix, m.seq)
}

// amount draws a positive amount, sometimes beyond the available balance.
func (m *walletModel) amount() int64 {
	switch m.rng.Intn(4) {
	case 0:
		return 1 + m.rng.Int63n(10)
	case 1:
		return 1 + m.rng.Int63n(m.b.Available()+1)
	case 2:
		return m.b.Available() + 1 + m.rng.Int63n(50) // always too much
	default:
		return 1 + m.rng.Int63n(100_000)
	}
}

func (m *walletModel) step(op int) string {
	m.now = m.now.Add(time.Second)
	before := m.b
	switch op {
	case 0, 1: // credit
		n := m.amount()
		e, after, err := ledger.Post(m.b, ledger.Request{Amount: n, Currency: "USD", Type: ledger.Credit, Reason: "credit"}, m.nextID("ent"), m.now)
		if err != nil {
			m.t.Fatalf("credit %d: %v", n, err)
		}
		m.credits += n
		m.posted(e, after)
		return fmt.Sprintf("credit %d", n)
	case 2, 3: // debit, possibly beyond the available balance
		n := m.amount()
		e, after, err := ledger.Post(m.b, ledger.Request{Amount: n, Currency: "USD", Type: ledger.Debit, Reason: "debit"}, m.nextID("ent"), m.now)
		if n > before.Available() {
			if !errors.Is(err, wallet.ErrInsufficientFunds) || after != before {
				m.t.Fatalf("debit %d of %d available: err %v, balance %+v", n, before.Available(), err, after)
			}
			return fmt.Sprintf("debit %d refused", n)
		}
		if err != nil {
			m.t.Fatalf("debit %d of %d available: %v", n, before.Available(), err)
		}
		m.debits += n
		m.posted(e, after)
		return fmt.Sprintf("debit %d", n)
	case 4, 5: // place a hold
		n := m.amount()
		h, after, err := ledger.PlaceHold(m.b, m.nextID("hold"), n, ledger.Reference{Type: ledger.RefPayment, ID: "pay"}, m.now)
		if n > before.Available() {
			if !errors.Is(err, wallet.ErrInsufficientFunds) || after != before {
				m.t.Fatalf("hold %d of %d available: err %v, balance %+v", n, before.Available(), err, after)
			}
			return fmt.Sprintf("hold %d refused", n)
		}
		if err != nil {
			m.t.Fatalf("hold %d: %v", n, err)
		}
		if after.Amount != before.Amount || after.Held != before.Held+n {
			m.t.Fatalf("hold %d: %+v -> %+v", n, before, after)
		}
		m.b = after
		m.pending = append(m.pending, h)
		return fmt.Sprintf("hold %d", n)
	case 6: // capture a pending hold
		if len(m.pending) == 0 {
			return "no hold to capture"
		}
		i := m.rng.Intn(len(m.pending))
		h := m.pending[i]
		done, e, after, err := ledger.CaptureHold(m.b, h, m.nextID("ent"), "capture", m.now)
		if err != nil {
			m.t.Fatalf("capture %+v: %v", h, err)
		}
		if done.Status != ledger.HoldCaptured || done.EntryID != e.ID || e.Amount != h.Amount || e.Type != ledger.Debit {
			m.t.Fatalf("capture: hold %+v entry %+v", done, e)
		}
		if after.Held != before.Held-h.Amount {
			m.t.Fatalf("capture %d: held %d -> %d", h.Amount, before.Held, after.Held)
		}
		m.debits += h.Amount
		m.posted(e, after)
		m.pending = append(m.pending[:i], m.pending[i+1:]...)
		m.finished = append(m.finished, done)
		return fmt.Sprintf("capture %d", h.Amount)
	case 7: // release a pending hold
		if len(m.pending) == 0 {
			return "no hold to release"
		}
		i := m.rng.Intn(len(m.pending))
		h := m.pending[i]
		done, after, err := ledger.ReleaseHold(m.b, h, m.now)
		if err != nil || done.Status != ledger.HoldReleased {
			m.t.Fatalf("release %+v: %v", h, err)
		}
		if after.Amount != before.Amount || after.Held != before.Held-h.Amount {
			m.t.Fatalf("release %d: %+v -> %+v", h.Amount, before, after)
		}
		m.b = after
		m.pending = append(m.pending[:i], m.pending[i+1:]...)
		m.finished = append(m.finished, done)
		return fmt.Sprintf("release %d", h.Amount)
	case 8: // retry a capture or release of a finished hold: no effect
		if len(m.finished) == 0 {
			return "no finished hold"
		}
		h := m.finished[m.rng.Intn(len(m.finished))]
		var after wallet.Balance
		var err error
		if m.rng.Intn(2) == 0 {
			_, _, after, err = ledger.CaptureHold(m.b, h, m.nextID("ent"), "again", m.now)
		} else {
			_, after, err = ledger.ReleaseHold(m.b, h, m.now)
		}
		if !errors.Is(err, ledger.ErrHoldNotPending) || after != before {
			m.t.Fatalf("retry on %s hold: err %v, %+v -> %+v", h.Status, err, before, after)
		}
		return "retry refused"
	default: // an invalid request: no effect
		req := ledger.Request{Amount: -m.rng.Int63n(5), Currency: "USD", Type: ledger.Debit}
		_, after, err := ledger.Post(m.b, req, m.nextID("ent"), m.now)
		if !errors.Is(err, ledger.ErrInvalidAmount) || after != before {
			m.t.Fatalf("invalid request: err %v, %+v -> %+v", err, before, after)
		}
		return "invalid refused"
	}
}

func (m *walletModel) posted(e ledger.Entry, after wallet.Balance) {
	if e.BalanceBefore != m.b.Amount || e.BalanceAfter != after.Amount || e.BalanceAfter-e.BalanceBefore != e.Signed() {
		m.t.Fatalf("entry %+v does not match balance %+v -> %+v", e, m.b, after)
	}
	if n := len(m.entries); n > 0 && m.entries[n-1].BalanceAfter != e.BalanceBefore {
		m.t.Fatalf("entry chain broken: %+v then %+v", m.entries[n-1], e)
	}
	m.entries = append(m.entries, e)
	m.b = after
}

func (m *walletModel) checkInvariants(desc string) {
	b := m.b
	if m.credits-m.debits != b.Amount {
		m.t.Fatalf("after %s: credits %d - debits %d != amount %d", desc, m.credits, m.debits, b.Amount)
	}
	if b.Amount < 0 || b.Held < 0 || b.Held > b.Amount {
		m.t.Fatalf("after %s: amount %d held %d", desc, b.Amount, b.Held)
	}
	if err := b.Check(); err != nil {
		m.t.Fatalf("after %s: %v", desc, err)
	}
	var held int64
	for _, h := range m.pending {
		held += h.Amount
	}
	if held != b.Held {
		m.t.Fatalf("after %s: pending holds sum to %d, balance holds %d", desc, held, b.Held)
	}
	if n := len(m.entries); n > 0 && m.entries[n-1].BalanceAfter != b.Amount {
		m.t.Fatalf("after %s: last entry ends at %d, balance is %d", desc, m.entries[n-1].BalanceAfter, b.Amount)
	}
}

// TestPropertyRandomSequences runs random interleavings of credits, debits,
// holds, captures and releases with fixed seeds and checks the ledger
// invariants after every step.
func TestPropertyRandomSequences(t *testing.T) {
	const seeds, steps = 64, 1500
	outcomes := map[string]int{}
	for seed := int64(1); seed <= seeds; seed++ {
		m := &walletModel{
			t:   t,
			rng: rand.New(rand.NewSource(seed)),
			b:   wallet.Balance{CustomerID: "cus_p", Currency: "USD", UpdatedAt: t0},
			now: t0,
		}
		for i := 0; i < steps; i++ {
			desc := m.step(m.rng.Intn(10))
			outcomes[desc[:strings.IndexByte(desc+" ", ' ')]+strings.Repeat(" refused", strings.Count(desc, "refused"))]++
			m.checkInvariants(fmt.Sprintf("seed %d step %d (%s)", seed, i, desc))
		}
		// Replaying the entries from zero gives the balance.
		var sum int64
		for i, e := range m.entries {
			if e.BalanceBefore != sum {
				t.Fatalf("seed %d: entry %d starts at %d, replay is at %d", seed, i, e.BalanceBefore, sum)
			}
			sum += e.Signed()
		}
		if sum != m.b.Amount {
			t.Fatalf("seed %d: replay %d != balance %d", seed, sum, m.b.Amount)
		}
		// Releasing every remaining hold makes the whole balance available.
		for len(m.pending) > 0 {
			m.step(7)
		}
		m.checkInvariants(fmt.Sprintf("seed %d: all released", seed))
		if m.b.Held != 0 || m.b.Available() != m.b.Amount {
			t.Fatalf("seed %d: after releasing all holds %+v", seed, m.b)
		}
	}
	// Every kind of step, accepted and refused, was exercised.
	for _, k := range []string{"credit", "debit", "debit refused", "hold", "hold refused", "capture", "release",
		"retry refused", "invalid refused"} {
		if outcomes[k] < 100 {
			t.Errorf("only %d %q steps: %v", outcomes[k], k, outcomes)
		}
	}
	t.Logf("outcomes: %v", outcomes)
}
