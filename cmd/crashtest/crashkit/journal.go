package crashkit

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"
)

// Op kinds.
const (
	KindCustomer = "customer" // a customer with an ok and a declining subscription; Key is "customer:<id>"
	KindCredit   = "credit"
	KindDebit    = "debit"
	KindCharge   = "charge"
	KindRefund   = "refund"
)

// Op phases. A client writes an intent before it calls the engine and an
// ack (the call succeeded) or a nack (the call was refused and changed
// nothing) after it returns. An intent without either is an operation whose
// outcome the client does not know; the next child retries it with the same
// idempotency key, as a real client would after a crash.
const (
	PhaseIntent = "intent"
	PhaseAck    = "ack"
	PhaseNack   = "nack"
)

// Op is one line of the journal: the request and, on an ack, the result.
type Op struct {
	Phase string `json:"phase"`
	Kind  string `json:"kind"`
	Run   int    `json:"run"`
	// Key is the idempotency key and the op's identity in the journal.
	Key      string `json:"key,omitempty"`
	Customer string `json:"customer,omitempty"`
	Currency string `json:"currency,omitempty"`
	Amount   int64  `json:"amount,omitempty"` // credit/debit amount, charge price, refund amount (0: all)
	Sub      string `json:"sub,omitempty"`
	Payment  string `json:"payment,omitempty"`  // refund: the payment refunded; charge ack: the payment
	Dest     string `json:"dest,omitempty"`     // refund destination
	SubOK    string `json:"sub_ok,omitempty"`   // customer ack
	SubDecl  string `json:"sub_decl,omitempty"` // customer ack
	Err      string `json:"err,omitempty"`      // nack reason

	// Results.
	EntryID         string `json:"entry_id,omitempty"`
	BalanceAfter    int64  `json:"balance_after,omitempty"`
	Status          string `json:"status,omitempty"`
	WalletAmount    int64  `json:"wallet_amount,omitempty"`
	ProcessorAmount int64  `json:"processor_amount,omitempty"`
	Total           int64  `json:"total,omitempty"` // charge/refund: the recorded amount
	RefundID        string `json:"refund_id,omitempty"`
	Replayed        bool   `json:"replayed,omitempty"`
}

// Journal records ops. Implementations are safe for concurrent use.
type Journal interface {
	// Write appends op; durable says the write must reach the disk before
	// Write returns (acks do; intents need not, since only a kill of the
	// process, not of the machine, is simulated).
	Write(op Op, durable bool) error
}

// FileJournal is a Journal in a file of JSON lines.
type FileJournal struct {
	mu sync.Mutex
	f  *os.File
}

// OpenJournal opens the journal at path for appending, creating it, and
// returns the ops already in it. A torn last line (the previous writer was
// killed in the middle of it) is cut off first.
func OpenJournal(path string) (*FileJournal, []Op, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, err
	}
	ops, err := readOps(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("crashkit: journal %s: %w", path, err)
	}
	return &FileJournal{f: f}, ops, nil
}

// ReadJournal returns the complete ops of the journal at path without
// changing the file.
func ReadJournal(path string) ([]Op, error) {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ops []Op
	for i, start := 0, 0; i < len(data); i++ {
		if data[i] != '\n' {
			continue
		}
		line := data[start:i]
		start = i + 1
		if len(line) == 0 {
			continue
		}
		var op Op
		if err := json.Unmarshal(line, &op); err != nil {
			return nil, fmt.Errorf("crashkit: journal %s: %w", path, err)
		}
		ops = append(ops, op)
	}
	return ops, nil
}

func readOps(f *os.File) ([]Op, error) {
	lines, err := readLines(f)
	if err != nil {
		return nil, err
	}
	ops := make([]Op, 0, len(lines))
	for i, l := range lines {
		var op Op
		if err := json.Unmarshal(l, &op); err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		ops = append(ops, op)
	}
	if _, err := f.Seek(0, 2); err != nil {
		return nil, err
	}
	return ops, nil
}

// Write appends one line; durable lines are fsynced.
func (j *FileJournal) Write(op Op, durable bool) error {
	b, err := json.Marshal(op)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return err
	}
	if durable {
		return j.f.Sync()
	}
	return nil
}

// Close closes the file.
func (j *FileJournal) Close() error { return j.f.Close() }

// MemJournal is a Journal in memory, for the in-process soak.
type MemJournal struct {
	mu  sync.Mutex
	ops []Op
}

// Write appends op.
func (j *MemJournal) Write(op Op, _ bool) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.ops = append(j.ops, op)
	return nil
}

// Ops returns a copy of the ops written.
func (j *MemJournal) Ops() []Op {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]Op(nil), j.ops...)
}

// Unfinished returns the intents that have neither an ack nor a nack, in
// journal order, one per key.
func Unfinished(ops []Op) []Op {
	done := map[string]bool{}
	for _, op := range ops {
		if op.Key != "" && op.Phase != PhaseIntent {
			done[op.Key] = true
		}
	}
	seen := map[string]bool{}
	var out []Op
	for _, op := range ops {
		if op.Phase == PhaseIntent && op.Key != "" && !done[op.Key] && !seen[op.Key] {
			seen[op.Key] = true
			out = append(out, op)
		}
	}
	return out
}
