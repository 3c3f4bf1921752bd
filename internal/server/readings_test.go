package server

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/readings"
)

// readingsFixture is an account with a site in Paris and two devices whose files the tests
// uploaded: four days of ten-minute readings across the 2026 spring DST change, with the
// generator's offline gaps, and one day of a second device.
type readingsFixture struct {
	ts           *testServer
	owner        person
	site         api.Site
	dev, dev2    api.ProvisionedDevice
	g, g2        *readings.Generator
	from, to     int64
	fromS, toS   string
	otherSite    api.Site
	otherDevice  api.ProvisionedDevice
	restricted   string // a readings token restricted to the Paris site
	analystToken string
}

func newReadingsFixture(t *testing.T) *readingsFixture {
	ts := newTestServer(t)
	f := &readingsFixture{ts: ts}
	acc := ts.account("Acme")
	f.owner = ts.person(acc, "own@example.com", api.RoleOwner)
	f.site = ts.site(f.owner.session, "Paris", "Europe/Paris")
	f.otherSite = ts.site(f.owner.session, "Lyon", "")
	f.dev = ts.provision(f.owner.session, f.site.ID, "SX-00042")
	f.dev2 = ts.provision(f.owner.session, f.site.ID, "SX-00007")
	f.otherDevice = ts.provision(f.owner.session, f.otherSite.ID, "SX-00099")
	start := time.Date(2026, 3, 27, 0, 0, 0, 0, time.UTC)
	f.g = testGenerator(t, start, 10*time.Minute, 4*24*time.Hour, true)
	f.g2 = testGenerator(t, start.Add(24*time.Hour), 10*time.Minute, 24*time.Hour, false)
	ts.uploadAll(f.dev.Credential, deviceFiles(t, f.dev, f.g, 6*time.Hour))
	ts.uploadAll(f.dev2.Credential, deviceFiles(t, f.dev2, f.g2, 6*time.Hour))
	ts.uploadAll(f.otherDevice.Credential, deviceFiles(t, f.otherDevice, f.g2, 6*time.Hour))
	f.from, f.to = f.g.Start(), f.g.End()
	f.fromS, f.toS = rfc3339(f.from), rfc3339(f.to)
	resp, body := ts.do("POST", api.PathTokens, f.owner.session, api.CreateTokenRequest{Name: "paris",
		Scopes: []api.Scope{api.ScopeReadingsRead}, Sites: []string{f.site.ID}})
	f.restricted = decode[api.CreateTokenResponse](t, resp, body, http.StatusCreated).Secret
	f.analystToken = ts.person(acc, "ana@example.com", api.RoleAnalyst).session
	return f
}

// generatorRows are the rows the export must hold for a generator's readings.
func generatorRows(g *readings.Generator, serial string, from, to int64, channels []string) []api.ReadingRow {
	var out []api.ReadingRow
	schema := g.Schema().Channels
	for r := range g.Range(from, to) {
		c := schema[r.Channel]
		if channels != nil && !slices.Contains(channels, c.Name) {
			continue
		}
		out = append(out, api.ReadingRow{Time: time.UnixMilli(r.Time).UTC(), Device: serial, Channel: c.Name,
			Value: json.Number(readings.AppendValue(nil, r.Value, c.Resolution)), Unit: c.Unit})
	}
	return out
}

func sameRows(t *testing.T, what string, got, want []api.ReadingRow) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d", what, len(got), len(want))
	}
	for i := range got {
		if !got[i].Time.Equal(want[i].Time) || got[i].Device != want[i].Device || got[i].Channel != want[i].Channel ||
			got[i].Value != want[i].Value || got[i].Unit != want[i].Unit {
			t.Fatalf("%s: row %d = %+v, want %+v", what, i, got[i], want[i])
		}
	}
}

func parseNDJSON[T any](t *testing.T, body []byte) []T {
	t.Helper()
	var out []T
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		var row T
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber()
		mustf(t, dec.Decode(&row), "decode %s", sc.Bytes())
		out = append(out, row)
	}
	return out
}

// pages follows next_cursor from the first page to the last and returns every page.
func (f *readingsFixture) pages(t *testing.T, token string, params ...string) []api.ReadingsPage {
	t.Helper()
	var out []api.ReadingsPage
	cursor := ""
	for {
		p := slices.Clone(params)
		if cursor != "" {
			p = append(p, "cursor", cursor)
		}
		resp, body := f.ts.get(readingsPath(p...), token, "")
		if ct := resp.Header.Get("Content-Type"); ct != api.JSONContentType {
			t.Fatalf("page Content-Type %q: %s", ct, body)
		}
		page := decode[api.ReadingsPage](t, resp, body, http.StatusOK)
		out = append(out, page)
		if page.NextCursor == "" {
			return out
		}
		if len(out) > 10000 {
			t.Fatal("paging does not end")
		}
		cursor = page.NextCursor
	}
}

