package device

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/netip"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/smart-impulse/smartx/internal/aescodec"
	"github.com/smart-impulse/smartx/internal/secretfile"

	"github.com/smart-impulse/smartx/internal/api"
)

// BundleVersion is the version of the provisioning bundle this package writes and reads.
const BundleVersion = 1

// Limits of a bundle's fields; real bundles are a few kilobytes.
const (
	maxBundleSize       = 1 << 20
	minCredentialSecret = 16 // characters after the prefix
	maxCredentialLen    = 4096
	maxIDLen            = 128
	maxSiteNameLen      = 200
)

// Sentinel errors of bundles.
var (
	// ErrInvalidBundle is matched by every error of ParseBundle, LoadBundle and Validate
	// about the content of a bundle.
	ErrInvalidBundle = errors.New("invalid provisioning bundle")
	// ErrUnsupportedBundleVersion: the bundle was written by a newer smartx.
	ErrUnsupportedBundleVersion = errors.New("unsupported provisioning bundle version")
)

// Bundle is the provisioning bundle of one device: everything a Smart X (or the simulator)
// needs to send its files to the platform. It holds secrets (the upload credential and the
// device key), so it is written owner-readable only.
type Bundle struct {
	// Version is BundleVersion.
	Version int `json:"bundle_version"`
	// DeviceID is the platform's id of the device (dev_...).
	DeviceID string `json:"device_id"`
	// Serial is the device serial, as in its data files (e.g. SX-00042).
	Serial string `json:"serial"`
	// SiteID and SiteName say where the device is installed.
	SiteID   string `json:"site_id"`
	SiteName string `json:"site_name"`
	// ServerURL is the platform's base URL, https only (e.g. https://platform.example).
	ServerURL string `json:"server_url"`
	// FallbackServerURLs are other addresses of the same platform (replicas, another load
	// balancer), tried in order when the one in use cannot be reached; empty for most devices.
	FallbackServerURLs []string `json:"fallback_server_urls,omitempty"`
	// CACertificates are the PEM certificates of the authority that signs the server's
	// certificate; the device trusts only them. Empty when the server uses a public CA (the
	// system roots are then trusted).
	CACertificates string `json:"ca_certificates"`
	// UploadCredential is the device's bearer credential for the ingest API (sxd_...).
	UploadCredential string `json:"upload_credential"`
	// DeviceKey is the device's AES key, 64 hex digits, and KeyID its id in the data files.
	DeviceKey string `json:"device_key"`
	KeyID     uint32 `json:"key_id"`
	// Network is how the device connects on site.
	Network NetworkSettings `json:"network"`
	// FirstSequence, when set, is the sequence number of the device's first data file: a unit
	// that replaces another (smartx device replace) continues its history after the files of
	// the unit before it. 0 or absent: 1.
	FirstSequence uint64 `json:"first_sequence,omitempty"`
	// CreatedAt is when the bundle was written.
	CreatedAt time.Time `json:"created_at"`
}

// BundleFieldError is one problem of a bundle, naming its JSON field.
type BundleFieldError struct {
	// Field is the JSON name of the field.
	Field string
	// Problem says what is wrong and what to do.
	Problem string
	// Err is the underlying error, if any (the FieldErrors of the network settings).
	Err error
}

// Error implements error.
func (e *BundleFieldError) Error() string {
	return fmt.Sprintf("provisioning bundle: %s: %s", e.Field, e.Problem)
}

// Is makes errors.Is(err, ErrInvalidBundle) true.
func (e *BundleFieldError) Is(target error) bool { return target == ErrInvalidBundle }

// Unwrap returns the underlying error.
func (e *BundleFieldError) Unwrap() error { return e.Err }

