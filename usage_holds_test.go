package coffer

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/wallet"
)

// TestUsageReservations: holds on a unit wallet reserve available balance
// (no overdraft), settle with what was used (less or more than reserved),
// release, replay; what a hold reserves of an expired grant is not expired
// while held.
func TestUsageReservations(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		v.defineUnits()
		c := v.customer()
		_, err := v.CreateEntry(v.ctx, c.ID, credit(1000, "api_calls", "top"))
		require.NoError(t, err)

		h, b, err := v.ReserveUsage(v.ctx, c.ID, ReserveParams{Unit: "api_calls", Quantity: 700, IdempotencyKey: "job-1"})
		require.NoError(t, err)
		require.Equal(t, ledger.HoldPending, h.Status)
		require.Equal(t, int64(700), b.Held)
		require.Equal(t, int64(300), b.Available())
		again, _, err := v.ReserveUsage(v.ctx, c.ID, ReserveParams{Unit: "api_calls", Quantity: 700, IdempotencyKey: "job-1"})
		require.NoError(t, err)
		require.Equal(t, h.ID, again.ID, "a replay: the same hold, nothing more held")
		_, _, err = v.ReserveUsage(v.ctx, c.ID, ReserveParams{Unit: "api_calls", Quantity: 701, IdempotencyKey: "job-1"})
		require.ErrorIs(t, err, ledger.ErrIdempotencyConflict)
		_, _, err = v.ReserveUsage(v.ctx, c.ID, ReserveParams{Unit: "api_calls", Quantity: 301, IdempotencyKey: "job-2"})
		require.ErrorIs(t, err, wallet.ErrInsufficientFunds, "the hold's part is not available")
		_, err = v.CreateEntry(v.ctx, c.ID, debit(301, "api_calls", "d"))
		require.ErrorIs(t, err, wallet.ErrInsufficientFunds)
		res, err := v.RecordUsage(v.ctx, []Usage{{CustomerID: c.ID, Unit: "api_calls", Quantity: 301, IdempotencyKey: "u"}})
		require.NoError(t, err)
		require.Equal(t, "insufficient_funds", res[0].Error.Code)

		// Settle with less than reserved: the rest is free again.
		n := len(v.events())
		s, err := v.SettleUsage(v.ctx, h.ID, SettleParams{Quantity: 420})
		require.NoError(t, err)
		require.Equal(t, int64(420), s.Entry.Amount)
		require.Equal(t, ledger.Reference{Type: RefUsage, ID: h.ID}, s.Entry.Reference)
		require.Equal(t, int64(580), s.Balance.Amount)
		require.Zero(t, s.Balance.Held)
		require.Equal(t, 1, v.eventTypesSince(n)[EventBalanceChanged])
		replay, err := v.SettleUsage(v.ctx, h.ID, SettleParams{Quantity: 420})
		require.NoError(t, err)
		require.True(t, replay.Replayed)
		require.Equal(t, s.Entry.ID, replay.Entry.ID)
		_, err = v.SettleUsage(v.ctx, h.ID, SettleParams{Quantity: 1})
		require.ErrorIs(t, err, ledger.ErrHoldNotPending)
		_, _, err = v.ReleaseUsage(v.ctx, h.ID)
		require.ErrorIs(t, err, ledger.ErrHoldNotPending)

		// More than reserved: the excess must be available.
		h2, _, err := v.ReserveUsage(v.ctx, c.ID, ReserveParams{Unit: "api_calls", Quantity: 100, IdempotencyKey: "job-2"})
		require.NoError(t, err)
		_, err = v.SettleUsage(v.ctx, h2.ID, SettleParams{Quantity: 581})
		require.ErrorIs(t, err, wallet.ErrInsufficientFunds)
		s, err = v.SettleUsage(v.ctx, h2.ID, SettleParams{Quantity: 150})
		require.NoError(t, err)
		require.Equal(t, int64(430), s.Balance.Amount)

		// Release, and settle with zero.
		h3, _, err := v.ReserveUsage(v.ctx, c.ID, ReserveParams{Unit: "api_calls", Quantity: 400, IdempotencyKey: "job-3"})
		require.NoError(t, err)
		rel, b, err := v.ReleaseUsage(v.ctx, h3.ID)
		require.NoError(t, err)
		require.Equal(t, ledger.HoldReleased, rel.Status)
		require.Zero(t, b.Held)
		_, b, err = v.ReleaseUsage(v.ctx, h3.ID)
		require.NoError(t, err, "releasing twice answers the release")
		require.Equal(t, int64(430), b.Amount)
		h4, _, err := v.ReserveUsage(v.ctx, c.ID, ReserveParams{Unit: "api_calls", Quantity: 10, IdempotencyKey: "job-4"})
		require.NoError(t, err)
		s, err = v.SettleUsage(v.ctx, h4.ID, SettleParams{Quantity: 0})
		require.NoError(t, err)
		require.Equal(t, int64(430), s.Balance.Available())

		// Bad input.
		for _, p := range []ReserveParams{{Unit: "api_calls", Quantity: 0, IdempotencyKey: "x"}, {Unit: "api_calls", Quantity: 1},
			{Unit: "tokens", Quantity: 1, IdempotencyKey: "x"}, {Unit: "api_calls", Quantity: 1, IdempotencyKey: "hold:x"}} {
			_, _, err := v.ReserveUsage(v.ctx, c.ID, p)
			require.Error(t, err)
			require.Equal(t, 422, HTTPStatus(err), "%+v: %v", p, err)
		}
		_, err = v.SettleUsage(v.ctx, "hold_nope", SettleParams{Quantity: 1})
		require.ErrorIs(t, err, ledger.ErrHoldNotFound)
		_, err = v.SettleUsage(v.ctx, h4.ID, SettleParams{Quantity: -1})
		require.ErrorIs(t, err, ledger.ErrInvalidAmount)
		_, _, err = v.ReserveUsage(v.ctx, "cus_missing", ReserveParams{Unit: "api_calls", Quantity: 1, IdempotencyKey: "x"})
		require.Equal(t, 404, HTTPStatus(err))
		v.checkLedger(c.ID)
	})
}

