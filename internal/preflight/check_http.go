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
	trust := env.trustStores()
	if trust.err != nil {
		r.Status = StatusError
		r.Reason = trust.err.Error()
		r.Summary = "cannot load the certificates to verify against: " + trust.err.Error()
		r.Hint = "check ca-file, or this laptop's certificate store"
		return r
	}
	target := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.HTTPSPort))
	raw, addr, err := dialPlatform(ctx, env, cfg.HTTPSPort)
	r.setEvidence("address", addr)
	if err != nil {
		r.Status = StatusFail
		r.Summary, r.Hint = connectFailure(err, target)
		r.Rule = platformRule(cfg, cfg.HTTPSPort)
		return r
	}
	defer raw.Close()
	conn, _, err := tlsHandshake(ctx, raw, cfg.Host, enforceDeviceTrust(cfg, trust))
	if err != nil {
		r.Status = StatusFail
		r.Summary, r.Hint = handshakeFailure(err, cfg, target)
		r.Summary = "no TLS connection the device would accept: " + r.Summary
		r.Rule = platformRule(cfg, cfg.HTTPSPort)
		return r
	}
	defer conn.Close()
	rep, err := fetchHealth(ctx, conn, "https", cfg.Host, cfg.HTTPSPort, cfg.HealthPath)
	if err != nil {
		r.Status = StatusFail
		s, hint := connectFailure(err, target)
		r.Summary = "no answer to GET " + cfg.HealthPath + ": " + s
		r.Hint = hint
		r.Rule = platformRule(cfg, cfg.HTTPSPort)
		return r
	}
	evaluateHealth(rep, cfg, false, &r)
	return r
}

// checkHTTP asks the health endpoint in clear text on the legacy port.
func checkHTTP(ctx context.Context, env *probeEnv) Result {
	cfg := env.cfg
	var r Result
	target := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.HTTPPort))
	conn, addr, err := dialPlatform(ctx, env, cfg.HTTPPort)
	r.setEvidence("address", addr)
	if err != nil {
		r.Status = StatusFail
		r.Summary, r.Hint = connectFailure(err, target)
		r.Rule = platformRule(cfg, cfg.HTTPPort)
		return r
	}
	defer conn.Close()
	rep, err := fetchHealth(ctx, conn, "http", cfg.Host, cfg.HTTPPort, cfg.HealthPath)
	if err != nil {
		r.Status = StatusFail
		s, hint := connectFailure(err, target)
		r.Summary = "no answer to GET " + cfg.HealthPath + ": " + s
		r.Hint = hint
		r.Rule = platformRule(cfg, cfg.HTTPPort)
		return r
	}
	evaluateHealth(rep, cfg, true, &r)
	return r
}
