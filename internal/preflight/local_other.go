//go:build !linux && !windows

package preflight

import (
	"errors"
	"runtime"
)

// defaultGateway is not read on this OS: its routing table is only reachable
// through routing sockets, which smartx does not read (only Linux's and
// Windows' are). The report says "unknown" and gateway_error says why.
func defaultGateway(string) (defaultRoute, error) {
	return defaultRoute{}, errors.New("routing table not read on " + runtime.GOOS)
}
