//go:build !windows

package sqlite

import (
	"errors"
	"io/fs"
	"os"
)

// restrictToOwner makes an existing file readable and writable by its owner only.
func restrictToOwner(path string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o077 == 0 {
		return nil
	}
	return os.Chmod(path, fi.Mode().Perm()&0o700)
}
