// Package clock is the source of time for coffer. Engines take a Clock so
// retry schedules and leases are tested by moving a Test clock, never by
// sleeping.
//
// Test (NewTest) stays beside System rather than in a clocktest package on
// purpose: the interface has two implementations and both are used outside
// tests — the crash-test command drives engines on a Test clock, and the
// planned `coffer serve` test mode (with the test processor) lets a client
// move time to walk the dunning schedule. A separate package for one small
// type would cost every caller an import and buy nothing.
package clock

import (
	"sync"
	"time"
)

// Clock tells the time.
type Clock interface {
	Now() time.Time
}

// System is the real clock, in UTC.
type System struct{}

// Now returns the current UTC time.
func (System) Now() time.Time { return time.Now().UTC() }

// Test is a clock that moves only when told to. It is safe for concurrent use.
type Test struct {
	mu  sync.Mutex
	now time.Time
}

// NewTest returns a Test clock set to t.
func NewTest(t time.Time) *Test { return &Test{now: t.UTC()} }

// Now returns the clock's time.
func (c *Test) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d and returns the new time.
func (c *Test) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// Set moves the clock to t.
func (c *Test) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t.UTC()
}
