package httpapi

import (
	"encoding/json"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/webhook"
)

// Event is one event of coffer's outbox (an extension): the webhook
// envelope {business_id, type, timestamp, data} every endpoint receives,
// with the event's id (the deliveries' webhook-id) and customer.
type Event struct {
	ID         string    `json:"id"`
	BusinessID string    `json:"business_id"`
	Type       string    `json:"type"`
	Timestamp  time.Time `json:"timestamp"`
	CustomerID *string   `json:"customer_id"`
	// Data is the event's object, a JSON object whose shape depends on type.
	Data json.RawMessage `json:"data"`
}

func (h *Handler) eventOut(ev webhook.Event) Event {
	data := ev.Data
	if len(data) == 0 {
		data = json.RawMessage("{}")
	}
	return Event{ID: ev.ID, BusinessID: h.businessID, Type: ev.Type, Timestamp: ev.CreatedAt,
		CustomerID: optString(ev.CustomerID), Data: data}
}

func (h *Handler) eventRoutes() {
	h.handle("GET /events", h.listEvents, doc{Tag: "events", Extension: true, Summary: "List events",
		Description: "The outbox, newest first: every state change coffer committed. Operator-only.",
		Result:      Page[Event]{}, Query: withPage(append([]queryParam{
			{Name: "type", Type: "string", Enum: coffer.EventTypes(), Description: "Only events of this type."},
		}, createdQuery...)...)})
	h.handle("GET /events/{event_id}", h.getEvent, doc{Tag: "events", Extension: true, Summary: "Retrieve an event",
		Description: "Operator-only.", Result: Event{}})
}

func (h *Handler) listEvents(c *call) (any, error) {
	if err := c.operatorOnly(); err != nil {
		return nil, err
	}
	q, pr, err := c.listQuery()
	if err != nil {
		return nil, err
	}
	p := coffer.EventListParams{Type: q.str("type")}
	if p.Created, err = createdRange(q); err != nil {
		return nil, err
	}
	return listPage(c, pr, func(lp coffer.ListParams) (coffer.List[webhook.Event], error) {
		p.ListParams = lp
		return h.eng.ListEvents(c.ctx(), p)
	}, func(ev webhook.Event) string { return ev.ID }, func(ev webhook.Event) (Event, error) { return h.eventOut(ev), nil })
}

// createdRange reads created_at_gte and created_at_lte (both inclusive).
func createdRange(q query) (coffer.TimeRange, error) {
	return timeRange(q, "created_at_gte", "created_at_lte")
}

// timeRange reads an inclusive [gte, lte] pair of query parameters as the
// Engine's half-open TimeRange.
func timeRange(q query, gteName, lteName string) (coffer.TimeRange, error) {
	var r coffer.TimeRange
	gte, err := q.time(gteName)
	if err != nil {
		return r, err
	}
	lte, err := q.time(lteName)
	if err != nil {
		return r, err
	}
	if !gte.IsZero() && !lte.IsZero() && lte.Before(gte) {
		return r, invalidParam(lteName, lteName+" must not be before "+gteName)
	}
	r.From = gte
	if !lte.IsZero() {
		r.To = lte.Add(time.Nanosecond) // lte is inclusive, To is not
	}
	return r, nil
}

func (h *Handler) getEvent(c *call) (any, error) {
	id, err := c.operatorPathID("event_id")
	if err != nil {
		return nil, err
	}
	ev, err := h.eng.Event(c.ctx(), id)
	if err != nil {
		return nil, err
	}
	return h.eventOut(ev), nil
}
