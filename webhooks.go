package coffer

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/cofferhq/coffer/internal/dispatch"
	"github.com/cofferhq/coffer/internal/text"

	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/webhook"
)

// Errors of the webhook endpoint and delivery API.
var (
	// ErrInvalidEndpoint: a bad URL, event-type filter or secret. It wraps
	// ErrInvalid (422); the cause (webhook.ErrInvalidEventType,
	// webhook.ErrInvalidSecret) is wrapped too.
	ErrInvalidEndpoint = fmt.Errorf("%w: invalid webhook endpoint", ErrInvalid)
	// ErrEndpointDisabled: redelivery to an endpoint that is disabled; enable
	// it first, or the attempt would be dead-lettered at once.
	ErrEndpointDisabled = fmt.Errorf("%w: webhook endpoint is disabled", ErrInvalid)
	// ErrDeliveryNotFound: unknown webhook delivery.
	ErrDeliveryNotFound = errors.New("coffer: webhook delivery not found")
	// ErrDeliveryActive: redelivery of a delivery that is still pending or
	// being attempted; it will be attempted anyway.
	ErrDeliveryActive = fmt.Errorf("%w: webhook delivery is still active", ErrInvalid)
)

// Limits on endpoint fields: generous for real use, small enough that an
// endpoint record stays a few kilobytes.
const (
	maxEndpointURL         = 2048
	maxEndpointDescription = 1024
	maxEndpointEventTypes  = 100
)

