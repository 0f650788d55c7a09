package ledger_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/wallet"
)

var payRef = ledger.Reference{Type: ledger.RefPayment, ID: "pay_1"}

func TestPlaceHold(t *testing.T) {
	b := bal(1000, 0)
	h, after, err := ledger.PlaceHold(b, "hold_1", 300, payRef, t1)
	require.NoError(t, err)
	require.Equal(t, ledger.Hold{ID: "hold_1", CustomerID: "cus_1", Currency: "USD", Amount: 300,
		Status: ledger.HoldPending, Reference: payRef, CreatedAt: t1, UpdatedAt: t1}, h)
	require.Equal(t, int64(1000), after.Amount, "a hold posts nothing")
	require.Equal(t, int64(300), after.Held)
	require.Equal(t, int64(700), after.Available())
	require.Equal(t, t1, after.UpdatedAt)
	require.NoError(t, after.Check())
	require.Equal(t, bal(1000, 0), b, "input not modified")

	// A debit may only take what is not held.
	_, same, err := ledger.Post(after, debit(701), "e", t1)
	require.ErrorIs(t, err, wallet.ErrInsufficientFunds)
	require.Equal(t, after, same)
	_, _, err = ledger.Post(after, debit(700), "e", t1)
	require.NoError(t, err)
}

func TestPlaceHoldLimits(t *testing.T) {
	b := bal(1000, 400)
	_, after, err := ledger.PlaceHold(b, "h", 600, payRef, t1)
	require.NoError(t, err, "exactly the available balance")
	require.Equal(t, int64(1000), after.Held)
	require.NoError(t, after.Check())

	for _, amount := range []int64{601, 1000} {
		h, same, err := ledger.PlaceHold(b, "h", amount, payRef, t1)
		require.ErrorIs(t, err, wallet.ErrInsufficientFunds)
		require.Equal(t, b, same)
		require.Equal(t, ledger.Hold{}, h)
	}
	for _, amount := range []int64{0, -1} {
		_, same, err := ledger.PlaceHold(b, "h", amount, payRef, t1)
		require.ErrorIs(t, err, ledger.ErrInvalidAmount)
		require.Equal(t, b, same)
	}
}

func TestReleaseHold(t *testing.T) {
	h, held, err := ledger.PlaceHold(bal(1000, 0), "hold_1", 300, payRef, t0)
	require.NoError(t, err)

	rel, after, err := ledger.ReleaseHold(held, h, t1)
	require.NoError(t, err)
	require.Equal(t, ledger.HoldReleased, rel.Status)
	require.Equal(t, t1, rel.UpdatedAt)
	require.Equal(t, t0, rel.CreatedAt)
	require.Empty(t, rel.EntryID)
	require.Equal(t, int64(1000), after.Amount)
	require.Equal(t, int64(0), after.Held)
	require.Equal(t, int64(1000), after.Available())
	require.NoError(t, after.Check())

	// Releasing or capturing again is refused and changes nothing.
	again, same, err := ledger.ReleaseHold(after, rel, t1)
	require.ErrorIs(t, err, ledger.ErrHoldNotPending)
	require.Equal(t, after, same)
	require.Equal(t, rel, again)
	again, e, same, err := ledger.CaptureHold(after, rel, "ent", "capture", t1)
	require.ErrorIs(t, err, ledger.ErrHoldNotPending)
	require.Equal(t, after, same)
	require.Equal(t, rel, again)
	require.Equal(t, ledger.Entry{}, e)
}

func TestCaptureHold(t *testing.T) {
	h, held, err := ledger.PlaceHold(bal(1000, 100), "hold_1", 300, payRef, t0)
	require.NoError(t, err)
	require.Equal(t, int64(400), held.Held)

	capd, e, after, err := ledger.CaptureHold(held, h, "ent_9", "Payment pay_1", t1)
	require.NoError(t, err)
	require.Equal(t, ledger.Entry{
		ID: "ent_9", CustomerID: "cus_1", Currency: "USD", Type: ledger.Debit, Amount: 300,
		BalanceBefore: 1000, BalanceAfter: 700, Reason: "Payment pay_1", IdempotencyKey: "hold:hold_1",
		Reference: payRef, Fingerprint: e.Fingerprint, CreatedAt: t1,
	}, e)
	require.NotEmpty(t, e.Fingerprint)
	require.Equal(t, ledger.HoldCaptured, capd.Status)
	require.Equal(t, "ent_9", capd.EntryID)
	require.Equal(t, t1, capd.UpdatedAt)
	require.Equal(t, int64(700), after.Amount)
	require.Equal(t, int64(100), after.Held, "only this hold's amount leaves Held")
	require.Equal(t, int64(600), after.Available())
	require.NoError(t, after.Check())

	// Double capture and release-after-capture are refused.
	again, e2, same, err := ledger.CaptureHold(after, capd, "ent_10", "again", t1)
	require.ErrorIs(t, err, ledger.ErrHoldNotPending)
	require.Equal(t, after, same)
	require.Equal(t, capd, again)
	require.Equal(t, ledger.Entry{}, e2)
	_, same, err = ledger.ReleaseHold(after, capd, t1)
	require.ErrorIs(t, err, ledger.ErrHoldNotPending)
	require.Equal(t, after, same)
}

func TestCaptureHoldOfWholeBalance(t *testing.T) {
	h, held, err := ledger.PlaceHold(bal(500, 0), "h", 500, payRef, t0)
	require.NoError(t, err)
	require.Equal(t, int64(0), held.Available())
	_, e, after, err := ledger.CaptureHold(held, h, "e", "all of it", t1)
	require.NoError(t, err, "a capture cannot fail for lack of funds: the hold reserved them")
	require.Equal(t, int64(0), e.BalanceAfter)
	require.Equal(t, wallet.Balance{CustomerID: "cus_1", Currency: "USD", UpdatedAt: t1}, after)
}

func TestCaptureHoldInvalidReasonChangesNothing(t *testing.T) {
	h, held, err := ledger.PlaceHold(bal(500, 0), "h", 200, payRef, t0)
	require.NoError(t, err)
	got, e, after, err := ledger.CaptureHold(held, h, "e", strings.Repeat("x", ledger.MaxReasonLen+1), t1)
	require.ErrorIs(t, err, ledger.ErrInvalidReason)
	require.Equal(t, h, got)
	require.Equal(t, held, after)
	require.Equal(t, ledger.Entry{}, e)
}

// Release and capture must refuse a hold that the balance does not carry
// (another customer's or currency's hold, or more than is held) instead of
// producing a balance that fails Check.
func TestHoldOperationsRefuseForeignHold(t *testing.T) {
	h, _, err := ledger.PlaceHold(bal(1000, 0), "h", 300, payRef, t0)
	require.NoError(t, err)

	other := bal(1000, 100) // holds only 100
	otherCustomer := bal(1000, 300)
	otherCustomer.CustomerID = "cus_2"
	otherCurrency := bal(1000, 300)
	otherCurrency.Currency = "INR"

	for name, b := range map[string]wallet.Balance{"held < hold": other, "customer": otherCustomer, "currency": otherCurrency} {
		_, after, err := ledger.ReleaseHold(b, h, t1)
		require.Error(t, err, "release, %s", name)
		require.Equal(t, b, after, "release, %s", name)

		_, _, after, err = ledger.CaptureHold(b, h, "e", "capture", t1)
		require.Error(t, err, "capture, %s", name)
		require.Equal(t, b, after, "capture, %s", name)
	}
}
