package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/auth"
)

func TestDatabasePath(t *testing.T) {
	tests := []struct {
		dir, url, want string
	}{
		{"/data", "", "/data/smartx.db"},
		{"/data", "sqlite:///var/lib/smartx/x.db", "/var/lib/smartx/x.db"},
		{"", "sqlite://rel/x.db", "rel/x.db"},
	}
	for _, tt := range tests {
		got, err := DatabasePath(tt.dir, tt.url)
		if got != tt.want || err != nil {
			t.Errorf("DatabasePath(%q, %q) = %q, %v; want %q", tt.dir, tt.url, got, err, tt.want)
		}
	}
	for _, bad := range []string{"mysql://x", "smartx.db", "sqlite://", "postgres://db.example/smartx"} {
		if _, err := DatabasePath("/data", bad); err == nil {
			t.Errorf("DatabasePath accepted %q", bad)
		}
	}
	if _, err := DatabasePath("", ""); err == nil {
		t.Error("DatabasePath accepted no directory and no URL")
	}
	for url, want := range map[string]bool{"postgres://u@h/db": true, "postgresql://h/db": true, "sqlite:///x.db": false, "": false, "postgres": false} {
		if got := IsPostgresURL(url); got != want {
			t.Errorf("IsPostgresURL(%q) = %v, want %v", url, got, want)
		}
	}
}

func TestMasterKeySources(t *testing.T) {
	ctx := context.Background()
	params := testPasswordParams
	cfg := ServiceConfig{PasswordParams: &params}
	dir := t.TempDir()
	var logged bytes.Buffer
	cfgLogged := cfg
	cfgLogged.Logger = slog.New(slog.NewTextHandler(&logged, nil))

	if _, err := OpenService(ctx, DataDir{Dir: dir}, cfg); err == nil || !strings.Contains(err.Error(), "no smartx database") {
		t.Fatalf("opening a missing database without Create: %v", err)
	}
	svc, err := OpenService(ctx, DataDir{Dir: dir, Create: true}, cfgLogged)
	if err != nil {
		t.Fatal(err)
	}
	svc.Close()
	st, err := os.Stat(filepath.Join(dir, MasterKeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("generated master key: %v, mode %v", err, st.Mode())
	}
	if !strings.Contains(logged.String(), "GENERATED A MASTER KEY BESIDE THE DATABASE") {
		t.Fatalf("no loud warning: %s", logged.String())
	}
	if strings.Contains(logged.String(), mustRead(t, filepath.Join(dir, MasterKeyFile))[:16]) {
		t.Fatal("the master key was logged")
	}

	// The same data directory with another key is refused, by every source.
	other, _ := auth.NewKey(bytes.NewReader(bytes.Repeat([]byte{7}, 32)))
	otherFile := filepath.Join(t.TempDir(), "other.key")
	auth.WriteKeyFile(otherFile, other)
	for name, dd := range map[string]DataDir{
		"environment": {Dir: dir, MasterKeyHex: other.Hex()},
		"file":        {Dir: dir, MasterKeyFile: otherFile},
	} {
		if _, err := OpenService(ctx, dd, cfg); !errors.Is(err, auth.ErrWrongMasterKey) {
			t.Errorf("wrong master key from %s: %v", name, err)
		}
	}
	for name, dd := range map[string]DataDir{
		"both sources":     {Dir: dir, MasterKeyHex: other.Hex(), MasterKeyFile: otherFile},
		"malformed env":    {Dir: dir, MasterKeyHex: "abc"},
		"missing key file": {Dir: dir, MasterKeyFile: filepath.Join(dir, "nope.key")},
	} {
		if _, err := OpenService(ctx, dd, cfg); err == nil || errors.Is(err, auth.ErrWrongMasterKey) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The right key from the environment opens it.
	key, _, _ := auth.ReadKeyFile(filepath.Join(dir, MasterKeyFile))
	svc, err = OpenService(ctx, DataDir{Dir: dir, MasterKeyHex: key.Hex()}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	svc.Close()
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestEnsureSelfSigned(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f, created, err := EnsureSelfSigned(dir, []string{"localhost", "127.0.0.1"}, now)
	if err != nil || !created {
		t.Fatalf("first call: %v, created %v", err, created)
	}
	ca := mustRead(t, f.CACert)
	if st, _ := os.Stat(f.CAKey); st.Mode().Perm() != 0o600 {
		t.Fatalf("CA key mode %v", st.Mode())
	}
	if _, created, _ = EnsureSelfSigned(dir, []string{"localhost", "127.0.0.1"}, now); created {
		t.Fatal("a second start rewrote valid certificates")
	}
	if _, created, _ = EnsureSelfSigned(dir, []string{"localhost", "127.0.0.1", "::1"}, now); !created {
		t.Fatal("a new host did not reissue the server certificate")
	}
	if _, created, _ = EnsureSelfSigned(dir, []string{"localhost", "127.0.0.1", "::1"}, now.Add(380*24*time.Hour)); !created {
		t.Fatal("a certificate near expiry was not renewed")
	}
	if mustRead(t, f.CACert) != ca {
		t.Fatal("the CA changed: clients would stop trusting the server")
	}
	pair, err := tls.LoadX509KeyPair(f.ServerCert, f.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(ca))
	if _, err := pair.Leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "::1", CurrentTime: now.Add(380 * 24 * time.Hour)}); err != nil {
		t.Fatalf("server certificate does not verify against the CA: %v", err)
	}
}

// TestRunDevMode starts `smartx server --dev` in process, uses what it prints, and stops it.
func TestRunDevMode(t *testing.T) {
	params := testPasswordParams
	ctx, cancel := context.WithCancel(context.Background())
	readyc := make(chan Ready, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{
			Listen: "127.0.0.1:0", Dev: true, Version: "test",
			Service: ServiceConfig{PasswordParams: &params},
			Ready:   func(r Ready) error { readyc <- r; return nil },
		})
	}()
	var r Ready
	select {
	case r = <-readyc:
	case err := <-done:
		t.Fatalf("Run ended before listening: %v", err)
	}
	if r.Dev == nil || !strings.HasPrefix(r.Dev.Token, api.APITokenPrefix) || r.Dev.Email != DevOwnerEmail || r.CAFile == "" ||
		!strings.HasPrefix(r.URL, "https://127.0.0.1:") {
		t.Fatalf("ready %+v", r)
	}
	dataDir := filepath.Dir(filepath.Dir(r.CAFile))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(mustRead(t, r.CAFile)))
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	req, _ := http.NewRequest("GET", r.URL+api.PathWhoAmI, nil)
	req.Header.Set("Authorization", "Bearer "+r.Dev.Token)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var who api.WhoAmI
	json.NewDecoder(resp.Body).Decode(&who)
	resp.Body.Close()
	if resp.StatusCode != 200 || who.User.Role != api.RoleOwner || !strings.Contains(strings.Join(scopeNames(who.Token.Scopes), ","), "admin") {
		t.Fatalf("whoami with the dev token: %d %+v", resp.StatusCode, who)
	}
	body, _ := json.Marshal(api.LoginRequest{Email: r.Dev.Email, Password: r.Dev.Password})
	resp, err = client.Post(r.URL+api.PathLogin, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("login with the dev password: %d", resp.StatusCode)
	}
	tr.CloseIdleConnections()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	if _, err := os.Stat(dataDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the ephemeral data directory %s survived: %v", dataDir, err)
	}
}

