//go:build windows

package preflight

import (
	"fmt"
	"net"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/windows"
)

// defaultGateway reads the IPv4 routing table through iphlpapi's
// GetIpForwardTable2 and returns the default route Windows uses: the lowest
// route metric plus interface metric, as Windows itself compares them.
func defaultGateway(string) (defaultRoute, error) {
	var table *windows.MibIpForwardTable2
	if err := windows.GetIpForwardTable2(windows.AF_INET, &table); err != nil {
		return defaultRoute{}, fmt.Errorf("read the routing table (GetIpForwardTable2): %w", err)
	}
	defer windows.FreeMibTable(unsafe.Pointer(table))
	var routes []defaultRoute
	for _, row := range table.Rows() {
		if row.DestinationPrefix.PrefixLength != 0 || row.NextHop.Family != windows.AF_INET {
			continue
		}
		next := (*windows.RawSockaddrInet4)(unsafe.Pointer(&row.NextHop))
		route := defaultRoute{Gateway: netip.AddrFrom4(next.Addr), Metric: uint64(row.Metric)}
		iface := windows.MibIpInterfaceRow{Family: windows.AF_INET, InterfaceLuid: row.InterfaceLuid}
		if windows.GetIpInterfaceEntry(&iface) == nil {
			route.Metric += uint64(iface.Metric)
		}
		if ifc, err := net.InterfaceByIndex(int(row.InterfaceIndex)); err == nil {
			route.Iface = ifc.Name
		}
		routes = append(routes, route)
	}
	return pickDefaultRoute(routes)
}