func TestReadingsRaw(t *testing.T) {
	f := newReadingsFixture(t)
	ts := f.ts
	all := generatorRows(f.g, "SX-00042", f.from, f.to, nil)
	if len(all) < 3000 || len(all) == 4*24*6*7 {
		t.Fatalf("the fixture should have readings and offline gaps: %d readings", len(all))
	}
	device := []string{"device", f.dev.Device.ID, "from", f.fromS, "to", f.toS}

	t.Run("csv is what smartx decode prints", func(t *testing.T) {
		resp, body := ts.get(readingsPath(append(device, "format", "csv")...), f.analystToken, "")
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
			t.Fatalf("csv: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if want := expectedCSV(t, f.g, "SX-00042", f.from, f.to, nil); !bytes.Equal(body, want) {
			t.Fatalf("csv differs from decode's: %d bytes, want %d\n%.300s\nwant\n%.300s", len(body), len(want), body, want)
		}
	})
	t.Run("ndjson", func(t *testing.T) {
		resp, body := ts.get(readingsPath(device...), f.analystToken, api.NDJSONContentType)
		if resp.Header.Get("Content-Type") != api.NDJSONContentType || resp.Header.Get("Vary") != "Accept" {
			t.Fatalf("ndjson headers %v", resp.Header)
		}
		sameRows(t, "ndjson", parseNDJSON[api.ReadingRow](t, body), all)
	})
	t.Run("json pages cover the range exactly once", func(t *testing.T) {
		var got []api.ReadingRow
		pages := f.pages(t, f.analystToken, append(device, "limit", "997")...)
		for i, p := range pages {
			if p.Interval != api.IntervalRaw || (i < len(pages)-1 && len(p.Readings) != 997) {
				t.Fatalf("page %d: interval %q, %d rows", i, p.Interval, len(p.Readings))
			}
			got = append(got, p.Readings...)
		}
		if want := (len(all) + 996) / 997; len(pages) != want {
			t.Fatalf("%d pages, want %d", len(pages), want)
		}
		sameRows(t, "pages", got, all)
	})
	t.Run("a page of one row at a time across equal times", func(t *testing.T) {
		var got []api.ReadingRow
		for _, p := range f.pages(t, f.analystToken, "device", f.dev.Device.ID, "from", f.fromS, "to", rfc3339(f.from+30*60_000), "limit", "1") {
			got = append(got, p.Readings...)
		}
		sameRows(t, "one by one", got, generatorRows(f.g, "SX-00042", f.from, f.from+30*60_000, nil))
	})
	t.Run("channels and an unaligned range", func(t *testing.T) {
		from, to := f.from+7*60_000+500, f.from+26*3_600_000+3*60_000
		_, body := ts.get(readingsPath("device", f.dev.Device.ID, "from", time.UnixMilli(from).UTC().Format(time.RFC3339Nano),
			"to", rfc3339(to), "channel", "voltage", "channel", "main", "format", "csv"), f.analystToken, "")
		if want := expectedCSV(t, f.g, "SX-00042", from, to, []string{"main", "voltage"}); !bytes.Equal(body, want) {
			t.Fatalf("filtered csv differs: %d bytes, want %d", len(body), len(want))
		}
	})
	t.Run("a site's devices, by serial", func(t *testing.T) {
		resp, body := ts.get(readingsPath("site", f.site.ID, "from", f.fromS, "to", f.toS, "format", "ndjson"), f.restricted, "")
		if resp.StatusCode != 200 {
			t.Fatalf("site export: %d %s", resp.StatusCode, body)
		}
		want := append(generatorRows(f.g2, "SX-00007", f.from, f.to, nil), all...)
		sameRows(t, "site", parseNDJSON[api.ReadingRow](t, body), want)
		var got []api.ReadingRow
		for _, p := range f.pages(t, f.restricted, "site", f.site.ID, "from", f.fromS, "to", f.toS, "limit", "10000") {
			got = append(got, p.Readings...)
		}
		sameRows(t, "site pages", got, want)
	})
	t.Run("content negotiation", func(t *testing.T) {
		tests := []struct {
			accept, format string
			want           string
		}{
			{"", "", api.JSONContentType},
			{"*/*", "", api.JSONContentType},
			{"text/csv", "", "text/csv; charset=utf-8; header=present"},
			{"text/*;q=0.9, application/json;q=0.5", "", "text/csv; charset=utf-8; header=present"},
			{"application/x-ndjson, application/json;q=0.1", "", api.NDJSONContentType},
			{"text/csv", "json", api.JSONContentType},
			{"image/png", "ndjson", api.NDJSONContentType},
		}
		short := []string{"device", f.dev.Device.ID, "from", f.fromS, "to", rfc3339(f.from + 3_600_000)}
		for _, tt := range tests {
			params := short
			if tt.format != "" {
				params = append(slices.Clone(short), "format", tt.format)
			}
			resp, body := ts.get(readingsPath(params...), f.analystToken, tt.accept)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != tt.want {
				t.Errorf("Accept %q format %q: %d %q, want %q: %.200s", tt.accept, tt.format, resp.StatusCode, resp.Header.Get("Content-Type"), tt.want, body)
			}
		}
		resp, body := ts.get(readingsPath(short...), f.analystToken, "image/png, text/html;q=0.5")
		problem(t, resp, body, api.CodeNotAcceptable)
	})
}

