package preflighttest

import (
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
)

func TestOpenPort(t *testing.T) {
	port, err := ClosedPort()
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort(Loopback, strconv.Itoa(port))
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatalf("port %d answers before it is opened", port)
	}
	s, err := OpenPort(port, "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("port %d does not answer once opened: %v", port, err)
	}
	c.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Forwarding: what goes in comes back from the echo server behind.
	echo, err := net.Listen("tcp", net.JoinHostPort(Loopback, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		c, err := echo.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	port2, _ := ClosedPort()
	fw, err := OpenPort(port2, echo.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Close()
	c, err = net.Dial("tcp", net.JoinHostPort(Loopback, strconv.Itoa(port2)))
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "hello")
	c.(*net.TCPConn).CloseWrite()
	got, _ := io.ReadAll(c)
	c.Close()
	if string(got) != "hello" {
		t.Errorf("forwarded %q, want hello", got)
	}

	if _, err := OpenPort(port2+1, "192.0.2.1:443"); err == nil || !strings.Contains(err.Error(), "only a loopback address") {
		t.Errorf("forwarding off loopback = %v", err)
	}
}
