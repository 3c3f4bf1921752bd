//go:build linux

package preflight

import (
	"fmt"
	"os"
)

// defaultGateway reads the default route from /proc/net/route (or path).
func defaultGateway(path string) (defaultRoute, error) {
	if path == "" {
		path = "/proc/net/route"
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return defaultRoute{}, fmt.Errorf("read the routing table: %w", err)
	}
	gw, ifc, ok := parseRouteTable(data)
	if !ok {
		return defaultRoute{}, errNoDefaultRoute
	}
	return defaultRoute{Gateway: gw, Iface: ifc}, nil
}
