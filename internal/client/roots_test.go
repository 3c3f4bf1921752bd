package client

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testCA is a certificate authority that signs a server certificate for 127.0.0.1.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// server starts an HTTPS server on 127.0.0.1 whose certificate the CA signed; it echoes the
// request body.
func (ca testCA) server(t *testing.T) *httptest.Server {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
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
	if err := os.WriteFile(caFile, private.pem, 0o644); err != nil {
		t.Fatal(err)
	}
	loads := 0
	system := func(trusted ...testCA) func() (*x509.CertPool, error) {
		return func() (*x509.CertPool, error) {
			loads++
			pool := x509.NewCertPool()
			for _, ca := range trusted {
				pool.AddCert(ca.cert)
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
	if got, err := post(rt, private.server(t).URL, "private"); err != nil || got != "private" || loads != 0 {
		t.Fatalf("server of the CA file: %q, %v, system roots loaded %d times (want 0)", got, err, loads)
	}
	publicURL := public.server(t).URL
	for i := range 2 {
		if got, err := post(rt, publicURL, "public"); err != nil || got != "public" || loads != 1 {
			t.Fatalf("server of a system root, request %d: %q, %v, system roots loaded %d times (want 1)", i+1, got, err, loads)
		}
	}
	if got, err := post(rt, private.server(t).URL, "private again"); err != nil || got != "private again" {
		t.Fatalf("the CA file still counts with the system's roots: %q, %v", got, err)
	}

	rt, err = newCAFileTransport(base, caFile, system(public))
	if err != nil {
		t.Fatal(err)
	}
	_, err = post(rt, stranger.server(t).URL, "x")
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
