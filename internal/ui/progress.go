package ui

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Progress is a one-line progress bar on a terminal (stderr): a label, a bar when the total is
// known, the count and the rate. Disabled, it prints nothing: piped output never carries it.
type Progress struct {
	mu      sync.Mutex
	w       io.Writer
	enabled bool
	label   string
	unit    string
	total   int64
	current int64
	extra   string
	start   time.Time
	last    time.Time
	now     func() time.Time
}

// NewProgress starts a progress line; total <= 0 means unknown (no bar, just count and rate).
// unit names what is counted ("files", "rows").
func NewProgress(w io.Writer, enabled bool, label, unit string, total int64) *Progress {
	p := &Progress{w: w, enabled: enabled, label: label, unit: unit, total: total, now: time.Now}
	p.start = p.now()
	return p
}

// Add advances the count by n and redraws at most ten times a second.
func (p *Progress) Add(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.current += n
	p.maybeDraw(false)
}

// SetExtra sets a short text shown after the rate (the current file, bytes done).
func (p *Progress) SetExtra(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.extra = s
	p.maybeDraw(false)
}

// Done draws the final state and ends the line.
func (p *Progress) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.enabled {
		return
	}
	p.maybeDraw(true)
	fmt.Fprint(p.w, "\n")
	p.enabled = false
}

func (p *Progress) maybeDraw(force bool) {
	if !p.enabled {
		return
	}
	now := p.now()
	if !force && now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	var b strings.Builder
	b.WriteString("\r\x1b[2K")
	b.WriteString(p.label)
	if p.total > 0 {
		const width = 24
		filled := int(float64(width) * float64(p.current) / float64(p.total))
		filled = min(max(filled, 0), width)
		fmt.Fprintf(&b, " [%s%s] %d/%d %s", strings.Repeat("█", filled), strings.Repeat("░", width-filled), p.current, p.total, p.unit)
	} else {
		fmt.Fprintf(&b, " %s %s", HumanCount(float64(p.current)), p.unit)
	}
	if secs := now.Sub(p.start).Seconds(); secs > 0 {
		fmt.Fprintf(&b, "  %s %s/s", HumanCount(float64(p.current)/secs), p.unit)
	}
	if p.extra != "" {
		b.WriteString("  ")
		b.WriteString(p.extra)
	}
	io.WriteString(p.w, b.String())
}
