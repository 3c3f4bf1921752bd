package main

import (
	"bytes"
	"io"
	"net"
	"strconv"
	"sync"
)

// forwarder stands for a firewall rule IT opens: a port of 127.0.0.1 that passes connections
// on to the platform server.
type forwarder struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup
}

// freeLoopbackPort returns a port of 127.0.0.1 where nothing listens: the blocked port.
func freeLoopbackPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	return port, ln.Close()
}

// openForwarder starts passing connections to 127.0.0.1:port on to target (a loopback address).
func openForwarder(port int, target string) (*forwarder, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, err
	}
	f := &forwarder{ln: ln, target: target}
	f.wg.Go(f.serve)
	return f, nil
}

func (f *forwarder) serve() {
	for {
		in, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.wg.Go(func() {
			defer in.Close()
			out, err := net.Dial("tcp", f.target)
			if err != nil {
				return
			}
			defer out.Close()
			done := make(chan struct{})
			go func() {
				_, _ = io.Copy(out, in)
				if tc, ok := out.(*net.TCPConn); ok {
					_ = tc.CloseWrite()
				}
				close(done)
			}()
			_, _ = io.Copy(in, out)
			in.Close()
			<-done
		})
	}
}

// close stops accepting and waits for the connections in flight.
func (f *forwarder) close() error {
	err := f.ln.Close()
	f.wg.Wait()
	return err
}

// lineWriter passes everything to out and each complete line to fn, so a step can react to
// what a command prints while it runs.
type lineWriter struct {
	out  io.Writer
	fn   func(line string)
	part []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n, err := w.out.Write(p)
	w.part = append(w.part, p[:n]...)
	for {
		i := bytes.IndexByte(w.part, '\n')
		if i < 0 {
			break
		}
		w.fn(string(w.part[:i]))
		w.part = w.part[i+1:]
	}
	return n, err
}
