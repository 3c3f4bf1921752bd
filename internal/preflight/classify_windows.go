//go:build windows

package preflight

import "syscall"

// Winsock and Win32 error codes that connect, read and write return. The
// syscall package only names a few of them, so they are spelled out here.
const (
	wsaEACCES               syscall.Errno = 10013
	wsaENETDOWN             syscall.Errno = 10050
	wsaENETUNREACH          syscall.Errno = 10051
	wsaECONNABORTED         syscall.Errno = 10053
	wsaECONNRESET           syscall.Errno = 10054
	wsaETIMEDOUT            syscall.Errno = 10060
	wsaECONNREFUSED         syscall.Errno = 10061
	wsaEHOSTDOWN            syscall.Errno = 10064
	wsaEHOSTUNREACH         syscall.Errno = 10065
	errorConnectionRefused  syscall.Errno = 1225
	errorNetworkUnreachable syscall.Errno = 1231
	errorHostUnreachable    syscall.Errno = 1232
	errorSemTimeout         syscall.Errno = 121
	errorAccessDenied       syscall.Errno = 5
)

// classifyErrno maps Windows socket errors to a failureKind.
func classifyErrno(errno syscall.Errno) failureKind {
	switch errno {
	case wsaECONNREFUSED, errorConnectionRefused:
		return failRefused
	case wsaETIMEDOUT, errorSemTimeout:
		return failTimeout
	case wsaECONNRESET, wsaECONNABORTED:
		return failReset
	case wsaEHOSTUNREACH, wsaEHOSTDOWN, errorHostUnreachable:
		return failHostUnreachable
	case wsaENETUNREACH, wsaENETDOWN, errorNetworkUnreachable:
		return failNetUnreachable
	case wsaEACCES, errorAccessDenied:
		return failPermission
	}
	return failOther
}
