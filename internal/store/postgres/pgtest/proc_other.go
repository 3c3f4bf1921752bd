//go:build !linux

package pgtest

import "os/exec"

// command builds a command run as the current user (outside Linux the harness does not switch
// users: start the tests as an ordinary user there).
func (c *Cluster) command(_ *runAs, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = c.Dir
	return cmd
}

// processAlive assumes a process is alive where it cannot tell, so nothing is removed.
func processAlive(int) bool { return true }
