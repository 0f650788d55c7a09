// Package charge is the money path of the engine: the charge of a
// subscription, a one-time payment, a collection of an overdue charge or a
// retry attempt (reserve the wallet part under a hold, call the processor
// with a lease on the payment, settle the outcome), the refunds, and the
// reconciliation of what a crash between a processor call and its
// settling transaction left pending.
//
// The root package validates the params of its methods, calls a Service
// and maps the result. What a settled payment does to its subscription,
// its retry chain and the customer's standing is internal/billing's; what
// a balance change writes (the balance, its events) is the engine's
// (Wallet).
//
// The rules that keep money safe live here:
//
//   - no store transaction is held across a processor call;
//   - a debt (an overdue charge) is claimed in the transaction that
//     reserves the charge collecting it (claimDebt): one collector at a
//     time;
//   - a processor call holds a lease on its payment while it lasts
//     (holdCall): Reconcile and retaken retries do not declare it failed;
//   - a success that arrives for a payment already failed is recorded
//     (lateSuccess), and a success that collects a debt another charge
//     already collected is refunded automatically (refundSurplus).
package charge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cofferhq/coffer/clock"
	"github.com/cofferhq/coffer/internal/billing"
	"github.com/cofferhq/coffer/internal/txn"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
)

// The event types this package writes: the root package's Event*
// constants of the same names (a root test checks they agree).
const (
	EventPaymentSucceeded         = "payment.succeeded"
	EventPaymentFailed            = "payment.failed"
	EventPaymentDuplicateRefunded = "payment.duplicate_refunded"
	EventRefundSucceeded          = "refund.succeeded"
	EventRefundFailed             = "refund.failed"
)

// ReconcileAfter is the lease a processor call holds on its payment: the
// root package's ReconcileAfter, which documents it (a root test checks
// they agree).
const ReconcileAfter = 2 * time.Minute

// Decline codes this package records: the root package's constants of the
// same names (a root test checks they agree).
const (
	// DeclineProcessorError: the processor rejected a request as malformed.
	DeclineProcessorError = "PROCESSOR_ERROR"
	// DeclineDuplicate: the processor charge collected a debt already
	// collected; it is refunded automatically.
	DeclineDuplicate = "DUPLICATE_COLLECTION"
)

// The errors of this package; the root package exports each under the
// same name (coffer.ErrNoProcessor is ErrNoProcessor, and so on).
var (
	ErrNoProcessor                = errors.New("coffer: no payment processor configured")
	ErrNotOverdue                 = errors.New("coffer: payment is not overdue or has a retry pending")
	ErrDebtSettled          error = debtSettledError{}
	ErrCollectionInProgress       = errors.New("coffer: a collection of this overdue charge is in progress")
)

type debtSettledError struct{}

func (debtSettledError) Error() string        { return "coffer: the overdue charge was already collected" }
func (debtSettledError) Is(target error) bool { return target == ErrNotOverdue }

// Wallet is the engine's side of a balance change: reading (and locking) a
// balance, storing one with the events it causes, posting a ledger entry.
type Wallet interface {
	// BalanceForUpdate reads (and, on stores that lock, locks) a balance;
	// a customer's missing wallet in an enabled currency reads as zero.
	BalanceForUpdate(tx store.Tx, customerID, currency string) (wallet.Balance, error)
	// PutBalance stores b and writes the events of the change (entry, when
	// not nil, is the ledger entry that made it).
	PutBalance(tx interface {
		store.Ledger
		store.Outbox
	}, b wallet.Balance, entry *ledger.Entry) error
	// Post applies one ledger request (idempotent by its key).
	Post(tx store.Tx, customerID string, req ledger.Request) error
	// PutHold stores a hold placed, captured or released on balance b (the
	// balance before the change), with what it does to the wallet's credit
	// grants.
	PutHold(tx store.Tx, b wallet.Balance, h ledger.Hold) error
}

