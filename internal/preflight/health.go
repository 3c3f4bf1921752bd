package preflight

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// maxHealthBody bounds how much of an answer is read: enough for a JSON
// health document or a block page's title.
const maxHealthBody = 64 << 10

// healthReply is the platform's (or an impostor's) answer to the health GET.
type healthReply struct {
	url      *url.URL
	status   int
	header   http.Header
	body     []byte
	elapsed  time.Duration
	location *url.URL
}

// bindDeadline makes conn honour ctx: its deadline, and its cancellation
// (which pushes the deadline into the past). The returned func releases
// the cancellation hook.
func bindDeadline(ctx context.Context, conn net.Conn) func() bool {
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	return context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
}

// hostPort omits the default port, as browsers and devices do in Host.
func hostPort(host string, port, defaultPort int) string {
	if port == defaultPort {
		if strings.Contains(host, ":") {
			return "[" + host + "]"
		}
		return host
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// fetchHealth sends GET path to host over conn (plain or TLS) and reads the
// answer. It never follows redirects: they are evidence.
func fetchHealth(ctx context.Context, conn net.Conn, scheme, host string, port int, path string) (healthReply, error) {
	stop := bindDeadline(ctx, conn)
	defer stop()
	defaultPort := 80
	if scheme == "https" {
		defaultPort = 443
	}
	u, err := url.Parse(scheme + "://" + hostPort(host, port, defaultPort) + path)
	if err != nil {
		return healthReply{}, fmt.Errorf("build health URL: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return healthReply{}, fmt.Errorf("build health request: %w", err)
	}
	req.Header.Set("User-Agent", "smartx-preflight/1")
	req.Header.Set("Accept", "application/json")
	req.Close = true

	start := time.Now()
	if err := req.Write(conn); err != nil {
		return healthReply{}, fmt.Errorf("send GET %s: %w", u.Path, err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return healthReply{}, fmt.Errorf("read answer to GET %s: %w", u.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxHealthBody))
	elapsed := time.Since(start)
	if err != nil && len(body) == 0 && resp.StatusCode == http.StatusOK {
		return healthReply{}, fmt.Errorf("read body of GET %s: %w", u.Path, err)
	}
	rep := healthReply{url: u, status: resp.StatusCode, header: resp.Header, body: body, elapsed: elapsed}
	if loc := resp.Header.Get("Location"); loc != "" {
		if lu, err := u.Parse(loc); err == nil {
			rep.location = lu
		}
	}
	return rep, nil
}

// proxyHeaderNames are response headers added by caches and filtering
// proxies, not by the platform.
var proxyHeaderNames = [...]string{"Via", "X-Cache", "X-Cache-Lookup", "X-Squid-Error", "X-Bluecoat-Via", "X-Proxy-Cache", "Proxy-Connection"}

// proxyHeaders lists the proxy headers present, as "Name: value; ...".
func proxyHeaders(h http.Header) string {
	var found []string
	for _, name := range proxyHeaderNames {
		if v := h.Get(name); v != "" {
			found = append(found, name+": "+v)
		}
	}
	return strings.Join(found, "; ")
}

var titlePattern = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)

// pageTitle extracts an HTML page's title, whitespace collapsed, shortened.
func pageTitle(body []byte) string {
	m := titlePattern.FindSubmatch(body)
	if m == nil {
		return ""
	}
	title := strings.Join(strings.Fields(string(m[1])), " ")
	if len(title) > 120 {
		title = title[:117] + "..."
	}
	return title
}

func mediaType(h http.Header) string {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return mt
}

func looksLikeHTML(rep healthReply) bool {
	if mediaType(rep.header) == "text/html" {
		return true
	}
	head := strings.ToLower(strings.TrimSpace(string(rep.body[:min(len(rep.body), 512)])))
	return strings.HasPrefix(head, "<!doctype html") || strings.HasPrefix(head, "<html")
}

// sameHost compares host names ignoring case and a trailing dot.
func sameHost(a, b string) bool {
	return strings.EqualFold(strings.TrimSuffix(a, "."), strings.TrimSuffix(b, "."))
}

// describePage names an HTML page by its title, for summaries.
func describePage(rep healthReply) string {
	if t := pageTitle(rep.body); t != "" {
		return fmt.Sprintf("an HTML page titled %q", t)
	}
	return "an HTML page"
}

// evaluateHealth judges the answer to the health GET. plain is true on the
// legacy HTTP port, where a redirect to HTTPS on the same host is fine and a
// transparent proxy is worth a warning.
func evaluateHealth(rep healthReply, cfg Config, plain bool, r *Result) {
	r.setMetric("status_code", float64(rep.status))
	r.setMetric("response_ms", ms(rep.elapsed))
	r.setEvidence("url", rep.url.String())
	r.setEvidence("content_type", rep.header.Get("Content-Type"))
	if rep.location != nil {
		r.setEvidence("location", rep.location.String())
	}
	if t := pageTitle(rep.body); t != "" {
		r.setEvidence("page_title", t)
	}
	proxied := proxyHeaders(rep.header)
	r.setEvidence("proxy_headers", proxied)
	portalHint := "a captive portal or filtering proxy intercepts the platform's traffic: ask IT to let " + cfg.Host + " through without authentication or filtering"
	port := cfg.HTTPSPort
	if plain {
		port = cfg.HTTPPort
	}

	switch {
	case rep.status >= 300 && rep.status < 400:
		loc := rep.location
		switch {
		case loc == nil:
			r.Status, r.Summary, r.Hint = StatusWarn, fmt.Sprintf("answered %d without a Location", rep.status), portalHint
		case plain && loc.Scheme == "https" && sameHost(loc.Hostname(), cfg.Host):
			r.Status, r.Summary = StatusOK, fmt.Sprintf("redirects to HTTPS on the same host (%d to %s)", rep.status, loc)
		case sameHost(loc.Hostname(), cfg.Host):
			r.Status, r.Summary = StatusWarn, fmt.Sprintf("unexpected redirect (%d) to %s", rep.status, loc)
			r.Hint = "the platform answered with a redirect; if it persists, tell Smart Impulse support"
		default:
			r.Status = StatusFail
			r.Summary = fmt.Sprintf("redirected (%d) to %s: captive portal or filtering proxy", rep.status, loc)
			r.Hint, r.Rule = portalHint, platformRule(cfg, port)
		}
		return
	case looksLikeHTML(rep) && rep.status != http.StatusNotFound && rep.status < 500 || rep.header.Get("X-Squid-Error") != "":
		r.Status = StatusFail
		r.Summary = fmt.Sprintf("got %s (status %d) instead of the platform's answer: captive portal or filtering proxy", describePage(rep), rep.status)
		r.Hint, r.Rule = portalHint, platformRule(cfg, port)
		return
	case rep.status == http.StatusProxyAuthRequired:
		r.Status = StatusFail
		r.Summary = "a proxy on the path asks for authentication (407)"
		r.Hint, r.Rule = "a transparent proxy intercepts this port: ask IT to let "+cfg.Host+" through without authentication", platformRule(cfg, port)
		return
	case rep.status == http.StatusUnauthorized || rep.status == http.StatusForbidden || rep.status == http.StatusUnavailableForLegalReasons:
		r.Status = StatusFail
		r.Summary = fmt.Sprintf("access denied (%d %s)", rep.status, http.StatusText(rep.status))
		r.Hint, r.Rule = portalHint, platformRule(cfg, port)
		return
	case rep.status != http.StatusOK:
		r.Status = StatusWarn
		r.Summary = fmt.Sprintf("the platform answered %d %s: the network path works, the platform side does not", rep.status, http.StatusText(rep.status))
		r.Hint = "not a network problem; if it persists, tell Smart Impulse support"
		return
	}

	var doc struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(rep.body, &doc); err != nil {
		r.Status = StatusWarn
		r.Summary = fmt.Sprintf("answered 200 with something that is not the platform's JSON (%s)", orUnknown(rep.header.Get("Content-Type")))
		r.Hint = "something on the path may rewrite answers: ask IT to let " + cfg.Host + " through unmodified"
		return
	}
	r.setEvidence("health_status", doc.Status)
	switch {
	case doc.Status != "ok":
		r.Status = StatusWarn
		r.Summary = fmt.Sprintf("the platform is reachable but reports status %q", doc.Status)
		r.Hint = "not a network problem; if it persists, tell Smart Impulse support"
	case plain && proxied != "":
		r.Status = StatusWarn
		r.Summary = "the platform answered, through a transparent proxy (" + proxied + ")"
		r.Hint = "a transparent proxy sits on port " + strconv.Itoa(cfg.HTTPPort) + ": ask IT to let " + cfg.Host + " through unmodified"
	default:
		r.Status = StatusOK
		r.Summary = fmt.Sprintf("GET %s answered 200 {\"status\":\"ok\"} in %s", rep.url.Path, roundDuration(rep.elapsed))
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "no content type"
	}
	return s
}
