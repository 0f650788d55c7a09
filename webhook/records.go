package webhook

import (
	"encoding/json"
	"strings"
	"time"
)

// Event is one entry of the transactional outbox: written in the same store
// transaction as the change it describes, delivered later.
type Event struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	CustomerID string          `json:"customer_id,omitempty"`
	Data       json.RawMessage `json:"data"`
	CreatedAt  time.Time       `json:"timestamp"`
	// Seq orders events in commit-independent insertion order; assigned by
	// the store on insert.
	Seq int64 `json:"-"`
	// Dispatched is set once deliveries to every matching endpoint exist.
	Dispatched bool `json:"-"`
}

// Endpoint is a registered receiver of webhooks.
//
// Its signing secrets are not part of its JSON encoding, so an endpoint
// can be listed, logged or served by an API without leaking them; the
// Engine also returns endpoints Redacted, and reveals the secret only
// through Engine.EndpointSecret. Stores persist the secrets all the same.
type Endpoint struct {
	ID          string `json:"id"`
	URL         string `json:"url"`
	Description string `json:"description,omitempty"`
	// Secret signs deliveries: whsec_<base64>. Never encoded to JSON.
	Secret string `json:"-"`
	// PreviousSecret still signs, beside Secret, until PreviousExpiresAt
	// (secret rotation with a grace period). Never encoded to JSON.
	PreviousSecret    string    `json:"-"`
	PreviousExpiresAt time.Time `json:"previous_expires_at,omitzero"`
	// SecretHint tells secrets apart without revealing them: the prefix and
	// the last four characters, as in "whsec_****Ab9=". Redacted sets it;
	// it is not stored.
	SecretHint string   `json:"secret_hint,omitempty"`
	EventTypes []string `json:"event_types,omitempty"` // empty: every event
	Disabled   bool     `json:"disabled"`
	// IdempotencyKey, when not empty, is the key the endpoint was created
	// with: unique among endpoints, so a second create with it returns this
	// endpoint.
	IdempotencyKey string    `json:"idempotency_key,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// Redacted returns ep as it may leave the process: without Secret and
// PreviousSecret, with SecretHint set. PreviousExpiresAt stays while the
// previous secret is still in its grace period at now, so readers can see
// that a rotation is in progress; after it, it is cleared too.
func (ep Endpoint) Redacted(now time.Time) Endpoint {
	ep.RetirePreviousSecret(now)
	if ep.Secret != "" {
		ep.SecretHint = MaskSecret(ep.Secret)
	}
	ep.Secret, ep.PreviousSecret = "", ""
	return ep
}

// RetirePreviousSecret forgets the previous secret once its grace period
// has ended at now (or if it has no expiry), and reports whether it did.
// Signing stops using it at that moment anyway (SigningSecrets); this
// removes it from storage.
func (ep *Endpoint) RetirePreviousSecret(now time.Time) bool {
	if ep.PreviousSecret == "" && ep.PreviousExpiresAt.IsZero() {
		return false
	}
	if ep.PreviousSecret != "" && now.Before(ep.PreviousExpiresAt) {
		return false
	}
	ep.PreviousSecret, ep.PreviousExpiresAt = "", time.Time{}
	return true
}

// MaskSecret renders a secret for display: its whsec_ prefix (if any) and
// last four characters, "whsec_****Ab9=". Short values show no characters.
func MaskSecret(s string) string {
	prefix := ""
	if strings.HasPrefix(s, SecretPrefix) {
		prefix, s = SecretPrefix, s[len(SecretPrefix):]
	}
	if len(s) < 16 {
		return prefix + "****"
	}
	return prefix + "****" + s[len(s)-4:]
}

// DeliveryStatus is the state of one event's delivery to one endpoint.
type DeliveryStatus string

// Delivery statuses. Pending and Claimed are active (indexed by RunAt).
const (
	DeliveryPending   DeliveryStatus = "pending"
	DeliveryClaimed   DeliveryStatus = "claimed"
	DeliverySucceeded DeliveryStatus = "succeeded"
	DeliveryFailed    DeliveryStatus = "failed" // dead letter: retries exhausted
)

// Active reports whether the delivery is still to be attempted.
func (s DeliveryStatus) Active() bool { return s == DeliveryPending || s == DeliveryClaimed }

// Delivery is the durable state of delivering one event to one endpoint.
// RunAt is the next attempt time, or the lease expiry while claimed.
type Delivery struct {
	ID          string         `json:"id"`
	EventID     string         `json:"event_id"`
	EndpointID  string         `json:"endpoint_id"`
	Status      DeliveryStatus `json:"status"`
	Attempts    int            `json:"attempts"`
	RunAt       time.Time      `json:"run_at"`
	LeaseOwner  string         `json:"-"`                     // internal: the dispatcher holding the lease
	LastStatus  int            `json:"last_status,omitempty"` // HTTP status of the last attempt
	LastError   string         `json:"last_error,omitempty"`
	DeliveredAt time.Time      `json:"delivered_at,omitzero"`
	CreatedAt   time.Time      `json:"created_at"`
	UpdatedAt   time.Time      `json:"updated_at"`
}
