package readings

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

var exportChannels = []Channel{
	{Name: "main", Unit: "W", Resolution: 0},
	{Name: "voltage", Unit: "V", Resolution: -1},
}

// t0 is 2026-01-05T08:00:00Z in unix ms.
const t0 = int64(1767600000000)

func exportSample(t *testing.T, format ExportFormat, opts ExportOptions) string {
	t.Helper()
	var buf bytes.Buffer
	e, err := NewExporter(&buf, format, opts)
	if err != nil {
		t.Fatal(err)
	}
	rows := []struct {
		dev string
		ch  int
		r   Reading
	}{
		{"SX-1", 0, Reading{Time: t0, Channel: 0, Value: 1200}},
		{"SX-1", 1, Reading{Time: t0, Channel: 1, Value: 2301}},
		{"SX-1", 0, Reading{Time: t0 + 60000, Channel: 0, Value: -5}},
		{"SX-1", 1, Reading{Time: t0 + 60500, Channel: 1, Value: 2299}},
	}
	for _, row := range rows {
		if err := e.Write(row.dev, exportChannels[row.ch], row.r); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestExporter(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skip("no tz database:", err)
	}
	tests := []struct {
		name   string
		format ExportFormat
		opts   ExportOptions
		want   string
	}{
		{"csv long", ExportCSV, ExportOptions{}, "time,device,channel,value,unit\n" +
			"2026-01-05T08:00:00Z,SX-1,main,1200,W\n" +
			"2026-01-05T08:00:00Z,SX-1,voltage,230.1,V\n" +
			"2026-01-05T08:01:00Z,SX-1,main,-5,W\n" +
			"2026-01-05T08:01:00.500Z,SX-1,voltage,229.9,V\n"},
		{"csv wide", ExportCSV, ExportOptions{Wide: true, Columns: exportChannels}, "time,device,main [W],voltage [V]\n" +
			"2026-01-05T08:00:00Z,SX-1,1200,230.1\n" +
			"2026-01-05T08:01:00Z,SX-1,-5,\n" +
			"2026-01-05T08:01:00.500Z,SX-1,,229.9\n"},
		{"ndjson long", ExportNDJSON, ExportOptions{}, `{"time":"2026-01-05T08:00:00Z","device":"SX-1","channel":"main","value":1200,"unit":"W"}` + "\n" +
			`{"time":"2026-01-05T08:00:00Z","device":"SX-1","channel":"voltage","value":230.1,"unit":"V"}` + "\n" +
			`{"time":"2026-01-05T08:01:00Z","device":"SX-1","channel":"main","value":-5,"unit":"W"}` + "\n" +
			`{"time":"2026-01-05T08:01:00.500Z","device":"SX-1","channel":"voltage","value":229.9,"unit":"V"}` + "\n"},
		{"ndjson wide", ExportNDJSON, ExportOptions{Wide: true, Columns: exportChannels}, `{"time":"2026-01-05T08:00:00Z","device":"SX-1","main":1200,"voltage":230.1}` + "\n" +
			`{"time":"2026-01-05T08:01:00Z","device":"SX-1","main":-5}` + "\n" +
			`{"time":"2026-01-05T08:01:00.500Z","device":"SX-1","voltage":229.9}` + "\n"},
		{"csv in a time zone", ExportCSV, ExportOptions{Location: paris}, "time,device,channel,value,unit\n" +
			"2026-01-05T09:00:00+01:00,SX-1,main,1200,W\n" +
			"2026-01-05T09:00:00+01:00,SX-1,voltage,230.1,V\n" +
			"2026-01-05T09:01:00+01:00,SX-1,main,-5,W\n" +
			"2026-01-05T09:01:00.500+01:00,SX-1,voltage,229.9,V\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exportSample(t, tt.format, tt.opts); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestExporterJSONIsValid(t *testing.T) {
	out := exportSample(t, ExportJSON, ExportOptions{})
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("JSON export does not parse: %v\n%s", err, out)
	}
	if len(rows) != 4 || rows[1]["value"] != 230.1 {
		t.Fatalf("rows = %v", rows)
	}
	var empty bytes.Buffer
	e, _ := NewExporter(&empty, ExportJSON, ExportOptions{})
	_ = e.Close()
	if empty.String() != "[]\n" {
		t.Fatalf("empty JSON export = %q", empty.String())
	}
}

func TestExporterQuotesFields(t *testing.T) {
	var buf bytes.Buffer
	e, _ := NewExporter(&buf, ExportCSV, ExportOptions{})
	_ = e.Write(`site "a", b`, Channel{Name: "x,y", Unit: "W"}, Reading{Time: t0, Value: 1})
	_ = e.Close()
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if recs[1][1] != `site "a", b` || recs[1][2] != "x,y" {
		t.Fatalf("CSV round trip = %q", recs[1])
	}
	buf.Reset()
	e, _ = NewExporter(&buf, ExportNDJSON, ExportOptions{})
	_ = e.Write("é\"\n\x01", Channel{Name: "c"}, Reading{Time: t0, Value: 1})
	_ = e.Close()
	var row map[string]any
	if err := json.Unmarshal(buf.Bytes(), &row); err != nil || row["device"] != "é\"\n\x01" {
		t.Fatalf("NDJSON escaping: %v %q", err, buf.String())
	}
}

func TestExporterWideRejectsUnknownChannel(t *testing.T) {
	e, _ := NewExporter(&bytes.Buffer{}, ExportCSV, ExportOptions{Wide: true, Columns: exportChannels})
	err := e.Write("SX-1", Channel{Name: "other"}, Reading{Time: t0})
	if !errors.Is(err, ErrWideColumns) {
		t.Fatalf("err = %v, want ErrWideColumns", err)
	}
}

func BenchmarkExportCSV(b *testing.B) {
	g, err := NewGenerator(GeneratorConfig{Seed: 1, Duration: 7 * 24 * time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	var rs []Reading
	for r := range g.All() {
		rs = append(rs, r)
	}
	ch := g.Schema().Channels
	b.ResetTimer()
	for b.Loop() {
		e, _ := NewExporter(discard{}, ExportCSV, ExportOptions{})
		for _, r := range rs {
			_ = e.Write("SX-00042", ch[r.Channel], r)
		}
		_ = e.Close()
	}
	b.ReportMetric(float64(len(rs))*float64(b.N)/b.Elapsed().Seconds(), "readings/s")
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func TestExporterWriteFromMatchesWrite(t *testing.T) {
	for _, format := range []ExportFormat{ExportCSV, ExportNDJSON, ExportText} {
		t.Run(string(format), func(t *testing.T) {
			var a, b bytes.Buffer
			opts := ExportOptions{Columns: exportChannels, DeviceWidth: 6}
			ea, _ := NewExporter(&a, format, opts)
			eb, _ := NewExporter(&b, format, opts)
			src := eb.Source(`SX "1"`, exportChannels)
			for i, r := range []Reading{{Time: t0, Channel: 0, Value: 7}, {Time: t0, Channel: 1, Value: -12}, {Time: t0 + 1, Channel: 0, Value: 0}} {
				if err := ea.Write(`SX "1"`, exportChannels[r.Channel], r); err != nil {
					t.Fatal(i, err)
				}
				if err := eb.WriteFrom(src, r); err != nil {
					t.Fatal(i, err)
				}
			}
			_, _ = ea.Close(), eb.Close()
			if a.String() != b.String() {
				t.Fatalf("Write gave\n%s\nWriteFrom gave\n%s", a.String(), b.String())
			}
		})
	}
}

// A wide table's titles are upper case, but a unit keeps its case: Wh, not WH.
func TestExporterWideTextKeepsUnits(t *testing.T) {
	var buf bytes.Buffer
	e, err := NewExporter(&buf, ExportText, ExportOptions{Wide: true, Columns: []Channel{{Name: "main_energy", Unit: "Wh"}, {Name: "voltage", Unit: "V", Resolution: -1}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	header := strings.SplitN(buf.String(), "\n", 2)[0]
	if !strings.Contains(header, "MAIN_ENERGY [Wh]") || !strings.Contains(header, "VOLTAGE [V]") {
		t.Fatalf("header %q: the units lost their case", header)
	}
}

// TestAppendTimeYears: RFC 3339 for the years 0000..9999, ISO 8601 expanded years (a sign and
// at least four digits) outside, where a data file's int64 times may go.
func TestAppendTimeYears(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		ms   int64
		loc  *time.Location
		want string
	}{
		{0, time.UTC, "1970-01-01T00:00:00Z"},
		{1_740_996_000_123, time.UTC, "2025-03-03T10:00:00.123Z"},
		{253402300799999, time.UTC, "9999-12-31T23:59:59.999Z"},
		{253402300800000, time.UTC, "+10000-01-01T00:00:00Z"},
		{253402297200000, paris, "+10000-01-01T00:00:00+01:00"},
		{math.MaxInt64, time.UTC, "+292278994-08-17T07:12:55.807Z"},
		{-62167219200000, time.UTC, "0000-01-01T00:00:00Z"},
		{-62167219201000, time.UTC, "-0001-12-31T23:59:59Z"},
		{math.MinInt64, time.UTC, "-292275055-05-16T16:47:04.192Z"},
	} {
		if got := string(AppendTime(nil, tt.ms, tt.loc)); got != tt.want {
			t.Errorf("AppendTime(%d, %s) = %s, want %s", tt.ms, tt.loc, got, tt.want)
		}
	}
}
