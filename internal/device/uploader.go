package device

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/buildinfo"
	"github.com/smart-impulse/smartx/internal/errtext"
)

// Errors of uploads, in Stats.LastError and events.
var (
	// ErrCredentialRefused: the platform answered 401 or 403; uploads stop, spooling goes on.
	ErrCredentialRefused = errors.New("upload credential refused")
	// ErrFileRejected: the platform refused a file (corrupt, conflicting sequence, too big).
	ErrFileRejected = errors.New("file rejected by the platform")
	// ErrServerNotTrusted: the TLS handshake failed the device's checks (certificate not
	// signed by the pinned CA, wrong name, TLS older than 1.2).
	ErrServerNotTrusted = errors.New("server not trusted")
	// ErrServerUnreachable: the request did not get an answer (network error, timeout).
	ErrServerUnreachable = errors.New("server unreachable")
	// ErrServerBusy: the platform answered 429 or 5xx, or something unexpected; retried.
	ErrServerBusy = errors.New("platform could not take the upload")
	// ErrNetworkDown: a simulated outage.
	ErrNetworkDown = errors.New("network down (simulated outage)")
)

// maxAnswerSize bounds the answer bodies the uploader reads.
const maxAnswerSize = 64 << 10

// outcomeKind classifies the answer to one request.
type outcomeKind int

const (
	outcomeAck       outcomeKind = iota // acknowledged (file or losses)
	outcomeReject                       // the file is refused for good: rejected/
	outcomeRefused                      // 401/403: stop uploading
	outcomeRetry                        // try again after a backoff
	outcomeLinkDown                     // simulated outage: wait for the link
	outcomePermanent                    // losses report refused for good (4xx): retry much later
	outcomeCanceled                     // the run is ending
)

type outcome struct {
	kind       outcomeKind
	err        error
	retryAfter time.Duration
	ack        api.IngestResponse
	// unreachable marks a retry because the server in use could not be reached or answered
	// that it cannot serve (502, 503, 504): another of the bundle's servers may.
	unreachable bool
}

// uploader sends spooled files and loss reports, oldest first, one at a time.
type uploader struct {
	s         *Simulator
	sp        *spool
	client    *http.Client
	transport *http.Transport
	userAgent string
	// servers are the platform's base URLs in the bundle's order; current is the one in use,
	// and failovers counts the servers given up since the last answer, so that a full round
	// of unreachable servers ends in a backoff rather than a busy loop.
	servers   []string
	current   int
	failovers int

	wake     chan struct{} // a file or a loss record is ready
	linkUp   chan struct{} // a simulated outage ended
	progress chan struct{} // something left the spool, or uploads stopped (for drain)

	mu      sync.Mutex
	stopErr error // set once the credential is refused

	failures     int       // consecutive failed attempts, for the backoff
	lossFailures int       // consecutive permanent refusals of the loss report
	lossRetryAt  time.Time // Clock time before which the loss report is not retried
	connected    bool
	linkKnown    bool // connected means something: one exchange was tried
}

func newUploader(s *Simulator, sp *spool) (*uploader, error) {
	b := s.cfg.Bundle
	transport, err := NewTransport(b)
	if err != nil {
		return nil, err
	}
	var rt http.RoundTripper = transport
	if s.cfg.Transport != nil {
		rt = s.cfg.Transport(transport)
	}
	rt = &outageTransport{next: rt, s: s}
	var servers []string
	for _, u := range b.Servers() {
		servers = append(servers, strings.TrimSuffix(u, "/"))
	}
	return &uploader{
		s: s, sp: sp, transport: transport,
		client: &http.Client{
			Transport: rt,
			// A redirect would resend the credential elsewhere: the device never follows one.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		servers:   servers,
		userAgent: fmt.Sprintf("SmartX/%s (device %s; %s; simulated)", buildinfo.Version(), b.Serial, b.DeviceID),
		wake:      make(chan struct{}, 1),
		linkUp:    make(chan struct{}, 1),
		progress:  make(chan struct{}, 1),
	}, nil
}

// NewTransport returns the HTTP transport a device uses with bundle b: TLS 1.2 at least; the
// bundle's CA certificates as the only roots when it has some (the system roots otherwise);
// the bundle's proxy, if any, and never the environment's; deadlines on every step.
func NewTransport(b *Bundle) (*http.Transport, error) {
	pool, err := b.CertPool()
	if err != nil {
		return nil, err
	}
	var proxy func(*http.Request) (*url.URL, error)
	if b.Network.Proxy != "" {
		u, err := url.Parse(b.Network.Proxy)
		if err != nil {
			return nil, fmt.Errorf("provisioning bundle proxy: %w", err)
		}
		proxy = http.ProxyURL(u)
	}
	dialer := &net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 proxy,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool},
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          2,
		ForceAttemptHTTP2:     true,
	}, nil
}

