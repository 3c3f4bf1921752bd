package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/readings"
	"github.com/smart-impulse/smartx/internal/store"
)

// readingsDevices resolves the devices of a query, ordered by serial then id, with their
// site's time zone. A site's decommissioned devices are included: their readings stay.
func (s *Service) readingsDevices(ctx context.Context, caller store.Token, q *readingsQuery) ([]*scanDevice, error) {
	var devs []Device
	var site Site
	var err error
	if q.device != "" {
		d, err := s.readingsDevice(ctx, caller, q.device)
		if err != nil {
			return nil, err
		}
		stored, err := s.st.Site(ctx, caller.AccountID, d.SiteID)
		if err != nil {
			return nil, err
		}
		if site, err = s.openSite(ctx, stored); err != nil {
			return nil, err
		}
		devs = []Device{d}
	} else {
		if site, err = s.Site(ctx, caller, q.site); err != nil {
			return nil, err
		}
		devs, err = s.listDevices(ctx, store.DeviceFilter{AccountID: caller.AccountID, SiteID: site.ID, IncludeDecommissioned: true})
		if err != nil {
			return nil, err
		}
	}
	loc, err := time.LoadLocation(site.TimeZone)
	if err != nil {
		loc = time.UTC // checked when the site was saved; a tz database without it falls back
	}
	out := make([]*scanDevice, len(devs))
	for i, d := range devs {
		out[i] = &scanDevice{id: d.ID, serial: d.Serial, loc: loc, slotOf: map[readings.Channel]int{}}
		if st := d.Stats; st.Readings > 0 {
			out[i].first, out[i].last = st.FirstReading, st.LastReading
			out[i].recorded = true
		}
	}
	return out, nil
}

// errChannelsFound stops checkChannels' scan once every channel asked for was found.
var errChannelsFound = errors.New("every channel found")

