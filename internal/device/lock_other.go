//go:build !unix

package device

import "os"

// lockFile is a no-op where flock does not exist: the spool is then not protected against a
// second simulator.
func lockFile(*os.File) error { return nil }