func (u *uploader) close() { u.transport.CloseIdleConnections() }

// server is the base URL of the server in use.
func (u *uploader) server() string { return u.servers[u.current] }

// failover moves to the bundle's next server after the one in use could not be reached, and
// reports whether that server is still to be tried in this round.
func (u *uploader) failover() bool {
	if len(u.servers) < 2 {
		return false
	}
	u.current = (u.current + 1) % len(u.servers)
	u.failovers++
	if u.failovers < len(u.servers) {
		return true
	}
	u.failovers = 0 // every server failed: back off, then start a new round
	return false
}

func (u *uploader) fileReady() { signal(u.wake) }
func (u *uploader) linkIsUp()  { signal(u.linkUp) }

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (u *uploader) stopError() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.stopErr
}

// run uploads until ctx ends.
func (u *uploader) run(ctx context.Context) {
	for ctx.Err() == nil {
		if u.stopError() != nil {
			<-ctx.Done()
			return
		}
		if _, down := u.s.networkDown(u.simNow()); down {
			u.linkDown(ctx)
			continue
		}
		if _, losses := u.sp.counts(); losses > 0 && !u.s.clock.Now().Before(u.lossRetryAt) {
			if !u.handle(ctx, u.reportLosses(ctx), spoolFile{}, true) {
				continue
			}
		}
		f, ok := u.sp.next()
		if !ok {
			u.idle(ctx)
			continue
		}
		u.handle(ctx, u.upload(ctx, f), f, false)
	}
}

// handle acts on an outcome and reports whether the loop may go on to the next request at
// once (false after a wait or a stop).
func (u *uploader) handle(ctx context.Context, o outcome, f spoolFile, losses bool) bool {
	if !losses && o.kind != outcomeAck && o.kind != outcomeReject {
		u.sp.release()
	}
	if o.kind != outcomeRetry || !o.unreachable {
		u.failovers = 0 // a server answered
	}
	switch o.kind {
	case outcomeAck:
		u.failures = 0
		u.setConnected(true, nil)
		if losses {
			u.lossFailures, u.lossRetryAt = 0, time.Time{}
		} else if err := u.sp.acknowledged(f); err != nil {
			u.setError(err)
		}
		signal(u.progress)
		return true
	case outcomeReject:
		u.failures = 0
		u.setConnected(true, o.err)
		if err := u.sp.reject(f); err != nil {
			u.setError(err)
		}
		u.s.update(func(st *Stats) { st.FilesRejected++ })
		u.s.emit(Event{Kind: EventFileRejected, Sequence: f.Sequence, From: f.From, To: f.To, Err: o.err,
			Message: fmt.Sprintf("file %d moved to %s/: %v", f.Sequence, rejectedDirName, o.err)})
		signal(u.progress)
		return true
	case outcomeRefused:
		u.mu.Lock()
		u.stopErr = o.err
		u.mu.Unlock()
		u.setConnected(true, o.err)
		u.s.update(func(st *Stats) { st.UploadsStopped = true })
		u.s.emit(Event{Kind: EventUploadsStopped, Err: o.err, Message: o.err.Error() + "; files keep being spooled"})
		signal(u.progress)
		return false
	case outcomeLinkDown:
		return false // the loop sees the outage and waits for the link
	case outcomeCanceled:
		return false
	case outcomePermanent:
		// The platform refuses the loss report itself: keep it, send files meanwhile, and
		// try the report again later.
		u.lossFailures++
		wait := u.backoff(u.lossFailures, 0)
		u.lossRetryAt = u.s.clock.Now().Add(wait)
		u.setConnected(true, o.err)
		u.s.emit(Event{Kind: EventUploadFailed, Err: o.err, Wait: wait, Message: fmt.Sprintf("%s; loss report retried in %v", errtext.Of(o.err), wait)})
		return true
	default: // outcomeRetry
		if o.unreachable {
			if u.failover() {
				u.setConnected(false, o.err)
				u.s.emit(Event{Kind: EventUploadFailed, Sequence: f.Sequence, Err: o.err,
					Message: fmt.Sprintf("%s; trying %s", errtext.Of(o.err), u.server())})
				return false
			}
		}
		u.failures++
		wait := u.backoff(u.failures, o.retryAfter)
		u.setConnected(false, o.err)
		seq := f.Sequence
		u.s.emit(Event{Kind: EventUploadFailed, Sequence: seq, Err: o.err, Wait: wait, Message: fmt.Sprintf("%s; retry in %v", errtext.Of(o.err), wait.Round(time.Millisecond))})
		select {
		case <-u.s.clock.After(wait):
		case <-ctx.Done():
		}
		return false
	}
}

