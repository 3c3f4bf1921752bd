package device

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/aescodec"
	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/readings"
)

// This file holds the test fixtures: a certificate authority, a fast clock, a bundle, and a
// fake platform implementing the ingest contract on 127.0.0.1.

const (
	testSerial     = "SX-00042"
	testCredential = "sxd_test-credential-0123456789abcdef"
	testKeyHex     = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
)

// testStart is a Monday at midnight, where the generator's weeks start.
var testStart = time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC)

// testCA is a certificate authority with a server certificate for 127.0.0.1.
type testCA struct {
	certPEM string
	server  tls.Certificate
}

func newTestCA(t testing.TB, name string) testCA {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return testCA{
		certPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})),
		server:  tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: leafKey},
	}
}

// fastClock runs factor times faster than the wall clock: a one-second backoff lasts a
// millisecond, and tests stay quick without sleeping for real.
type fastClock struct {
	base   time.Time
	real   time.Time
	factor time.Duration
}

func newFastClock() *fastClock {
	return &fastClock{base: testStart, real: time.Now(), factor: 1000}
}

func (c *fastClock) Now() time.Time { return c.base.Add(time.Since(c.real) * c.factor) }

func (c *fastClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	time.AfterFunc(d/c.factor, func() { ch <- c.Now() })
	return ch
}

func testBundle(serverURL, caPEM string) *Bundle {
	return &Bundle{
		Version: BundleVersion, DeviceID: "dev_test42", Serial: testSerial,
		SiteID: "sit_hq", SiteName: "Head office", ServerURL: serverURL,
		CACertificates: caPEM, UploadCredential: testCredential,
		DeviceKey: testKeyHex, KeyID: 3,
		Network: NetworkSettings{
			Mode: ModeStatic, Address: netip.MustParsePrefix("192.168.10.50/24"),
			Gateway: netip.MustParseAddr("192.168.10.1"), DNS: []netip.Addr{netip.MustParseAddr("192.168.10.1")},
		},
		CreatedAt: testStart,
	}
}

// fault is an answer the fake platform gives instead of handling an ingest request.
type fault struct {
	status     int
	code       string
	retryAfter string
}

// storedFile is a file the fake platform committed.
type storedFile struct {
	hash     [32]byte
	from     time.Time
	readings []readings.Reading
}

// ingestRequest records one request.
type ingestRequest struct {
	path     string
	sequence uint64
	at       time.Time // on the test's clock
	status   int
}

// fakePlatform implements POST /v1/ingest and /v1/ingest/losses as the platform contract says:
// it decrypts files, deduplicates by sequence and can fail on demand.
type fakePlatform struct {
	t      testing.TB
	srv    *httptest.Server
	key    []byte
	clock  Clock
	bundle *Bundle

	mu       sync.Mutex
	files    map[uint64]storedFile
	losses   map[uint64]lossRecord
	requests []ingestRequest
	// faultFor, when set, may answer a file request (by sequence and attempt number from 1)
	// or a loss report (sequence 0) with a fault.
	faultFor func(seq uint64, attempt int) *fault
	attempts map[uint64]int
}

// newFakePlatform starts the platform with a certificate of ca (TLS 1.2 minimum) on
// 127.0.0.1.
func newFakePlatform(t testing.TB, ca testCA, clock Clock) *fakePlatform {
	t.Helper()
	return newFakePlatformTLS(t, &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{ca.server}}, ca.certPEM, clock)
}

func newFakePlatformTLS(t testing.TB, cfg *tls.Config, caPEM string, clock Clock) *fakePlatform {
	t.Helper()
	key, err := aescodec.ParseKey(testKeyHex)
	if err != nil {
		t.Fatal(err)
	}
	p := &fakePlatform{t: t, key: key, clock: clock, files: map[uint64]storedFile{}, losses: map[uint64]lossRecord{}, attempts: map[uint64]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+api.PathIngest, p.ingest)
	mux.HandleFunc("POST "+api.PathIngestLosses, p.reportLosses)
	p.srv = httptest.NewUnstartedServer(mux)
	p.srv.TLS = cfg
	p.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshake failures are what some tests provoke
	p.srv.StartTLS()
	t.Cleanup(p.srv.Close)
	p.bundle = testBundle(p.srv.URL, caPEM)
	return p
}