// wantAggregate is an aggregate computed here, independently of the server.
type wantAggregate struct {
	bucket   time.Time
	channel  readings.Channel
	count    int64
	sum      float64
	min, max int64
}

// aggregates computes the generator's aggregates per bucket and channel, in row order.
func aggregates(g *readings.Generator, from, to int64, interval api.Interval, loc *time.Location) []wantAggregate {
	step := map[api.Interval]time.Duration{api.IntervalMinute: time.Minute, api.Interval10Minutes: 10 * time.Minute, api.IntervalHour: time.Hour}[interval]
	schema := g.Schema().Channels
	var out []wantAggregate
	index := map[string]int{}
	for r := range g.Range(from, to) {
		t := time.UnixMilli(r.Time)
		var b time.Time
		if interval == api.IntervalDay {
			lt := t.In(loc)
			b = time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, loc)
		} else {
			b = t.UTC().Truncate(step)
		}
		k := fmt.Sprintf("%d/%d", b.UnixMilli(), r.Channel)
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, wantAggregate{bucket: b, channel: schema[r.Channel], min: r.Value, max: r.Value})
		}
		a := &out[i]
		a.count++
		a.sum += float64(r.Value)
		a.min, a.max = min(a.min, r.Value), max(a.max, r.Value)
	}
	slices.SortStableFunc(out, func(x, y wantAggregate) int {
		if c := x.bucket.Compare(y.bucket); c != 0 {
			return c
		}
		return slices.IndexFunc(schema, func(c readings.Channel) bool { return c.Name == x.channel.Name }) -
			slices.IndexFunc(schema, func(c readings.Channel) bool { return c.Name == y.channel.Name })
	})
	return out
}

func checkAggregates(t *testing.T, what string, got []api.AggregateRow, want []wantAggregate, serial string, interval api.Interval) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d", what, len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		mean, err := strconv.ParseFloat(string(g.Mean), 64)
		mustf(t, err, "%s row %d mean %q", what, i, g.Mean)
		wantMean := w.sum / float64(w.count) * math.Pow10(w.channel.Resolution)
		if !g.Time.Equal(w.bucket) || g.Device != serial || g.Channel != w.channel.Name || g.Unit != w.channel.Unit || g.Count != w.count ||
			string(g.Min) != string(readings.AppendValue(nil, w.min, w.channel.Resolution)) ||
			string(g.Max) != string(readings.AppendValue(nil, w.max, w.channel.Resolution)) ||
			math.Abs(mean-wantMean) > 0.5e-3*math.Pow10(w.channel.Resolution)+1e-9 {
			t.Fatalf("%s: row %d = %+v, want %+v (mean %v)", what, i, g, w, wantMean)
		}
		if interval == api.IntervalDay {
			continue
		}
		if _, off := g.Time.Zone(); off != 0 {
			t.Fatalf("%s: row %d time %v is not UTC", what, i, g.Time)
		}
	}
}

