//go:build !linux

package main

import (
	"os"
	"runtime"
	"syscall"
)

// childProcAttr has nothing to add outside Linux: cleanup stops the children.
func childProcAttr() *syscall.SysProcAttr { return nil }

// interrupt asks a child to stop as Ctrl-C would; Windows cannot send that signal to another
// process, so there it is killed.
func interrupt(p *os.Process) error {
	if runtime.GOOS == "windows" {
		return p.Kill()
	}
	return p.Signal(os.Interrupt)
}
