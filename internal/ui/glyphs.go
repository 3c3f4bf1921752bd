package ui

import (
	"io"
	"strings"
	"unicode/utf8"
)

// Glyphs is the set of characters a stream can show. Everything ui and the commands print
// is written with the Unicode glyphs (✓ ✗ → … · – µ, block and braille characters); on a
// stream that cannot show them, System wraps the stream so each is replaced by its ASCII
// fallback on the way out.
type Glyphs int

const (
	// UnicodeGlyphs is the default: terminals, files and pipes get UTF-8 as written.
	UnicodeGlyphs Glyphs = iota
	// ASCIIGlyphs is for Windows consoles whose output code page is not UTF-8 (chcp other
	// than 65001): their fonts and code pages lack most of the glyphs.
	ASCIIGlyphs
)

// cpUTF8 is the Windows code page of UTF-8.
const cpUTF8 = 65001

// consoleInfo is what is known about one output stream.
type consoleInfo struct {
	// console is true when the stream is a terminal (a Windows console, a tty).
	console bool
	// ansi is true when the terminal interprets escape sequences (colour, cursor moves). On
	// Windows it is true once virtual-terminal processing could be turned on.
	ansi bool
	// codePage is the Windows console output code page (GetConsoleOutputCP); 0 elsewhere.
	codePage uint32
}

// chooseGlyphs is the one place that decides which glyphs a stream gets: ASCII on a Windows
// console whose code page is not UTF-8, Unicode everywhere else. Files and pipes always get
// UTF-8, so redirected output is the same on every OS.
func chooseGlyphs(goos string, c consoleInfo) Glyphs {
	if goos == "windows" && c.console && c.codePage != cpUTF8 {
		return ASCIIGlyphs
	}
	return UnicodeGlyphs
}

// asciiFallback pairs every non-ASCII glyph smartx prints with what an ASCII console shows.
// The braille spinner turns into the classic | / - \ one.
var asciiFallback = strings.NewReplacer(
	"✓", "v", "✗", "x", "→", "->", "…", "...", "·", "|", "–", "-", "—", "-", "µ", "u",
	"░", ".", "┤", "|", "¦", "|",
	"▁", "_", "▂", ".", "▃", ",", "▄", "-", "▅", "=", "▆", "+", "▇", "*", "█", "#", "▀", "\"",
	"⠋", "|", "⠙", "/", "⠹", "-", "⠸", `\`, "⠼", "|", "⠴", "/", "⠦", "-", "⠧", `\`, "⠇", "|", "⠏", "/",
)

// Render returns s as this glyph set shows it.
func (g Glyphs) Render(s string) string {
	if g == ASCIIGlyphs {
		return asciiFallback.Replace(s)
	}
	return s
}

// glyphWriter replaces the Unicode glyphs of everything written through it by their ASCII
// fallbacks. A glyph split across two writes is held back until its last byte arrives.
type glyphWriter struct {
	w       io.Writer
	glyphs  Glyphs
	pending []byte
}

func (g *glyphWriter) Write(p []byte) (int, error) {
	buf := append(g.pending, p...)
	g.pending = nil
	// Hold back an incomplete UTF-8 sequence at the end (at most 3 bytes).
	for i := len(buf) - 1; i >= 0 && i >= len(buf)-utf8.UTFMax; i-- {
		if utf8.RuneStart(buf[i]) {
			if !utf8.FullRune(buf[i:]) {
				g.pending = append([]byte(nil), buf[i:]...)
				buf = buf[:i]
			}
			break
		}
	}
	if _, err := io.WriteString(g.w, g.glyphs.Render(string(buf))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// renderGlyphs applies the glyph set of w when w is a stream System wrapped, so a caller that
// measures text (a live line cut to the terminal's width) measures what will be shown.
func renderGlyphs(w io.Writer, s string) string {
	if g, ok := w.(*glyphWriter); ok {
		return g.glyphs.Render(s)
	}
	return s
}
