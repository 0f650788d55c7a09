package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/webhook"
)

// Webhook endpoint management: Dodo's /webhooks routes (cursor
// pagination, §2b of the contract) over the Engine's endpoints, plus
// coffer's secret rotation, delivery log and redelivery. Every route is
// operator-only: endpoints and their secrets belong to the account, not to
// a customer.

// WebhookDetails is Dodo's WebhookDetails, with coffer's extensions after
// Dodo's fields. Dodo's rate_limit is never set (coffer does not rate-limit
// deliveries) and is left out.
type WebhookDetails struct {
	ID          string    `json:"id"`
	CreatedAt   time.Time `json:"created_at"`
	Description string    `json:"description"`
	// Metadata is always {}: coffer keeps no endpoint metadata (a create or
	// update giving some is refused).
	Metadata  map[string]string `json:"metadata"`
	UpdatedAt time.Time         `json:"updated_at"`
	URL       string            `json:"url"`
	Disabled  bool              `json:"disabled"`
	// FilterTypes is null when the endpoint receives every event.
	FilterTypes []string `json:"filter_types" null:"true"`
	// Extensions.
	// SecretHint tells secrets apart without revealing them ("whsec_****Ab9=").
	SecretHint string `json:"secret_hint,omitempty"`
	// PreviousSecretExpiresAt is set while a rotated-out secret still signs.
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty"`
	IdempotencyKey          string     `json:"idempotency_key,omitempty"`
}

func webhookOut(ep webhook.Endpoint) WebhookDetails {
	out := WebhookDetails{ID: ep.ID, CreatedAt: ep.CreatedAt, Description: ep.Description, Metadata: map[string]string{},
		UpdatedAt: ep.UpdatedAt, URL: ep.URL, Disabled: ep.Disabled, SecretHint: ep.SecretHint,
		IdempotencyKey: ep.IdempotencyKey}
	if len(ep.EventTypes) > 0 {
		out.FilterTypes = append([]string(nil), ep.EventTypes...)
	}
	if !ep.PreviousExpiresAt.IsZero() {
		t := ep.PreviousExpiresAt
		out.PreviousSecretExpiresAt = &t
	}
	return out
}

// WebhookPage is Dodo's CursorPagePagination page: the SDK asks for the
// next page with iterator while iterator is not empty, and stops on an
// empty data or an empty iterator. done is true on the last page.
type WebhookPage struct {
	Data     []WebhookDetails `json:"data"`
	Iterator string           `json:"iterator"`
	Done     bool             `json:"done"`
}

// webhookCreate is Dodo's WebhookCreateParams plus coffer's secret.
type webhookCreate struct {
	URL            *string           `json:"url"`
	Description    *string           `json:"description"`
	Disabled       *bool             `json:"disabled"`
	FilterTypes    []string          `json:"filter_types"`
	Headers        map[string]string `json:"headers"`
	IdempotencyKey *string           `json:"idempotency_key"`
	Metadata       Metadata          `json:"metadata"`
	RateLimit      Int64             `json:"rate_limit"`
	// Extension: keep a signing secret the receiver already has
	// ("whsec_" + base64 of 24..64 bytes); absent generates one.
	Secret *string `json:"secret"`
}

// webhookUpdate is Dodo's WebhookUpdateParams (absent or null: unchanged).
type webhookUpdate struct {
	URL         *string `json:"url"`
	Description *string `json:"description"`
	Disabled    *bool   `json:"disabled"`
	// FilterTypes [] means every event; null keeps the filter.
	FilterTypes *[]string `json:"filter_types"`
	Metadata    Metadata  `json:"metadata"`
	RateLimit   Int64     `json:"rate_limit"`
}

// WebhookSecret is the answer of GET /webhooks/{webhook_id}/secret.
type WebhookSecret struct {
	Secret string `json:"secret"`
}

// WebhookHeaders is Dodo's HeaderRetrieveResponse. coffer sends no custom
// headers with deliveries, so both are always empty.
type WebhookHeaders struct {
	Headers   map[string]string `json:"headers"`
	Sensitive []string          `json:"sensitive"`
}

