package coffer

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"strings"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/internal/billing"
	"github.com/cofferhq/coffer/internal/charge"
	"github.com/cofferhq/coffer/internal/text"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

// ProductParams creates a catalog product.
type ProductParams struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Price       int64  `json:"price"`
	Currency    string `json:"currency"`
	// IdempotencyKey, when not empty, makes the create safe to repeat (an
	// application that declares its catalog at start-up): the first create
	// with a key adds the product, later ones with the same key and the
	// same params return it, and the same key with other params is
	// subscription.ErrIdempotencyConflict (409). Keys are unique in the
	// catalog.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// OneTime makes a product sold once: subscriptions refuse it.
	OneTime bool `json:"one_time,omitempty"`
	// TaxCategory classifies the product for the caller (at most 64
	// bytes of lower-case letters, digits and _); coffer computes no tax.
	TaxCategory string            `json:"tax_category,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
}

// CreateProduct adds a product to the catalog (see
// ProductParams.IdempotencyKey for repeating it safely).
func (e *Engine) CreateProduct(ctx context.Context, p ProductParams) (subscription.Product, error) {
	if err := checkKey(subscription.ErrInvalid, "idempotency_key", p.IdempotencyKey); err != nil {
		return subscription.Product{}, err
	}
	// The name is stored trimmed, so it is validated trimmed.
	p.Name = strings.TrimSpace(p.Name)
	if p.Name == "" {
		return subscription.Product{}, fmt.Errorf("%w: product name is required", subscription.ErrInvalid)
	}
	if err := checkText(subscription.ErrInvalid, "name", p.Name, maxTextLen); err != nil {
		return subscription.Product{}, err
	}
	if err := checkText(subscription.ErrInvalid, "description", p.Description, maxTextLen); err != nil {
		return subscription.Product{}, err
	}
	if p.Price < 0 {
		return subscription.Product{}, subscription.ErrInvalidPrice
	}
	c, err := e.currencies.Check(p.Currency)
	if err != nil {
		return subscription.Product{}, err
	}
	if err := checkProductExtras(p.TaxCategory, p.Metadata); err != nil {
		return subscription.Product{}, err
	}
	now := e.clock.Now()
	prod := subscription.Product{ID: newID("prod"), Name: p.Name, Description: p.Description,
		Price: p.Price, Currency: c.Code, IdempotencyKey: p.IdempotencyKey, OneTime: p.OneTime,
		TaxCategory: p.TaxCategory, Metadata: p.Metadata, CreatedAt: now, UpdatedAt: now}
	out := prod
	err = e.update(ctx, func(tx store.Tx) error {
		if prod.IdempotencyKey != "" {
			old, err := tx.ProductByKey(prod.IdempotencyKey)
			switch {
			case err == nil:
				if old.Name != prod.Name || old.Description != prod.Description || old.Price != prod.Price ||
					old.Currency != prod.Currency || old.OneTime != prod.OneTime || old.TaxCategory != prod.TaxCategory ||
					!maps.Equal(old.Metadata, prod.Metadata) {
					return fmt.Errorf("%w: product idempotency key %s was used for %s", subscription.ErrIdempotencyConflict,
						text.Quote(prod.IdempotencyKey), old.ID)
				}
				out = old
				return nil
			case !errors.Is(err, store.ErrNotFound):
				return err
			}
		}
		out = prod
		return tx.PutProduct(prod)
	})
	if err != nil {
		return subscription.Product{}, err
	}
	return out, nil
}

// Product returns a catalog product.
func (e *Engine) Product(ctx context.Context, id string) (p subscription.Product, err error) {
	if err := checkID(subscription.ErrInvalid, "product_id", id); err != nil {
		return p, err
	}
	err = e.store.View(ctx, func(tx store.Tx) error {
		p, err = tx.Product(id)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: %s", subscription.ErrProductNotFound, text.Quote(id))
		}
		return err
	})
	return p, err
}

// OnDemand is the on_demand object of a subscription: authorise the payment
// method once (a mandate), then charge variable amounts with Charge.
type OnDemand struct {
	// MandateOnly is required: true authorises without charging; false also
	// makes an initial charge of ProductPrice x quantity.
	MandateOnly *bool `json:"mandate_only"`
	// ProductPrice is the initial amount in minor units; nil uses the
	// product's price.
	ProductPrice *int64 `json:"product_price,omitempty"`
	// ProductCurrency overrides the product's currency.
	ProductCurrency    string `json:"product_currency,omitempty"`
	ProductDescription string `json:"product_description,omitempty"`
	// AdaptiveCurrencyFeesInclusive is the subscription's default for its
	// charges' adaptive_currency_fees_inclusive: the adaptive-currency fee
	// of a converted charge is inside its price (true) or added on top
	// (false). See WithFX.
	AdaptiveCurrencyFeesInclusive bool `json:"adaptive_currency_fees_inclusive,omitempty"`
}

// SubscriptionParams creates an on-demand subscription. Give CustomerID to
// attach an existing customer, or Customer to create one (with its wallet).
type SubscriptionParams struct {
	ProductID      string            `json:"product_id"`
	Quantity       int               `json:"quantity"`
	CustomerID     string            `json:"customer_id,omitempty"`
	Customer       *customer.Params  `json:"customer,omitempty"`
	BillingAddress *customer.Address `json:"billing,omitempty"`
	PaymentMethod  string            `json:"payment_method"`
	// PaymentLink asks the processor for a hosted authorisation link the
	// customer completes; ReturnURL is where the hosted page sends them back.
	PaymentLink bool              `json:"payment_link,omitempty"`
	ReturnURL   string            `json:"return_url,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	OnDemand    *OnDemand         `json:"on_demand"`
}

