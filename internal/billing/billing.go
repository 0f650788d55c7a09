// Package billing holds the rules of what a settled payment does beyond
// itself: to its subscription (reactivated on success, on hold when the
// retry policy gives up), to its retry chain (the next attempt scheduled,
// the chain settled, pending attempts cancelled) and to the customer's
// standing (the delinquent flag). internal/charge's settle and
// lateSuccess, the root package's CancelSubscription and the retry
// scheduler call it inside the store transaction that records the outcome.
//
// Each rule takes the aggregates of the transaction it reads and writes
// (store.Billing, store.Retries, store.Customers, store.Outbox), not the
// whole store.Tx. Nothing here calls the payment processor.
package billing

import (
	"errors"
	"fmt"
	"time"

	"github.com/cofferhq/coffer/clock"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/internal/ids"
	"github.com/cofferhq/coffer/internal/text"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

// The event types this package writes: the root package's Event*
// constants of the same names (a root test checks they agree).
const (
	EventCustomerDelinquent  = "customer.delinquent"
	EventCustomerInGoodStand = "customer.in_good_standing"
	EventSubscriptionActive  = "subscription.active"
	EventSubscriptionOnHold  = "subscription.on_hold"
	EventRetryScheduled      = "payment.retry_scheduled"
)

// Config configures a Service. Clock, Policy and Emit are required.
type Config struct {
	Clock  clock.Clock
	Policy retry.Policy
	// Emit writes one outbox event in tx (the engine's event writer).
	Emit func(tx store.Outbox, typ, customerID string, data any) error
}

// Service applies the rules. It is stateless beyond its Config and safe for
// concurrent use.
type Service struct{ c Config }

// New returns a Service configured by c.
func New(c Config) (*Service, error) {
	if c.Clock == nil || c.Emit == nil {
		return nil, errors.New("billing service needs a clock and an event writer")
	}
	if err := c.Policy.Validate(); err != nil {
		return nil, err
	}
	return &Service{c: c}, nil
}

// Pending is an event decided in one step of a use case and written by a
// later one, to keep the outbox in causal order.
type Pending struct {
	Type       string
	CustomerID string
	Data       any
}

// Tx is what the rules of a settled payment touch.
type Tx interface {
	store.Customers
	store.Billing
	store.Retries
	store.Outbox
}

// Payment reads a payment, its absence as subscription.ErrPaymentNotFound.
func Payment(tx store.BillingReader, id string) (subscription.Payment, error) {
	p, err := tx.Payment(id)
	if errors.Is(err, store.ErrNotFound) {
		return p, fmt.Errorf("%w: %s", subscription.ErrPaymentNotFound, id)
	}
	return p, err
}

// Subscription reads a subscription, its absence as subscription.ErrNotFound.
func Subscription(tx store.BillingReader, id string) (subscription.Subscription, error) {
	s, err := tx.Subscription(id)
	if errors.Is(err, store.ErrNotFound) {
		return s, fmt.Errorf("%w: %s", subscription.ErrNotFound, text.Quote(id))
	}
	return s, err
}

// Customer reads a customer, its absence as customer.ErrNotFound.
func Customer(tx store.CustomerReader, id string) (customer.Customer, error) {
	c, err := tx.Customer(id)
	if errors.Is(err, store.ErrNotFound) {
		return c, fmt.Errorf("%w: %s", customer.ErrNotFound, text.Quote(id))
	}
	return c, err
}

// ReleaseDebtClaim clears the claim (CollectingBy) that the charge by holds
// on debt, reporting whether there was one. Every path that ends a
// collecting charge — success, failure, a duplicate refunded — releases its
// claim through it; the caller writes debt.
func ReleaseDebtClaim(debt *subscription.Payment, by string) bool {
	if debt.CollectingBy == "" || debt.CollectingBy != by {
		return false
	}
	debt.CollectingBy = ""
	return true
}

// AfterFailure decides what follows a failed payment: the next retry
// attempt (persisted with its exact due time) when the decline is soft and
// attempts remain, otherwise the subscription goes on hold. pay is updated
// by the caller.
//
// The events it causes (payment.retry_scheduled, subscription.on_hold) are
// appended to events rather than written, so the caller writes them after
// the payment.failed that caused them.
func (s *Service) AfterFailure(tx interface {
	store.Billing
	store.Retries
}, pay *subscription.Payment, events *[]Pending) error {
	if pay.SubscriptionID == "" {
		return nil
	}
	sub, err := Subscription(tx, pay.SubscriptionID)
	if err != nil {
		return err
	}
	first := pay
	if pay.RetryOf != "" {
		p, err := Payment(tx, pay.RetryOf)
		if err != nil {
			return err
		}
		first = &p
	}
	now := s.c.Clock.Now()
	if first != pay {
		ReleaseDebtClaim(first, pay.ID)
		if !first.Overdue() {
			// Another charge collected the debt meanwhile: nothing to
			// retry, only the claim to release.
			first.UpdatedAt = now
			return tx.UpdatePayment(*first)
		}
	}
	first.NextRetryAt = time.Time{}
	if sub.Status == subscription.StatusActive {
		due, n, ok := s.c.Policy.Next(retry.NextInput{
			Failed: max(pay.RetryAttempt, 1), DeclineCode: pay.DeclineCode, FirstFailure: first.CreatedAt,
			FailedAt: now, MandateAuthorizedAt: sub.MandateAuthorizedAt, LastPaymentAt: sub.LastPaymentAt,
		})
		if ok {
			a := retry.Attempt{
				ID: ids.New("att"), SubscriptionID: sub.ID, CustomerID: sub.CustomerID, FirstPaymentID: first.ID,
				Number: n, Amount: first.Amount, Currency: first.Currency, Description: first.Description,
				FeesInclusive: first.FeesInclusive, Metadata: first.Metadata, DueAt: due,
				RunAt: s.c.Policy.NoticeAt(due, now), Status: retry.AttemptScheduled, CreatedAt: now, UpdatedAt: now,
			}
			if err := tx.PutAttempt(a); err != nil {
				return err
			}
			first.NextRetryAt = due
			*events = append(*events, Pending{EventRetryScheduled, sub.CustomerID, a})
		} else {
			sub.Status, sub.UpdatedAt, sub.DeclineCode = subscription.StatusOnHold, now, pay.DeclineCode
			if err := tx.UpdateSubscription(sub); err != nil {
				return err
			}
			// A subscription on hold cannot be charged, so the retries of
			// its other failed charges would only be cancelled when they
			// came due; cancel them now so their charges count as
			// delinquent at once. This chain has no scheduled attempt (the
			// one that just failed is claimed, or this is attempt 1).
			if err := s.CancelRetries(tx, sub.ID, ""); err != nil {
				return err
			}
			*events = append(*events, Pending{EventSubscriptionOnHold, sub.CustomerID, sub})
		}
	}
	if first != pay {
		first.UpdatedAt = now
		return tx.UpdatePayment(*first)
	}
	return nil
}

// AfterSuccess updates the subscription of a succeeded payment and settles
// the retry chain it belongs to.
func (s *Service) AfterSuccess(tx Tx, pay *subscription.Payment) error {
	now := s.c.Clock.Now()
	if pay.SubscriptionID != "" {
		sub, err := Subscription(tx, pay.SubscriptionID)
		if err != nil {
			return err
		}
		sub.LastPaymentAt, sub.UpdatedAt = now, now
		reactivated := sub.Status == subscription.StatusOnHold
		if reactivated {
			sub.Status = subscription.StatusActive
		}
		if err := tx.UpdateSubscription(sub); err != nil {
			return err
		}
		if reactivated {
			if err := s.c.Emit(tx, EventSubscriptionActive, sub.CustomerID, sub); err != nil {
				return err
			}
		}
	}
	if pay.RetryOf != "" {
		first, err := Payment(tx, pay.RetryOf)
		if err != nil {
			return err
		}
		// charge.settle checked that the debt was still open (debtCollected):
		// SettledBy is written once.
		first.SettledBy, first.NextRetryAt, first.UpdatedAt = pay.ID, time.Time{}, now
		ReleaseDebtClaim(&first, pay.ID)
		if err := tx.UpdatePayment(first); err != nil {
			return err
		}
		if err := s.CancelRetries(tx, pay.SubscriptionID, pay.RetryOf); err != nil {
			return err
		}
		// Settling a chain is the only way a success changes which charges
		// are overdue; other successes leave the delinquent flag as it is
		// (and skip its scan of the customer's failed payments).
		return s.RefreshDelinquency(tx, pay.CustomerID)
	}
	return nil
}

// CancelRetries cancels the scheduled (not yet claimed) attempts of a
// subscription, of one retry chain when firstPaymentID is set, and clears
// the chains' NextRetryAt.
func (s *Service) CancelRetries(tx interface {
	store.Billing
	store.Retries
}, subID, firstPaymentID string) error {
	attempts, err := tx.AttemptsBySubscription(subID)
	if err != nil {
		return err
	}
	now := s.c.Clock.Now()
	for _, a := range attempts {
		if a.Status != retry.AttemptScheduled || (firstPaymentID != "" && a.FirstPaymentID != firstPaymentID) {
			continue
		}
		a.Status, a.UpdatedAt = retry.AttemptCancelled, now
		if err := tx.PutAttempt(a); err != nil {
			return err
		}
		p, err := Payment(tx, a.FirstPaymentID)
		if err != nil {
			return err
		}
		if !p.NextRetryAt.IsZero() {
			p.NextRetryAt, p.UpdatedAt = time.Time{}, now
			if err := tx.UpdatePayment(p); err != nil {
				return err
			}
		}
	}
	return nil
}

// ChainEnded records that the retry chain of the failed payment
// firstPaymentID has no retry pending any more (its subscription can no
// longer be charged), which may make the customer delinquent.
func (s *Service) ChainEnded(tx Tx, firstPaymentID string) error {
	first, err := Payment(tx, firstPaymentID)
	if err != nil {
		return err
	}
	if first.NextRetryAt.IsZero() {
		return nil
	}
	first.NextRetryAt, first.UpdatedAt = time.Time{}, s.c.Clock.Now()
	if err := tx.UpdatePayment(first); err != nil {
		return err
	}
	return s.RefreshDelinquency(tx, first.CustomerID)
}

// RefreshDelinquency sets the customer's delinquent flag from their
// payments: delinquent while an overdue charge has no retry pending.
func (s *Service) RefreshDelinquency(tx interface {
	store.Customers
	store.BillingReader
	store.Outbox
}, customerID string) error {
	c, err := Customer(tx, customerID)
	if err != nil {
		return err
	}
	delinquent := false
	q := store.PaymentQuery{CustomerID: customerID, Statuses: []subscription.PaymentStatus{subscription.PaymentFailed},
		Page: store.Page{Limit: store.MaxLimit}}
	for !delinquent {
		list, more, err := tx.ListPayments(q)
		if err != nil {
			return err
		}
		for _, p := range list {
			if p.Delinquent() {
				delinquent = true
				break
			}
		}
		if !more || len(list) == 0 {
			break
		}
		q.StartingAfter = list[len(list)-1].ID
	}
	if c.Delinquent == delinquent {
		return nil
	}
	c.Delinquent, c.UpdatedAt = delinquent, s.c.Clock.Now()
	if err := tx.UpdateCustomer(c); err != nil {
		return err
	}
	typ := EventCustomerInGoodStand
	if delinquent {
		typ = EventCustomerDelinquent
	}
	return s.c.Emit(tx, typ, c.ID, c)
}
