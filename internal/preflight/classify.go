package preflight

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
)

// failureKind is what a network error means for the installer. The errno
// mapping is per OS (classify_unix.go, classify_windows.go).
type failureKind int

const (
	failOther failureKind = iota
	failTimeout
	failRefused
	failReset
	failHostUnreachable
	failNetUnreachable
	failPermission
	failNameNotResolved
	failClosed
)

// classifyNetError maps a dial/read/write error to a failureKind.
func classifyNetError(err error) failureKind {
	if err == nil {
		return failOther
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return failNameNotResolved
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return failTimeout
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if k := classifyErrno(errno); k != failOther {
			return k
		}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return failClosed
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return failTimeout
	}
	return failOther
}

// connectFailure turns a TCP connect error into a one-line description and
// a one-line hint for the installer.
func connectFailure(err error, target string) (summary, hint string) {
	switch classifyNetError(err) {
	case failTimeout:
		return "no answer from " + target + " (packets silently dropped)",
			"a firewall drops this traffic: ask IT for the rule below"
	case failRefused:
		return "connection to " + target + " refused",
			"something actively rejects the connection (firewall REJECT rule or wrong port): ask IT for the rule below"
	case failReset:
		return "connection to " + target + " reset",
			"a firewall or proxy cuts the connection: ask IT for the rule below"
	case failHostUnreachable:
		return target + ": host unreachable",
			"a router or firewall reports it cannot reach the platform: ask IT for the rule below"
	case failNetUnreachable:
		return target + ": network unreachable",
			"this network has no route to the Internet: check the gateway, then ask IT for the rule below"
	case failPermission:
		return "connection to " + target + " blocked by this laptop",
			"this laptop's own firewall or security software blocks the connection; allow it locally and run again"
	case failNameNotResolved:
		return "cannot resolve " + target + ": " + dnsErrorText(err),
			"fix name resolution first (see the dns check)"
	case failClosed:
		return "connection to " + target + " closed", "something on the path closes the connection: ask IT for the rule below"
	default:
		return "cannot connect to " + target + ": " + err.Error(), "ask IT for the rule below"
	}
}

// dnsErrorText is the short cause of a resolution error.
func dnsErrorText(err error) string {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		switch {
		case dnsErr.IsNotFound:
			return "no such host"
		case dnsErr.IsTimeout:
			return "DNS timeout"
		}
		return dnsErr.Err
	}
	return err.Error()
}
