//go:build unix

package secretfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRestrictUnixMode(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "secret-*")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		t.Fatal(err)
	}
	if open, err := Exposed(f.Name()); err != nil || !open {
		t.Fatalf("Exposed(0644 file) = %v, %v; want true", open, err)
	}
	if err := Restrict(f); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(f.Name())
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("mode after Restrict = %v, %v; want 0600", info.Mode().Perm(), err)
	}
	if !strings.Contains(Protection(), "0600") || !strings.HasPrefix(FixHint(filepath.Join("a", "b")), "chmod 600 ") {
		t.Fatalf("Protection %q / FixHint %q do not describe a mode", Protection(), FixHint("a/b"))
	}
}
