//go:build unix

package preflight

import "syscall"

// classifyErrno maps the unix errnos connect/read/write return (Linux,
// macOS, BSD) to a failureKind.
func classifyErrno(errno syscall.Errno) failureKind {
	switch errno {
	case syscall.ECONNREFUSED:
		return failRefused
	case syscall.ETIMEDOUT:
		return failTimeout
	case syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE:
		return failReset
	case syscall.EHOSTUNREACH, syscall.EHOSTDOWN:
		return failHostUnreachable
	case syscall.ENETUNREACH, syscall.ENETDOWN:
		return failNetUnreachable
	case syscall.EACCES, syscall.EPERM:
		return failPermission
	}
	return failOther
}
