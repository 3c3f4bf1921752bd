package commands

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/secretfile"
	"github.com/smart-impulse/smartx/internal/ui"
)

// serverCmdRun runs `smartx server ARGS` (the server subtree alone, as the root would) and
// returns stdout, stderr and the exit code.
func serverCmdRun(t *testing.T, stdin string, env map[string]string, args ...string) (string, string, int) {
	t.Helper()
	ios, in, out, errOut := ui.Test()
	in.WriteString(stdin)
	f := &Factory{IO: ios, Now: time.Now, Getenv: func(k string) string { return env[k] }}
	if i := serverArgIndex(args, "-o"); i >= 0 {
		f.Global.Output = args[i+1]
		args = append(args[:i:i], args[i+2:]...)
	}
	cmd := newServerCmd(f)
	cmd.SetArgs(args)
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.ExecuteContext(context.Background())
	code := exitCodeOf(err)
	if err != nil {
		errOut.WriteString(err.Error() + "\n")
	}
	return out.String(), errOut.String(), code
}

func serverArgIndex(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

func TestServerOperatorCommands(t *testing.T) {
	dir := t.TempDir()
	d := "--data-dir=" + dir

	out, errOut, code := serverCmdRun(t, "", nil, "account", "add", d, "--name", "Acme", "-o", "json")
	if code != 0 {
		t.Fatalf("account add: %d %s", code, errOut)
	}
	if !strings.Contains(errOut, "GENERATED A MASTER KEY") {
		t.Errorf("no warning about the generated master key: %s", errOut)
	}
	var accs []serverAccountJSON
	if err := json.Unmarshal([]byte(out), &accs); err != nil || len(accs) != 1 || accs[0].Name != "Acme" {
		t.Fatalf("account add output %q: %v", out, err)
	}
	acc := accs[0].ID

	out, errOut, code = serverCmdRun(t, "", nil, "user", "add", d, "--account", acc, "--email", "ops@acme.example", "--role", "owner", "-o", "json")
	if code != 0 {
		t.Fatalf("user add: %d %s", code, errOut)
	}
	var u serverUserJSON
	if err := json.Unmarshal([]byte(out), &u); err != nil || u.Email != "ops@acme.example" || u.Role != "owner" || len(u.Password) < 20 {
		t.Fatalf("user add output %q: %v", out, err)
	}

	out, errOut, code = serverCmdRun(t, "violet lantern orbit harbour\n", nil, "user", "add", d, "--account", acc,
		"--email", "ana@acme.example", "--role", "analyst", "--password-stdin")
	if code != 0 || strings.Contains(out, "Password:") || !strings.Contains(out, "ana@acme.example") {
		t.Fatalf("user add --password-stdin: %d %q %s", code, out, errOut)
	}

	out, _, code = serverCmdRun(t, "", nil, "user", "list", d, "--account", acc)
	if code != 0 || !strings.Contains(out, "EMAIL") || !strings.Contains(out, "ops@acme.example") || !strings.Contains(out, "ana@acme.example") {
		t.Fatalf("user list: %d %q", code, out)
	}

	out, errOut, code = serverCmdRun(t, "", nil, "user", "passwd", d, "--email", "ana@acme.example")
	if code != 0 || !strings.Contains(out, "Password: ") {
		t.Fatalf("user passwd: %d %q %s", code, out, errOut)
	}

	tests := []struct {
		name  string
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"no data dir", "", []string{"user", "list"}, exitUsage, "--data-dir is required"},
		{"weak password", "password1234\n", []string{"user", "add", d, "--account", acc, "--email", "w@acme.example", "--role", "analyst", "--password-stdin"}, exitFailure, "too common"},
		{"empty stdin", "", []string{"user", "add", d, "--account", acc, "--email", "w@acme.example", "--role", "analyst", "--password-stdin"}, exitUsage, "empty password"},
		{"bad role", "", []string{"user", "add", d, "--account", acc, "--email", "w@acme.example", "--role", "god"}, exitUsage, "unknown role"},
		{"unknown account", "", []string{"user", "add", d, "--account", "acc_nope", "--email", "w@acme.example", "--role", "analyst"}, exitFailure, "no such account"},
		{"duplicate user", "", []string{"user", "add", d, "--account", acc, "--email", "OPS@acme.example", "--role", "analyst"}, exitFailure, "already exists"},
		{"unknown user", "", []string{"user", "passwd", d, "--email", "ghost@acme.example"}, exitFailure, "no such user"},
		{"delete without --yes", "", []string{"account", "delete", acc, d}, exitUsage, "--yes"},
		{"wrong master key", "", []string{"user", "list", d, "--master-key-file", writeServerTestKey(t)}, exitFailure, "master key does not match"},
		{"missing database", "", []string{"user", "list", "--data-dir", t.TempDir()}, exitFailure, "no smartx database"},
		// Port 1 of loopback: nothing listens, the connection is refused at once.
		{"postgres unreachable", "", []string{"user", "list", "--database", "postgres://smartx@127.0.0.1:1/smartx?connect_timeout=5"}, exitFailure, "open database smartx@127.0.0.1:1/smartx"},
		{"dev env file without dev", "", []string{d, "--dev-env-file", "x.env"}, exitUsage, "--dev-env-file goes with --dev"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := serverCmdRun(t, tt.stdin, nil, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.want) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, errOut, tt.code, tt.want)
			}
		})
	}

	_, errOut, code = serverCmdRun(t, "", nil, "account", "delete", acc, "--yes", d)
	if code != 0 || !strings.Contains(errOut, "Deleted account") {
		t.Fatalf("account delete: %d %s", code, errOut)
	}
	out, _, _ = serverCmdRun(t, "", nil, "user", "list", d, "-o", "json")
	if strings.TrimSpace(out) != "[]" {
		t.Fatalf("users survive their account: %s", out)
	}
}