// Config configures a Service. Store, Clock, Billing, Wallet and Emit are
// required; a nil Processor makes every call that needs one ErrNoProcessor.
type Config struct {
	Store     store.Store
	Clock     clock.Clock
	Processor processor.Processor
	Billing   *billing.Service
	Wallet    Wallet
	// Emit writes one outbox event in tx (the engine's event writer).
	Emit func(tx store.Outbox, typ, customerID string, data any) error
	// Log receives the money-safety warnings (a late processor success, an
	// automatic refund of a duplicate charge); default slog.Default().
	Log *slog.Logger
	// CallRenewEvery is how often a processor call in flight renews its
	// lease on its payment; default ReconcileAfter/4.
	CallRenewEvery time.Duration
	// CrashAfterCharge, set only by tests, stops a charge between the
	// processor call and the transaction that records its outcome, as a
	// process crash would: a non-nil error is returned as the charge's.
	CrashAfterCharge func(paymentID string) error
}

// WithDefaults returns c with its defaults applied.
func (c Config) WithDefaults() Config {
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.CallRenewEvery <= 0 {
		c.CallRenewEvery = ReconcileAfter / 4
	}
	return c
}

// Service runs charges, refunds and reconciliation. It is safe for
// concurrent use; several Services (engines) may share one store.
type Service struct {
	c Config
	// inflight holds the ids of payments and refunds whose processor call
	// this service is making: its own Reconcile and retries leave them
	// alone however far its clock moves.
	inflight sync.Map
}

// New returns a Service configured by c.
func New(c Config) (*Service, error) {
	if c.Store == nil || c.Clock == nil || c.Billing == nil || c.Wallet == nil || c.Emit == nil {
		return nil, errors.New("charge service needs a store, a clock, the billing rules, a wallet and an event writer")
	}
	return &Service{c: c.WithDefaults()}, nil
}

// Tune changes the configuration, for tests of the root package (a
// processor that fails on cue, a crash after the processor call, a faster
// lease renewal). Call it between calls of the Service, never during one.
//
// f changes fields in place, so background work reading the others (a
// lease renewal) does not race with it.
func (s *Service) Tune(f func(*Config)) {
	f(&s.c)
	if s.c.CallRenewEvery <= 0 {
		s.c.CallRenewEvery = Config{}.WithDefaults().CallRenewEvery
	}
}

// update runs fn in a store transaction (see txn.Update).
func (s *Service) update(ctx context.Context, fn func(store.Tx) error) error {
	return txn.Update(ctx, s.c.Store, fn)
}

// Payment reads one payment in its own read-only transaction.
func (s *Service) Payment(ctx context.Context, id string) (p subscription.Payment, err error) {
	err = s.c.Store.View(ctx, func(tx store.Tx) error {
		p, err = billing.Payment(tx, id)
		return err
	})
	return p, err
}

// Input is one charge to make: of a subscription (SubscriptionID), or a
// one-time payment (SubscriptionID "", CustomerID and PaymentMethod set).
type Input struct {
	SubscriptionID string
	Amount         int64
	Currency       string
	Description    string
	FeesInclusive  bool
	Metadata       map[string]string
	IdempotencyKey string
	// RetryAttempt and RetryOf are set on a retry attempt (RetryOf alone
	// on a collection): the debt the charge collects.
	RetryAttempt int
	RetryOf      string
	// CustomerID and PaymentMethod identify a one-time payment.
	CustomerID    string
	PaymentMethod string
	// AllowOnHold lets the charge collect an overdue payment of a
	// subscription on hold (CollectOverdue); success reactivates it.
	AllowOnHold bool
	// SubscriptionDefaults fills what the caller left unset from the
	// subscription, as the reserving transaction reads (and locks) it, so
	// the charge needs no read of its own before that transaction:
	// Currency "", Description "" and Metadata nil take the
	// subscription's, and FeesInclusive too unless FeesInclusiveSet.
	SubscriptionDefaults bool
	FeesInclusiveSet     bool
	// CreditPurchase makes the charge a purchase of wallet credit
	// (subscription.KindCreditPurchase, a one-time payment): the wallet is
	// never applied to it, whatever its balance, and its success credits
	// the wallet with Amount under the terms Credit (plain when zero).
	CreditPurchase bool
	Credit         ledger.CreditTerms
	// The adaptive-currency terms of a converted charge (the root package
	// converts before the charge; the payment records them): Amount is
	// then the converted total in Currency, Fee included; ProductAmount
	// and ProductCurrency the price as asked; FXRate, FXSource and
	// FXRateAt the rate used. ProductCurrency "" means no conversion. A
	// retry or collection of a converted debt carries the debt's terms
	// (reserveCharge copies them).
	ProductAmount   int64
	ProductCurrency string
	Fee             int64
	FXRate          string
	FXSource        string
	FXRateAt        time.Time
}