// TestUsageReservationKeepsExpiringCredit: a reservation reserves the
// expiring grant first; while held, its part is not expired; settled, the
// use consumes it; the rest expires at the next pass.
func TestUsageReservationKeepsExpiringCredit(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		v.defineUnits()
		c := v.customer()
		exp := t0.Add(time.Hour)
		allowance := credit(100, "api_calls", "allowance")
		allowance.CreditKind, allowance.ExpiresAt = ledger.KindGranted, exp
		_, err := v.CreateEntry(v.ctx, c.ID, allowance)
		require.NoError(t, err)
		_, err = v.CreateEntry(v.ctx, c.ID, credit(50, "api_calls", "paid"))
		require.NoError(t, err)
		h, _, err := v.ReserveUsage(v.ctx, c.ID, ReserveParams{Unit: "api_calls", Quantity: 60, IdempotencyKey: "job"})
		require.NoError(t, err)
		v.checkGrants(c.ID, "api_calls")

		v.clock.Set(exp.Add(time.Second))
		require.Equal(t, 1, v.expire(), "the free 40 of the allowance expire")
		b, err := v.Balance(v.ctx, c.ID, "api_calls")
		require.NoError(t, err)
		require.Equal(t, int64(110), b.Amount)
		require.Equal(t, int64(60), b.Held)

		_, err = v.SettleUsage(v.ctx, h.ID, SettleParams{Quantity: 45})
		require.NoError(t, err)
		v.checkGrants(c.ID, "api_calls")
		require.Equal(t, 1, v.expire(), "the 15 the settlement did not use expire")
		b, err = v.Balance(v.ctx, c.ID, "api_calls")
		require.NoError(t, err)
		require.Equal(t, int64(50), b.Amount, "the paid credit is left")
		require.Zero(t, b.Held)
		v.checkGrants(c.ID, "api_calls")
	})
}

// TestUsageReservationsRace: concurrent reservations, settlements and usage
// debits on one wallet never overdraw it.
func TestUsageReservationsRace(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		v.defineUnits()
		c := v.customer()
		_, err := v.CreateEntry(v.ctx, c.ID, credit(300, "api_calls", "top"))
		require.NoError(t, err)
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for w := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 5 {
					key := fmt.Sprintf("w%d-%d", w, i)
					h, _, err := v.ReserveUsage(v.ctx, c.ID, ReserveParams{Unit: "api_calls", Quantity: 20, IdempotencyKey: key})
					if err != nil {
						if HTTPStatus(err) != 400 {
							errs <- err
						}
						continue
					}
					if _, err := v.RecordUsage(v.ctx, []Usage{{CustomerID: c.ID, Unit: "api_calls", Quantity: 3, IdempotencyKey: "u" + key}}); err != nil {
						errs <- err
					}
					if _, err := v.SettleUsage(v.ctx, h.ID, SettleParams{Quantity: 25}); err != nil && HTTPStatus(err) != 400 {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		b, err := v.Balance(v.ctx, c.ID, "api_calls")
		require.NoError(t, err)
		require.GreaterOrEqual(t, b.Available(), int64(0))
		v.checkLedger(c.ID)
	})
}
