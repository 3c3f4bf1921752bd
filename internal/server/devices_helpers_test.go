package server

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/aescodec"
	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/datafiles/datafilestest"
	"github.com/smart-impulse/smartx/internal/readings"
	"github.com/smart-impulse/smartx/internal/store"
)

// importDeviceKey stores key as key keyID of a device: the test-only way to give a device a key
// the server did not draw, so files written under the published test vector key ingest.
func (s *Service) importDeviceKey(ctx context.Context, accountID, deviceID string, keyID uint32, key []byte) error {
	sealed, err := s.keys.SealForAccount(ctx, accountID, deviceKeyPurpose(deviceID, keyID), key)
	if err != nil {
		return err
	}
	return s.st.CreateDeviceKey(ctx, accountID, store.DeviceKey{DeviceID: deviceID, KeyID: keyID, SealedKey: sealed, CreatedAt: s.nowUTC()})
}

// site creates a site with the token and returns it.
func (ts *testServer) site(token, name, zone string) api.Site {
	ts.t.Helper()
	resp, body := ts.do("POST", api.PathSites, token, api.CreateSiteRequest{Name: name, TimeZone: zone})
	return decode[api.Site](ts.t, resp, body, http.StatusCreated)
}

// provision registers a device and returns what the installer gets once.
func (ts *testServer) provision(token, siteID, serial string) api.ProvisionedDevice {
	ts.t.Helper()
	resp, body := ts.do("POST", api.PathDevices, token, api.CreateDeviceRequest{Serial: serial, SiteID: siteID})
	return decode[api.ProvisionedDevice](ts.t, resp, body, http.StatusCreated)
}

// upload sends a data file with a device credential (none when credential is "").
func (ts *testServer) upload(credential string, data []byte) (*http.Response, []byte) {
	ts.t.Helper()
	return ts.send("POST", api.PathIngest, credential, api.OctetStreamContentType, "", bytes.NewReader(data))
}

// get sends a GET with an Accept header and returns the response and body.
func (ts *testServer) get(path, token, accept string) (*http.Response, []byte) {
	ts.t.Helper()
	return ts.send("GET", path, token, "", accept, nil)
}

// testGenerator is the synthetic building the tests' devices measure: every value is known.
func testGenerator(t testing.TB, start time.Time, interval, duration time.Duration, gaps bool) *readings.Generator {
	t.Helper()
	g, err := readings.NewGenerator(readings.GeneratorConfig{Seed: 42, Start: start, Interval: interval, Duration: duration, Gaps: gaps})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// deviceFiles encrypts the generator's readings with a provisioned device's key, one file per
// period.
func deviceFiles(t testing.TB, p api.ProvisionedDevice, g *readings.Generator, period time.Duration) []datafilestest.File {
	t.Helper()
	key, err := hex.DecodeString(p.Key.Key)
	if err != nil {
		t.Fatal(err)
	}
	files, err := datafilestest.Files(datafilestest.Device{Serial: p.Device.Serial, Key: key, KeyID: p.Key.KeyID, Generator: g, Period: period})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// uploadAll uploads every file and expects each to be stored.
func (ts *testServer) uploadAll(credential string, files []datafilestest.File) {
	ts.t.Helper()
	for _, f := range files {
		resp, body := ts.upload(credential, f.Data)
		got := decode[api.IngestResponse](ts.t, resp, body, http.StatusCreated)
		if got.Duplicate || got.Sequence != f.Sequence || got.Readings != int64(f.Readings) {
			ts.t.Fatalf("upload of file %d: %+v, want %d readings", f.Sequence, got, f.Readings)
		}
	}
}

// encryptFile writes readings into a data file of serial under key.
func encryptFile(t testing.TB, serial string, key []byte, keyID uint32, seq uint64, schema readings.Schema, rs []readings.Reading) []byte {
	t.Helper()
	var buf bytes.Buffer
	start := time.UnixMilli(rs[0].Time)
	w, err := aescodec.NewWriter(&buf, key, aescodec.Header{Serial: serial, KeyID: keyID, Sequence: seq, Created: start, Start: start, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readingsPath builds a GET /v1/readings query.
func readingsPath(params ...string) string {
	q := api.PathReadings + "?"
	for i := 0; i+1 < len(params); i += 2 {
		if i > 0 {
			q += "&"
		}
		q += params[i] + "=" + params[i+1]
	}
	return q
}

func rfc3339(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.RFC3339) }

func mustf(t testing.TB, err error, format string, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprintf(format, args...), err)
	}
}
