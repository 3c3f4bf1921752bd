//go:build !windows

package secretfile

import (
	"fmt"
	"os"
)

const protection = "mode 0600 (only you can read it)"

func restrict(f *os.File) error {
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("restrict %s to its owner: %w", f.Name(), err)
	}
	return nil
}

// restrictName sets mode 0700 on a directory (MkdirAll applied the umask, which may have
// loosened it) and takes the group's and others' bits off a file.
func restrictName(path string, dir bool) error {
	mode := os.FileMode(0o700)
	if !dir {
		info, err := os.Stat(path)
		if err != nil {
			return err
		}
		mode = info.Mode().Perm() & 0o700
	}
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("restrict %s to its owner: %w", path, err)
	}
	return nil
}

func exposed(path string) (bool, error) {
	info, err := os.Stat(path)
	if err != nil {
		return false, err
	}
	return info.Mode().Perm()&0o077 != 0, nil
}

func fixHint(path string) string { return "chmod 600 " + path }

// checkFolder has nothing to check on Unix: every file system smartx writes to takes a mode
// (a FAT mount shows its mount options' mode, which chmod cannot narrow, but Restrict then
// reports the failure itself).
func checkFolder(string) error { return nil }
