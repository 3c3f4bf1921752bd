package ui

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/x/ansi"
)

var spinnerFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// LiveLines is a block of lines redrawn in place on a terminal: each line can change while work
// goes on (a check running, then its result). When disabled (not a terminal) it draws nothing, so
// the caller prints its stable output afterwards.
type LiveLines struct {
	mu        sync.Mutex
	w         io.Writer
	enabled   bool
	animating bool
	width     int
	screen    *screen // set by IOStreams.NewLiveLines
	lines     []liveLine
	drawn     int
	frame     int
	stop      chan struct{}
	done      chan struct{}
}

type liveLine struct {
	text    string
	running bool
}

// NewLiveLines returns a live block on w; enabled should be true only when w is a terminal.
// width bounds each line so wrapping never breaks the redraw.
func NewLiveLines(w io.Writer, enabled bool, width int) *LiveLines {
	l := &LiveLines{w: w, enabled: enabled, width: width}
	if enabled {
		l.animating = true
		l.stop, l.done = make(chan struct{}), make(chan struct{})
		go l.animate()
	}
	return l
}

// Set replaces line i (growing the block as needed). A running line shows a spinner.
func (l *LiveLines) Set(i int, text string, running bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.enabled {
		return
	}
	for len(l.lines) <= i {
		l.lines = append(l.lines, liveLine{})
	}
	l.lines[i] = liveLine{text: text, running: running}
	l.redraw()
}

// Println prints a permanent line above the block (a log of what happened while the block shows
// the current state). Disabled, it writes the line as is: the log is the whole output then.
func (l *LiveLines) Println(text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.enabled {
		fmt.Fprintln(l.w, text)
		return
	}
	var b strings.Builder
	if l.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", l.drawn)
	}
	b.WriteString("\r\x1b[2K")
	b.WriteString(text)
	b.WriteString("\n")
	io.WriteString(l.w, b.String())
	l.drawn = 0
	l.redraw()
}

// Clear stops the animation and erases the block, leaving the cursor where the block began.
func (l *LiveLines) Clear() {
	if l.screen != nil {
		l.screen.remove(l)
	}
	l.mu.Lock()
	animating := l.animating
	l.animating = false
	l.mu.Unlock()
	if animating {
		close(l.stop)
		<-l.done
	}
	l.suspend()
}

// suspend erases the block and stops drawing it (transient); Println still prints.
func (l *LiveLines) suspend() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.enabled {
		return
	}
	if l.drawn > 0 {
		fmt.Fprintf(l.w, "\x1b[%dA", l.drawn)
		for i := 0; i < l.drawn; i++ {
			fmt.Fprint(l.w, "\r\x1b[2K\n")
		}
		fmt.Fprintf(l.w, "\x1b[%dA", l.drawn)
	}
	l.drawn = 0
	l.enabled = false
}

func (l *LiveLines) animate() {
	defer close(l.done)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.mu.Lock()
			l.frame++
			if l.enabled {
				l.redraw()
			}
			l.mu.Unlock()
		}
	}
}

// redraw repaints every line; the caller holds l.mu.
func (l *LiveLines) redraw() {
	var b strings.Builder
	if l.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", l.drawn)
	}
	for _, line := range l.lines {
		text := line.text
		if line.running {
			text = spinnerFrames[l.frame%len(spinnerFrames)] + " " + text
		}
		// Measured as it will be shown: ASCII fallbacks can be wider than their glyphs.
		text = renderGlyphs(l.w, text)
		if l.width > 1 {
			text = ansi.Truncate(text, l.width-1, renderGlyphs(l.w, "…"))
		}
		b.WriteString("\r\x1b[2K")
		b.WriteString(text)
		b.WriteString("\n")
	}
	l.drawn = len(l.lines)
	io.WriteString(l.w, b.String())
}
