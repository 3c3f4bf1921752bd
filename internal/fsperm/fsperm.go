// Package fsperm keeps secret files to their owner. On Unix that is a matter of modes: files
// 0600, directories 0700, whatever the umask or a pre-existing file's mode. On Windows modes
// mean nothing (Go maps them to the read-only flag), so nothing here claims them there: access
// is the folder's ACL, and the functions report that they changed nothing.
package fsperm

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// PrivateDir creates dir (and its parents) if missing and makes it owner-only; changed reports
// an existing directory whose mode was tightened, which the caller may log.
func PrivateDir(dir string) (changed bool, err error) {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return false, fmt.Errorf("create %s: %w", dir, err)
		}
		return false, restrictDir(dir, 0)
	}
	if err != nil {
		return false, err
	}
	if !fi.IsDir() {
		return false, fmt.Errorf("%s is not a directory", dir)
	}
	return tightenDir(dir, fi.Mode())
}

// RestrictFile makes an existing file owner-only; a missing file is no error.
func RestrictFile(path string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return restrictFile(path, fi.Mode())
}
