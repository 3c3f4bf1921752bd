package secretfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// PrivateDir creates dir (and its parents) if missing and limits it to the current user: mode
// 0700 on Unix; on Windows an access list for the user alone, inherited by what is created in
// it. changed reports an existing directory others could read that was tightened, which the
// caller may log.
func PrivateDir(dir string) (changed bool, err error) {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return false, fmt.Errorf("create %s: %w", dir, err)
		}
		return false, restrictDir(dir)
	}
	if err != nil {
		return false, err
	}
	if !fi.IsDir() {
		return false, fmt.Errorf("%s is not a directory", dir)
	}
	open, err := exposed(dir)
	if err != nil || !open {
		return false, err
	}
	return true, restrictDir(dir)
}

// RestrictPath limits an existing file to the current user, as Restrict does for a file just
// created, when others could read it; a missing file is no error.
func RestrictPath(path string) error {
	open, err := exposed(path)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && !open) {
		return nil
	}
	if err != nil {
		return err
	}
	return restrictName(path, false)
}

func restrictDir(dir string) error { return restrictName(dir, true) }
