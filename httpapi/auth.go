package httpapi

import (
	"context"
)

// engineAuth authenticates with the Engine's API keys.
func (h *Handler) engineAuth(ctx context.Context, secret string) (Principal, error) {
	return Principal{}, errUnauthenticated("invalid API key")
}
