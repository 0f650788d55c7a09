package httpapi

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/apikey"
)

// authFailure is a failure to check a key (the store is unreachable), as
// opposed to a bad key: it is answered as itself (503, 500), not as a 401.
type authFailure struct{ err error }

func (a *authFailure) Error() string { return a.err.Error() }
func (a *authFailure) Unwrap() error { return a.err }

// engineAuth authenticates with the Engine's API keys (coffer keys
// create, POST /api-keys). A key the Engine accepted is remembered for
// keyCacheTTL (h.keys), so a client's requests do not each read the store:
// a key revoked through this Handler (DELETE /api-keys/{id}) is refused
// from that answer on, one revoked elsewhere (the CLI on a shared
// PostgreSQL, the Engine of the host) within keyCacheTTL. A secret that
// fails is not remembered: it is checked against the store every time.
func (h *Handler) engineAuth(ctx context.Context, secret string) (Principal, error) {
	sum := sha256.Sum256([]byte(secret))
	now := h.now()
	if p, ok := h.keys.get(sum, now); ok {
		return p, nil
	}
	gen := h.keys.generation()
	k, err := h.eng.Authenticate(ctx, secret)
	if err != nil {
		if errors.Is(err, coffer.ErrUnauthenticated) {
			return Principal{}, err
		}
		return Principal{}, &authFailure{err}
	}
	p := principalOf(k)
	h.keys.put(sum, p, now.Add(keyCacheTTL), gen)
	return p, nil
}

func principalOf(k apikey.Key) Principal {
	return Principal{KeyID: k.ID, CustomerID: k.CustomerID, Livemode: k.Livemode}
}

// keyCacheTTL bounds how long a verified key is used without reading the
// store again; keyCacheSize how many are kept (a full cache drops an
// arbitrary one).
const (
	keyCacheTTL  = time.Second
	keyCacheSize = 1024
)

// keyCache maps the SHA-256 of a verified secret (never the secret) to its
// principal until an expiry. forget drops a key's entries and bumps the
// generation, so an Authenticate that began before a revocation cannot put
// the revoked key back.
type keyCache struct {
	mu  sync.RWMutex
	m   map[[sha256.Size]byte]cachedKey
	gen uint64
}

type cachedKey struct {
	p       Principal
	expires time.Time
}

func (kc *keyCache) get(sum [sha256.Size]byte, now time.Time) (Principal, bool) {
	kc.mu.RLock()
	e, ok := kc.m[sum]
	kc.mu.RUnlock()
	if !ok || !now.Before(e.expires) {
		return Principal{}, false
	}
	return e.p, true
}

func (kc *keyCache) generation() uint64 {
	kc.mu.RLock()
	defer kc.mu.RUnlock()
	return kc.gen
}

// put remembers p unless a key was forgotten since gen was read.
func (kc *keyCache) put(sum [sha256.Size]byte, p Principal, expires time.Time, gen uint64) {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	if kc.gen != gen {
		return
	}
	if kc.m == nil {
		kc.m = make(map[[sha256.Size]byte]cachedKey)
	}
	if _, ok := kc.m[sum]; !ok && len(kc.m) >= keyCacheSize {
		for k := range kc.m {
			delete(kc.m, k)
			break
		}
	}
	kc.m[sum] = cachedKey{p: p, expires: expires}
}

// forget drops the entries of key id.
func (kc *keyCache) forget(id string) {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	kc.gen++
	for k, e := range kc.m {
		if e.p.KeyID == id {
			delete(kc.m, k)
		}
	}
}
