//go:build !windows

package fsperm

import (
	"fmt"
	"io/fs"
	"os"
)

// ReadableByOthers reports whether users other than the owner may read or write the file.
func ReadableByOthers(fi fs.FileInfo) bool { return fi.Mode().Perm()&0o077 != 0 }

func restrictDir(dir string, _ fs.FileMode) error {
	// MkdirAll applied the umask, which may have loosened 0700: set it exactly.
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("make %s owner-only: %w", dir, err)
	}
	return nil
}

func tightenDir(dir string, mode fs.FileMode) (bool, error) {
	if mode.Perm()&0o077 == 0 {
		return false, nil
	}
	return true, restrictDir(dir, mode)
}

func restrictFile(path string, mode fs.FileMode) error {
	if mode.Perm()&0o077 == 0 {
		return nil
	}
	if err := os.Chmod(path, mode.Perm()&0o700); err != nil {
		return fmt.Errorf("make %s owner-only: %w", path, err)
	}
	return nil
}