func (p *fakePlatform) problem(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", api.ProblemContentType)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"type": api.ProblemTypePrefix + code, "title": http.StatusText(status), "status": status, "detail": detail, "code": code})
}

func (p *fakePlatform) record(r *http.Request, seq uint64, status int) {
	p.requests = append(p.requests, ingestRequest{path: r.URL.Path, sequence: seq, at: p.clock.Now(), status: status})
}

func (p *fakePlatform) authorized(w http.ResponseWriter, r *http.Request) bool {
	if r.Header.Get("Authorization") != "Bearer "+testCredential {
		p.problem(w, http.StatusUnauthorized, "unauthenticated", "the device credential is not valid")
		return false
	}
	if !strings.Contains(r.Header.Get("User-Agent"), testSerial) {
		p.t.Errorf("User-Agent %q does not name the device", r.Header.Get("User-Agent"))
	}
	return true
}

func (p *fakePlatform) ingest(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		p.problem(w, http.StatusBadRequest, "validation_failed", err.Error())
		return
	}
	h, headerErr := aescodec.ReadHeader(bytes.NewReader(body))
	seq := h.Sequence
	if !p.authorized(w, r) {
		p.record(r, seq, http.StatusUnauthorized)
		return
	}
	if r.Header.Get("Content-Type") != "application/octet-stream" {
		p.record(r, seq, http.StatusUnsupportedMediaType)
		p.problem(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "send the file as application/octet-stream")
		return
	}
	p.attempts[seq]++
	if p.faultFor != nil {
		if f := p.faultFor(seq, p.attempts[seq]); f != nil {
			p.record(r, seq, f.status)
			if f.retryAfter != "" {
				w.Header().Set("Retry-After", f.retryAfter)
			}
			p.problem(w, f.status, f.code, "injected fault")
			return
		}
	}
	var rs []readings.Reading
	if headerErr == nil {
		rd, err := aescodec.NewReader(bytes.NewReader(body), aescodec.StaticKey(p.key))
		headerErr = err
		for err == nil {
			var x readings.Reading
			if x, err = rd.Next(); err == nil {
				rs = append(rs, x)
			} else if err != io.EOF {
				headerErr = err
			}
		}
	}
	if headerErr != nil || h.Serial != testSerial {
		p.record(r, seq, http.StatusUnprocessableEntity)
		p.problem(w, http.StatusUnprocessableEntity, "file_rejected", fmt.Sprintf("the file does not decode: %v", headerErr))
		return
	}
	sum := sha256.Sum256(body)
	answer := api.IngestResponse{DeviceID: "dev_test42", Sequence: seq, Readings: int64(len(rs))}
	status := http.StatusCreated
	if old, ok := p.files[seq]; ok {
		if old.hash != sum {
			p.record(r, seq, http.StatusConflict)
			p.problem(w, http.StatusConflict, "sequence_conflict", fmt.Sprintf("sequence %d was already used by another file", seq))
			return
		}
		answer.Duplicate, status = true, http.StatusOK
	} else {
		p.files[seq] = storedFile{hash: sum, from: h.Start, readings: rs}
	}
	p.record(r, seq, status)
	w.Header().Set("Content-Type", api.JSONContentType)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(answer)
}

