package coffer

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/apikey"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/store"
)

func TestAPIKeyLifecycle(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		c := v.customer()

		open, err := v.CreateAPIKey(v.ctx, APIKeyParams{Name: " ops "})
		require.NoError(t, err)
		require.True(t, apikey.ValidSecret(open.Secret))
		require.True(t, strings.HasPrefix(open.Secret, apikey.TestPrefix))
		require.True(t, strings.HasPrefix(open.Key.ID, "key_"))
		require.Equal(t, "ops", open.Key.Name)
		require.Equal(t, open.Secret[:apikey.PrefixLen], open.Key.Prefix)
		require.Equal(t, t0, open.Key.CreatedAt)
		require.False(t, open.Key.Livemode)
		require.True(t, open.Key.Active())
		require.Equal(t, apikey.Hash(open.Secret), open.Key.Hash)

		v.clock.Advance(time.Second)
		live, err := v.CreateAPIKey(v.ctx, APIKeyParams{Name: "shop", CustomerID: c.ID, Livemode: true})
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(live.Secret, apikey.LivePrefix))
		require.True(t, live.Key.Livemode)
		require.Equal(t, c.ID, live.Key.CustomerID)
		require.NotEqual(t, open.Secret, live.Secret)

		got, err := v.Authenticate(v.ctx, open.Secret)
		require.NoError(t, err)
		require.Equal(t, open.Key, got)
		got, err = v.Authenticate(v.ctx, live.Secret)
		require.NoError(t, err)
		require.Equal(t, live.Key, got)
		require.NoError(t, CheckKeyAccess(got, c.ID))
		require.ErrorIs(t, CheckKeyAccess(got, "cus_other"), ErrForbidden)
		require.ErrorIs(t, CheckKeyAccess(got, ""), ErrForbidden, "a restricted key makes no account-wide call")
		require.NoError(t, CheckKeyAccess(open.Key, "cus_other"))

		got, err = v.APIKey(v.ctx, live.Key.ID)
		require.NoError(t, err)
		require.Equal(t, live.Key, got)

		// Newest first; Iterate pages.
		var more []CreatedAPIKey
		for range 3 {
			v.clock.Advance(time.Second)
			k, err := v.CreateAPIKey(v.ctx, APIKeyParams{})
			require.NoError(t, err)
			more = append(more, k)
		}
		l, err := v.ListAPIKeys(v.ctx, APIKeyListParams{ListParams{Limit: 2}})
		require.NoError(t, err)
		require.True(t, l.HasMore)
		require.Equal(t, []string{more[2].Key.ID, more[1].Key.ID}, keyIDs(l.Data))
		var all []string
		for k, err := range Iterate(v.ctx, APIKeyListParams{ListParams{Limit: 2}}, v.ListAPIKeys) {
			require.NoError(t, err)
			all = append(all, k.ID)
		}
		require.Equal(t, []string{more[2].Key.ID, more[1].Key.ID, more[0].Key.ID, live.Key.ID, open.Key.ID}, all)
		_, err = v.ListAPIKeys(v.ctx, APIKeyListParams{ListParams{StartingAfter: "key_nope"}})
		require.Equal(t, "invalid_cursor", ErrorCode(err))

		// Revoke: for good, idempotently.
		v.clock.Advance(time.Minute)
		rev, err := v.RevokeAPIKey(v.ctx, live.Key.ID)
		require.NoError(t, err)
		require.Equal(t, v.clock.Now(), rev.RevokedAt)
		require.False(t, rev.Active())
		_, err = v.Authenticate(v.ctx, live.Secret)
		require.ErrorIs(t, err, ErrUnauthenticated)
		v.clock.Advance(time.Minute)
		again, err := v.RevokeAPIKey(v.ctx, live.Key.ID)
		require.NoError(t, err)
		require.Equal(t, rev, again, "revoking twice changes nothing")
		got, err = v.APIKey(v.ctx, live.Key.ID)
		require.NoError(t, err)
		require.Equal(t, rev, got)
		l, err = v.ListAPIKeys(v.ctx, APIKeyListParams{})
		require.NoError(t, err)
		require.Len(t, l.Data, 5, "revoked keys are listed")
		_, err = v.Authenticate(v.ctx, open.Secret)
		require.NoError(t, err, "other keys are unaffected")
	})
}

func keyIDs(l []apikey.Key) []string {
	var out []string
	for _, k := range l {
		out = append(out, k.ID)
	}
	return out
}

