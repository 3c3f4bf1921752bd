package main

import (
	"errors"
	"net/netip"

	"github.com/smart-impulse/smartx/internal/preflight/preflighttest"
)

// ntpHost is the name preflight asks the demo's DNS responder for, standing in for
// time.google.com: it makes the NTP check go through the DNS the site would give the device.
const ntpHost = "time.demo.test"

// responders stand in, on 127.0.0.1, for the site's DNS server and the public NTP server:
// the same fixtures the preflight tests use.
type responders struct {
	dns *preflighttest.DNSServer
	ntp *preflighttest.NTPServer
}

func startResponders() (*responders, error) {
	loopback := netip.MustParseAddr(preflighttest.Loopback)
	r := &responders{}
	var err error
	r.dns, err = preflighttest.StartDNS(preflighttest.DNSOptions{
		Records: map[string]preflighttest.DNSAnswer{ntpHost: preflighttest.Answer(loopback)},
	})
	if err != nil {
		return nil, err
	}
	if r.ntp, err = preflighttest.StartNTP(preflighttest.NTPOptions{}); err != nil {
		return nil, errors.Join(err, r.close())
	}
	return r, nil
}

func (r *responders) close() error {
	var errs []error
	if r.dns != nil {
		errs = append(errs, r.dns.Close())
	}
	if r.ntp != nil {
		errs = append(errs, r.ntp.Close())
	}
	return errors.Join(errs...)
}
