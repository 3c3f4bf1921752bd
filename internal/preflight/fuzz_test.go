package preflight

import (
	"bytes"
	"encoding/json"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestStoredRunDocument pins the JSON document of a run (what -o json prints and what the
// history keeps) and reads it back: a run kept by this version must stay readable.
func TestStoredRunDocument(t *testing.T) {
	want := sampleReport()
	data, err := json.MarshalIndent(want, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "run-v1.json", append(data, '\n'))
	got, err := ParseReport(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseReport(Marshal(r)) differs from r:\n got %+v\nwant %+v", got, want)
	}
	if _, err := ParseReport([]byte(`{"schema_version": 2}`)); err == nil {
		t.Error("a document of a newer schema was read")
	}
	if _, err := ParseReport([]byte(`{"site": "x"}`)); err == nil {
		t.Error("a document without schema_version was read")
	}
}

// FuzzParseReport: whatever a kept file holds, reading it never panics, and a document that
// reads renders in both languages.
func FuzzParseReport(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join("testdata", "run-v1.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`{"schema_version": 1, "results": [{"id": "dns", "status": "fail", "evidence": {"x": "<y>"}}], "device": {"settings": ["ca"]}}`))
	f.Add([]byte(`{"schema_version": 1, "duration_ms": 1e308}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseReport(data)
		if err != nil {
			return
		}
		for _, l := range Langs() {
			if err := WriteMarkdown(io.Discard, r, ReportOptions{Lang: l}); err != nil {
				t.Fatal(err)
			}
			if err := WriteHTML(io.Discard, r, ReportOptions{Lang: l}); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// FuzzTranslate: any text goes through the catalogue without a panic; English is unchanged.
func FuzzTranslate(f *testing.F) {
	for _, m := range catalogue[:40] {
		f.Add(m.en)
	}
	f.Add("not run: needs tcp-https, which did not pass (fail)")
	f.Add("%s%d%%%q")
	f.Fuzz(func(t *testing.T, s string) {
		_ = LangFR.T(s)
		if LangEN.T(s) != s {
			t.Fatalf("English changed %q", s)
		}
	})
}

// FuzzParseARPTable: a neighbour table of any shape never panics the parser.
func FuzzParseARPTable(f *testing.F) {
	f.Add([]byte("IP address HW type Flags HW address Mask Device\n192.0.2.1 0x1 0x2 02:00:00:00:00:01 * eth0\n"))
	f.Add([]byte("\n\n192.0.2.1 0x1 zz"))
	f.Fuzz(func(t *testing.T, data []byte) {
		hw, ok := parseARPTable(data, netip.MustParseAddr("192.0.2.1"))
		if ok != (hw != "") || bytes.Contains([]byte(hw), []byte("\n")) {
			t.Fatalf("parseARPTable = %q, %v", hw, ok)
		}
	})
}

// BenchmarkWriteMarkdownFR measures the French report: every text goes through the catalogue.
func BenchmarkWriteMarkdownFR(b *testing.B) {
	r := sampleReport()
	for _, l := range Langs() {
		b.Run(string(l), func(b *testing.B) {
			for b.Loop() {
				if err := WriteMarkdown(io.Discard, r, ReportOptions{Lang: l}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
