package bolt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
	"github.com/cofferhq/coffer/webhook"
)

// fill sets every exported field of the struct v points at to a non-zero
// value, so a round trip that drops a field (a new field the hand-written
// codec does not know, or a json:"-" field the JSON wrapper does not carry)
// fails the comparison.
func fill(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d", *n))
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(int64(*n) * 1000003)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), n)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, n)
		fill(e, n)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Slice:
		if v.Type() == reflect.TypeOf(json.RawMessage(nil)) {
			v.SetBytes([]byte(fmt.Sprintf(`{"n": %d}`, *n)))
			return
		}
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0), n)
		v.Set(s)
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(time.Unix(1700000000+int64(*n), int64(*n)).UTC()))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), n)
			}
		}
	default:
		panic("fill: unhandled kind " + v.Kind().String())
	}
}

func filled[T any]() T {
	var r T
	n := 0
	fill(reflect.ValueOf(&r).Elem(), &n)
	return r
}

func roundTrip[T any](t *testing.T, name string, enc func(T) ([]byte, error), dec func([]byte) (T, error)) {
	t.Run(name, func(t *testing.T) {
		want := filled[T]()
		v, err := enc(want)
		require.NoError(t, err)
		got, err := dec(v)
		require.NoError(t, err)
		require.Equal(t, want, got)

		// Truncated values are reported, never half-decoded.
		_, err = dec(v[:len(v)/2])
		require.ErrorIs(t, err, errCorrupt)
		_, err = dec(nil)
		require.ErrorIs(t, err, errCorrupt)
	})
}

func noErr[T any](f func(T) []byte) func(T) ([]byte, error) {
	return func(r T) ([]byte, error) { return f(r), nil }
}

func plainJSON[T any](r T) ([]byte, error) { return encodeJSON(r) }

func TestCodecsKeepEveryField(t *testing.T) {
	roundTrip(t, "entry", noErr(encodeEntry), decodeEntry)
	roundTrip(t, "balance", noErr(encodeBalance), decodeBalance)
	roundTrip(t, "event", noErr(encodeEvent), func(v []byte) (webhook.Event, error) {
		e, err := decodeEvent(0, v)
		e.Seq = filled[webhook.Event]().Seq // the key, not the value, holds Seq
		return e, err
	})
	roundTrip(t, "payment", encodePayment, decodePayment)
	roundTrip(t, "refund", encodeRefund, decodeRefund)
	roundTrip(t, "customer", plainJSON[customer.Customer], decodeCustomer)
	roundTrip(t, "hold", plainJSON[ledger.Hold], decodeHold)
	roundTrip(t, "product", plainJSON[subscription.Product], decodeProduct)
	roundTrip(t, "subscription", encodeSubscription, decodeSubscription)
	roundTrip(t, "subscription as JSON", plainJSON[subscription.Subscription], decodeSubscription)
	roundTrip(t, "attempt", encodeAttempt, decodeAttempt)
	roundTrip(t, "endpoint", encodeEndpoint, decodeEndpoint)
	roundTrip(t, "delivery", encodeDelivery, decodeDelivery)
}

func TestEventDataNilAndEmptyDiffer(t *testing.T) {
	for _, data := range []json.RawMessage{nil, {}, json.RawMessage(`{ "spaced" : true }`)} {
		e, err := decodeEvent(7, encodeEvent(webhook.Event{ID: "evt", Data: data}))
		require.NoError(t, err)
		require.Equal(t, data, e.Data)
		require.Equal(t, int64(7), e.Seq)
	}
}

func TestTimeKeysSortLikeTimes(t *testing.T) {
	times := []time.Time{
		{},
		time.Unix(-1, 999999999).UTC(),
		time.Unix(0, 0).UTC(),
		time.Unix(0, 1).UTC(),
		time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2300, 1, 1, 0, 0, 0, 5, time.UTC),
	}
	for i := 1; i < len(times); i++ {
		a, b := appendTime(nil, times[i-1]), appendTime(nil, times[i])
		require.Len(t, a, timeKeyLen)
		require.Negative(t, bytes.Compare(a, b), "%v < %v", times[i-1], times[i])
	}
}

func TestZeroTimeSurvives(t *testing.T) {
	b := wallet.Balance{CustomerID: "c", Currency: "USD"}
	got, err := decodeBalance(encodeBalance(b))
	require.NoError(t, err)
	require.Equal(t, b, got)
	require.True(t, got.UpdatedAt.IsZero())
}

// TestEndpointSecretsReadBack: endpoints written when the secrets were part
// of the plain JSON encoding keep them.
func TestEndpointSecretsReadBack(t *testing.T) {
	old := append([]byte{formatJSON}, `{"id":"we_1","url":"https://x","secret":"whsec_cur","previous_secret":"whsec_old","disabled":false,"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}`...)
	ep, err := decodeEndpoint(old)
	require.NoError(t, err)
	require.Equal(t, "whsec_cur", ep.Secret)
	require.Equal(t, "whsec_old", ep.PreviousSecret)
}

// TestLeaseOwnersOfOlderRecordsReadBack: records written while lease owners
// and hold ids were in the API JSON keep them.
func TestLeaseOwnersOfOlderRecordsReadBack(t *testing.T) {
	old := func(s string) []byte { return append([]byte{formatJSON}, s...) }
	a, err := decodeAttempt(old(`{"id":"att_1","status":"claimed","lease_owner":"runner-a"}`))
	require.NoError(t, err)
	require.Equal(t, retry.AttemptStatus("claimed"), a.Status)
	require.Equal(t, "runner-a", a.LeaseOwner)
	d, err := decodeDelivery(old(`{"id":"dl_1","lease_owner":"disp-b"}`))
	require.NoError(t, err)
	require.Equal(t, "disp-b", d.LeaseOwner)
	p, err := decodePayment(old(`{"id":"pay_1","hold_id":"hold_9"}`))
	require.NoError(t, err)
	require.Equal(t, "hold_9", p.HoldID)
}

