package httpapi

import (
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/apikey"
)

// APIKey is an API key as the API shows it: never its secret, only the
// prefix that tells it apart.
type APIKey struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	CustomerID *string    `json:"customer_id"`
	Livemode   bool       `json:"livemode"`
	CreatedAt  time.Time  `json:"created_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// CreatedAPIKey is the answer of POST /api-keys: the key and its secret,
// shown this once (coffer keeps only a hash).
type CreatedAPIKey struct {
	APIKey
	Secret string `json:"secret"`
}

type apiKeyCreate struct {
	Name       *string `json:"name"`
	CustomerID *string `json:"customer_id"`
	Livemode   *bool   `json:"livemode"`
}

func apiKeyOut(k apikey.Key) APIKey {
	out := APIKey{ID: k.ID, Name: k.Name, Prefix: k.Prefix, CustomerID: optString(k.CustomerID),
		Livemode: k.Livemode, CreatedAt: k.CreatedAt}
	if !k.RevokedAt.IsZero() {
		t := k.RevokedAt
		out.RevokedAt = &t
	}
	return out
}

func (h *Handler) apiKeyRoutes() {
	h.handle("POST /api-keys", h.createAPIKey, doc{Tag: "api-keys", Extension: true, NoReplay: true,
		Summary: "Create an API key",
		Description: "The secret is in this answer only (coffer keeps its SHA-256). customer_id restricts the key " +
			"to that customer. Answers are never kept for Idempotency-Key replay: a retry makes another key.",
		Body: apiKeyCreate{}, Result: CreatedAPIKey{}})
	h.handle("GET /api-keys", h.listAPIKeys, doc{Tag: "api-keys", Extension: true, Summary: "List API keys",
		Result: Page[APIKey]{}, Query: pageQuery})
	h.handle("GET /api-keys/{key_id}", h.getAPIKey, doc{Tag: "api-keys", Extension: true,
		Summary: "Retrieve an API key", Result: APIKey{}})
	h.handle("POST /api-keys/{key_id}/revoke", h.revokeAPIKey, doc{Tag: "api-keys", Extension: true,
		Summary: "Revoke an API key", Description: "Idempotent; a revoked key answers 401 at once.", Result: APIKey{}})
}

func (h *Handler) createAPIKey(c *call) (any, error) {
	if err := c.operatorOnly(); err != nil {
		return nil, err
	}
	var in apiKeyCreate
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	var p coffer.APIKeyParams
	if in.Name != nil {
		p.Name = *in.Name
	}
	if in.CustomerID != nil {
		p.CustomerID = *in.CustomerID
	}
	if in.Livemode != nil {
		p.Livemode = *in.Livemode
	}
	k, err := h.eng.CreateAPIKey(c.ctx(), p)
	if err != nil {
		return nil, err
	}
	return CreatedAPIKey{APIKey: apiKeyOut(k.Key), Secret: k.Secret}, nil
}

func (h *Handler) listAPIKeys(c *call) (any, error) {
	if err := c.operatorOnly(); err != nil {
		return nil, err
	}
	_, pr, err := c.listQuery()
	if err != nil {
		return nil, err
	}
	return listPage(c, pr, func(lp coffer.ListParams) (coffer.List[apikey.Key], error) {
		return h.eng.ListAPIKeys(c.ctx(), coffer.APIKeyListParams{ListParams: lp})
	}, func(k apikey.Key) string { return k.ID }, func(k apikey.Key) (APIKey, error) { return apiKeyOut(k), nil })
}

func (h *Handler) getAPIKey(c *call) (any, error) {
	id, err := c.operatorPathID("key_id")
	if err != nil {
		return nil, err
	}
	k, err := h.eng.APIKey(c.ctx(), id)
	if err != nil {
		return nil, err
	}
	return apiKeyOut(k), nil
}

func (h *Handler) revokeAPIKey(c *call) (any, error) {
	id, err := c.operatorPathID("key_id")
	if err != nil {
		return nil, err
	}
	k, err := h.eng.RevokeAPIKey(c.ctx(), id)
	// Forget the key even on an error: the revocation may have committed.
	h.keys.forget(id)
	if err != nil {
		return nil, err
	}
	return apiKeyOut(k), nil
}
