package bolt

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cofferhq/coffer/apikey"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
	"github.com/cofferhq/coffer/webhook"
)

// Every stored value starts with a format byte, so a later release can change
// an encoding and still read files written by this one.
const (
	formatBinary byte = 1 // hand-written varint encoding (hot records)
	formatJSON   byte = 2 // encoding/json of the record or its wrapper
)

// errCorrupt reports a value that cannot be decoded: a damaged file or a
// file written by an incompatible release.
var errCorrupt = errors.New("bolt: corrupt record")

// ---- keys ----

// seqKey is the 8-byte big-endian form of a store sequence, so byte order is
// insertion order.
func seqKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), seq)
}

// scope builds a key prefix from parts, each length-prefixed so no part can
// run into the next whatever bytes it holds, and no scope of a bucket is a
// prefix of another scope of the same bucket.
func scope(parts ...string) []byte {
	n := 0
	for _, p := range parts {
		n += len(p) + binary.MaxVarintLen16
	}
	b := make([]byte, 0, n+8)
	for _, p := range parts {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	return b
}

// timeKeyLen is the length of a timeKey.
const timeKeyLen = 12

// appendTime appends a 12-byte key that sorts like t: big-endian Unix seconds
// with the sign bit flipped, then big-endian nanoseconds. Unlike UnixNano it
// covers every time.Time, including the zero time.
func appendTime(b []byte, t time.Time) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(t.Unix())^(1<<63))
	return binary.BigEndian.AppendUint32(b, uint32(t.Nanosecond()))
}

// appendSeq appends the 8-byte form of seq to a copy-free prefix.
func appendSeq(b []byte, seq uint64) []byte { return binary.BigEndian.AppendUint64(b, seq) }

// seqOfKey reads the sequence every index key ends with.
func seqOfKey(k []byte) uint64 { return binary.BigEndian.Uint64(k[len(k)-8:]) }

// ---- binary encoding ----

type encoder struct{ b []byte }

func (e *encoder) str(s string) {
	e.b = binary.AppendUvarint(e.b, uint64(len(s)))
	e.b = append(e.b, s...)
}

// bytes keeps nil apart from empty: json.RawMessage(nil) and "" differ.
func (e *encoder) bytes(p []byte) {
	if p == nil {
		e.b = append(e.b, 0)
		return
	}
	e.b = binary.AppendUvarint(e.b, uint64(len(p))+1)
	e.b = append(e.b, p...)
}

func (e *encoder) int(v int64) { e.b = binary.AppendVarint(e.b, v) }

func (e *encoder) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

func (e *encoder) time(t time.Time) {
	e.int(t.Unix())
	e.b = binary.AppendUvarint(e.b, uint64(t.Nanosecond()))
}

// zeroableTime writes a time that is often the zero time (a deadline not
// set) as one byte when it is.
func (e *encoder) zeroableTime(t time.Time) {
	if t.IsZero() {
		e.b = append(e.b, 0)
		return
	}
	e.b = append(e.b, 1)
	e.time(t)
}

// meta writes a metadata map: its size, then each key and value.
func (e *encoder) meta(m map[string]string) {
	e.b = binary.AppendUvarint(e.b, uint64(len(m)))
	for k, v := range m {
		e.str(k)
		e.str(v)
	}
}

// decoder reads what encoder wrote. Every value it returns is a copy: the
// input is bbolt memory, valid only inside the transaction.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
	d.b = nil
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) int() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	s := string(d.b[:n]) // copies
	d.b = d.b[n:]
	return s
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n == 0 {
		return nil
	}
	n--
	if n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	p := make([]byte, n)
	copy(p, d.b)
	d.b = d.b[n:]
	return p
}

func (d *decoder) bool() bool {
	if len(d.b) == 0 {
		d.fail()
		return false
	}
	v := d.b[0] != 0
	d.b = d.b[1:]
	return v
}

