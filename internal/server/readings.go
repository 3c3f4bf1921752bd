package server

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"mime"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/store"
)

// readingsQuery is a parsed GET /v1/readings.
type readingsQuery struct {
	site, device string // exactly one is set
	from, to     time.Time
	fromMs, toMs int64 // [fromMs, toMs): readings are whole milliseconds
	channels     []string
	interval     api.Interval
	format       api.ReadingsFormat
	limit        int
	cursor       *readingsCursor
}

// streamed reports whether the answer is the whole range in one response.
func (q *readingsQuery) streamed() bool { return q.format != api.FormatJSON }

// bucketMs is the length of a fixed bucket in milliseconds; 0 for raw and 1d.
func (q *readingsQuery) bucketMs() int64 {
	switch q.interval {
	case api.IntervalMinute:
		return 60_000
	case api.Interval10Minutes:
		return 600_000
	case api.IntervalHour:
		return 3_600_000
	}
	return 0
}

// readingsParams are the query parameters GET /v1/readings knows.
var readingsParams = []string{"site", "device", "from", "to", "channel", "interval", "format", "limit", "cursor"}

// maxChannelFilters bounds the channel parameters of one query.
const maxChannelFilters = 64

// parseReadingsQuery checks the parameters and the Accept header of GET /v1/readings; every bad
// parameter is named at once (ValidationErrors). now defaults `to`. It never panics, whatever
// it is given (FuzzReadingsQuery).
func parseReadingsQuery(q url.Values, accept string, now time.Time) (*readingsQuery, error) {
	var checks fieldChecks
	checks.add(onlyParams(q, readingsParams...))
	for _, k := range readingsParams {
		if k != "channel" && len(q[k]) > 1 {
			checks.add(invalid(k, "must be given once"))
		}
	}
	rq := &readingsQuery{site: q.Get("site"), device: q.Get("device")}
	switch {
	case rq.site == "" && rq.device == "":
		checks.add(invalid("site", "give a site (id sit_...) or a device (id dev_... or serial)"))
	case rq.site != "" && rq.device != "":
		checks.add(invalid("device", "give a site or a device, not both"))
	case rq.site != "" && !store.ValidID(rq.site, api.PrefixSite):
		checks.add(invalid("site", "must be a site id (%s...); resolve a name with GET /v1/sites?name=", api.PrefixSite))
	case rq.device != "" && !store.ValidID(rq.device, api.PrefixDevice):
		// Not an id: a serial, so an analyst whose token holds only readings:read can name the
		// meter printed on its label.
		if err := checkSerial(rq.device); err != nil {
			checks.add(invalid("device", "must be a device id (%s...) or a serial such as SX-00042", api.PrefixDevice))
		}
	}

	var errTo, errFrom error
	if rq.to, errTo = queryTime(q, "to"); q.Get("to") == "" {
		rq.to = now
	}
	if rq.from, errFrom = queryTime(q, "from"); q.Get("from") == "" { // 0001-01-01T00:00:00Z is a time like any other: the very beginning
		rq.from = rq.to.Add(-api.DefaultReadingsSpan)
	}
	fromOK, toOK := checks.add(errFrom), checks.add(errTo)
	if fromOK && toOK {
		// Readings are whole milliseconds: t >= from and t < to, rounded up for both.
		rq.fromMs, rq.toMs = ceilMillis(rq.from), ceilMillis(rq.to)
		switch {
		case !rq.from.Before(rq.to):
			checks.add(invalid("from", "must be before to"))
		case rq.fromMs >= rq.toMs:
			checks.add(invalid("from", "the range holds no whole millisecond"))
		}
	}

	if len(q["channel"]) > maxChannelFilters {
		checks.add(invalid("channel", "at most %d channels", maxChannelFilters))
	} else {
		for _, c := range q["channel"] {
			if !checks.add(checkText("channel", c, 64)) {
				break
			}
			if !slices.Contains(rq.channels, c) {
				rq.channels = append(rq.channels, c)
			}
		}
		slices.Sort(rq.channels)
	}

	rq.interval = api.IntervalRaw
	if v := q.Get("interval"); v != "" {
		rq.interval = api.Interval(v)
		if !slices.Contains(api.AllIntervals, rq.interval) {
			checks.add(invalid("interval", "must be raw, 1m, 10m, 1h or 1d"))
		}
	}

	formatOK := true
	if v := q.Get("format"); v != "" {
		rq.format = api.ReadingsFormat(v)
		if rq.format != api.FormatJSON && rq.format != api.FormatCSV && rq.format != api.FormatNDJSON {
			formatOK = checks.add(invalid("format", "must be csv, ndjson or json"))
		}
	} else {
		var err error
		rq.format, err = negotiate(accept)
		formatOK = checks.add(err)
	}

	if formatOK && rq.streamed() {
		for _, k := range []string{"limit", "cursor"} {
			if q.Get(k) != "" {
				checks.add(invalid(k, "is for JSON pages: a %s export streams the whole range in one response", rq.format))
			}
		}
		if err := checks.err(); err != nil {
			return nil, err
		}
		return rq, nil
	}
	rq.limit = api.DefaultReadingsLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > api.MaxReadingsLimit {
			checks.add(invalid("limit", "must be a number from 1 to %d", api.MaxReadingsLimit))
		}
		rq.limit = n
	}
	// A cursor is bound to the whole query: it is checked only once the rest is right.
	if v := q.Get("cursor"); v != "" && checks.ok() {
		c, err := decodeReadingsCursor(v, rq)
		if errors.Is(err, store.ErrInvalidCursor) {
			err = invalid("cursor", "not a cursor from this query")
		}
		checks.add(err)
		rq.cursor = c
	}
	if err := checks.err(); err != nil {
		return nil, err
	}
	return rq, nil
}