// SubscriptionResult is what CreateSubscription and ConfirmMandate return:
// the subscription and, when an initial charge was made, its payment.
type SubscriptionResult struct {
	Subscription subscription.Subscription `json:"subscription"`
	Payment      *subscription.Payment     `json:"payment,omitempty"`
}

func (p SubscriptionParams) validate() error {
	if p.OnDemand == nil || p.OnDemand.MandateOnly == nil {
		return subscription.ErrMissingMandateOnly
	}
	if p.Quantity < 1 || p.Quantity > math.MaxInt32 {
		return subscription.ErrInvalidQuantity
	}
	if p.ProductID == "" {
		return fmt.Errorf("%w: product_id is required", subscription.ErrUnknownProduct)
	}
	if p.CustomerID == "" && p.Customer == nil {
		return subscription.ErrMissingCustomer
	}
	if strings.TrimSpace(p.PaymentMethod) == "" {
		return subscription.ErrMissingMethod
	}
	if p.OnDemand.ProductPrice != nil && *p.OnDemand.ProductPrice <= 0 {
		return subscription.ErrInvalidPrice
	}
	if p.BillingAddress != nil {
		if err := customer.ValidateAddress("billing", customer.NormalizeAddress(*p.BillingAddress)); err != nil {
			return err
		}
	}
	for _, f := range [...]struct {
		name, v string
		key     bool
	}{
		{"product_id", p.ProductID, true}, {"customer_id", p.CustomerID, true},
		{"payment_method", strings.TrimSpace(p.PaymentMethod), true}, // stored trimmed
		{"return_url", p.ReturnURL, false}, {"on_demand.product_description", p.OnDemand.ProductDescription, false},
		{"on_demand.product_currency", p.OnDemand.ProductCurrency, true},
	} {
		check := checkText(subscription.ErrInvalid, f.name, f.v, 2048)
		if f.key {
			check = checkKey(subscription.ErrInvalid, f.name, f.v)
		}
		if check != nil {
			return check
		}
	}
	if err := checkText(subscription.ErrInvalid, "on_demand.product_description", p.OnDemand.ProductDescription, maxTextLen); err != nil {
		return err
	}
	return customer.ValidateMetadata(p.Metadata)
}

