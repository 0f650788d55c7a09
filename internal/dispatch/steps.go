package dispatch

import "context"

// The steps of a pass, one at a time, for the root package's white-box
// tests (a dispatcher that claims and then crashes, a lease lost while
// sending). Run and DispatchDue are what the engine uses.

// Job is one claimed delivery with what sending it needs.
type Job = job

// Config returns the Service's configuration, defaults applied.
func (s *Service) Config() Config { return s.c }

// FanOut turns every undispatched event into deliveries.
func (s *Service) FanOut(ctx context.Context, rep *Report) error { return s.fanOut(ctx, rep) }

// Claim leases due deliveries for the free slots (see Run).
func (s *Service) Claim(ctx context.Context, rep *Report) ([]Job, bool, error) {
	return s.claim(ctx, rep)
}

// Deliver makes one attempt of a claimed delivery and records it.
func (s *Service) Deliver(ctx context.Context, j Job, rep *Report) error {
	return s.deliver(ctx, j, rep)
}

// InFlight returns the number of attempts in flight.
func (s *Service) InFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}