func (d *decoder) time() time.Time {
	sec := d.int()
	nsec := d.uvarint()
	if d.err != nil {
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

func (d *decoder) zeroableTime() time.Time {
	if !d.bool() {
		return time.Time{}
	}
	return d.time()
}

// meta reads what encoder.meta wrote. As the JSON form did (omitempty),
// an empty map reads back nil.
func (d *decoder) meta() map[string]string {
	n := d.uvarint()
	if n == 0 {
		return nil
	}
	if n > uint64(len(d.b)) { // each pair takes two bytes at least
		d.fail()
		return nil
	}
	m := make(map[string]string, n)
	for range n {
		k := d.str()
		m[k] = d.str()
	}
	return m
}

func (d *decoder) done(what string) error {
	if d.err == nil && len(d.b) != 0 {
		d.err = errCorrupt
	}
	if d.err != nil {
		return fmt.Errorf("%w: %s", d.err, what)
	}
	return nil
}

func newDecoder(v []byte, format byte, what string) (*decoder, error) {
	if len(v) == 0 || v[0] != format {
		return nil, fmt.Errorf("%w: %s: unknown format", errCorrupt, what)
	}
	return &decoder{b: v[1:]}, nil
}

// ---- hot records: ledger entries, balances, events ----

func encodeEntry(e ledger.Entry) []byte {
	enc := encoder{b: make([]byte, 0, 64+len(e.ID)+len(e.CustomerID)+len(e.Reason)+len(e.IdempotencyKey)+len(e.Reference.ID)+len(e.Fingerprint))}
	enc.b = append(enc.b, formatBinary)
	enc.str(e.ID)
	enc.str(e.CustomerID)
	enc.str(e.Currency)
	enc.str(string(e.Type))
	enc.int(e.Amount)
	enc.int(e.BalanceBefore)
	enc.int(e.BalanceAfter)
	enc.str(e.Reason)
	enc.str(e.IdempotencyKey)
	enc.str(string(e.Reference.Type))
	enc.str(e.Reference.ID)
	enc.str(e.Fingerprint)
	enc.time(e.CreatedAt)
	return enc.b
}

func decodeEntry(v []byte) (ledger.Entry, error) {
	d, err := newDecoder(v, formatBinary, "entry")
	if err != nil {
		return ledger.Entry{}, err
	}
	var e ledger.Entry
	e.ID = d.str()
	e.CustomerID = d.str()
	e.Currency = d.str()
	e.Type = ledger.Type(d.str())
	e.Amount = d.int()
	e.BalanceBefore = d.int()
	e.BalanceAfter = d.int()
	e.Reason = d.str()
	e.IdempotencyKey = d.str()
	e.Reference.Type = ledger.RefType(d.str())
	e.Reference.ID = d.str()
	e.Fingerprint = d.str()
	e.CreatedAt = d.time()
	if err := d.done("entry"); err != nil {
		return ledger.Entry{}, err
	}
	return e, nil
}

func encodeBalance(b wallet.Balance) []byte {
	enc := encoder{b: make([]byte, 0, 48+len(b.CustomerID))}
	enc.b = append(enc.b, formatBinary)
	enc.str(b.CustomerID)
	enc.str(b.Currency)
	enc.int(b.Amount)
	enc.int(b.Held)
	enc.time(b.UpdatedAt)
	enc.int(b.LowThreshold)
	enc.bool(b.Low)
	return enc.b
}

func decodeBalance(v []byte) (wallet.Balance, error) {
	d, err := newDecoder(v, formatBinary, "balance")
	if err != nil {
		return wallet.Balance{}, err
	}
	var b wallet.Balance
	b.CustomerID = d.str()
	b.Currency = d.str()
	b.Amount = d.int()
	b.Held = d.int()
	b.UpdatedAt = d.time()
	b.LowThreshold = d.int()
	b.Low = d.bool()
	if err := d.done("balance"); err != nil {
		return wallet.Balance{}, err
	}
	return b, nil
}

// Event.Seq is not encoded: it is the record's key.
func encodeEvent(e webhook.Event) []byte {
	enc := encoder{b: make([]byte, 0, 32+len(e.ID)+len(e.Type)+len(e.CustomerID)+len(e.Data))}
	enc.b = append(enc.b, formatBinary)
	enc.str(e.ID)
	enc.str(e.Type)
	enc.str(e.CustomerID)
	enc.bytes(e.Data)
	enc.time(e.CreatedAt)
	enc.bool(e.Dispatched)
	return enc.b
}

func decodeEvent(seq uint64, v []byte) (webhook.Event, error) {
	d, err := newDecoder(v, formatBinary, "event")
	if err != nil {
		return webhook.Event{}, err
	}
	e := webhook.Event{Seq: int64(seq)}
	e.ID = d.str()
	e.Type = d.str()
	e.CustomerID = d.str()
	e.Data = d.bytes()
	e.CreatedAt = d.time()
	e.Dispatched = d.bool()
	if err := d.done("event"); err != nil {
		return webhook.Event{}, err
	}
	return e, nil
}

// ---- the other records: JSON ----

// Fingerprints are json:"-" in the API encoding but must survive a restart,
// or an idempotent replay after a restart would look like a conflict.
type paymentJSON struct {
	subscription.Payment
	StoredFingerprint  string    `json:"__fingerprint,omitempty"`
	StoredCollectingBy string    `json:"__collecting_by,omitempty"`
	StoredCallUntil    time.Time `json:"__call_until,omitzero"`
	// Under the key it had when it was in the API JSON, so records
	// written before it left that JSON still read back.
	StoredHoldID string `json:"hold_id,omitempty"`
}

type refundJSON struct {
	subscription.Refund
	StoredFingerprint string `json:"__fingerprint,omitempty"`
}

// Endpoint secrets are json:"-" too, so that no API encoding carries them;
// they are stored under the keys the plain encoding once used, so records
// written before they were hidden read back unchanged.
type endpointJSON struct {
	webhook.Endpoint
	StoredSecret         string `json:"secret"`
	StoredPreviousSecret string `json:"previous_secret,omitempty"`
}

func encodeEndpoint(e webhook.Endpoint) ([]byte, error) {
	return encodeJSON(endpointJSON{Endpoint: e, StoredSecret: e.Secret, StoredPreviousSecret: e.PreviousSecret})
}

func decodeEndpoint(v []byte) (webhook.Endpoint, error) {
	var w endpointJSON
	if err := decodeJSON(v, &w, "endpoint"); err != nil {
		return webhook.Endpoint{}, err
	}
	w.Endpoint.Secret, w.Endpoint.PreviousSecret = w.StoredSecret, w.StoredPreviousSecret
	return w.Endpoint, nil
}

func encodeJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("bolt: encode: %w", err)
	}
	out := make([]byte, 1+len(b))
	out[0] = formatJSON
	copy(out[1:], b)
	return out, nil
}

