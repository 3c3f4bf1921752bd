package device

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"syscall"

	"github.com/smart-impulse/smartx/internal/secretfile"
)

// tempPrefix starts the name of every temporary file this package writes, so a crash's
// leftovers are recognised and removed at the next start.
const tempPrefix = ".tmp-"

// writeFileAtomic replaces path with data so that a crash leaves either the old file or the new
// one, never a mix: a temporary file in the same directory, restricted to the current user
// before anything is written to it (secretfile.Restrict: mode 0600 on Unix, an access list on
// Windows), fsync, rename, fsync of the directory.
func writeFileAtomic(path string, data []byte) error {
	dir, name := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, tempPrefix+name+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := secretfile.Restrict(f); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(dir)
}

// syncDir makes the directory entries of dir (renames, creations) durable. Some systems cannot
// fsync a directory (Windows); there, the rename itself is the best available.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !isUnsupportedSync(err) {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// isUnsupportedSync reports an fsync that the platform or file system does not support on
// directories.
func isUnsupportedSync(err error) bool {
	return runtime.GOOS == "windows" || errors.Is(err, errors.ErrUnsupported) || errors.Is(err, syscall.EINVAL)
}
