// Package subscription holds products, on-demand subscriptions (a mandate
// authorised once, charged for variable amounts later), payments and refunds,
// with their state machines. It does no I/O.
package subscription

import (
	"errors"
	"fmt"
	"time"

	"github.com/cofferhq/coffer/customer"
)

// Errors. Validation errors wrap ErrInvalid (the 422 class).
var (
	ErrInvalid            = errors.New("subscription: invalid")
	ErrMissingMandateOnly = fmt.Errorf("%w: on_demand.mandate_only is required", ErrInvalid)
	ErrMissingPrice       = fmt.Errorf("%w: product_price is required", ErrInvalid)
	ErrInvalidPrice       = fmt.Errorf("%w: product_price must be > 0", ErrInvalid)
	ErrInvalidQuantity    = fmt.Errorf("%w: quantity must be >= 1", ErrInvalid)
	ErrUnknownProduct     = fmt.Errorf("%w: unknown product", ErrInvalid)
	// ErrNotRecurring: a subscription to a one-time product.
	ErrNotRecurring    = fmt.Errorf("%w: the product is sold once, not subscribed to", ErrInvalid)
	ErrMissingCustomer = fmt.Errorf("%w: customer id or new customer details required", ErrInvalid)
	ErrMissingMethod   = fmt.Errorf("%w: payment_method is required", ErrInvalid)
	ErrInvalidRefund   = fmt.Errorf("%w: refund amount must be > 0 and at most the refundable amount", ErrInvalid)
	ErrNotFound        = errors.New("subscription: not found")
	ErrProductNotFound = errors.New("subscription: product not found")
	ErrPaymentNotFound = errors.New("subscription: payment not found")
	// ErrNotActive: the subscription cannot be charged in its status (the
	// 409 class): pending, failed, cancelled or on hold.
	ErrNotActive = errors.New("subscription: not active")
	// ErrNotRefundable: the payment has not succeeded, or is fully refunded.
	ErrNotRefundable = errors.New("subscription: payment not refundable")
	// ErrIdempotencyConflict: a charge or refund key reused for a different request.
	ErrIdempotencyConflict = errors.New("subscription: idempotency key reused with a different request")
)

// Product is a catalog item a subscription refers to.
type Product struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Price       int64  `json:"price"`
	Currency    string `json:"currency"`
	// IdempotencyKey, when not empty, is the key the product was created
	// with: unique in the catalog, so a second create with it returns this
	// product.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// OneTime marks a product sold once (Dodo's one_time_price) rather
	// than subscribed to: a subscription refuses it (ErrNotRecurring).
	OneTime bool `json:"one_time,omitempty"`
	// TaxCategory is the caller's tax classification (Dodo's
	// tax_category: saas, digital_products, ...). coffer computes no tax;
	// it keeps the category for the caller's invoices and reports.
	TaxCategory string            `json:"tax_category,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	CreatedAt   time.Time         `json:"created_at"`
	// UpdatedAt is the time of the last UpdateProduct (CreatedAt before).
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// Status of a subscription.
type Status string

// Subscription statuses.
const (
	StatusPending   Status = "pending"   // mandate awaiting authorisation (hosted link)
	StatusActive    Status = "active"    // mandate authorised; can be charged
	StatusOnHold    Status = "on_hold"   // unpaid after the retry policy gave up
	StatusCancelled Status = "cancelled" // terminal
	StatusFailed    Status = "failed"    // mandate authorisation failed; terminal
)

// Subscription is an on-demand subscription: a customer's payment method
// authorised once (the mandate) and charged variable amounts later.
type Subscription struct {
	ID                  string            `json:"id"`
	CustomerID          string            `json:"customer_id"`
	ProductID           string            `json:"product_id"`
	Quantity            int               `json:"quantity"`
	Status              Status            `json:"status"`
	PaymentMethod       string            `json:"payment_method"`
	MandateID           string            `json:"mandate_id,omitempty"`
	MandateAuthorizedAt time.Time         `json:"mandate_authorized_at,omitzero"`
	PaymentLink         string            `json:"payment_link,omitempty"`
	ReturnURL           string            `json:"return_url,omitempty"`
	BillingAddress      *customer.Address `json:"billing_address,omitempty"`
	Price               int64             `json:"product_price"`
	Currency            string            `json:"product_currency"`
	Description         string            `json:"product_description,omitempty"`
	FeesInclusive       bool              `json:"adaptive_currency_fees_inclusive"`
	MandateOnly         bool              `json:"mandate_only"`
	Metadata            map[string]string `json:"metadata,omitempty"`
	DeclineCode         string            `json:"decline_code,omitempty"`
	LastPaymentAt       time.Time         `json:"last_payment_at,omitzero"`
	CreatedAt           time.Time         `json:"created_at"`
	UpdatedAt           time.Time         `json:"updated_at"`
	CancelledAt         time.Time         `json:"cancelled_at,omitzero"`
}

// CanCharge reports whether s can be charged now.
func (s Subscription) CanCharge() error {
	if s.Status != StatusActive {
		return fmt.Errorf("%w: %s is %s", ErrNotActive, s.ID, s.Status)
	}
	return nil
}

// Transition validates a status change. Cancelled and failed are terminal;
// on_hold returns to active when a payment succeeds.
func (s Subscription) Transition(to Status) error {
	ok := false
	switch s.Status {
	case StatusPending:
		ok = to == StatusActive || to == StatusFailed || to == StatusCancelled
	case StatusActive:
		ok = to == StatusOnHold || to == StatusCancelled
	case StatusOnHold:
		ok = to == StatusActive || to == StatusCancelled
	}
	if !ok {
		return fmt.Errorf("%w: cannot move %s from %s to %s", ErrNotActive, s.ID, s.Status, to)
	}
	return nil
}