func decodeJSON(v []byte, dst any, what string) error {
	if len(v) == 0 || v[0] != formatJSON {
		return fmt.Errorf("%w: %s: unknown format", errCorrupt, what)
	}
	if err := json.Unmarshal(v[1:], dst); err != nil {
		return fmt.Errorf("%w: %s: %v", errCorrupt, what, err)
	}
	return nil
}

// Payments are written in the binary format (the charge path reads and
// writes each one twice per charge, and JSON cost most of its CPU);
// payments written as JSON by earlier releases still read back.
func encodePayment(p subscription.Payment) ([]byte, error) {
	n := 96 + len(p.ID) + len(p.CustomerID) + len(p.SubscriptionID) + len(p.PaymentMethod) + len(p.ProcessorID) +
		len(p.HoldID) + len(p.IdempotencyKey) + len(p.Fingerprint) + len(p.Description) + len(p.RetryOf) +
		len(p.SettledBy) + len(p.CollectingBy) + len(p.DeclineCode) + len(p.ProductCurrency) + len(p.FXRate) + len(p.FXSource)
	for k, v := range p.Metadata {
		n += len(k) + len(v) + 4
	}
	enc := encoder{b: make([]byte, 0, n)}
	enc.b = append(enc.b, formatBinary)
	enc.str(p.ID)
	enc.str(p.CustomerID)
	enc.str(p.SubscriptionID)
	enc.str(string(p.Kind))
	enc.int(p.Amount)
	enc.str(p.Currency)
	enc.int(p.WalletAmount)
	enc.int(p.ProcessorAmount)
	enc.int(p.RefundedAmount)
	enc.int(p.WalletRefunded)
	enc.int(p.ProcessorRefunded)
	enc.str(string(p.Status))
	enc.str(p.DeclineCode)
	enc.str(p.PaymentMethod)
	enc.str(p.ProcessorID)
	enc.str(p.HoldID)
	enc.str(p.IdempotencyKey)
	enc.str(p.Fingerprint)
	enc.str(p.Description)
	enc.bool(p.FeesInclusive)
	enc.meta(p.Metadata)
	enc.int(int64(p.RetryAttempt))
	enc.str(p.RetryOf)
	enc.str(p.SettledBy)
	enc.zeroableTime(p.NextRetryAt)
	enc.time(p.CreatedAt)
	enc.time(p.UpdatedAt)
	enc.str(p.CollectingBy)
	enc.zeroableTime(p.CallUntil)
	encodePaymentFX(&enc, p)
	return enc.b, nil
}

