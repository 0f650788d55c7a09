package coffer

import (
	"context"
	"errors"
	"fmt"

	"github.com/cofferhq/coffer/apikey"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/internal/text"
	"github.com/cofferhq/coffer/store"
)

// API keys authenticate the requests of the coffer HTTP service. An
// Engine creates, imports, lists and revokes them and checks a request's
// secret (Authenticate); the HTTP layer decides what a key may do
// (CheckKeyAccess). Only the SHA-256 of a secret is stored (see package
// apikey): CreateAPIKey returns the secret once, and nothing can show it
// again.

// Errors of API key authentication.
var (
	// ErrUnauthenticated: the secret a request presented is malformed,
	// unknown or revoked (401, invalid_api_key). The three cases return
	// this same error, message included, so an answer tells a caller
	// nothing about which keys exist.
	ErrUnauthenticated = errors.New("coffer: invalid API key")
	// ErrForbidden: the API key is valid but may not do this: a key
	// restricted to one customer used on another customer's records (403,
	// forbidden).
	ErrForbidden = errors.New("coffer: the API key may not access this resource")
)

// APIKeyParams are the parameters of CreateAPIKey.
//
// There is no idempotency key: a replay could not return the secret (only
// its hash is stored), so a retried create simply makes another key, which
// an operator can revoke. (The HTTP layer should not cache a create's
// response under an Idempotency-Key either: the record would hold the
// secret for a day. See AbandonIdempotent.)
type APIKeyParams struct {
	// Name is a label for people, at most apikey.MaxNameLen characters;
	// surrounding space is trimmed.
	Name string `json:"name,omitempty"`
	// CustomerID, when not empty, restricts the key to that customer, who
	// must exist.
	CustomerID string `json:"customer_id,omitempty"`
	// Livemode makes an sk_live_ key instead of sk_test_.
	Livemode bool `json:"livemode,omitempty"`
}

// CreatedAPIKey is a new key with its secret. Secret is shown this once:
// the store keeps only its hash. It is the one record whose JSON carries
// a secret, since handing it over is its purpose.
type CreatedAPIKey struct {
	Key    apikey.Key `json:"api_key"`
	Secret string     `json:"secret"`
}

// APIKeyListParams filters ListAPIKeys.
type APIKeyListParams struct {
	ListParams
}

// checkAPIKeyID refuses a malformed key id (ErrInvalidID, param
// "api_key_id").
func checkAPIKeyID(id string) error { return checkID(apikey.ErrInvalid, "api_key_id", id) }

func apiKeyNameErr(err error) error {
	if errors.Is(err, apikey.ErrInvalidName) {
		return &customer.FieldError{Field: "name", Err: err}
	}
	return err
}

// CreateAPIKey makes a key with a fresh secret (apikey.NewSecret) and
// stores it. The secret is in the result and nowhere else.
func (e *Engine) CreateAPIKey(ctx context.Context, p APIKeyParams) (CreatedAPIKey, error) {
	if err := checkCustomerID(p.CustomerID); err != nil {
		return CreatedAPIKey{}, err
	}
	secret := apikey.NewSecret(p.Livemode)
	k, err := apikey.New(newID("key"), p.Name, secret, p.CustomerID, e.clock.Now())
	if err != nil {
		return CreatedAPIKey{}, apiKeyNameErr(err)
	}
	err = e.update(ctx, func(tx store.Tx) error {
		if k.CustomerID != "" {
			if _, err := getCustomer(tx, k.CustomerID); err != nil {
				return err
			}
		}
		return tx.InsertAPIKey(k)
	})
	if err != nil {
		return CreatedAPIKey{}, err
	}
	return CreatedAPIKey{Key: k, Secret: secret}, nil
}