func parseAggregateCSV(t *testing.T, body []byte) []api.AggregateRow {
	t.Helper()
	records, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	mustf(t, err, "parse csv")
	if len(records) == 0 || strings.Join(records[0], ",") != "time,device,channel,mean,min,max,count,unit" {
		t.Fatalf("aggregate csv header %v", records[:min(1, len(records))])
	}
	var out []api.AggregateRow
	for _, r := range records[1:] {
		tm, err := time.Parse(time.RFC3339, r[0])
		mustf(t, err, "time %q", r[0])
		n, err := strconv.ParseInt(r[6], 10, 64)
		mustf(t, err, "count %q", r[6])
		out = append(out, api.AggregateRow{Time: tm, Device: r[1], Channel: r[2], Mean: json.Number(r[3]), Min: json.Number(r[4]),
			Max: json.Number(r[5]), Count: n, Unit: r[7]})
	}
	return out
}

func TestReadingsAggregates(t *testing.T) {
	f := newReadingsFixture(t)
	paris, err := time.LoadLocation("Europe/Paris")
	mustf(t, err, "zone")
	for _, interval := range []api.Interval{api.IntervalMinute, api.Interval10Minutes, api.IntervalHour, api.IntervalDay} {
		t.Run(string(interval), func(t *testing.T) {
			// An unaligned start makes the first bucket partial, as documented.
			from := f.from + 25*60_000
			want := aggregates(f.g, from, f.to, interval, paris)
			params := []string{"device", f.dev.Device.ID, "from", rfc3339(from), "to", f.toS, "interval", string(interval)}
			resp, body := f.ts.get(readingsPath(append(params, "format", "csv")...), f.analystToken, "")
			if resp.StatusCode != 200 {
				t.Fatalf("csv: %d %s", resp.StatusCode, body)
			}
			checkAggregates(t, "csv", parseAggregateCSV(t, body), want, "SX-00042", interval)
			resp, body = f.ts.get(readingsPath(params...), f.analystToken, api.NDJSONContentType)
			if resp.Header.Get("Content-Type") != api.NDJSONContentType {
				t.Fatalf("ndjson: %d %s", resp.StatusCode, body)
			}
			checkAggregates(t, "ndjson", parseNDJSON[api.AggregateRow](t, body), want, "SX-00042", interval)
			var paged []api.AggregateRow
			limit := "5" // pages end inside buckets and between devices' rows
			if interval == api.IntervalMinute || interval == api.Interval10Minutes {
				limit = "97"
			}
			for _, p := range f.pages(t, f.analystToken, append(params, "limit", limit)...) {
				if p.Interval != interval || p.Readings != nil {
					t.Fatalf("page of %s: %+v", interval, p)
				}
				paged = append(paged, p.Aggregates...)
			}
			checkAggregates(t, "pages", paged, want, "SX-00042", interval)
		})
	}
	t.Run("days follow the site's clock across DST", func(t *testing.T) {
		_, body := f.ts.get(readingsPath("device", f.dev.Device.ID, "from", f.fromS, "to", f.toS, "interval", "1d", "channel", "main", "format", "csv"), f.analystToken, "")
		rows := parseAggregateCSV(t, body)
		var starts []string
		for _, r := range rows {
			starts = append(starts, r.Time.Format(time.RFC3339))
		}
		want := []string{"2026-03-27T00:00:00+01:00", "2026-03-28T00:00:00+01:00", "2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00", "2026-03-31T00:00:00+02:00"}
		if !slices.Equal(starts, want) {
			t.Fatalf("daily buckets %v, want %v", starts, want)
		}
		if !strings.Contains(string(body), "2026-03-30T00:00:00+02:00,SX-00042,main,") {
			t.Fatalf("daily buckets are not printed in the site's time: %.300s", body)
		}
	})
}

