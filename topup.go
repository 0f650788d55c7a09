package coffer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/internal/charge"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/topup"
)

// TopUpRule is an auto top-up rule of a wallet (package topup): a
// threshold rule ("when the available balance falls below Threshold,
// charge PaymentMethod Amount, or up to Target") or an interval rule
// ("every Unit, or every Every, charge Amount"), with its daily caps, the
// terms of the credit it buys and the state the worker keeps on it.
type TopUpRule = topup.Rule

// Errors of auto top-ups.
var (
	// ErrInvalidTopUp: a rule's parameters break a rule (422,
	// invalid_auto_top_up; the error names the parameter). It changes
	// nothing.
	ErrInvalidTopUp = topup.ErrInvalid
	// ErrTopUpNotFound: no rule has the id (404, auto_top_up_not_found).
	ErrTopUpNotFound = errors.New("coffer: auto top-up rule not found")
)

// MaxTopUpsPerWallet bounds the rules of one wallet.
const MaxTopUpsPerWallet = 10

// TopUpDescription is the description of every top-up payment.
const TopUpDescription = "Auto top-up"

// AutoTopUp is the data of the wallet.auto_topup_* events: the rule as it
// is after the event, and the payment of the top-up (none for
// wallet.auto_topup_capped).
type AutoTopUp struct {
	Rule    TopUpRule             `json:"rule"`
	Payment *subscription.Payment `json:"payment" null:"true"`
	// Amount is the amount of the top-up (wanted, for a cap).
	Amount int64 `json:"amount"`
	// NextAttemptAt is when a failed top-up is tried again (failed
	// events; zero when it is not).
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"`
	// Final: the retry policy gave up and the rule is paused
	// (payment_failed).
	Final bool `json:"final,omitempty"`
}

// TopUpParams are the parameters of a new rule. See topup.Rule for their
// meaning; amounts are minor units of the wallet's currency.
type TopUpParams struct {
	Trigger         topup.Trigger     `json:"trigger"`
	Threshold       int64             `json:"threshold,omitempty"`
	Method          topup.Method      `json:"method,omitempty"`
	Amount          int64             `json:"amount,omitempty"`
	Target          int64             `json:"target,omitempty"`
	Unit            topup.Unit        `json:"unit,omitempty"`
	Every           time.Duration     `json:"every,omitempty"`
	PaymentMethod   string            `json:"payment_method"`
	MaxPerDay       int               `json:"max_per_day,omitempty"`
	MaxAmountPerDay int64             `json:"max_amount_per_day,omitempty"`
	CreditKind      ledger.CreditKind `json:"credit_kind,omitempty"`
	Priority        int               `json:"priority,omitempty"`
	ExpiresAfter    time.Duration     `json:"expires_after,omitempty"`
	Paused          bool              `json:"paused,omitempty"`
}

// TopUpUpdate changes a rule: each non-nil field replaces the rule's. The
// changed rule is validated as a whole. Resuming a rule (Paused false)
// clears its retry state: its next check is now.
type TopUpUpdate struct {
	Threshold       *int64             `json:"threshold,omitempty"`
	Method          *topup.Method      `json:"method,omitempty"`
	Amount          *int64             `json:"amount,omitempty"`
	Target          *int64             `json:"target,omitempty"`
	Unit            *topup.Unit        `json:"unit,omitempty"`
	Every           *time.Duration     `json:"every,omitempty"`
	PaymentMethod   *string            `json:"payment_method,omitempty"`
	MaxPerDay       *int               `json:"max_per_day,omitempty"`
	MaxAmountPerDay *int64             `json:"max_amount_per_day,omitempty"`
	CreditKind      *ledger.CreditKind `json:"credit_kind,omitempty"`
	Priority        *int               `json:"priority,omitempty"`
	ExpiresAfter    *time.Duration     `json:"expires_after,omitempty"`
	Paused          *bool              `json:"paused,omitempty"`
}

// errTopUpsUnsupported: the store keeps no top-up rules.
var errTopUpsUnsupported = fmt.Errorf("%w: the store keeps no auto top-up rules", ErrInvalidConfig)