// CreateSubscription creates an on-demand subscription: it records the
// subscription (and a new customer if asked), authorises the mandate with
// the processor outside any transaction, and, unless mandate_only, makes
// the initial charge through the normal charge path (wallet first).
//
// Validation errors are of the 422 class: missing on_demand.mandate_only,
// quantity < 1, unknown product, unsupported currency. A mandate that needs
// the customer's action leaves the subscription pending with PaymentLink
// set; call ConfirmMandate after the customer returns.
func (e *Engine) CreateSubscription(ctx context.Context, p SubscriptionParams) (SubscriptionResult, error) {
	if err := p.validate(); err != nil {
		return SubscriptionResult{}, err
	}
	if e.processor == nil {
		return SubscriptionResult{}, ErrNoProcessor
	}
	prod, err := e.Product(ctx, p.ProductID)
	if errors.Is(err, subscription.ErrProductNotFound) {
		return SubscriptionResult{}, fmt.Errorf("%w: %s", subscription.ErrUnknownProduct, text.Quote(p.ProductID))
	} else if err != nil {
		return SubscriptionResult{}, err
	}
	if prod.OneTime {
		return SubscriptionResult{}, &ParamError{Param: "product_id", Err: subscription.ErrNotRecurring,
			Problem: fmt.Errorf("product %s", text.Quote(prod.ID))}
	}
	od := p.OnDemand
	price := prod.Price
	if od.ProductPrice != nil {
		price = *od.ProductPrice
	}
	code := prod.Currency
	if od.ProductCurrency != "" {
		code = od.ProductCurrency
	}
	cur, err := e.currencies.Check(code)
	if err != nil {
		return SubscriptionResult{}, err
	}
	initial, err := money.MulMinor(price, int64(p.Quantity))
	if err != nil {
		return SubscriptionResult{}, err
	}
	if !*od.MandateOnly && initial <= 0 {
		return SubscriptionResult{}, subscription.ErrInvalidPrice
	}
	var newCustomer *customer.Customer
	now := e.clock.Now()
	if p.CustomerID == "" {
		c, err := customer.New(newID("cus"), *p.Customer, now)
		if err != nil {
			return SubscriptionResult{}, err
		}
		newCustomer = &c
		p.CustomerID = c.ID
	}
	desc := od.ProductDescription
	if desc == "" {
		desc = prod.Description
	}
	var addr *customer.Address
	if p.BillingAddress != nil {
		// Stored exactly as validated: " us " is "US", not " US ".
		a := customer.NormalizeAddress(*p.BillingAddress)
		addr = &a
	}
	sub := subscription.Subscription{
		ID: newID("sub"), CustomerID: p.CustomerID, ProductID: prod.ID, Quantity: p.Quantity,
		Status: subscription.StatusPending, PaymentMethod: strings.TrimSpace(p.PaymentMethod),
		ReturnURL: p.ReturnURL, BillingAddress: addr, Price: price, Currency: cur.Code, Description: desc,
		FeesInclusive: od.AdaptiveCurrencyFeesInclusive, MandateOnly: *od.MandateOnly, Metadata: p.Metadata,
		CreatedAt: now, UpdatedAt: now,
	}
	err = e.update(ctx, func(tx store.Tx) error {
		if newCustomer != nil {
			if err := e.createCustomer(tx, *newCustomer); err != nil {
				return err
			}
		} else if _, err := getCustomer(tx, p.CustomerID); err != nil {
			return err
		}
		return tx.InsertSubscription(sub)
	})
	if err != nil {
		return SubscriptionResult{}, err
	}
	m, err := e.processor.AuthorizeMandate(ctx, processor.MandateRequest{
		IdempotencyKey: sub.ID, CustomerID: sub.CustomerID, PaymentMethod: sub.PaymentMethod,
		ReturnURL: p.ReturnURL, PaymentLink: p.PaymentLink,
	})
	if err != nil {
		return e.mandateError(ctx, sub, err)
	}
	return e.applyMandate(ctx, sub.ID, m)
}

