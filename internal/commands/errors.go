package commands

import (
	"errors"
	"fmt"
)

// Exit codes smartx returns; documented in the README.
const (
	exitOK          = 0
	exitFailure     = 1   // the operation failed or found a problem
	exitUsage       = 2   // bad flags, arguments or configuration
	exitInterrupted = 130 // stopped by Ctrl-C, as shells report SIGINT
)

// usageError marks an error the user made on the command line; it exits with code 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usageErrorf formats a usage error.
func usageErrorf(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// exitError carries a specific exit code; when err is nil nothing more is printed, because the
// command already reported (a failed preflight check has been shown in the table).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// silentExit returns an error that only sets the exit code.
func silentExit(code int) error { return &exitError{code: code} }

// exitCodeOf maps an error returned by a command to the process exit code.
func exitCodeOf(err error) int {
	var ee *exitError
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue):
		return exitUsage
	}
	return exitFailure
}
