package ui

import (
	"io"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// Styles renders text for one stream: coloured on a terminal, plain text everywhere else.
type Styles struct {
	enabled bool
	ok      lipgloss.Style
	warn    lipgloss.Style
	fail    lipgloss.Style
	muted   lipgloss.Style
	bold    lipgloss.Style
	accent  lipgloss.Style
}

// NewStyles returns styles writing to w; with color false every method returns its input unchanged.
func NewStyles(w io.Writer, color bool) *Styles {
	r := lipgloss.NewRenderer(w)
	if color {
		// The stream is a terminal, but lipgloss may not detect it through a wrapped writer.
		r.SetColorProfile(termenv.ANSI256)
	} else {
		r.SetColorProfile(termenv.Ascii)
	}
	return &Styles{
		enabled: color,
		ok:      r.NewStyle().Foreground(lipgloss.Color("2")),
		warn:    r.NewStyle().Foreground(lipgloss.Color("3")),
		fail:    r.NewStyle().Foreground(lipgloss.Color("1")).Bold(true),
		muted:   r.NewStyle().Foreground(lipgloss.Color("8")),
		bold:    r.NewStyle().Bold(true),
		accent:  r.NewStyle().Foreground(lipgloss.Color("6")),
	}
}

// Enabled reports whether these styles emit colour.
func (st *Styles) Enabled() bool { return st.enabled }

func (st *Styles) render(s lipgloss.Style, text string) string {
	if !st.enabled || text == "" {
		return text
	}
	return s.Render(text)
}

// OK renders success text (green).
func (st *Styles) OK(text string) string { return st.render(st.ok, text) }

// Warn renders warning text (yellow).
func (st *Styles) Warn(text string) string { return st.render(st.warn, text) }

// Fail renders failure text (bold red).
func (st *Styles) Fail(text string) string { return st.render(st.fail, text) }

// Muted renders secondary text (grey).
func (st *Styles) Muted(text string) string { return st.render(st.muted, text) }

// Bold renders emphasised text.
func (st *Styles) Bold(text string) string { return st.render(st.bold, text) }

// Accent renders names and values the eye should find (cyan).
func (st *Styles) Accent(text string) string { return st.render(st.accent, text) }

// Status renders a check or operation status with its symbol: "✓ ok", "! warn", "✗ fail",
// "- skip", "? error". Unknown statuses are returned as they are.
func (st *Styles) Status(status string) string {
	switch status {
	case "ok":
		return st.OK("✓ ok")
	case "warn":
		return st.Warn("! warn")
	case "fail":
		return st.Fail("✗ fail")
	case "skip":
		return st.Muted("- skip")
	case "error":
		return st.Fail("? error")
	case "running":
		return st.Muted("… running")
	}
	return status
}
