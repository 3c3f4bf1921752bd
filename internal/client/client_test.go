package client

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
)

// newTestServer starts an HTTPS server on 127.0.0.1 and a client trusting it through a CA file,
// as a user would configure it.
func newTestServer(t *testing.T, h http.Handler) (*Client, *httptest.Server) {
	t.Helper()
	ts := httptest.NewTLSServer(h)
	t.Cleanup(ts.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{Server: ts.URL, Token: "sxt_test", CAFile: ca, UserAgent: "smartx/test",
		Retry: RetryPolicy{Sleep: func(ctx context.Context, d time.Duration) error { return nil }}})
	if err != nil {
		t.Fatal(err)
	}
	return c, ts
}

func problem(w http.ResponseWriter, p *api.Problem) {
	w.Header().Set("Content-Type", api.ProblemContentType)
	w.WriteHeader(p.Status)
	_, _ = w.Write([]byte(`{"type":"` + p.Type + `","title":"` + p.Title + `","status":` + strconv.Itoa(p.Status) + `,"detail":"` + p.Detail + `","code":"` + string(p.Code) + `","scope":"` + string(p.Scope) + `"}`))
}

func TestRetriesIdempotentRequestsHonouringRetryAfter(t *testing.T) {
	var calls atomic.Int32
	var waits []time.Duration
	c2, _ := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer sxt_test" || r.Header.Get("User-Agent") != "smartx/test" {
			t.Errorf("headers: %v", r.Header)
		}
		if calls.Add(1) < 3 {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(`{"status":"ok","version":"1.0"}`))
	}))
	c2.retry.Sleep = func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	h, err := c2.Health(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if h.Status != "ok" || calls.Load() != 3 {
		t.Fatalf("health %+v after %d calls", h, calls.Load())
	}
	if len(waits) != 2 || waits[0] != 2*time.Second || waits[1] != 2*time.Second {
		t.Fatalf("waits = %v, want Retry-After's 2s twice", waits)
	}
}

func TestPostIsNotRetried(t *testing.T) {
	var calls atomic.Int32
	c, _ := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	_, err := c.CreateToken(context.Background(), api.CreateTokenRequest{Name: "x", Scopes: []api.Scope{api.ScopeReadingsRead}})
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusServiceUnavailable {
		t.Fatalf("err = %v", err)
	}
	if calls.Load() != 1 {
		t.Fatalf("POST sent %d times, want once", calls.Load())
	}
}

func TestGivesUpAfterAttempts(t *testing.T) {
	var calls atomic.Int32
	c, _ := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusBadGateway)
	}))
	if _, err := c.WhoAmI(context.Background()); err == nil {
		t.Fatal("no error")
	}
	if calls.Load() != int32(DefaultRetry.Attempts) {
		t.Fatalf("%d attempts, want %d", calls.Load(), DefaultRetry.Attempts)
	}
}

func TestErrorMessages(t *testing.T) {
	tests := []struct {
		name    string
		problem *api.Problem
		want    string
	}{
		{"expired", api.NewProblem(api.CodeTokenExpired, "expired"), "your token expired: run `smartx auth login` or set SMARTX_TOKEN"},
		{"revoked", api.NewProblem(api.CodeTokenRevoked, "revoked"), "your token was revoked: run `smartx auth login` or set SMARTX_TOKEN"},
		{"unauthenticated", api.NewProblem(api.CodeUnauthenticated, "the token is not valid for this server"), "the server did not accept your credentials (the token is not valid for this server): run `smartx auth login` or set SMARTX_TOKEN"},
		{"scope", func() *api.Problem {
			p := api.NewProblem(api.CodeInsufficientScope, "x")
			p.Scope = api.ScopeDevicesWrite
			return p
		}(), "this token lacks the scope devices:write"},
		{"not found", api.NewProblem(api.CodeNotFound, "no token tok_1"), "not found: no token tok_1"},
		{"validation", api.NewProblem(api.CodeValidationFailed, "bad name"), "the server refused the request: bad name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { problem(w, tt.problem) }))
			_, err := c.Token(context.Background(), "tok_1")
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to start with %q", err, tt.want)
			}
		})
	}
}