// webhookHeadersUpdate is Dodo's HeaderUpdateParams.
type webhookHeadersUpdate struct {
	Headers map[string]string `json:"headers"`
}

// webhookRotate is the body of POST /webhooks/{webhook_id}/rotate-secret.
type webhookRotate struct {
	// GraceSeconds is how long the old secret keeps signing beside the new
	// one (0, the default: it stops at once). At most 30 days.
	GraceSeconds Int64 `json:"grace_seconds"`
}

// maxGraceSeconds bounds a rotation's grace period (30 days).
const maxGraceSeconds = 30 * 24 * 3600

// RotatedSecret is the answer of a secret rotation: the new secret and
// the endpoint.
type RotatedSecret struct {
	Secret  string         `json:"secret"`
	Webhook WebhookDetails `json:"webhook"`
}

// WebhookDelivery is one event's delivery to one endpoint (an extension).
type WebhookDelivery struct {
	ID        string `json:"id"`
	EventID   string `json:"event_id"`
	WebhookID string `json:"webhook_id"`
	// Status is pending, claimed (being attempted), succeeded or failed
	// (retries exhausted, or the endpoint was disabled or deleted).
	Status   string `json:"status"`
	Attempts int    `json:"attempts"`
	// NextAttemptAt is when an active delivery is next attempted; null once
	// it is finished.
	NextAttemptAt *time.Time `json:"next_attempt_at"`
	// LastStatus is the HTTP status of the last attempt (0: none answered).
	LastStatus  int        `json:"last_status"`
	LastError   string     `json:"last_error,omitempty"`
	DeliveredAt *time.Time `json:"delivered_at"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

func deliveryOut(d webhook.Delivery) WebhookDelivery {
	out := WebhookDelivery{ID: d.ID, EventID: d.EventID, WebhookID: d.EndpointID, Status: string(d.Status),
		Attempts: d.Attempts, LastStatus: d.LastStatus, LastError: d.LastError, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
	if d.Status.Active() && !d.RunAt.IsZero() {
		t := d.RunAt
		out.NextAttemptAt = &t
	}
	if !d.DeliveredAt.IsZero() {
		t := d.DeliveredAt
		out.DeliveredAt = &t
	}
	return out
}

// unsupportedParam is a 422 for a Dodo field coffer cannot honour: refused
// rather than silently dropped, so the caller never believes it was kept.
func unsupportedParam(param, msg string) error {
	return &apiError{status: http.StatusUnprocessableEntity, code: "UNSUPPORTED_PARAMETER", param: param, message: msg}
}

const (
	msgNoMetadata  = "coffer keeps no webhook endpoint metadata; omit metadata or send {}"
	msgNoRateLimit = "coffer does not rate-limit webhook deliveries; omit rate_limit or send null"
	msgNoHeaders   = "coffer sends no custom headers with webhook deliveries; omit headers or send {}"
)

func (h *Handler) webhookRoutes() {
	const tag = "webhooks"
	h.handle("GET /webhooks", h.listWebhooks, doc{Tag: tag, Summary: "List webhook endpoints",
		Description: "Dodo's cursor pagination: pass the answer's iterator back as iterator until it is empty. " +
			"Newest first. Operator-only.",
		Result: WebhookPage{}, Query: []queryParam{
			{Name: "iterator", Type: "string", Description: "The iterator of the previous page (absent: the first page)."},
			{Name: "limit", Type: "integer", Description: "Endpoints per page, 1..100 (default 10)."},
		}})
	h.handle("POST /webhooks", h.createWebhook, doc{Tag: tag, Summary: "Create a webhook endpoint",
		Description: "filter_types may name only event types coffer emits (or, an extension, \"prefix.*\" and \"*\"); " +
			"others are a 422 INVALID_EVENT_TYPE. A repeated idempotency_key with the same url, description and " +
			"filter_types returns the first endpoint; with other values it is a 409. Non-empty metadata or headers " +
			"and a non-null rate_limit are a 422 UNSUPPORTED_PARAMETER (coffer cannot keep them). Operator-only.",
		Body: webhookCreate{}, Result: WebhookDetails{}})
	h.handle("GET /webhooks/{webhook_id}", h.getWebhook, doc{Tag: tag, Summary: "Retrieve a webhook endpoint",
		Result: WebhookDetails{}})
	h.handle("PATCH /webhooks/{webhook_id}", h.updateWebhook, doc{Tag: tag, Summary: "Update a webhook endpoint",
		Description: "Absent and null fields keep their value; filter_types [] selects every event. Disabling " +
			"dead-letters the endpoint's pending deliveries; events committed while disabled are not queued for it " +
			"(redeliver them once enabled). Operator-only.",
		Body: webhookUpdate{}, Result: WebhookDetails{}})
	h.handle("DELETE /webhooks/{webhook_id}", h.deleteWebhook, doc{Tag: tag, Summary: "Delete a webhook endpoint",
		Description: "Its pending deliveries are dead-lettered and stay listable. Answers 200 with no body."})
	h.handle("GET /webhooks/{webhook_id}/secret", h.webhookSecret, doc{Tag: tag, Summary: "Reveal a webhook endpoint's signing secret",
		Result: WebhookSecret{}})
	h.handle("GET /webhooks/{webhook_id}/headers", h.webhookHeaders, doc{Tag: tag, Summary: "Get a webhook endpoint's custom headers",
		Description: "coffer sends no custom headers, so headers is {} and sensitive [].", Result: WebhookHeaders{}})
	h.handle("PATCH /webhooks/{webhook_id}/headers", h.updateWebhookHeaders, doc{Tag: tag, Summary: "Set a webhook endpoint's custom headers",
		Description: "Only {} is accepted (coffer sends no custom headers); any header is a 422 UNSUPPORTED_PARAMETER. " +
			"Answers 200 with no body.", Body: webhookHeadersUpdate{}})
	h.handle("POST /webhooks/{webhook_id}/rotate-secret", h.rotateWebhookSecret, doc{Tag: tag, Extension: true,
		Summary: "Rotate a webhook endpoint's signing secret",
		Description: "Returns the new secret. During grace_seconds every delivery carries two signatures (old and " +
			"new secret), so the receiver can switch at any moment.",
		Body: webhookRotate{}, Result: RotatedSecret{}})
	h.handle("GET /webhooks/{webhook_id}/deliveries", h.listWebhookDeliveries, doc{Tag: tag, Extension: true,
		Summary: "List a webhook endpoint's deliveries", Description: "Newest first.",
		Result: Page[WebhookDelivery]{}, Query: withPage(
			queryParam{Name: "status", Type: "string", Enum: []string{"pending", "claimed", "succeeded", "failed"},
				Description: "Only deliveries in this state (failed: the dead letters)."},
			queryParam{Name: "event_id", Type: "string", Description: "Only this event's delivery."})})
	h.handle("GET /webhook-deliveries/{delivery_id}", h.getWebhookDelivery, doc{Tag: tag, Extension: true,
		Summary: "Retrieve a webhook delivery", Result: WebhookDelivery{}})
	h.handle("POST /webhook-deliveries/{delivery_id}/redeliver", h.redeliverWebhook, doc{Tag: tag, Extension: true,
		Summary: "Redeliver a finished webhook delivery",
		Description: "Queues a succeeded or dead-lettered delivery again with a fresh retry schedule; the receiver " +
			"sees the same webhook-id. An active delivery or a disabled endpoint is a 422.",
		Result: WebhookDelivery{}})
}

func (h *Handler) listWebhooks(c *call) (any, error) {
	if err := c.operatorOnly(); err != nil {
		return nil, err
	}
	q, err := c.query()
	if err != nil {
		return nil, err
	}
	limit, err := q.int("limit", DefaultPageSize, 1, MaxPageSize)
	if err != nil {
		return nil, err
	}
	if q.has("iterator") && q.str("iterator") == "" {
		return nil, invalidParam("iterator", "iterator must not be empty; omit it for the first page")
	}
	list, err := h.eng.ListEndpoints(c.ctx(), coffer.EndpointListParams{
		ListParams: coffer.ListParams{Limit: limit, StartingAfter: q.str("iterator")}})
	if err != nil {
		return nil, err
	}
	out := WebhookPage{Data: make([]WebhookDetails, 0, len(list.Data)), Done: !list.HasMore}
	for _, ep := range list.Data {
		out.Data = append(out.Data, webhookOut(ep))
	}
	if list.HasMore && len(list.Data) > 0 {
		out.Iterator = list.Data[len(list.Data)-1].ID
	}
	return out, nil
}

func (h *Handler) createWebhook(c *call) (any, error) {
	if err := c.operatorOnly(); err != nil {
		return nil, err
	}
	var in webhookCreate
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if in.URL == nil || *in.URL == "" {
		return nil, invalidParam("url", "url is required")
	}
	if err := checkURL("url", *in.URL); err != nil {
		return nil, err
	}
	if len(in.Metadata) > 0 {
		return nil, unsupportedParam("metadata", msgNoMetadata)
	}
	if len(in.Headers) > 0 {
		return nil, unsupportedParam("headers", msgNoHeaders)
	}
	if in.RateLimit.Set {
		return nil, unsupportedParam("rate_limit", msgNoRateLimit)
	}
	p := coffer.EndpointParams{URL: *in.URL, EventTypes: in.FilterTypes}
	if in.Description != nil {
		p.Description = *in.Description
	}
	if in.IdempotencyKey != nil {
		p.IdempotencyKey = *in.IdempotencyKey
	}
	if in.Secret != nil {
		if *in.Secret == "" {
			return nil, invalidParam("secret", "secret must not be empty; omit it to generate one")
		}
		p.Secret = *in.Secret
	}
	ep, err := h.eng.CreateEndpoint(c.ctx(), p)
	if err != nil {
		return nil, err
	}
	// The Engine creates endpoints enabled: disable a new one at once. An
	// endpoint returned for a repeated idempotency key is disabled only if
	// it was never changed since its creation (the first request's disable
	// did not happen); a later enable is not undone by a replay.
	if in.Disabled != nil && *in.Disabled && !ep.Disabled && ep.UpdatedAt.Equal(ep.CreatedAt) {
		dis, err := h.eng.DisableEndpoint(c.ctx(), ep.ID)
		if err != nil {
			// Do not leave behind an enabled endpoint the caller asked to be
			// disabled, and that a retry without a key would duplicate.
			if derr := h.eng.DeleteEndpoint(c.ctx(), ep.ID); derr != nil && !errors.Is(derr, coffer.ErrEndpointNotFound) {
				h.log.Error("httpapi: could not remove a webhook endpoint after failing to disable it",
					"endpoint_id", ep.ID, "error", derr.Error())
			}
			return nil, err
		}
		ep = dis
	}
	return webhookOut(ep), nil
}

// webhookParam reads {webhook_id} (operator-only).
func (c *call) webhookParam() (string, error) {
	if err := c.operatorOnly(); err != nil {
		return "", err
	}
	return c.pathID("webhook_id")
}

func (h *Handler) getWebhook(c *call) (any, error) {
	id, err := c.webhookParam()
	if err != nil {
		return nil, err
	}
	ep, err := h.eng.Endpoint(c.ctx(), id)
	if err != nil {
		return nil, err
	}
	return webhookOut(ep), nil
}

func (h *Handler) updateWebhook(c *call) (any, error) {
	id, err := c.webhookParam()
	if err != nil {
		return nil, err
	}
	var in webhookUpdate
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if in.URL != nil {
		if err := checkURL("url", *in.URL); err != nil {
			return nil, err
		}
	}
	if len(in.Metadata) > 0 {
		return nil, unsupportedParam("metadata", msgNoMetadata)
	}
	if in.RateLimit.Set {
		return nil, unsupportedParam("rate_limit", msgNoRateLimit)
	}
	p := coffer.UpdateEndpointParams{URL: in.URL, Description: in.Description, Disabled: in.Disabled}
	if in.FilterTypes != nil {
		types := *in.FilterTypes
		if types == nil {
			types = []string{}
		}
		p.EventTypes = &types
	}
	ep, err := h.eng.UpdateEndpoint(c.ctx(), id, p)
	if err != nil {
		return nil, err
	}
	return webhookOut(ep), nil
}

func (h *Handler) deleteWebhook(c *call) (any, error) {
	id, err := c.webhookParam()
	if err != nil {
		return nil, err
	}
	if err := h.eng.DeleteEndpoint(c.ctx(), id); err != nil {
		return nil, err
	}
	return empty{}, nil
}

func (h *Handler) webhookSecret(c *call) (any, error) {
	id, err := c.webhookParam()
	if err != nil {
		return nil, err
	}
	s, err := h.eng.EndpointSecret(c.ctx(), id)
	if err != nil {
		return nil, err
	}
	return WebhookSecret{Secret: s}, nil
}

func (h *Handler) webhookHeaders(c *call) (any, error) {
	id, err := c.webhookParam()
	if err != nil {
		return nil, err
	}
	if _, err := h.eng.Endpoint(c.ctx(), id); err != nil {
		return nil, err
	}
	return WebhookHeaders{Headers: map[string]string{}, Sensitive: []string{}}, nil
}

func (h *Handler) updateWebhookHeaders(c *call) (any, error) {
	id, err := c.webhookParam()
	if err != nil {
		return nil, err
	}
	var in webhookHeadersUpdate
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if in.Headers == nil {
		return nil, invalidParam("headers", "headers is required")
	}
	if len(in.Headers) > 0 {
		return nil, unsupportedParam("headers", msgNoHeaders)
	}
	if _, err := h.eng.Endpoint(c.ctx(), id); err != nil {
		return nil, err
	}
	return empty{}, nil
}

func (h *Handler) rotateWebhookSecret(c *call) (any, error) {
	id, err := c.webhookParam()
	if err != nil {
		return nil, err
	}
	var in webhookRotate
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if in.GraceSeconds.V < 0 || in.GraceSeconds.V > maxGraceSeconds {
		return nil, invalidParam("grace_seconds", "grace_seconds must be from 0 to 2592000 (30 days)")
	}
	ep, err := h.eng.RotateEndpointSecret(c.ctx(), id, coffer.RotateSecretParams{Grace: time.Duration(in.GraceSeconds.V) * time.Second})
	if err != nil {
		return nil, err
	}
	s, err := h.eng.EndpointSecret(c.ctx(), id)
	if err != nil {
		return nil, err
	}
	return RotatedSecret{Secret: s, Webhook: webhookOut(ep)}, nil
}

func (h *Handler) listWebhookDeliveries(c *call) (any, error) {
	id, err := c.webhookParam()
	if err != nil {
		return nil, err
	}
	q, pr, err := c.listQuery()
	if err != nil {
		return nil, err
	}
	status, err := q.enum("status", "pending", "claimed", "succeeded", "failed")
	if err != nil {
		return nil, err
	}
	// An unknown endpoint is a 404, not an empty list.
	if _, err := h.eng.Endpoint(c.ctx(), id); err != nil {
		return nil, err
	}
	p := coffer.DeliveryListParams{EndpointID: id, EventID: q.str("event_id"), Status: webhook.DeliveryStatus(status)}
	return listPage(c, pr, func(lp coffer.ListParams) (coffer.List[webhook.Delivery], error) {
		p.ListParams = lp
		return h.eng.ListDeliveries(c.ctx(), p)
	}, func(d webhook.Delivery) string { return d.ID }, func(d webhook.Delivery) (WebhookDelivery, error) { return deliveryOut(d), nil })
}

func (h *Handler) getWebhookDelivery(c *call) (any, error) {
	id, err := c.operatorPathID("delivery_id")
	if err != nil {
		return nil, err
	}
	d, err := h.eng.Delivery(c.ctx(), id)
	if err != nil {
		return nil, err
	}
	return deliveryOut(d), nil
}

func (h *Handler) redeliverWebhook(c *call) (any, error) {
	id, err := c.operatorPathID("delivery_id")
	if err != nil {
		return nil, err
	}
	d, err := h.eng.Redeliver(c.ctx(), id)
	if err != nil {
		return nil, err
	}
	return deliveryOut(d), nil
}
