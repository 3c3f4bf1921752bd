// Package ui owns everything smartx prints: the streams and whether they are terminals, colour
// styles that degrade to plain text, tables, JSON/NDJSON/CSV writers, live lines and progress bars.
//
// Data goes to Out; everything meant for a person (progress, warnings, prompts) goes to ErrOut.
// Colour and live updates are used only when the stream is a terminal and neither NO_COLOR nor
// --no-color asked otherwise, so piped output stays plain and stable.
package ui

import (
	"bufio"
	"bytes"
	"io"
	"os"

	"golang.org/x/term"
)

// IOStreams carries the three standard streams and what is known about them.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	inTTY, outTTY, errTTY bool
	colorDisabled         bool
	width                 int
	inReader              *bufio.Reader // reads In line by line for prompts
	getenv                func(string) string
}

// System returns the process's real streams, detecting terminals and the NO_COLOR convention.
func System() *IOStreams {
	s := &IOStreams{
		In:     os.Stdin,
		Out:    os.Stdout,
		ErrOut: os.Stderr,
		inTTY:  isTerminal(os.Stdin),
		outTTY: isTerminal(os.Stdout),
		errTTY: isTerminal(os.Stderr),
		getenv: os.Getenv,
	}
	// https://no-color.org: any non-empty value disables colour; a dumb terminal cannot show it.
	if os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		s.colorDisabled = true
	}
	return s
}

// Test returns streams backed by buffers, none of them a terminal, for tests.
func Test() (s *IOStreams, in, out, errOut *bytes.Buffer) {
	in, out, errOut = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut, width: 100, getenv: func(string) string { return "" }}, in, out, errOut
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// IsStdinTTY reports whether standard input is a terminal.
func (s *IOStreams) IsStdinTTY() bool { return s.inTTY }

// IsStdoutTTY reports whether standard output is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.outTTY }

// IsStderrTTY reports whether standard error is a terminal.
func (s *IOStreams) IsStderrTTY() bool { return s.errTTY }

// SetTTY overrides terminal detection; tests use it to exercise the interactive paths.
func (s *IOStreams) SetTTY(in, out, errOut bool) { s.inTTY, s.outTTY, s.errTTY = in, out, errOut }

// DisableColor turns colour off for both output streams (--no-color).
func (s *IOStreams) DisableColor() { s.colorDisabled = true }

// ColorEnabled reports whether Out may carry colour.
func (s *IOStreams) ColorEnabled() bool { return s.outTTY && !s.colorDisabled }

// ErrColorEnabled reports whether ErrOut may carry colour.
func (s *IOStreams) ErrColorEnabled() bool { return s.errTTY && !s.colorDisabled }

// CanPrompt reports whether the user can be asked a question interactively.
func (s *IOStreams) CanPrompt() bool { return s.inTTY && s.errTTY }

// TerminalWidth returns the width of the terminal behind Out, or 80 when it cannot be known.
func (s *IOStreams) TerminalWidth() int {
	if s.width > 0 {
		return s.width
	}
	if f, ok := s.Out.(*os.File); ok && s.outTTY {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			return w
		}
	}
	return 80
}

// Styles returns the styles for Out.
func (s *IOStreams) Styles() *Styles { return NewStyles(s.Out, s.ColorEnabled()) }

// ErrStyles returns the styles for ErrOut.
func (s *IOStreams) ErrStyles() *Styles { return NewStyles(s.ErrOut, s.ErrColorEnabled()) }