func TestHTTPSOnlyAndTrust(t *testing.T) {
	if _, err := New(Options{Server: "http://127.0.0.1:1"}); err == nil || !strings.Contains(err.Error(), "HTTPS only") {
		t.Fatalf("plain http accepted: %v", err)
	}
	if _, err := New(Options{}); !errors.Is(err, ErrNoServer) {
		t.Fatalf("no server: %v", err)
	}
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer ts.Close()
	c, err := New(Options{Server: ts.URL, Retry: RetryPolicy{Attempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Health(context.Background())
	var ne *NetworkError
	if !errors.As(err, &ne) || !strings.Contains(err.Error(), "give its CA with --ca-file or SMARTX_CA_FILE") {
		t.Fatalf("untrusted server: %v", err)
	}
}

func TestNoRedirects(t *testing.T) {
	c, _ := newTestServer(t, http.RedirectHandler("https://127.0.0.1:1/login", http.StatusFound))
	if _, err := c.Health(context.Background()); err == nil || !strings.Contains(err.Error(), "redirected") {
		t.Fatalf("redirect followed: %v", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"3", 3 * time.Second}, {"-1", 0}, {"soon", 0},
		{"Tue, 24 Nov 2026 12:00:10 GMT", 10 * time.Second},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestAuditPagination(t *testing.T) {
	c, _ := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("cursor") {
		case "":
			_, _ = w.Write([]byte(`{"entries":[{"request_id":"req_1"},{"request_id":"req_2"}],"next_cursor":"c2"}`))
		case "c2":
			_, _ = w.Write([]byte(`{"entries":[{"request_id":"req_3"}]}`))
		}
	}))
	var ids []string
	for e, err := range c.Audit(context.Background(), AuditFilter{}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.RequestID)
	}
	if strings.Join(ids, ",") != "req_1,req_2,req_3" {
		t.Fatalf("ids = %v", ids)
	}
}

func TestReadingsStreamResumesAfterABrokenConnection(t *testing.T) {
	var body strings.Builder
	body.WriteString("time,device,channel,value,unit\n")
	for i := range 5000 {
		fmt.Fprintf(&body, "2026-11-16T00:%02d:00Z,SX-1,main,%d,W\n", i%60, i)
	}
	full := body.String()
	var calls atomic.Int32
	c, _ := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("format") != "csv" || r.Header.Get("Accept") != api.CSVContentType {
			t.Errorf("query %v accept %q", r.URL.Query(), r.Header.Get("Accept"))
		}
		w.Header().Set("Content-Type", api.CSVContentType)
		if calls.Add(1) == 1 {
			// Send a third of the export, then break the connection.
			_, _ = io.WriteString(w, full[:len(full)/3])
			w.(http.Flusher).Flush()
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		_, _ = io.WriteString(w, full)
	}))
	rc, err := c.ReadingsStream(context.Background(), ReadingsQuery{Site: "sit_1"}, api.FormatCSV)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != full || calls.Load() != 2 {
		t.Fatalf("got %d bytes after %d requests, want the %d bytes of the export exactly once", len(got), calls.Load(), len(full))
	}
}

func TestReadingsStreamRefusesAChangedExport(t *testing.T) {
	var calls atomic.Int32
	c, _ := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			_, _ = io.WriteString(w, strings.Repeat("a,b\n", 3000))
			w.(http.Flusher).Flush()
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return
		}
		_, _ = io.WriteString(w, strings.Repeat("c,d\n", 6000))
	}))
	rc, err := c.ReadingsStream(context.Background(), ReadingsQuery{Site: "sit_1"}, api.FormatCSV)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadAll(rc); !errors.Is(err, ErrExportChanged) {
		t.Fatalf("err = %v, want ErrExportChanged", err)
	}
}

// A Windows system message ends with a period; embedded, it must not read "refused it.: is".
func TestNetworkErrorTextFromWindows(t *testing.T) {
	e := &NetworkError{Server: "https://127.0.0.1:1",
		Err:  errors.New("dial tcp 127.0.0.1:1: connectex: No connection could be made because the target machine actively refused it."),
		Hint: "is the server running and the URL right? (--server, SMARTX_SERVER or the profile)"}
	got := e.Error()
	if strings.Contains(got, ".:") || !strings.Contains(got, "actively refused it: is the server running") {
		t.Fatalf("NetworkError = %q", got)
	}
}

func TestParseServerURLSaysWhatIsWrong(t *testing.T) {
	tests := []struct {
		in, want, wantErr string
	}{
		{"https://platform.example:8443", "https://platform.example:8443", ""},
		{"https://platform.example/", "https://platform.example", ""},
		{"http://platform.example", "", `smartx talks to the platform over HTTPS only: use https://platform.example`},
		{"ftp://platform.example", "", `unsupported scheme "ftp": use https://platform.example`},
		{"127.0.0.1:8443", "", `has no scheme: use https://127.0.0.1:8443`},
		{"platform.example", "", `has no scheme: use https://platform.example`},
		{"https://platform.example/v1/health", "", `has a path (/v1/health): give the server's base URL, https://platform.example`},
		{"https://platform.example?x=1", "", `has a query or fragment`},
		{"https://bob:secret@platform.example", "", `must not carry a user name or password`},
		{"https://", "", `is not a URL`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			u, err := ParseServerURL(tt.in)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrBadServerURL) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseServerURL(%q) = %v, want %q", tt.in, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Fatalf("the password leaked into the error: %v", err)
				}
				return
			}
			if err != nil || u.String() != tt.want {
				t.Fatalf("ParseServerURL(%q) = %v, %v; want %s", tt.in, u, err, tt.want)
			}
		})
	}
}

func TestRawOnlyOnTheConfiguredServer(t *testing.T) {
	c, ts := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/sites" || r.URL.Query().Get("name") != "Paris HQ" || r.URL.Query().Get("x") != "1" {
			t.Errorf("request %s", r.URL)
		}
		w.WriteHeader(http.StatusTeapot)
		_, _ = w.Write([]byte(`{"status":418}`))
	}))
	resp, err := c.Raw(context.Background(), RawRequest{Path: "v1/sites?name=Paris%20HQ", Query: map[string][]string{"x": {"1"}}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTeapot {
		t.Fatalf("status %d: Raw must return every answer", resp.StatusCode)
	}
	if _, err := c.Raw(context.Background(), RawRequest{Path: ts.URL + "/v1/sites?name=Paris%20HQ&x=1"}); err != nil {
		t.Fatalf("a full URL of the configured server: %v", err)
	}
	for _, foreign := range []string{"https://127.0.0.2:1/v1/sites", "//elsewhere.example/v1/sites", "http://" + strings.TrimPrefix(ts.URL, "https://") + "/v1/sites"} {
		if _, err := c.Raw(context.Background(), RawRequest{Path: foreign}); !errors.Is(err, ErrForeignURL) {
			t.Errorf("Raw(%q) = %v, want ErrForeignURL", foreign, err)
		}
	}
}
