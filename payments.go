package coffer

import (
	"context"
	"sort"
	"time"

	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

// Payment returns a payment.
func (e *Engine) Payment(ctx context.Context, id string) (subscription.Payment, error) {
	if err := checkID(subscription.ErrInvalid, "payment_id", id); err != nil {
		return subscription.Payment{}, err
	}
	return view(ctx, e, func(tx store.Tx) (subscription.Payment, error) { return getPayment(tx, id) })
}

// PaymentListParams filters ListPayments. CustomerID "" lists every
// customer's payments, SubscriptionID "" every subscription's, an empty
// Statuses every status (several statuses: any of them); Created bounds
// CreatedAt. Filters combine (AND).
type PaymentListParams struct {
	ListParams
	CustomerID     string                       `json:"customer_id,omitempty"`
	SubscriptionID string                       `json:"subscription_id,omitempty"`
	Statuses       []subscription.PaymentStatus `json:"statuses,omitempty"`
	Created        TimeRange                    `json:"created,omitzero"`
}

// ListPayments lists payments newest first (by CreatedAt): one customer's
// history, one subscription's charges, or the whole account's. A customer
// or subscription that does not exist is a not-found error; an unknown
// status a 422 naming "statuses".
func (e *Engine) ListPayments(ctx context.Context, p PaymentListParams) (out List[subscription.Payment], err error) {
	if err := checkCustomerID(p.CustomerID); err != nil {
		return out, err
	}
	if err := checkID(subscription.ErrInvalid, "subscription_id", p.SubscriptionID); err != nil {
		return out, err
	}
	if err := checkStatuses(p.Statuses); err != nil {
		return out, err
	}
	q := store.PaymentListQuery{CustomerID: p.CustomerID, SubscriptionID: p.SubscriptionID, Statuses: p.Statuses}
	if q.Created, err = p.Created.check("created"); err != nil {
		return out, err
	}
	if q.Page, err = p.page(); err != nil {
		return out, err
	}
	err = e.store.View(ctx, func(tx store.Tx) error {
		if q.CustomerID != "" {
			if _, err := getCustomer(tx, q.CustomerID); err != nil {
				return err
			}
		}
		if q.SubscriptionID != "" {
			if _, err := getSubscription(tx, q.SubscriptionID); err != nil {
				return err
			}
		}
		data, more, err := tx.QueryPayments(q)
		if err != nil {
			return listErr(err)
		}
		out = newList(data, more, q.Page, func(p subscription.Payment) string { return p.ID })
		return nil
	})
	return out, err
}

// Overdue is a customer's unpaid charges.
type Overdue struct {
	// Payments are the failed charges not (yet) collected, newest first.
	Payments []subscription.Payment `json:"payments"`
	// Due sums them per currency, sorted by currency.
	Due []money.Amount `json:"amount_due"`
	// Delinquent mirrors the customer's flag: an overdue charge has no
	// retry pending.
	Delinquent bool `json:"delinquent"`
}

// Overdue lists a customer's failed, unpaid charges with the amount due per
// currency. A charge being retried is overdue (NextRetryAt says when the
// next attempt is due) but makes the customer delinquent only once no retry
// is pending.
func (e *Engine) Overdue(ctx context.Context, customerID string) (Overdue, error) {
	if err := checkCustomerID(customerID); err != nil {
		return Overdue{}, err
	}
	var out Overdue
	err := e.store.View(ctx, func(tx store.Tx) error {
		out = Overdue{}
		c, err := getCustomer(tx, customerID)
		if err != nil {
			return err
		}
		out.Delinquent = c.Delinquent
		sums := map[string]int64{}
		q := store.PaymentQuery{CustomerID: customerID, Statuses: []subscription.PaymentStatus{subscription.PaymentFailed},
			Page: store.Page{Limit: store.MaxLimit}}
		for {
			list, more, err := tx.ListPayments(q)
			if err != nil {
				return err
			}
			for _, p := range list {
				if !p.Overdue() {
					continue
				}
				out.Payments = append(out.Payments, p)
				if sums[p.Currency], err = money.AddMinor(sums[p.Currency], p.Amount); err != nil {
					return err
				}
			}
			if !more || len(list) == 0 {
				break
			}
			q.StartingAfter = list[len(list)-1].ID
		}
		for code, v := range sums {
			out.Due = append(out.Due, money.Amount{Minor: v, Currency: code})
		}
		sort.Slice(out.Due, func(i, j int) bool { return out.Due[i].Currency < out.Due[j].Currency })
		return nil
	})
	return out, err
}

// ReconcileReport says what Reconcile resolved.
type ReconcileReport struct {
	Payments int // pending payments settled
	Refunds  int // pending refunds completed or failed
	Pending  int // still unknown (processor unreachable)
}

// ReconcileAfter is the lease a processor call holds on its payment: a
// pending payment is left alone by Reconcile (and by a retry runner that
// retakes its attempt) until ReconcileAfter has passed since the lease was
// last renewed. The engine making the call renews it every ReconcileAfter/4
// while the call lasts, and its own Reconcile never touches a call it is
// still making, so a slow processor call is never declared failed. A
// process that dies mid-call stops renewing, and its payments are
// reconciled once the lease runs out.
const ReconcileAfter = 2 * time.Minute

// Reconcile resolves what a crash between the processor call and the
// settling transaction left behind: each payment pending for longer than
// ReconcileAfter is looked up at the processor by its idempotency key (the
// payment id) and settled (hold captured on success, released on failure or
// when the processor never saw it); each pending refund is sent again
// (idempotent by refund id). Run calls it on every pass.
func (e *Engine) Reconcile(ctx context.Context) (ReconcileReport, error) {
	rep, err := e.charges.Reconcile(ctx)
	return ReconcileReport(rep), err
}
