// Package client is the typed HTTP client of the smartx platform API (docs/api/openapi.yaml). It
// shares its wire types with the server through internal/api, verifies the server's certificate
// (system roots plus an optional CA file; there is no insecure mode), retries what is safe to
// retry with capped exponential backoff and jitter honouring Retry-After, and turns problem
// details into errors a person can act on.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/errtext"
)

// Options configure a Client.
type Options struct {
	// Server is the platform's base URL, https://host[:port].
	Server string
	// Token is the bearer token presented on every request ("" for none).
	Token string
	// CAFile is a PEM bundle of certificate authorities trusted besides the system's.
	CAFile string
	// UserAgent names the client, with its version.
	UserAgent string
	// Timeout bounds each request that is not a stream (default 30 s); streams are bounded by
	// their context only.
	Timeout time.Duration
	// Retry says how failed requests are retried; the zero value is DefaultRetry.
	Retry RetryPolicy
	// Transport replaces the HTTP transport (tests); its TLS settings are then its own.
	Transport http.RoundTripper
}

// RetryPolicy is capped exponential backoff with full jitter: attempt n waits a random time in
// [0, min(Max, Base·2ⁿ)], or what the server's Retry-After says.
type RetryPolicy struct {
	// Attempts is the total number of tries, the first included (default 4).
	Attempts int
	// Base and Max bound the backoff (defaults 250 ms and 8 s).
	Base, Max time.Duration
	// MaxRetryAfter is the longest Retry-After the client waits; a longer one fails at once
	// with the wait in the message (default 60 s).
	MaxRetryAfter time.Duration
	// Sleep waits (tests make it instant); nil waits on a timer or the context.
	Sleep func(ctx context.Context, d time.Duration) error
}

// DefaultRetry is the policy used when Options.Retry is zero.
var DefaultRetry = RetryPolicy{Attempts: 4, Base: 250 * time.Millisecond, Max: 8 * time.Second, MaxRetryAfter: time.Minute}

// Client talks to one platform server.
type Client struct {
	base    *url.URL
	token   string
	ua      string
	timeout time.Duration
	retry   RetryPolicy
	hc      *http.Client
}

// New checks the options and returns a client. The server must be an https URL: the platform
// is only reachable over HTTPS.
func New(o Options) (*Client, error) {
	base, err := ParseServerURL(o.Server)
	if err != nil {
		return nil, err
	}
	rt := o.Transport
	if rt == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.Proxy = http.ProxyFromEnvironment
		// No RootCAs: the system's roots, which crypto/tls loads when a certificate is first
		// verified.
		t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		t.MaxIdleConnsPerHost = 8
		// Exports are long single streams: bigger frames and windows than HTTP/2's defaults
		// let them run at the speed of the server, not of the flow control.
		t.HTTP2 = &http.HTTP2Config{MaxReadFrameSize: 1 << 20, MaxReceiveBufferPerStream: 16 << 20, MaxReceiveBufferPerConnection: 32 << 20}
		rt = t
		if o.CAFile != "" {
			// The CA file's certificates, and the system's roots only if a server needs them.
			if rt, err = newCAFileTransport(t, o.CAFile, x509.SystemCertPool); err != nil {
				return nil, err
			}
		}
	}
	r := o.Retry
	if r.Attempts == 0 {
		r.Attempts = DefaultRetry.Attempts
	}
	if r.Base == 0 {
		r.Base = DefaultRetry.Base
	}
	if r.Max == 0 {
		r.Max = DefaultRetry.Max
	}
	if r.MaxRetryAfter == 0 {
		r.MaxRetryAfter = DefaultRetry.MaxRetryAfter
	}
	if r.Sleep == nil {
		r.Sleep = sleep
	}
	timeout := o.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	ua := o.UserAgent
	if ua == "" {
		ua = "smartx"
	}
	return &Client{base: base, token: o.Token, ua: ua, timeout: timeout, retry: r,
		hc: &http.Client{Transport: rt, CheckRedirect: noRedirects}}, nil
}