// checkChannels refuses a query for a channel that none of its devices ever recorded, naming
// the channels they did, so a typo in a channel name is a 422 rather than an empty answer.
// It walks the devices' segments from their first reading and stops as soon as every channel
// asked for was seen (usually within the first file); only a query with an unknown channel
// reads the devices' whole history, and opens one segment per channel to learn its name.
// Devices that recorded nothing tell nothing: a query of them alone is an empty answer.
func (s *Service) checkChannels(ctx context.Context, accountID string, q *readingsQuery, devs []*scanDevice) error {
	if len(q.channels) == 0 {
		return nil
	}
	tags, err := s.channelTags(ctx, accountID, q.channels)
	if err != nil {
		return err
	}
	wanted := make(map[string]bool, len(tags))
	for _, t := range tags {
		wanted[string(t)] = true
	}
	missing := len(wanted)
	seen, labels := map[string]bool{}, map[string]string{}
	var names []string
	recorded := false
	for _, d := range devs {
		if !d.recorded {
			continue
		}
		recorded = true
		to := d.last + 1
		if d.last == math.MaxInt64 {
			to = d.last // the very last millisecond: a segment starting there is one reading, found below
		}
		err := s.st.ScanSegments(ctx, store.SegmentQuery{AccountID: accountID, DeviceID: d.id, From: d.first, To: to},
			func(stored *store.Segment) error {
				tag := string(stored.ChannelTag)
				if seen[tag] {
					return nil
				}
				seen[tag] = true
				if wanted[tag] {
					if missing--; missing == 0 {
						return errChannelsFound
					}
				}
				sg, err := s.openSegment(ctx, accountID, d.id, stored, labels)
				if err != nil {
					return err
				}
				names = append(names, sg.Name)
				return nil
			})
		if errors.Is(err, errChannelsFound) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	if !recorded {
		return nil
	}
	slices.Sort(names)
	names = slices.Compact(names)
	known := "none"
	if len(names) > 0 {
		known = strings.Join(names, ", ")
	}
	var errs ValidationErrors
	for i, t := range tags {
		if !seen[string(t)] {
			errs = append(errs, &ValidationError{Field: "channel",
				Message: fmt.Sprintf("%q: no such channel in these readings (channels recorded: %s)", q.channels[i], known)})
		}
	}
	return errs
}

// readingsDevice resolves the device of a readings query by id or by serial. A serial names the
// device in service; when none is, the one decommissioned last, whose readings stay.
func (s *Service) readingsDevice(ctx context.Context, caller store.Token, idOrSerial string) (Device, error) {
	if store.ValidID(idOrSerial, api.PrefixDevice) {
		return s.Device(ctx, caller, idOrSerial)
	}
	devs, err := s.Devices(ctx, caller, "", idOrSerial, true)
	if err != nil {
		return Device{}, err
	}
	var best Device
	for _, d := range devs {
		switch {
		case best.ID == "",
			!d.Decommissioned() && best.Decommissioned(),
			d.Decommissioned() && best.Decommissioned() && d.DecommissionedAt.After(best.DecommissionedAt):
			best = d
		}
	}
	if best.ID == "" {
		return Device{}, fmt.Errorf("device with serial %q: %w", idOrSerial, store.ErrNotFound)
	}
	return best, nil
}

// rawExport writes raw readings through readings.Exporter, so the rows are exactly those of
// `smartx decode`: time,device,channel,value,unit with the device's serial.
type rawExport struct {
	exp     *readings.Exporter
	src     *readings.Source
	dev     *scanDevice
	version int
}

func (k *rawExport) raw(d *scanDevice, slot int, key rawKey, value int64) error {
	if k.src == nil || k.dev != d || k.version != d.version {
		k.src, k.dev, k.version = k.exp.Source(d.serial, d.slots), d, d.version
	}
	return k.exp.WriteFrom(k.src, readings.Reading{Time: key.time, Channel: slot, Value: value})
}

func (k *rawExport) aggregate(*scanDevice, int, int64, int, *aggregate) error {
	return errors.New("raw export given an aggregate")
}

// aggExport writes aggregate rows: CSV (time,device,channel,mean,min,max,count,unit), NDJSON,
// or the objects of a JSON array.
type aggExport struct {
	w        *bufio.Writer
	format   api.ReadingsFormat
	interval api.Interval
	rows     int
	buf      []byte
}

// aggCSVHeader is the first line of an aggregated CSV export.
const aggCSVHeader = "time,device,channel,mean,min,max,count,unit\n"

func (k *aggExport) raw(*scanDevice, int, rawKey, int64) error {
	return errors.New("aggregate export given a raw reading")
}

func (k *aggExport) aggregate(d *scanDevice, slot int, bucket int64, _ int, a *aggregate) error {
	ch := d.slots[slot]
	t := time.UnixMilli(bucket).UTC()
	if k.interval == api.IntervalDay {
		t = t.In(d.loc) // a local day reads best with its offset: 2026-03-29T00:00:00+01:00
	}
	b := k.buf[:0]
	switch k.format {
	case api.FormatCSV:
		b = t.AppendFormat(b, time.RFC3339)
		b = append(b, ',')
		b = appendCSVText(b, d.serial)
		b = append(b, ',')
		b = appendCSVText(b, ch.Name)
		b = append(b, ',')
		b = appendMean(b, a.mean(), ch.Resolution)
		b = append(b, ',')
		b = readings.AppendValue(b, a.min, ch.Resolution)
		b = append(b, ',')
		b = readings.AppendValue(b, a.max, ch.Resolution)
		b = append(b, ',')
		b = strconv.AppendInt(b, a.count, 10)
		b = append(b, ',')
		b = appendCSVText(b, ch.Unit)
		b = append(b, '\n')
	default:
		if k.format == api.FormatJSON && k.rows > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"time":"`...)
		b = t.AppendFormat(b, time.RFC3339)
		b = append(b, `","device":`...)
		b = appendJSONText(b, d.serial)
		b = append(b, `,"channel":`...)
		b = appendJSONText(b, ch.Name)
		b = append(b, `,"mean":`...)
		b = appendMean(b, a.mean(), ch.Resolution)
		b = append(b, `,"min":`...)
		b = readings.AppendValue(b, a.min, ch.Resolution)
		b = append(b, `,"max":`...)
		b = readings.AppendValue(b, a.max, ch.Resolution)
		b = append(b, `,"count":`...)
		b = strconv.AppendInt(b, a.count, 10)
		b = append(b, `,"unit":`...)
		b = appendJSONText(b, ch.Unit)
		b = append(b, "}\n"...)
	}
	k.buf = b
	k.rows++
	_, err := k.w.Write(b)
	return err
}

// appendMean writes a mean (in steps of the resolution) in the channel's unit with three more
// decimals than the resolution has: 1234.5667 V for a 0.1 V channel.
func appendMean(dst []byte, steps float64, resolution int) []byte {
	v := steps
	for i := 0; i < resolution; i++ {
		v *= 10
	}
	for i := 0; i > resolution; i-- {
		v /= 10
	}
	return strconv.AppendFloat(dst, v, 'f', 3+max(0, -resolution), 64)
}

// appendCSVText appends s as a CSV field, quoted when it holds a separator, a quote, a line
// break or surrounding spaces (RFC 4180).
func appendCSVText(dst []byte, s string) []byte {
	if !strings.ContainsAny(s, ",\"\r\n") && (s == "" || s[0] != ' ' && s[len(s)-1] != ' ') {
		return append(dst, s...)
	}
	dst = append(dst, '"')
	dst = append(dst, strings.ReplaceAll(s, `"`, `""`)...)
	return append(dst, '"')
}

// appendJSONText appends s as a JSON string.
func appendJSONText(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return append(dst, b...)
}

// pageSink cuts a JSON page: it passes limit rows on and stops the scan at the next one, which
// proves there is a next page, remembering where the last row it passed was.
type pageSink struct {
	inner rowSink
	limit int
	rows  int
	last  readingsCursor
	more  bool
}

func (p *pageSink) raw(d *scanDevice, slot int, key rawKey, value int64) error {
	if p.rows == p.limit {
		p.more = true
		return errPageFull
	}
	p.rows++
	p.last = readingsCursor{deviceID: d.id, raw: key}
	return p.inner.raw(d, slot, key, value)
}

func (p *pageSink) aggregate(d *scanDevice, slot int, bucket int64, nth int, a *aggregate) error {
	if p.rows == p.limit {
		p.more = true
		return errPageFull
	}
	p.rows++
	p.last = readingsCursor{deviceID: d.id, bucket: bucket, rows: nth}
	return p.inner.aggregate(d, slot, bucket, nth, a)
}

// readingsPage writes one JSON page of the query into buf.
func (s *Service) readingsPage(ctx context.Context, caller store.Token, q *readingsQuery, devs []*scanDevice, buf *bytes.Buffer) error {
	bw := bufio.NewWriterSize(buf, 64<<10)
	page := &pageSink{limit: q.limit}
	field := "readings"
	if q.interval != api.IntervalRaw {
		field = "aggregates"
	}
	fmt.Fprintf(bw, `{"interval":%q,%q:`, q.interval, field)
	var exp *readings.Exporter
	if q.interval == api.IntervalRaw {
		var err error
		if exp, err = readings.NewExporter(bw, readings.ExportJSON, readings.ExportOptions{}); err != nil {
			return err
		}
		page.inner = &rawExport{exp: exp}
	} else {
		bw.WriteString("[\n")
		page.inner = &aggExport{w: bw, format: api.FormatJSON, interval: q.interval}
	}
	err := s.scanReadings(ctx, caller.AccountID, q, devs, page)
	if err != nil && !errors.Is(err, errPageFull) {
		return err
	}
	if exp != nil {
		if err := exp.Close(); err != nil {
			return err
		}
	} else {
		bw.WriteString("]\n")
	}
	next := ""
	if page.more {
		next = encodeReadingsCursor(q, page.last)
	}
	fmt.Fprintf(bw, `,"next_cursor":%q}`+"\n", next)
	return bw.Flush()
}

// flushWriter sends what the export buffered (64 KiB at a time) to the client at once, and
// gives each write the server's whole write timeout: an export lasts as long as it takes, as
// long as the client keeps reading.
type flushWriter struct {
	w     io.Writer
	rc    *http.ResponseController
	wrote bool
}

func (f *flushWriter) Write(b []byte) (int, error) {
	_ = f.rc.SetWriteDeadline(time.Now().Add(writeTimeout)) // not every writer supports deadlines
	n, err := f.w.Write(b)
	f.wrote = f.wrote || n > 0
	if err != nil {
		return n, err
	}
	if err := f.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return n, err
	}
	return n, nil
}