// backoff returns the wait after the n-th consecutive failure: exponential from MinBackoff,
// capped at MaxBackoff, with jitter in its upper half so that many devices do not retry in
// step; never shorter than the server's Retry-After.
func (u *uploader) backoff(n int, retryAfter time.Duration) time.Duration {
	lo, hi := u.s.cfg.MinBackoff, u.s.cfg.MaxBackoff
	d := lo
	for i := 1; i < n && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	var b [8]byte
	if _, err := io.ReadFull(u.s.random, b[:]); err == nil && d > 1 {
		half := d / 2
		d = half + time.Duration(binary.BigEndian.Uint64(b[:])%uint64(d-half+1))
	}
	return max(d, min(retryAfter, maxRetryAfter))
}

// linkDown records the outage and waits for the link to come back: the simulator knows when,
// so it does not poll a network that cannot answer.
func (u *uploader) linkDown(ctx context.Context) {
	o, _ := u.s.networkDown(u.simNow())
	err := fmt.Errorf("%w from %s for %v: files stay spooled", ErrNetworkDown, o.Start.Format(time.RFC3339), o.Duration)
	u.setConnected(false, err)
	select {
	case <-u.linkUp:
	case <-ctx.Done():
	}
}

// idle waits for a new file, or for the time to retry a refused loss report.
func (u *uploader) idle(ctx context.Context) {
	var retry <-chan time.Time
	if _, losses := u.sp.counts(); losses > 0 {
		retry = u.s.clock.After(max(u.lossRetryAt.Sub(u.s.clock.Now()), time.Millisecond))
	}
	select {
	case <-u.wake:
	case <-u.linkUp:
	case <-retry:
	case <-ctx.Done():
	}
}

func (u *uploader) simNow() time.Time {
	t, _ := u.s.simc.now(u.s.clock.Now())
	return t
}

func (u *uploader) setConnected(connected bool, err error) {
	changed := connected != u.connected || !u.linkKnown
	u.connected, u.linkKnown = connected, true
	u.s.update(func(st *Stats) {
		st.Connected = connected
		st.LastError = err
		if err != nil {
			st.LastErrorAt = u.s.clock.Now()
		}
	})
	if !changed {
		return
	}
	if connected {
		u.s.emit(Event{Kind: EventConnected, Message: "connected to " + u.server()})
	} else {
		u.s.emit(Event{Kind: EventDisconnected, Err: err, Message: fmt.Sprintf("disconnected: %v", err)})
	}
}

func (u *uploader) setError(err error) {
	u.s.update(func(st *Stats) {
		st.LastError = err
		st.LastErrorAt = u.s.clock.Now()
	})
}

