package coffer

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/store"
)

// decodeStrict decodes an event's data into v, refusing fields v lacks, so
// the typed struct is proven to describe the whole payload.
func decodeStrict(t *testing.T, data []byte, v any) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	require.NoError(t, d.Decode(v), string(data))
}

func TestWalletEventDataTypes(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore, WithLowBalanceThreshold("USD", 5_00))
		c := v.customer()
		_, err := v.CreateEntry(v.ctx, c.ID, credit(10_00, "USD", "in"))
		require.NoError(t, err)
		_, err = v.CreateEntry(v.ctx, c.ID, debit(6_00, "USD", "out"))
		require.NoError(t, err)
		var changed []BalanceChanged
		var low []BalanceLow
		for _, ev := range v.events() {
			switch ev.Type {
			case EventBalanceChanged:
				var d BalanceChanged
				decodeStrict(t, ev.Data, &d)
				changed = append(changed, d)
			case EventBalanceLow:
				var d BalanceLow
				decodeStrict(t, ev.Data, &d)
				low = append(low, d)
			}
		}
		require.Len(t, changed, 2)
		require.Equal(t, ledger.Debit, changed[1].Entry.Type)
		require.Equal(t, int64(4_00), changed[1].Balance.Amount)
		require.Equal(t, changed[1].Entry.BalanceAfter, changed[1].Balance.Amount)
		require.Len(t, low, 1)
		require.Equal(t, int64(5_00), low[0].Threshold)
		require.Equal(t, int64(4_00), low[0].Balance.Amount)
		require.Equal(t, c.ID, low[0].Balance.CustomerID)
	})
}

// TestListEventsAcceptsEveryEventType: the type filter of ListEvents knows
// every type coffer writes (it kept a list of its own that lacked
// payment.duplicate_refunded and wallet.credit_expired).
func TestListEventsAcceptsEveryEventType(t *testing.T) {
	v := newEnv(t, storeKinds["memory"])
	for _, typ := range EventTypes() {
		_, err := v.ListEvents(v.ctx, EventListParams{Type: typ})
		if err != nil {
			t.Errorf("ListEvents(type=%s): %v", typ, err)
		}
	}
	_, err := v.ListEvents(v.ctx, EventListParams{Type: "payment.succeded"})
	if err == nil {
		t.Error("a misspelt type was accepted")
	}
}
