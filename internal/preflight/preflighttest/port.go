package preflighttest

import (
	"fmt"
	"io"
	"net"
	"strconv"
)

// OpenPort stands for a firewall rule IT opens while the installer waits: it starts
// listening on 127.0.0.1:port, a port where nothing listened (see ClosedPort). With target
// empty each connection is accepted and closed, which is enough for a TCP check; otherwise
// it is passed on to target, a loopback address (the platform behind the newly opened port).
func OpenPort(port int, target string) (*Server, error) {
	if target != "" {
		host, _, err := net.SplitHostPort(target)
		if err != nil || !isLoopback(host) {
			return nil, fmt.Errorf("open port %d: forward to %q: only a loopback address is allowed", port, target)
		}
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(Loopback, strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("open port %d: %w", port, err)
	}
	life := newLifecycle()
	life.serve(ln, func(c net.Conn) {
		if target == "" {
			return
		}
		up, release, err := life.dial(target)
		if err != nil {
			return
		}
		defer release()
		splice(c, c, up)
	})
	return newServer(ln, func() error { return life.shutdown(ln) }), nil
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback() || host == "localhost"
}

// splice copies in both directions between a client (read through r, which may hold bytes
// already buffered) and up, until both sides are done.
func splice(c net.Conn, r io.Reader, up net.Conn) {
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(up, r)
		if tc, ok := up.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		close(done)
	}()
	_, _ = io.Copy(c, up)
	c.Close()
	<-done
}