func topUpsOf(tx store.Tx) (store.TopUps, error) {
	t, ok := store.As[store.TopUps](tx)
	if !ok {
		return nil, errTopUpsUnsupported
	}
	return t, nil
}

func topUpNotFound(id string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %q", ErrTopUpNotFound, id)
	}
	return err
}

// checkTopUp validates what the Engine adds to topup.Rule.Validate: the
// payment method's shape and the credit terms' store support.
func checkTopUpMethod(pm string) (string, error) {
	pm = strings.TrimSpace(pm)
	if pm == "" {
		return "", &customer.FieldError{Field: "payment_method", Err: fmt.Errorf("%w: payment_method is required", topup.ErrInvalid)}
	}
	if err := checkKey(topup.ErrInvalid, "payment_method", pm); err != nil {
		return "", err
	}
	return pm, nil
}

// CreateTopUp adds an auto top-up rule to a customer's wallet in currency.
// The rule is checked by the worker of Run (RunTopUps): an interval rule
// first at once (the current period is topped up), then at the start of
// each period; a threshold rule at once and then every
// RetryOptions.PollInterval. A paused rule is kept but not run. A wallet
// holds at most MaxTopUpsPerWallet rules. Bad parameters are
// ErrInvalidTopUp naming the parameter; an unknown customer is
// customer.ErrNotFound.
func (e *Engine) CreateTopUp(ctx context.Context, customerID, currency string, p TopUpParams) (TopUpRule, error) {
	if err := checkCustomerID(customerID); err != nil {
		return TopUpRule{}, err
	}
	c, err := e.currencies.Check(currency)
	if err != nil {
		return TopUpRule{}, err
	}
	pm, err := checkTopUpMethod(p.PaymentMethod)
	if err != nil {
		return TopUpRule{}, err
	}
	method := p.Method
	if method == "" {
		method = topup.MethodFixed
	}
	now := e.clock.Now()
	r := TopUpRule{
		ID: newID("tur"), CustomerID: customerID, Currency: c.Code, Trigger: p.Trigger,
		Threshold: p.Threshold, Method: method, Amount: p.Amount, Target: p.Target, Unit: p.Unit, Every: p.Every,
		PaymentMethod: pm, MaxPerDay: p.MaxPerDay, MaxAmountPerDay: p.MaxAmountPerDay,
		CreditKind: p.CreditKind, Priority: p.Priority, ExpiresAfter: p.ExpiresAfter,
		State: topup.State{Anchor: now, NextCheck: now}, CreatedAt: now, UpdatedAt: now,
	}
	if p.Paused {
		r.Paused, r.PausedReason, r.State.NextCheck = true, topup.PausedByUser, time.Time{}
	}
	if err := r.Validate(); err != nil {
		return TopUpRule{}, err
	}
	if r.CreditKind == ledger.KindPaid {
		r.CreditKind = ""
	}
	terms := r.CreditKind != "" || r.Priority != 0 || r.ExpiresAfter != 0
	err = e.update(ctx, func(tx store.Tx) error {
		tu, err := topUpsOf(tx)
		if err != nil {
			return err
		}
		if _, ok := store.As[store.CreditGrants](tx); terms && !ok {
			return errCreditsUnsupported
		}
		if _, err := getCustomer(tx, customerID); err != nil {
			return err
		}
		have, err := tu.WalletTopUps(customerID, c.Code)
		if err != nil {
			return err
		}
		if len(have) >= MaxTopUpsPerWallet {
			return &customer.FieldError{Field: "currency", Err: fmt.Errorf("%w: the wallet has %d rules already, the most it may have",
				topup.ErrInvalid, len(have))}
		}
		return tu.InsertTopUp(r)
	})
	if err != nil {
		return TopUpRule{}, err
	}
	return r, nil
}

// TopUp returns a rule; an unknown id is ErrTopUpNotFound.
func (e *Engine) TopUp(ctx context.Context, id string) (TopUpRule, error) {
	if err := checkID(topup.ErrInvalid, "id", id); err != nil {
		return TopUpRule{}, err
	}
	return view(ctx, e, func(tx store.Tx) (TopUpRule, error) {
		tu, err := topUpsOf(tx)
		if err != nil {
			return TopUpRule{}, err
		}
		r, err := tu.TopUp(id)
		return r, topUpNotFound(id, err)
	})
}

