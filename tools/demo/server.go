package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// devServer is a running `smartx server --dev`.
type devServer struct {
	cmd     *exec.Cmd
	done    chan struct{} // closed once the process has exited
	waitErr error         // its exit, valid once done is closed
	// The server writes to files, not pipes: should the demo die, a pipe would break and the
	// server's last log lines would kill it before it removed its data directory.
	stdout  logFile // the dev block: URL, CA file, credentials
	stderr  logFile // the server's log
	env     map[string]string
	stopped bool
}

const (
	serverEnvFile = "server.env"
	serverReady   = 30 * time.Second // a cold start generates keys and certificates
	serverStop    = 10 * time.Second
)

// startServer starts the dev server in the background and waits until it has written its
// environment file, which it does once it is listening.
func (d *demo) startServer(ctx context.Context) (*devServer, error) {
	args := []string{"server", "--dev", "--listen", "127.0.0.1:0", "--dev-env-file", serverEnvFile}
	fmt.Fprintf(d.out, "$ %s &\n", commandLine(nil, args))
	s := &devServer{done: make(chan struct{}),
		stdout: logFile(filepath.Join(d.work, "server.out")), stderr: logFile(filepath.Join(d.work, "server.log"))}
	s.cmd = exec.Command(d.bin, args...)
	s.cmd.Dir = d.work
	s.cmd.Env = d.env
	s.cmd.SysProcAttr = childProcAttr()
	var err error
	if s.cmd.Stdout, err = s.stdout.create(); err != nil {
		return nil, err
	}
	defer s.cmd.Stdout.(*os.File).Close() // the child has its own descriptor
	if s.cmd.Stderr, err = s.stderr.create(); err != nil {
		return nil, err
	}
	defer s.cmd.Stderr.(*os.File).Close()
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start smartx server: %w", err)
	}
	d.server = s
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.done)
	}()

	envPath := filepath.Join(d.work, serverEnvFile)
	deadline := time.NewTimer(serverReady)
	defer deadline.Stop()
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	for {
		if data, err := os.ReadFile(envPath); err == nil {
			env, err := parseEnvFile(data)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", serverEnvFile, err)
			}
			for _, k := range []string{"SMARTX_SERVER", "SMARTX_CA_FILE", "SMARTX_TOKEN"} {
				if env[k] == "" {
					return nil, fmt.Errorf("%s has no %s: the server's --dev-env-file format changed", serverEnvFile, k)
				}
			}
			s.env = env
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.done:
			return nil, fmt.Errorf("smartx server exited before it was ready (%v): %s", s.waitErr, lastLine(s.stderr.String()))
		case <-deadline.C:
			return nil, fmt.Errorf("smartx server wrote no %s within %s: %s", serverEnvFile, serverReady, lastLine(s.stderr.String()))
		case <-poll.C:
		}
	}
	// The dev block follows the environment file on stdout: give it a moment to be complete.
	for range 40 {
		if strings.Contains(s.stdout.String(), "Ctrl-C") {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	return s, nil
}

// stop interrupts the server as Ctrl-C would, and kills it if it has not exited in time.
func (s *devServer) stop() error {
	select {
	case <-s.done:
		return fmt.Errorf("smartx server had already stopped (%v): %s", s.waitErr, lastLine(s.stderr.String()))
	default:
	}
	_ = interrupt(s.cmd.Process)
	select {
	case <-s.done:
		if s.waitErr != nil {
			return fmt.Errorf("smartx server stopped with %v: %s", s.waitErr, lastLine(s.stderr.String()))
		}
		return nil
	case <-time.After(serverStop):
		_ = s.cmd.Process.Kill()
		<-s.done
		return fmt.Errorf("smartx server did not stop within %s of an interrupt and was killed", serverStop)
	}
}

// parseEnvFile reads the KEY=value lines of --dev-env-file, values quoted for a POSIX shell.
func parseEnvFile(data []byte) (map[string]string, error) {
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %q is not KEY=value", shortLine(line))
		}
		if strings.HasPrefix(v, "'") {
			if len(v) < 2 || !strings.HasSuffix(v, "'") {
				return nil, fmt.Errorf("unterminated quote in %s", k)
			}
			v = strings.ReplaceAll(v[1:len(v)-1], `'\''`, `'`)
		}
		env[k] = v
	}
	return env, sc.Err()
}

// lastLine is the last non-empty line of a log, for one-line error messages.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if l := strings.TrimSpace(lines[len(lines)-1]); l != "" {
		return shortLine(l)
	}
	return "no log line"
}

// logFile is a file in the working directory a process writes its output to.
type logFile string

func (f logFile) create() (*os.File, error) {
	file, err := os.OpenFile(string(f), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", f, err)
	}
	return file, nil
}

// String is what was written so far.
func (f logFile) String() string {
	data, _ := os.ReadFile(string(f))
	return string(data)
}

// showServerLog prints the end of the server's log after a failed step: the cause is often there.
func (d *demo) showServerLog() {
	if d.server == nil {
		return
	}
	lines := strings.Split(strings.TrimSpace(d.server.stderr.String()), "\n")
	fmt.Fprintf(d.out, "\nthe server's last log lines:\n")
	for _, l := range lines[max(0, len(lines)-10):] {
		fmt.Fprintf(d.out, "  %s\n", l)
	}
}

// stopStarted stops the server and the responders, once: the last step calls it to show the
// result, and cleanup calls it again in case a step failed before.
func (d *demo) stopStarted() error {
	var errs []error
	if s := d.server; s != nil && !s.stopped {
		s.stopped = true
		if err := s.stop(); err != nil {
			errs = append(errs, err)
		} else if left, _ := filepath.Glob(filepath.Join(d.work, "smartx-dev-*")); len(left) > 0 {
			// The dev server removes its ephemeral data directory when it stops.
			errs = append(errs, fmt.Errorf("the dev server left its data directory %s behind", left[0]))
		}
	}
	if r := d.responders; r != nil {
		d.responders = nil
		errs = append(errs, r.close())
	}
	if f := d.opened; f != nil {
		d.opened = nil
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}

// cleanup stops what the demo started and removes its directory; it runs whatever happened.
func (d *demo) cleanup() error {
	err := d.stopStarted()
	if rmErr := os.RemoveAll(d.work); rmErr != nil {
		err = errors.Join(err, fmt.Errorf("remove %s: %w", d.work, rmErr))
	}
	return err
}
