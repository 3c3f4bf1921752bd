package preflight

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"github.com/smart-impulse/smartx/internal/errtext"
)

// dialPlatform connects to the platform by name like the device; when the
// name does not resolve and expect-ip is set it falls back to that address
// so the later checks still measure the path (the dns check reports the
// name problem). It returns the address used and how it was chosen.
func dialPlatform(ctx context.Context, env *probeEnv, port int) (net.Conn, string, error) {
	cfg := env.cfg
	conn, addr, err := env.dialHost(ctx, cfg.Host, port)
	if err == nil {
		return conn, addr.String(), nil
	}
	if classifyNetError(err) == failNameNotResolved && cfg.ExpectIP != "" {
		ip, perr := netip.ParseAddr(cfg.ExpectIP)
		if perr == nil {
			conn, err := env.dialAddr(ctx, netip.AddrPortFrom(ip.Unmap(), uint16(port)))
			return conn, ip.String() + " (expect-ip: the name did not resolve)", err
		}
	}
	return nil, addr.String(), err
}

// checkTLS performs the device's handshake (TLS 1.2 only, SNI = host) and
// verifies the chain twice: with the device's trust and with this laptop's.
// Nothing is sent over the connection, whatever the verdict.
func checkTLS(ctx context.Context, env *probeEnv) Result {
	cfg := env.cfg
	var r Result
	trust, raw, target := dialHTTPSPort(ctx, env, &r)
	if raw == nil {
		return r
	}
	defer raw.Close()

	conn, elapsed, err := tlsHandshake(ctx, raw, cfg.Host, nil)
	if err != nil {
		r.setMetric("handshake_ms", ms(elapsed))
		if laptopFault(&r, err, "the TLS handshake with "+target) {
			return r
		}
		r.setEvidence("error", errtext.Of(err))
		r.Status = StatusFail
		r.Summary, r.Hint = handshakeFailure(err, cfg, target)
		r.Rule = platformRule(cfg, cfg.HTTPSPort)
		return r
	}
	cs := conn.ConnectionState()
	conn.Close()
	a := analyseChain(cs.PeerCertificates, cfg, trust)
	setTLSEvidence(&r, cs, a, elapsed)
	status, summary, hint, rule := chainVerdict(a, cfg)
	r.Status, r.Summary, r.Hint, r.Rule = status, summary, hint, rule
	if status == StatusOK {
		r.Summary = fmt.Sprintf("%s with %s in %s; certificate issued by %s, valid until %s",
			r.Evidence["tls_version"], r.Evidence["cipher_suite"], roundDuration(elapsed), a.issuer,
			a.leaf.NotAfter.UTC().Format("2006-01-02"))
	}
	return r
}

// enforceDeviceTrust returns a verify callback that fails the handshake
// unless the device would accept the chain, so no request is ever sent over
// a connection the device would refuse.
func enforceDeviceTrust(cfg Config, trust trustStores) func([]*x509.Certificate) error {
	return func(certs []*x509.Certificate) error {
		return verifyChain(certs, cfg.Host, trust.device, cfg.Clock())
	}
}

// dialHTTPSPort is the common start of the tls and https checks: load the trust stores, then
// connect to the platform's HTTPS port. On failure it fills r and returns a nil connection.
func dialHTTPSPort(ctx context.Context, env *probeEnv, r *Result) (trust trustStores, raw net.Conn, target string) {
	cfg := env.cfg
	trust = env.trustStores()
	if trust.err != nil {
		r.Status = StatusError
		r.Reason = errtext.Of(trust.err)
		r.Summary = "cannot load the certificates to verify against: " + r.Reason
		r.Hint = "check ca-file, or this laptop's certificate store"
		return trust, nil, ""
	}
	target = net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.HTTPSPort))
	raw, addr, err := dialPlatform(ctx, env, cfg.HTTPSPort)
	r.setEvidence("address", addr)
	if laptopFault(r, err, "the connection to "+target) {
		return trust, nil, target
	}
	if err != nil {
		r.Status = StatusFail
		r.Summary, r.Hint = connectFailure(err, target)
		r.Rule = platformRule(cfg, cfg.HTTPSPort)
		return trust, nil, target
	}
	return trust, raw, target
}