// mandateError handles an authorisation call that returned an error. When
// the outcome is unknown (processor unavailable, call cut short) the
// subscription stays pending and ConfirmMandate asks again (authorisation is
// idempotent by subscription id). Any other error is the processor
// rejecting the request (an unknown payment method, say): the subscription
// fails and the caller gets a 422-class error.
func (e *Engine) mandateError(ctx context.Context, sub subscription.Subscription, err error) (SubscriptionResult, error) {
	if errors.Is(err, processor.ErrUnavailable) || unknownOutcome(err) {
		return SubscriptionResult{Subscription: sub}, fmt.Errorf("coffer: authorising mandate of %s: %w", sub.ID, err)
	}
	res, aerr := e.applyMandate(ctx, sub.ID, processor.Mandate{Status: processor.MandateFailed, DeclineCode: DeclineProcessorError})
	if aerr != nil {
		return res, aerr
	}
	return res, fmt.Errorf("%w: payment method rejected by the processor: %v", subscription.ErrInvalid, err)
}

// ConfirmMandate asks the processor for the state of a pending
// subscription's mandate (after the customer completed the hosted link, or
// after an authorisation whose answer was lost) and applies it: active
// (with the initial charge unless mandate_only) or failed. On an active
// subscription that is not mandate_only it makes the initial charge if a
// crash lost it, and otherwise returns it.
func (e *Engine) ConfirmMandate(ctx context.Context, subscriptionID string) (SubscriptionResult, error) {
	if err := checkID(subscription.ErrInvalid, "subscription_id", subscriptionID); err != nil {
		return SubscriptionResult{}, err
	}
	sub, err := e.Subscription(ctx, subscriptionID)
	if err != nil {
		return SubscriptionResult{}, err
	}
	if sub.Status == subscription.StatusActive && !sub.MandateOnly {
		// A crash after the activation committed may have lost the initial
		// charge; it is idempotent by its key, so this makes it at most once
		// and otherwise returns it.
		return e.initialCharge(ctx, sub)
	}
	if sub.Status != subscription.StatusPending {
		return SubscriptionResult{Subscription: sub}, nil
	}
	if e.processor == nil {
		return SubscriptionResult{}, ErrNoProcessor
	}
	var m processor.Mandate
	if sub.MandateID != "" {
		m, err = e.processor.MandateStatus(ctx, sub.MandateID)
	} else {
		m, err = e.processor.AuthorizeMandate(ctx, processor.MandateRequest{
			IdempotencyKey: sub.ID, CustomerID: sub.CustomerID, PaymentMethod: sub.PaymentMethod, ReturnURL: sub.ReturnURL,
		})
	}
	if err != nil {
		return e.mandateError(ctx, sub, err)
	}
	return e.applyMandate(ctx, sub.ID, m)
}

// applyMandate records a mandate outcome and makes the initial charge.
func (e *Engine) applyMandate(ctx context.Context, subID string, m processor.Mandate) (SubscriptionResult, error) {
	var sub subscription.Subscription
	err := e.update(ctx, func(tx store.Tx) error {
		var err error
		if sub, err = getSubscription(tx, subID); err != nil {
			return err
		}
		if sub.Status != subscription.StatusPending {
			return nil // already applied by a concurrent confirmation
		}
		now := e.clock.Now()
		sub.MandateID = m.ID
		sub.UpdatedAt = now
		var event string
		switch m.Status {
		case processor.MandateAuthorized:
			sub.Status = subscription.StatusActive
			sub.MandateAuthorizedAt = m.AuthorizedAt.UTC()
			if sub.MandateAuthorizedAt.IsZero() {
				sub.MandateAuthorizedAt = now
			}
			event = EventSubscriptionActive
		case processor.MandateRequiresAction:
			if sub.PaymentLink == m.PaymentLink {
				return nil
			}
			sub.PaymentLink = m.PaymentLink
			event = EventSubscriptionPending
		default:
			sub.Status = subscription.StatusFailed
			sub.DeclineCode = m.DeclineCode
			event = EventSubscriptionFailed
		}
		if err := tx.UpdateSubscription(sub); err != nil {
			return err
		}
		return e.emit(tx, event, sub.CustomerID, sub)
	})
	if err != nil {
		return SubscriptionResult{}, err
	}
	if sub.Status != subscription.StatusActive || sub.MandateOnly {
		return SubscriptionResult{Subscription: sub}, nil
	}
	return e.initialCharge(ctx, sub)
}

