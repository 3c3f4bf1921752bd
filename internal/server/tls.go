package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/smart-impulse/smartx/internal/secretfile"
)

// TLSConfig returns the server's TLS settings: TLS 1.2 at least, and for TLS 1.2 only ECDHE key
// exchange with AEAD ciphers (TLS 1.3 suites are all AEAD and not configurable).
func TLSConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
	}
}

// SelfSignedFiles are the files of a generated certificate authority and server certificate.
type SelfSignedFiles struct {
	CACert     string // hand this to clients (SMARTX_CA_FILE)
	CAKey      string
	ServerCert string
	ServerKey  string
}

// Lifetimes of generated certificates. The server certificate stays under the 398 days
// browsers and most clients accept, and is renewed at start when it nears its end.
const (
	caLifetime     = 10 * 365 * 24 * time.Hour
	serverLifetime = 397 * 24 * time.Hour
	renewBefore    = 30 * 24 * time.Hour
)

// EnsureSelfSigned makes sure dir holds a CA and a server certificate signed by it, valid for
// hosts (names and IP addresses). The CA is created once and kept, so clients trust the server
// across restarts; the server certificate is reissued when missing, near expiry, or not
// covering every host. It reports whether anything was written.
func EnsureSelfSigned(dir string, hosts []string, now time.Time) (SelfSignedFiles, bool, error) {
	f := SelfSignedFiles{
		CACert: filepath.Join(dir, "ca.pem"), CAKey: filepath.Join(dir, "ca-key.pem"),
		ServerCert: filepath.Join(dir, "server.pem"), ServerKey: filepath.Join(dir, "server-key.pem"),
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return f, false, fmt.Errorf("create TLS directory: %w", err)
	}
	changed := false
	caCert, caKey, err := loadPair(f.CACert, f.CAKey)
	if errors.Is(err, fs.ErrNotExist) {
		caCert, caKey, err = writeCA(f, now)
		changed = true
	}
	if err != nil {
		return f, false, fmt.Errorf("certificate authority in %s: %w", dir, err)
	}
	// The server certificate is derived from the CA: reissue it on any doubt.
	cert, _, err := loadPair(f.ServerCert, f.ServerKey)
	if err != nil || !coversHosts(cert, hosts) || now.Add(renewBefore).After(cert.NotAfter) ||
		cert.CheckSignatureFrom(caCert) != nil {
		err = writeServerCert(f, caCert, caKey, hosts, now)
		changed = true
	}
	if err != nil {
		return f, false, fmt.Errorf("server certificate in %s: %w", dir, err)
	}
	return f, changed, nil
}

func coversHosts(cert *x509.Certificate, hosts []string) bool {
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			if !slices.ContainsFunc(cert.IPAddresses, ip.Equal) {
				return false
			}
		} else if !slices.Contains(cert.DNSNames, h) {
			return false
		}
	}
	return true
}

func loadPair(certFile, keyFile string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		if _, statErr := os.Stat(certFile); errors.Is(statErr, fs.ErrNotExist) {
			return nil, nil, statErr
		}
		return nil, nil, err
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, nil, fmt.Errorf("%s: not an ECDSA key", keyFile)
	}
	return pair.Leaf, key, nil
}

func serialNumber() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

func writeCA(f SelfSignedFiles, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"smartx"}, CommonName: "smartx server local CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	if err := writePEM(f.CAKey, f.CACert, der, key); err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

func writeServerCert(f SelfSignedFiles, ca *x509.Certificate, caKey *ecdsa.PrivateKey, hosts []string, now time.Time) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := serialNumber()
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{"smartx"}, CommonName: "smartx server"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(serverLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	return writePEM(f.ServerKey, f.ServerCert, der, key)
}

// writePEM writes a private key (owner-only) and its certificate, replacing older files.
func writePEM(keyFile, certFile string, der []byte, key *ecdsa.PrivateKey) error {
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), true); err != nil {
		return err
	}
	return writeFileAtomic(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), false)
}

// writeFileAtomic writes data to a temporary file and renames it over path, so a crash never
// leaves half a key.
func writeFileAtomic(path string, data []byte, secret bool) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if secret {
		err = secretfile.Restrict(tmp) // 0600 on Unix, the user alone on Windows
	} else {
		err = tmp.Chmod(0o644)
	}
	if err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
