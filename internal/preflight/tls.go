package preflight

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net"
	"reflect"
	"strings"
	"time"

	"github.com/smart-impulse/smartx/internal/errtext"
)

// alertProtocolVersion is the TLS alert a server sends when it does not
// speak the offered version (RFC 5246 section 7.2.2).
const alertProtocolVersion = 70

// deviceTLSConfig offers exactly what the device offers: TLS 1.2 only, with
// the platform's name as SNI. Verification is done by the caller (verify),
// so the two trust stores can be told apart; a nil verify means the caller
// inspects the chain itself and sends nothing over the connection.
func deviceTLSConfig(host string, verify func([]*x509.Certificate) error) *tls.Config {
	cfg := &tls.Config{
		ServerName: host,
		MinVersion: tls.VersionTLS12,
		MaxVersion: tls.VersionTLS12,
		// Verification happens in VerifyConnection (or after the handshake
		// in the tls check) against the device's roots, not the laptop's.
		InsecureSkipVerify: true,
	}
	if verify != nil {
		cfg.VerifyConnection = func(cs tls.ConnectionState) error { return verify(cs.PeerCertificates) }
	}
	return cfg
}

// tlsHandshake runs a device-like handshake over raw and measures it.
func tlsHandshake(ctx context.Context, raw net.Conn, host string, verify func([]*x509.Certificate) error) (*tls.Conn, time.Duration, error) {
	conn := tls.Client(raw, deviceTLSConfig(host, verify))
	start := time.Now()
	err := conn.HandshakeContext(ctx)
	return conn, time.Since(start), err
}

// verifyChain verifies certs (leaf first) for host against roots at now.
func verifyChain(certs []*x509.Certificate, host string, roots *x509.CertPool, now time.Time) error {
	if len(certs) == 0 {
		return errors.New("the server sent no certificate")
	}
	intermediates := x509.NewCertPool()
	for _, c := range certs[1:] {
		intermediates.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{
		DNSName: host, Roots: roots, Intermediates: intermediates, CurrentTime: now,
	})
	return err
}

// chainAnalysis is the chain verified twice: with the device's trust and
// with this laptop's.
type chainAnalysis struct {
	leaf           *x509.Certificate
	deviceErr      error
	laptopErr      error
	issuer         string
	issuerMismatch bool
	inspection     bool
	daysLeft       float64
}

func analyseChain(certs []*x509.Certificate, cfg Config, trust trustStores) chainAnalysis {
	now := cfg.Clock()
	a := chainAnalysis{
		deviceErr: verifyChain(certs, cfg.Host, trust.device, now),
		laptopErr: verifyChain(certs, cfg.Host, trust.laptop, now),
	}
	if len(certs) == 0 {
		return a
	}
	a.leaf = certs[0]
	a.issuer = nameOf(a.leaf.Issuer.CommonName, a.leaf.Issuer.Organization)
	a.daysLeft = a.leaf.NotAfter.Sub(now).Hours() / 24
	if cfg.ExpectIssuer != "" && !issuerMatches(a.leaf, cfg.ExpectIssuer) {
		a.issuerMismatch = true
	}
	var unknown x509.UnknownAuthorityError
	onlyLaptopTrusts := a.deviceErr != nil && errors.As(a.deviceErr, &unknown) && a.laptopErr == nil
	a.inspection = onlyLaptopTrusts || a.issuerMismatch
	return a
}

// issuerMatches compares expect with the leaf's issuer common name and
// organisations, ignoring case.
func issuerMatches(leaf *x509.Certificate, expect string) bool {
	if strings.EqualFold(leaf.Issuer.CommonName, expect) {
		return true
	}
	for _, o := range leaf.Issuer.Organization {
		if strings.EqualFold(o, expect) {
			return true
		}
	}
	return false
}

// nameOf shows a distinguished name as "CN (O)".
func nameOf(cn string, orgs []string) string {
	switch {
	case cn != "" && len(orgs) > 0:
		return cn + " (" + strings.Join(orgs, ", ") + ")"
	case cn != "":
		return cn
	case len(orgs) > 0:
		return strings.Join(orgs, ", ")
	}
	return "unnamed issuer"
}

