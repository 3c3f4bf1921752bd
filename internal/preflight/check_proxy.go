package preflight

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/smart-impulse/smartx/internal/errtext"
)

// bufferedConn hands out bytes a bufio.Reader already read past the proxy's
// CONNECT answer before reading from the connection again.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// checkProxy goes to the platform the way a device configured with the
// proxy does: CONNECT host:https-port, TLS 1.2 through the tunnel (verified
// and checked for inspection like the tls check), then the health GET.
func checkProxy(ctx context.Context, env *probeEnv) Result {
	cfg := env.cfg
	var r Result
	p, err := parseProxyURL(cfg.Proxy)
	if err != nil {
		r.Status, r.Reason = StatusError, "invalid proxy: "+err.Error()
		r.Summary, r.Hint = r.Reason, "give the proxy as http://host:port"
		return r
	}
	shown := redactURL(cfg.Proxy)
	r.setEvidence("proxy", shown)
	r.setEvidence("proxy_auth", "none")
	if p.HasAuth {
		r.setEvidence("proxy_auth", "basic (credentials from the proxy URL, not shown)")
	}
	trust := env.trustStores()
	if trust.err != nil {
		r.Status = StatusError
		r.Reason = errtext.Of(trust.err)
		r.Summary = "cannot load the certificates to verify against: " + r.Reason
		r.Hint = "check ca-file, or this laptop's certificate store"
		return r
	}
	proxyAddr := net.JoinHostPort(p.Host, strconv.Itoa(p.Port))
	proxyIP, proxyName := addressAndName(p.Host)
	proxyRule := Flow{Protocol: "TCP", Destination: proxyIP, FQDN: proxyName, Port: p.Port}.Rule()
	unreachable := func(err error) Result {
		if laptopFault(&r, err, "the connection to the proxy "+proxyAddr) {
			return r
		}
		s, _ := connectFailure(err, "proxy "+proxyAddr)
		r.Status = StatusFail
		r.Summary = s
		r.Hint = "check the proxy address and port with IT; the device must be allowed to reach the proxy"
		r.Rule = proxyRule
		return r
	}

	start := time.Now()
	conn, _, err := env.dialHost(ctx, p.Host, p.Port)
	if err != nil {
		return unreachable(err)
	}
	defer conn.Close()
	r.setMetric("proxy_connect_ms", ms(time.Since(start)))
	if p.TLS {
		tc := tls.Client(conn, &tls.Config{ServerName: p.Host, RootCAs: trust.device, MinVersion: tls.VersionTLS12, Time: cfg.Clock})
		if err := tc.HandshakeContext(ctx); err != nil {
			r.Status = StatusFail
			if laptopFault(&r, err, "the TLS handshake with the proxy "+proxyAddr) {
				return r
			}
			r.Summary = "TLS to the proxy " + proxyAddr + " failed: " + errtext.Of(err)
			r.Hint = "the device must trust the proxy's certificate: give its CA with ca-file, or use the proxy's http:// address"
			return r
		}
		conn = tc
	}
	stop := bindDeadline(ctx, conn)
	defer stop()

	// CONNECT host:port, with Basic credentials from the URL when given.
	target := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.HTTPSPort))
	req := &http.Request{
		Method: http.MethodConnect,
		URL:    &url.URL{Opaque: target},
		Host:   target,
		Header: http.Header{"User-Agent": {"smartx-preflight/1"}},
	}
	if p.HasAuth {
		token := base64.StdEncoding.EncodeToString([]byte(p.User + ":" + p.Password))
		req.Header.Set("Proxy-Authorization", "Basic "+token)
	}
	start = time.Now()
	if err := req.Write(conn); err != nil {
		return unreachable(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return unreachable(err)
	}
	r.setMetric("tunnel_ms", ms(time.Since(start)))
	r.setMetric("connect_status", float64(resp.StatusCode))
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxHealthBody))
		resp.Body.Close()
		r.Status = StatusFail
		allowRule := fmt.Sprintf("allow CONNECT from %s through proxy %s to %s", deviceSource, proxyAddr, target)
		switch resp.StatusCode {
		case http.StatusProxyAuthRequired:
			r.setEvidence("proxy_authenticate", resp.Header.Get("Proxy-Authenticate"))
			if p.HasAuth {
				r.Summary = "the proxy rejected the credentials (407)"
				r.Hint = "check the proxy user and password with IT, or ask for an allow-list entry for the device"
			} else {
				r.Summary = "the proxy requires authentication (407)"
				r.Hint = "give the device proxy credentials (user:password@ in the proxy URL), or ask IT to allow-list the device without authentication"
			}
			r.Rule = allowRule + " without authentication"
		case http.StatusForbidden:
			r.Summary = "the proxy's policy forbids " + target + " (403)"
			r.Hint = "ask IT to allow CONNECT to " + target + " in the proxy policy"
			r.Rule = allowRule
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			r.Summary = fmt.Sprintf("the proxy could not reach %s (%d %s)", target, resp.StatusCode, http.StatusText(resp.StatusCode))
			r.Hint = "the proxy itself is blocked toward the platform: ask IT to open " + target + " for the proxy"
			r.Rule = platformRule(cfg, cfg.HTTPSPort) + " (from the proxy)"
		default:
			r.Summary = fmt.Sprintf("the proxy refused the tunnel (%d %s)", resp.StatusCode, http.StatusText(resp.StatusCode))
			r.Hint = "ask IT to allow CONNECT to " + target + " in the proxy policy"
			r.Rule = allowRule
		}
		return r
	}
	tunnel := net.Conn(&bufferedConn{Conn: conn, r: br})

	// TLS inside the tunnel: verdict first (inspection detection), then the
	// GET over a connection verified against the device's trust.
	tlsConn, elapsed, err := tlsHandshake(ctx, tunnel, cfg.Host, nil)
	if laptopFault(&r, err, "the TLS handshake with "+target+" through the proxy") {
		return r
	}
	if err != nil {
		r.Status = StatusFail
		s, hint := handshakeFailure(err, cfg, target+" through the proxy")
		r.Summary, r.Hint = s, hint
		r.setEvidence("error", errtext.Of(err))
		return r
	}
	cs := tlsConn.ConnectionState()
	a := analyseChain(cs.PeerCertificates, cfg, trust)
	setTLSEvidence(&r, cs, a, elapsed)
	status, summary, hint, rule := chainVerdict(a, cfg)
	if a.deviceErr != nil {
		r.Status, r.Summary, r.Hint, r.Rule = status, "through the proxy: "+summary, hint, rule
		return r
	}
	rep, err := fetchHealth(ctx, tlsConn, "https", cfg.Host, cfg.HTTPSPort, cfg.HealthPath)
	if laptopFault(&r, err, "GET "+cfg.HealthPath+" through the proxy") {
		return r
	}
	if err != nil {
		s, hint := connectFailure(err, target+" through the proxy")
		r.Status, r.Summary, r.Hint = StatusFail, "no answer to GET "+cfg.HealthPath+": "+s, hint
		return r
	}
	evaluateHealth(rep, cfg, false, &r)
	if r.Status == StatusOK {
		r.Summary = "through " + shown + ": " + r.Summary
	}
	if status.severity() > r.Status.severity() {
		r.Status, r.Summary, r.Hint, r.Rule = status, "through the proxy: "+summary, hint, rule
	}
	return r
}
