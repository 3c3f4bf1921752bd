package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// ErrForeignURL is returned by Raw for a URL of another server than the configured one: the
// client presents its token to the configured server only.
var ErrForeignURL = errors.New("not a path of the configured server")

// RawRequest is any request to the configured server (`smartx api`).
type RawRequest struct {
	// Method is the HTTP method (default GET).
	Method string
	// Path is a path of the server, /v1/..., with an optional query. A full URL is accepted
	// only when it names the configured server.
	Path string
	// Query is added to the path's own query.
	Query url.Values
	// Header holds headers set after the client's own (Accept, Content-Type...).
	Header http.Header
	// Body is sent as it is (nil: no body).
	Body []byte
}

// SplitPath checks that p is a path of the configured server and returns the path and its
// query. "v1/sites" is taken as "/v1/sites".
func (c *Client) SplitPath(p string) (string, url.Values, error) {
	u, err := url.Parse(strings.TrimSpace(p))
	if err != nil {
		return "", nil, fmt.Errorf("path %q: %w", p, err)
	}
	if u.Scheme != "" || u.Host != "" || u.Opaque != "" {
		if !strings.EqualFold(u.Scheme, c.base.Scheme) || !strings.EqualFold(u.Host, c.base.Host) || u.User != nil {
			return "", nil, fmt.Errorf("%w: %s is not on %s: give a path such as /v1/sites (your credentials go to the configured server only)", ErrForeignURL, u.Redacted(), c.Server())
		}
	}
	path := u.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	return path, u.Query(), nil
}

// Raw sends r and returns the server's answer whatever its status, after the retries a
// request of its method allows (GET, HEAD, PUT, DELETE and OPTIONS are retried like the
// client's own requests; POST and PATCH never). The caller closes the body. Network errors
// and a foreign URL are errors.
func (c *Client) Raw(ctx context.Context, r RawRequest) (*http.Response, error) {
	method := strings.ToUpper(r.Method)
	if method == "" {
		method = http.MethodGet
	}
	path, query, err := c.SplitPath(r.Path)
	if err != nil {
		return nil, err
	}
	for k, vs := range r.Query {
		query[k] = append(query[k], vs...)
	}
	header := r.Header.Clone()
	if r.Body != nil && header.Get("Content-Type") == "" {
		if header == nil {
			header = http.Header{}
		}
		header.Set("Content-Type", "application/json")
	}
	accept := header.Get("Accept")
	if accept == "" {
		accept = "*/*"
	}
	req := request{method: method, path: path, query: query, rawBody: r.Body, header: header, accept: accept,
		idempotent: idempotentMethod(method), stream: true, anyStatus: true}
	resp, cancel, err := c.send(ctx, req)
	if err != nil {
		return nil, err
	}
	resp.Body = cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

func idempotentMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}

// cancelOnClose releases the request's context when the body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// ProblemOf reads the problem details of a non-2xx answer from its body as an *Error, whose
// message says what went wrong as the client's own errors do.
func ProblemOf(method, path string, status int, body []byte, retryAfter string) *Error {
	resp := &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(string(body)))}
	if retryAfter != "" {
		resp.Header.Set("Retry-After", retryAfter)
	}
	return readError(request{method: method, path: path}, resp)
}