// trustText is a one-line verdict of a verification, for the evidence.
func trustText(err error) string {
	if err == nil {
		return "accepted"
	}
	return "rejected: " + errtext.Of(err)
}

// chainText lists the chain as "0: subject <- issuer; 1: ...".
func chainText(certs []*x509.Certificate) string {
	parts := make([]string, len(certs))
	for i, c := range certs {
		parts[i] = fmt.Sprintf("%d: %s <- %s", i, nameOf(c.Subject.CommonName, c.Subject.Organization),
			nameOf(c.Issuer.CommonName, c.Issuer.Organization))
	}
	return strings.Join(parts, "; ")
}

// inspectionRule is the exemption to request when TLS is intercepted.
func inspectionRule(cfg Config) string {
	target := cfg.Host
	if cfg.ExpectIP != "" && cfg.ExpectIP != cfg.Host {
		target += " (" + cfg.ExpectIP + ")"
	}
	return fmt.Sprintf("exempt %s port %d from TLS inspection (SSL decryption)", target, cfg.HTTPSPort)
}

// chainVerdict turns an analysis into status, summary, hint and rule. It is
// shared by the tls and proxy checks.
func chainVerdict(a chainAnalysis, cfg Config) (status Status, summary, hint, rule string) {
	exemptHint := "ask IT to exempt " + cfg.Host + " from TLS inspection (SSL decryption): the device cannot trust an inspection CA"
	switch {
	case a.leaf == nil:
		return StatusFail, "the server sent no certificate", "something other than the platform answers on this port: ask IT", platformRule(cfg, cfg.HTTPSPort)
	case a.inspection && a.deviceErr != nil:
		return StatusFail, fmt.Sprintf("TLS inspection detected: the certificate for %s is issued by %s, which the device does not trust", cfg.Host, a.issuer),
			exemptHint, inspectionRule(cfg)
	case a.inspection:
		return StatusWarn, fmt.Sprintf("TLS inspection detected: the certificate for %s is issued by %s, not %s; the device would still accept it", cfg.Host, a.issuer, cfg.ExpectIssuer),
			exemptHint, inspectionRule(cfg)
	case a.deviceErr != nil:
		var invalid x509.CertificateInvalidError
		var hostErr x509.HostnameError
		var unknown x509.UnknownAuthorityError
		switch {
		case errors.As(a.deviceErr, &invalid) && invalid.Reason == x509.Expired:
			if a.daysLeft < 0 {
				return StatusFail, fmt.Sprintf("the certificate presented for %s expired on %s", cfg.Host, a.leaf.NotAfter.UTC().Format(time.DateOnly)),
					"if the platform's certificate really expired, call Smart Impulse support; otherwise something on the path presents a stale certificate: ask IT", ""
			}
			return StatusFail, "a certificate in the chain is expired or not yet valid: " + invalid.Error(),
				"check this laptop's clock, then call Smart Impulse support", ""
		case errors.As(a.deviceErr, &hostErr):
			return StatusFail, fmt.Sprintf("the certificate presented is for %s, not %s", certNames(a.leaf), cfg.Host),
				"something answers in place of the platform (captive portal, proxy or wrong DNS): ask IT to let " + cfg.Host + " through untouched", inspectionRule(cfg)
		case errors.As(a.deviceErr, &unknown):
			return StatusFail, fmt.Sprintf("the certificate for %s is issued by %s, which the device does not trust", cfg.Host, a.issuer),
				"if this is not the platform's CA the connection is intercepted: ask IT to exempt " + cfg.Host + " from TLS inspection; if it is, pass its CA with ca-file",
				inspectionRule(cfg)
		default:
			return StatusFail, "the device would reject the certificate: " + a.deviceErr.Error(),
				"ask IT whether something on the path replaces the platform's certificate", inspectionRule(cfg)
		}
	case a.daysLeft < 30:
		return StatusWarn, fmt.Sprintf("the certificate for %s expires in %d days (%s)", cfg.Host, int(math.Floor(a.daysLeft)), a.leaf.NotAfter.UTC().Format(time.DateOnly)),
			"nothing to change on site; tell Smart Impulse support the platform certificate is about to expire", ""
	}
	return StatusOK, "", "", ""
}

