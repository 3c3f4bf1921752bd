package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/errtext"
)

// ReadingsQuery selects readings: one site or one device, a time range (From inclusive, To
// exclusive), channels (none: all) and an interval (raw or an aggregate).
type ReadingsQuery struct {
	Site, Device string
	From, To     time.Time
	Channels     []string
	Interval     api.Interval
	// Limit is the page size of ReadingsPages (0: the server's default).
	Limit int
}

func (q ReadingsQuery) values() url.Values {
	v := url.Values{}
	if q.Site != "" {
		v.Set("site", q.Site)
	}
	if q.Device != "" {
		v.Set("device", q.Device)
	}
	if !q.From.IsZero() {
		v.Set("from", q.From.UTC().Format(time.RFC3339Nano))
	}
	if !q.To.IsZero() {
		v.Set("to", q.To.UTC().Format(time.RFC3339Nano))
	}
	for _, ch := range q.Channels {
		v.Add("channel", ch)
	}
	if q.Interval != "" {
		v.Set("interval", string(q.Interval))
	}
	if q.Limit > 0 {
		v.Set("limit", fmt.Sprint(q.Limit))
	}
	return v
}

// ReadingsPages iterates over the JSON pages of a query, following next_cursor.
func (c *Client) ReadingsPages(ctx context.Context, q ReadingsQuery) iter.Seq2[api.ReadingsPage, error] {
	return func(yield func(api.ReadingsPage, error) bool) {
		v := q.values()
		v.Set("format", string(api.FormatJSON))
		for {
			var page api.ReadingsPage
			if err := c.do(ctx, request{method: http.MethodGet, path: api.PathReadings, query: v, idempotent: true}, &page); err != nil {
				yield(page, err)
				return
			}
			if !yield(page, nil) || page.NextCursor == "" {
				return
			}
			v.Set("cursor", page.NextCursor)
		}
	}
}

// ErrExportChanged is returned when a broken export could not be resumed because the server's
// answer to the same query changed (readings arrived meanwhile).
var ErrExportChanged = errors.New("the export changed while it was downloading (new readings arrived): run it again")

// ReadingsStream returns the whole range as one stream in format (CSV or NDJSON), exactly as the
// server sends it. When the connection breaks mid-way the stream resumes by itself: it asks
// again and skips what was already delivered, after checking that the overlap is identical.
func (c *Client) ReadingsStream(ctx context.Context, q ReadingsQuery, format api.ReadingsFormat) (io.ReadCloser, error) {
	v := q.values()
	v.Set("format", string(format))
	accept := api.CSVContentType
	if format == api.FormatNDJSON {
		accept = api.NDJSONContentType
	}
	req := request{method: http.MethodGet, path: api.PathReadings, query: v, accept: accept, idempotent: true, stream: true}
	resp, cancel, err := c.send(ctx, req)
	if err != nil {
		return nil, err
	}
	return &resumableStream{c: c, ctx: ctx, req: req, body: resp.Body, cancel: cancel}, nil
}

// resumableStream delivers an export and reconnects after a network failure.
type resumableStream struct {
	c       *Client
	ctx     context.Context
	req     request
	body    io.ReadCloser
	cancel  context.CancelFunc
	offset  int64  // bytes delivered so far
	tail    []byte // the last bytes delivered, to check a resumed stream against
	resumes int
}

// maxResumes bounds reconnections of one export.
const maxResumes = 5

// tailSize is how much of the delivered stream is compared when resuming.
const tailSize = 4096

func (s *resumableStream) Read(p []byte) (int, error) {
	for {
		n, err := s.body.Read(p)
		if n > 0 {
			s.offset += int64(n)
			s.remember(p[:n])
		}
		if err == nil || errors.Is(err, io.EOF) || n > 0 {
			if errors.Is(err, io.EOF) {
				return n, io.EOF
			}
			return n, nil
		}
		if s.ctx.Err() != nil || s.resumes >= maxResumes {
			return 0, err
		}
		if rerr := s.resume(); rerr != nil {
			return 0, fmt.Errorf("export broke after %d bytes (%s) and could not resume: %w", s.offset, errtext.Of(err), rerr)
		}
	}
}

func (s *resumableStream) remember(b []byte) {
	if len(b) >= tailSize {
		s.tail = append(s.tail[:0], b[len(b)-tailSize:]...)
		return
	}
	s.tail = append(s.tail, b...)
	if len(s.tail) > tailSize {
		s.tail = s.tail[len(s.tail)-tailSize:]
	}
}

// resume asks for the export again and skips the bytes already delivered, checking that the
// last of them are the same.
func (s *resumableStream) resume() error {
	s.resumes++
	s.body.Close()
	s.cancel()
	if err := s.c.retry.Sleep(s.ctx, s.c.backoff(s.resumes)); err != nil {
		return err
	}
	resp, cancel, err := s.c.send(s.ctx, s.req)
	if err != nil {
		return err
	}
	s.body, s.cancel = resp.Body, cancel
	skip := s.offset - int64(len(s.tail))
	if _, err := io.CopyN(io.Discard, s.body, skip); err != nil {
		return ErrExportChanged
	}
	again := make([]byte, len(s.tail))
	if _, err := io.ReadFull(s.body, again); err != nil || !bytes.Equal(again, s.tail) {
		return ErrExportChanged
	}
	return nil
}

func (s *resumableStream) Close() error {
	err := s.body.Close()
	s.cancel()
	return err
}