// Validate returns every problem of the bundle at once (joined errors), or nil.
func (b *Bundle) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &BundleFieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	if b.Version != BundleVersion {
		return versionError(b.Version)
	}
	checkID := func(field, value, prefix string) {
		switch {
		case value == "":
			bad(field, "missing: provision the device again")
		case !strings.HasPrefix(value, prefix) || len(value) == len(prefix):
			bad(field, "%q does not start with %s: this is not a platform id", value, prefix)
		case len(value) > maxIDLen || !isToken(value):
			bad(field, "%q is not a platform id (letters, digits, _ and - only, at most %d)", value, maxIDLen)
		}
	}
	checkID("device_id", b.DeviceID, api.PrefixDevice)
	checkID("site_id", b.SiteID, api.PrefixSite)
	if err := aescodec.CheckSerial(b.Serial); err != nil {
		bad("serial", "%v", err)
	}
	if strings.TrimSpace(b.SiteName) == "" || len(b.SiteName) > maxSiteNameLen || strings.ContainsFunc(b.SiteName, isControl) {
		bad("site_name", "must be 1 to %d printable characters", maxSiteNameLen)
	}
	if err := CheckServerURL(b.ServerURL); err != nil {
		bad("server_url", "%v", err)
	}
	if len(b.FallbackServerURLs) > MaxFallbackServers {
		bad("fallback_server_urls", "%d addresses, at most %d", len(b.FallbackServerURLs), MaxFallbackServers)
	}
	for i, u := range b.FallbackServerURLs {
		if err := CheckServerURL(u); err != nil {
			bad("fallback_server_urls", "%d: %v", i+1, err)
		} else if slices.Contains(b.Servers()[:i+1], u) {
			bad("fallback_server_urls", "%d: %s is already in the bundle", i+1, u)
		}
	}
	if b.CACertificates != "" {
		if _, err := parseCACertificates(b.CACertificates); err != nil {
			bad("ca_certificates", "%v", err)
		}
	}
	switch c := b.UploadCredential; {
	case c == "":
		bad("upload_credential", "missing: provision the device again")
	case !strings.HasPrefix(c, api.DeviceCredentialPrefix):
		bad("upload_credential", "does not start with %s: it is not a device upload credential (an API token sxt_... is not one)", api.DeviceCredentialPrefix)
	case len(c) < len(api.DeviceCredentialPrefix)+minCredentialSecret || len(c) > maxCredentialLen || !isCredentialText(c):
		bad("upload_credential", "is truncated or damaged: copy the bundle again or provision the device again")
	}
	if _, err := aescodec.ParseKey(b.DeviceKey); err != nil || strings.TrimSpace(b.DeviceKey) != b.DeviceKey {
		bad("device_key", "must be exactly %d hexadecimal digits", 2*aescodec.KeySize)
	}
	if err := b.Network.Validate(); err != nil {
		errs = append(errs, &BundleFieldError{Field: "network", Problem: err.Error(), Err: err})
	}
	if b.FirstSequence > math.MaxInt64 {
		bad("first_sequence", "%d is over %d, which the platform refuses: provision the device again", b.FirstSequence, int64(math.MaxInt64))
	}
	if b.CreatedAt.IsZero() {
		bad("created_at", "missing")
	}
	return errors.Join(errs...)
}

func versionError(v int) error {
	if v == 0 {
		return &BundleFieldError{Field: "bundle_version", Problem: "missing: this is not a smartx provisioning bundle"}
	}
	if v > BundleVersion {
		return fmt.Errorf("%w %d (this smartx reads version %d): upgrade smartx", ErrUnsupportedBundleVersion, v, BundleVersion)
	}
	return &BundleFieldError{Field: "bundle_version", Problem: fmt.Sprintf("%d is not a version smartx ever wrote", v)}
}

// MaxFallbackServers bounds Bundle.FallbackServerURLs.
const MaxFallbackServers = 8

// Servers returns the platform's addresses in the order a device tries them: ServerURL, then
// the fallbacks.
func (b *Bundle) Servers() []string {
	return append([]string{b.ServerURL}, b.FallbackServerURLs...)
}

// Key returns the decoded device key.
func (b *Bundle) Key() ([]byte, error) {
	key, err := aescodec.ParseKey(b.DeviceKey)
	if err != nil {
		return nil, fmt.Errorf("provisioning bundle device_key: %w", err)
	}
	return key, nil
}

