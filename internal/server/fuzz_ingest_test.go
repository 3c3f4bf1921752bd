package server

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/smart-impulse/smartx/internal/api"
)

// FuzzIngest throws request bodies, media types and credentials at POST /v1/ingest and
// POST /v1/ingest/losses through the real handler and store: whatever arrives, the answer is a
// success or a problem a device can act on, never a server error or a crash.
func FuzzIngest(f *testing.F) {
	ts := newTestServer(f)
	owner := ts.person(ts.account("Fuzz"), "own@example.com", api.RoleOwner)
	site := ts.site(owner.session, "Lab", "")
	p := ts.provision(owner.session, site.ID, "SX-00042")
	vectorKey, _ := hex.DecodeString("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
	if err := ts.svc.importDeviceKey(context.Background(), owner.user.AccountID, p.Device.ID, 3, vectorKey); err != nil {
		f.Fatal(err)
	}
	for _, name := range []string{"example.sxd", "many-chunks.sxd", "chunk-corrupt.sxd", "payload-bad-channel.sxd", "header-tampered.sxd", "empty.sxd"} {
		data, err := os.ReadFile(filepath.Join("../aescodec/testdata/vectors", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, api.OctetStreamContentType, uint8(0))
	}
	f.Add([]byte(`{"losses":[{"first_sequence":3,"last_sequence":4,"from":"2026-01-01T00:00:00Z","to":"2026-01-02T00:00:00Z","files":2,"reason":"spool_full"}]}`),
		api.JSONContentType, uint8(1))
	f.Add([]byte("SXDATA\r\n\x01\xff\xff"), "", uint8(2))
	f.Add([]byte{}, "application/octet-stream; charset=binary", uint8(3))
	h := ts.srv.Handler()
	allowed := []int{http.StatusOK, http.StatusCreated, http.StatusUnauthorized, http.StatusConflict, http.StatusRequestEntityTooLarge,
		http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity}
	f.Fuzz(func(t *testing.T, body []byte, contentType string, variant uint8) {
		path, cred := api.PathIngest, p.Credential
		switch variant % 4 {
		case 1:
			path = api.PathIngestLosses
		case 2:
			cred = strings.Replace(cred, p.Device.ID[4:8], "zzzz", 1)
		case 3:
			cred = string(body[:min(len(body), 80)])
		}
		req := httptest.NewRequest("POST", path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+cred)
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if !slices.Contains(allowed, rec.Code) {
			t.Fatalf("%s with %d bytes (%q): status %d: %s", path, len(body), contentType, rec.Code, rec.Body.Bytes())
		}
		if rec.Code >= 400 {
			var p api.Problem
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Code == "" || p.Status != rec.Code {
				t.Fatalf("status %d without a problem: %s", rec.Code, rec.Body.Bytes())
			}
			if p.Code == api.CodeFileRejected && !slices.Contains(api.AllRejectReasons, p.Reason) {
				t.Fatalf("file_rejected without a known reason: %+v", p)
			}
		}
	})
}
