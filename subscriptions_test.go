package coffer

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
)

// Helpers of the on-demand tests (prefixed od to stay clear of other test
// files of the package).

// odProduct creates a catalog product.
func (v *env) odProduct(price int64, currency string) subscription.Product {
	v.t.Helper()
	p, err := v.CreateProduct(v.ctx, ProductParams{Name: "Coffee beans", Description: "1 kg of beans", Price: price, Currency: currency})
	require.NoError(v.t, err)
	return p
}

// odSubscribe creates a mandate-only subscription of customerID on a 5.00
// USD product with payment method pm and returns it (active for tokens
// whose mandate is authorised).
func (v *env) odSubscribe(customerID, pm string) subscription.Subscription {
	v.t.Helper()
	prod := v.odProduct(5_00, "USD")
	res, err := v.CreateSubscription(v.ctx, SubscriptionParams{
		ProductID: prod.ID, Quantity: 1, CustomerID: customerID, PaymentMethod: pm,
		OnDemand: &OnDemand{MandateOnly: new(true)},
	})
	require.NoError(v.t, err)
	return res.Subscription
}

// odFund credits a wallet.
func (v *env) odFund(customerID string, amount int64, currency string) {
	v.t.Helper()
	_, err := v.CreateEntry(v.ctx, customerID, EntryParams{Amount: amount, Currency: currency, Type: ledger.Credit,
		Reason: "Prepaid deposit"})
	require.NoError(v.t, err)
}

// odBalance reads one wallet balance.
func (v *env) odBalance(customerID, currency string) wallet.Balance {
	v.t.Helper()
	b, err := v.Balance(v.ctx, customerID, currency)
	require.NoError(v.t, err)
	return b
}

// odPayments lists every payment of a customer, newest first.
func (v *env) odPayments(customerID string) []subscription.Payment {
	v.t.Helper()
	var out []subscription.Payment
	p := PaymentListParams{CustomerID: customerID, ListParams: ListParams{Limit: 100}}
	for pay, err := range Iterate(v.ctx, p, v.ListPayments) {
		require.NoError(v.t, err)
		out = append(out, pay)
	}
	return out
}

// odEntries lists every ledger entry of a customer, newest first.
func (v *env) odEntries(customerID string) []ledger.Entry {
	v.t.Helper()
	page, err := v.ListEntries(v.ctx, EntryListParams{CustomerID: customerID, ListParams: ListParams{Limit: 100}})
	require.NoError(v.t, err)
	require.False(v.t, page.HasMore)
	return page.Data
}

// odHold reads a hold from the store.
func (v *env) odHold(id string) ledger.Hold {
	v.t.Helper()
	var h ledger.Hold
	require.NoError(v.t, v.store.View(v.ctx, func(tx store.Tx) (err error) {
		h, err = tx.Hold(id)
		return err
	}))
	return h
}

// odCustomer reads a customer.
func (v *env) odCustomer(id string) customer.Customer {
	v.t.Helper()
	c, err := v.Customer(v.ctx, id)
	require.NoError(v.t, err)
	return c
}

