package main

import (
	"os"
	"syscall"
)

// childProcAttr makes the kernel stop a child if the demo itself dies without a chance to clean
// up (SIGKILL): the server must never outlive it.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}

// interrupt asks a child to stop as Ctrl-C would: smartx then finishes cleanly (the dev server
// removes its data directory).
func interrupt(p *os.Process) error { return p.Signal(os.Interrupt) }
