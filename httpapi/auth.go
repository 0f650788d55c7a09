package httpapi

import (
	"context"
	"errors"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/apikey"
)

// authFailure is a failure to check a key (the store is unreachable), as
// opposed to a bad key: it is answered as itself (503, 500), not as a 401.
type authFailure struct{ err error }

func (a *authFailure) Error() string { return a.err.Error() }
func (a *authFailure) Unwrap() error { return a.err }

// engineAuth authenticates with the Engine's API keys (coffer keys
// create, POST /api-keys).
func (h *Handler) engineAuth(ctx context.Context, secret string) (Principal, error) {
	k, err := h.eng.Authenticate(ctx, secret)
	if err != nil {
		if errors.Is(err, coffer.ErrUnauthenticated) {
			return Principal{}, err
		}
		return Principal{}, &authFailure{err}
	}
	return principalOf(k), nil
}

func principalOf(k apikey.Key) Principal {
	return Principal{KeyID: k.ID, CustomerID: k.CustomerID, Livemode: k.Livemode}
}
