//go:build unix

package preflight

import "syscall"

// The errnos the shared tests name, as this OS spells them.
const (
	errnoRefused      = syscall.ECONNREFUSED
	errnoTimedOut     = syscall.ETIMEDOUT
	errnoReset        = syscall.ECONNRESET
	errnoHostUnreach  = syscall.EHOSTUNREACH
	errnoNetUnreach   = syscall.ENETUNREACH
	errnoNetDown      = syscall.ENETDOWN
	errnoAddrNotAvail = syscall.EADDRNOTAVAIL
	errnoAccess       = syscall.EACCES
	errnoAddrFamily   = syscall.EAFNOSUPPORT
	errnoNoBufs       = syscall.ENOBUFS
)

// errnoKinds maps the errnos socket, connect, send and receive return on unix (Linux, macOS,
// BSD) to what they mean. The laptop's own faults (failPermission, failNoRoute, failLocal)
// are told apart from what the network did.
var errnoKinds = map[syscall.Errno]failureKind{
	syscall.ECONNREFUSED: failRefused,
	syscall.ETIMEDOUT:    failTimeout,
	syscall.ECONNRESET:   failReset,
	syscall.ECONNABORTED: failReset,
	syscall.EPIPE:        failReset,
	syscall.EHOSTUNREACH: failHostUnreachable,
	syscall.EHOSTDOWN:    failHostUnreachable,
	syscall.ENETUNREACH:  failNetUnreachable,
	// The laptop's own firewall (a netfilter OUTPUT rule, security software) or a missing
	// privilege.
	syscall.EACCES: failPermission,
	syscall.EPERM:  failPermission,
	// The laptop's interface is down, or it has no address of the target's family.
	syscall.ENETDOWN:      failNoRoute,
	syscall.EADDRNOTAVAIL: failNoRoute,
	// The laptop could not make a socket at all.
	syscall.EAFNOSUPPORT:    failLocal,
	syscall.EPROTONOSUPPORT: failLocal,
	syscall.EMFILE:          failLocal,
	syscall.ENFILE:          failLocal,
	syscall.ENOBUFS:         failLocal,
	syscall.ENOMEM:          failLocal,
}
