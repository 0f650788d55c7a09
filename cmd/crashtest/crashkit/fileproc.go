// Package crashkit is the machinery of coffer's crash and soak tests: a
// payment processor whose record survives a killed process (FileProcessor),
// the journal of acknowledged operations a client keeps (Journal), the mixed
// workload (Runner), the invariant checker (Check) and the kill loop
// (Drive). cmd/crashtest and the root package's crash and soak tests share
// it, so a failure seen in CI can be replayed by hand with the command.
package crashkit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/cofferhq/coffer/processor"
)

// FileProcessor is a deterministic processor.Processor that records every
// mandate, charge and refund it acts on as one JSON line appended to a file
// (fsynced, unless opened with NoSync, before the call returns). A process
// that opens the file later sees everything an earlier, killed process was
// charged, which is what Reconcile needs after a crash: processor.Test
// keeps its record in memory and forgets it with the process.
//
// Behaviour follows the processor.Test tokens: processor.CardOK charges
// succeed, CardInsufficientFunds and CardIssuerUnavailable charges are
// declined with their code, CardNetworkError charges are never received
// (ErrUnavailable, nothing recorded), and the hard-decline tokens fail the
// mandate. Every call is idempotent by its key. It is safe for concurrent
// use within a process; two processes must not write the file at once.
type FileProcessor struct {
	mu       sync.Mutex
	f        *os.File
	noSync   bool
	delay    time.Duration
	mandates map[string]procRecord // by key
	mandByID map[string]string     // id -> key
	charges  map[string]procRecord // by key (the payment id)
	chByID   map[string]string     // id -> key
	refunds  map[string]procRecord // by key (the refund id)
	refunded map[string]int64      // charge id -> refunded total
}

var _ processor.Processor = (*FileProcessor)(nil)

// procRecord is one line of the processor's file.
type procRecord struct {
	T        string `json:"t"` // mandate, charge, refund
	Key      string `json:"key"`
	ID       string `json:"id"`
	Status   string `json:"status,omitempty"`
	Decline  string `json:"decline,omitempty"`
	PM       string `json:"pm,omitempty"`
	ChargeID string `json:"charge_id,omitempty"`
	Amount   int64  `json:"amount,omitempty"`
	Currency string `json:"currency,omitempty"`
}

// ProcOption configures OpenFileProcessor.
type ProcOption func(*FileProcessor)

// NoSync skips the fsync after each record. A killed process loses nothing
// written (the kernel keeps it); only a machine crash would, so the soak
// test, which kills nothing, uses it to stay fast.
func NoSync() ProcOption { return func(p *FileProcessor) { p.noSync = true } }

// Delay makes each new charge and refund wait d after it is recorded and
// before it answers, as a slow network would: it widens the window in which
// a kill lands between the processor acting and coffer recording the
// outcome, the window Reconcile exists for.
func Delay(d time.Duration) ProcOption { return func(p *FileProcessor) { p.delay = d } }

// OpenFileProcessor opens (creating if needed) the processor file at path
// and loads its record. A torn last line (the writer was killed in the
// middle of it) is cut off, since that call never answered.
func OpenFileProcessor(path string, opts ...ProcOption) (*FileProcessor, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	p := &FileProcessor{f: f, mandates: map[string]procRecord{}, mandByID: map[string]string{},
		charges: map[string]procRecord{}, chByID: map[string]string{}, refunds: map[string]procRecord{},
		refunded: map[string]int64{}}
	for _, o := range opts {
		o(p)
	}
	lines, err := readLines(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("crashkit: processor file %s: %w", path, err)
	}
	for i, l := range lines {
		var r procRecord
		if err := json.Unmarshal(l, &r); err != nil {
			f.Close()
			return nil, fmt.Errorf("crashkit: processor file %s line %d: %w", path, i+1, err)
		}
		p.apply(r)
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		f.Close()
		return nil, err
	}
	return p, nil
}

// readLines returns the complete lines of f and truncates f after the last
// newline, dropping a torn tail.
func readLines(f *os.File) ([][]byte, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	end := bytes.LastIndexByte(data, '\n') + 1
	if end < len(data) {
		if err := f.Truncate(int64(end)); err != nil {
			return nil, err
		}
	}
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data[:end]))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		out = append(out, bytes.Clone(sc.Bytes()))
	}
	return out, sc.Err()
}

func (p *FileProcessor) apply(r procRecord) {
	switch r.T {
	case "mandate":
		p.mandates[r.Key] = r
		p.mandByID[r.ID] = r.Key
	case "charge":
		p.charges[r.Key] = r
		p.chByID[r.ID] = r.Key
	case "refund":
		p.refunds[r.Key] = r
		p.refunded[r.ChargeID] += r.Amount
	}
}

