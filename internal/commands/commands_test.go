package commands

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/ui"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it)\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// runCmd runs smartx with args on test streams and returns the exit code and both outputs.
func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	io, _, out, errOut := ui.Test()
	f := NewFactory(io)
	f.Now = func() time.Time { return time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC) }
	f.Getenv = func(string) string { return "" }
	code = Run(context.Background(), f, args)
	return code, out.String(), errOut.String()
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"help", []string{"--help"}, exitOK},
		{"version", []string{"version"}, exitOK},
		{"unknown command", []string{"nope"}, exitUsage},
		{"unknown flag", []string{"version", "--nope"}, exitUsage},
		{"bad output format", []string{"version", "-o", "xml"}, exitUsage},
		{"extra argument", []string{"version", "now"}, exitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCmd(t, tt.args...)
			if code != tt.want {
				t.Fatalf("exit code %d, want %d (stderr %q)", code, tt.want, stderr)
			}
			if code != exitOK && (stderr == "" || bytes.Count([]byte(stderr), []byte("\n")) > 2) {
				t.Fatalf("error output should be one line plus a usage pointer, got %q", stderr)
			}
		})
	}
}

func TestHelpGolden(t *testing.T) {
	_, out, _ := runCmd(t, "--help")
	golden(t, "help.golden", []byte(out))
}