// FillDefaults is withDefaults for the root package, which reads the
// subscription itself before a converted charge.
func (in Input) FillDefaults(sub subscription.Subscription) Input { return in.withDefaults(sub) }

// withDebtFX copies the adaptive-currency terms of the debt a retry or
// collection charges: the same converted amount, so the same fee and rate.
func (in Input) withDebtFX(debt subscription.Payment) Input {
	in.ProductAmount, in.ProductCurrency, in.Fee = debt.ProductAmount, debt.ProductCurrency, debt.Fee
	in.FXRate, in.FXSource, in.FXRateAt = debt.FXRate, debt.FXSource, debt.FXRateAt
	return in
}

// withDefaults returns in with the fields SubscriptionDefaults fills taken
// from sub.
func (in Input) withDefaults(sub subscription.Subscription) Input {
	if !in.SubscriptionDefaults {
		return in
	}
	if in.Currency == "" {
		in.Currency = sub.Currency
	}
	if in.Description == "" {
		in.Description = sub.Description
	}
	if !in.FeesInclusiveSet {
		in.FeesInclusive = sub.FeesInclusive
	}
	if in.Metadata == nil {
		in.Metadata = sub.Metadata
	}
	return in
}

// Fingerprint identifies the request's content (amount, currency,
// description, fees flag, metadata and subscription), so a reused
// idempotency key with any other content is a conflict, not a replay.
func (in Input) Fingerprint() string {
	keys := make([]string, 0, len(in.Metadata))
	for k := range in.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(in.Description)
	fmt.Fprintf(&b, "\x00fees=%t", in.FeesInclusive)
	// The debt a collection settles and the payment method a one-time
	// payment names identify the request as much as its amount does.
	if in.RetryOf != "" {
		fmt.Fprintf(&b, "\x00debt=%q", in.RetryOf)
	}
	if in.PaymentMethod != "" {
		fmt.Fprintf(&b, "\x00method=%q", in.PaymentMethod)
	}
	for _, k := range keys {
		fmt.Fprintf(&b, "\x00%q=%q", k, in.Metadata[k])
	}
	if in.CreditPurchase {
		b.WriteString("\x00credit_purchase")
	}
	amount := in.Amount
	if in.ProductCurrency != "" && in.RetryOf == "" {
		// A converted charge is identified by the price it asked for, in
		// its currency, and the currency charged, not by the converted
		// amount: a replay after the rate moved is still a replay. (A
		// retry or collection is identified by its debt.)
		fmt.Fprintf(&b, "\x00product=%d %q", in.ProductAmount, in.ProductCurrency)
		amount = in.ProductAmount
	}
	req := ledger.Request{Amount: amount, Currency: in.Currency, Type: ledger.Debit, Reason: b.String(),
		Reference: ledger.Reference{Type: ledger.RefPayment, ID: in.SubscriptionID}}
	if in.CreditPurchase {
		// A purchase's fingerprint also carries its credit terms in clear
		// (purchaseTerms reads them back when the payment settles, maybe in
		// another process): same terms, same fingerprint.
		return req.Fingerprint() + encodeTerms(in.Credit)
	}
	return req.Fingerprint()
}

// UnknownOutcome reports whether a processor call ended by the caller's
// context (cancelled, or its deadline passed) rather than by an answer: the
// request may have reached the processor and acted, so the outcome is
// unknown and must be looked up later, not taken as a rejection.
func UnknownOutcome(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
