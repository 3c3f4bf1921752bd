package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestBackupInto(t *testing.T) {
	s := openTemp(t)
	defer s.Close()
	ctx := context.Background()
	if _, err := s.SetMetaIfAbsent(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "copy.db")
	if err := s.BackupInto(ctx, path); err != nil {
		t.Fatal(err)
	}
	if err := s.BackupInto(ctx, path); err == nil {
		t.Fatal("a second backup overwrote the first")
	}
	if fi, err := os.Stat(path); err != nil || runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Fatalf("copy: %v, %v; want a file readable by its owner only", fi, err)
	}
	c, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if v, err := c.Meta(ctx, "k"); err != nil || string(v) != "v" {
		t.Fatalf("the copy holds %q, %v", v, err)
	}
}
