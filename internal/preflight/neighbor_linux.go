//go:build linux

package preflight

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"
)

// arpTablePath is the kernel's IPv4 neighbour table, readable without privilege.
const arpTablePath = "/proc/net/arp"

// systemNeighbor makes the kernel ask the link who holds addr, by sending one datagram to
// its discard port (the kernel must resolve the hardware address first), then watches the
// neighbour table until the entry is complete or ctx ends. No privilege is needed; the
// datagram never leaves the segment, since addr is on it.
func systemNeighbor(ctx context.Context, addr netip.Addr) (string, error) {
	if !addr.Is4() {
		return "", ErrNoNeighborProbe
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp4", netip.AddrPortFrom(addr, 9).String())
	if err != nil {
		return "", fmt.Errorf("ask the link about %s: %w", addr, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte{0}); err != nil {
		return "", fmt.Errorf("ask the link about %s: %w", addr, err)
	}
	// The table has no change notification short of netlink: poll it, briefly.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		data, err := os.ReadFile(arpTablePath)
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrNoNeighborProbe, err)
		}
		if hw, ok := parseARPTable(data, addr); ok {
			return hw, nil
		}
		select {
		case <-ctx.Done():
			return "", nil
		case <-tick.C:
		}
	}
}
