package preflight

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"syscall"

	"github.com/smart-impulse/smartx/internal/errtext"
)

// failureKind is what a network error means for the installer. The errno
// mapping is per OS (errnoKinds in classify_unix.go, classify_windows.go).
type failureKind int

const (
	failOther failureKind = iota
	failTimeout
	failRefused
	failReset
	failHostUnreachable
	failNetUnreachable
	failNameNotResolved
	failClosed

	// The kinds below are faults of this laptop: nothing reached the
	// network, so they say nothing about the site and IT has nothing to do.

	// failPermission: the laptop's firewall, security software or a
	// missing privilege refused the operation.
	failPermission
	// failNoRoute: the laptop has no route toward the target (not
	// connected, no gateway, interface down, no address of that family).
	failNoRoute
	// failLocal: the laptop could not make or use a socket at all.
	failLocal
)

// onLaptop reports whether the kind is a fault of this laptop.
func (k failureKind) onLaptop() bool {
	return k == failPermission || k == failNoRoute || k == failLocal
}

// FaultLaptop is Result.Fault when the error was raised by this laptop itself.
const FaultLaptop = "laptop"

// laptopError marks an error raised by this laptop before anything went on
// the wire: a UDP "connect" (which only consults the routing table), the
// first send on a fresh UDP socket, or a route lookup that found nothing.
// Whatever its errno, it is the laptop's fault.
type laptopError struct {
	err error
}

func (e *laptopError) Error() string { return e.err.Error() }
func (e *laptopError) Unwrap() error { return e.err }

// onLaptop wraps err as raised by the laptop; nil stays nil, and a deadline
// or cancellation stays what it is.
func onLaptop(err error) error {
	if err == nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	return &laptopError{err: err}
}

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
	kind := failOther
	var errno syscall.Errno
	if errors.As(err, &errno) {
		kind = errnoKinds[errno]
	}
	var le *laptopError
	if errors.As(err, &le) {
		switch kind {
		case failPermission, failLocal:
			return kind
		case failNetUnreachable, failHostUnreachable, failNoRoute:
			return failNoRoute
		}
		return failLocal
	}
	if kind != failOther {
		return kind
	}
	if raisedBySocketSetup(err) {
		return failLocal
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

// raisedBySocketSetup recognises errors of making a socket (socket, bind,
// setsockopt, listen), which happen on the laptop before anything is sent.
func raisedBySocketSetup(err error) bool {
	var sc *os.SyscallError
	if errors.As(err, &sc) {
		switch sc.Syscall {
		case "socket", "bind", "setsockopt", "wsasocket", "listen":
			return true
		}
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "listen"
}

// laptopFault fills r and returns true when err is a fault of this laptop:
// the check could not run (StatusError), there is no rule for IT, and the
// hint is about the laptop. what names what was attempted ("the NTP query
// to 192.0.2.1:123").
func laptopFault(r *Result, err error, what string) bool {
	kind := classifyNetError(err)
	if !kind.onLaptop() {
		return false
	}
	r.Status = StatusError
	r.Fault = FaultLaptop
	r.Rule = ""
	r.Summary, r.Hint = laptopFailure(kind, err, what, runtime.GOOS)
	r.Reason = "nothing was sent: a fault of this laptop, not of the site's network"
	r.setEvidence("error", errtext.Of(err))
	return true
}

// laptopFailure words a fault of this laptop for the installer, per OS. It
// never sends IT after it: nothing reached the site's network.
func laptopFailure(kind failureKind, err error, what, goos string) (summary, hint string) {
	cause := errtext.Of(err)
	switch kind {
	case failPermission:
		summary = "this laptop blocked " + what + " (" + cause + ")"
		switch goos {
		case "windows":
			hint = "Windows Defender Firewall, security software or a VPN client on this laptop blocks smartx: allow smartx.exe there (or disconnect the VPN), then run again"
		case "darwin":
			hint = "security software or a VPN client on this laptop blocks smartx: allow it there (or disconnect the VPN), then run again"
		default:
			hint = "a firewall rule on this laptop (nftables/iptables output), security software or a VPN client blocks smartx: allow it there (or disconnect the VPN), then run again"
		}
	case failNoRoute:
		summary = "this laptop has no route for " + what + " (" + cause + ")"
		hint = "connect this laptop to the site's network (cable or Wi-Fi, with an address and a gateway) and disconnect any VPN client, then run again"
	default:
		summary = "this laptop's network stack failed on " + what + " (" + cause + ")"
		switch goos {
		case "windows":
			hint = "a problem of this laptop's network stack (a protocol switched off, or VPN or security software damaged Winsock): restart the laptop, or run netsh winsock reset from an administrator prompt, then run again"
		default:
			hint = "a problem of this laptop's network stack (a protocol switched off, too many open files, security software): restart its networking and run again"
		}
	}
	return summary, hint
}

// connectFailure turns a TCP connect error into a one-line description and
// a one-line hint for the installer. Faults of this laptop are worded by
// laptopFailure; callers that can, report them with laptopFault instead.
func connectFailure(err error, target string) (summary, hint string) {
	kind := classifyNetError(err)
	if kind.onLaptop() {
		return laptopFailure(kind, err, "the connection to "+target, runtime.GOOS)
	}
	switch kind {
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
			"a router reports this network has no route to the Internet: ask IT for the rule below"
	case failNameNotResolved:
		return "cannot resolve " + target + ": " + dnsErrorText(err),
			"fix name resolution first (see the dns check)"
	case failClosed:
		return "connection to " + target + " closed", "something on the path closes the connection: ask IT for the rule below"
	default:
		return "cannot connect to " + target + ": " + errtext.Of(err), "ask IT for the rule below"
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
		return errtext.Clean(dnsErr.Err)
	}
	return errtext.Of(err)
}