// upload sends one file.
func (u *uploader) upload(ctx context.Context, f spoolFile) outcome {
	data, err := os.ReadFile(filepath.Join(u.sp.dir, f.Name))
	if errors.Is(err, fs.ErrNotExist) {
		u.sp.forget(f) // removed behind our back: nothing to send
		return outcome{kind: outcomeCanceled}
	}
	if err != nil {
		return outcome{kind: outcomeRetry, err: fmt.Errorf("read spooled file %s: %w", f.Name, err)}
	}
	resp, body, o := u.post(ctx, u.server()+api.PathIngest, "application/octet-stream", data, fmt.Sprintf("file %d", f.Sequence))
	if resp == nil {
		return o
	}
	switch resp.StatusCode {
	case http.StatusOK, http.StatusCreated:
		var ack api.IngestResponse
		if err := json.Unmarshal(body, &ack); err != nil {
			return outcome{kind: outcomeRetry, err: fmt.Errorf("%w: file %d: the answer %d is not the platform's JSON (%v): check server_url", ErrServerBusy, f.Sequence, resp.StatusCode, err)}
		}
		if ack.Sequence != 0 && ack.Sequence != f.Sequence {
			return outcome{kind: outcomeRetry, err: fmt.Errorf("%w: file %d was acknowledged as sequence %d: the platform is confused, the file is kept", ErrServerBusy, f.Sequence, ack.Sequence)}
		}
		u.s.update(func(st *Stats) {
			st.FilesUploaded++
			if ack.Duplicate {
				st.FilesDuplicate++
			}
		})
		msg := fmt.Sprintf("uploaded file %d", f.Sequence)
		if ack.Duplicate {
			msg += " (the platform already had it)"
		}
		u.s.emit(Event{Kind: EventFileUploaded, Sequence: f.Sequence, From: f.From, To: f.To, Readings: int(ack.Readings), Duplicate: ack.Duplicate, Message: msg})
		return outcome{kind: outcomeAck, ack: ack}
	case http.StatusConflict, http.StatusUnprocessableEntity, http.StatusRequestEntityTooLarge:
		return outcome{kind: outcomeReject, err: fmt.Errorf("%w: file %d: %s", ErrFileRejected, f.Sequence, describeAnswer(resp, body))}
	}
	return u.failure(resp, body, fmt.Sprintf("file %d", f.Sequence))
}

// reportLosses sends every pending loss record in one request.
func (u *uploader) reportLosses(ctx context.Context) outcome {
	losses := u.sp.lossesToSend()
	data, err := json.Marshal(api.LossReport{Losses: losses})
	if err != nil {
		u.sp.lossesSent(0, false)
		return outcome{kind: outcomeRetry, err: fmt.Errorf("encode loss report: %w", err)}
	}
	resp, body, o := u.post(ctx, u.server()+api.PathIngestLosses, api.JSONContentType, data, "loss report")
	if resp == nil {
		u.sp.lossesSent(0, false)
		return o
	}
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusCreated {
		if err := u.sp.lossesSent(len(losses), true); err != nil {
			u.setError(err)
		}
		u.s.emit(Event{Kind: EventLossesReported, Losses: losses, Message: fmt.Sprintf("reported %d loss record(s) to the platform", len(losses))})
		return outcome{kind: outcomeAck}
	}
	u.sp.lossesSent(0, false)
	o = u.failure(resp, body, "loss report")
	if o.kind == outcomeRetry && resp.StatusCode >= 400 && resp.StatusCode < 500 &&
		resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusRequestTimeout {
		o.kind = outcomePermanent
	}
	return o
}

// failure classifies an answer that is neither an acknowledgement nor a rejection.
func (u *uploader) failure(resp *http.Response, body []byte, what string) outcome {
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return outcome{kind: outcomeRefused, err: fmt.Errorf("%w: the platform answered %s: the credential was revoked or the device decommissioned; provision the device again", ErrCredentialRefused, describeAnswer(resp, body))}
	}
	retryAfter := parseRetryAfter(resp.Header.Get("Retry-After"), u.s.clock.Now())
	unavailable := resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusGatewayTimeout
	return outcome{kind: outcomeRetry, retryAfter: retryAfter, unreachable: unavailable, err: fmt.Errorf("%w: %s: %s", ErrServerBusy, what, describeAnswer(resp, body))}
}

