package coffer

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/store"
)

// SpendingReport summarises a wallet's ledger over a period: what came in,
// what went out and why, and the balance at the end of every day (the
// balance trend).
type SpendingReport struct {
	CustomerID string    `json:"customer_id"`
	Currency   string    `json:"currency"`
	From       time.Time `json:"from"`
	To         time.Time `json:"to"`
	// OpeningBalance is the balance at From, ClosingBalance at To.
	OpeningBalance int64 `json:"opening_balance"`
	ClosingBalance int64 `json:"closing_balance"`
	Credited       int64 `json:"credited"`
	Debited        int64 `json:"debited"`
	Entries        int   `json:"entries"`
	// ByReference splits credits and debits by what they refer to
	// (manual, payment, refund).
	ByReference []ReferenceTotal `json:"by_reference"`
	// Days is the balance trend: one point per UTC day of the period with
	// the day's movements and the balance at its end.
	Days []DayBalance `json:"days"`
}

// ReferenceTotal is the money moved by one kind of reference.
type ReferenceTotal struct {
	Type     ledger.RefType `json:"type"`
	Credited int64          `json:"credited"`
	Debited  int64          `json:"debited"`
}

// DayBalance is one day of a balance trend.
type DayBalance struct {
	Day      time.Time `json:"day"` // midnight UTC
	Credited int64     `json:"credited"`
	Debited  int64     `json:"debited"`
	Closing  int64     `json:"closing_balance"`
}

// maxReportDays bounds the trend so a report stays small.
const maxReportDays = 366

// SpendingReportParams selects a SpendingReport's wallet and period: the
// currency's ledger entries with From <= created_at < To.
type SpendingReportParams struct {
	Currency string    `json:"currency"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
}

// SpendingReport reports a customer's wallet in one currency over
// [from, to) (UTC), with at most 366 days. It reads the ledger, so the
// figures always agree with the entries: opening balance + credited -
// debited == closing balance.
func (e *Engine) SpendingReport(ctx context.Context, customerID string, p SpendingReportParams) (SpendingReport, error) {
	currency, from, to := p.Currency, p.From, p.To
	if err := checkCustomerID(customerID); err != nil {
		return SpendingReport{}, err
	}
	code, err := e.walletCode(ctx, currency) // a currency or a unit (units.go)
	if err != nil {
		return SpendingReport{}, err
	}
	from, to = from.UTC(), to.UTC()
	if !from.Before(to) {
		return SpendingReport{}, fmt.Errorf("%w: report period must have from < to", ErrInvalid)
	}
	first := midnightUTC(from)
	days := int(midnightUTC(to.Add(-time.Nanosecond)).Sub(first)/(24*time.Hour)) + 1
	if days > maxReportDays {
		return SpendingReport{}, fmt.Errorf("%w: report period longer than %d days", ErrInvalid, maxReportDays)
	}
	rep := SpendingReport{CustomerID: customerID, Currency: code, From: from, To: to}
	var inPeriod []ledger.Entry // newest first
	err = e.store.View(ctx, func(tx store.Tx) error {
		if _, err := getCustomer(tx, customerID); err != nil {
			return err
		}
		b, err := tx.Balance(customerID, code)
		if err != nil && !isNotFound(err) {
			return err
		}
		// Walk back from the newest entry: the balance after the last entry
		// before To is the closing balance.
		rep.ClosingBalance, rep.OpeningBalance = b.Amount, b.Amount
		closingSet := false
		q := store.EntryQuery{CustomerID: customerID, Currency: code, Page: store.Page{Limit: store.MaxLimit}}
		for {
			list, more, err := tx.ListEntries(q)
			if err != nil {
				return err
			}
			for _, en := range list {
				if !en.CreatedAt.Before(to) {
					continue
				}
				if !closingSet {
					rep.ClosingBalance, closingSet = en.BalanceAfter, true
				}
				if en.CreatedAt.Before(from) {
					rep.OpeningBalance = en.BalanceAfter
					return nil
				}
				rep.OpeningBalance = en.BalanceBefore
				inPeriod = append(inPeriod, en)
			}
			if !more || len(list) == 0 {
				if !closingSet {
					rep.ClosingBalance = 0
				}
				if len(inPeriod) == 0 && !closingSet {
					rep.OpeningBalance = 0
				}
				return nil
			}
			q.StartingAfter = list[len(list)-1].ID
		}
	})
	if err != nil {
		return SpendingReport{}, err
	}
	byRef := map[ledger.RefType]*ReferenceTotal{}
	rep.Days = make([]DayBalance, days)
	for i := range rep.Days {
		rep.Days[i].Day = first.AddDate(0, 0, i)
	}
	for i := len(inPeriod) - 1; i >= 0; i-- { // oldest first
		en := inPeriod[i]
		rep.Entries++
		rt := byRef[en.Reference.Type]
		if rt == nil {
			rt = &ReferenceTotal{Type: en.Reference.Type}
			byRef[en.Reference.Type] = rt
		}
		d := &rep.Days[int(midnightUTC(en.CreatedAt).Sub(first)/(24*time.Hour))]
		if en.Type == ledger.Credit {
			rep.Credited, err = money.AddMinor(rep.Credited, en.Amount)
			rt.Credited += en.Amount
			d.Credited += en.Amount
		} else {
			rep.Debited, err = money.AddMinor(rep.Debited, en.Amount)
			rt.Debited += en.Amount
			d.Debited += en.Amount
		}
		if err != nil {
			return SpendingReport{}, err
		}
	}
	running := rep.OpeningBalance
	for i := range rep.Days {
		running += rep.Days[i].Credited - rep.Days[i].Debited
		rep.Days[i].Closing = running
	}
	for _, rt := range byRef {
		rep.ByReference = append(rep.ByReference, *rt)
	}
	sort.Slice(rep.ByReference, func(i, j int) bool { return rep.ByReference[i].Type < rep.ByReference[j].Type })
	return rep, nil
}

func midnightUTC(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