// streamReadings writes the whole range of the query as CSV or NDJSON, in constant memory.
func (s *Server) streamReadings(w http.ResponseWriter, r *http.Request, caller store.Token, q *readingsQuery, devs []*scanDevice) error {
	fw := &flushWriter{w: w, rc: http.NewResponseController(w)}
	contentType := api.NDJSONContentType
	if q.format == api.FormatCSV {
		contentType = api.CSVContentType + "; charset=utf-8; header=present"
	}
	w.Header().Set("Content-Type", contentType)
	var sink rowSink
	var exp *readings.Exporter
	var bw *bufio.Writer
	if q.interval == api.IntervalRaw {
		format := readings.ExportNDJSON
		if q.format == api.FormatCSV {
			format = readings.ExportCSV
		}
		var err error
		if exp, err = readings.NewExporter(fw, format, readings.ExportOptions{}); err != nil {
			return err
		}
		sink = &rawExport{exp: exp}
	} else {
		bw = bufio.NewWriterSize(fw, 64<<10)
		if q.format == api.FormatCSV {
			bw.WriteString(aggCSVHeader)
		}
		sink = &aggExport{w: bw, format: q.format, interval: q.interval}
	}
	err := s.svc.scanReadings(r.Context(), caller.AccountID, q, devs, sink)
	if err == nil {
		if exp != nil {
			err = exp.Close()
		} else {
			err = bw.Flush()
		}
	}
	if err == nil {
		return nil
	}
	if !fw.wrote {
		return err // nothing sent yet: the client gets a problem
	}
	// The status and part of the rows are out: breaking the connection is the only way left to
	// tell the client the export is incomplete.
	ri := infoFrom(r.Context())
	if !clientGone(r) {
		ri.errCode = api.CodeInternal
		s.log.Error("readings export failed midway", "request_id", ri.id, "err", err)
	}
	panic(http.ErrAbortHandler)
}
