package readings

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// ExportFormat is a machine-readable encoding of readings.
type ExportFormat string

// The export formats, shared by `smartx decode` and the platform's readings export so both
// produce the same columns.
const (
	ExportCSV    ExportFormat = "csv"
	ExportNDJSON ExportFormat = "ndjson"
	ExportJSON   ExportFormat = "json"
	// ExportText is aligned columns for people reading a terminal; the column widths come from
	// ExportOptions (Columns, DeviceWidth), so it streams like the others.
	ExportText ExportFormat = "text"
)

// valueWidth is the width of a value column in text exports: a 12-digit reading still aligns.
const valueWidth = 12

// ExportOptions tunes an Exporter.
type ExportOptions struct {
	// Location is the time zone times are printed in; nil means UTC.
	Location *time.Location
	// Wide writes one row per device and timestamp with a column per channel (the shape pandas
	// users pivot to) instead of one row per reading. Columns lists the channels, in order.
	Wide    bool
	Columns []Channel
	// DeviceWidth is the width of the device column of a text export (the longest serial).
	DeviceWidth int
}

// Exporter writes readings as CSV, NDJSON or a JSON array, streaming: memory does not grow with
// the number of readings. Long rows are `time,device,channel,value,unit`; values are written
// exactly as measured (AppendValue), so no digit is invented or lost.
type Exporter struct {
	w      *bufio.Writer
	format ExportFormat
	opts   ExportOptions
	buf    []byte
	rows   int64

	// The last formatted time, reused: every channel of a sample shares it.
	lastTime     int64
	lastTimeText []byte
	haveTime     bool

	// Wide mode: the row being assembled.
	wideDevice string
	wideTime   int64
	wideSet    []bool
	wideValues []int64
	wideOpen   bool
	colIndex   map[string]int

	// Text mode: column widths.
	timeW, deviceW, channelW int

	fields  fieldCache
	scratch [32]byte
}

// fieldCache remembers the CSV-quoted form of the few labels an export repeats on every row
// (device serials, channel names, units): scanning each for separators costs more than the
// rest of the row. Lookups hit on string equality, which is immediate for the same string.
type fieldCache struct {
	keys   []string
	values [][]byte
}

func (c *fieldCache) csv(s string) []byte {
	for i, k := range c.keys {
		if k == s {
			return c.values[i]
		}
	}
	q := appendCSVField(nil, s)
	if len(c.keys) < 64 {
		c.keys = append(c.keys, s)
		c.values = append(c.values, q)
	}
	return q
}

// ErrWideColumns reports a reading whose channel is not one of the wide columns.
var ErrWideColumns = errors.New("channel not among the wide columns")

