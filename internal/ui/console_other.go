//go:build !windows

package ui

import (
	"os"

	"golang.org/x/term"
)

// inspectConsole reports whether f is a terminal; terminals outside Windows interpret escape
// sequences and take UTF-8.
func inspectConsole(f *os.File) consoleInfo {
	tty := term.IsTerminal(int(f.Fd()))
	return consoleInfo{console: tty, ansi: tty}
}