func TestAPIKeyErrors(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		_, err := v.CreateAPIKey(v.ctx, APIKeyParams{CustomerID: "cus_missing"})
		require.ErrorIs(t, err, customer.ErrNotFound)
		require.Equal(t, http.StatusNotFound, HTTPStatus(err))
		_, err = v.CreateAPIKey(v.ctx, APIKeyParams{CustomerID: "cus_\x00"})
		require.Equal(t, "invalid_id", ErrorCode(err))
		_, err = v.CreateAPIKey(v.ctx, APIKeyParams{Name: strings.Repeat("n", apikey.MaxNameLen+1)})
		e := AsError(err)
		require.Equal(t, "invalid_api_key_name", e.Code)
		require.Equal(t, "name", e.Param)
		require.Equal(t, http.StatusUnprocessableEntity, e.HTTPStatus())
		l, err := v.ListAPIKeys(v.ctx, APIKeyListParams{})
		require.NoError(t, err)
		require.Empty(t, l.Data, "nothing stored by a refused create")

		_, err = v.APIKey(v.ctx, "key_missing")
		require.ErrorIs(t, err, apikey.ErrNotFound)
		require.Equal(t, "api_key_not_found", ErrorCode(err))
		_, err = v.RevokeAPIKey(v.ctx, "key_missing")
		require.Equal(t, "api_key_not_found", ErrorCode(err))
		_, err = v.APIKey(v.ctx, strings.Repeat("k", MaxIDLen+1))
		require.Equal(t, "invalid_id", ErrorCode(err))
		require.Equal(t, "api_key_id", AsError(err).Param)
	})
}

// TestAuthenticateNoOracle: a malformed, an unknown and a revoked secret
// get the same answer, byte for byte.
func TestAuthenticateNoOracle(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		k, err := v.CreateAPIKey(v.ctx, APIKeyParams{})
		require.NoError(t, err)
		_, err = v.RevokeAPIKey(v.ctx, k.Key.ID)
		require.NoError(t, err)
		var answers []*Error
		for _, secret := range []string{"", "sk_test_x", "Bearer " + k.Secret, apikey.NewSecret(false), apikey.NewSecret(true), k.Secret} {
			_, err := v.Authenticate(v.ctx, secret)
			require.ErrorIs(t, err, ErrUnauthenticated)
			e := AsError(err)
			require.Equal(t, KindUnauthenticated, e.Kind)
			require.Equal(t, "invalid_api_key", e.Code)
			require.Equal(t, http.StatusUnauthorized, e.HTTPStatus())
			require.NotContains(t, e.Message, k.Key.ID)
			answers = append(answers, e)
		}
		for _, a := range answers[1:] {
			require.Equal(t, *answers[0], *a)
		}
		e := AsError(ErrForbidden)
		require.Equal(t, KindForbidden, e.Kind)
		require.Equal(t, "forbidden", e.Code)
		require.Equal(t, http.StatusForbidden, e.HTTPStatus())
	})
}

func TestImportAPIKey(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		secret := apikey.NewSecret(false)
		k, err := v.ImportAPIKey(v.ctx, secret, "COFFER_API_KEY")
		require.NoError(t, err)
		require.Equal(t, "COFFER_API_KEY", k.Name)
		require.Equal(t, secret[:apikey.PrefixLen], k.Prefix)
		require.False(t, k.Restricted())
		got, err := v.Authenticate(v.ctx, secret)
		require.NoError(t, err)
		require.Equal(t, k, got)

		v.clock.Advance(time.Hour) // a restart, later
		again, err := v.ImportAPIKey(v.ctx, secret, "renamed")
		require.NoError(t, err)
		require.Equal(t, k, again, "idempotent by hash; the stored key is returned unchanged")
		l, err := v.ListAPIKeys(v.ctx, APIKeyListParams{})
		require.NoError(t, err)
		require.Len(t, l.Data, 1)

		live, err := v.ImportAPIKey(v.ctx, apikey.NewSecret(true), "")
		require.NoError(t, err)
		require.True(t, live.Livemode)

		_, err = v.RevokeAPIKey(v.ctx, k.ID)
		require.NoError(t, err)
		_, err = v.ImportAPIKey(v.ctx, secret, "COFFER_API_KEY")
		require.ErrorIs(t, err, apikey.ErrRevoked)
		require.Equal(t, "api_key_revoked", ErrorCode(err))
		require.Equal(t, http.StatusConflict, HTTPStatus(err))
		_, err = v.Authenticate(v.ctx, secret)
		require.ErrorIs(t, err, ErrUnauthenticated, "a revoked key stays revoked")

		bad := "sk_test_" + strings.Repeat("x", 10)
		_, err = v.ImportAPIKey(v.ctx, bad, "x")
		require.Equal(t, "malformed_api_key", ErrorCode(err))
		require.NotContains(t, AsError(err).Message, bad, "a secret is never echoed")
		_, err = v.ImportAPIKey(v.ctx, apikey.NewSecret(false), strings.Repeat("n", apikey.MaxNameLen+1))
		require.Equal(t, "invalid_api_key_name", ErrorCode(err))
	})
}

func TestCreatedAPIKeyJSON(t *testing.T) {
	v := newEnv(t, storeKinds["memory"])
	k, err := v.CreateAPIKey(v.ctx, APIKeyParams{Name: "n"})
	require.NoError(t, err)
	b, err := json.Marshal(k)
	require.NoError(t, err)
	require.Equal(t, 1, strings.Count(string(b), k.Secret), "the secret, once: that is what a create hands over")
	require.NotContains(t, string(b), "hash")
	b, err = json.Marshal(k.Key)
	require.NoError(t, err)
	require.NotContains(t, string(b), k.Secret)
	require.Contains(t, string(b), `"prefix":"`+k.Secret[:apikey.PrefixLen]+`"`)
}