// paymentFXTag opens the optional trailing section of a binary payment
// with its adaptive-currency fields (fee, product price before
// conversion, rate). A payment without them is written without it, byte
// for byte as before, and records written before the section existed read
// back with the fields zero.
const paymentFXTag = 0xF1

func encodePaymentFX(enc *encoder, p subscription.Payment) {
	if p.Fee == 0 && p.ProductAmount == 0 && p.ProductCurrency == "" && p.FXRate == "" && p.FXSource == "" &&
		p.FXRateAt.IsZero() {
		return
	}
	enc.b = append(enc.b, paymentFXTag)
	enc.int(p.Fee)
	enc.int(p.ProductAmount)
	enc.str(p.ProductCurrency)
	enc.str(p.FXRate)
	enc.str(p.FXSource)
	enc.zeroableTime(p.FXRateAt)
}

func decodePaymentFX(d *decoder, p *subscription.Payment) {
	if d.err != nil || len(d.b) == 0 || d.b[0] != paymentFXTag {
		return
	}
	d.b = d.b[1:]
	p.Fee = d.int()
	p.ProductAmount = d.int()
	p.ProductCurrency = d.str()
	p.FXRate = d.str()
	p.FXSource = d.str()
	p.FXRateAt = d.zeroableTime()
}

func decodePayment(v []byte) (subscription.Payment, error) {
	if len(v) > 0 && v[0] == formatJSON {
		return decodePaymentJSON(v)
	}
	d, err := newDecoder(v, formatBinary, "payment")
	if err != nil {
		return subscription.Payment{}, err
	}
	var p subscription.Payment
	p.ID = d.str()
	p.CustomerID = d.str()
	p.SubscriptionID = d.str()
	p.Kind = subscription.Kind(d.str())
	p.Amount = d.int()
	p.Currency = d.str()
	p.WalletAmount = d.int()
	p.ProcessorAmount = d.int()
	p.RefundedAmount = d.int()
	p.WalletRefunded = d.int()
	p.ProcessorRefunded = d.int()
	p.Status = subscription.PaymentStatus(d.str())
	p.DeclineCode = d.str()
	p.PaymentMethod = d.str()
	p.ProcessorID = d.str()
	p.HoldID = d.str()
	p.IdempotencyKey = d.str()
	p.Fingerprint = d.str()
	p.Description = d.str()
	p.FeesInclusive = d.bool()
	p.Metadata = d.meta()
	p.RetryAttempt = int(d.int())
	p.RetryOf = d.str()
	p.SettledBy = d.str()
	p.NextRetryAt = d.zeroableTime()
	p.CreatedAt = d.time()
	p.UpdatedAt = d.time()
	p.CollectingBy = d.str()
	p.CallUntil = d.zeroableTime()
	decodePaymentFX(d, &p)
	if err := d.done("payment"); err != nil {
		return subscription.Payment{}, err
	}
	return p, nil
}