func TestReadingsAccess(t *testing.T) {
	f := newReadingsFixture(t)
	ts := f.ts
	rng := []string{"from", f.fromS, "to", f.toS, "format", "csv"}
	resp, body := ts.get(readingsPath(append([]string{"site", f.otherSite.ID}, rng...)...), f.restricted, "")
	problem(t, resp, body, api.CodeSiteForbidden)
	// A device outside the token's sites is not there for it, named by id or by serial alike:
	// the same answer, which says no more than for a device that does not exist.
	answers := map[string]string{}
	for _, device := range []string{f.otherDevice.Device.ID, "SX-00099", "dev_aaaaaaaaaaaaaaaa", "SX-12345"} {
		resp, body := ts.get(readingsPath(append([]string{"device", device}, rng...)...), f.restricted, "")
		answers[problem(t, resp, body, api.CodeNotFound).Detail] += device + " "
	}
	if len(answers) != 1 {
		t.Fatalf("a device outside the token's sites is told apart: %q", answers)
	}
	resp, _ = ts.get(readingsPath(append([]string{"device", f.dev.Device.ID}, rng...)...), f.restricted, "")
	if resp.StatusCode != 200 {
		t.Fatalf("restricted token on its own site: %d", resp.StatusCode)
	}
	// A serial names the device as an id does; one outside the token's sites is not found.
	resp, bySerial := ts.get(readingsPath(append([]string{"device", "SX-00042"}, rng...)...), f.restricted, "")
	_, byID := ts.get(readingsPath(append([]string{"device", f.dev.Device.ID}, rng...)...), f.restricted, "")
	if resp.StatusCode != 200 || !bytes.Equal(bySerial, byID) || len(bySerial) == 0 {
		t.Fatalf("by serial: %d, %d bytes, by id %d bytes", resp.StatusCode, len(bySerial), len(byID))
	}
	installer := ts.person(ts.account("Installers"), "inst@example.com", api.RoleInstaller)
	resp, body = ts.get(readingsPath(append([]string{"device", f.dev.Device.ID}, rng...)...), installer.session, "")
	if p := problem(t, resp, body, api.CodeInsufficientScope); p.Scope != api.ScopeReadingsRead {
		t.Fatalf("installer: %+v", p)
	}
	stranger := ts.person(ts.account("Other"), "x@example.com", api.RoleOwner)
	resp, body = ts.get(readingsPath(append([]string{"device", f.dev.Device.ID}, rng...)...), stranger.session, "")
	problem(t, resp, body, api.CodeNotFound)

	firstPage := f.pages(t, f.analystToken, "device", f.dev.Device.ID, "from", f.fromS, "to", f.toS, "limit", "10")
	cursor := firstPage[0].NextCursor
	bad := []struct {
		name, query, field string
	}{
		{"no site or device", "from=" + f.fromS, "site"},
		{"both", "site=" + f.site.ID + "&device=" + f.dev.Device.ID, "device"},
		{"a name for an id", "site=Paris", "site"},
		{"a serial with a space", "device=SX%2000042", "device"},
		{"bad time", "device=" + f.dev.Device.ID + "&from=yesterday", "from"},
		{"empty range", "device=" + f.dev.Device.ID + "&from=" + f.toS + "&to=" + f.fromS, "from"},
		{"unknown interval", "device=" + f.dev.Device.ID + "&interval=2h", "interval"},
		{"unknown format", "device=" + f.dev.Device.ID + "&format=xml", "format"},
		{"limit of a stream", "device=" + f.dev.Device.ID + "&format=csv&limit=5", "limit"},
		{"limit too high", "device=" + f.dev.Device.ID + "&limit=10001", "limit"},
		{"twice", "device=" + f.dev.Device.ID + "&interval=1h&interval=1d", "interval"},
		{"unknown parameter", "device=" + f.dev.Device.ID + "&tz=UTC", "tz"},
		{"forged cursor", "device=" + f.dev.Device.ID + "&cursor=AAAA", "cursor"},
		{"cursor of another query", "device=" + f.dev.Device.ID + "&from=" + f.fromS + "&to=" + f.toS + "&interval=1h&cursor=" + cursor, "cursor"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := ts.get(api.PathReadings+"?"+tt.query, f.analystToken, "")
			p := problem(t, resp, body, api.CodeValidationFailed)
			if len(p.Errors) != 1 || p.Errors[0].Field != tt.field {
				t.Fatalf("problem %+v, want field %s", p, tt.field)
			}
		})
	}
	// Every bad parameter is named at once, in the order the route checks them.
	resp, body = ts.get(api.PathReadings+"?device=SX%2000042&from=yesterday&to=later&interval=2h&format=csv&limit=5&tz=UTC&since=x", f.analystToken, "")
	p := problem(t, resp, body, api.CodeValidationFailed)
	var fields []string
	for _, e := range p.Errors {
		fields = append(fields, e.Field)
	}
	if want := []string{"since", "tz", "device", "from", "to", "interval", "limit"}; !slices.Equal(fields, want) {
		t.Fatalf("fields %v, want %v: %s", fields, want, body)
	}
	if !strings.Contains(p.Detail, "since: ") || !strings.Contains(p.Detail, "; limit: is for JSON pages") {
		t.Fatalf("detail %q", p.Detail)
	}

	// Defaults: the last 24 hours before now (nothing here: the fixture is in the past).
	resp, body = ts.get(readingsPath("device", f.dev.Device.ID), f.analystToken, "")
	if p := decode[api.ReadingsPage](t, resp, body, http.StatusOK); len(p.Readings) != 0 || p.NextCursor != "" || p.Interval != api.IntervalRaw {
		t.Fatalf("default range: %+v", p)
	}
}