// ceilMillis returns t in Unix milliseconds, rounded up.
func ceilMillis(t time.Time) int64 {
	ms := t.UnixMilli()
	if time.UnixMilli(ms).Before(t) {
		ms++
	}
	return ms
}

// negotiate picks the representation of the Accept header: the acceptable type with the highest
// quality, JSON when the header is absent or accepts anything.
func negotiate(accept string) (api.ReadingsFormat, error) {
	if strings.TrimSpace(accept) == "" {
		return api.FormatJSON, nil
	}
	offers := []struct {
		mediaType string
		format    api.ReadingsFormat
	}{
		{api.JSONContentType, api.FormatJSON},
		{api.CSVContentType, api.FormatCSV},
		{api.NDJSONContentType, api.FormatNDJSON},
	}
	best, bestQ, bestSpecific := api.ReadingsFormat(""), 0.0, -1
	for _, r := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(r))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(v, 64); err != nil || q < 0 || q > 1 {
				continue
			}
		}
		if q == 0 {
			continue
		}
		for _, o := range offers {
			specific := -1
			switch {
			case mt == o.mediaType:
				specific = 2
			case mt == "*/*":
				specific = 0
			case strings.HasSuffix(mt, "/*") && strings.HasPrefix(o.mediaType, strings.TrimSuffix(mt, "*")):
				specific = 1
			}
			if specific < 0 {
				continue
			}
			if q > bestQ || q == bestQ && specific > bestSpecific {
				best, bestQ, bestSpecific = o.format, q, specific
			}
		}
	}
	if best == "" {
		return "", newProblemError(api.CodeNotAcceptable,
			"GET /v1/readings answers application/json, text/csv or application/x-ndjson (or use format=json|csv|ndjson)")
	}
	return best, nil
}

// readingsCursor resumes a JSON listing after the last row of the previous page: in the device
// with that id, after the raw reading with that key, or after the first rows of an aggregate
// bucket. It is bound to the query it came from.
type readingsCursor struct {
	deviceID string
	raw      rawKey // interval raw
	bucket   int64  // aggregates: the bucket start, Unix ms
	rows     int    // aggregates: rows of that bucket already returned
}

// rawKey orders a device's readings totally: by time, channel index, file, part of the file's
// channel, and position in it. Two readings never share a key, so a cursor resumes exactly.
type rawKey struct {
	time    int64
	channel int
	file    uint64
	part    int
	index   int
}

func (k rawKey) less(o rawKey) bool {
	switch {
	case k.time != o.time:
		return k.time < o.time
	case k.channel != o.channel:
		return k.channel < o.channel
	case k.file != o.file:
		return k.file < o.file
	case k.part != o.part:
		return k.part < o.part
	}
	return k.index < o.index
}

// cursorVersion starts every readings cursor.
const cursorVersion = 1

// queryDigest binds a cursor to its query: another query with it is refused rather than
// silently skipping or repeating rows.
func queryDigest(q *readingsQuery) []byte {
	h := sha256.New()
	for _, v := range []string{q.site, q.device, strconv.FormatInt(q.fromMs, 10), strconv.FormatInt(q.toMs, 10), string(q.interval)} {
		h.Write([]byte(v))
		h.Write([]byte{0})
	}
	for _, c := range q.channels {
		h.Write([]byte(c))
		h.Write([]byte{0})
	}
	return h.Sum(nil)[:8]
}

// encodeReadingsCursor makes the opaque next_cursor of a page.
func encodeReadingsCursor(q *readingsQuery, c readingsCursor) string {
	b := []byte{cursorVersion}
	b = append(b, queryDigest(q)...)
	b = append(b, c.deviceID...)
	if q.interval == api.IntervalRaw {
		b = binary.AppendVarint(b, c.raw.time)
		b = binary.AppendUvarint(b, uint64(c.raw.channel))
		b = binary.AppendUvarint(b, c.raw.file)
		b = binary.AppendUvarint(b, uint64(c.raw.part))
		b = binary.AppendUvarint(b, uint64(c.raw.index))
	} else {
		b = binary.AppendVarint(b, c.bucket)
		b = binary.AppendUvarint(b, uint64(c.rows))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeReadingsCursor reverses encodeReadingsCursor for the same query; anything else is
// store.ErrInvalidCursor.
func decodeReadingsCursor(s string, q *readingsQuery) (*readingsCursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 1+8+deviceIDLen || b[0] != cursorVersion || string(b[1:9]) != string(queryDigest(q)) {
		return nil, store.ErrInvalidCursor
	}
	c := &readingsCursor{deviceID: string(b[9 : 9+deviceIDLen])}
	if !store.ValidID(c.deviceID, api.PrefixDevice) {
		return nil, store.ErrInvalidCursor
	}
	rest := b[9+deviceIDLen:]
	next := func(signed bool) (int64, bool) {
		var v int64
		var n int
		if signed {
			v, n = binary.Varint(rest)
		} else {
			var u uint64
			u, n = binary.Uvarint(rest)
			v = int64(u)
			if u > 1<<62 {
				return 0, false
			}
		}
		if n <= 0 {
			return 0, false
		}
		rest = rest[n:]
		return v, true
	}
	ok := true
	take := func(signed bool) int64 {
		v, good := next(signed)
		ok = ok && good
		return v
	}
	if q.interval == api.IntervalRaw {
		c.raw = rawKey{time: take(true), channel: int(take(false)), file: uint64(take(false)), part: int(take(false)), index: int(take(false))}
	} else {
		c.bucket, c.rows = take(true), int(take(false))
	}
	if !ok || len(rest) != 0 {
		return nil, store.ErrInvalidCursor
	}
	return c, nil
}
