//go:build !windows

package server

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/smart-impulse/smartx/internal/auth"
)

// Whatever the umask and a pre-existing directory's mode, the data directory, database, WAL
// and key files end up owner-only; a master key file others can read is refused with the
// chmod to run. (Windows has no such modes: these are Unix promises only.)
func TestDataFilesAreOwnerOnly(t *testing.T) {
	old := syscall.Umask(0o002)
	defer syscall.Umask(old)
	ctx := context.Background()
	params := testPasswordParams
	var logged bytes.Buffer
	cfg := ServiceConfig{PasswordParams: &params, Logger: slog.New(slog.NewTextHandler(&logged, nil))}
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	svc, err := OpenService(ctx, DataDir{Dir: dir, Create: true}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateAccount(ctx, "Acme"); err != nil {
		t.Fatal(err)
	}
	svc.Close()
	if !strings.Contains(logged.String(), "it is now owner-only (0700)") {
		t.Fatalf("tightening the data directory was not said: %s", logged.String())
	}
	err = filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %04o, want owner-only", strings.TrimPrefix(path, dir), fi.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	keyFile := filepath.Join(dir, MasterKeyFile)
	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = OpenService(ctx, DataDir{Dir: dir}, cfg)
	if !errors.Is(err, ErrMasterKeyTooOpen) || !strings.Contains(err.Error(), "run `chmod 600 "+keyFile+"`") {
		t.Fatalf("a master key readable by others: %v", err)
	}
	elsewhere := filepath.Join(t.TempDir(), "master.key")
	key, _, _ := auth.ReadKeyFile(keyFile)
	if err := os.WriteFile(elsewhere, []byte(key.Hex()+"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenService(ctx, DataDir{Dir: dir, MasterKeyFile: elsewhere}, cfg); !errors.Is(err, ErrMasterKeyTooOpen) {
		t.Fatalf("a --master-key-file readable by the group: %v", err)
	}
}
