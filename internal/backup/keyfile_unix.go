//go:build !windows

package backup

import (
	"fmt"
	"os"
)

func checkKeyFileMode(path string, fi os.FileInfo) error {
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("backup key file %s is readable by other users (mode %04o): chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	return nil
}