func TestRunKeepsADevDataDir(t *testing.T) {
	params := testPasswordParams
	dir := t.TempDir()
	var passwords []string
	for range 2 { // a second start reuses the account and resets the password
		ctx, cancel := context.WithCancel(context.Background())
		err := Run(ctx, Options{Listen: "127.0.0.1:0", Dev: true, DataDir: DataDir{Dir: dir}, Service: ServiceConfig{PasswordParams: &params},
			Ready: func(r Ready) error { passwords = append(passwords, r.Dev.Password); cancel(); return nil }})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(passwords) != 2 || passwords[0] == passwords[1] {
		t.Fatalf("passwords %v", passwords)
	}
	svc, err := OpenService(context.Background(), DataDir{Dir: dir}, ServiceConfig{PasswordParams: &params})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	accs, _ := svc.ListAccounts(context.Background())
	if len(accs) != 1 {
		t.Fatalf("%d accounts after two dev starts, want 1", len(accs))
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	ctx := context.Background()
	tests := map[string]Options{
		"postgres":     {Listen: "127.0.0.1:0", DataDir: DataDir{Dir: t.TempDir(), DatabaseURL: "postgres://x/y"}},
		"cert, no key": {Listen: "127.0.0.1:0", DataDir: DataDir{Dir: t.TempDir()}, TLSCertFile: "c.pem"},
		"bad listen":   {Listen: "8443", DataDir: DataDir{Dir: t.TempDir()}},
		"missing cert": {Listen: "127.0.0.1:0", DataDir: DataDir{Dir: t.TempDir()}, TLSCertFile: "nope.pem", TLSKeyFile: "nope.pem"},
		"no data dir":  {Listen: "127.0.0.1:0"},
	}
	for name, o := range tests {
		t.Run(name, func(t *testing.T) {
			params := testPasswordParams
			o.Service.PasswordParams = &params
			if err := Run(ctx, o); err == nil {
				t.Fatal("Run accepted it")
			}
		})
	}
}

func scopeNames(s []api.Scope) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = string(v)
	}
	return out
}

// TestNoStrayMasterKey: a database whose master key is not in its directory (a dev server's
// throwaway directory, key in memory; or a key kept elsewhere) is refused before anything is
// written, rather than given a new master.key that cannot open it.
func TestNoStrayMasterKey(t *testing.T) {
	ctx := context.Background()
	params := testPasswordParams
	cfg := ServiceConfig{PasswordParams: &params}
	for _, dev := range []bool{true, false} {
		dir := t.TempDir()
		key, _ := auth.NewKey(bytes.NewReader(bytes.Repeat([]byte{9}, 32)))
		svc, err := OpenService(ctx, DataDir{Dir: dir, MasterKey: &key, Create: true}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		svc.Close()
		if dev {
			if err := os.Mkdir(filepath.Join(dir, DevMailDir), 0o700); err != nil {
				t.Fatal(err)
			}
		}
		before := listTree(t, dir)
		_, err = OpenService(ctx, DataDir{Dir: dir, Create: true}, cfg)
		want := "was made with a master key that is not there: nothing was written"
		if dev {
			want = "throwaway directory of a `smartx server --dev`"
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("dev %v: %v, want an error saying %q", dev, err, want)
		}
		if after := listTree(t, dir); !slices.Equal(before, after) {
			t.Errorf("dev %v: the directory changed from %v to %v", dev, before, after)
		}
	}
}

// listTree lists the files and folders under dir with their sizes.
func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if strings.Contains(path, "-wal") || strings.Contains(path, "-shm") {
			return nil // SQLite's own journal files come and go with every open
		}
		out = append(out, fmt.Sprintf("%s %d", strings.TrimPrefix(path, dir), info.Size()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