// record appends r durably, then applies it. Callers hold p.mu.
func (p *FileProcessor) record(r procRecord) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := p.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("%w: writing record: %v", processor.ErrUnavailable, err)
	}
	if !p.noSync {
		if err := p.f.Sync(); err != nil {
			return fmt.Errorf("%w: syncing record: %v", processor.ErrUnavailable, err)
		}
	}
	p.apply(r)
	return nil
}

// Close closes the file.
func (p *FileProcessor) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.f.Close()
}

var hardDeclines = map[string]string{
	processor.CardDoNotHonor: processor.DoNotHonor, processor.CardStolen: processor.StolenCard,
	processor.CardLost: processor.LostCard, processor.CardPickup: processor.PickupCard,
	processor.CardFraudulent: processor.Fraudulent, processor.CardAuthenticationFailure: processor.AuthenticationFailure,
}

var chargeDeclines = map[string]string{
	processor.CardOK: "", processor.CardInsufficientFunds: processor.InsufficientFunds,
	processor.CardIssuerUnavailable: processor.IssuerUnavailable,
}

// AuthorizeMandate authorises every known token except the hard-decline
// ones, which fail. Idempotent by the subscription id.
func (p *FileProcessor) AuthorizeMandate(ctx context.Context, req processor.MandateRequest) (processor.Mandate, error) {
	if err := ctx.Err(); err != nil {
		return processor.Mandate{}, err
	}
	if req.IdempotencyKey == "" {
		return processor.Mandate{}, fmt.Errorf("%w: mandate key is required", processor.ErrInvalidRequest)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if r, ok := p.mandates[req.IdempotencyKey]; ok {
		return mandateOf(r), nil
	}
	r := procRecord{T: "mandate", Key: req.IdempotencyKey, ID: "mdt_" + req.IdempotencyKey, PM: req.PaymentMethod,
		Status: string(processor.MandateAuthorized)}
	if code, hard := hardDeclines[req.PaymentMethod]; hard {
		r.Status, r.Decline = string(processor.MandateFailed), code
	} else if _, ok := chargeDeclines[req.PaymentMethod]; !ok && req.PaymentMethod != processor.CardNetworkError {
		return processor.Mandate{}, fmt.Errorf("%w: %q", processor.ErrUnknownPaymentMethod, req.PaymentMethod)
	}
	if err := p.record(r); err != nil {
		return processor.Mandate{}, err
	}
	return mandateOf(r), nil
}

func mandateOf(r procRecord) processor.Mandate {
	return processor.Mandate{ID: r.ID, Status: processor.MandateStatus(r.Status), DeclineCode: r.Decline}
}

// MandateStatus returns a recorded mandate.
func (p *FileProcessor) MandateStatus(ctx context.Context, mandateID string) (processor.Mandate, error) {
	if err := ctx.Err(); err != nil {
		return processor.Mandate{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	key, ok := p.mandByID[mandateID]
	if !ok {
		return processor.Mandate{}, fmt.Errorf("%w: %q", processor.ErrMandateNotFound, mandateID)
	}
	return mandateOf(p.mandates[key]), nil
}

// Charge charges once per key (the payment id), with the outcome of the
// token, and records the charge before it answers.
func (p *FileProcessor) Charge(ctx context.Context, req processor.ChargeRequest) (processor.Charge, error) {
	if err := ctx.Err(); err != nil {
		return processor.Charge{}, err
	}
	if req.IdempotencyKey == "" || req.Amount <= 0 || req.Currency == "" {
		return processor.Charge{}, fmt.Errorf("%w: charge %+v", processor.ErrInvalidRequest, req)
	}
	p.mu.Lock()
	if r, ok := p.charges[req.IdempotencyKey]; ok {
		p.mu.Unlock()
		if r.Amount != req.Amount || r.Currency != req.Currency {
			return processor.Charge{}, fmt.Errorf("%w: charge key %q was %d %s, now %d %s", processor.ErrIdempotencyMismatch,
				req.IdempotencyKey, r.Amount, r.Currency, req.Amount, req.Currency)
		}
		return chargeOf(r), nil
	}
	if req.PaymentMethod == processor.CardNetworkError {
		p.mu.Unlock()
		return processor.Charge{}, fmt.Errorf("%w: network error charging %q (not received)", processor.ErrUnavailable, req.IdempotencyKey)
	}
	decline, ok := chargeDeclines[req.PaymentMethod]
	if !ok {
		decline, ok = hardDeclines[req.PaymentMethod]
	}
	if !ok {
		p.mu.Unlock()
		return processor.Charge{}, fmt.Errorf("%w: %q", processor.ErrUnknownPaymentMethod, req.PaymentMethod)
	}
	r := procRecord{T: "charge", Key: req.IdempotencyKey, ID: "ch_" + req.IdempotencyKey, Status: string(processor.ChargeSucceeded),
		Decline: decline, PM: req.PaymentMethod, Amount: req.Amount, Currency: req.Currency}
	if decline != "" {
		r.Status = string(processor.ChargeFailed)
	}
	err := p.record(r)
	p.mu.Unlock()
	if err != nil {
		return processor.Charge{}, err
	}
	if p.delay > 0 {
		time.Sleep(p.delay)
	}
	return chargeOf(r), nil
}

func chargeOf(r procRecord) processor.Charge {
	return processor.Charge{ID: r.ID, IdempotencyKey: r.Key, Status: processor.ChargeStatus(r.Status),
		DeclineCode: r.Decline, Amount: r.Amount, Currency: r.Currency}
}

// LookupCharge returns the charge recorded under key, or ErrNotFound.
func (p *FileProcessor) LookupCharge(ctx context.Context, key string) (processor.Charge, error) {
	if err := ctx.Err(); err != nil {
		return processor.Charge{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.charges[key]
	if !ok {
		return processor.Charge{}, fmt.Errorf("%w: %q", processor.ErrNotFound, key)
	}
	return chargeOf(r), nil
}

// Refund refunds a succeeded charge once per key (the refund id), never
// beyond the charge's amount.
func (p *FileProcessor) Refund(ctx context.Context, req processor.RefundRequest) (processor.Refund, error) {
	if err := ctx.Err(); err != nil {
		return processor.Refund{}, err
	}
	if req.IdempotencyKey == "" || req.Amount <= 0 {
		return processor.Refund{}, fmt.Errorf("%w: refund %+v", processor.ErrInvalidRequest, req)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if r, ok := p.refunds[req.IdempotencyKey]; ok {
		if r.ChargeID != req.ChargeID || r.Amount != req.Amount {
			return processor.Refund{}, fmt.Errorf("%w: refund key %q", processor.ErrIdempotencyMismatch, req.IdempotencyKey)
		}
		return processor.Refund{ID: r.ID, Amount: r.Amount}, nil
	}
	key, ok := p.chByID[req.ChargeID]
	if !ok {
		return processor.Refund{}, fmt.Errorf("%w: %q", processor.ErrUnknownCharge, req.ChargeID)
	}
	ch := p.charges[key]
	if ch.Status != string(processor.ChargeSucceeded) {
		return processor.Refund{}, fmt.Errorf("%w: %q", processor.ErrNotRefundable, ch.ID)
	}
	if req.Currency != "" && req.Currency != ch.Currency {
		return processor.Refund{}, fmt.Errorf("%w: refund in %s of a charge in %s", processor.ErrInvalidRequest, req.Currency, ch.Currency)
	}
	if req.Amount > ch.Amount-p.refunded[ch.ID] {
		return processor.Refund{}, fmt.Errorf("%w: %d of %q", processor.ErrRefundExceedsCharge, req.Amount, ch.ID)
	}
	r := procRecord{T: "refund", Key: req.IdempotencyKey, ID: "rf_" + req.IdempotencyKey, ChargeID: ch.ID,
		Amount: req.Amount, Currency: ch.Currency}
	if err := p.record(r); err != nil {
		return processor.Refund{}, err
	}
	if p.delay > 0 {
		p.mu.Unlock()
		time.Sleep(p.delay)
		p.mu.Lock()
	}
	return processor.Refund{ID: r.ID, Amount: r.Amount}, nil
}

// ProcCharge is a charge the FileProcessor made.
type ProcCharge struct {
	Key, ID, Status, Decline, Currency string
	Amount                             int64
}

// ProcRefund is a refund the FileProcessor made.
type ProcRefund struct {
	Key, ID, ChargeID string
	Amount            int64
}

// Record returns every charge and refund made, sorted by key, for the
// checker to match against the store.
func (p *FileProcessor) Record() ([]ProcCharge, []ProcRefund) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var cs []ProcCharge
	for _, r := range p.charges {
		cs = append(cs, ProcCharge{Key: r.Key, ID: r.ID, Status: r.Status, Decline: r.Decline, Currency: r.Currency, Amount: r.Amount})
	}
	var rs []ProcRefund
	for _, r := range p.refunds {
		rs = append(rs, ProcRefund{Key: r.Key, ID: r.ID, ChargeID: r.ChargeID, Amount: r.Amount})
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].Key < cs[j].Key })
	sort.Slice(rs, func(i, j int) bool { return rs[i].Key < rs[j].Key })
	return cs, rs
}
