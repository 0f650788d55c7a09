package coffer

import (
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/internal/charge"
	"github.com/cofferhq/coffer/processor"
)

// The test hooks of the money path: each sets a field of the engine's
// charge service (charge.Config) between calls, never during one.

// setProcessor replaces the engine's processor mid-test: the one its
// mandates and its charge service use.
func (e *Engine) setProcessor(p processor.Processor) {
	e.processor = p
	e.charges.Tune(func(c *charge.Config) { c.Processor = p })
}

// TestChargeServiceNames: the event types, decline codes, errors and the
// lease of internal/charge are the root package's (events.go, outcomes.go,
// collect.go, errors.go and payments.go are their public source).
func TestChargeServiceNames(t *testing.T) {
	require.Equal(t, EventPaymentSucceeded, charge.EventPaymentSucceeded)
	require.Equal(t, EventPaymentFailed, charge.EventPaymentFailed)
	require.Equal(t, EventPaymentDuplicateRefunded, charge.EventPaymentDuplicateRefunded)
	require.Equal(t, EventRefundSucceeded, charge.EventRefundSucceeded)
	require.Equal(t, EventRefundFailed, charge.EventRefundFailed)
	require.Equal(t, ReconcileAfter, charge.ReconcileAfter)
	require.Equal(t, DeclineDuplicate, charge.DeclineDuplicate)
	require.Equal(t, DeclineProcessorError, charge.DeclineProcessorError)
	for _, pair := range [][2]error{{ErrNoProcessor, charge.ErrNoProcessor}, {ErrNotOverdue, charge.ErrNotOverdue},
		{ErrDebtSettled, charge.ErrDebtSettled}, {ErrCollectionInProgress, charge.ErrCollectionInProgress}} {
		require.True(t, pair[0] == pair[1], "%v", pair[0])
	}
}

// setCrashAfterCharge makes every charge stop between the processor call
// and the transaction that records its outcome, as a process crash would,
// returning f's error when it is not nil (nil f: no crash).
func (e *Engine) setCrashAfterCharge(f func(paymentID string) error) {
	e.charges.Tune(func(c *charge.Config) { c.CrashAfterCharge = f })
}

// setCallRenewEvery sets how often a processor call in flight renews its
// lease on its payment.
func (e *Engine) setCallRenewEvery(d time.Duration) {
	e.charges.Tune(func(c *charge.Config) { c.CallRenewEvery = d })
}

// TestDuplicateRefundMatchesCharge: the event data internal/charge writes
// for payment.duplicate_refunded decodes as the root package's
// DuplicateRefund, field for field and name for name.
func TestDuplicateRefundMatchesCharge(t *testing.T) {
	root, internal := reflect.TypeFor[DuplicateRefund](), reflect.TypeFor[charge.DuplicateRefund]()
	require.Equal(t, root.NumField(), internal.NumField())
	for i := range root.NumField() {
		a, b := root.Field(i), internal.Field(i)
		require.Equal(t, a.Name, b.Name)
		require.Equal(t, a.Type, b.Type, a.Name)
		require.Equal(t, a.Tag.Get("json"), b.Tag.Get("json"), a.Name)
	}
	_ = DuplicateRefund(charge.DuplicateRefund{}) // convertible: the same fields
}