// ErrBadServerURL is wrapped by every error of ParseServerURL.
var ErrBadServerURL = errors.New("bad server URL")

// ParseServerURL checks a platform server URL and returns it without a trailing slash. It must
// be https://host[:port] and nothing more: the API lives at the root of the server, so a path
// (often a pasted https://host/v1/health), a query, a fragment or a user name is a mistake
// the error names, with the URL to use instead.
func ParseServerURL(s string) (*url.URL, error) {
	if s == "" {
		return nil, ErrNoServer
	}
	bad := func(format string, args ...any) error {
		return &badServerURL{msg: fmt.Sprintf(format, args...)}
	}
	if !strings.Contains(s, "://") {
		return nil, bad("server %q has no scheme: use https://%s", s, strings.TrimRight(s, "/"))
	}
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.Host == "" {
		return nil, bad("server %q is not a URL: use https://host[:port]", s)
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		return nil, bad("server %q: smartx talks to the platform over HTTPS only: use https://%s", s, u.Host)
	default:
		return nil, bad("server %q: unsupported scheme %q: use https://%s", s, u.Scheme, u.Host)
	}
	clean := url.URL{Scheme: "https", Host: u.Host}
	switch {
	case u.User != nil:
		return nil, bad("server %q must not carry a user name or password: use %s and log in with `smartx auth login`", u.Redacted(), clean.String())
	case strings.Trim(u.Path, "/") != "":
		return nil, bad("server %q has a path (%s): give the server's base URL, %s", s, u.Path, clean.String())
	case u.RawQuery != "" || u.Fragment != "":
		return nil, bad("server %q has a query or fragment: give the server's base URL, %s", s, clean.String())
	}
	return &clean, nil
}

// badServerURL says what is wrong with a server URL; it matches ErrBadServerURL.
type badServerURL struct{ msg string }

func (e *badServerURL) Error() string        { return e.msg }
func (e *badServerURL) Is(target error) bool { return target == ErrBadServerURL }

// ErrNoServer is returned when no server URL was configured.
var ErrNoServer = errors.New("no server configured: run `smartx auth login --server https://...`, or set SMARTX_SERVER or --server")

// Server returns the base URL the client talks to.
func (c *Client) Server() string { return c.base.String() }

