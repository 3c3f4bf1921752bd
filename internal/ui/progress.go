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
// Done erases the line: what the command prints next starts on a clean line.
type Progress struct {
	mu      sync.Mutex
	w       io.Writer
	enabled bool
	drawn   bool
	label   string
	noun    string
	total   int64
	current int64
	extra   string
	start   time.Time
	last    time.Time
	now     func() time.Time
	screen  *screen // set by IOStreams.NewProgress: Out erases the line before it prints
}

// NewProgress starts a progress line; total <= 0 means unknown (no bar, just count and rate).
// noun names what is counted, singular ("file", "row"): it is pluralised with the count.
// Commands use IOStreams.NewProgress, which also erases the line before stdout prints.
func NewProgress(w io.Writer, enabled bool, label, noun string, total int64) *Progress {
	p := &Progress{w: w, enabled: enabled, label: label, noun: noun, total: total, now: time.Now}
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

// Done erases the line and stops drawing.
func (p *Progress) Done() {
	p.suspend()
	if p.screen != nil {
		p.screen.remove(p)
	}
}

// suspend erases the line and stops drawing (transient).
func (p *Progress) suspend() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		io.WriteString(p.w, "\r\x1b[2K")
		p.drawn = false
	}
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
		fmt.Fprintf(&b, " [%s%s] %d/%d %s", strings.Repeat("█", filled), strings.Repeat("░", width-filled), p.current, p.total, PluralNoun(p.total, p.noun))
	} else {
		fmt.Fprintf(&b, " %s %s", HumanCount(float64(p.current)), PluralNoun(p.current, p.noun))
	}
	if secs := now.Sub(p.start).Seconds(); secs > 0 {
		fmt.Fprintf(&b, "  %s %s/s", HumanCount(float64(p.current)/secs), PluralNoun(2, p.noun))
	}
	if p.extra != "" {
		b.WriteString("  ")
		b.WriteString(p.extra)
	}
	io.WriteString(p.w, b.String())
	p.drawn = true
}
