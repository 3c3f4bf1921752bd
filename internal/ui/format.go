package ui

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Format is an output format chosen with --output/-o.
type Format string

// The output formats a command may offer.
const (
	FormatTable  Format = "table"
	FormatJSON   Format = "json"
	FormatNDJSON Format = "ndjson"
	FormatCSV    Format = "csv"
)

// ParseFormat checks s against the formats a command supports; the empty string selects the
// first one (the command's default).
func ParseFormat(s string, supported ...Format) (Format, error) {
	if s == "" && len(supported) > 0 {
		return supported[0], nil
	}
	for _, f := range supported {
		if Format(strings.ToLower(s)) == f {
			return f, nil
		}
	}
	names := make([]string, len(supported))
	for i, f := range supported {
		names[i] = string(f)
	}
	return "", fmt.Errorf("unknown output format %q: use one of %s", s, strings.Join(names, ", "))
}

// WriteJSON writes v as indented JSON followed by a newline.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// NDJSONWriter writes one JSON object per line, flushing nothing itself so callers can stream.
type NDJSONWriter struct{ enc *json.Encoder }

// NewNDJSONWriter returns a writer of newline-delimited JSON to w.
func NewNDJSONWriter(w io.Writer) *NDJSONWriter {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &NDJSONWriter{enc: enc}
}

// Write encodes v on its own line.
func (n *NDJSONWriter) Write(v any) error { return n.enc.Encode(v) }

// CSVWriter writes RFC 4180 CSV with a header row.
type CSVWriter struct{ w *csv.Writer }

// NewCSVWriter returns a CSV writer to w that first writes header.
func NewCSVWriter(w io.Writer, header ...string) (*CSVWriter, error) {
	cw := &CSVWriter{w: csv.NewWriter(w)}
	if len(header) > 0 {
		if err := cw.w.Write(header); err != nil {
			return nil, err
		}
	}
	return cw, nil
}

// Write writes one record.
func (c *CSVWriter) Write(record ...string) error { return c.w.Write(record) }

// Flush writes buffered records and reports any write error.
func (c *CSVWriter) Flush() error {
	c.w.Flush()
	return c.w.Error()
}