// noRedirects makes a redirect an error: an API never redirects, and following one could send
// the token elsewhere.
func noRedirects(req *http.Request, via []*http.Request) error {
	return fmt.Errorf("the server redirected to %s: check the server URL (is it the platform API?)", req.URL.Redacted())
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// request is one API call.
type request struct {
	method     string
	path       string
	query      url.Values
	body       any    // JSON-encoded when not nil
	accept     string // default application/json
	idempotent bool   // safe to send again after a failure
	stream     bool   // the body is read by the caller, no timeout
	// rawBody and header, for Raw: a body sent as it is, and headers set last.
	rawBody []byte
	header  http.Header
	// anyStatus returns the final answer whatever its status instead of an error.
	anyStatus bool
}

// do sends req with retries and decodes a JSON answer into out (when not nil).
func (c *Client) do(ctx context.Context, req request, out any) error {
	resp, cancel, err := c.send(ctx, req)
	if err != nil {
		return err
	}
	defer cancel()
	defer resp.Body.Close()
	if out == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(out); err != nil {
		return fmt.Errorf("%s %s: the server's answer is not the expected JSON: %w", req.method, req.path, err)
	}
	return nil
}

// send performs req, retrying network errors, 429, 502, 503 and 504 when the request is
// idempotent, and returns a 2xx response; cancel releases its timeout.
func (c *Client) send(ctx context.Context, req request) (*http.Response, context.CancelFunc, error) {
	body := req.rawBody
	if req.body != nil {
		var err error
		if body, err = json.Marshal(req.body); err != nil {
			return nil, nil, err
		}
	}
	u := *c.base
	u.Path = c.base.Path + req.path
	u.RawQuery = req.query.Encode()
	for attempt := 1; ; attempt++ {
		rctx, cancel := ctx, context.CancelFunc(func() {})
		if !req.stream {
			rctx, cancel = context.WithTimeout(ctx, c.timeout)
		}
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		hreq, err := http.NewRequestWithContext(rctx, req.method, u.String(), rd)
		if err != nil {
			cancel()
			return nil, nil, err
		}
		if body != nil {
			hreq.Header.Set("Content-Type", api.JSONContentType)
		}
		accept := req.accept
		if accept == "" {
			accept = api.JSONContentType
		}
		hreq.Header.Set("Accept", accept)
		hreq.Header.Set("User-Agent", c.ua)
		if c.token != "" {
			hreq.Header.Set("Authorization", "Bearer "+c.token)
		}
		for k, vs := range req.header {
			hreq.Header.Del(k)
			for _, v := range vs {
				hreq.Header.Add(k, v)
			}
		}
		resp, err := c.hc.Do(hreq)
		var wait time.Duration
		var fail error
		switch {
		case err != nil:
			cancel()
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			fail = c.networkError(req, err)
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			return resp, cancel, nil
		case req.anyStatus && !c.willRetry(req, resp, attempt):
			return resp, cancel, nil
		default:
			apiErr := readError(req, resp)
			resp.Body.Close()
			cancel()
			if !retryableStatus(resp.StatusCode) {
				return nil, nil, apiErr
			}
			fail, wait = apiErr, apiErr.RetryAfter
		}
		if !req.idempotent || attempt >= c.retry.Attempts {
			return nil, nil, fail
		}
		if wait > c.retry.MaxRetryAfter {
			return nil, nil, fail
		}
		if wait == 0 {
			wait = c.backoff(attempt)
		}
		if err := c.retry.Sleep(ctx, wait); err != nil {
			return nil, nil, err
		}
	}
}

// willRetry says whether send tries again after the answer resp to attempt.
func (c *Client) willRetry(req request, resp *http.Response, attempt int) bool {
	return retryableStatus(resp.StatusCode) && req.idempotent && attempt < c.retry.Attempts &&
		parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()) <= c.retry.MaxRetryAfter
}

// backoff returns a full-jitter wait for the given attempt (1-based).
func (c *Client) backoff(attempt int) time.Duration {
	ceiling := c.retry.Base << min(attempt-1, 20)
	if ceiling > c.retry.Max || ceiling <= 0 {
		ceiling = c.retry.Max
	}
	return time.Duration(rand.Int64N(int64(ceiling) + 1))
}

