package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smart-impulse/smartx/internal/preflight/preflighttest"
)

// newTestCA is a throw-away certificate authority.
func newTestCA(t *testing.T, name string) *preflighttest.CA {
	t.Helper()
	ca, err := preflighttest.NewCA(name)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// serverOf starts an HTTPS server on 127.0.0.1 whose certificate ca signed; it echoes the
// request body.
func serverOf(t *testing.T, ca *preflighttest.CA) *httptest.Server {
	t.Helper()
	cert, err := ca.Issue(preflighttest.Leaf{Names: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// TestCAFileFirst: with a CA file, the system's roots are loaded only for a server the file
// does not vouch for, and a request (with its body) refused on the first try goes through.
func TestCAFileFirst(t *testing.T) {
	private, public, stranger := newTestCA(t, "private"), newTestCA(t, "public"), newTestCA(t, "stranger")
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := private.WriteFile(caFile); err != nil {
		t.Fatal(err)
	}
	loads := 0
	system := func(trusted ...*preflighttest.CA) func() (*x509.CertPool, error) {
		return func() (*x509.CertPool, error) {
			loads++
			pool := x509.NewCertPool()
			for _, ca := range trusted {
				pool.AddCert(ca.Cert)
			}
			return pool, nil
		}
	}
	base := &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}
	post := func(rt http.RoundTripper, url, body string) (string, error) {
		resp, err := (&http.Client{Transport: rt}).Post(url, "text/plain", strings.NewReader(body))
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}

	rt, err := newCAFileTransport(base, caFile, system(public))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := post(rt, serverOf(t, private).URL, "private"); err != nil || got != "private" || loads != 0 {
		t.Fatalf("server of the CA file: %q, %v, system roots loaded %d times (want 0)", got, err, loads)
	}
	publicURL := serverOf(t, public).URL
	for i := range 2 {
		if got, err := post(rt, publicURL, "public"); err != nil || got != "public" || loads != 1 {
			t.Fatalf("server of a system root, request %d: %q, %v, system roots loaded %d times (want 1)", i+1, got, err, loads)
		}
	}
	if got, err := post(rt, serverOf(t, private).URL, "private again"); err != nil || got != "private again" {
		t.Fatalf("the CA file still counts with the system's roots: %q, %v", got, err)
	}

	rt, err = newCAFileTransport(base, caFile, system(public))
	if err != nil {
		t.Fatal(err)
	}
	_, err = post(rt, serverOf(t, stranger).URL, "x")
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("a server nobody vouches for: %v, want an unknown authority", err)
	}

	empty := filepath.Join(t.TempDir(), "empty.pem")
	os.WriteFile(empty, []byte("not a certificate"), 0o644)
	if _, err := newCAFileTransport(base, empty, system()); err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Fatalf("a CA file without a certificate: %v", err)
	}
}