func FuzzReadingsQuery(f *testing.F) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	q, _ := parseReadingsQuery(url.Values{"device": {"dev_aaaaaaaaaaaaaaaa"}}, "", now)
	cursor := encodeReadingsCursor(q, readingsCursor{deviceID: "dev_aaaaaaaaaaaaaaaa", raw: rawKey{time: 5, channel: 1, file: 7}})
	f.Add("device=dev_aaaaaaaaaaaaaaaa&cursor="+cursor, "")
	f.Add("site=sit_aaaaaaaaaaaaaaaa&from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00.5%2B01:00&interval=1d&channel=main&channel=main", "text/csv;q=0.5, */*;q=0.1")
	f.Add("device=dev_aaaaaaaaaaaaaaaa&format=json&limit=10000&interval=10m", "application/x-ndjson")
	f.Add("device=dev_aaaaaaaaaaaaaaaa&from=0001-01-01T00:00:00Z&to=9999-12-31T23:59:59.999999999Z", "application/json;q=2")
	f.Add("%zz&&;=", "text/*;q=abc")
	f.Fuzz(func(t *testing.T, raw, accept string) {
		values, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := parseReadingsQuery(values, accept, now)
		if err != nil {
			if problemFor(err).problem.Status >= 500 {
				t.Fatalf("%q: a bad query is a server error: %v", raw, err)
			}
			return
		}
		if (q.site == "") == (q.device == "") || q.fromMs >= q.toMs || !slices.Contains(api.AllIntervals, q.interval) {
			t.Fatalf("%q parsed to an invalid query %+v", raw, q)
		}
		if q.streamed() != (q.format != api.FormatJSON) || (!q.streamed() && (q.limit < 1 || q.limit > api.MaxReadingsLimit)) {
			t.Fatalf("%q: format %q limit %d", raw, q.format, q.limit)
		}
		if q.cursor != nil { // a cursor that decodes encodes back to itself
			again, err := decodeReadingsCursor(encodeReadingsCursor(q, *q.cursor), q)
			if err != nil || *again != *q.cursor {
				t.Fatalf("cursor round trip: %+v -> %+v, %v", q.cursor, again, err)
			}
		}
	})
}

// TestReadingsUnknownChannel: a channel no device of the query ever recorded is a 422 naming
// those they did, so a typo is not mistaken for a period without readings.
func TestReadingsUnknownChannel(t *testing.T) {
	f := newReadingsFixture(t)
	var names []string
	for _, c := range f.g.Schema().Channels {
		names = append(names, c.Name)
	}
	slices.Sort(names)
	resp, body := f.ts.get(readingsPath("device", "SX-00042", "from", f.fromS, "to", f.toS, "channel", "main", "channel", "mian", "format", "csv"), f.analystToken, "")
	p := problem(t, resp, body, api.CodeValidationFailed)
	want := fmt.Sprintf(`"mian": no such channel in these readings (channels recorded: %s)`, strings.Join(names, ", "))
	if len(p.Errors) != 1 || p.Errors[0].Field != "channel" || p.Errors[0].Message != want {
		t.Fatalf("errors %+v, want one on channel: %s", p.Errors, want)
	}

	// Known channels answer, even outside the range they were recorded in.
	for _, q := range [][]string{
		{"site", f.site.ID, "from", f.fromS, "to", f.toS, "channel", "main", "channel", names[len(names)-1]},
		{"device", f.dev.Device.ID, "from", "2020-01-01T00:00:00Z", "to", "2020-01-02T00:00:00Z", "channel", "main"},
	} {
		resp, body := f.ts.get(readingsPath(q...), f.analystToken, "")
		decode[api.ReadingsPage](t, resp, body, http.StatusOK)
	}
	// A device that recorded nothing yet cannot tell a typo: its answer is empty.
	fresh := f.ts.provision(f.owner.session, f.site.ID, "SX-00100")
	resp, body = f.ts.get(readingsPath("device", fresh.Device.ID, "from", f.fromS, "to", f.toS, "channel", "mian"), f.analystToken, "")
	if page := decode[api.ReadingsPage](t, resp, body, http.StatusOK); len(page.Readings) != 0 {
		t.Fatalf("a fresh device has readings: %+v", page)
	}
}
