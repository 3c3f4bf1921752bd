package ui

import (
	"bytes"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestParseFormat(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		supported []Format
		want      Format
		wantErr   string
	}{
		{"empty selects the default", "", []Format{FormatTable, FormatJSON}, FormatTable, ""},
		{"exact name", "json", []Format{FormatTable, FormatJSON}, FormatJSON, ""},
		{"case does not matter", "CSV", []Format{FormatTable, FormatCSV}, FormatCSV, ""},
		{"unsupported names the choices", "yaml", []Format{FormatTable, FormatJSON}, "", `unknown output format "yaml": use one of table, json`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseFormat(tt.in, tt.supported...)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseFormat(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestStylesPlainWithoutColor(t *testing.T) {
	st := NewStyles(&bytes.Buffer{}, false)
	for _, s := range []string{st.OK("x"), st.Fail("x"), st.Bold("x"), st.Muted("x")} {
		if s != "x" {
			t.Errorf("plain style added escapes: %q", s)
		}
	}
	if got := st.Status("fail"); got != "✗ fail" {
		t.Errorf("Status(fail) = %q", got)
	}
}

func TestStylesColorOnTerminal(t *testing.T) {
	st := NewStyles(&bytes.Buffer{}, true)
	if got := st.OK("x"); !strings.Contains(got, "\x1b[") {
		t.Errorf("coloured style has no escape: %q", got)
	}
}

func TestIOStreamsColor(t *testing.T) {
	io, _, _, _ := Test()
	if io.ColorEnabled() {
		t.Fatal("colour enabled on a non-terminal")
	}
	io.SetTTY(false, true, true)
	if !io.ColorEnabled() {
		t.Fatal("colour disabled on a terminal")
	}
	io.DisableColor()
	if io.ColorEnabled() || io.ErrColorEnabled() {
		t.Fatal("--no-color did not win")
	}
}

func TestTableGolden(t *testing.T) {
	var buf bytes.Buffer
	tbl := NewTable(&buf, NewStyles(&buf, false), "status", "check", "detail")
	tbl.Row("✓ ok", "dns", "platform.test -> 127.0.0.1 in 1.2 ms")
	tbl.Row("✗ fail", "tcp-https", "connection refused")
	tbl.Row("- skip", "tls", "")
	if err := tbl.Render(); err != nil {
		t.Fatal(err)
	}
	golden(t, "table.golden", buf.Bytes())
}

func TestWriters(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, map[string]any{"a": 1, "b": "<x>"}); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), "{\n  \"a\": 1,\n  \"b\": \"<x>\"\n}\n"; got != want {
		t.Errorf("WriteJSON = %q, want %q", got, want)
	}
	buf.Reset()
	nd := NewNDJSONWriter(&buf)
	_ = nd.Write(map[string]int{"n": 1})
	_ = nd.Write(map[string]int{"n": 2})
	if got, want := buf.String(), "{\"n\":1}\n{\"n\":2}\n"; got != want {
		t.Errorf("NDJSON = %q, want %q", got, want)
	}
	buf.Reset()
	cw, err := NewCSVWriter(&buf, "a", "b")
	if err != nil {
		t.Fatal(err)
	}
	_ = cw.Write("1", "x,y")
	if err := cw.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), "a,b\n1,\"x,y\"\n"; got != want {
		t.Errorf("CSV = %q, want %q", got, want)
	}
}

func TestHuman(t *testing.T) {
	tests := []struct{ got, want string }{
		{HumanDuration(0), "0 ms"},
		{HumanDuration(850 * time.Microsecond), "850 µs"},
		{HumanDuration(1234 * time.Microsecond), "1.2 ms"},
		{HumanDuration(42 * time.Millisecond), "42 ms"},
		{HumanDuration(1400 * time.Millisecond), "1.4 s"},
		{HumanDuration(200 * time.Second), "3m20s"},
		{HumanBytes(512), "512 B"},
		{HumanBytes(64 << 10), "64.0 KiB"},
		{HumanBytes(3 << 30), "3.0 GiB"},
		{HumanCount(950), "950"},
		{HumanCount(12345), "12.3k"},
		{HumanCount(4.5e6), "4.5M"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestSparkline(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want string
	}{
		{"rising", []float64{0, 1, 2, 3, 4, 5, 6, 7}, "▁▂▃▄▅▆▇█"},
		{"flat", []float64{3, 3, 3}, "▅▅▅"},
		{"gap", []float64{0, math.NaN(), 1}, "▁ █"},
		{"empty", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Sparkline(tt.in); got != tt.want {
				t.Errorf("Sparkline = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestProgressSilentWhenDisabled(t *testing.T) {
	var buf bytes.Buffer
	p := NewProgress(&buf, false, "decode", "file", 3)
	p.Add(1)
	p.Done()
	if buf.Len() != 0 {
		t.Fatalf("disabled progress wrote %q", buf.String())
	}
}

func TestProgressDrawsOnTerminal(t *testing.T) {
	var buf bytes.Buffer
	p := NewProgress(&buf, true, "decode", "file", 4)
	p.Add(2)
	p.Done()
	if !strings.Contains(buf.String(), "2/4 files") {
		t.Fatalf("progress line = %q", buf.String())
	}
	if !strings.HasSuffix(buf.String(), "\r\x1b[2K") {
		t.Fatalf("Done left %q: it must erase the line", buf.String())
	}
}

func TestLiveLinesDisabledWritesNothing(t *testing.T) {
	var buf bytes.Buffer
	l := NewLiveLines(&buf, false, 80)
	l.Set(0, "dns", true)
	l.Clear()
	if buf.Len() != 0 {
		t.Fatalf("disabled live lines wrote %q", buf.String())
	}
}

func TestLiveLinesRedrawInPlace(t *testing.T) {
	var buf bytes.Buffer
	l := NewLiveLines(&buf, true, 80)
	l.Set(0, "dns running", true)
	l.Set(0, "dns ok", false)
	l.Clear()
	out := buf.String()
	if !strings.Contains(out, "\x1b[1A") || !strings.Contains(out, "dns ok") {
		t.Fatalf("live output does not redraw in place: %q", out)
	}
}

func TestPlural(t *testing.T) {
	tests := []struct {
		n    int
		noun string
		want string
	}{
		{0, "file", "0 files"},
		{1, "file", "1 file"},
		{7, "file", "7 files"},
		{1, "row", "1 row"},
		{2, "entry", "2 entries"},
		{2, "day", "2 days"},
		{3, "match", "3 matches"},
		{1, "entry", "1 entry"},
	}
	for _, tt := range tests {
		if got := Plural(tt.n, tt.noun); got != tt.want {
			t.Errorf("Plural(%d, %q) = %q, want %q", tt.n, tt.noun, got, tt.want)
		}
	}
	if got := Plural(int64(1), "reading"); got != "1 reading" {
		t.Errorf("Plural(int64) = %q", got)
	}
}

func TestHeaderTextKeepsUnits(t *testing.T) {
	for in, want := range map[string]string{"main_energy [Wh]": "MAIN_ENERGY [Wh]", "key id": "KEY ID", "voltage [0.1 V]": "VOLTAGE [0.1 V]"} {
		if got := HeaderText(in); got != want {
			t.Errorf("HeaderText(%q) = %q, want %q", in, got, want)
		}
	}
}

// A table wider than the terminal: the narrow columns stay whole, the wide ones share the rest
// and end with an ellipsis; a column kept whole (an id) is never cut.
func TestTableFitsTheWidth(t *testing.T) {
	var buf bytes.Buffer
	tbl := NewTable(&buf, NewStyles(&buf, false), "id", "name", "address", "state")
	tbl.Row("sit_0123456789abcdef", "Paris HQ", "1 rue de Rivoli, 75001 Paris, France, second floor, room 12", "ok")
	tbl.Row("sit_fedcba9876543210", "A very long site name that goes on and on", "-", "ok")
	tbl.SetWidth(60)
	tbl.KeepWhole(0)
	if err := tbl.Render(); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimRight(buf.String(), "\n"), "\n") {
		if w := len([]rune(line)); w > 60 {
			t.Errorf("line of %d columns in a 60-column terminal: %q", w, line)
		}
		if !strings.HasPrefix(line, "ID") && !strings.HasPrefix(line, "sit_") {
			t.Errorf("the id column was cut: %q", line)
		}
	}
	golden(t, "table-fit.golden", buf.Bytes())

	buf.Reset()
	tbl.SetWidth(0)
	if err := tbl.Render(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "…") {
		t.Errorf("a table without a width limit was truncated:\n%s", buf.String())
	}
}

// The progress line is erased before anything reaches stdout on the same terminal, and Done
// leaves nothing behind: no stale "readings 1 rows" above a table.
func TestProgressErasedBeforeStdout(t *testing.T) {
	s, _, out, errOut := Test()
	s.SetTTY(false, true, true)
	p := s.NewProgress("readings", "row", 0)
	p.now = func() time.Time { return p.start.Add(time.Second) }
	p.Add(1)
	if !strings.Contains(errOut.String(), "readings 1 row ") {
		t.Fatalf("progress line = %q, want the singular", errOut.String())
	}
	drawn := errOut.Len()
	if _, err := s.Out.Write([]byte("TIME  DEVICE\n")); err != nil {
		t.Fatal(err)
	}
	if got := errOut.String()[drawn:]; got != "\r\x1b[2K" {
		t.Fatalf("before stdout printed, stderr got %q, want the line erased", got)
	}
	p.Add(5)
	p.Done()
	if errOut.Len() != drawn+len("\r\x1b[2K") {
		t.Fatalf("the progress drew again after stdout printed: %q", errOut.String())
	}
	if out.String() != "TIME  DEVICE\n" {
		t.Fatalf("stdout = %q", out.String())
	}
}

func TestLiveLinesPrintlnAboveTheBlock(t *testing.T) {
	var plain bytes.Buffer
	NewLiveLines(&plain, false, 80).Println("file 3 uploaded")
	if plain.String() != "file 3 uploaded\n" {
		t.Fatalf("disabled Println wrote %q", plain.String())
	}
	var buf bytes.Buffer
	l := NewLiveLines(&buf, true, 80)
	l.Set(0, "pending 4", true)
	l.Println("connection lost")
	l.Clear()
	out := buf.String()
	logged, status := strings.Index(out, "connection lost"), strings.LastIndex(out, "pending 4")
	if logged < 0 || status < logged {
		t.Fatalf("the log line is not above the redrawn block: %q", out)
	}
}

func TestLineChart(t *testing.T) {
	lines := LineChart([]float64{0, 1, 2, 3, 4, 5, 6, 7}, 0, 7, 4, 2)
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2", len(lines))
	}
	// A rising line: the bottom-left and top-right cells hold dots, the others may not.
	if []rune(lines[1])[0] == ' ' || []rune(lines[0])[3] == ' ' {
		t.Fatalf("rising line drawn as %q", lines)
	}
	gap := LineChart([]float64{1, math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), 1}, 0, 2, 4, 1)
	if []rune(gap[0])[1] != ' ' || []rune(gap[0])[2] != ' ' {
		t.Fatalf("a gap was drawn: %q", gap)
	}
}

func TestRenderPlotGolden(t *testing.T) {
	var buf bytes.Buffer
	values := make([]float64, 96)
	for i := range values {
		values[i] = 50 + 40*math.Sin(float64(i)/96*2*math.Pi)
	}
	values[40], values[41] = math.NaN(), math.NaN()
	err := RenderPlot(&buf, NewStyles(&buf, false), Plot{Title: "main (SX-00042)", Values: values, Unit: "kW",
		XStart: "2026-11-16 00:00", XEnd: "2026-11-17 00:00", Width: 48, Height: 6})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "plot.golden", buf.Bytes())
}

func TestWriteQR(t *testing.T) {
	for _, unicode := range []bool{true, false} {
		var b strings.Builder
		if err := WriteQR(&b, "otpauth://totp/smartx:owner@example.com?secret=JBSWY3DPEHPK3PXP&issuer=smartx", unicode); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
		width := len([]rune(lines[0]))
		for _, l := range lines {
			if len([]rune(l)) != width {
				t.Fatalf("ragged QR code (unicode %v): %q", unicode, l)
			}
		}
		// A version-5 code with its quiet zone is 45 modules: in ASCII two characters a module
		// and a line a row; with half blocks a character a module and a line two rows.
		wantLines, wantWidth := 45, 90
		if unicode {
			wantLines, wantWidth = 23, 45
		}
		if len(lines) < wantLines-8 || width < wantWidth-16 {
			t.Fatalf("QR code of %d lines of %d characters (unicode %v)", len(lines), width, unicode)
		}
		if !unicode && strings.ContainsAny(b.String(), "█▀▄") {
			t.Fatal("the ASCII form holds block characters")
		}
	}
}
