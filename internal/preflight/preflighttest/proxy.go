package preflighttest

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
)

// ProxyMode selects how the CONNECT proxy answers.
type ProxyMode int

const (
	// ProxyTunnel answers 200 and tunnels to 127.0.0.1 on the requested
	// port, whatever host was requested.
	ProxyTunnel ProxyMode = iota
	// ProxyAuthRequired answers 407 unless the request carries the expected
	// Basic credentials, then tunnels.
	ProxyAuthRequired
	// ProxyForbidden answers 403 to every CONNECT.
	ProxyForbidden
)

// ProxyOptions configures StartProxy.
type ProxyOptions struct {
	// Mode is tunnel, authentication required or forbidden.
	Mode ProxyMode
	// User and Password are the credentials ProxyAuthRequired accepts.
	User, Password string
	// Timing delays or holds the answer to CONNECT.
	Timing Timing
	// TLSCert, when set, makes the proxy itself speak TLS (an https://
	// proxy URL).
	TLSCert *tls.Certificate
}

// ProxyRequest is a CONNECT the proxy received.
type ProxyRequest struct {
	// Target is the host:port asked for.
	Target string
	// Authorization is the Proxy-Authorization header received, if any.
	Authorization string
}

// Proxy is a running CONNECT proxy fixture.
type Proxy struct {
	*Server
	mu       sync.Mutex
	requests []ProxyRequest
}

// Requests returns the CONNECT requests received so far.
func (p *Proxy) Requests() []ProxyRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]ProxyRequest(nil), p.requests...)
}

// StartProxy starts an HTTP CONNECT proxy.
func StartProxy(opts ProxyOptions) (*Proxy, error) {
	ln, err := listenLoopback()
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	life := newLifecycle()
	p := &Proxy{}
	p.Server = newServer(ln, func() error { return life.shutdown(ln) })
	accept := ln
	if opts.TLSCert != nil {
		accept = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{*opts.TLSCert}})
	}
	life.serve(accept, func(c net.Conn) { p.serve(c, opts, life) })
	return p, nil
}

func (p *Proxy) serve(c net.Conn, opts ProxyOptions, life *lifecycle) {
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	auth := req.Header.Get("Proxy-Authorization")
	p.mu.Lock()
	p.requests = append(p.requests, ProxyRequest{Target: req.Host, Authorization: auth})
	p.mu.Unlock()
	if !life.hold(opts.Timing) {
		return
	}
	if req.Method != http.MethodConnect {
		io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
		return
	}
	switch opts.Mode {
	case ProxyForbidden:
		io.WriteString(c, "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nForbidden")
		return
	case ProxyAuthRequired:
		want := "Basic " + base64.StdEncoding.EncodeToString([]byte(opts.User+":"+opts.Password))
		if auth != want {
			io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"site proxy\"\r\nContent-Length: 0\r\n\r\n")
			return
		}
	}
	_, port, err := net.SplitHostPort(req.Host)
	if err != nil {
		io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
		return
	}
	// Whatever host was asked for, only loopback is ever dialled.
	up, release, err := life.dial(net.JoinHostPort(Loopback, port))
	if err != nil {
		io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
		return
	}
	defer release()
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	splice(c, br, up)
}
