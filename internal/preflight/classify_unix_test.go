//go:build unix

package preflight

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
)

func TestClassifyNetError(t *testing.T) {
	dialErr := func(errno syscall.Errno) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)}
	}
	tests := []struct {
		name string
		err  error
		want failureKind
	}{
		{"refused", dialErr(syscall.ECONNREFUSED), failRefused},
		{"kernel timeout", dialErr(syscall.ETIMEDOUT), failTimeout},
		{"host unreachable", dialErr(syscall.EHOSTUNREACH), failHostUnreachable},
		{"network unreachable", dialErr(syscall.ENETUNREACH), failNetUnreachable},
		{"reset", &net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, failReset},
		{"local firewall", dialErr(syscall.EPERM), failPermission},
		{"context deadline is a silent drop", &net.OpError{Op: "dial", Err: context.DeadlineExceeded}, failTimeout},
		{"i/o deadline", fmt.Errorf("read: %w", os.ErrDeadlineExceeded), failTimeout},
		{"name not resolved", &net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}, failNameNotResolved},
		{"closed", fmt.Errorf("read: %w", io.EOF), failClosed},
		{"other", errors.New("boom"), failOther},
		{"nil", nil, failOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classifyNetError(tt.err); got != tt.want {
				t.Errorf("classifyNetError(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

func TestConnectFailureMessages(t *testing.T) {
	tests := []struct {
		errno   syscall.Errno
		summary string
	}{
		{syscall.ECONNREFUSED, "refused"},
		{syscall.EHOSTUNREACH, "host unreachable"},
		{syscall.ENETUNREACH, "network unreachable"},
		{syscall.EACCES, "blocked by this laptop"},
	}
	for _, tt := range tests {
		t.Run(tt.errno.Error(), func(t *testing.T) {
			s, hint := connectFailure(&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", tt.errno)}, "platform:443")
			if !strings.Contains(s, tt.summary) || hint == "" {
				t.Errorf("connectFailure() = %q, %q; want summary containing %q and a hint", s, hint, tt.summary)
			}
		})
	}
}
