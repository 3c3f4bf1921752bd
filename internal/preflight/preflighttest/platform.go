package preflighttest

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"time"
)

// Platform is a healthy loopback stand-in for everything the device needs:
// DNS resolving Host to 127.0.0.1, the platform over HTTPS (certificate from
// CA) and HTTP, and an NTP server. The CLI's end-to-end tests and the demo
// use it with host Host, expect-ip 127.0.0.1, dns-server DNS.Addr,
// https-port HTTPS.Port, http-port HTTP.Port, ntp-server NTP.Addr, ping-target
// 127.0.0.1 and ca-file from WriteCAFile.
type Platform struct {
	// CA signed the HTTPS server's certificate.
	CA *CA
	// DNS resolves Host to 127.0.0.1.
	DNS *DNSServer
	// HTTPS serves the health endpoint over TLS.
	HTTPS *Server
	// HTTP serves the health endpoint in clear text.
	HTTP *Server
	// NTP answers like a good stratum-1 server.
	NTP *NTPServer
}

// PlatformOptions configures StartPlatform.
type PlatformOptions struct {
	// Delay is added to every DNS, TLS, HTTP and NTP answer.
	Delay time.Duration
}

// StartPlatform starts the healthy platform fixtures.
func StartPlatform(opts PlatformOptions) (*Platform, error) {
	timing := Timing{Delay: opts.Delay}
	p := &Platform{}
	var err error
	fail := func(what string, e error) (*Platform, error) {
		return nil, errors.Join(fmt.Errorf("start %s: %w", what, e), p.Close())
	}
	if p.CA, err = NewCA("Preflight Test Platform CA"); err != nil {
		return fail("CA", err)
	}
	cert, err := p.CA.Issue(Leaf{Names: []string{Host}})
	if err != nil {
		return fail("certificate", err)
	}
	loop := netip.MustParseAddr(Loopback)
	if p.DNS, err = StartDNS(DNSOptions{Records: map[string]DNSAnswer{Host: Answer(loop)}, Timing: timing}); err != nil {
		return fail("DNS", err)
	}
	if p.HTTPS, err = StartTLS(TLSOptions{Cert: cert, Timing: timing}); err != nil {
		return fail("HTTPS", err)
	}
	if p.HTTP, err = StartHTTP(HealthHandler(), timing); err != nil {
		return fail("HTTP", err)
	}
	if p.NTP, err = StartNTP(NTPOptions{Timing: timing}); err != nil {
		return fail("NTP", err)
	}
	return p, nil
}

// WriteCAFile writes the platform CA into dir and returns the file's path.
func (p *Platform) WriteCAFile(dir string) (string, error) {
	path := filepath.Join(dir, "platform-ca.pem")
	return path, p.CA.WriteFile(path)
}

// Close stops every fixture that was started.
func (p *Platform) Close() error {
	var errs []error
	if p.DNS != nil {
		errs = append(errs, p.DNS.Close())
	}
	if p.HTTPS != nil {
		errs = append(errs, p.HTTPS.Close())
	}
	if p.HTTP != nil {
		errs = append(errs, p.HTTP.Close())
	}
	if p.NTP != nil {
		errs = append(errs, p.NTP.Close())
	}
	return errors.Join(errs...)
}
