package ui

import (
	"bytes"
	"go/scanner"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestChooseGlyphs(t *testing.T) {
	tests := []struct {
		name string
		goos string
		c    consoleInfo
		want Glyphs
	}{
		{"linux terminal", "linux", consoleInfo{console: true, ansi: true}, UnicodeGlyphs},
		{"macOS pipe", "darwin", consoleInfo{}, UnicodeGlyphs},
		{"windows console, chcp 65001", "windows", consoleInfo{console: true, ansi: true, codePage: 65001}, UnicodeGlyphs},
		{"windows console, chcp 437", "windows", consoleInfo{console: true, ansi: true, codePage: 437}, ASCIIGlyphs},
		{"windows console, chcp 850, no VT", "windows", consoleInfo{console: true, codePage: 850}, ASCIIGlyphs},
		{"windows console, code page unknown", "windows", consoleInfo{console: true}, ASCIIGlyphs},
		{"windows file or pipe keeps UTF-8", "windows", consoleInfo{codePage: 437}, UnicodeGlyphs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := chooseGlyphs(tt.goos, tt.c); got != tt.want {
				t.Errorf("chooseGlyphs = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestASCIIGlyphs(t *testing.T) {
	for in, want := range map[string]string{
		"✓ ok":                    "v ok",
		"✗ fail":                  "x fail",
		"… running":               "... running",
		"2026-11-16 → 2026-11-17": "2026-11-16 -> 2026-11-17",
		"files 3–7":               "files 3-7",
		"spooled 3 · uploaded 2":  "spooled 3 | uploaded 2",
		"850 µs":                  "850 us",
		"[████░░░░]":              "[####....]",
		"▁▂▃▄▅▆▇█":                "_.,-=+*#",
		"Paris été":               "Paris été", // data is not a glyph: left as it is
	} {
		if got := ASCIIGlyphs.Render(in); got != want {
			t.Errorf("ASCII Render(%q) = %q, want %q", in, got, want)
		}
		if got := UnicodeGlyphs.Render(in); got != in {
			t.Errorf("Unicode Render(%q) = %q, want it unchanged", in, got)
		}
	}
	for _, f := range spinnerFrames {
		if got := ASCIIGlyphs.Render(f); len(got) != 1 {
			t.Errorf("spinner frame %q renders as %q, want one ASCII character", f, got)
		}
	}
}

// A glyph cut between two writes (as a buffered writer may do) still gets its fallback.
func TestGlyphWriterSplitRune(t *testing.T) {
	var buf bytes.Buffer
	w := &glyphWriter{w: &buf, glyphs: ASCIIGlyphs}
	text := []byte("✓ done → next")
	for i := range text {
		if n, err := w.Write(text[i : i+1]); n != 1 || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if got := buf.String(); got != "v done -> next" {
		t.Fatalf("byte by byte: %q", got)
	}
}

// A live line is cut to the width of what is shown, fallbacks included.
func TestLiveLinesMeasureFallbacks(t *testing.T) {
	var buf bytes.Buffer
	l := NewLiveLines(&glyphWriter{w: &buf, glyphs: ASCIIGlyphs}, true, 12)
	l.Set(0, "a → b → c → d → e", false)
	l.Clear()
	for _, line := range strings.Split(buf.String(), "\n") {
		line = strings.TrimPrefix(line, "\r\x1b[2K")
		if strings.Contains(line, "\x1b[") || line == "" {
			continue
		}
		if utf8.RuneCountInString(line) > 11 || !isASCII(line) {
			t.Errorf("line %q is wider than 11 columns or not ASCII", line)
		}
	}
}

func TestRedrawNeedsANSI(t *testing.T) {
	io, _, _, _ := Test()
	io.SetTTY(false, true, true)
	if !io.CanRedrawOut() || !io.CanRedrawErr() || !io.ColorEnabled() {
		t.Fatal("a terminal that interprets escape sequences gets no redraw or colour")
	}
	io.SetNoANSI(true, true)
	if io.CanRedrawOut() || io.CanRedrawErr() || io.ColorEnabled() || io.ErrColorEnabled() {
		t.Fatal("a console printing escape sequences as text gets redraws or colour")
	}
}

// Every non-ASCII character in a string literal of ui or the commands (outside tests) has
// an ASCII fallback, so no glyph reaches a non-UTF-8 console as garbage.
func TestEveryPrintedGlyphHasAFallback(t *testing.T) {
	var files []string
	for _, dir := range []string{".", filepath.Join("..", "commands")} {
		matches, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, matches...)
	}
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") || strings.HasSuffix(path, "glyphs.go") {
			continue
		}
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		fset := token.NewFileSet()
		var s scanner.Scanner
		s.Init(fset.AddFile(path, -1, len(src)), src, nil, 0)
		for {
			pos, tok, lit := s.Scan()
			if tok == token.EOF {
				break
			}
			if tok != token.STRING {
				continue
			}
			text, err := strconv.Unquote(lit)
			if err != nil {
				continue
			}
			if shown := ASCIIGlyphs.Render(text); !isASCII(shown) {
				t.Errorf("%s: %q has a glyph without an ASCII fallback (add it to asciiFallback)", fset.Position(pos), shown)
			}
		}
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
