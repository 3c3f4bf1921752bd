//go:build !windows

package secretfile

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestOwnerOnlyWhateverTheUmask(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	base := t.TempDir()

	fresh := filepath.Join(base, "a", "b")
	if changed, err := PrivateDir(fresh); err != nil || changed {
		t.Fatalf("PrivateDir(new) = %v, %v", changed, err)
	}
	open := filepath.Join(base, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if changed, err := PrivateDir(open); err != nil || !changed {
		t.Fatalf("PrivateDir(0777) = %v, %v; want it tightened", changed, err)
	}
	file := filepath.Join(base, "key")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if open, err := Exposed(file); err != nil || !open {
		t.Fatalf("Exposed(0644 file) = %v, %v", open, err)
	}
	if err := RestrictPath(file); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{fresh: 0o700, open: 0o700, file: 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s has mode %04o, want %04o", path, got, want)
		}
	}
	if err := RestrictPath(filepath.Join(base, "missing")); err != nil {
		t.Fatalf("a missing file: %v", err)
	}
	if _, err := PrivateDir(file); err == nil {
		t.Fatal("PrivateDir accepted a file")
	}
}