// CertPool returns the bundle's CA certificates as a pool, or nil when the bundle has none
// (the system roots apply).
func (b *Bundle) CertPool() (*x509.CertPool, error) {
	if b.CACertificates == "" {
		return nil, nil
	}
	certs, err := parseCACertificates(b.CACertificates)
	if err != nil {
		return nil, fmt.Errorf("provisioning bundle ca_certificates: %w", err)
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// ParseBundle decodes and validates a bundle. Unknown fields are refused: a bundle is written by
// smartx, so an unknown field is damage or a typo, and a newer format has a newer version.
func ParseBundle(data []byte) (*Bundle, error) {
	if len(data) > maxBundleSize {
		return nil, fmt.Errorf("%w: larger than %d bytes, which no bundle is: check the file", ErrInvalidBundle, maxBundleSize)
	}
	// Read the version alone first, so a newer bundle says "upgrade" rather than "unknown
	// field".
	var probe struct {
		Version json.RawMessage `json:"bundle_version"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("%w: not valid JSON (%v): the file is damaged or not a bundle", ErrInvalidBundle, err)
	}
	var version int
	if len(probe.Version) > 0 {
		if err := json.Unmarshal(probe.Version, &version); err != nil {
			return nil, &BundleFieldError{Field: "bundle_version", Problem: "must be a number"}
		}
	}
	if version != BundleVersion {
		return nil, versionError(version)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var b Bundle
	if err := dec.Decode(&b); err != nil { // trailing data was refused by the probe
		return nil, fmt.Errorf("%w: %v", ErrInvalidBundle, describeJSONError(err))
	}
	if err := b.Validate(); err != nil {
		return nil, err
	}
	return &b, nil
}

// describeJSONError words a decoding error for a person (which field has which wrong type).
func describeJSONError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Sprintf("%s: a JSON %s is not valid here", te.Field, te.Value)
	}
	return err.Error()
}

// BundleWarning is a problem that does not prevent using a bundle but that the user should
// fix.
type BundleWarning struct {
	// Path is the bundle file.
	Path string
	// Mode is its permission bits on Unix; zero on Windows, where its access list is what
	// counts.
	Mode fs.FileMode
}

// String says what is wrong and the command that fixes it on this OS.
func (w *BundleWarning) String() string {
	mode := ""
	if w.Mode != 0 {
		mode = fmt.Sprintf(" (mode %04o)", w.Mode.Perm())
	}
	return fmt.Sprintf("%s can be read by other users%s and holds the device key and upload credential: run %s", w.Path, mode, secretfile.FixHint(w.Path))
}

// LoadBundle reads and validates a bundle file. A bundle other users can read (its mode on
// Unix, its access list on Windows) is returned with a warning (secrets inside); the warning
// is nil otherwise.
func LoadBundle(path string) (*Bundle, *BundleWarning, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read provisioning bundle: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("read provisioning bundle: %w", err)
	}
	if !info.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("read provisioning bundle %s: not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxBundleSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read provisioning bundle: %w", err)
	}
	b, err := ParseBundle(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	var warning *BundleWarning
	if open, err := secretfile.Exposed(path); err == nil && open {
		warning = &BundleWarning{Path: path}
		if runtime.GOOS != "windows" {
			warning.Mode = info.Mode().Perm()
		}
	}
	return b, warning, nil
}

// WriteBundle validates b and writes it to path for the current user only
// (secretfile.Protection says how on this OS), atomically (a crash leaves the previous file or
// the new one), replacing any existing file.
func WriteBundle(path string, b *Bundle) error {
	if err := b.Validate(); err != nil {
		return fmt.Errorf("write provisioning bundle: %w", err)
	}
	data, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return fmt.Errorf("write provisioning bundle: %w", err)
	}
	data = append(data, '\n')
	return writeFileAtomic(path, data)
}

// KeyLookup returns the bundle's key as an aescodec.KeyLookup, for a support engineer decoding
// files of this device: a file of another serial or key id is refused with
// aescodec.ErrKeyNotFound.
func (b *Bundle) KeyLookup() aescodec.KeyLookup {
	return bundleKeys{serial: b.Serial, keyID: b.KeyID, hexKey: b.DeviceKey}
}

type bundleKeys struct {
	serial string
	keyID  uint32
	hexKey string
}

// DeviceKey implements aescodec.KeyLookup.
func (k bundleKeys) DeviceKey(serial string, keyID uint32) ([]byte, error) {
	if serial != k.serial {
		return nil, fmt.Errorf("%w: the bundle is for %s, the file is from %s: use that device's bundle", aescodec.ErrKeyNotFound, k.serial, serial)
	}
	if keyID != k.keyID {
		return nil, fmt.Errorf("%w: the bundle holds key id %d of %s, the file uses key id %d: use a bundle with that key", aescodec.ErrKeyNotFound, k.keyID, serial, keyID)
	}
	key, err := aescodec.ParseKey(k.hexKey)
	if err != nil {
		return nil, fmt.Errorf("provisioning bundle device_key: %w", err)
	}
	return key, nil
}

// CheckServerURL accepts an https URL with a host and nothing but an optional path prefix.
func CheckServerURL(s string) error {
	if s == "" {
		return errors.New("missing: provision the device again")
	}
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" {
		return fmt.Errorf("%q is not a URL", s)
	}
	if u.Scheme != "https" {
		return fmt.Errorf("%q must use https: devices send data over TLS only", s)
	}
	if u.Hostname() == "" {
		return fmt.Errorf("%q has no host", s)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q must not carry a user, query or fragment", redactURL(s))
	}
	if p := u.Port(); p != "" {
		if err := checkPort(p); err != nil {
			return err
		}
	}
	if _, err := netip.ParseAddr(u.Hostname()); err != nil && !validHostname(u.Hostname()) {
		return fmt.Errorf("%q has an invalid host name", s)
	}
	return nil
}

// parseCACertificates reads PEM certificates. Anything else (a private key above all, or
// stray text) is refused: a bundle carries public certificates only.
func parseCACertificates(text string) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := []byte(text)
	for {
		block, next := pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("holds a %q PEM block: a bundle carries certificates only (never a key)", block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d does not parse: %v", len(certs)+1, err)
		}
		certs = append(certs, cert)
		rest = next
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, errors.New("holds text that is not a PEM certificate: copy the CA certificate again")
	}
	if len(certs) == 0 {
		return nil, errors.New("holds no certificate: leave it empty when the server uses a public CA")
	}
	return certs, nil
}

func isToken(s string) bool {
	for i := range len(s) {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// isCredentialText accepts the characters of URL-safe tokens (base64url, JWE dots).
func isCredentialText(s string) bool {
	for i := range len(s) {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_-.~+/=", c) >= 0) {
			return false
		}
	}
	return true
}

func isControl(r rune) bool { return r < 0x20 || (r >= 0x7f && r <= 0x9f) }
