package subscription

import "time"

// PaymentStatus is the state of a payment.
type PaymentStatus string

// Payment statuses.
const (
	PaymentPending           PaymentStatus = "pending"
	PaymentSucceeded         PaymentStatus = "succeeded"
	PaymentFailed            PaymentStatus = "failed"
	PaymentRefunded          PaymentStatus = "refunded"
	PaymentPartiallyRefunded PaymentStatus = "partially_refunded"
)

// Kind tells a one-time payment from a subscription charge.
type Kind string

// Payment kinds.
const (
	KindOneTime      Kind = "one_time"
	KindSubscription Kind = "subscription"
	// KindCreditPurchase is a one-time payment that buys wallet credit
	// (Engine.BuyCredit): charged in full to its payment method, never
	// paid from the wallet, and crediting the wallet when it succeeds.
	KindCreditPurchase Kind = "credit_purchase"
)

// Payment is one charge of a customer. The wallet balance in its currency is
// applied first (WalletAmount, reserved by a hold while the processor is
// called); only ProcessorAmount goes to the payment method.
type Payment struct {
	ID              string `json:"id"`
	CustomerID      string `json:"customer_id"`
	SubscriptionID  string `json:"subscription_id,omitempty"`
	Kind            Kind   `json:"kind"`
	Amount          int64  `json:"amount"`
	Currency        string `json:"currency"`
	WalletAmount    int64  `json:"wallet_amount"`
	ProcessorAmount int64  `json:"processor_amount"`
	RefundedAmount  int64  `json:"refunded_amount"`
	// WalletRefunded and ProcessorRefunded split RefundedAmount by where
	// the money went back: to the wallet (at most WalletAmount) and through
	// the processor (at most ProcessorAmount). Both include the refunds
	// still pending at the processor, whose amounts are reserved.
	WalletRefunded    int64         `json:"wallet_refunded"`
	ProcessorRefunded int64         `json:"processor_refunded"`
	Status            PaymentStatus `json:"status"`
	DeclineCode       string        `json:"decline_code,omitempty"`
	PaymentMethod     string        `json:"payment_method,omitempty"`
	ProcessorID       string        `json:"processor_id,omitempty"`
	HoldID            string        `json:"-"` // internal: the hold reserving the wallet part
	IdempotencyKey    string        `json:"idempotency_key,omitempty"`
	Fingerprint       string        `json:"-"`
	Description       string        `json:"description,omitempty"`
	FeesInclusive     bool          `json:"adaptive_currency_fees_inclusive"`
	// Fee is the adaptive-currency fee inside Amount, in minor units of
	// Currency (0 when no fee applies). Amount is always what the customer
	// pays, fee included: with FeesInclusive the fee was carved out of the
	// product price, otherwise it was added on top of it.
	Fee int64 `json:"fee"`
	// ProductAmount and ProductCurrency are the product price as the
	// charge asked for it, before conversion into Currency; both are empty
	// when the charge was not converted (adaptive currency off, or the
	// price already in the payment's currency).
	ProductAmount   int64  `json:"product_amount,omitempty"`
	ProductCurrency string `json:"product_currency,omitempty"`
	// FXRate is the exchange rate used (units of Currency per unit of
	// ProductCurrency) as a decimal string, FXSource the source that gave
	// it and FXRateAt when the source fixed it (zero when it did not say).
	FXRate       string            `json:"fx_rate,omitempty"`
	FXSource     string            `json:"fx_source,omitempty"`
	FXRateAt     time.Time         `json:"fx_rate_at,omitzero"`
	Metadata     map[string]string `json:"metadata,omitempty"`
	RetryAttempt int               `json:"retry_attempt,omitempty"`
	// RetryOf links a retry charge to the failed charge it retries (the
	// first payment of the chain); only that first payment counts as overdue.
	RetryOf string `json:"retry_of,omitempty"`
	// SettledBy is the id of the later payment (a successful retry) that
	// collected this failed charge; a settled failure is no longer overdue.
	SettledBy string `json:"settled_by,omitempty"`
	// NextRetryAt is when the retry policy will next try to collect this
	// failed charge; zero when no retry is pending (the customer is then
	// delinquent while the charge stays unpaid).
	NextRetryAt time.Time `json:"next_retry_at,omitzero"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`

	// CollectingBy is set on an overdue charge while a later charge (a
	// retry or CollectOverdue) is collecting it: the id of that pending
	// payment. It is the claim that makes one debt collected at most
	// once; it is internal and never leaves the process as JSON.
	CollectingBy string `json:"-"`
	// CallUntil is the lease on this payment's processor call: while it
	// lies in the future, the engine that made the call may still be
	// waiting for its answer, so neither Reconcile nor a retaken retry
	// asks the processor about the payment or declares it failed. The
	// caller renews it while the call lasts. Internal, never JSON.
	CallUntil time.Time `json:"-"`
}

// Paid is the amount actually collected: the whole amount once succeeded.
func (p Payment) Paid() int64 {
	switch p.Status {
	case PaymentSucceeded, PaymentRefunded, PaymentPartiallyRefunded:
		return p.Amount
	}
	return 0
}

// Refundable is what may still be refunded.
func (p Payment) Refundable() int64 { return p.Paid() - p.RefundedAmount }

// Overdue reports whether the payment is an unpaid subscription charge:
// failed, not a retry of another charge, and not settled by a later
// successful retry. A declined one-time payment or credit purchase is not a
// debt: nothing was delivered, so it is never overdue.
func (p Payment) Overdue() bool {
	return p.Status == PaymentFailed && p.Kind != KindOneTime && p.Kind != KindCreditPurchase &&
		p.RetryOf == "" && p.SettledBy == ""
}

// Delinquent reports whether the payment is overdue with no retry pending.
func (p Payment) Delinquent() bool { return p.Overdue() && p.NextRetryAt.IsZero() }

// RefundDestination says where refunded money goes.
type RefundDestination string

// Refund destinations.
const (
	ToPaymentMethod RefundDestination = "payment_method"
	ToWallet        RefundDestination = "wallet"
)

// RefundStatus is the state of a refund. A refund through the processor is
// pending while the processor is called; its amount is reserved on the
// payment meanwhile so concurrent refunds never exceed what was paid.
type RefundStatus string

// Refund statuses.
const (
	RefundPending   RefundStatus = "pending"
	RefundSucceeded RefundStatus = "succeeded"
	RefundFailed    RefundStatus = "failed"
)

// Refund returns all or part of a succeeded payment.
type Refund struct {
	ID              string            `json:"id"`
	PaymentID       string            `json:"payment_id"`
	CustomerID      string            `json:"customer_id"`
	Amount          int64             `json:"amount"`
	Currency        string            `json:"currency"`
	Destination     RefundDestination `json:"destination"`
	Status          RefundStatus      `json:"status"`
	WalletAmount    int64             `json:"wallet_amount"`    // credited to the wallet
	ProcessorAmount int64             `json:"processor_amount"` // returned through the processor
	Reason          string            `json:"reason,omitempty"`
	IdempotencyKey  string            `json:"idempotency_key"`
	Fingerprint     string            `json:"-"`
	ProcessorID     string            `json:"processor_id,omitempty"`
	CreatedAt       time.Time         `json:"created_at"`
}
