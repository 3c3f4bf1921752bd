package ui

import (
	"io"
	"slices"
	"sync"
)

// transient is something drawn on stderr that a later write to stdout would leave behind as
// a stale line: a progress bar, a block of live lines.
type transient interface {
	// suspend erases what is drawn and stops drawing for good: once the command's data is on
	// the screen, the data itself shows the progress.
	suspend()
}

// screen keeps the transient elements drawn on stderr while stdout may print, so that a
// table or a result never lands after (or inside) a stale progress line.
type screen struct {
	mu   sync.Mutex
	live []transient
}

func (s *screen) add(t transient) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live = append(s.live, t)
}

func (s *screen) remove(t transient) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live = slices.DeleteFunc(s.live, func(x transient) bool { return x == t })
}

// outWriter is stdout: before anything is written, every transient element on the same
// terminal is erased and suspended.
type outWriter struct {
	w      io.Writer
	s      *IOStreams
	screen *screen
}

func (o *outWriter) Write(p []byte) (int, error) {
	if o.s.outTTY && o.s.CanRedrawErr() {
		o.screen.mu.Lock()
		live := o.screen.live
		o.screen.live = nil
		o.screen.mu.Unlock()
		for _, t := range live {
			t.suspend()
		}
	}
	return o.w.Write(p)
}
