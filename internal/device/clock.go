package device

import "time"

// Clock is the simulator's source of real time: the simulated clock runs Speed times faster
// than it, and backoff, drain and request waits are measured on it. Tests inject a clock that
// runs faster than the wall clock.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now implements Clock.
func (SystemClock) Now() time.Time { return time.Now() }

// After implements Clock.
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
