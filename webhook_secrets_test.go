package coffer

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/webhook"
)

// requireNoSecret marshals v and fails if any of secrets, or a telling
// piece of one, appears in the JSON.
func requireNoSecret(t *testing.T, what string, v any, secrets ...string) {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	for _, s := range secrets {
		require.NotEmpty(t, s)
		body := strings.TrimPrefix(s, webhook.SecretPrefix)
		require.NotContains(t, string(b), s, what)
		require.NotContains(t, string(b), body[:12], "%s: a piece of the secret", what)
	}
	require.NotContains(t, string(b), `"secret"`, what)
	require.NotContains(t, string(b), `"previous_secret"`, what)
}

// TestEndpointReadsHideSecrets: no endpoint the Engine returns, from any
// method, carries a secret in its JSON (or in its Go fields); EndpointSecret
// reveals the current one.
func TestEndpointReadsHideSecrets(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		given := "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY" // 24 bytes
		created, err := v.CreateEndpoint(v.ctx, EndpointParams{URL: "https://example.com/a", Secret: given})
		require.NoError(t, err)
		generated, err := v.CreateEndpoint(v.ctx, EndpointParams{URL: "https://example.com/b"})
		require.NoError(t, err)
		genSecret := v.endpointSecret(generated.ID)
		require.Equal(t, given, v.endpointSecret(created.ID))

		rotated, err := v.RotateEndpointSecret(v.ctx, created.ID, RotateSecretParams{Grace: time.Hour})
		require.NoError(t, err)
		current := v.endpointSecret(created.ID)
		require.NotEqual(t, given, current)
		require.Equal(t, given, v.storedEndpoint(created.ID).PreviousSecret, "the previous secret is stored, for signing in the grace period")
		require.Equal(t, t0.Add(time.Hour), rotated.PreviousExpiresAt, "a rotation in progress is visible")

		desc := "new"
		updated, err := v.UpdateEndpoint(v.ctx, created.ID, UpdateEndpointParams{Description: &desc})
		require.NoError(t, err)
		disabled, err := v.DisableEndpoint(v.ctx, generated.ID)
		require.NoError(t, err)
		enabled, err := v.EnableEndpoint(v.ctx, generated.ID)
		require.NoError(t, err)
		read, err := v.Endpoint(v.ctx, created.ID)
		require.NoError(t, err)
		list, err := pageData(v.ListEndpoints(v.ctx, EndpointListParams{}))
		require.NoError(t, err)
		require.Len(t, list, 2)

		all := map[string]any{
			"create": created, "create generated": generated, "rotate": rotated, "update": updated,
			"disable": disabled, "enable": enabled, "read": read, "list": list,
		}
		for what, got := range all {
			requireNoSecret(t, what, got, given, genSecret, current)
		}
		for _, ep := range append(list, created, generated, rotated, updated, disabled, enabled, read) {
			require.Empty(t, ep.Secret)
			require.Empty(t, ep.PreviousSecret)
			require.True(t, strings.HasPrefix(ep.SecretHint, "whsec_****"), ep.SecretHint)
		}
		require.Equal(t, webhook.MaskSecret(current), read.SecretHint)
		require.Equal(t, "whsec_****"+current[len(current)-4:], read.SecretHint)
		require.Equal(t, webhook.MaskSecret(genSecret), list[0].SecretHint, "newest first")

		_, err = v.EndpointSecret(v.ctx, "ep_missing")
		require.ErrorIs(t, err, ErrEndpointNotFound)
	})
}

// TestExpiredPreviousSecretIsCleared: once its grace period ends, a
// rotated-out secret is removed from the store by the next read, update
// or dispatch, and stops signing.
func TestExpiredPreviousSecretIsCleared(t *testing.T) {
	type path struct {
		name string
		run  func(v *env, id string)
	}
	paths := []path{
		{"read", func(v *env, id string) { _, err := v.Endpoint(v.ctx, id); require.NoError(v.t, err) }},
		{"list", func(v *env, id string) {
			_, err := pageData(v.ListEndpoints(v.ctx, EndpointListParams{}))
			require.NoError(v.t, err)
		}},
		{"update", func(v *env, id string) {
			d := "x"
			_, err := v.UpdateEndpoint(v.ctx, id, UpdateEndpointParams{Description: &d})
			require.NoError(v.t, err)
		}},
		{"dispatch", func(v *env, id string) {
			v.whCustomer("after grace")
			require.Equal(v.t, 1, v.whDispatch(v.whDispatcher(WebhookOptions{})).Succeeded)
		}},
	}
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		for _, p := range paths {
			t.Run(p.name, func(t *testing.T) {
				v := newEnv(t, newStore)
				rc := newWHReceiver(t, v.clock, nil)
				ep := v.whEndpoint(rc)
				_, err := v.RotateEndpointSecret(v.ctx, ep.ID, RotateSecretParams{Grace: time.Hour})
				require.NoError(t, err)
				rc.Secret = v.endpointSecret(ep.ID) // the receiver moves to the new secret

				// Within the grace period the previous secret stays.
				v.clock.Advance(time.Hour - time.Second)
				p.run(v, ep.ID)
				if p.name != "dispatch" {
					require.NotEmpty(t, v.storedEndpoint(ep.ID).PreviousSecret, "kept during its grace period")
				}

				v.clock.Advance(time.Second)
				p.run(v, ep.ID)
				stored := v.storedEndpoint(ep.ID)
				require.Empty(t, stored.PreviousSecret, "cleared after its grace period")
				require.True(t, stored.PreviousExpiresAt.IsZero())
				require.Equal(t, rc.Secret, stored.Secret)
				got, err := v.Endpoint(v.ctx, ep.ID)
				require.NoError(t, err)
				require.True(t, got.PreviousExpiresAt.IsZero())
				if p.name == "dispatch" {
					last := rc.got()[len(rc.got())-1]
					require.Len(t, last.Sigs, 1, "only the current secret signs")
					require.NoError(t, last.VerifyErr)
				}
			})
		}
	})
}

func TestMaskSecret(t *testing.T) {
	require.Equal(t, "whsec_****WFk=", webhook.MaskSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwWFk="))
	require.Equal(t, "whsec_****", webhook.MaskSecret("whsec_short"))
	require.Equal(t, "****", webhook.MaskSecret(""))
	require.Equal(t, "****Sw==", webhook.MaskSecret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw=="))
}
