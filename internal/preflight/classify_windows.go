//go:build windows

package preflight

import (
	"syscall"

	"golang.org/x/sys/windows"
)

// The errnos the shared tests name, as Windows spells them (Winsock codes).
const (
	errnoRefused      = windows.WSAECONNREFUSED
	errnoTimedOut     = windows.WSAETIMEDOUT
	errnoReset        = windows.WSAECONNRESET
	errnoHostUnreach  = windows.WSAEHOSTUNREACH
	errnoNetUnreach   = windows.WSAENETUNREACH
	errnoNetDown      = windows.WSAENETDOWN
	errnoAddrNotAvail = windows.WSAEADDRNOTAVAIL
	errnoAccess       = windows.WSAEACCES
	errnoAddrFamily   = windows.WSAEAFNOSUPPORT
	errnoNoBufs       = windows.WSAENOBUFS
)

// errnoKinds maps the Winsock and Win32 errors connect, send and receive return to what they
// mean. The syscall package's ECONNREFUSED and friends are invented values Windows never
// returns, hence the WSA* codes. The laptop's own faults (failPermission, failNoRoute,
// failLocal) are told apart from what the network did.
var errnoKinds = map[syscall.Errno]failureKind{
	windows.WSAECONNREFUSED:           failRefused,
	windows.ERROR_CONNECTION_REFUSED:  failRefused,
	windows.WSAETIMEDOUT:              failTimeout,
	windows.ERROR_SEM_TIMEOUT:         failTimeout,
	windows.WSAECONNRESET:             failReset,
	windows.WSAECONNABORTED:           failReset,
	windows.WSAENETRESET:              failReset,
	windows.ERROR_NETNAME_DELETED:     failReset,
	windows.WSAEHOSTUNREACH:           failHostUnreachable,
	windows.WSAEHOSTDOWN:              failHostUnreachable,
	windows.ERROR_HOST_UNREACHABLE:    failHostUnreachable,
	windows.WSAENETUNREACH:            failNetUnreachable,
	windows.ERROR_NETWORK_UNREACHABLE: failNetUnreachable,
	// WSAEACCES: Windows Defender Firewall, security software or a VPN client refused the
	// socket operation, or a raw socket needs an administrator.
	windows.WSAEACCES:           failPermission,
	windows.ERROR_ACCESS_DENIED: failPermission,
	// The laptop's network is down, or it has no address of the target's family.
	windows.WSAENETDOWN:      failNoRoute,
	windows.WSAEADDRNOTAVAIL: failNoRoute,
	// Winsock itself could not make a socket: a protocol or family switched off, a broken
	// network provider (often left behind by VPN or security software), no buffers.
	windows.WSAEAFNOSUPPORT:        failLocal,
	windows.WSAEPFNOSUPPORT:        failLocal,
	windows.WSAEPROTONOSUPPORT:     failLocal,
	windows.WSAESOCKTNOSUPPORT:     failLocal,
	windows.WSAEMFILE:              failLocal,
	windows.WSAENOBUFS:             failLocal,
	windows.WSANOTINITIALISED:      failLocal,
	windows.WSASYSNOTREADY:         failLocal,
	windows.WSAEPROVIDERFAILEDINIT: failLocal,
	windows.WSASYSCALLFAILURE:      failLocal,
	windows.WSAEINVALIDPROVIDER:    failLocal,
	windows.WSAEINVALIDPROCTABLE:   failLocal,
}