// ImportAPIKey makes secret a key named name, unless a key has it already:
// then it returns that key as it is (its name unchanged). It is how `coffer
// serve` adopts the COFFER_API_KEY it is started with, on every start. A
// secret that is not of apikey's format is apikey.ErrMalformedSecret (422);
// the secret of a revoked key is apikey.ErrRevoked (409): revoking is for
// good, and a restart with the old secret must not bring it back. The key
// is unrestricted; Livemode follows the secret's prefix.
func (e *Engine) ImportAPIKey(ctx context.Context, secret, name string) (apikey.Key, error) {
	if !apikey.ValidSecret(secret) {
		return apikey.Key{}, apikey.ErrMalformedSecret // never echo a secret
	}
	k, err := apikey.New(newID("key"), name, secret, "", e.clock.Now())
	if err != nil {
		return apikey.Key{}, apiKeyNameErr(err)
	}
	var out apikey.Key
	err = e.update(ctx, func(tx store.Tx) error {
		got, err := tx.APIKeyByHash(k.Hash)
		switch {
		case err == nil:
			if !got.Active() {
				return fmt.Errorf("%w: %s", apikey.ErrRevoked, got.ID)
			}
			out = got
			return nil
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		out = k
		return tx.InsertAPIKey(k) // ErrDuplicate: another engine imported it first; e.update runs again
	})
	return out, err
}

// APIKey returns the key with id (apikey.ErrNotFound, 404, for none).
func (e *Engine) APIKey(ctx context.Context, id string) (apikey.Key, error) {
	if err := checkAPIKeyID(id); err != nil {
		return apikey.Key{}, err
	}
	return view(ctx, e, func(tx store.Tx) (apikey.Key, error) { return getAPIKey(tx, id) })
}

func getAPIKey(tx store.Tx, id string) (apikey.Key, error) {
	k, err := tx.APIKey(id)
	if errors.Is(err, store.ErrNotFound) {
		return k, fmt.Errorf("%w: %s", apikey.ErrNotFound, text.Quote(id))
	}
	return k, err
}

// ListAPIKeys lists the keys, revoked ones included, newest first. A key
// in a list carries its Prefix, never its secret or hash.
func (e *Engine) ListAPIKeys(ctx context.Context, p APIKeyListParams) (List[apikey.Key], error) {
	q := store.APIKeyListQuery{}
	var err error
	if q.Page, err = p.page(); err != nil {
		return List[apikey.Key]{}, err
	}
	return listView(ctx, e, q.Page, func(k apikey.Key) string { return k.ID },
		func(tx store.Tx) ([]apikey.Key, bool, error) { return tx.QueryAPIKeys(q) })
}

// RevokeAPIKey revokes a key for good: from the commit on, Authenticate
// refuses its secret. Revoking a revoked key returns it unchanged.
func (e *Engine) RevokeAPIKey(ctx context.Context, id string) (apikey.Key, error) {
	if err := checkAPIKeyID(id); err != nil {
		return apikey.Key{}, err
	}
	var out apikey.Key
	err := e.update(ctx, func(tx store.Tx) error {
		k, err := getAPIKey(tx, id)
		if err != nil {
			return err
		}
		if k.Active() {
			k.RevokedAt = e.clock.Now().UTC()
			if err := tx.UpdateAPIKey(k); err != nil {
				return err
			}
		}
		out = k
		return nil
	})
	return out, err
}

// Authenticate returns the active key whose secret is secret. A malformed,
// unknown or revoked secret is ErrUnauthenticated (401, invalid_api_key),
// the same error for all three; the stored hash is compared with the
// secret's in constant time. A store failure is not an authentication
// failure: it comes back as itself (a 5xx), so an outage does not look
// like a bad key.
func (e *Engine) Authenticate(ctx context.Context, secret string) (apikey.Key, error) {
	if !apikey.ValidSecret(secret) {
		return apikey.Key{}, ErrUnauthenticated
	}
	k, err := view(ctx, e, func(tx store.Tx) (apikey.Key, error) { return tx.APIKeyByHash(apikey.Hash(secret)) })
	switch {
	case errors.Is(err, store.ErrNotFound):
		return apikey.Key{}, ErrUnauthenticated
	case err != nil:
		return apikey.Key{}, err
	case !k.Matches(secret) || !k.Active():
		return apikey.Key{}, ErrUnauthenticated
	}
	return k, nil
}

// CheckKeyAccess says whether key may act on the records of customerID:
// an unrestricted key may act on every customer's, a restricted one on its
// customer's only (ErrForbidden, 403, otherwise). customerID "" is an
// account-wide operation (a list of every customer, the catalog, the
// webhooks), which a restricted key may not do either.
func CheckKeyAccess(key apikey.Key, customerID string) error {
	if !key.Restricted() || key.CustomerID == customerID {
		return nil
	}
	return ErrForbidden
}