// TestJSONPaymentsReadBack: a payment written in the JSON format (every
// release before the binary one) reads back as the binary format does.
func TestJSONPaymentsReadBack(t *testing.T) {
	want := filled[subscription.Payment]()
	old, err := encodeJSON(paymentJSON{Payment: want, StoredFingerprint: want.Fingerprint,
		StoredCollectingBy: want.CollectingBy, StoredCallUntil: want.CallUntil, StoredHoldID: want.HoldID})
	require.NoError(t, err)
	got, err := decodePayment(old)
	require.NoError(t, err)
	require.Equal(t, want, got)
	v, err := encodePayment(want)
	require.NoError(t, err)
	require.Equal(t, formatBinary, v[0])
	require.Less(t, len(v), len(old), "the binary form is the smaller")
}

// TestJSONSubscriptionsReadBack: subscriptions written as JSON (before the
// binary format) read back, with and without a billing address.
func TestJSONSubscriptionsReadBack(t *testing.T) {
	for _, want := range []subscription.Subscription{filled[subscription.Subscription](), {ID: "sub_1", Status: "active"}} {
		old, err := encodeJSON(want)
		require.NoError(t, err)
		got, err := decodeSubscription(old)
		require.NoError(t, err)
		require.Equal(t, want, got)
		v, err := encodeSubscription(want)
		require.NoError(t, err)
		got, err = decodeSubscription(v)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
}

// TestPaymentFXSection: the adaptive-currency fields travel in an optional
// trailing section. A payment without them encodes byte for byte as before
// the section existed (so records written then read back, fields zero);
// any one of them alone makes the section and survives; a truncated
// section is corrupt.
func TestPaymentFXSection(t *testing.T) {
	full := filled[subscription.Payment]()
	plain := full
	plain.Fee, plain.ProductAmount, plain.ProductCurrency = 0, 0, ""
	plain.FXRate, plain.FXSource, plain.FXRateAt = "", "", time.Time{}
	old, err := encodePayment(plain)
	require.NoError(t, err)
	withFX, err := encodePayment(full)
	require.NoError(t, err)
	require.Equal(t, old, withFX[:len(old)], "the section is appended after the fields of earlier releases")
	require.Equal(t, byte(paymentFXTag), withFX[len(old)])
	got, err := decodePayment(old)
	require.NoError(t, err)
	require.Equal(t, plain, got, "a record written before the section reads back with the fields zero")
	for i := len(old) + 1; i < len(withFX); i++ {
		_, err := decodePayment(withFX[:i])
		require.ErrorIs(t, err, errCorrupt, "cut at %d of %d", i, len(withFX))
	}
	for name, set := range map[string]func(*subscription.Payment){
		"fee":              func(p *subscription.Payment) { p.Fee = 25 },
		"product amount":   func(p *subscription.Payment) { p.ProductAmount = 10_00 },
		"product currency": func(p *subscription.Payment) { p.ProductCurrency = "EUR" },
		"rate":             func(p *subscription.Payment) { p.FXRate = "1.0843" },
		"source":           func(p *subscription.Payment) { p.FXSource = "static" },
		"rate time":        func(p *subscription.Payment) { p.FXRateAt = time.Unix(1764547200, 5).UTC() },
	} {
		want := plain
		set(&want)
		v, err := encodePayment(want)
		require.NoError(t, err)
		require.Greater(t, len(v), len(old), name)
		got, err := decodePayment(v)
		require.NoError(t, err, name)
		require.Equal(t, want, got, name)
	}
}

// FuzzPaymentCodec: any bytes decode to a payment or errCorrupt, never a
// panic; a decoded payment encodes back to bytes that decode to it again;
// and a payment built from the inputs (the adaptive-currency fields among
// them) round-trips.
func FuzzPaymentCodec(f *testing.F) {
	full, err := encodePayment(filled[subscription.Payment]())
	require.NoError(f, err)
	f.Add(full, int64(25), int64(10_00), "EUR", "1.0843", "static", int64(1764547200))
	f.Add([]byte{formatBinary}, int64(0), int64(0), "", "", "", int64(0))
	f.Add(append([]byte{formatJSON}, `{"id":"pay_1","fee":3}`...), int64(-1), int64(1<<62), "\x00", "1e-12", "", int64(-5))
	f.Fuzz(func(t *testing.T, raw []byte, fee, product int64, cur, rate, src string, at int64) {
		if p, err := decodePayment(raw); err == nil {
			v, err := encodePayment(p)
			require.NoError(t, err)
			again, err := decodePayment(v)
			require.NoError(t, err)
			require.Equal(t, p, again)
		} else {
			require.ErrorIs(t, err, errCorrupt)
		}
		p := subscription.Payment{ID: "pay_f", Fee: fee, ProductAmount: product, ProductCurrency: cur, FXRate: rate,
			FXSource: src, CreatedAt: time.Unix(1700000000, 0).UTC(), UpdatedAt: time.Unix(1700000001, 0).UTC()}
		if at != 0 {
			p.FXRateAt = time.Unix(at, 0).UTC()
		}
		v, err := encodePayment(p)
		require.NoError(t, err)
		got, err := decodePayment(v)
		require.NoError(t, err)
		require.Equal(t, p, got)
	})
}
