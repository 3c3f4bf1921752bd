//go:build !linux && !windows

package preflight

import (
	"errors"
	"runtime"
)

// defaultGateway is not read on this OS: its routing table is only reachable
// through routing sockets, which smartx does not read (yet). The report says
// "unknown" and gateway_error says why.
func defaultGateway(string) (defaultRoute, error) {
	return defaultRoute{}, errors.New("smartx does not read the routing table on " + runtime.GOOS + " (only on Linux and Windows): see the laptop's network settings")
}
