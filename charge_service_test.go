package coffer

import (
	"testing"

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
	for _, pair := range [][2]error{{ErrNoProcessor, charge.ErrNoProcessor}} {
		require.True(t, pair[0] == pair[1], "%v", pair[0])
	}
}
