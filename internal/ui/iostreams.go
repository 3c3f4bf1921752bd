// Package ui owns everything smartx prints: the streams and whether they are terminals, colour
// styles that degrade to plain text, tables, JSON/NDJSON/CSV writers, live lines and progress bars.
//
// Data goes to Out; everything meant for a person (progress, warnings, prompts) goes to ErrOut.
// Colour and live updates are used only when the stream is a terminal that interprets escape
// sequences (on Windows, once virtual-terminal processing is on) and neither NO_COLOR nor
// --no-color asked otherwise, so piped output stays plain and stable. On a Windows console
// whose code page is not UTF-8, glyphs are replaced by ASCII (see Glyphs).
package ui

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"runtime"

	"golang.org/x/term"
)

// IOStreams carries the three standard streams and what is known about them.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	inTTY, outTTY, errTTY bool
	// outNoANSI and errNoANSI mark a terminal that prints escape sequences as text (a Windows
	// console where virtual-terminal processing could not be turned on).
	outNoANSI, errNoANSI bool
	colorDisabled        bool
	width                int
	outFile              *os.File      // the file behind Out, to ask the terminal's width
	screen               screen        // progress and live lines on stderr, erased before stdout prints
	inReader             *bufio.Reader // reads In line by line for prompts
	getenv               func(string) string
}

// System returns the process's real streams, detecting terminals and the NO_COLOR convention.
// On Windows it turns on the consoles' virtual-terminal processing and, on a console whose
// code page is not UTF-8, replaces glyphs by ASCII.
func System() *IOStreams {
	out, errOut := inspectConsole(os.Stdout), inspectConsole(os.Stderr)
	s := &IOStreams{
		In:        os.Stdin,
		Out:       withGlyphs(os.Stdout, chooseGlyphs(runtime.GOOS, out)),
		ErrOut:    withGlyphs(os.Stderr, chooseGlyphs(runtime.GOOS, errOut)),
		inTTY:     isTerminal(os.Stdin),
		outTTY:    out.console,
		errTTY:    errOut.console,
		outNoANSI: out.console && !out.ansi,
		errNoANSI: errOut.console && !errOut.ansi,
		outFile:   os.Stdout,
		getenv:    os.Getenv,
	}
	s.Out = &outWriter{w: s.Out, s: s, screen: &s.screen}
	// https://no-color.org: any non-empty value disables colour; a dumb terminal cannot show it.
	if os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		s.colorDisabled = true
	}
	return s
}

// Test returns streams backed by buffers, none of them a terminal, for tests.
func Test() (s *IOStreams, in, out, errOut *bytes.Buffer) {
	in, out, errOut = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	s = &IOStreams{In: in, ErrOut: errOut, width: 100, getenv: func(string) string { return "" }}
	s.Out = &outWriter{w: out, s: s, screen: &s.screen}
	return s, in, out, errOut
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// withGlyphs returns w as it must be written to for the glyph set g.
func withGlyphs(w io.Writer, g Glyphs) io.Writer {
	if g == UnicodeGlyphs {
		return w
	}
	return &glyphWriter{w: w, glyphs: g}
}

// IsStdinTTY reports whether standard input is a terminal.
func (s *IOStreams) IsStdinTTY() bool { return s.inTTY }

// IsStdoutTTY reports whether standard output is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.outTTY }

// IsStderrTTY reports whether standard error is a terminal.
func (s *IOStreams) IsStderrTTY() bool { return s.errTTY }

// SetTTY overrides terminal detection; tests use it to exercise the interactive paths.
func (s *IOStreams) SetTTY(in, out, errOut bool) { s.inTTY, s.outTTY, s.errTTY = in, out, errOut }

// SetNoANSI marks the output terminals as printing escape sequences as text, as a Windows
// console without virtual-terminal processing does; tests use it.
func (s *IOStreams) SetNoANSI(out, errOut bool) { s.outNoANSI, s.errNoANSI = out, errOut }

// CanRedrawOut reports whether Out is a terminal that can be redrawn in place (live lines):
// a terminal that interprets cursor movements.
func (s *IOStreams) CanRedrawOut() bool { return s.outTTY && !s.outNoANSI }

// CanRedrawErr reports whether ErrOut can be redrawn in place (progress bars, live lines).
func (s *IOStreams) CanRedrawErr() bool { return s.errTTY && !s.errNoANSI }

// DisableColor turns colour off for both output streams (--no-color).
func (s *IOStreams) DisableColor() { s.colorDisabled = true }

// ColorEnabled reports whether Out may carry colour.
func (s *IOStreams) ColorEnabled() bool { return s.CanRedrawOut() && !s.colorDisabled }

// ErrColorEnabled reports whether ErrOut may carry colour.
func (s *IOStreams) ErrColorEnabled() bool { return s.CanRedrawErr() && !s.colorDisabled }

// CanPrompt reports whether the user can be asked a question interactively.
func (s *IOStreams) CanPrompt() bool { return s.inTTY && s.errTTY }

// TerminalWidth returns the width of the terminal behind Out, or 80 when it cannot be known.
func (s *IOStreams) TerminalWidth() int {
	if s.width > 0 {
		return s.width
	}
	if s.outFile != nil && s.outTTY {
		if w, _, err := term.GetSize(int(s.outFile.Fd())); err == nil && w > 0 {
			return w
		}
	}
	return 80
}

// Styles returns the styles for Out.
func (s *IOStreams) Styles() *Styles { return NewStyles(s.Out, s.ColorEnabled()) }

// ErrStyles returns the styles for ErrOut.
func (s *IOStreams) ErrStyles() *Styles { return NewStyles(s.ErrOut, s.ErrColorEnabled()) }

// SetWidth fixes the terminal width (tests; 0 asks the terminal again).
func (s *IOStreams) SetWidth(w int) { s.width = w }

// NewProgress starts a progress line on ErrOut, drawn only when ErrOut is a terminal that can
// redraw in place (CanRedrawErr). The first
// write to Out on the same terminal erases it, so no stale progress line is ever left above a
// table or a result. noun is singular ("file", "row").
func (s *IOStreams) NewProgress(label, noun string, total int64) *Progress {
	p := NewProgress(s.ErrOut, s.CanRedrawErr(), label, noun, total)
	if p.enabled {
		p.screen = &s.screen
		s.screen.add(p)
	}
	return p
}

// NewLiveLines starts a block of live lines on ErrOut (see LiveLines), erased like a progress
// line before anything is written to Out.
func (s *IOStreams) NewLiveLines() *LiveLines {
	l := NewLiveLines(s.ErrOut, s.CanRedrawErr(), s.TerminalWidth())
	if l.enabled {
		l.screen = &s.screen
		s.screen.add(l)
	}
	return l
}

// NewTable returns a table on Out that fits the terminal's width when Out is a terminal
// (cells are truncated with an ellipsis, as gh does); piped, every cell is whole.
func (s *IOStreams) NewTable(header ...string) *Table {
	t := NewTable(s.Out, s.Styles(), header...)
	if s.outTTY {
		t.SetWidth(s.TerminalWidth())
	}
	return t
}