// decodePaymentJSON reads a payment written by a release before the
// binary payment format.
func decodePaymentJSON(v []byte) (subscription.Payment, error) {
	var w paymentJSON
	if err := decodeJSON(v, &w, "payment"); err != nil {
		return subscription.Payment{}, err
	}
	w.Payment.Fingerprint, w.Payment.CollectingBy, w.Payment.HoldID = w.StoredFingerprint, w.StoredCollectingBy, w.StoredHoldID
	if !w.StoredCallUntil.IsZero() {
		w.Payment.CallUntil = w.StoredCallUntil.UTC()
	}
	return w.Payment, nil
}

func encodeRefund(r subscription.Refund) ([]byte, error) {
	return encodeJSON(refundJSON{Refund: r, StoredFingerprint: r.Fingerprint})
}

func decodeRefund(v []byte) (subscription.Refund, error) {
	var w refundJSON
	if err := decodeJSON(v, &w, "refund"); err != nil {
		return subscription.Refund{}, err
	}
	w.Refund.Fingerprint = w.StoredFingerprint
	return w.Refund, nil
}

// Lease owners are json:"-" in the API encoding; the wrappers store them
// under the key they had before, so older records read back.
type attemptJSON struct {
	retry.Attempt
	StoredLeaseOwner string `json:"lease_owner,omitempty"`
}

type deliveryJSON struct {
	webhook.Delivery
	StoredLeaseOwner string `json:"lease_owner,omitempty"`
}

func encodeAttempt(a retry.Attempt) ([]byte, error) {
	return encodeJSON(attemptJSON{Attempt: a, StoredLeaseOwner: a.LeaseOwner})
}

func decodeAttempt(v []byte) (retry.Attempt, error) {
	var w attemptJSON
	if err := decodeJSON(v, &w, "attempt"); err != nil {
		return retry.Attempt{}, err
	}
	w.Attempt.LeaseOwner = w.StoredLeaseOwner
	return w.Attempt, nil
}

func encodeDelivery(d webhook.Delivery) ([]byte, error) {
	return encodeJSON(deliveryJSON{Delivery: d, StoredLeaseOwner: d.LeaseOwner})
}

func decodeDelivery(v []byte) (webhook.Delivery, error) {
	var w deliveryJSON
	if err := decodeJSON(v, &w, "delivery"); err != nil {
		return webhook.Delivery{}, err
	}
	w.Delivery.LeaseOwner = w.StoredLeaseOwner
	return w.Delivery, nil
}

// An API key's Hash is json:"-" in the API encoding; the wrapper stores it.
type apiKeyJSON struct {
	apikey.Key
	StoredHash []byte `json:"__hash"`
}

func encodeAPIKey(k apikey.Key) ([]byte, error) {
	return encodeJSON(apiKeyJSON{Key: k, StoredHash: k.Hash})
}

func decodeAPIKey(v []byte) (apikey.Key, error) {
	var w apiKeyJSON
	if err := decodeJSON(v, &w, "api key"); err != nil {
		return apikey.Key{}, err
	}
	w.Key.Hash = w.StoredHash
	return w.Key, nil
}

// Idempotency records are written with every idempotent request: binary.
func encodeIdem(r store.IdemRecord) []byte {
	enc := encoder{b: make([]byte, 0, 48+len(r.Scope)+len(r.Key)+len(r.RequestHash)+len(r.ContentType)+len(r.Body))}
	enc.b = append(enc.b, formatBinary)
	enc.str(r.Scope)
	enc.str(r.Key)
	enc.bytes(r.RequestHash)
	enc.str(string(r.State))
	enc.int(int64(r.Status))
	enc.str(r.ContentType)
	enc.bytes(r.Body)
	enc.time(r.LockedUntil)
	enc.time(r.CreatedAt)
	return enc.b
}

