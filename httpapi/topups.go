package httpapi

import (
	"errors"
	"math"
	"strings"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/topup"
)

// Auto top-up rules (issue 15 item 3) as coffer extensions: CRUD of a
// wallet's rules under /customers/{customer_id}/wallets/{currency}/auto-top-ups.
// The engine's worker (Run) executes them; see Engine.RunTopUps.

// AutoTopUpRule is a wallet's auto top-up rule on the wire. Amounts are in
// the currency's minor units; durations in whole seconds.
type AutoTopUpRule struct {
	ID         string `json:"id"`
	CustomerID string `json:"customer_id"`
	Currency   string `json:"currency"`
	// Trigger is threshold or interval.
	Trigger string `json:"trigger"`
	// Threshold (threshold rules): a top-up when the available balance is
	// below it.
	Threshold int64 `json:"threshold"`
	// Method is fixed (Amount) or target (up to Target).
	Method string `json:"method"`
	Amount int64  `json:"amount"`
	Target int64  `json:"target"`
	// Interval (interval rules) is day, week, month or duration (every
	// IntervalSeconds); "" for a threshold rule.
	Interval        string `json:"interval"`
	IntervalSeconds int64  `json:"interval_seconds"`
	PaymentMethod   string `json:"payment_method"`
	// MaxPerDay and MaxAmountPerDay cap one UTC day's top-ups (0: no cap
	// of that kind).
	MaxPerDay       int   `json:"max_per_day"`
	MaxAmountPerDay int64 `json:"max_amount_per_day"`
	// CreditKind, Priority and ExpiresAfterSeconds are the terms of the
	// credit each top-up buys (0: never expires).
	CreditKind          string `json:"credit_kind"`
	Priority            int    `json:"priority"`
	ExpiresAfterSeconds int64  `json:"expires_after_seconds"`
	Paused              bool   `json:"paused"`
	// PausedReason is paused (by a call) or payment_failed (the retry
	// policy gave up on a declined top-up).
	PausedReason *string `json:"paused_reason" null:"true"`
	// NextCheckAt is when the worker looks at the rule next (null: never,
	// while paused).
	NextCheckAt *time.Time `json:"next_check_at" null:"true"`
	// Day is the UTC date (YYYY-MM-DD) the daily counters are of, null
	// before the first check; DayCount and DayAmount are that day's
	// top-ups, counted against the caps.
	Day       *string `json:"day" null:"true"`
	DayCount  int     `json:"day_count"`
	DayAmount int64   `json:"day_amount"`
	// FailedAttempts is the number of declined attempts of the current
	// period (0: none).
	FailedAttempts int `json:"failed_attempts"`
	// InFlight: a top-up charge's outcome is awaited.
	InFlight      bool       `json:"in_flight"`
	LastPaymentID *string    `json:"last_payment_id" null:"true"`
	LastTopUpAt   *time.Time `json:"last_top_up_at" null:"true"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
}

// AutoTopUpList is the answer of the list route.
type AutoTopUpList struct {
	Items []AutoTopUpRule `json:"items"`
}

func tuTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func tuStr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func topUpOut(r coffer.TopUpRule) AutoTopUpRule {
	out := AutoTopUpRule{ID: r.ID, CustomerID: r.CustomerID, Currency: r.Currency, Trigger: string(r.Trigger),
		Threshold: r.Threshold, Method: string(r.Method), Amount: r.Amount, Target: r.Target, Interval: string(r.Unit),
		IntervalSeconds: int64(r.Every / time.Second), PaymentMethod: r.PaymentMethod, MaxPerDay: r.MaxPerDay,
		MaxAmountPerDay: r.MaxAmountPerDay, CreditKind: string(r.CreditKind), Priority: r.Priority,
		ExpiresAfterSeconds: int64(r.ExpiresAfter / time.Second), Paused: r.Paused, PausedReason: tuStr(string(r.PausedReason)),
		NextCheckAt: tuTime(r.State.NextCheck), FailedAttempts: r.State.Failed, InFlight: r.State.Pending != nil,
		LastPaymentID: tuStr(r.State.LastPaymentID), LastTopUpAt: tuTime(r.State.LastTopUpAt),
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if out.CreditKind == "" {
		out.CreditKind = string(ledger.KindPaid)
	}
	out.Day, out.DayCount, out.DayAmount = tuStr(r.State.Day), r.State.DayCount, r.State.DayAmount
	return out
}

// autoTopUpCreate is the body of POST .../auto-top-ups.
type autoTopUpCreate struct {
	Trigger             string  `json:"trigger"`
	Threshold           Int64   `json:"threshold"`
	Method              *string `json:"method"`
	Amount              Int64   `json:"amount"`
	Target              Int64   `json:"target"`
	Interval            *string `json:"interval"`
	IntervalSeconds     Int64   `json:"interval_seconds"`
	PaymentMethod       string  `json:"payment_method"`
	MaxPerDay           Int64   `json:"max_per_day"`
	MaxAmountPerDay     Int64   `json:"max_amount_per_day"`
	CreditKind          *string `json:"credit_kind"`
	Priority            Int64   `json:"priority"`
	ExpiresAfterSeconds Int64   `json:"expires_after_seconds"`
	Paused              *bool   `json:"paused"`
}

// autoTopUpUpdate is the body of PATCH .../auto-top-ups/{id}: absent and
// null fields keep their value.
type autoTopUpUpdate struct {
	Threshold           Int64   `json:"threshold"`
	Method              *string `json:"method"`
	Amount              Int64   `json:"amount"`
	Target              Int64   `json:"target"`
	Interval            *string `json:"interval"`
	IntervalSeconds     Int64   `json:"interval_seconds"`
	PaymentMethod       *string `json:"payment_method"`
	MaxPerDay           Int64   `json:"max_per_day"`
	MaxAmountPerDay     Int64   `json:"max_amount_per_day"`
	CreditKind          *string `json:"credit_kind"`
	Priority            Int64   `json:"priority"`
	ExpiresAfterSeconds Int64   `json:"expires_after_seconds"`
	Paused              *bool   `json:"paused"`
}

// tuClampInt turns a wire integer into an int the Engine refuses when it is
// out of range (instead of wrapping).
func tuClampInt(v int64) int {
	return int(max(min(v, math.MaxInt32), math.MinInt32))
}

// tuSeconds turns wire seconds into a duration, clamped so that an absurd
// value is refused by the Engine's bounds, not wrapped.
func tuSeconds(v int64) time.Duration {
	const limit = int64(math.MaxInt64 / int64(time.Second))
	return time.Duration(max(min(v, limit), -limit)) * time.Second
}

func (h *Handler) topUpRoutes() {
	const base = "/customers/{customer_id}/wallets/{currency}/auto-top-ups"
	const who = " customer_id may be \"me\" for a restricted key."
	h.handle("GET "+base, h.listTopUps, doc{Tag: "wallets", Extension: true,
		Summary:     "List a wallet's auto top-up rules",
		Description: "Oldest first; a wallet has at most 10 rules." + who, Result: AutoTopUpList{}})
	h.handle("POST "+base, h.createTopUp, doc{Tag: "wallets", Extension: true,
		Summary: "Create an auto top-up rule",
		Description: "A threshold rule (trigger threshold: when the available balance falls below threshold, charge " +
			"payment_method amount (method fixed) or up to target (method target)) or an interval rule (trigger " +
			"interval: once every day, week or month (UTC calendar periods) or every interval_seconds (interval " +
			"duration), charge amount). Each top-up is a credit purchase (the wallet is never applied to it) under the " +
			"credit terms given (credit_kind, priority, expires_after_seconds), idempotent per rule and period. " +
			"max_per_day and/or max_amount_per_day (one is required) cap one UTC day. A declined top-up is retried by " +
			"the engine's retry policy; when the policy gives up the rule is paused (paused_reason payment_failed). " +
			"Requires an Idempotency-Key header: a resend without one would create a second rule that charges too." + who,
		Body: autoTopUpCreate{}, Result: AutoTopUpRule{}})
	h.handle("GET "+base+"/{top_up_id}", h.getTopUp, doc{Tag: "wallets", Extension: true,
		Summary: "Retrieve an auto top-up rule", Description: "With its worker state (next check, today's top-ups, " +
			"failed attempts, an attempt in flight)." + who, Result: AutoTopUpRule{}})
	h.handle("PATCH "+base+"/{top_up_id}", h.updateTopUp, doc{Tag: "wallets", Extension: true,
		Summary: "Update, pause or resume an auto top-up rule",
		Description: "Absent and null fields keep their value; the trigger cannot change. paused true stops the checks " +
			"(an attempt in flight completes); paused false resumes, clears the retry state and checks at once." + who,
		Body: autoTopUpUpdate{}, Result: AutoTopUpRule{}})
	h.handle("DELETE "+base+"/{top_up_id}", h.deleteTopUp, doc{Tag: "wallets", Extension: true,
		Summary: "Delete an auto top-up rule",
		Description: "An attempt in flight is not undone: its payment completes and credits the wallet. Answers 200 " +
			"with no body." + who})
}

// topUpWallet reads the customer and currency of a top-up route.
func (c *call) topUpWallet() (string, string, error) {
	cu, err := c.customerParam()
	if err != nil {
		return "", "", err
	}
	cur := c.r.PathValue("currency")
	if cur == "" || len(cur) > 8 {
		return "", "", invalidParam("currency", "currency must be an ISO-4217 code such as USD")
	}
	return cu.ID, strings.ToUpper(cur), nil
}

// topUpParam reads the rule a route names; a rule of another wallet is
// not found.
func (c *call) topUpParam() (coffer.TopUpRule, error) {
	cus, cur, err := c.topUpWallet()
	if err != nil {
		return coffer.TopUpRule{}, err
	}
	id, err := c.pathID("top_up_id")
	if err != nil {
		return coffer.TopUpRule{}, err
	}
	r, err := c.h.eng.TopUp(c.ctx(), id)
	if errors.Is(err, coffer.ErrInvalidID) {
		err = coffer.ErrTopUpNotFound
	}
	if err != nil {
		return r, err
	}
	if r.CustomerID != cus || r.Currency != cur {
		return coffer.TopUpRule{}, coffer.ErrTopUpNotFound
	}
	return r, nil
}

func (h *Handler) listTopUps(c *call) (any, error) {
	cus, cur, err := c.topUpWallet()
	if err != nil {
		return nil, err
	}
	list, err := h.eng.ListTopUps(c.ctx(), cus, cur)
	if err != nil {
		return nil, err
	}
	out := AutoTopUpList{Items: make([]AutoTopUpRule, 0, len(list))}
	for _, r := range list {
		out.Items = append(out.Items, topUpOut(r))
	}
	return out, nil
}

func (h *Handler) createTopUp(c *call) (any, error) {
	cus, cur, err := c.topUpWallet()
	if err != nil {
		return nil, err
	}
	var in autoTopUpCreate
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if _, err := c.requiredKey(nil, "auto top-up rule"); err != nil {
		return nil, err
	}
	p := coffer.TopUpParams{Trigger: topup.Trigger(in.Trigger), Threshold: in.Threshold.V, Amount: in.Amount.V,
		Target: in.Target.V, Every: tuSeconds(in.IntervalSeconds.V), PaymentMethod: in.PaymentMethod,
		MaxPerDay: tuClampInt(in.MaxPerDay.V), MaxAmountPerDay: in.MaxAmountPerDay.V, Priority: tuClampInt(in.Priority.V),
		ExpiresAfter: tuSeconds(in.ExpiresAfterSeconds.V)}
	if in.Method != nil {
		p.Method = topup.Method(*in.Method)
	}
	if in.Interval != nil {
		p.Unit = topup.Unit(*in.Interval)
	}
	if in.CreditKind != nil {
		p.CreditKind = ledger.CreditKind(*in.CreditKind)
	}
	if in.Paused != nil {
		p.Paused = *in.Paused
	}
	r, err := h.eng.CreateTopUp(c.ctx(), cus, cur, p)
	if err != nil {
		return nil, err
	}
	return topUpOut(r), nil
}

func (h *Handler) getTopUp(c *call) (any, error) {
	r, err := c.topUpParam()
	if err != nil {
		return nil, err
	}
	return topUpOut(r), nil
}

func tuInt64(v Int64) *int64 {
	if !v.Set {
		return nil
	}
	return &v.V
}

func (h *Handler) updateTopUp(c *call) (any, error) {
	r, err := c.topUpParam()
	if err != nil {
		return nil, err
	}
	var in autoTopUpUpdate
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	u := coffer.TopUpUpdate{Threshold: tuInt64(in.Threshold), Amount: tuInt64(in.Amount), Target: tuInt64(in.Target),
		MaxAmountPerDay: tuInt64(in.MaxAmountPerDay), PaymentMethod: in.PaymentMethod, Paused: in.Paused}
	if in.Method != nil {
		m := topup.Method(*in.Method)
		u.Method = &m
	}
	if in.Interval != nil {
		unit := topup.Unit(*in.Interval)
		u.Unit = &unit
	}
	if in.IntervalSeconds.Set {
		d := tuSeconds(in.IntervalSeconds.V)
		u.Every = &d
	}
	if in.MaxPerDay.Set {
		n := tuClampInt(in.MaxPerDay.V)
		u.MaxPerDay = &n
	}
	if in.CreditKind != nil {
		k := ledger.CreditKind(*in.CreditKind)
		u.CreditKind = &k
	}
	if in.Priority.Set {
		n := tuClampInt(in.Priority.V)
		u.Priority = &n
	}
	if in.ExpiresAfterSeconds.Set {
		d := tuSeconds(in.ExpiresAfterSeconds.V)
		u.ExpiresAfter = &d
	}
	out, err := h.eng.UpdateTopUp(c.ctx(), r.ID, u)
	if err != nil {
		return nil, err
	}
	return topUpOut(out), nil
}

func (h *Handler) deleteTopUp(c *call) (any, error) {
	r, err := c.topUpParam()
	if err != nil {
		return nil, err
	}
	if err := h.eng.DeleteTopUp(c.ctx(), r.ID); err != nil {
		return nil, err
	}
	return empty{}, nil
}
