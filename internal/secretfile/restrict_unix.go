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