func writeServerTestKey(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "other.key")
	if err := os.WriteFile(path, []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestServerDev runs `smartx server --dev` as an end-to-end test would: it waits for the
// printed block (no sleeping), reads the env file, and stops the server by cancelling.
func TestServerDev(t *testing.T) {
	pr, pw := io.Pipe()
	ios, _, _, errOut := ui.Test()
	ios.Out = pw
	f := &Factory{IO: ios, Now: time.Now, Getenv: func(string) string { return "" }}
	envFile := filepath.Join(t.TempDir(), "dev.env")
	cmd := newServerCmd(f)
	cmd.SetArgs([]string{"--dev", "--listen", "127.0.0.1:0", "--dev-env-file", envFile})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- cmd.ExecuteContext(ctx)
		pw.Close()
	}()

	var block strings.Builder
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		block.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), "Stop it with") {
			break
		}
	}
	go io.Copy(io.Discard, pr)
	text := block.String()
	for _, want := range []string{"Server URL:", "https://127.0.0.1:", "CA file:", "owner@example.com", "Owner password:", "export SMARTX_SERVER=https://127.0.0.1:", "SMARTX_CA_FILE=", "SMARTX_TOKEN=sxt_"} {
		if !strings.Contains(text, want) {
			t.Fatalf("dev block lacks %q:\n%s\nstderr: %s", want, text, errOut)
		}
	}
	env, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	if open, err := secretfile.Exposed(envFile); err != nil || open {
		t.Fatalf("the env file holds a token and other users can read it (%v)", err)
	}
	vars := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(env)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		vars[k] = v
	}
	if !strings.HasPrefix(vars["SMARTX_SERVER"], "https://127.0.0.1:") || !strings.HasPrefix(vars["SMARTX_TOKEN"], "sxt_") || vars["SMARTX_CA_FILE"] == "" || vars["SMARTX_DEV_PASSWORD"] == "" {
		t.Fatalf("env file:\n%s", env)
	}
	if _, err := os.Stat(vars["SMARTX_CA_FILE"]); err != nil {
		t.Fatalf("CA file: %v", err)
	}
	if strings.Contains(errOut.String(), vars["SMARTX_TOKEN"]) || strings.Contains(errOut.String(), vars["SMARTX_DEV_PASSWORD"]) {
		t.Fatal("a secret reached the log")
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("server --dev after cancel: %v", err)
	}
	if _, err := os.Stat(envFile); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the env file with its stale token survived the server")
	}
	if _, err := os.Stat(vars["SMARTX_CA_FILE"]); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the ephemeral data directory survived the server")
	}
	if !bytes.Contains(errOut.Bytes(), []byte("smartx server listening")) {
		t.Fatalf("no listening log line: %s", errOut)
	}
}
