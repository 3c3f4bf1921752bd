package postgres

import (
	"context"
	"sync"
	"time"
)

// epochReader shares reads of the revocation epoch between concurrent callers without ever
// answering a caller with a value read before it arrived: a caller that finds a read in flight
// cannot use it (the read may predate a revocation committed just before the caller came), so
// it joins the next read, which starts as soon as the one in flight ends. At most one read is
// in flight, every caller waits for at most two, and a burst of N requests costs about two
// round trips instead of N.
type epochReader struct {
	query func(context.Context) (int64, error)

	mu      sync.Mutex
	running bool
	next    *epochRead // the read that starts when the running one ends
}

// epochRead is one read of the epoch and the callers waiting for it.
type epochRead struct {
	done chan struct{}
	val  int64
	err  error
}

// epochReadTimeout bounds one shared read, which no single caller's context may cancel.
const epochReadTimeout = 10 * time.Second

func (e *epochReader) get(ctx context.Context) (int64, error) {
	e.mu.Lock()
	if !e.running {
		// Nothing in flight: read now, on this goroutine.
		e.running = true
		e.mu.Unlock()
		r := &epochRead{done: make(chan struct{})}
		e.run(r)
		return r.val, r.err
	}
	r := e.next
	if r == nil {
		r = &epochRead{done: make(chan struct{})}
		e.next = r
	}
	e.mu.Unlock()
	select {
	case <-r.done:
		return r.val, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// run performs r, then hands over to the read callers queued meanwhile, if any.
func (e *epochReader) run(r *epochRead) {
	ctx, cancel := context.WithTimeout(context.Background(), epochReadTimeout)
	r.val, r.err = e.query(ctx)
	cancel()
	close(r.done)
	e.mu.Lock()
	next := e.next
	e.next = nil
	e.running = next != nil
	e.mu.Unlock()
	if next != nil {
		go e.run(next)
	}
}
