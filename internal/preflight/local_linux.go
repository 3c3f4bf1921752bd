//go:build linux

package preflight

import "os"

// defaultGateway reads the default route from /proc/net/route (or path).
func defaultGateway(path string) (gateway, iface string) {
	if path == "" {
		path = "/proc/net/route"
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", ""
	}
	gw, ifc, ok := parseRouteTable(data)
	if !ok {
		return "", ""
	}
	return gw.String(), ifc
}
