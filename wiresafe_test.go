package coffer

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/apikey"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/internal/eventjson"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
	"github.com/cofferhq/coffer/webhook"
)

// internalFields are the fields that must never leave the process as JSON:
// secrets, leases, holds, fingerprints and claims.
var internalFields = map[string]bool{
	"Secret": true, "PreviousSecret": true, "LeaseOwner": true, "HoldID": true, "Fingerprint": true,
	"CollectingBy": true, "CallUntil": true, "Seq": true, "Dispatched": true, "Hash": true,
}

// fill sets every exported string field of v (recursively) to a marker
// naming the field, every time to a marker time, so a marshalled record shows
// which fields it carries.
func fill(v reflect.Value, path string) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() && v.CanSet() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		if !v.IsNil() {
			fill(v.Elem(), path)
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			return
		}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			fill(v.Field(i), f.Name)
		}
	case reflect.String:
		if v.CanSet() {
			v.SetString("MARK_" + path + "_MARK")
		}
	case reflect.Slice:
		if v.CanSet() && v.Type().Elem().Kind() == reflect.Struct {
			s := reflect.MakeSlice(v.Type(), 1, 1)
			fill(s.Index(0), path)
			v.Set(s)
		}
	}
}

// TestRecordsCarryNoInternalsInJSON walks every record type an Engine
// returns or an event carries, sets each field, and checks that no secret,
// lease owner, hold id, fingerprint or claim reaches its JSON.
func TestRecordsCarryNoInternalsInJSON(t *testing.T) {
	records := []any{
		&customer.Customer{}, &wallet.Balance{}, &ledger.Entry{}, &subscription.Product{},
		&subscription.Subscription{}, &subscription.Payment{}, &subscription.Refund{}, &retry.Attempt{},
		&webhook.Event{}, &webhook.Endpoint{}, &webhook.Delivery{}, &EntryResult{}, &Overdue{},
		&SubscriptionResult{}, &DuplicateRefund{}, &BalanceChanged{}, &BalanceLow{}, &Error{},
		// fill sets no []byte; the Hash set here must not reach the JSON either.
		&apikey.Key{Hash: []byte("MARK_Hash_MARK")},
	}
	for _, r := range records {
		v := reflect.ValueOf(r)
		fill(v, "")
		b, err := json.Marshal(r)
		require.NoError(t, err)
		out := string(b)
		for name := range internalFields {
			require.NotContains(t, out, "MARK_"+name+"_MARK", "%T leaks %s: %s", r, name, out)
		}
		for _, key := range []string{`"secret"`, `"previous_secret"`, `"lease_owner"`, `"hold_id"`, `"fingerprint"`, `"hash"`,
			`TUFSS19IYXNoX01BUks`} { // MARK_Hash_MARK in base64, as encoding/json writes a []byte
			require.NotContains(t, out, key, "%T", r)
		}
	}
	// An entry's internal idempotency key (a captured hold's) stays out too.
	e := ledger.Entry{ID: "le_1", IdempotencyKey: "hold:hold_123"}
	b, err := json.Marshal(e)
	require.NoError(t, err)
	require.False(t, strings.Contains(string(b), "hold_123"), string(b))
	b = eventjson.BalanceChanged(&e, &wallet.Balance{})
	require.False(t, strings.Contains(string(b), "hold_123"), string(b))
	e.IdempotencyKey = "mine"
	b, _ = json.Marshal(e)
	require.Contains(t, string(b), `"idempotency_key":"mine"`)
}

func TestReservedIdempotencyKeys(t *testing.T) {
	v := newEnv(t, storeKinds["memory"])
	c := v.customer()
	sub := v.odSubscribe(c.ID, "pm_card_ok")
	_, p := v.odPaid(10_00, 0)
	for _, key := range []string{"retry:att_1", "initial:" + sub.ID, "duplicate:" + p.ID, "hold:h", "refund:re_1", "late:pay_1"} {
		_, err := v.CreateEntry(v.ctx, c.ID, credit(1, "USD", key))
		require.ErrorIs(t, err, ledger.ErrInvalidKey, key)
		_, err = v.Charge(v.ctx, sub.ID, ChargeParams{ProductPrice: new(int64(1)), IdempotencyKey: key})
		require.ErrorIs(t, err, ErrInvalidID, key)
		_, err = v.ChargeOneTime(v.ctx, c.ID, OneTimeParams{Amount: 1, Currency: "USD", PaymentMethod: "pm_card_ok", IdempotencyKey: key})
		require.ErrorIs(t, err, ErrInvalidID, key)
		_, err = v.Refund(v.ctx, p.ID, RefundParams{IdempotencyKey: key})
		require.ErrorIs(t, err, ErrInvalidID, key)
		_, err = v.CollectOverdue(v.ctx, p.ID, CollectOverdueParams{IdempotencyKey: key})
		require.ErrorIs(t, err, ErrInvalidID, key)
		require.Equal(t, "idempotency_key", AsError(err).Param)
	}
	require.Len(t, v.odPayments(c.ID), 0, "nothing charged")
}