func (p *fakePlatform) reportLosses(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.authorized(w, r) {
		p.record(r, 0, http.StatusUnauthorized)
		return
	}
	if p.faultFor != nil {
		p.attempts[0]++
		if f := p.faultFor(0, p.attempts[0]); f != nil {
			p.record(r, 0, f.status)
			p.problem(w, f.status, f.code, "injected fault")
			return
		}
	}
	var report struct {
		Losses []lossRecord `json:"losses"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&report); err != nil || len(report.Losses) == 0 {
		p.record(r, 0, http.StatusUnprocessableEntity)
		p.problem(w, http.StatusUnprocessableEntity, "validation_failed", fmt.Sprintf("bad loss report: %v", err))
		return
	}
	for _, l := range report.Losses {
		if _, err := time.Parse(time.RFC3339, l.From); err != nil {
			p.t.Errorf("loss from %q is not RFC 3339", l.From)
		}
		p.losses[l.FirstSequence] = l
	}
	p.record(r, 0, http.StatusOK)
	w.Header().Set("Content-Type", api.JSONContentType)
	w.Write([]byte(`{"recorded":` + fmt.Sprint(len(report.Losses)) + `}`))
}

// sequences returns the sequence numbers the platform holds, in order.
func (p *fakePlatform) sequences() []uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []uint64
	for seq := range p.files {
		out = append(out, seq)
	}
	slices.Sort(out)
	return out
}

// allReadings returns every reading the platform holds, in time order (files in time order).
func (p *fakePlatform) allReadings() []readings.Reading {
	p.mu.Lock()
	defer p.mu.Unlock()
	files := make([]storedFile, 0, len(p.files))
	for _, f := range p.files {
		files = append(files, f)
	}
	slices.SortFunc(files, func(a, b storedFile) int { return a.from.Compare(b.from) })
	var out []readings.Reading
	for _, f := range files {
		out = append(out, f.readings...)
	}
	return out
}

// lossRecord is a loss as the fake platform received it on the wire.
type lossRecord struct {
	FirstSequence uint64 `json:"first_sequence"`
	LastSequence  uint64 `json:"last_sequence"`
	From          string `json:"from"`
	To            string `json:"to"`
	Files         int    `json:"files"`
	Reason        string `json:"reason"`
}

func (p *fakePlatform) lossRecords() []lossRecord {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []lossRecord
	for _, l := range p.losses {
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b lossRecord) int { return cmpUint(a.FirstSequence, b.FirstSequence) })
	return out
}

func (p *fakePlatform) requestLog() []ingestRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.requests)
}

// wantReadings checks that the platform holds exactly the generator's readings of
// [from, to), each once.
func (p *fakePlatform) wantReadings(t testing.TB, st Stats, from, to time.Time) {
	t.Helper()
	g, err := ReadingsGenerator(st.Seed, st.Origin, st.Interval)
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Collect(g.Range(from.UnixMilli(), to.UnixMilli()))
	got := p.allReadings()
	if len(want) == 0 {
		t.Fatal("the generator gives no reading for the period")
	}
	if len(got) != len(want) {
		t.Fatalf("the platform holds %d readings, the generator made %d for %s to %s", len(got), len(want), from, to)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("reading %d: the platform has %+v, the generator made %+v", i, got[i], want[i])
		}
	}
}

// eventLog collects a simulator's events.
type eventLog struct {
	mu     sync.Mutex
	events []Event
	hook   func(Event)
}

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	hook := l.hook
	l.mu.Unlock()
	if hook != nil {
		hook(e)
	}
}

func (l *eventLog) of(kind EventKind) []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Event
	for _, e := range l.events {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// errorsOf returns the errors of the events of kind.
func (l *eventLog) errorsOf(kind EventKind) []error {
	var out []error
	for _, e := range l.of(kind) {
		out = append(out, e.Err)
	}
	return out
}

// dump logs the events, to explain a failure.
func (l *eventLog) dump(t testing.TB) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.events {
		if e.Kind != EventFileSpooled && e.Kind != EventFileUploaded {
			t.Logf("%s %s seq %d: %s", e.SimTime.Format(time.RFC3339), e.Kind, e.Sequence, e.Message)
		}
	}
}
