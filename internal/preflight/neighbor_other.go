//go:build !linux

package preflight

import (
	"context"
	"net/netip"
)

// systemNeighbor cannot read the neighbour table on this OS without external tools: the
// address checks rely on ping alone and say that ARP was not checked.
func systemNeighbor(context.Context, netip.Addr) (string, error) { return "", ErrNoNeighborProbe }
