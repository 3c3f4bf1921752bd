package pgtest

import (
	"os/exec"
	"syscall"
)

// command builds a command run as the cluster's user. The server gets SIGKILL if the test
// binary dies, so a crashed or killed test run leaves no server behind.
func (c *Cluster) command(as *runAs, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = c.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if as != nil {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: as.uid, Gid: as.gid}
		cmd.Env = append(cmd.Environ(), "HOME="+c.Dir, "USER="+as.name, "LOGNAME="+as.name)
	}
	return cmd
}

// processAlive reports whether a process with this pid exists.
func processAlive(pid int) bool {
	return syscall.Kill(pid, 0) == nil || syscall.Kill(pid, 0) == syscall.EPERM
}