// odDiff returns the event counts added since before.
func odDiff(before, after map[string]int) map[string]int {
	out := map[string]int{}
	for k, n := range after {
		if d := n - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

var odHardDeclines = []string{processor.DoNotHonor, processor.StolenCard, processor.LostCard, processor.PickupCard,
	processor.Fraudulent, processor.AuthenticationFailure}

func TestProducts(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		p, err := v.CreateProduct(v.ctx, ProductParams{Name: "  Tea  ", Description: "Green", Price: 3_50, Currency: "inr"})
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(p.ID, "prod_"), p.ID)
		require.Equal(t, "Tea", p.Name)
		require.Equal(t, "INR", p.Currency)
		require.Equal(t, int64(350), p.Price)
		require.Equal(t, t0, p.CreatedAt)
		got, err := v.Product(v.ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, p, got)

		_, err = v.Product(v.ctx, "prod_missing")
		require.ErrorIs(t, err, subscription.ErrProductNotFound)
		require.Equal(t, http.StatusNotFound, HTTPStatus(err))

		for _, tc := range []struct {
			p    ProductParams
			want error
		}{
			{ProductParams{Name: " ", Price: 1, Currency: "USD"}, subscription.ErrInvalid},
			{ProductParams{Name: "x", Price: -1, Currency: "USD"}, subscription.ErrInvalidPrice},
			{ProductParams{Name: "x", Price: 1, Currency: "EUR"}, money.ErrCurrencyDisabled},
			{ProductParams{Name: "x", Price: 1, Currency: "ZZZ"}, money.ErrUnknownCurrency},
		} {
			_, err := v.CreateProduct(v.ctx, tc.p)
			require.ErrorIs(t, err, tc.want)
			require.Equal(t, http.StatusUnprocessableEntity, HTTPStatus(err))
		}
	})
}