// NewExporter starts an export to w and writes the header (CSV) or the opening bracket (JSON).
func NewExporter(w io.Writer, format ExportFormat, opts ExportOptions) (*Exporter, error) {
	switch format {
	case ExportCSV, ExportNDJSON, ExportJSON, ExportText:
	default:
		return nil, fmt.Errorf("unknown export format %q: use csv, ndjson, json or text", format)
	}
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	e := &Exporter{w: bufio.NewWriterSize(w, 64<<10), format: format, opts: opts, buf: make([]byte, 0, 256)}
	if opts.Wide {
		if len(opts.Columns) == 0 {
			return nil, errors.New("wide export needs the list of channels")
		}
		e.colIndex = make(map[string]int, len(opts.Columns))
		for i, c := range opts.Columns {
			e.colIndex[c.Name] = i
		}
		e.wideSet = make([]bool, len(opts.Columns))
		e.wideValues = make([]int64, len(opts.Columns))
	}
	switch format {
	case ExportCSV:
		e.buf = append(e.buf[:0], "time,device,"...)
		if opts.Wide {
			for i, c := range opts.Columns {
				if i > 0 {
					e.buf = append(e.buf, ',')
				}
				e.buf = appendCSVField(e.buf, columnTitle(c))
			}
		} else {
			e.buf = append(e.buf, "channel,value,unit"...)
		}
		e.buf = append(e.buf, '\n')
		if _, err := e.w.Write(e.buf); err != nil {
			return nil, err
		}
	case ExportJSON:
		if err := e.w.WriteByte('['); err != nil {
			return nil, err
		}
	case ExportText:
		e.timeW = len(AppendTime(nil, 0, opts.Location))
		e.deviceW = max(opts.DeviceWidth, len("DEVICE"))
		e.channelW = len("CHANNEL")
		for _, c := range opts.Columns {
			e.channelW = max(e.channelW, len(c.Name))
		}
		b := e.pad(e.buf[:0], "TIME", e.timeW)
		b = e.pad(b, "DEVICE", e.deviceW)
		if opts.Wide {
			for _, c := range opts.Columns {
				// The name is a title; the unit keeps its case: "MAIN_ENERGY [Wh]", not "[WH]".
				title := strings.ToUpper(c.Name) + strings.TrimPrefix(columnTitle(c), c.Name)
				b = e.padLeft(b, title, max(valueWidth, len(title)))
			}
		} else {
			b = e.pad(b, "CHANNEL", e.channelW)
			b = e.padLeft(b, "VALUE", valueWidth)
			b = append(b, "UNIT"...)
		}
		e.buf = b
		if err := e.endText(); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// pad appends s and spaces up to width, then the two-space column gap.
func (e *Exporter) pad(b []byte, s string, width int) []byte {
	b = append(b, s...)
	for i := len(s); i < width+2; i++ {
		b = append(b, ' ')
	}
	return b
}

// padLeft appends s right-aligned in width, then the column gap.
func (e *Exporter) padLeft(b []byte, s string, width int) []byte {
	for i := len(s); i < width; i++ {
		b = append(b, ' ')
	}
	return append(append(b, s...), ' ', ' ')
}

// endText ends a text row without the trailing blanks of its last column.
func (e *Exporter) endText() error {
	b := e.buf
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	e.buf = append(b, '\n')
	_, err := e.w.Write(e.buf)
	return err
}

// columnTitle names a wide column with its unit, e.g. "main [W]".
func columnTitle(c Channel) string {
	if c.Unit == "" {
		return c.Name
	}
	return c.Name + " [" + c.Unit + "]"
}

// Rows returns the number of rows written so far.
func (e *Exporter) Rows() int64 { return e.rows }

// Source is a device and its channels prepared for an export: the labels every row repeats are
// encoded once, so a long file's rows cost no lookups.
type Source struct {
	device   string
	channels []Channel
	csv      [][]byte // per channel: "device,name," ready to follow the time
	units    [][]byte // per channel: ",unit"
}

// Source prepares device and its channels (the schema of its files) for WriteFrom.
func (e *Exporter) Source(device string, channels []Channel) *Source {
	s := &Source{device: device, channels: channels}
	if e.format == ExportCSV && !e.opts.Wide {
		dev := appendCSVField(nil, device)
		for _, c := range channels {
			pre := append(append([]byte{','}, dev...), ',')
			pre = append(appendCSVField(pre, c.Name), ',')
			s.csv = append(s.csv, pre)
			s.units = append(s.units, appendCSVField([]byte{','}, c.Unit))
		}
	}
	return s
}

// WriteFrom adds one reading of the prepared source; r.Channel indexes its channels.
func (e *Exporter) WriteFrom(s *Source, r Reading) error {
	if s.csv == nil {
		return e.Write(s.device, s.channels[r.Channel], r)
	}
	b := e.buf[:0]
	b = append(b, e.timeText(r.Time)...)
	b = append(b, s.csv[r.Channel]...)
	b = r.AppendValue(b, s.channels[r.Channel])
	b = append(b, s.units[r.Channel]...)
	return e.endRow(b)
}

// Write adds one reading of device on channel ch.
func (e *Exporter) Write(device string, ch Channel, r Reading) error {
	if e.opts.Wide {
		return e.writeWide(device, ch, r)
	}
	b := e.startRow()
	switch e.format {
	case ExportText:
		b = e.pad(b, string(e.timeText(r.Time)), e.timeW)
		b = e.pad(b, device, e.deviceW)
		b = e.pad(b, ch.Name, e.channelW)
		b = e.padLeft(b, string(r.AppendValue(e.scratch[:0], ch)), valueWidth)
		b = append(b, ch.Unit...)
		e.buf = b
		e.rows++
		return e.endText()
	case ExportCSV:
		b = append(b, e.timeText(r.Time)...)
		b = append(b, ',')
		b = append(b, e.fields.csv(device)...)
		b = append(b, ',')
		b = append(b, e.fields.csv(ch.Name)...)
		b = append(b, ',')
		b = r.AppendValue(b, ch)
		b = append(b, ',')
		b = append(b, e.fields.csv(ch.Unit)...)
	default:
		b = append(b, `{"time":"`...)
		b = append(b, e.timeText(r.Time)...)
		b = append(b, `","device":`...)
		b = appendJSONString(b, device)
		b = append(b, `,"channel":`...)
		b = appendJSONString(b, ch.Name)
		b = append(b, `,"value":`...)
		b = r.AppendValue(b, ch)
		b = append(b, `,"unit":`...)
		b = appendJSONString(b, ch.Unit)
		b = append(b, '}')
	}
	return e.endRow(b)
}

func (e *Exporter) writeWide(device string, ch Channel, r Reading) error {
	col, ok := e.colIndex[ch.Name]
	if !ok {
		return fmt.Errorf("%w: %q (the files do not all have the same channels: decode them without --wide)", ErrWideColumns, ch.Name)
	}
	if e.wideOpen && (r.Time != e.wideTime || device != e.wideDevice) {
		if err := e.flushWide(); err != nil {
			return err
		}
	}
	if !e.wideOpen {
		e.wideOpen, e.wideDevice, e.wideTime = true, device, r.Time
		clear(e.wideSet)
	}
	e.wideSet[col], e.wideValues[col] = true, r.Value
	return nil
}

func (e *Exporter) flushWide() error {
	e.wideOpen = false
	b := e.startRow()
	switch e.format {
	case ExportText:
		b = e.pad(b, string(e.timeText(e.wideTime)), e.timeW)
		b = e.pad(b, e.wideDevice, e.deviceW)
		for i, c := range e.opts.Columns {
			v := "-"
			if e.wideSet[i] {
				v = string(AppendValue(e.scratch[:0], e.wideValues[i], c.Resolution))
			}
			b = e.padLeft(b, v, max(valueWidth, len(columnTitle(c))))
		}
		e.buf = b
		e.rows++
		return e.endText()
	case ExportCSV:
		b = append(b, e.timeText(e.wideTime)...)
		b = append(b, ',')
		b = append(b, e.fields.csv(e.wideDevice)...)
		for i, c := range e.opts.Columns {
			b = append(b, ',')
			if e.wideSet[i] {
				b = AppendValue(b, e.wideValues[i], c.Resolution)
			}
		}
	default:
		b = append(b, `{"time":"`...)
		b = append(b, e.timeText(e.wideTime)...)
		b = append(b, `","device":`...)
		b = appendJSONString(b, e.wideDevice)
		for i, c := range e.opts.Columns {
			if !e.wideSet[i] {
				continue
			}
			b = append(b, ',')
			b = appendJSONString(b, c.Name)
			b = append(b, ':')
			b = AppendValue(b, e.wideValues[i], c.Resolution)
		}
		b = append(b, '}')
	}
	return e.endRow(b)
}

func (e *Exporter) startRow() []byte {
	b := e.buf[:0]
	if e.format == ExportJSON && e.rows > 0 {
		b = append(b, ',')
	}
	if e.format == ExportJSON {
		b = append(b, '\n')
	}
	return b
}

func (e *Exporter) endRow(b []byte) error {
	if e.format != ExportJSON {
		b = append(b, '\n')
	}
	e.buf = b
	e.rows++
	_, err := e.w.Write(b)
	return err
}

// Flush writes buffered rows to the underlying writer (a streaming HTTP response flushes often).
func (e *Exporter) Flush() error { return e.w.Flush() }

// Close writes the last wide row and the closing bracket (JSON), then flushes.
func (e *Exporter) Close() error {
	if e.opts.Wide && e.wideOpen {
		if err := e.flushWide(); err != nil {
			return err
		}
	}
	if e.format == ExportJSON {
		if e.rows > 0 {
			if err := e.w.WriteByte('\n'); err != nil {
				return err
			}
		}
		if _, err := e.w.WriteString("]\n"); err != nil {
			return err
		}
	}
	return e.w.Flush()
}

// timeText formats a unix-ms time as RFC 3339 (milliseconds only when not zero).
func (e *Exporter) timeText(ms int64) []byte {
	if e.haveTime && ms == e.lastTime {
		return e.lastTimeText
	}
	e.lastTime, e.haveTime = ms, true
	e.lastTimeText = AppendTime(e.lastTimeText[:0], ms, e.opts.Location)
	return e.lastTimeText
}

// AppendTime appends a unix-ms time as RFC 3339 in loc, with milliseconds only when not zero.
// A data file may hold any int64 time, so years outside 0000..9999 are written as ISO 8601's
// expanded years (as java.time prints them): a sign, then at least four digits
// (+292278994-08-17T07:12:55.807Z, -0001-12-31T23:59:59Z); docs/export-formats.md.
func AppendTime(dst []byte, ms int64, loc *time.Location) []byte {
	t := time.UnixMilli(ms).In(loc)
	if ms > lastFourDigitYearMs && t.Year() > 9999 {
		dst = append(dst, '+') // Go writes the digits; ISO 8601 wants the sign (a negative year has its '-')
	}
	if ms%1000 == 0 {
		return t.AppendFormat(dst, time.RFC3339)
	}
	return t.AppendFormat(dst, "2006-01-02T15:04:05.000Z07:00")
}

// lastFourDigitYearMs is a day before 9999-12-31T00:00:00Z: no time zone puts an earlier time
// past the year 9999, so AppendTime asks for the year only above it.
const lastFourDigitYearMs = 253402214400000 - 86_400_000

// appendCSVField appends s, quoted as RFC 4180 requires when it holds a separator or a quote.
func appendCSVField(dst []byte, s string) []byte {
	if !strings.ContainsAny(s, ",\"\r\n") && (s == "" || (s[0] != ' ' && s[len(s)-1] != ' ')) {
		return append(dst, s...)
	}
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			dst = append(dst, '"')
		}
		dst = append(dst, s[i])
	}
	return append(dst, '"')
}

// appendJSONString appends s as a JSON string. Labels in data files are printable ASCII, but the
// platform's export also carries names typed by users, so every rune is handled.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