// post sends one request with the device's credentials. It returns the response and its body
// (closed), or a nil response and the outcome of the failure.
func (u *uploader) post(ctx context.Context, target, contentType string, data []byte, what string) (*http.Response, []byte, outcome) {
	reqCtx, cancel := context.WithTimeout(ctx, u.s.cfg.UploadTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(reqCtx, http.MethodPost, target, bytes.NewReader(data))
	if err != nil {
		return nil, nil, outcome{kind: outcomeRetry, err: fmt.Errorf("%s: %w", what, err)}
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+u.s.cfg.Bundle.UploadCredential)
	req.Header.Set("User-Agent", u.userAgent)
	req.Header.Set("Accept", api.JSONContentType+", "+api.ProblemContentType)
	resp, err := u.client.Do(req)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return nil, nil, outcome{kind: outcomeCanceled}
		case errors.Is(err, ErrNetworkDown):
			return nil, nil, outcome{kind: outcomeLinkDown}
		}
		return nil, nil, outcome{kind: outcomeRetry, unreachable: true, err: fmt.Errorf("%s: %w", what, u.describeTransportError(err))}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerSize))
	resp.Body.Close()
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, outcome{kind: outcomeCanceled}
		}
		return nil, nil, outcome{kind: outcomeRetry, unreachable: true, err: fmt.Errorf("%w: %s: reading the answer: %v", ErrServerUnreachable, what, err)}
	}
	return resp, body, outcome{}
}

// describeTransportError turns a failed request into a message that says what to check.
func (u *uploader) describeTransportError(err error) error {
	host := u.server()
	var unknown x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var alert tls.AlertError
	switch {
	case errors.As(err, &unknown):
		if u.s.cfg.Bundle.CACertificates != "" {
			return fmt.Errorf("%w: the certificate of %s is not signed by the certificate authority pinned in the bundle: check server_url, or provision the device again with this server's CA", ErrServerNotTrusted, host)
		}
		return fmt.Errorf("%w: the certificate of %s is not signed by an authority the system trusts: if the server uses a private CA, provision the device with its CA certificate", ErrServerNotTrusted, host)
	case errors.As(err, &hostname):
		return fmt.Errorf("%w: the certificate of %s is for another name (%v): check server_url", ErrServerNotTrusted, host, hostname.Error())
	case errors.As(err, &invalid):
		return fmt.Errorf("%w: the certificate of %s is not valid: %v", ErrServerNotTrusted, host, invalid.Error())
	case strings.Contains(err.Error(), "protocol version") || (errors.As(err, &alert) && alert == 70):
		return fmt.Errorf("%w: %s does not offer TLS 1.2 or newer, which a Smart X requires: upgrade the server's TLS settings", ErrServerNotTrusted, host)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: %s did not answer within %v", ErrServerUnreachable, host, u.s.cfg.UploadTimeout)
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	if proxy := u.s.cfg.Bundle.Network.Proxy; proxy != "" {
		return fmt.Errorf("%w: %s through the proxy %s: %s: check the proxy setting", ErrServerUnreachable, host, redactURL(proxy), errtext.Of(err))
	}
	return fmt.Errorf("%w: %s: %v", ErrServerUnreachable, host, err)
}

// describeAnswer summarises an error answer: the status and the problem details when the
// platform sent them.
func describeAnswer(resp *http.Response, body []byte) string {
	status := fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt == api.ProblemContentType || mt == api.JSONContentType {
		var p api.Problem
		if json.Unmarshal(body, &p) == nil && (p.Code != "" || p.Title != "" || p.Detail != "") {
			var b strings.Builder
			b.WriteString(status)
			if p.Code != "" {
				fmt.Fprintf(&b, " %s", p.Code)
			}
			if p.Detail != "" {
				fmt.Fprintf(&b, ": %s", oneLine(p.Detail))
			} else if p.Title != "" {
				fmt.Fprintf(&b, ": %s", oneLine(p.Title))
			}
			return b.String()
		}
	}
	return status
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// parseRetryAfter reads delta-seconds or an HTTP date; 0 when absent or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return min(time.Duration(n)*time.Second, maxRetryAfter)
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), maxRetryAfter)
	}
	return 0
}

// outageTransport fails every request during a simulated outage, as an unreachable network
// would, without sending anything.
type outageTransport struct {
	next http.RoundTripper
	s    *Simulator
}

// RoundTrip implements http.RoundTripper.
func (t *outageTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	now, _ := t.s.simc.now(t.s.clock.Now())
	if o, down := t.s.networkDown(now); down {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("%w from %s", ErrNetworkDown, o.Start.Format(time.RFC3339))
	}
	return t.next.RoundTrip(req)
}
