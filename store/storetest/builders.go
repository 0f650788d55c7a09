package storetest

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
	"github.com/cofferhq/coffer/webhook"
)

// Builders of fully populated records, so a round trip checks every field.

func newCustomer(i int) customer.Customer {
	id := newID("cus")
	return customer.Customer{
		ID:          id,
		Name:        fmt.Sprintf("Customer %d", i),
		Email:       fmt.Sprintf("customer%d@example.com", i),
		Phone:       "+15550100",
		Description: "test customer",
		DID:         "did:example:" + id,
		Address: &customer.Address{Line1: "1 Main St", Line2: "Apt 2", City: "Springfield", State: "IL",
			PostalCode: "62701", Country: "US"},
		Shipping: &customer.Shipping{Address: customer.Address{Line1: "2 Side St", City: "Shelbyville",
			Country: "US"}, Name: "Ship To", Phone: "+15550101"},
		Metadata:      map[string]string{"tier": "gold", "n": fmt.Sprint(i)},
		InvoicePrefix: "INV",
		Delinquent:    i%2 == 1,
		Livemode:      i%3 == 1,
		CreatedAt:     t0,
		UpdatedAt:     t0.Add(time.Second),
	}
}

func newBalance(customerID, currency string, amount int64) wallet.Balance {
	return wallet.Balance{CustomerID: customerID, Currency: currency, Amount: amount, Held: amount / 4,
		UpdatedAt: t0, LowThreshold: 500, Low: amount < 500}
}

func newEntry(customerID, currency, key string) ledger.Entry {
	return ledger.Entry{
		ID: newID("le"), CustomerID: customerID, Currency: currency, Type: ledger.Credit, Amount: 1250,
		BalanceBefore: 100, BalanceAfter: 1350, Reason: "top-up", IdempotencyKey: key,
		Reference: ledger.Reference{Type: ledger.RefPayment, ID: "pay_1"}, Fingerprint: "fp-" + key,
		CreatedAt: t0,
	}
}

func newHold(customerID string) ledger.Hold {
	return ledger.Hold{ID: newID("hold"), CustomerID: customerID, Currency: "USD", Amount: 700,
		Status: ledger.HoldPending, Reference: ledger.Reference{Type: ledger.RefPayment, ID: "pay_2"},
		CreatedAt: t0, UpdatedAt: t0}
}

func newProduct() subscription.Product {
	return subscription.Product{ID: newID("prod"), Name: "Plan", Description: "monthly plan", Price: 1999,
		Currency: "USD", CreatedAt: t0}
}

func newSubscription(customerID string) subscription.Subscription {
	return subscription.Subscription{
		ID: newID("sub"), CustomerID: customerID, ProductID: "prod_1", Quantity: 2,
		Status: subscription.StatusActive, PaymentMethod: "pm_card_visa", MandateID: "mandate_1",
		MandateAuthorizedAt: t0, PaymentLink: "https://pay.example/l", ReturnURL: "https://shop.example/r",
		BillingAddress: &customer.Address{Line1: "1 Main St", Country: "US"},
		Price:          1999, Currency: "USD", Description: "on demand", FeesInclusive: true, MandateOnly: false,
		Metadata: map[string]string{"plan": "pro"}, DeclineCode: "", LastPaymentAt: t0.Add(time.Hour),
		CreatedAt: t0, UpdatedAt: t0,
	}
}

func newPayment(customerID, key string, status subscription.PaymentStatus) subscription.Payment {
	return subscription.Payment{
		ID: newID("pay"), CustomerID: customerID, SubscriptionID: "sub_1", Kind: subscription.KindSubscription,
		Amount: 5000, Currency: "USD", WalletAmount: 1000, ProcessorAmount: 4000, RefundedAmount: 0,
		Status: status, DeclineCode: "", PaymentMethod: "pm_card_visa", ProcessorID: "ch_1", HoldID: "hold_1",
		IdempotencyKey: key, Fingerprint: "fp-" + key, Description: "charge", FeesInclusive: true,
		Metadata: map[string]string{"order": "42"}, RetryAttempt: 1, RetryOf: "pay_0", SettledBy: "",
		NextRetryAt: t0.Add(72 * time.Hour), CreatedAt: t0, UpdatedAt: t0,
		WalletRefunded: 0, ProcessorRefunded: 0, CollectingBy: "pay_collector", CallUntil: t0.Add(2 * time.Minute),
		Fee: 125, ProductAmount: 4500, ProductCurrency: "EUR", FXRate: "1.0833", FXSource: "static", FXRateAt: t0.Add(-time.Hour),
	}
}

func newRefund(paymentID, key string, status subscription.RefundStatus) subscription.Refund {
	return subscription.Refund{
		ID: newID("re"), PaymentID: paymentID, CustomerID: "cus_1", Amount: 300, Currency: "USD",
		Destination: subscription.ToWallet, Status: status, WalletAmount: 300, ProcessorAmount: 0,
		Reason: "damaged", IdempotencyKey: key, Fingerprint: "fp-" + key, ProcessorID: "rf_1", CreatedAt: t0,
	}
}

func newEvent(typ, customerID string) webhook.Event {
	return webhook.Event{ID: newID("evt"), Type: typ, CustomerID: customerID,
		Data: json.RawMessage(`{"object":"payment","amount":5000}`), CreatedAt: t0}
}

func newAttempt(subscriptionID, customerID string, number int, status retry.AttemptStatus, runAt time.Time) retry.Attempt {
	return retry.Attempt{
		ID: newID("att"), SubscriptionID: subscriptionID, CustomerID: customerID, FirstPaymentID: "pay_1",
		PaymentID: "", Number: number, Amount: 5000, Currency: "USD", Description: "retry",
		FeesInclusive: true, Metadata: map[string]string{"retry": "yes"}, DueAt: runAt, RunAt: runAt,
		Notified: number%2 == 0, Status: status, CreatedAt: t0, UpdatedAt: t0,
	}
}

func newEndpoint() webhook.Endpoint {
	return webhook.Endpoint{
		ID: newID("we"), URL: "https://hooks.example/in", Description: "main", Secret: "whsec_abc",
		PreviousSecret: "whsec_old", PreviousExpiresAt: t0.Add(24 * time.Hour),
		EventTypes: []string{"payment.succeeded", "payment.failed"}, Disabled: false, CreatedAt: t0, UpdatedAt: t0,
	}
}

func newDelivery(eventID, endpointID string, status webhook.DeliveryStatus, runAt time.Time) webhook.Delivery {
	return webhook.Delivery{
		ID: newID("dlv"), EventID: eventID, EndpointID: endpointID, Status: status, Attempts: 1, RunAt: runAt,
		LeaseOwner: "", LastStatus: 500, LastError: "boom", CreatedAt: t0, UpdatedAt: t0,
	}
}
