package coffer

import (
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/internal/billing"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/webhook"
)

// TestEventTypesListsEveryConstant keeps EventTypes in step with the
// event constants of events.go.
func TestEventTypesListsEveryConstant(t *testing.T) {
	src, err := os.ReadFile("events.go")
	require.NoError(t, err)
	var consts []string
	for _, m := range regexp.MustCompile(`(?m)^\s*(?:const\s+)?Event\w+\s*=\s*"([a-z_.]+)"`).FindAllStringSubmatch(string(src), -1) {
		consts = append(consts, m[1])
	}
	slices.Sort(consts)
	require.Equal(t, consts, EventTypes())
}

func TestEndpointFilterNamesKnownEvents(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		for _, bad := range [][]string{{"payments.succeded"}, {"payment.succeded"}, {"payments.*"}, {"refund.succeeded", "wallet.balance_lo"}} {
			_, err := v.CreateEndpoint(v.ctx, EndpointParams{URL: "https://example.com/hook", EventTypes: bad})
			require.ErrorIs(t, err, ErrInvalidEndpoint, "%v", bad)
			require.ErrorIs(t, err, webhook.ErrInvalidEventType)
			require.Equal(t, "invalid_event_type", ErrorCode(err))
		}
		ep, err := v.CreateEndpoint(v.ctx, EndpointParams{URL: "https://example.com/hook",
			EventTypes: []string{"payment.*", "wallet.balance_low", "*", "customer.*"}})
		require.NoError(t, err)
		_, err = v.UpdateEndpoint(v.ctx, ep.ID, UpdateEndpointParams{EventTypes: &[]string{"payment.succeded"}})
		require.ErrorIs(t, err, webhook.ErrInvalidEventType)
		got, err := v.Endpoint(v.ctx, ep.ID)
		require.NoError(t, err)
		require.Len(t, got.EventTypes, 4, "a refused update changes nothing")
		list, err := v.ListEndpoints(v.ctx, EndpointListParams{})
		require.NoError(t, err)
		require.Len(t, list.Data, 1)
	})
}

// TestBillingEventTypes: the event types internal/billing writes are the
// root package's constants (events.go is their one public source).
func TestBillingEventTypes(t *testing.T) {
	require.Equal(t, EventCustomerDelinquent, billing.EventCustomerDelinquent)
	require.Equal(t, EventCustomerInGoodStand, billing.EventCustomerInGoodStand)
	require.Equal(t, EventSubscriptionActive, billing.EventSubscriptionActive)
	require.Equal(t, EventSubscriptionOnHold, billing.EventSubscriptionOnHold)
	require.Equal(t, EventRetryScheduled, billing.EventRetryScheduled)
}
