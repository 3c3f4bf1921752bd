package preflighttest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Server is a running TCP-based fixture.
type Server struct {
	// Addr is 127.0.0.1:port.
	Addr string
	// Port is the port the fixture listens on.
	Port  int
	close func() error
}

// Close stops the fixture and waits for its goroutines.
func (s *Server) Close() error { return s.close() }

// StartTCP accepts connections and closes them at once: a port that is open.
func StartTCP() (*Server, error) {
	ln, err := listenLoopback()
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	life := newLifecycle()
	life.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	})
	return newServer(ln, func() error { return life.shutdown(ln) }), nil
}

// ClosedPort returns a loopback port nothing listens on (it was just
// released, so a connect is refused).
func ClosedPort() (int, error) {
	ln, err := listenLoopback()
	if err != nil {
		return 0, fmt.Errorf("listen: %w", err)
	}
	port := portOf(ln.Addr())
	if err := ln.Close(); err != nil {
		return 0, fmt.Errorf("release port: %w", err)
	}
	return port, nil
}

func newServer(ln net.Listener, closeFn func() error) *Server {
	port := portOf(ln.Addr())
	return &Server{Addr: net.JoinHostPort(Loopback, strconv.Itoa(port)), Port: port, close: closeFn}
}

// StartHTTP serves handler in clear text.
func StartHTTP(handler http.Handler, timing Timing) (*Server, error) {
	return startHTTPServer(handler, nil, timing)
}

// TLSMode selects how a TLS fixture behaves.
type TLSMode int

const (
	// TLSServe completes TLS (1.2 and 1.3) with Cert and serves Handler.
	TLSServe TLSMode = iota
	// TLS11Only completes TLS only with clients offering TLS 1.0 or 1.1,
	// so a TLS 1.2-only client gets a protocol_version alert.
	TLS11Only
	// TLSStall accepts connections and never answers.
	TLSStall
	// TLSResetAfterHello reads the ClientHello and resets the connection,
	// like a firewall filtering by SNI.
	TLSResetAfterHello
	// TLSPlainHTTP answers the ClientHello with a clear-text HTTP 400.
	TLSPlainHTTP
)

// TLSOptions configures StartTLS.
type TLSOptions struct {
	// Mode selects the behaviour.
	Mode TLSMode
	// Cert is the certificate served (TLSServe and TLS11Only).
	Cert tls.Certificate
	// Handler answers requests (TLSServe); nil serves HealthHandler.
	Handler http.Handler
	// Timing delays or holds the handshake.
	Timing Timing
}

// StartTLS starts a TLS fixture in the given mode.
func StartTLS(opts TLSOptions) (*Server, error) {
	switch opts.Mode {
	case TLSServe, TLS11Only:
		cfg := &tls.Config{Certificates: []tls.Certificate{opts.Cert}}
		if opts.Mode == TLS11Only {
			cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
		}
		handler := opts.Handler
		if handler == nil {
			handler = HealthHandler()
		}
		return startHTTPServer(handler, cfg, opts.Timing)
	case TLSStall, TLSResetAfterHello, TLSPlainHTTP:
		return startRawTLSImpostor(opts.Mode, opts.Timing)
	}
	return nil, fmt.Errorf("unknown TLS mode %d", opts.Mode)
}

// startHTTPServer serves handler over a held listener, with TLS when
// tlsCfg is not nil.
func startHTTPServer(handler http.Handler, tlsCfg *tls.Config, timing Timing) (*Server, error) {
	ln, err := listenLoopback()
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	life := newLifecycle()
	held := &heldListener{Listener: ln, life: life, timing: timing}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          discardLogger(),
	}
	var serveLn net.Listener = held
	if tlsCfg != nil {
		serveLn = tls.NewListener(held, tlsCfg)
	}
	// Serve's error only says the server was closed.
	life.wg.Go(func() { _ = srv.Serve(serveLn) })
	return newServer(ln, func() error {
		err := srv.Close()
		if serr := life.shutdown(ln); err == nil && !errors.Is(serr, net.ErrClosed) {
			err = serr
		}
		return err
	}), nil
}

// startRawTLSImpostor runs the misbehaving "TLS" servers.
func startRawTLSImpostor(mode TLSMode, timing Timing) (*Server, error) {
	ln, err := listenLoopback()
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	life := newLifecycle()
	life.serve(ln, func(c net.Conn) { serveImpostor(c, mode, life, timing) })
	return newServer(ln, func() error { return life.shutdown(ln) }), nil
}

func serveImpostor(c net.Conn, mode TLSMode, life *lifecycle, timing Timing) {
	if mode == TLSStall {
		// Read and discard until the client gives up or the fixture closes.
		_, _ = io.Copy(io.Discard, c)
		return
	}
	buf := make([]byte, 4096)
	if _, err := c.Read(buf); err != nil {
		return
	}
	if !life.hold(timing) {
		return
	}
	switch mode {
	case TLSResetAfterHello:
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // close with RST, not FIN
		}
	case TLSPlainHTTP:
		_, _ = io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 11\r\nConnection: close\r\n\r\nBad Request")
	}
}
