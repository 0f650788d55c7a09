package coffer

import (
	"github.com/cofferhq/coffer/internal/charge"
	"github.com/cofferhq/coffer/subscription"
)

// This file holds the public names of the rules that keep one debt
// collected at most once and every processor outcome recorded; the rules
// themselves are internal/charge's (claimDebt, holdCall, lateSuccess,
// refundSurplus).

// Errors of debt collection (409 class).
var (
	// ErrDebtSettled: the overdue charge was already collected by another
	// payment. It matches ErrNotOverdue too.
	ErrDebtSettled = charge.ErrDebtSettled
	// ErrCollectionInProgress: another charge is collecting the overdue
	// charge right now; its outcome decides. Nothing was charged.
	ErrCollectionInProgress = charge.ErrCollectionInProgress
)

// DeclineDuplicate is the decline code of a payment whose processor charge
// succeeded for a debt that another payment had already collected: the
// charge is refunded automatically (payment.duplicate_refunded) and the
// payment stays failed.
const DeclineDuplicate = "DUPLICATE_COLLECTION"

// DuplicateRefund is the data of a payment.duplicate_refunded event.
type DuplicateRefund struct {
	// Payment is the payment whose processor charge was a duplicate.
	Payment subscription.Payment `json:"payment"`
	// CollectedBy is the payment that had already collected the debt, ""
	// when the wallet no longer covered the payment's wallet part.
	CollectedBy string `json:"collected_by,omitempty"`
	// Refund returns the processor charge to the payment method.
	Refund subscription.Refund `json:"refund"`
}