// initialCharge makes (or, by its idempotency key, returns) the initial
// charge of an active subscription that is not mandate_only.
func (e *Engine) initialCharge(ctx context.Context, sub subscription.Subscription) (SubscriptionResult, error) {
	res := SubscriptionResult{Subscription: sub}
	initial, _ := money.MulMinor(sub.Price, int64(sub.Quantity))
	pay, err := e.charges.Charge(ctx, charge.Input{
		SubscriptionID: sub.ID, Amount: initial, Currency: sub.Currency, Description: sub.Description,
		FeesInclusive: sub.FeesInclusive, Metadata: sub.Metadata, IdempotencyKey: "initial:" + sub.ID,
	})
	if err != nil {
		return res, err
	}
	res.Payment = &pay
	res.Subscription, err = e.Subscription(ctx, sub.ID)
	return res, err
}

func getSubscription(tx store.BillingReader, id string) (subscription.Subscription, error) {
	return billing.Subscription(tx, id)
}

// Subscription returns a subscription.
func (e *Engine) Subscription(ctx context.Context, id string) (subscription.Subscription, error) {
	if err := checkID(subscription.ErrInvalid, "subscription_id", id); err != nil {
		return subscription.Subscription{}, err
	}
	return view(ctx, e, func(tx store.Tx) (subscription.Subscription, error) { return getSubscription(tx, id) })
}

// SubscriptionListParams filters ListSubscriptions: CustomerID "" lists
// every customer's, Status "" every status; Created bounds CreatedAt.
type SubscriptionListParams struct {
	ListParams
	CustomerID string              `json:"customer_id,omitempty"`
	Status     subscription.Status `json:"status,omitempty"`
	Created    TimeRange           `json:"created,omitzero"`
}

// ListSubscriptions lists subscriptions newest first (by CreatedAt), of
// one customer (a customer that does not exist is a not-found error) or
// account-wide. An unknown status is a 422 naming "status".
func (e *Engine) ListSubscriptions(ctx context.Context, p SubscriptionListParams) (out List[subscription.Subscription], err error) {
	if err := checkCustomerID(p.CustomerID); err != nil {
		return out, err
	}
	if err := checkSubscriptionStatus(p.Status); err != nil {
		return out, err
	}
	q := store.SubscriptionListQuery{CustomerID: p.CustomerID, Status: p.Status}
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
		data, more, err := tx.QuerySubscriptions(q)
		if err != nil {
			return listErr(err)
		}
		out = newList(data, more, q.Page, func(s subscription.Subscription) string { return s.ID })
		return nil
	})
	return out, err
}

// CancelSubscription cancels a subscription: it can no longer be charged
// and its scheduled retries are cancelled. Cancelling a cancelled
// subscription returns it unchanged.
func (e *Engine) CancelSubscription(ctx context.Context, id string) (subscription.Subscription, error) {
	if err := checkID(subscription.ErrInvalid, "subscription_id", id); err != nil {
		return subscription.Subscription{}, err
	}
	var sub subscription.Subscription
	err := e.update(ctx, func(tx store.Tx) error {
		var err error
		if sub, err = getSubscription(tx, id); err != nil {
			return err
		}
		if sub.Status == subscription.StatusCancelled {
			return nil
		}
		if err := sub.Transition(subscription.StatusCancelled); err != nil {
			return err
		}
		now := e.clock.Now()
		sub.Status = subscription.StatusCancelled
		sub.CancelledAt, sub.UpdatedAt = now, now
		if err := tx.UpdateSubscription(sub); err != nil {
			return err
		}
		if err := e.billing.CancelRetries(tx, sub.ID, ""); err != nil {
			return err
		}
		if err := e.billing.RefreshDelinquency(tx, sub.CustomerID); err != nil {
			return err
		}
		return e.emit(tx, EventSubscriptionCancelled, sub.CustomerID, sub)
	})
	return sub, err
}
