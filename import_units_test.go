package coffer

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/memory"
)

// unitRows: rows ext-1..n with a credits and a USD opening balance, and
// an api_calls one on even rows; tokens (never defined) on the rows of bad.
func unitRows(n int, bad map[int]bool) []ImportRow {
	rows := importRows(n, nil)
	for i := range rows {
		rows[i].Balances = append(rows[i].Balances, OpeningBalance{Currency: "credits", Amount: int64(100 + i)})
		if (i+1)%2 == 0 {
			rows[i].Balances = append(rows[i].Balances, OpeningBalance{Currency: "api_calls", Amount: 7})
		}
		if bad[i+1] {
			rows[i].Balances = append(rows[i].Balances, OpeningBalance{Currency: "tokens", Amount: 1})
		}
	}
	return rows
}

// TestImportUnitsFromStore: opening balances in units that another Engine
// defined on the same store (this Engine never read them) import, on
// every store; an undefined unit is still the row's unknown_unit.
func TestImportUnitsFromStore(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		other, err := New(v.store, WithClock(v.clock), WithoutProcessor())
		require.NoError(t, err)
		for _, p := range []UnitParams{apiCalls, credits2} {
			_, err := other.DefineUnit(v.ctx, p)
			require.NoError(t, err)
		}
		require.False(t, v.units.has("credits"), "the importing Engine has not read the unit")

		rep, err := v.ImportCustomers(v.ctx, ImportParams{BatchSize: 4}, seqOf(unitRows(10, map[int]bool{5: true})))
		require.NoError(t, err)
		require.Equal(t, 9, rep.Imported)
		require.Equal(t, 1, rep.Failed)
		require.Len(t, rep.Errors, 1)
		require.Equal(t, 5, rep.Errors[0].Row)
		require.ErrorIs(t, rep.Errors[0].Err, money.ErrUnknownUnit)
		require.Equal(t, "unknown_unit", ErrorCode(rep.Errors[0].Err))
		require.Equal(t, 9+9+5+3, rep.Entries, "USD and credits on each, api_calls on rows 2, 4, 6, 8, 10, INR on 3, 6, 9")

		st := v.importState()
		require.Equal(t, int64(100), st.balances["ext-1"]["credits"])
		require.Equal(t, int64(109), st.balances["ext-10"]["credits"])
		require.Equal(t, int64(7), st.balances["ext-10"]["api_calls"])
		require.NotContains(t, st.balances["ext-9"], "api_calls")
		require.NotContains(t, st.balances, "ext-5")
		require.Contains(t, st.entries["ext-2"], `credit api_calls 7 "Opening balance" opening-balance:api_calls manual:ext-2`)

		// The other Engine sees the same wallets (the store holds them).
		c, err := other.CustomerByDID(v.ctx, "ext-4")
		require.NoError(t, err)
		b, err := other.Balance(v.ctx, c.ID, "credits")
		require.NoError(t, err)
		require.Equal(t, int64(103), b.Amount)

		// Again: every row exists; nothing posted twice.
		again, err := v.ImportCustomers(v.ctx, ImportParams{BatchSize: 4}, seqOf(unitRows(10, nil)))
		require.NoError(t, err)
		require.Equal(t, 9, again.Existing)
		require.Equal(t, 1, again.Imported, "ext-5 without its tokens balance")
		require.Equal(t, int64(104), v.importState().balances["ext-5"]["credits"])
	})
}

// unitReadStore counts the unit reads of its transactions, and fails
// them with errInjected when fail is set.
type unitReadStore struct {
	store.Store
	reads atomic.Int64
	fail  atomic.Bool
}

type unitReadTx struct {
	store.Tx
	s *unitReadStore
}

func (t unitReadTx) WrappedTx() any { return t.Tx }

func (t unitReadTx) Unit(code string) (money.Unit, error) {
	t.s.reads.Add(1)
	if t.s.fail.Load() {
		return money.Unit{}, errInjected
	}
	us, _ := store.As[store.Units](t.Tx)
	return us.Unit(code)
}

func (t unitReadTx) InsertUnit(u money.Unit) error {
	us, _ := store.As[store.Units](t.Tx)
	return us.InsertUnit(u)
}

func (t unitReadTx) ListUnits() ([]money.Unit, error) {
	us, _ := store.As[store.Units](t.Tx)
	return us.ListUnits()
}

func (s *unitReadStore) View(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.View(ctx, func(tx store.Tx) error { return fn(unitReadTx{Tx: tx, s: s}) })
}

// TestImportUnitReadsBounded: an import reads each unit code from the
// store once (a defined one, then cached; an undefined one, whatever
// the number of rows naming it); a failing read ends the import with the
// rows before it committed and its row not counted.
func TestImportUnitReadsBounded(t *testing.T) {
	ms := memory.New()
	def, err := New(ms, WithoutProcessor())
	require.NoError(t, err)
	for _, p := range []UnitParams{apiCalls, credits2} {
		_, err := def.DefineUnit(context.Background(), p)
		require.NoError(t, err)
	}
	rs := &unitReadStore{Store: ms}
	eng, err := New(rs, WithoutProcessor(), WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	ctx := context.Background()
	rep, err := eng.ImportCustomers(ctx, ImportParams{BatchSize: 3}, seqOf(unitRows(12, map[int]bool{2: true, 3: true, 9: true})))
	require.NoError(t, err)
	require.Equal(t, 9, rep.Imported)
	require.Equal(t, 3, rep.Failed)
	require.Equal(t, int64(3), rs.reads.Load(), "credits, api_calls and tokens, once each")

	// A store failure reading a unit is not the row's fault: the import
	// stops before that row, keeping the rows before it.
	fresh := &unitReadStore{Store: memory.New()}
	eng2, err := New(fresh, WithoutProcessor(), WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	rows := importRows(5, nil)
	rows[3].Balances = append(rows[3].Balances, OpeningBalance{Currency: "credits", Amount: 1})
	fresh.fail.Store(true)
	rep, err = eng2.ImportCustomers(ctx, ImportParams{BatchSize: 2}, seqOf(rows))
	require.ErrorIs(t, err, errInjected)
	require.Equal(t, 3, rep.Imported)
	require.Equal(t, 3, rep.Rows)
	require.Equal(t, 3, rep.LastRow)
	_, err = eng2.CustomerByDID(ctx, "ext-4")
	require.True(t, errors.Is(err, customer.ErrNotFound), "%v", err)
}