func TestCreateSubscription(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		t.Run("mandate only authorises without charging", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			prod := v.odProduct(12_00, "USD")
			before := v.eventTypes()
			res, err := v.CreateSubscription(v.ctx, SubscriptionParams{
				ProductID: prod.ID, Quantity: 2, CustomerID: c.ID, PaymentMethod: processor.CardOK,
				ReturnURL: "https://shop.test/back", Metadata: map[string]string{"plan": "beans"},
				BillingAddress: &customer.Address{Line1: "1 Main St", City: "Austin", Country: "us"},
				OnDemand:       &OnDemand{MandateOnly: new(true), ProductDescription: "Monthly beans", AdaptiveCurrencyFeesInclusive: true},
			})
			require.NoError(t, err)
			require.Nil(t, res.Payment)
			s := res.Subscription
			require.True(t, strings.HasPrefix(s.ID, "sub_"), s.ID)
			require.Equal(t, subscription.StatusActive, s.Status)
			require.Equal(t, c.ID, s.CustomerID)
			require.Equal(t, prod.ID, s.ProductID)
			require.Equal(t, 2, s.Quantity)
			require.Equal(t, "mdt_test_1", s.MandateID)
			require.Equal(t, t0, s.MandateAuthorizedAt)
			require.Equal(t, int64(12_00), s.Price)
			require.Equal(t, "USD", s.Currency)
			require.Equal(t, "Monthly beans", s.Description)
			require.True(t, s.FeesInclusive)
			require.True(t, s.MandateOnly)
			require.Equal(t, "US", s.BillingAddress.Country)
			require.Equal(t, map[string]string{"plan": "beans"}, s.Metadata)
			require.Empty(t, s.PaymentLink)
			require.Zero(t, v.proc.ChargeCount())
			require.Empty(t, v.odPayments(c.ID))
			require.Equal(t, map[string]int{EventSubscriptionActive: 1}, odDiff(before, v.eventTypes()))

			got, err := v.Subscription(v.ctx, s.ID)
			require.NoError(t, err)
			require.Equal(t, s, got)
			_, err = v.Subscription(v.ctx, "sub_missing")
			require.ErrorIs(t, err, subscription.ErrNotFound)
			require.Equal(t, http.StatusNotFound, HTTPStatus(err))
		})

		t.Run("initial charge is the product price times quantity", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			prod := v.odProduct(5_00, "USD")
			before := v.eventTypes()
			res, err := v.CreateSubscription(v.ctx, SubscriptionParams{
				ProductID: prod.ID, Quantity: 3, CustomerID: c.ID, PaymentMethod: processor.CardOK,
				OnDemand: &OnDemand{MandateOnly: new(false)},
			})
			require.NoError(t, err)
			require.Equal(t, subscription.StatusActive, res.Subscription.Status)
			require.Equal(t, t0, res.Subscription.LastPaymentAt)
			require.NotNil(t, res.Payment)
			p := *res.Payment
			require.Equal(t, int64(15_00), p.Amount)
			require.Equal(t, "USD", p.Currency)
			require.Equal(t, subscription.PaymentSucceeded, p.Status)
			require.Equal(t, int64(15_00), p.ProcessorAmount)
			require.Equal(t, "initial:"+res.Subscription.ID, p.IdempotencyKey)
			require.Equal(t, "1 kg of beans", p.Description) // the product's description by default
			require.Equal(t, 1, v.proc.ChargeCount())
			require.Equal(t, int64(15_00), v.proc.Charges()[0].Amount)
			require.Equal(t, "mdt_test_1", v.proc.Charges()[0].MandateID)
			require.Equal(t, map[string]int{EventSubscriptionActive: 1, EventPaymentSucceeded: 1}, odDiff(before, v.eventTypes()))
		})

		t.Run("initial charge with price and currency overrides, wallet first", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			v.odFund(c.ID, 100_00, "INR")
			prod := v.odProduct(5_00, "USD")
			res, err := v.CreateSubscription(v.ctx, SubscriptionParams{
				ProductID: prod.ID, Quantity: 2, CustomerID: c.ID, PaymentMethod: processor.CardOK,
				OnDemand: &OnDemand{MandateOnly: new(false), ProductPrice: new(int64(250_00)), ProductCurrency: "inr"},
			})
			require.NoError(t, err)
			s, p := res.Subscription, *res.Payment
			require.Equal(t, int64(250_00), s.Price)
			require.Equal(t, "INR", s.Currency)
			require.Equal(t, int64(500_00), p.Amount)
			require.Equal(t, "INR", p.Currency)
			require.Equal(t, int64(100_00), p.WalletAmount)
			require.Equal(t, int64(400_00), p.ProcessorAmount)
			require.Equal(t, int64(400_00), v.proc.Charges()[0].Amount)
			require.Equal(t, "INR", v.proc.Charges()[0].Currency)
			require.Zero(t, v.odBalance(c.ID, "INR").Amount)
			v.checkLedger(c.ID)
		})

		t.Run("new customer details create the customer with its wallet", func(t *testing.T) {
			v := newEnv(t, newStore)
			prod := v.odProduct(5_00, "USD")
			before := v.eventTypes()
			res, err := v.CreateSubscription(v.ctx, SubscriptionParams{
				ProductID: prod.ID, Quantity: 1, PaymentMethod: processor.CardOK,
				Customer: &customer.Params{Name: new("Ada"), Email: new("ada@example.com")},
				OnDemand: &OnDemand{MandateOnly: new(true)},
			})
			require.NoError(t, err)
			c := v.odCustomer(res.Subscription.CustomerID)
			require.Equal(t, "Ada", c.Name)
			require.Equal(t, "ada@example.com", c.Email)
			bs, err := v.Balances(v.ctx, c.ID)
			require.NoError(t, err)
			require.Len(t, bs, 2)
			require.Equal(t, "INR", bs[0].Currency)
			require.Equal(t, "USD", bs[1].Currency)
			require.Equal(t, map[string]int{EventCustomerCreated: 1, EventSubscriptionActive: 1}, odDiff(before, v.eventTypes()))
			list, err := v.ListSubscriptions(v.ctx, SubscriptionListParams{CustomerID: c.ID})
			require.NoError(t, err)
			require.Len(t, list.Data, 1)
			require.Equal(t, res.Subscription.ID, list.Data[0].ID)
		})

		t.Run("validation errors are 422 and store nothing", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			prod := v.odProduct(5_00, "USD")
			free := v.odProduct(0, "USD")
			ok := func(mod func(p *SubscriptionParams)) SubscriptionParams {
				p := SubscriptionParams{ProductID: prod.ID, Quantity: 1, CustomerID: c.ID, PaymentMethod: processor.CardOK,
					OnDemand: &OnDemand{MandateOnly: new(false)}}
				mod(&p)
				return p
			}
			tooMany := map[string]string{}
			for i := 0; i <= customer.MaxMetadataKeys; i++ {
				tooMany[fmt.Sprint("k", i)] = "v"
			}
			cases := []struct {
				name string
				p    SubscriptionParams
				want error
			}{
				{"no on_demand", ok(func(p *SubscriptionParams) { p.OnDemand = nil }), subscription.ErrMissingMandateOnly},
				{"no mandate_only", ok(func(p *SubscriptionParams) { p.OnDemand.MandateOnly = nil }), subscription.ErrMissingMandateOnly},
				{"quantity 0", ok(func(p *SubscriptionParams) { p.Quantity = 0 }), subscription.ErrInvalidQuantity},
				{"quantity -1", ok(func(p *SubscriptionParams) { p.Quantity = -1 }), subscription.ErrInvalidQuantity},
				{"unknown product", ok(func(p *SubscriptionParams) { p.ProductID = "prod_missing" }), subscription.ErrUnknownProduct},
				{"no product", ok(func(p *SubscriptionParams) { p.ProductID = "" }), subscription.ErrUnknownProduct},
				{"disabled currency", ok(func(p *SubscriptionParams) { p.OnDemand.ProductCurrency = "EUR" }), money.ErrCurrencyDisabled},
				{"unknown currency", ok(func(p *SubscriptionParams) { p.OnDemand.ProductCurrency = "XYZ" }), money.ErrUnknownCurrency},
				{"no customer", ok(func(p *SubscriptionParams) { p.CustomerID = "" }), subscription.ErrMissingCustomer},
				{"no payment method", ok(func(p *SubscriptionParams) { p.PaymentMethod = " " }), subscription.ErrMissingMethod},
				{"price 0", ok(func(p *SubscriptionParams) { p.OnDemand.ProductPrice = new(int64(0)) }), subscription.ErrInvalidPrice},
				{"free product charged", ok(func(p *SubscriptionParams) { p.ProductID = free.ID }), subscription.ErrInvalidPrice},
				{"metadata empty key", ok(func(p *SubscriptionParams) { p.Metadata = map[string]string{"": "x"} }), customer.ErrInvalidMeta},
				{"metadata too many keys", ok(func(p *SubscriptionParams) { p.Metadata = tooMany }), customer.ErrInvalidMeta},
				{"billing country", ok(func(p *SubscriptionParams) { p.BillingAddress = &customer.Address{Country: "XX"} }), customer.ErrInvalidCountry},
				{"new customer email", ok(func(p *SubscriptionParams) {
					p.CustomerID, p.Customer = "", &customer.Params{Email: new("not-an-email")}
				}), customer.ErrInvalidEmail},
			}
			before := len(v.events())
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					_, err := v.CreateSubscription(v.ctx, tc.p)
					require.ErrorIs(t, err, tc.want)
					require.Equal(t, http.StatusUnprocessableEntity, HTTPStatus(err), "%v", err)
				})
			}
			// A customer id that does not exist is a 404, and the
			// subscription insert rolls back with it.
			_, err := v.CreateSubscription(v.ctx, ok(func(p *SubscriptionParams) { p.CustomerID = "cus_missing" }))
			require.ErrorIs(t, err, customer.ErrNotFound)
			require.Equal(t, http.StatusNotFound, HTTPStatus(err))

			require.Len(t, v.events(), before)
			list, err := v.ListSubscriptions(v.ctx, SubscriptionListParams{CustomerID: c.ID})
			require.NoError(t, err)
			require.Empty(t, list.Data)
			all, err := v.ListCustomers(v.ctx, CustomerListParams{})
			require.NoError(t, err)
			require.Len(t, all.Data, 1)
			require.Zero(t, v.proc.ChargeCount())
			require.Empty(t, v.odPayments(c.ID))
		})

		t.Run("payment link: pending until the customer completes it", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			prod := v.odProduct(7_00, "USD")
			res, err := v.CreateSubscription(v.ctx, SubscriptionParams{
				ProductID: prod.ID, Quantity: 1, CustomerID: c.ID, PaymentMethod: processor.CardRequiresAction,
				PaymentLink: true, ReturnURL: "https://shop.test/done", OnDemand: &OnDemand{MandateOnly: new(false)},
			})
			require.NoError(t, err)
			s := res.Subscription
			require.Nil(t, res.Payment)
			require.Equal(t, subscription.StatusPending, s.Status)
			require.Equal(t, "https://pay.test/authorize/mdt_test_1?return_url=https%3A%2F%2Fshop.test%2Fdone", s.PaymentLink)
			require.Equal(t, "mdt_test_1", s.MandateID)
			require.Equal(t, 1, v.eventTypes()[EventSubscriptionPending])

			// Charging a pending subscription is refused.
			_, err = v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(100))})
			require.ErrorIs(t, err, subscription.ErrNotActive)

			// Not completed yet: confirming changes nothing.
			before := len(v.events())
			again, err := v.ConfirmMandate(v.ctx, s.ID)
			require.NoError(t, err)
			require.Equal(t, subscription.StatusPending, again.Subscription.Status)
			require.Len(t, v.events(), before)

			v.clock.Advance(5 * time.Minute)
			_, err = v.proc.CompleteMandate(s.MandateID, true)
			require.NoError(t, err)
			done, err := v.ConfirmMandate(v.ctx, s.ID)
			require.NoError(t, err)
			require.Equal(t, subscription.StatusActive, done.Subscription.Status)
			require.Equal(t, t0.Add(5*time.Minute), done.Subscription.MandateAuthorizedAt)
			require.NotNil(t, done.Payment)
			require.Equal(t, subscription.PaymentSucceeded, done.Payment.Status)
			require.Equal(t, int64(7_00), done.Payment.Amount)
			require.Equal(t, 1, v.proc.ChargeCount())

			// Confirming again is a no-op that returns the initial payment.
			before = len(v.events())
			again, err = v.ConfirmMandate(v.ctx, s.ID)
			require.NoError(t, err)
			require.Equal(t, subscription.StatusActive, again.Subscription.Status)
			require.NotNil(t, again.Payment)
			require.Equal(t, done.Payment.ID, again.Payment.ID)
			require.Len(t, v.events(), before)
			require.Equal(t, 1, v.proc.ChargeCount())
		})

		t.Run("payment link: customer fails the hosted page", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			prod := v.odProduct(7_00, "USD")
			res, err := v.CreateSubscription(v.ctx, SubscriptionParams{
				ProductID: prod.ID, Quantity: 1, CustomerID: c.ID, PaymentMethod: processor.CardRequiresAction,
				PaymentLink: true, OnDemand: &OnDemand{MandateOnly: new(false)},
			})
			require.NoError(t, err)
			_, err = v.proc.CompleteMandate(res.Subscription.MandateID, false)
			require.NoError(t, err)
			done, err := v.ConfirmMandate(v.ctx, res.Subscription.ID)
			require.NoError(t, err)
			require.Nil(t, done.Payment)
			require.Equal(t, subscription.StatusFailed, done.Subscription.Status)
			require.Equal(t, processor.AuthenticationFailure, done.Subscription.DeclineCode)
			require.Equal(t, 1, v.eventTypes()[EventSubscriptionFailed])
			require.Zero(t, v.proc.ChargeCount())
		})

		t.Run("every hard decline fails the mandate", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			tokens := map[string]string{
				processor.CardDoNotHonor: processor.DoNotHonor, processor.CardStolen: processor.StolenCard,
				processor.CardLost: processor.LostCard, processor.CardPickup: processor.PickupCard,
				processor.CardFraudulent: processor.Fraudulent, processor.CardAuthenticationFailure: processor.AuthenticationFailure,
			}
			require.Len(t, tokens, len(odHardDeclines))
			for token, code := range tokens {
				before := v.eventTypes()
				prod := v.odProduct(5_00, "USD")
				res, err := v.CreateSubscription(v.ctx, SubscriptionParams{
					ProductID: prod.ID, Quantity: 1, CustomerID: c.ID, PaymentMethod: token,
					OnDemand: &OnDemand{MandateOnly: new(false)},
				})
				require.NoError(t, err, token)
				require.Nil(t, res.Payment)
				require.Equal(t, subscription.StatusFailed, res.Subscription.Status, token)
				require.Equal(t, code, res.Subscription.DeclineCode)
				require.Equal(t, map[string]int{EventSubscriptionFailed: 1}, odDiff(before, v.eventTypes()), token)
				_, err = v.Charge(v.ctx, res.Subscription.ID, ChargeParams{ProductPrice: new(int64(100))})
				require.ErrorIs(t, err, subscription.ErrNotActive)
				require.Equal(t, http.StatusConflict, HTTPStatus(err))
			}
			require.Zero(t, v.proc.ChargeCount())
			require.False(t, v.odCustomer(c.ID).Delinquent)
		})

		t.Run("processor down at mandate time: pending, confirmed later", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			prod := v.odProduct(5_00, "USD")
			v.proc.SetUnavailable(true)
			res, err := v.CreateSubscription(v.ctx, SubscriptionParams{
				ProductID: prod.ID, Quantity: 1, CustomerID: c.ID, PaymentMethod: processor.CardOK,
				OnDemand: &OnDemand{MandateOnly: new(false)},
			})
			require.ErrorIs(t, err, processor.ErrUnavailable)
			require.Equal(t, subscription.StatusPending, res.Subscription.Status)
			_, err = v.ConfirmMandate(v.ctx, res.Subscription.ID)
			require.ErrorIs(t, err, processor.ErrUnavailable)
			v.proc.SetUnavailable(false)
			done, err := v.ConfirmMandate(v.ctx, res.Subscription.ID)
			require.NoError(t, err)
			require.Equal(t, subscription.StatusActive, done.Subscription.Status)
			require.NotNil(t, done.Payment)
			require.Equal(t, subscription.PaymentSucceeded, done.Payment.Status)
		})

		t.Run("a lost initial charge is made by ConfirmMandate", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			prod := v.odProduct(5_00, "USD")
			res, err := v.CreateSubscription(v.ctx, SubscriptionParams{
				ProductID: prod.ID, Quantity: 2, CustomerID: c.ID, PaymentMethod: processor.CardRequiresAction,
				OnDemand: &OnDemand{MandateOnly: new(false)},
			})
			require.NoError(t, err)
			_, err = v.proc.CompleteMandate(res.Subscription.MandateID, true)
			require.NoError(t, err)
			// The process crashed after activating the subscription and
			// before its initial charge: apply only the activation.
			m, err := v.proc.MandateStatus(v.ctx, res.Subscription.MandateID)
			require.NoError(t, err)
			require.NoError(t, v.store.Update(v.ctx, func(tx store.Tx) error {
				s, err := tx.Subscription(res.Subscription.ID)
				if err != nil {
					return err
				}
				s.Status, s.MandateAuthorizedAt = subscription.StatusActive, m.AuthorizedAt
				return tx.UpdateSubscription(s)
			}))
			require.Empty(t, v.odPayments(c.ID))
			done, err := v.ConfirmMandate(v.ctx, res.Subscription.ID)
			require.NoError(t, err)
			require.NotNil(t, done.Payment)
			require.Equal(t, int64(10_00), done.Payment.Amount)
			require.Equal(t, subscription.PaymentSucceeded, done.Payment.Status)
			_, err = v.ConfirmMandate(v.ctx, res.Subscription.ID)
			require.NoError(t, err)
			require.Len(t, v.odPayments(c.ID), 1)
			require.Equal(t, 1, v.proc.ChargeCount())
		})

		t.Run("cancel", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			s := v.odSubscribe(c.ID, processor.CardOK)
			v.clock.Advance(time.Hour)
			before := v.eventTypes()
			got, err := v.CancelSubscription(v.ctx, s.ID)
			require.NoError(t, err)
			require.Equal(t, subscription.StatusCancelled, got.Status)
			require.Equal(t, t0.Add(time.Hour), got.CancelledAt)
			require.Equal(t, map[string]int{EventSubscriptionCancelled: 1}, odDiff(before, v.eventTypes()))
			again, err := v.CancelSubscription(v.ctx, s.ID)
			require.NoError(t, err)
			require.Equal(t, got, again)
			require.Equal(t, 1, v.eventTypes()[EventSubscriptionCancelled])

			before = v.eventTypes()
			_, err = v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(100))})
			require.ErrorIs(t, err, subscription.ErrNotActive)
			require.Equal(t, http.StatusConflict, HTTPStatus(err))
			require.Equal(t, before, v.eventTypes())

			failed := v.odSubscribe(c.ID, processor.CardStolen)
			_, err = v.CancelSubscription(v.ctx, failed.ID)
			require.ErrorIs(t, err, subscription.ErrNotActive)
			_, err = v.CancelSubscription(v.ctx, "sub_missing")
			require.ErrorIs(t, err, subscription.ErrNotFound)
			require.Equal(t, http.StatusNotFound, HTTPStatus(err))
		})

		t.Run("cancel cancels scheduled retries", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			s := v.odSubscribe(c.ID, processor.CardInsufficientFunds)
			p, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(300))})
			require.NoError(t, err)
			require.False(t, p.NextRetryAt.IsZero())
			require.False(t, v.odCustomer(c.ID).Delinquent)
			_, err = v.CancelSubscription(v.ctx, s.ID)
			require.NoError(t, err)
			atts, err := pageData(v.ListAttempts(v.ctx, AttemptListParams{SubscriptionID: s.ID}))
			require.NoError(t, err)
			require.Len(t, atts, 1)
			require.Equal(t, "cancelled", string(atts[0].Status))
			p, err = v.Payment(v.ctx, p.ID)
			require.NoError(t, err)
			require.True(t, p.NextRetryAt.IsZero())
			// The charge stays unpaid with no retry left: delinquent.
			require.True(t, v.odCustomer(c.ID).Delinquent)
		})

		t.Run("list newest first, paginated", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			other := v.customer()
			var ids []string
			for i := 0; i < 5; i++ {
				ids = append(ids, v.odSubscribe(c.ID, processor.CardOK).ID)
				v.odSubscribe(other.ID, processor.CardOK)
			}
			page, err := v.ListSubscriptions(v.ctx, SubscriptionListParams{CustomerID: c.ID, ListParams: ListParams{Limit: 3}})
			require.NoError(t, err)
			require.True(t, page.HasMore)
			require.Equal(t, []string{ids[4], ids[3], ids[2]}, odSubIDs(page.Data))
			page, err = v.ListSubscriptions(v.ctx, SubscriptionListParams{CustomerID: c.ID, ListParams: ListParams{Limit: 3, StartingAfter: ids[2]}})
			require.NoError(t, err)
			require.False(t, page.HasMore)
			require.Equal(t, []string{ids[1], ids[0]}, odSubIDs(page.Data))
			page, err = v.ListSubscriptions(v.ctx, SubscriptionListParams{CustomerID: c.ID, ListParams: ListParams{EndingBefore: ids[2]}})
			require.NoError(t, err)
			require.Equal(t, []string{ids[4], ids[3]}, odSubIDs(page.Data))
			_, err = v.ListSubscriptions(v.ctx, SubscriptionListParams{CustomerID: "cus_missing"})
			require.ErrorIs(t, err, customer.ErrNotFound)
			_, err = v.ListSubscriptions(v.ctx, SubscriptionListParams{CustomerID: c.ID, ListParams: ListParams{Limit: 101}})
			require.ErrorIs(t, err, ErrInvalidLimit)
			require.Equal(t, http.StatusUnprocessableEntity, HTTPStatus(err))
		})
	})
}

func odSubIDs(list []subscription.Subscription) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = s.ID
	}
	return out
}
