package charge

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
)

// Buying credit (subscription.KindCreditPurchase): a one-time payment
// charged in full to the payment method (reserve never applies the
// wallet), whose success credits the wallet in the settling transaction.
// Every success path goes through settle or lateSuccess, which both call
// creditPurchase; its ledger entry is keyed "purchase:<payment id>", so a
// success recorded twice credits once.

// ErrPurchaseToWallet: a refund of a credit purchase to the wallet. The
// money the purchase took is already in the wallet as credit; a refund goes
// back to the payment method (and takes the credit back). It wraps
// subscription.ErrInvalid (422, invalid_request).
var ErrPurchaseToWallet = fmt.Errorf("%w: a credit purchase is refunded to its payment method, never to the wallet (its money is already there)", subscription.ErrInvalid)

// termsTag separates a purchase's credit terms from the hash in its
// fingerprint (text only: PostgreSQL text holds no NUL byte).
const termsTag = "|credit="

// encodeTerms renders normalised credit terms for a purchase's fingerprint:
// "|credit=<kind>,<priority>,<expiry in Unix microseconds, 0 for none>".
func encodeTerms(t ledger.CreditTerms) string {
	t = t.Normal()
	var exp int64
	if !t.ExpiresAt.IsZero() {
		exp = t.ExpiresAt.UnixMicro()
	}
	return termsTag + string(t.Kind) + "," + strconv.Itoa(t.Priority) + "," + strconv.FormatInt(exp, 10)
}

// purchaseTerms reads the credit terms back from a purchase's fingerprint.
func purchaseTerms(fingerprint string) (ledger.CreditTerms, error) {
	i := strings.LastIndex(fingerprint, termsTag)
	if i < 0 {
		return ledger.CreditTerms{}, errors.New("charge: credit purchase without credit terms")
	}
	parts := strings.Split(fingerprint[i+len(termsTag):], ",")
	if len(parts) != 3 {
		return ledger.CreditTerms{}, errors.New("charge: malformed credit terms")
	}
	prio, err1 := strconv.Atoi(parts[1])
	exp, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return ledger.CreditTerms{}, fmt.Errorf("charge: malformed credit terms: %w", err)
	}
	t := ledger.CreditTerms{Kind: ledger.CreditKind(parts[0]), Priority: prio}
	if exp != 0 {
		t.ExpiresAt = time.UnixMicro(exp).UTC()
	}
	return t, nil
}

// PurchaseTerms returns the credit terms a credit purchase grants when it
// succeeds (the zero terms for any other payment).
func PurchaseTerms(pay subscription.Payment) ledger.CreditTerms {
	if pay.Kind != subscription.KindCreditPurchase {
		return ledger.CreditTerms{}
	}
	t, _ := purchaseTerms(pay.Fingerprint)
	return t
}

// creditPurchase posts the credit a succeeded purchase bought, in the
// transaction that records the success (its balance change writes
// wallet.balance_changed). Any other payment does nothing. An expiry that
// passed before the success was recorded (a settlement delayed past it) is
// dropped: the credit was paid for, so it does not expire unspent at once.
func (s *Service) creditPurchase(tx store.Tx, pay *subscription.Payment) error {
	if pay.Kind != subscription.KindCreditPurchase {
		return nil
	}
	t, err := purchaseTerms(pay.Fingerprint)
	if err != nil {
		return err
	}
	if !t.ExpiresAt.IsZero() && !t.ExpiresAt.After(s.c.Clock.Now()) {
		t.ExpiresAt = time.Time{}
	}
	var credit *ledger.CreditTerms
	if !t.Plain() {
		credit = &t
	}
	amount, currency := pay.Amount, pay.Currency
	if unit, qty, ok := PurchaseUnits(*pay); ok {
		amount, currency = qty, unit // a purchase of units credits the unit wallet
	}
	return s.c.Wallet.Post(tx, pay.CustomerID, ledger.Request{
		Amount: amount, Currency: currency, Type: ledger.Credit, Reason: "Credit purchase " + pay.ID,
		IdempotencyKey: "purchase:" + pay.ID, Reference: ledger.Reference{Type: ledger.RefPayment, ID: pay.ID},
		Credit: credit,
	})
}

