package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
)

// caFileTransport trusts the CA file given (--ca-file, SMARTX_CA_FILE) and the system's roots,
// as the client always has, but asks the system only when a server's certificate needs it.
// Parsing the system's roots takes 15 to 20 ms on a Linux laptop, more than the whole TLS
// handshake on loopback, and a server given with its own CA file (a private platform, a dev
// server) never needs them: so the first connection verifies against the CA file alone, and
// only a certificate signed by an authority the file does not hold (x509.UnknownAuthorityError)
// makes the client load the system's roots, with the CA file's added, and try once more. The
// verification is crypto/tls's own in both cases; only the set of roots differs.
type caFileTransport struct {
	caOnly *http.Transport // RootCAs: the CA file's certificates
	// full is caOnly with RootCAs: the system's roots and the CA file's, made on first need.
	full    func() *http.Transport
	useFull atomic.Bool
}

// newCAFileTransport returns the transport of a client given a CA file; base is configured
// but for its roots, and systemRoots loads the system's (x509.SystemCertPool; tests swap it).
func newCAFileTransport(base *http.Transport, caFile string, systemRoots func() (*x509.CertPool, error)) (*caFileTransport, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	caPool := x509.NewCertPool()
	if !caPool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", caFile)
	}
	full := sync.OnceValue(func() *http.Transport {
		pool, err := systemRoots()
		if err != nil || pool == nil {
			pool = x509.NewCertPool() // no system roots here: the CA file's alone, as before
		}
		pool.AppendCertsFromPEM(pem)
		return withRoots(base, pool)
	})
	return &caFileTransport{caOnly: withRoots(base, caPool), full: full}, nil
}

// withRoots clones base to verify servers against roots.
func withRoots(base *http.Transport, roots *x509.CertPool) *http.Transport {
	t := base.Clone()
	cfg := t.TLSClientConfig.Clone()
	if cfg == nil {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	cfg.RootCAs = roots
	t.TLSClientConfig = cfg
	return t
}

// RoundTrip implements http.RoundTripper.
func (t *caFileTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.useFull.Load() {
		return t.full().RoundTrip(req)
	}
	resp, err := t.caOnly.RoundTrip(req)
	var cve *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	if err == nil || !errors.As(err, &cve) || !errors.As(cve.Err, &unknown) {
		return resp, err
	}
	// The handshake failed, so nothing of the request was sent: sending it again is safe,
	// whatever its method, with a fresh copy of its body.
	again := req.Clone(req.Context())
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			return nil, err
		}
		body, gerr := req.GetBody()
		if gerr != nil {
			return nil, err
		}
		again.Body = body
	}
	t.useFull.Store(true)
	return t.full().RoundTrip(again)
}

// CloseIdleConnections closes what either transport keeps open.
func (t *caFileTransport) CloseIdleConnections() {
	t.caOnly.CloseIdleConnections()
	if t.useFull.Load() {
		t.full().CloseIdleConnections()
	}
}