func retryableStatus(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// networkError explains a failure to talk to the server at all.
func (c *Client) networkError(req request, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var cve *tls.CertificateVerificationError
	var uae x509.UnknownAuthorityError
	var hne x509.HostnameError
	var inv x509.CertificateInvalidError
	switch {
	case errors.As(err, &uae) || (errors.As(err, &cve) && errors.As(cve.Err, &uae)):
		return &NetworkError{Server: c.Server(), Err: err, Hint: "the server's certificate is signed by an authority smartx does not trust: give its CA with --ca-file or SMARTX_CA_FILE"}
	case errors.As(err, &hne):
		return &NetworkError{Server: c.Server(), Err: err, Hint: "the server's certificate is for another name: check the server URL"}
	case errors.As(err, &inv):
		return &NetworkError{Server: c.Server(), Err: err, Hint: "the server's certificate is not valid (expired?): tell its operator"}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &NetworkError{Server: c.Server(), Err: err, Hint: "no answer in time: check the network, then try again"}
	}
	return &NetworkError{Server: c.Server(), Err: err, Hint: "is the server running and the URL right? (--server, SMARTX_SERVER or the profile)"}
}

// NetworkError is a failure to reach the server or to trust it.
type NetworkError struct {
	Server string
	Err    error
	Hint   string
}

// Error implements error.
func (e *NetworkError) Error() string {
	return fmt.Sprintf("cannot reach %s: %s: %s", e.Server, errtext.Of(e.Err), e.Hint)
}

// Unwrap returns the cause.
func (e *NetworkError) Unwrap() error { return e.Err }

// Error is an error answer of the API, with its problem details when the server sent them.
type Error struct {
	Method, Path string
	Status       int
	Problem      api.Problem
	// RetryAfter is the server's Retry-After, when it sent one.
	RetryAfter time.Duration
}

// Code returns the problem's stable code ("" when the answer had none).
func (e *Error) Code() api.Code { return e.Problem.Code }

// selfExplained are the codes whose problem detail is the whole message: the steps of a login
// and the refusals that name their remedy.
var selfExplained = map[api.Code]bool{
	api.CodeCodeInvalid: true, api.CodeCodeExpired: true, api.CodeTooManyAttempts: true, api.CodeChallengeInvalid: true,
	api.CodeMailUnavailable: true, api.CodeUserDisabled: true, api.CodeSessionRequired: true, api.CodeForbidden: true,
}

// Error says what went wrong in words a person can act on.
func (e *Error) Error() string {
	p := e.Problem
	detail := p.Detail
	switch {
	case p.Code == api.CodeTokenExpired:
		return "your token expired: run `smartx auth login` or set SMARTX_TOKEN"
	case p.Code == api.CodeTokenRevoked:
		return "your token was revoked: run `smartx auth login` or set SMARTX_TOKEN"
	case selfExplained[p.Code] && detail != "":
		return detail // the server's words already say what happened and what to do
	case e.Status == http.StatusUnauthorized:
		msg := "the server did not accept your credentials"
		if detail != "" {
			msg += " (" + detail + ")"
		}
		return msg + ": run `smartx auth login` or set SMARTX_TOKEN"
	case p.Code == api.CodeInsufficientScope && p.Scope != "":
		return fmt.Sprintf("this token lacks the scope %s: use a token that has it (smartx token create --scope %s) or log in as a user whose role allows it", p.Scope, p.Scope)
	case e.Status == http.StatusTooManyRequests:
		if e.RetryAfter > 0 {
			return fmt.Sprintf("too many requests: the server asks to wait %s before trying again", e.RetryAfter.Round(time.Second))
		}
		return "too many requests: wait a moment and try again"
	case e.Status >= 500:
		msg := fmt.Sprintf("the server failed (%d %s)", e.Status, http.StatusText(e.Status))
		if p.Instance != "" {
			msg += ", request " + p.Instance
		}
		return msg + ": try again later; if it persists, give the request id to the platform's operator"
	}
	if detail == "" {
		detail = http.StatusText(e.Status)
	}
	for _, fe := range p.Errors {
		if line := fe.Field + ": " + fe.Message; !strings.Contains(detail, line) && !strings.Contains(detail, fe.Message) {
			detail += "; " + line
		}
	}
	switch e.Status {
	case http.StatusNotFound:
		return "not found: " + detail
	case http.StatusUnprocessableEntity:
		return "the server refused the request: " + detail
	}
	return detail
}

// readError builds an Error from a non-2xx answer.
func readError(req request, resp *http.Response) *Error {
	e := &Error{Method: req.method, Path: req.path, Status: resp.StatusCode, RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(data, &e.Problem) != nil || e.Problem.Status == 0 {
		e.Problem = api.Problem{Status: resp.StatusCode, Title: http.StatusText(resp.StatusCode)}
		if s := strings.TrimSpace(string(data)); s != "" && len(s) < 200 && !strings.HasPrefix(s, "<") {
			e.Problem.Detail = s
		}
	}
	return e
}

// parseRetryAfter reads delay-seconds or an HTTP date (RFC 9110 section 10.2.3).
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
