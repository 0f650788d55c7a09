package webhook

import (
	"encoding/json"
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
type Endpoint struct {
	ID          string `json:"id"`
	URL         string `json:"url"`
	Description string `json:"description,omitempty"`
	Secret      string `json:"secret"`
	// PreviousSecret still signs, beside Secret, until PreviousExpiresAt
	// (secret rotation with a grace period).
	PreviousSecret    string    `json:"previous_secret,omitempty"`
	PreviousExpiresAt time.Time `json:"previous_expires_at,omitzero"`
	EventTypes        []string  `json:"event_types,omitempty"` // empty: every event
	Disabled          bool      `json:"disabled"`
	CreatedAt         time.Time `json:"created_at"`
	UpdatedAt         time.Time `json:"updated_at"`
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
	LeaseOwner  string         `json:"lease_owner,omitempty"`
	LastStatus  int            `json:"last_status,omitempty"` // HTTP status of the last attempt
	LastError   string         `json:"last_error,omitempty"`
	DeliveredAt time.Time      `json:"delivered_at,omitzero"`
	CreatedAt   time.Time      `json:"created_at"`
	UpdatedAt   time.Time      `json:"updated_at"`
}
