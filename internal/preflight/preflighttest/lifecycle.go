package preflighttest

import (
	"net"
	"sync"
	"time"
)

// Timing delays or holds a fixture's answers. Delay is applied to every
// answer; when Gate is not nil, answers also wait until it is closed.
type Timing struct {
	// Delay is added before every answer.
	Delay time.Duration
	// Gate, when not nil, holds answers until it is closed.
	Gate <-chan struct{}
}

// lifecycle tracks a fixture's goroutines and connections so Close can stop
// everything and wait for it.
type lifecycle struct {
	closed chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
}

func newLifecycle() *lifecycle {
	return &lifecycle{closed: make(chan struct{}), conns: make(map[net.Conn]struct{})}
}

// track registers a connection; it returns false when the fixture is closing.
func (l *lifecycle) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.closed:
		return false
	default:
	}
	l.conns[c] = struct{}{}
	return true
}

// serve accepts connections on ln until it is closed, and serves each on its own goroutine,
// tracked so shutdown closes it.
func (l *lifecycle) serve(ln net.Listener, handle func(net.Conn)) {
	l.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if !l.track(c) {
				c.Close()
				return
			}
			l.wg.Go(func() {
				defer func() {
					l.untrack(c)
					c.Close()
				}()
				handle(c)
			})
		}
	})
}

// dial connects to address, tracked so shutdown closes it too; release untracks and
// closes it.
func (l *lifecycle) dial(address string) (up net.Conn, release func(), err error) {
	up, err = net.Dial("tcp", address)
	if err != nil {
		return nil, nil, err
	}
	if !l.track(up) {
		up.Close()
		return nil, nil, net.ErrClosed
	}
	return up, func() {
		l.untrack(up)
		up.Close()
	}, nil
}

func (l *lifecycle) untrack(c net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.conns, c)
}

// hold waits for the timing; it returns false when the fixture closed first.
func (l *lifecycle) hold(t Timing) bool {
	if t.Delay > 0 {
		timer := time.NewTimer(t.Delay)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-l.closed:
			return false
		}
	}
	if t.Gate != nil {
		select {
		case <-t.Gate:
		case <-l.closed:
			return false
		}
	}
	return true
}

// shutdown closes the closer (a listener or packet conn), every tracked
// connection, and waits for the fixture's goroutines.
func (l *lifecycle) shutdown(closer interface{ Close() error }) error {
	var err error
	l.once.Do(func() {
		l.mu.Lock()
		close(l.closed)
		for c := range l.conns {
			c.Close()
		}
		l.mu.Unlock()
		err = closer.Close()
	})
	l.wg.Wait()
	return err
}

// heldConn delays its first Read by the fixture's timing, which delays a
// TLS handshake or an HTTP request without blocking the accept loop.
type heldConn struct {
	net.Conn
	life   *lifecycle
	timing Timing
	once   sync.Once
	ok     bool
}

func (c *heldConn) Read(b []byte) (int, error) {
	c.once.Do(func() { c.ok = c.life.hold(c.timing) })
	if !c.ok {
		return 0, net.ErrClosed
	}
	return c.Conn.Read(b)
}

// heldListener wraps accepted connections in heldConn and tracks them.
type heldListener struct {
	net.Listener
	life   *lifecycle
	timing Timing
}

func (l *heldListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if !l.life.track(c) {
		c.Close()
		return nil, net.ErrClosed
	}
	return &trackedConn{Conn: &heldConn{Conn: c, life: l.life, timing: l.timing}, raw: c, life: l.life}, nil
}

// trackedConn untracks itself on Close.
type trackedConn struct {
	net.Conn
	raw  net.Conn
	life *lifecycle
}

func (c *trackedConn) Close() error {
	c.life.untrack(c.raw)
	return c.Conn.Close()
}

// listenLoopback listens on 127.0.0.1 port 0.
func listenLoopback() (net.Listener, error) {
	return net.Listen("tcp", net.JoinHostPort(Loopback, "0"))
}

// portOf returns the port of a listener or packet conn address.
func portOf(a net.Addr) int {
	switch v := a.(type) {
	case *net.TCPAddr:
		return v.Port
	case *net.UDPAddr:
		return v.Port
	}
	return 0
}
