//go:build windows

package ui

import (
	"os"

	"golang.org/x/sys/windows"
)

// inspectConsole reports whether f is a console and turns on its virtual-terminal processing,
// without which Windows consoles print escape sequences as text (the classic conhost before
// Windows 10, or with it switched off). Where it cannot be turned on, the stream gets no
// colour and no redraws. The mode is left on at exit, as PowerShell and Windows Terminal
// leave it: it only changes how escape sequences are shown.
func inspectConsole(f *os.File) consoleInfo {
	h := windows.Handle(f.Fd())
	var mode uint32
	if windows.GetConsoleMode(h, &mode) != nil {
		return consoleInfo{} // a file or a pipe
	}
	c := consoleInfo{console: true}
	const want = windows.ENABLE_VIRTUAL_TERMINAL_PROCESSING | windows.ENABLE_PROCESSED_OUTPUT
	c.ansi = mode&want == want || windows.SetConsoleMode(h, mode|want) == nil
	if cp, err := windows.GetConsoleOutputCP(); err == nil {
		c.codePage = cp
	}
	return c
}
