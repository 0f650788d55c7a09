package webhook

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidEventType means an endpoint's event-type filter has an entry
// that is neither an event type nor a "prefix.*" / "*" wildcard.
var ErrInvalidEventType = errors.New("webhook: invalid event type filter")

// Matches reports whether ep's event-type filter selects eventType. An empty
// filter selects everything; an entry is an exact type ("payment.failed"),
// a prefix wildcard ("payment.*": every type under payment., at any depth,
// but not "payment" itself) or "*". ep.Disabled is not considered: the
// dispatcher checks it separately, so a disabled endpoint's filter still
// answers for previews and redelivery decisions.
func Matches(ep Endpoint, eventType string) bool {
	if len(ep.EventTypes) == 0 {
		return true
	}
	for _, pat := range ep.EventTypes {
		switch {
		case pat == "*":
			return true
		case strings.HasSuffix(pat, ".*"):
			if strings.HasPrefix(eventType, pat[:len(pat)-1]) && len(eventType) > len(pat)-1 {
				return true
			}
		case pat == eventType:
			return true
		}
	}
	return false
}

// ValidateEventTypes checks an endpoint's event-type filter before it is
// stored, so a typo such as "payment*" or "payment. failed" is refused at
// registration rather than silently matching nothing. Types are dot-separated
// segments of [A-Za-z0-9_-]; a filter entry may end in ".*" or be "*".
func ValidateEventTypes(types []string) error {
	for _, t := range types {
		if t == "*" {
			continue
		}
		name := strings.TrimSuffix(t, ".*")
		if name == "" {
			return fmt.Errorf("%w: %q", ErrInvalidEventType, t)
		}
		for _, seg := range strings.Split(name, ".") {
			if seg == "" {
				return fmt.Errorf("%w: %q has an empty segment", ErrInvalidEventType, t)
			}
			for _, r := range seg {
				if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
					return fmt.Errorf("%w: %q has character %q", ErrInvalidEventType, t, r)
				}
			}
		}
	}
	return nil
}
