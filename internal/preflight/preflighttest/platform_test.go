package preflighttest

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// TestPlatform checks the healthy platform the CLI's end-to-end tests and
// the demo rely on: DNS answers, HTTPS and HTTP health, and a clean Close.
func TestPlatform(t *testing.T) {
	p, err := StartPlatform(PlatformOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})

	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, p.DNS.Addr)
	}}
	addrs, err := resolver.LookupHost(t.Context(), Host)
	if err != nil || len(addrs) != 1 || addrs[0] != Loopback {
		t.Fatalf("resolve %s = %v, %v; want [%s]", Host, addrs, err, Loopback)
	}

	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: p.CA.Pool(), ServerName: Host},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, _ := net.SplitHostPort(addr)
			var d net.Dialer
			return d.DialContext(ctx, network, net.JoinHostPort(Loopback, port))
		},
	}}
	for _, u := range []string{
		"https://" + Host + ":" + strconv.Itoa(p.HTTPS.Port) + HealthPath,
		"http://" + Host + ":" + strconv.Itoa(p.HTTP.Port) + HealthPath,
	} {
		resp, err := client.Get(u)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"status":"ok"`) {
			t.Errorf("GET %s = %d %s", u, resp.StatusCode, body)
		}
	}
	client.CloseIdleConnections()
}

func TestClosedPortRefuses(t *testing.T) {
	port, err := ClosedPort()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", net.JoinHostPort(Loopback, strconv.Itoa(port)))
	if err == nil {
		conn.Close()
		t.Fatalf("port %d accepted a connection", port)
	}
}
