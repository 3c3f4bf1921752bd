package preflight

import (
	"context"
	"net"
	"strconv"
)

// checkHTTPS asks the platform's health endpoint over a TLS connection the
// device would accept (verified against the device's trust during the
// handshake).
func checkHTTPS(ctx context.Context, env *probeEnv) Result {
	cfg := env.cfg
	var r Result
	trust, raw, target := dialHTTPSPort(ctx, env, &r)
	if raw == nil {
		return r
	}
	defer raw.Close()
	conn, _, err := tlsHandshake(ctx, raw, cfg.Host, enforceDeviceTrust(cfg, trust))
	if laptopFault(&r, err, "the TLS handshake with "+target) {
		return r
	}
	if err != nil {
		r.Status = StatusFail
		r.Summary, r.Hint = handshakeFailure(err, cfg, target)
		r.Summary = "no TLS connection the device would accept: " + r.Summary
		r.Rule = platformRule(cfg, cfg.HTTPSPort)
		return r
	}
	defer conn.Close()
	askHealth(ctx, env.cfg, conn, "https", cfg.HTTPSPort, target, &r)
	return r
}

// checkHTTP asks the health endpoint in clear text on the legacy port.
func checkHTTP(ctx context.Context, env *probeEnv) Result {
	cfg := env.cfg
	var r Result
	target := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.HTTPPort))
	conn, addr, err := dialPlatform(ctx, env, cfg.HTTPPort)
	r.setEvidence("address", addr)
	if laptopFault(&r, err, "the connection to "+target) {
		return r
	}
	if err != nil {
		r.Status = StatusFail
		r.Summary, r.Hint = connectFailure(err, target)
		r.Rule = platformRule(cfg, cfg.HTTPPort)
		return r
	}
	defer conn.Close()
	askHealth(ctx, cfg, conn, "http", cfg.HTTPPort, target, &r)
	return r
}

// askHealth sends GET on the health path over conn and judges the answer into r (port 80 is
// the legacy devices' clear-text path).
func askHealth(ctx context.Context, cfg Config, conn net.Conn, scheme string, port int, target string, r *Result) {
	rep, err := fetchHealth(ctx, conn, scheme, cfg.Host, port, cfg.HealthPath)
	if laptopFault(r, err, "GET "+cfg.HealthPath+" to "+target) {
		return
	}
	if err != nil {
		r.Status = StatusFail
		s, hint := connectFailure(err, target)
		r.Summary = "no answer to GET " + cfg.HealthPath + ": " + s
		r.Hint = hint
		r.Rule = platformRule(cfg, port)
		return
	}
	evaluateHealth(rep, cfg, scheme == "http", r)
}