func decodeIdem(v []byte) (store.IdemRecord, error) {
	d, err := newDecoder(v, formatBinary, "idempotency record")
	if err != nil {
		return store.IdemRecord{}, err
	}
	var r store.IdemRecord
	r.Scope = d.str()
	r.Key = d.str()
	r.RequestHash = d.bytes()
	r.State = store.IdemState(d.str())
	r.Status = int(d.int())
	r.ContentType = d.str()
	r.Body = d.bytes()
	r.LockedUntil = d.time()
	r.CreatedAt = d.time()
	if err := d.done("idempotency record"); err != nil {
		return store.IdemRecord{}, err
	}
	return r, nil
}

// decodeAs decodes a plain JSON record.
func decodeAs[T any](what string) func([]byte) (T, error) {
	return func(v []byte) (T, error) {
		var r T
		if err := decodeJSON(v, &r, what); err != nil {
			var zero T
			return zero, err
		}
		return r, nil
	}
}

// Subscriptions are written in the binary format too (a charge reads one
// twice and rewrites it); subscriptions written as JSON still read back.
func encodeSubscription(s subscription.Subscription) ([]byte, error) {
	n := 96 + len(s.ID) + len(s.CustomerID) + len(s.ProductID) + len(s.PaymentMethod) + len(s.MandateID) +
		len(s.PaymentLink) + len(s.ReturnURL) + len(s.Description) + len(s.DeclineCode)
	for k, v := range s.Metadata {
		n += len(k) + len(v) + 4
	}
	enc := encoder{b: make([]byte, 0, n)}
	enc.b = append(enc.b, formatBinary)
	enc.str(s.ID)
	enc.str(s.CustomerID)
	enc.str(s.ProductID)
	enc.int(int64(s.Quantity))
	enc.str(string(s.Status))
	enc.str(s.PaymentMethod)
	enc.str(s.MandateID)
	enc.zeroableTime(s.MandateAuthorizedAt)
	enc.str(s.PaymentLink)
	enc.str(s.ReturnURL)
	enc.bool(s.BillingAddress != nil)
	if a := s.BillingAddress; a != nil {
		enc.str(a.Line1)
		enc.str(a.Line2)
		enc.str(a.City)
		enc.str(a.State)
		enc.str(a.PostalCode)
		enc.str(a.Country)
	}
	enc.int(s.Price)
	enc.str(s.Currency)
	enc.str(s.Description)
	enc.bool(s.FeesInclusive)
	enc.bool(s.MandateOnly)
	enc.meta(s.Metadata)
	enc.str(s.DeclineCode)
	enc.zeroableTime(s.LastPaymentAt)
	enc.time(s.CreatedAt)
	enc.time(s.UpdatedAt)
	enc.zeroableTime(s.CancelledAt)
	return enc.b, nil
}

var decodeSubscriptionJSON = decodeAs[subscription.Subscription]("subscription")

func decodeSubscription(v []byte) (subscription.Subscription, error) {
	if len(v) > 0 && v[0] == formatJSON {
		return decodeSubscriptionJSON(v)
	}
	d, err := newDecoder(v, formatBinary, "subscription")
	if err != nil {
		return subscription.Subscription{}, err
	}
	var s subscription.Subscription
	s.ID = d.str()
	s.CustomerID = d.str()
	s.ProductID = d.str()
	s.Quantity = int(d.int())
	s.Status = subscription.Status(d.str())
	s.PaymentMethod = d.str()
	s.MandateID = d.str()
	s.MandateAuthorizedAt = d.zeroableTime()
	s.PaymentLink = d.str()
	s.ReturnURL = d.str()
	if d.bool() {
		s.BillingAddress = &customer.Address{Line1: d.str(), Line2: d.str(), City: d.str(), State: d.str(),
			PostalCode: d.str(), Country: d.str()}
	}
	s.Price = d.int()
	s.Currency = d.str()
	s.Description = d.str()
	s.FeesInclusive = d.bool()
	s.MandateOnly = d.bool()
	s.Metadata = d.meta()
	s.DeclineCode = d.str()
	s.LastPaymentAt = d.zeroableTime()
	s.CreatedAt = d.time()
	s.UpdatedAt = d.time()
	s.CancelledAt = d.zeroableTime()
	if err := d.done("subscription"); err != nil {
		return subscription.Subscription{}, err
	}
	return s, nil
}
