//go:build !unix && !windows

package preflight

import "syscall"

// classifyErrno has no errno table on this OS; errors fall back to the
// generic timeout/EOF handling of classifyNetError.
func classifyErrno(syscall.Errno) failureKind { return failOther }
