//go:build !unix && !windows

package preflight

import "syscall"

// errnoKinds is empty on this OS: errors fall back to the generic timeout, EOF and
// socket-creation handling of classifyNetError.
var errnoKinds = map[syscall.Errno]failureKind{}