// takeBackPurchase debits the credit a refund of a purchase returns to the
// payment method, in the refund's reserving transaction (key
// "purchase:refund:<refund id>"); the wallet must still hold it
// (wallet.ErrInsufficientFunds otherwise).
func (s *Service) takeBackPurchase(tx store.Tx, r subscription.Refund, key string) error {
	amount, currency, err := refundedCredit(tx, r)
	if err != nil {
		return err
	}
	return s.c.Wallet.Post(tx, r.CustomerID, ledger.Request{
		Amount: amount, Currency: currency, Type: ledger.Debit, Reason: "Refund of credit purchase " + r.PaymentID,
		IdempotencyKey: key, Reference: ledger.Reference{Type: ledger.RefRefund, ID: r.ID},
	})
}

// restorePurchase gives back the credit a failed refund of a purchase had
// taken (key "purchase:restore:<refund id>"): paid credit that never
// expires.
func (s *Service) restorePurchase(tx store.Tx, r subscription.Refund) error {
	amount, currency, err := refundedCredit(tx, r)
	if err != nil {
		return err
	}
	return s.c.Wallet.Post(tx, r.CustomerID, ledger.Request{
		Amount: amount, Currency: currency, Type: ledger.Credit, Reason: "Refund " + r.ID + " failed: credit restored",
		IdempotencyKey: "purchase:restore:" + r.ID, Reference: ledger.Reference{Type: ledger.RefRefund, ID: r.ID},
	})
}

// lateTakeBack debits again the credit of a purchase refund that succeeded
// at the processor after it was marked failed (its credit restored). If
// the wallet no longer holds it the money is gone twice over: the refund
// is still recorded (the processor returned it) and a warning logged.
func (s *Service) lateTakeBack(tx store.Tx, r subscription.Refund) error {
	err := s.takeBackPurchase(tx, r, "purchase:relapse:"+r.ID)
	if errors.Is(err, wallet.ErrInsufficientFunds) {
		s.c.Log.Warn("coffer: a late refund of a credit purchase could not take the credit back",
			slog.String("refund_id", r.ID), slog.String("payment_id", r.PaymentID), slog.String("customer_id", r.CustomerID))
		return nil
	}
	return err
}

// Purchases of credit units (coffer.Engine.BuyUnits): a credit purchase
// whose metadata names a unit and a quantity (the reserved keys below,
// covered by the payment's fingerprint) credits that quantity to the unit
// wallet instead of the money amount to the money wallet. It is refunded
// in full only (the whole quantity leaves the wallet with the refund).
const (
	UnitMetaKey         = "coffer_unit"
	UnitQuantityMetaKey = "coffer_unit_quantity"
)

// ErrUnitPurchasePartialRefund: a partial refund of a unit purchase. It
// wraps subscription.ErrInvalidRefund (422).
var ErrUnitPurchasePartialRefund = fmt.Errorf("%w: a purchase of units is refunded in full only", subscription.ErrInvalidRefund)

// PurchaseUnits returns the unit and quantity a unit purchase bought.
func PurchaseUnits(pay subscription.Payment) (unit string, quantity int64, ok bool) {
	if pay.Kind != subscription.KindCreditPurchase {
		return "", 0, false
	}
	unit, ok = pay.Metadata[UnitMetaKey]
	if !ok {
		return "", 0, false
	}
	q, err := strconv.ParseInt(pay.Metadata[UnitQuantityMetaKey], 10, 64)
	if err != nil || q <= 0 {
		return "", 0, false
	}
	return unit, q, true
}

// refundedCredit is what a refund of a purchase takes back (or gives back
// when it fails): its money amount, or for a unit purchase (refunded in
// full) the whole quantity of the unit.
func refundedCredit(tx store.Tx, r subscription.Refund) (int64, string, error) {
	pay, err := tx.Payment(r.PaymentID)
	if err != nil {
		return 0, "", err
	}
	if unit, qty, ok := PurchaseUnits(pay); ok {
		return qty, unit, nil
	}
	return r.Amount, r.Currency, nil
}
