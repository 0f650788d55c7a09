package coffer

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

func TestSpendingReport(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		c := v.customer()
		post := func(req EntryParams) {
			_, err := v.CreateEntry(v.ctx, c.ID, req)
			require.NoError(t, err)
		}
		// Day -1 (before the period): deposit 50.00.
		post(credit(50_00, "USD", "d0"))
		v.clock.Advance(24 * time.Hour) // 2026-03-03 09:00
		post(debit(12_00, "USD", "p1"))
		post(credit(3_00, "USD", "bonus"))
		post(credit(999_00, "INR", "inr")) // other currency: not in the USD report
		v.clock.Advance(48 * time.Hour)    // 2026-03-05 09:00
		// A charge paid from the wallet and its refund to the wallet: the
		// only way to get payment and refund entries (a manual entry's
		// reference type is always manual).
		sub := v.odSubscribe(c.ID, processor.CardOK)
		pay, err := v.Charge(v.ctx, sub.ID, ChargeParams{ProductPrice: new(int64(5_00))})
		require.NoError(t, err)
		require.Equal(t, int64(5_00), pay.WalletAmount)
		_, err = v.Refund(v.ctx, pay.ID, RefundParams{Destination: subscription.ToWallet, IdempotencyKey: "r"})
		require.NoError(t, err)
		v.clock.Advance(48 * time.Hour) // 2026-03-07: after the period
		post(debit(1_00, "USD", "late"))

		from := time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)
		to := time.Date(2026, 3, 6, 0, 0, 0, 0, time.UTC)
		rep, err := v.SpendingReport(v.ctx, c.ID, SpendingReportParams{Currency: "usd", From: from, To: to})
		require.NoError(t, err)
		require.Equal(t, int64(50_00), rep.OpeningBalance)
		require.Equal(t, int64(41_00), rep.ClosingBalance)
		require.Equal(t, int64(8_00), rep.Credited)
		require.Equal(t, int64(17_00), rep.Debited)
		require.Equal(t, 4, rep.Entries)
		require.Equal(t, rep.OpeningBalance+rep.Credited-rep.Debited, rep.ClosingBalance)
		require.Equal(t, []ReferenceTotal{{Type: ledger.RefManual, Credited: 3_00, Debited: 12_00},
			{Type: ledger.RefPayment, Debited: 5_00}, {Type: ledger.RefRefund, Credited: 5_00}}, rep.ByReference)
		require.Len(t, rep.Days, 3)
		require.Equal(t, []int64{41_00, 41_00, 41_00}, []int64{rep.Days[0].Closing, rep.Days[1].Closing, rep.Days[2].Closing})
		require.Equal(t, from, rep.Days[0].Day)

		// A period with no entries at all, before the wallet was used.
		empty, err := v.SpendingReport(v.ctx, c.ID, SpendingReportParams{Currency: "USD", From: t0.Add(-72 * time.Hour), To: t0.Add(-time.Hour)})
		require.NoError(t, err)
		require.Zero(t, empty.OpeningBalance)
		require.Zero(t, empty.ClosingBalance)
		require.Zero(t, empty.Entries)

		_, err = v.SpendingReport(v.ctx, c.ID, SpendingReportParams{Currency: "USD", From: to, To: from})
		require.ErrorIs(t, err, ErrInvalid)
		_, err = v.SpendingReport(v.ctx, c.ID, SpendingReportParams{Currency: "USD", From: from, To: from.AddDate(2, 0, 0)})
		require.ErrorIs(t, err, ErrInvalid)
		_, err = v.SpendingReport(v.ctx, "cus_missing", SpendingReportParams{Currency: "USD", From: from, To: to})
		require.Error(t, err)
		_, err = v.SpendingReport(v.ctx, c.ID, SpendingReportParams{Currency: "EUR", From: from, To: to})
		require.Error(t, err)
	})
}