// ListTopUps lists the rules of a customer's wallet, oldest first (at most
// MaxTopUpsPerWallet). An unknown customer is customer.ErrNotFound.
func (e *Engine) ListTopUps(ctx context.Context, customerID, currency string) ([]TopUpRule, error) {
	if err := checkCustomerID(customerID); err != nil {
		return nil, err
	}
	c, err := e.currencies.Check(currency)
	if err != nil {
		return nil, err
	}
	return view(ctx, e, func(tx store.Tx) ([]TopUpRule, error) {
		tu, err := topUpsOf(tx)
		if err != nil {
			return nil, err
		}
		if _, err := getCustomer(tx, customerID); err != nil {
			return nil, err
		}
		out, err := tu.WalletTopUps(customerID, c.Code)
		if out == nil && err == nil {
			out = []TopUpRule{}
		}
		return out, err
	})
}

// UpdateTopUp changes a rule (see TopUpUpdate). A change of what is charged
// does not touch an attempt in flight: that one completes as it was
// decided. Pausing stops the checks once no attempt is in flight; resuming
// clears the retry state and checks at once.
func (e *Engine) UpdateTopUp(ctx context.Context, id string, u TopUpUpdate) (TopUpRule, error) {
	if err := checkID(topup.ErrInvalid, "id", id); err != nil {
		return TopUpRule{}, err
	}
	if u.PaymentMethod != nil {
		pm, err := checkTopUpMethod(*u.PaymentMethod)
		if err != nil {
			return TopUpRule{}, err
		}
		u.PaymentMethod = &pm
	}
	var out TopUpRule
	err := e.update(ctx, func(tx store.Tx) error {
		tu, err := topUpsOf(tx)
		if err != nil {
			return err
		}
		r, err := tu.TopUp(id)
		if err != nil {
			return topUpNotFound(id, err)
		}
		set(&r.Threshold, u.Threshold)
		set(&r.Method, u.Method)
		set(&r.Amount, u.Amount)
		set(&r.Target, u.Target)
		set(&r.Unit, u.Unit)
		set(&r.Every, u.Every)
		set(&r.PaymentMethod, u.PaymentMethod)
		set(&r.MaxPerDay, u.MaxPerDay)
		set(&r.MaxAmountPerDay, u.MaxAmountPerDay)
		set(&r.CreditKind, u.CreditKind)
		set(&r.Priority, u.Priority)
		set(&r.ExpiresAfter, u.ExpiresAfter)
		if r.CreditKind == ledger.KindPaid {
			r.CreditKind = ""
		}
		if err := r.Validate(); err != nil {
			return err
		}
		if _, ok := store.As[store.CreditGrants](tx); !ok && (r.CreditKind != "" || r.Priority != 0 || r.ExpiresAfter != 0) {
			return errCreditsUnsupported
		}
		now := e.clock.Now()
		if u.Paused != nil {
			switch {
			case *u.Paused && !r.Paused:
				r.Paused, r.PausedReason = true, topup.PausedByUser
				if r.State.Pending == nil {
					r.State.NextCheck = time.Time{}
				}
			case !*u.Paused && r.Paused:
				r.Paused, r.PausedReason = false, ""
				r.State.Failed, r.State.FirstFailure, r.State.FailedPeriod = 0, time.Time{}, ""
				r.State.NextCheck = now
			}
		}
		if !r.Paused && r.State.Pending == nil && (u.Unit != nil || u.Every != nil || u.Threshold != nil) {
			r.State.NextCheck = now // the schedule changed: look again now
		}
		r.UpdatedAt = now
		out = r
		return tu.UpdateTopUp(r)
	})
	return out, err
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// DeleteTopUp removes a rule. An attempt in flight is not undone: its
// payment completes (or is reconciled) and credits the wallet as any
// credit purchase does, but no wallet.auto_topup_* event follows it.
func (e *Engine) DeleteTopUp(ctx context.Context, id string) error {
	if err := checkID(topup.ErrInvalid, "id", id); err != nil {
		return err
	}
	return e.update(ctx, func(tx store.Tx) error {
		tu, err := topUpsOf(tx)
		if err != nil {
			return err
		}
		return topUpNotFound(id, tu.DeleteTopUp(id))
	})
}

// TopUpReport is what one RunTopUps pass did.
type TopUpReport struct {
	// Checked counts the rules looked at; Charged the top-up charges
	// made (or replayed), Succeeded, Failed and Pending their outcomes,
	// Capped the top-ups a daily cap stopped.
	Checked, Charged, Succeeded, Failed, Pending, Capped int
}

const (
	topUpBatch      = 100
	maxTopUpBatches = 10
)

// topUpRecheck is how long a threshold rule waits between checks, and an
// attempt in flight before it is looked at again.
func (e *Engine) topUpRecheck() time.Duration { return e.retry.PollInterval }

// RunTopUps runs the auto top-up rules due for a check (their next check
// is at or before now), earliest first: the worker of Run calls it every
// RetryOptions.PollInterval; a host may call it too, from any number of
// processes at once.
//
// For each rule, one transaction decides and records the attempt (its
// idempotency key "topup:<rule id>:<period>:<n>", its amount, the
// credit's expiry), then the charge is made outside any transaction as a
// credit purchase (BuyCredit's path: the wallet is never applied to it),
// then one transaction records the outcome on the rule with its event.
// Every worker that finds an attempt recorded charges under its key, so
// concurrent workers make one payment per rule and period. The period is
// the calendar period (or the n-th duration) of an interval rule and the
// sequence number of the top-up for a threshold rule.
//
// A declined top-up follows the engine's retry policy (WithRetryPolicy):
// the next attempt of the same period is due when retry.Policy.Next says
// (for the default policy 3, 10 and 17 days after the first failure); a
// hard decline or an exhausted policy pauses the rule (paused_reason
// payment_failed, a wallet.auto_topup_failed event with final true). An
// interval rule whose period ends while it is failing abandons that
// period and tops up the new one. A rule whose charge fails with an error
// (not a decline) keeps its attempt in flight and is tried again under
// the same key at its next check; RunTopUps goes on with the other rules
// and returns the first such error. An outcome that is not known yet (the
// processor unreachable) leaves the attempt in flight: Reconcile settles
// the payment, and the next check of the rule records it.
func (e *Engine) RunTopUps(ctx context.Context) (TopUpReport, error) {
	var (
		rep      TopUpReport
		firstErr error
	)
	for range maxTopUpBatches {
		now := e.clock.Now()
		var due []TopUpRule
		err := e.store.View(ctx, func(tx store.Tx) error {
			tu, ok := store.As[store.TopUps](tx)
			if !ok {
				return nil
			}
			var err error
			due, err = tu.DueTopUps(now, topUpBatch)
			return err
		})
		if err != nil || len(due) == 0 {
			return rep, err
		}
		for _, r := range due {
			// One rule's failure (a store error, a charge the processor
			// refused with an error) does not hold up the others: its
			// attempt stays in flight, its next check already moved on.
			if err := e.runTopUp(ctx, r.ID, &rep); err != nil {
				if ctx.Err() != nil {
					return rep, errors.Join(firstErr, err)
				}
				firstErr = cmp.Or(firstErr, err)
			}
		}
		if len(due) < topUpBatch {
			return rep, firstErr
		}
	}
	return rep, firstErr
}

// runTopUp checks one rule: decide, charge, record.
func (e *Engine) runTopUp(ctx context.Context, id string, rep *TopUpReport) error {
	var att *topup.Attempt
	var rule TopUpRule
	var step TopUpReport // this transaction's counts, kept only once it commits
	err := e.update(ctx, func(tx store.Tx) error {
		att, step = nil, TopUpReport{}
		tu, _ := store.As[store.TopUps](tx)
		r, err := tu.TopUp(id)
		if errors.Is(err, store.ErrNotFound) {
			return nil // deleted meanwhile
		}
		if err != nil {
			return err
		}
		now := e.clock.Now()
		if r.State.NextCheck.IsZero() || r.State.NextCheck.After(now) {
			return nil // checked by another worker meanwhile
		}
		step.Checked++
		a, err := e.decideTopUp(tx, &r, now, &step)
		if err != nil {
			return err
		}
		r.UpdatedAt = now
		att, rule = a, r
		return tu.UpdateTopUp(r)
	})
	if err != nil {
		return err
	}
	rep.add(step)
	if att == nil {
		return nil
	}
	rep.Charged++
	terms := ledger.CreditTerms{Kind: rule.CreditKind, Priority: rule.Priority, ExpiresAt: att.ExpiresAt}.Normal()
	pay, err := e.charges.Charge(ctx, charge.Input{
		CustomerID: rule.CustomerID, PaymentMethod: rule.PaymentMethod, Amount: att.Amount, Currency: rule.Currency,
		Description: TopUpDescription, Metadata: map[string]string{"auto_top_up": rule.ID},
		IdempotencyKey: att.Key, CreditPurchase: true, Credit: terms,
	})
	switch {
	case errors.Is(err, subscription.ErrIdempotencyConflict):
		// The key holds another charge (it cannot, as the attempt is
		// fixed before any charge; kept safe): drop the attempt.
		pay = subscription.Payment{}
	case err != nil:
		// Nothing recorded: the attempt stays in flight and is tried
		// again under its key at the next check.
		return fmt.Errorf("coffer: auto top-up %s: %w", rule.ID, err)
	}
	err = e.update(ctx, func(tx store.Tx) error {
		step = TopUpReport{}
		tu, _ := store.As[store.TopUps](tx)
		r, err := tu.TopUp(id)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if r.State.Pending == nil || r.State.Pending.Key != att.Key {
			return nil // recorded by another worker
		}
		return e.settleTopUp(tx, tu, r, *att, pay, &step)
	})
	if err == nil {
		rep.add(step)
	}
	return err
}

func (r *TopUpReport) add(o TopUpReport) {
	r.Checked += o.Checked
	r.Charged += o.Charged
	r.Succeeded += o.Succeeded
	r.Failed += o.Failed
	r.Pending += o.Pending
	r.Capped += o.Capped
}

// decideTopUp decides what a due rule does now: an attempt to charge (the
// one in flight, or a new one, recorded on r), or nothing (r's next check
// moved on).
func (e *Engine) decideTopUp(tx store.Tx, r *TopUpRule, now time.Time, rep *TopUpReport) (*topup.Attempt, error) {
	st := &r.State
	if st.Pending != nil {
		// In flight (another worker, or an unknown outcome): charge it
		// again under its key, which replays the payment.
		st.NextCheck = now.Add(e.topUpRecheck())
		a := *st.Pending
		return &a, nil
	}
	if r.Paused {
		st.NextCheck = time.Time{}
		return nil, nil
	}
	today := topup.Day(now)
	if st.Day != today {
		st.Day, st.DayCount, st.DayAmount = today, 0, 0
	}
	period := r.Period(now)
	var amount int64
	switch r.Trigger {
	case topup.TriggerInterval:
		if period == st.LastPeriod {
			st.NextCheck = r.NextPeriodStart(now)
			return nil, nil
		}
		if st.FailedPeriod != "" && st.FailedPeriod != period {
			st.Failed, st.FirstFailure, st.FailedPeriod = 0, time.Time{}, "" // that period is over
		}
		amount = r.Amount
	default:
		b, err := tx.Balance(r.CustomerID, r.Currency)
		if err != nil {
			return nil, err
		}
		avail := b.Available()
		if avail >= r.Threshold {
			st.Failed, st.FirstFailure, st.FailedPeriod = 0, time.Time{}, ""
			st.NextCheck = now.Add(e.topUpRecheck())
			return nil, nil
		}
		amount = r.Amount
		if r.Method == topup.MethodTarget {
			if amount, err = money.SubMinor(r.Target, avail); err != nil {
				return nil, err
			}
		}
	}
	capped := r.MaxPerDay > 0 && st.DayCount >= r.MaxPerDay
	if r.MaxAmountPerDay > 0 {
		sum, err := money.AddMinor(st.DayAmount, amount)
		capped = capped || err != nil || sum > r.MaxAmountPerDay
	}
	if capped {
		rep.Capped++
		st.NextCheck = topup.NextDay(now)
		if st.CappedDay == today {
			return nil, nil
		}
		st.CappedDay = today
		return nil, e.emit(tx, EventAutoTopUpCapped, r.CustomerID, AutoTopUp{Rule: *r, Amount: amount})
	}
	number := 1
	if st.FailedPeriod == period {
		number = st.Failed + 1
	}
	st.Attempts++
	a := topup.Attempt{Key: topup.Key(r.ID, period, st.Attempts), Period: period, Number: number, Amount: amount, At: now}
	if r.ExpiresAfter > 0 {
		a.ExpiresAt = now.Add(r.ExpiresAfter)
	}
	st.Pending = &a
	st.NextCheck = now.Add(e.topUpRecheck())
	return &a, nil
}

// settleTopUp records the outcome of attempt a (payment pay; the zero
// payment when the attempt is dropped) on rule r.
func (e *Engine) settleTopUp(tx store.Tx, tu store.TopUps, r TopUpRule, a topup.Attempt, pay subscription.Payment, rep *TopUpReport) error {
	now := e.clock.Now()
	st := &r.State
	r.UpdatedAt = now
	next := func(t time.Time) {
		if r.Paused {
			t = time.Time{}
		}
		st.NextCheck = t
	}
	switch {
	case pay.ID == "":
		st.Pending = nil
		next(now)
		return tu.UpdateTopUp(r)
	case pay.Status == subscription.PaymentPending:
		rep.Pending++
		next(now.Add(e.topUpRecheck()))
		return tu.UpdateTopUp(r)
	case pay.Status == subscription.PaymentFailed:
		rep.Failed++
		st.Pending = nil
		if st.FailedPeriod != a.Period || a.Number == 1 {
			st.FirstFailure = now
		}
		st.Failed, st.FailedPeriod = a.Number, a.Period
		ev := AutoTopUp{Payment: &pay, Amount: a.Amount}
		due, _, ok := e.policy.Next(retry.NextInput{Failed: a.Number, DeclineCode: pay.DeclineCode,
			FirstFailure: st.FirstFailure, FailedAt: now})
		if ok {
			ev.NextAttemptAt = due
			next(due)
		} else {
			ev.Final = true
			r.Paused, r.PausedReason, st.NextCheck = true, topup.PausedPaymentFailed, time.Time{}
		}
		if err := tu.UpdateTopUp(r); err != nil {
			return err
		}
		ev.Rule = r
		return e.emit(tx, EventAutoTopUpFailed, r.CustomerID, ev)
	}
	// Succeeded (and maybe refunded since).
	rep.Succeeded++
	st.Pending = nil
	if today := topup.Day(now); st.Day != today {
		st.Day, st.DayCount, st.DayAmount = today, 0, 0
	}
	st.DayCount++
	sum, err := money.AddMinor(st.DayAmount, a.Amount)
	if err != nil {
		return err
	}
	st.DayAmount = sum
	st.Seq++
	st.Failed, st.FirstFailure, st.FailedPeriod = 0, time.Time{}, ""
	st.LastPaymentID, st.LastTopUpAt = pay.ID, now
	if r.Trigger == topup.TriggerInterval {
		st.LastPeriod = a.Period
		if r.Period(now) == a.Period {
			next(r.NextPeriodStart(now))
		} else {
			next(now) // settled in a later period: that one is due
		}
	} else {
		next(now) // still below the threshold? the next pass tells
	}
	if err := tu.UpdateTopUp(r); err != nil {
		return err
	}
	return e.emit(tx, EventAutoTopUpSucceeded, r.CustomerID, AutoTopUp{Rule: r, Payment: &pay, Amount: a.Amount})
}

func (e *Engine) topUpPass(ctx context.Context) error {
	rep, err := e.RunTopUps(ctx)
	if rep.Charged+rep.Capped > 0 {
		e.log.LogAttrs(ctx, slog.LevelInfo, "coffer: auto top-ups", slog.Int("checked", rep.Checked),
			slog.Int("charged", rep.Charged), slog.Int("succeeded", rep.Succeeded), slog.Int("failed", rep.Failed),
			slog.Int("pending", rep.Pending), slog.Int("capped", rep.Capped))
	}
	return err
}