// EndpointParams registers a webhook endpoint.
type EndpointParams struct {
	// URL receives the POSTs: an absolute http or https URL.
	URL         string `json:"url"`
	Description string `json:"description,omitempty"`
	// EventTypes filters the events sent: exact types
	// ("payment.succeeded"), prefix wildcards ("payment.*") or "*"; empty
	// means every event.
	EventTypes []string `json:"event_types,omitempty"`
	// Secret is the signing secret, "whsec_" + base64 of 24 to 64 bytes.
	// Empty generates one (webhook.NewSecret); pass one only to keep a
	// secret the receiver already has.
	Secret string `json:"secret,omitempty"`
	// IdempotencyKey, when not empty, makes the create safe to repeat (an
	// application that registers its endpoint at start-up): the first
	// create with a key registers the endpoint, later ones with the same
	// key and the same URL, description, event types (and Secret, when
	// given) return it, and the same key with other params is
	// subscription.ErrIdempotencyConflict (409). Keys are unique among
	// endpoints; a deleted endpoint frees its key.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// UpdateEndpointParams changes the given fields of an endpoint; nil fields
// keep their values. The secret changes only through RotateEndpointSecret,
// so a receiver is never left without a secret that verifies.
type UpdateEndpointParams struct {
	URL         *string   `json:"url,omitempty"`
	Description *string   `json:"description,omitempty"`
	EventTypes  *[]string `json:"event_types,omitempty"` // pointer to an empty slice: every event
	// Disabled stops deliveries to the endpoint. Disabling dead-letters its
	// pending deliveries (LastError "endpoint disabled"), and events
	// committed while it is disabled are not queued for it: like Stripe and
	// Svix, a disabled endpoint gets nothing, and Redeliver resends what it
	// missed once it is enabled again. An attempt already in flight still
	// completes and is recorded.
	Disabled *bool `json:"disabled,omitempty"`
}

// CreateEndpoint registers a webhook endpoint. It receives the events
// committed from its creation on that match its filter, signed with its
// secret. Like every endpoint the Engine returns, the result is
// webhook.Endpoint.Redacted: it holds a SecretHint, not the secret; hand the
// receiver the secret it passed in p, or the generated one from
// EndpointSecret.
func (e *Engine) CreateEndpoint(ctx context.Context, p EndpointParams) (webhook.Endpoint, error) {
	if err := checkKey(ErrInvalidEndpoint, "idempotency_key", p.IdempotencyKey); err != nil {
		return webhook.Endpoint{}, err
	}
	u, err := checkEndpointURL(p.URL)
	if err != nil {
		return webhook.Endpoint{}, err
	}
	if err := checkEndpointDescription(p.Description); err != nil {
		return webhook.Endpoint{}, err
	}
	types, err := checkEndpointEventTypes(p.EventTypes)
	if err != nil {
		return webhook.Endpoint{}, err
	}
	secret := p.Secret
	if secret == "" {
		if secret, err = webhook.NewSecret(); err != nil {
			return webhook.Endpoint{}, err
		}
	} else if _, err := webhook.ParseSecret(secret); err != nil {
		return webhook.Endpoint{}, fmt.Errorf("%w: %w", ErrInvalidEndpoint, err)
	}
	now := e.clock.Now()
	ep := webhook.Endpoint{
		ID: newID("ep"), URL: u, Description: p.Description, Secret: secret, EventTypes: types,
		IdempotencyKey: p.IdempotencyKey, CreatedAt: now, UpdatedAt: now,
	}
	out := ep
	err = e.update(ctx, func(tx store.Tx) error {
		if ep.IdempotencyKey != "" {
			old, err := tx.EndpointByKey(ep.IdempotencyKey)
			switch {
			case err == nil:
				if old.URL != ep.URL || old.Description != ep.Description || !slices.Equal(old.EventTypes, ep.EventTypes) ||
					(p.Secret != "" && p.Secret != old.Secret && p.Secret != old.PreviousSecret) {
					return fmt.Errorf("%w: endpoint idempotency key %s was used for %s", subscription.ErrIdempotencyConflict,
						text.Quote(ep.IdempotencyKey), old.ID)
				}
				out = old
				return nil
			case !errors.Is(err, store.ErrNotFound):
				return err
			}
		}
		out = ep
		return tx.PutEndpoint(ep)
	})
	if err != nil {
		return webhook.Endpoint{}, err
	}
	return out.Redacted(now), nil
}

// Endpoint returns a registered endpoint, redacted (see
// webhook.Endpoint.Redacted; EndpointSecret reveals the secret). A
// previous secret whose grace period has ended is removed from the store on
// the way.
func (e *Engine) Endpoint(ctx context.Context, id string) (webhook.Endpoint, error) {
	if err := checkID(ErrInvalidEndpoint, "endpoint_id", id); err != nil {
		return webhook.Endpoint{}, err
	}
	ep, err := view(ctx, e, func(tx store.Tx) (webhook.Endpoint, error) { return getEndpoint(tx, id) })
	if err != nil {
		return ep, err
	}
	now := e.clock.Now()
	if probe := ep; probe.RetirePreviousSecret(now) { // probe: ep itself is redacted below
		if err := e.retirePreviousSecrets(ctx, now); err != nil {
			return webhook.Endpoint{}, err
		}
	}
	return ep.Redacted(now), nil
}

// EndpointSecret reveals an endpoint's current signing secret, to hand to
// its receiver. It is the only read that does: endpoints returned by every
// other method carry a SecretHint instead, so they can be listed, logged
// and served without leaking it. Guard who may call it as you would the
// secret itself.
func (e *Engine) EndpointSecret(ctx context.Context, id string) (string, error) {
	if err := checkID(ErrInvalidEndpoint, "endpoint_id", id); err != nil {
		return "", err
	}
	ep, err := view(ctx, e, func(tx store.Tx) (webhook.Endpoint, error) { return getEndpoint(tx, id) })
	if err != nil {
		return "", err
	}
	return ep.Secret, nil
}

// EndpointListParams pages ListEndpoints.
type EndpointListParams struct {
	ListParams
}

// ListEndpoints lists the registered endpoints newest first (by
// CreatedAt), redacted (see Endpoint).
func (e *Engine) ListEndpoints(ctx context.Context, p EndpointListParams) (out List[webhook.Endpoint], err error) {
	q := store.EndpointListQuery{}
	if q.Page, err = p.page(); err != nil {
		return out, err
	}
	out, err = listView(ctx, e, q.Page, func(ep webhook.Endpoint) string { return ep.ID },
		func(tx store.Tx) ([]webhook.Endpoint, bool, error) { return tx.QueryEndpoints(q) })
	if err != nil {
		return List[webhook.Endpoint]{}, err
	}
	now := e.clock.Now()
	for _, ep := range out.Data {
		if ep.RetirePreviousSecret(now) { // ep is a copy
			if err := e.retirePreviousSecrets(ctx, now); err != nil {
				return List[webhook.Endpoint]{}, err
			}
			break
		}
	}
	for i := range out.Data {
		out.Data[i] = out.Data[i].Redacted(now)
	}
	return out, nil
}

// retirePreviousSecrets removes from the store every previous secret whose
// grace period has ended at now. Signing has stopped using them already;
// this keeps them from lingering in storage and backups.
func (e *Engine) retirePreviousSecrets(ctx context.Context, now time.Time) error {
	return e.update(ctx, func(tx store.Tx) error {
		eps, err := tx.Endpoints()
		if err != nil {
			return err
		}
		for _, ep := range eps {
			if ep.RetirePreviousSecret(now) {
				if err := tx.PutEndpoint(ep); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// UpdateEndpoint changes the given fields of an endpoint, and returns it
// redacted (see Endpoint).
func (e *Engine) UpdateEndpoint(ctx context.Context, id string, p UpdateEndpointParams) (webhook.Endpoint, error) {
	if err := checkID(ErrInvalidEndpoint, "endpoint_id", id); err != nil {
		return webhook.Endpoint{}, err
	}
	var (
		u     string
		types []string
		err   error
	)
	if p.URL != nil {
		if u, err = checkEndpointURL(*p.URL); err != nil {
			return webhook.Endpoint{}, err
		}
	}
	if p.Description != nil {
		if err := checkEndpointDescription(*p.Description); err != nil {
			return webhook.Endpoint{}, err
		}
	}
	if p.EventTypes != nil {
		if types, err = checkEndpointEventTypes(*p.EventTypes); err != nil {
			return webhook.Endpoint{}, err
		}
	}
	var out webhook.Endpoint
	err = e.update(ctx, func(tx store.Tx) error {
		ep, err := getEndpoint(tx, id)
		if err != nil {
			return err
		}
		if p.URL != nil {
			ep.URL = u
		}
		if p.Description != nil {
			ep.Description = *p.Description
		}
		if p.EventTypes != nil {
			ep.EventTypes = types
		}
		now := e.clock.Now()
		if p.Disabled != nil {
			if *p.Disabled && !ep.Disabled {
				if err := e.deadLetterPending(tx, ep.ID, dispatch.ReasonEndpointDisabled, now); err != nil {
					return err
				}
			}
			ep.Disabled = *p.Disabled
		}
		ep.RetirePreviousSecret(now)
		ep.UpdatedAt = now
		out = ep.Redacted(now)
		return tx.PutEndpoint(ep)
	})
	if err != nil {
		return webhook.Endpoint{}, err
	}
	return out, nil
}

// DisableEndpoint stops deliveries to an endpoint (see
// UpdateEndpointParams.Disabled).
func (e *Engine) DisableEndpoint(ctx context.Context, id string) (webhook.Endpoint, error) {
	disabled := true
	return e.UpdateEndpoint(ctx, id, UpdateEndpointParams{Disabled: &disabled})
}

// EnableEndpoint resumes deliveries to an endpoint for events committed
// from now on; Redeliver resends what it missed.
func (e *Engine) EnableEndpoint(ctx context.Context, id string) (webhook.Endpoint, error) {
	disabled := false
	return e.UpdateEndpoint(ctx, id, UpdateEndpointParams{Disabled: &disabled})
}

// DeleteEndpoint removes an endpoint. Its pending deliveries are
// dead-lettered (LastError "endpoint deleted") and stay listable; an attempt
// already in flight completes but its outcome is not recorded.
func (e *Engine) DeleteEndpoint(ctx context.Context, id string) error {
	if err := checkID(ErrInvalidEndpoint, "endpoint_id", id); err != nil {
		return err
	}
	return e.update(ctx, func(tx store.Tx) error {
		if _, err := getEndpoint(tx, id); err != nil {
			return err
		}
		now := e.clock.Now()
		if err := e.deadLetterPending(tx, id, dispatch.ReasonEndpointDeleted, now); err != nil {
			return err
		}
		if err := e.deadLetterClaimed(tx, id, dispatch.ReasonEndpointDeleted, now); err != nil {
			return err
		}
		return tx.DeleteEndpoint(id)
	})
}

// RotateSecretParams rotates an endpoint's signing secret. Grace is how long
// the previous secret keeps signing beside the new one (0: it stops at once).
type RotateSecretParams struct {
	Grace time.Duration `json:"grace"`
}

// RotateEndpointSecret gives an endpoint a new signing secret, and returns
// the endpoint redacted: read the new secret with EndpointSecret. For grace
// after the rotation every delivery
// carries two signatures, one per secret, so the receiver can switch to the
// new secret at any moment in that window; after it only the new secret
// signs. A zero grace retires the old secret at once. Rotating again within
// a grace period retires the oldest secret: at most two ever sign.
func (e *Engine) RotateEndpointSecret(ctx context.Context, id string, p RotateSecretParams) (webhook.Endpoint, error) {
	grace := p.Grace
	if err := checkID(ErrInvalidEndpoint, "endpoint_id", id); err != nil {
		return webhook.Endpoint{}, err
	}
	if grace < 0 {
		return webhook.Endpoint{}, fmt.Errorf("%w: negative grace period", ErrInvalidEndpoint)
	}
	secret, err := webhook.NewSecret()
	if err != nil {
		return webhook.Endpoint{}, err
	}
	var out webhook.Endpoint
	err = e.update(ctx, func(tx store.Tx) error {
		ep, err := getEndpoint(tx, id)
		if err != nil {
			return err
		}
		now := e.clock.Now()
		ep.PreviousSecret, ep.PreviousExpiresAt = "", time.Time{}
		if grace > 0 {
			ep.PreviousSecret, ep.PreviousExpiresAt = ep.Secret, now.Add(grace)
		}
		ep.Secret, ep.UpdatedAt = secret, now
		out = ep.Redacted(now)
		return tx.PutEndpoint(ep)
	})
	if err != nil {
		return webhook.Endpoint{}, err
	}
	return out, nil
}

// DeliveryListParams filters ListDeliveries; empty fields match every
// delivery.
type DeliveryListParams struct {
	ListParams
	EventID    string                 `json:"event_id,omitempty"`
	EndpointID string                 `json:"endpoint_id,omitempty"`
	Status     webhook.DeliveryStatus `json:"status,omitempty"`
}

// ListDeliveries lists webhook deliveries, newest first: for one event,
// one endpoint, and/or one status (DeliveryFailed lists the dead letters).
func (e *Engine) ListDeliveries(ctx context.Context, p DeliveryListParams) (out List[webhook.Delivery], err error) {
	if err := checkID(ErrInvalid, "event_id", p.EventID); err != nil {
		return out, err
	}
	if err := checkID(ErrInvalidEndpoint, "endpoint_id", p.EndpointID); err != nil {
		return out, err
	}
	q := store.DeliveryQuery{EventID: p.EventID, EndpointID: p.EndpointID, Status: p.Status}
	switch p.Status {
	case "", webhook.DeliveryPending, webhook.DeliveryClaimed, webhook.DeliverySucceeded, webhook.DeliveryFailed:
	default:
		return out, fmt.Errorf("%w: unknown delivery status %s", ErrInvalid, text.Quote(string(p.Status)))
	}
	if q.Page, err = p.page(); err != nil {
		return out, err
	}
	err = e.store.View(ctx, func(tx store.Tx) error {
		data, more, err := tx.ListDeliveries(q)
		out = newList(data, more, q.Page, func(d webhook.Delivery) string { return d.ID })
		return listErr(err)
	})
	return out, err
}

// Delivery returns one webhook delivery.
func (e *Engine) Delivery(ctx context.Context, id string) (webhook.Delivery, error) {
	if err := checkID(ErrInvalid, "delivery_id", id); err != nil {
		return webhook.Delivery{}, err
	}
	return view(ctx, e, func(tx store.Tx) (webhook.Delivery, error) { return getDelivery(tx, id) })
}

// Redeliver queues a finished delivery (succeeded or dead-lettered) again:
// it becomes pending now with its attempt count reset, so it gets the full
// backoff schedule as if the event were new. The receiver sees the same
// webhook-id as before and should treat it idempotently.
func (e *Engine) Redeliver(ctx context.Context, deliveryID string) (webhook.Delivery, error) {
	if err := checkID(ErrInvalid, "delivery_id", deliveryID); err != nil {
		return webhook.Delivery{}, err
	}
	var out webhook.Delivery
	err := e.update(ctx, func(tx store.Tx) error {
		d, err := getDelivery(tx, deliveryID)
		if err != nil {
			return err
		}
		if d.Status.Active() {
			return fmt.Errorf("%w: %s is %s", ErrDeliveryActive, d.ID, d.Status)
		}
		ep, err := getEndpoint(tx, d.EndpointID)
		if err != nil {
			return err
		}
		if ep.Disabled {
			return fmt.Errorf("%w: %s", ErrEndpointDisabled, ep.ID)
		}
		now := e.clock.Now()
		d.Status, d.Attempts, d.RunAt, d.LeaseOwner = webhook.DeliveryPending, 0, now, ""
		d.DeliveredAt, d.UpdatedAt = time.Time{}, now
		out = d
		return tx.PutDelivery(d)
	})
	if err != nil {
		return webhook.Delivery{}, err
	}
	return out, nil
}

// deadLetterPending fails every pending delivery of an endpoint without an
// attempt, recording why.
func (e *Engine) deadLetterPending(tx store.Tx, endpointID, reason string, now time.Time) error {
	return e.deadLetterStatus(tx, endpointID, webhook.DeliveryPending, reason, now)
}

// deadLetterClaimed fails the deliveries of an endpoint that a dispatcher
// holds; their outcome is then ignored (the lease no longer matches).
func (e *Engine) deadLetterClaimed(tx store.Tx, endpointID, reason string, now time.Time) error {
	return e.deadLetterStatus(tx, endpointID, webhook.DeliveryClaimed, reason, now)
}

func (e *Engine) deadLetterStatus(tx store.Tx, endpointID string, status webhook.DeliveryStatus, reason string, now time.Time) error {
	q := store.DeliveryQuery{EndpointID: endpointID, Status: status, Page: store.Page{Limit: store.MaxLimit}}
	for {
		list, more, err := tx.ListDeliveries(q)
		if err != nil {
			return err
		}
		for _, d := range list {
			dispatch.DeadLetter(&d, reason, now)
			if err := tx.PutDelivery(d); err != nil {
				return err
			}
		}
		if !more || len(list) == 0 {
			return nil
		}
		q.StartingAfter = list[len(list)-1].ID
	}
}

func getEndpoint(tx store.Tx, id string) (webhook.Endpoint, error) {
	ep, err := tx.Endpoint(id)
	if errors.Is(err, store.ErrNotFound) {
		return ep, fmt.Errorf("%w: %s", ErrEndpointNotFound, id)
	}
	return ep, err
}

func getDelivery(tx store.Tx, id string) (webhook.Delivery, error) {
	d, err := tx.Delivery(id)
	if errors.Is(err, store.ErrNotFound) {
		return d, fmt.Errorf("%w: %s", ErrDeliveryNotFound, id)
	}
	return d, err
}

// checkEndpointURL accepts absolute http and https URLs with a host and
// without credentials. Plain http is allowed for development and private
// networks; the choice is the application's. Whether the host may be
// connected to is decided when connecting (see
// WebhookOptions.AllowPrivateNetworks), on the resolved address: a check of
// the text here could not see what a name resolves to. Errors never echo
// the URL, which may carry a token in its query.
func checkEndpointURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", fmt.Errorf("%w: url is required", ErrInvalidEndpoint)
	}
	if err := text.CheckKey(raw, maxEndpointURL); err != nil {
		return "", fmt.Errorf("%w: url %v", ErrInvalidEndpoint, err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		// A *url.Error quotes the whole URL; keep only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", fmt.Errorf("%w: url is not valid: %v", ErrInvalidEndpoint, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("%w: url must be absolute http or https, got scheme %q", ErrInvalidEndpoint, u.Scheme)
	}
	if u.User != nil {
		// Credentials in the URL would be sent with every delivery, stored
		// in plain text and shown by every endpoint read; receivers
		// authenticate deliveries by their signature.
		return "", fmt.Errorf("%w: url must not contain credentials (user:password@)", ErrInvalidEndpoint)
	}
	if u.Hostname() == "" {
		return "", fmt.Errorf("%w: url has no host", ErrInvalidEndpoint)
	}
	if u.Fragment != "" {
		return "", fmt.Errorf("%w: url has a #fragment, which HTTP never sends", ErrInvalidEndpoint)
	}
	return raw, nil
}

func checkEndpointDescription(s string) error {
	return checkText(ErrInvalidEndpoint, "description", s, maxEndpointDescription)
}

// checkEndpointEventTypes validates a filter and drops duplicates; an empty
// filter is stored as nil (every event).
func checkEndpointEventTypes(types []string) ([]string, error) {
	if len(types) > maxEndpointEventTypes {
		return nil, fmt.Errorf("%w: more than %d event types", ErrInvalidEndpoint, maxEndpointEventTypes)
	}
	if err := webhook.ValidateEventTypes(types); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidEndpoint, err)
	}
	// A filter entry naming no event coffer writes (a typo such as
	// "payments.succeded") would be accepted and never match: refuse it.
	known := EventTypes()
	for _, t := range types {
		ok := t == "*"
		for _, k := range known {
			if ok = ok || k == t || (strings.HasSuffix(t, ".*") && strings.HasPrefix(k, strings.TrimSuffix(t, "*"))); ok {
				break
			}
		}
		if !ok {
			return nil, fmt.Errorf("%w: %w: %s names no event type (see coffer.EventTypes)", ErrInvalidEndpoint,
				webhook.ErrInvalidEventType, text.Quote(t))
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, t := range types {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out, nil
}