// certNames lists the names a certificate is valid for.
func certNames(c *x509.Certificate) string {
	names := c.DNSNames
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 && c.Subject.CommonName != "" {
		names = []string{c.Subject.CommonName}
	}
	if len(names) == 0 {
		return "no name"
	}
	return strings.Join(names, ", ")
}

// isProtocolVersionRefusal recognises a server (or middlebox) that will not
// do TLS 1.2: a protocol_version alert, or a ServerHello for another version.
func isProtocolVersionRefusal(err error) bool {
	var alert tls.AlertError
	if errors.As(err, &alert) && alert == alertProtocolVersion {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "remote error" && op.Err != nil {
		// crypto/tls wraps received alerts in an unexported uint8 type.
		if v := reflect.ValueOf(op.Err); v.Kind() == reflect.Uint8 && v.Uint() == alertProtocolVersion {
			return true
		}
	}
	msg := err.Error()
	return strings.Contains(msg, "protocol version not supported") || strings.Contains(msg, "server selected unsupported protocol version")
}

// handshakeFailure names why a device-like handshake failed.
func handshakeFailure(err error, cfg Config, target string) (summary, hint string) {
	passHint := "ask IT to let TLS 1.2 to " + cfg.Host + " through without inspection or filtering"
	var rhe tls.RecordHeaderError
	if errors.As(err, &rhe) {
		if bytes.HasPrefix(rhe.RecordHeader[:], []byte("HTTP/")) {
			return "plain HTTP answered on " + target + " instead of TLS",
				"a proxy or captive portal answers in clear text on this port: " + passHint
		}
		return fmt.Sprintf("the answer on %s is not TLS (first bytes %q)", target, rhe.RecordHeader[:]),
			"something other than the platform answers on this port: " + passHint
	}
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	if errors.As(err, &unknownCA) || errors.As(err, &hostErr) || errors.As(err, &invalid) {
		return "the device would reject the certificate presented on " + target + " (" + errtext.Of(err) + ")",
			"see the tls check: the certificate is intercepted, expired or for another name"
	}
	if isProtocolVersionRefusal(err) {
		return "the server refuses TLS 1.2, the only version the device speaks (" + errtext.Of(err) + ")",
			"something on the path (or the server) does not accept TLS 1.2: " + passHint
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "remote error" {
		return "the server aborted the TLS handshake: " + op.Err.Error(), passHint
	}
	switch classifyNetError(err) {
	case failReset, failClosed:
		return "connection cut right after the TLS ClientHello (" + errtext.Of(err) + ")",
			"typical of a firewall filtering by server name (SNI): ask IT to allow " + cfg.Host + " in its SNI/URL filtering"
	case failTimeout:
		return fmt.Sprintf("TLS handshake stalled: %s accepted the connection but never answered the ClientHello", target),
			"a firewall or proxy holds the connection: " + passHint
	}
	return "TLS handshake failed: " + errtext.Of(err), passHint
}

// setTLSEvidence records what the handshake negotiated.
func setTLSEvidence(r *Result, cs tls.ConnectionState, a chainAnalysis, elapsed time.Duration) {
	r.setMetric("handshake_ms", ms(elapsed))
	r.setEvidence("tls_version", tls.VersionName(cs.Version))
	r.setEvidence("cipher_suite", tls.CipherSuiteName(cs.CipherSuite))
	r.setEvidence("chain", chainText(cs.PeerCertificates))
	r.setEvidence("issuer", a.issuer)
	r.setEvidence("device_trust", trustText(a.deviceErr))
	r.setEvidence("laptop_trust", trustText(a.laptopErr))
	if a.inspection {
		r.setEvidence(evidenceInspection, "detected")
	}
	if a.leaf != nil {
		r.setEvidence("leaf_not_after", a.leaf.NotAfter.UTC().Format(time.RFC3339))
		r.setMetric("leaf_days_left", math.Floor(a.daysLeft))
	}
}
