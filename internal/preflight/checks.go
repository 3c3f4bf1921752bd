package preflight

import "slices"

// Check identifiers. They are part of the CLI (--only, --skip) and of the
// JSON contract, so they never change.
const (
	CheckLocalNetwork = "local-network"
	CheckDeviceSubnet = "device-subnet"
	CheckDeviceGW     = "device-gateway"
	CheckDeviceAddr   = "device-address"
	CheckDNS          = "dns"
	CheckICMP         = "icmp"
	CheckTCPHTTPS     = "tcp-https"
	CheckTLS          = "tls"
	CheckHTTPS        = "https"
	CheckTCPHTTP      = "tcp-http"
	CheckHTTP         = "http"
	CheckNTP          = "ntp"
	CheckProxy        = "proxy"
)

// Groups used to cluster checks in the terminal and in the IT report.
const (
	GroupLocal          = "Local"
	GroupDevice         = "Device address"
	GroupNameResolution = "Name resolution"
	GroupReachability   = "Reachability"
	GroupPlatformHTTPS  = "Platform (HTTPS)"
	GroupLegacyHTTP     = "Legacy (HTTP)"
	GroupTime           = "Time"
	GroupProxy          = "Proxy"
)

// CheckInfo describes one check: its stable id, its display title and group,
// the check it depends on (empty when none) and whether it only belongs to
// the legacy profile.
type CheckInfo struct {
	// ID is the stable id (--only, --skip, JSON).
	ID string `json:"id"`
	// Title is the display title.
	Title string `json:"title"`
	// Group clusters checks for display.
	Group string `json:"group"`
	// Needs is the id of the check that must pass first, if any.
	Needs string `json:"needs,omitempty"`
	// Legacy marks checks only the legacy and all profiles run.
	Legacy bool `json:"legacy,omitempty"`
	// DirectOnly marks checks that measure the direct path to the platform;
	// they are skipped when the device goes through a proxy.
	DirectOnly bool `json:"direct_only,omitempty"`
	// StaticOnly marks the checks of a device's static address: they belong to
	// a run only when the device's settings (--bundle) give one.
	StaticOnly bool `json:"static_only,omitempty"`
}

// checkTable is the single source of truth for ids, order, titles, groups and
// dependencies. It is only ever read.
var checkTable = [...]CheckInfo{
	{ID: CheckLocalNetwork, Title: "Local network", Group: GroupLocal},
	{ID: CheckDeviceSubnet, Title: "Device address on this network", Group: GroupDevice, StaticOnly: true},
	{ID: CheckDeviceGW, Title: "Device gateway answers", Group: GroupDevice, StaticOnly: true},
	{ID: CheckDeviceAddr, Title: "Device address is free", Group: GroupDevice, StaticOnly: true},
	{ID: CheckDNS, Title: "DNS resolution", Group: GroupNameResolution},
	{ID: CheckICMP, Title: "ICMP echo (ping)", Group: GroupReachability},
	{ID: CheckTCPHTTPS, Title: "TCP to the platform, HTTPS port", Group: GroupReachability, DirectOnly: true},
	{ID: CheckTLS, Title: "TLS 1.2 handshake", Group: GroupPlatformHTTPS, Needs: CheckTCPHTTPS, DirectOnly: true},
	{ID: CheckHTTPS, Title: "Platform health over HTTPS", Group: GroupPlatformHTTPS, Needs: CheckTLS, DirectOnly: true},
	{ID: CheckTCPHTTP, Title: "TCP to the platform, HTTP port", Group: GroupLegacyHTTP, Legacy: true, DirectOnly: true},
	{ID: CheckHTTP, Title: "Platform health over HTTP", Group: GroupLegacyHTTP, Needs: CheckTCPHTTP, Legacy: true, DirectOnly: true},
	{ID: CheckNTP, Title: "NTP time", Group: GroupTime},
	{ID: CheckProxy, Title: "HTTPS through the proxy", Group: GroupProxy},
}

// CheckIDs returns every check id in stable display order.
func CheckIDs() []string {
	ids := make([]string, len(checkTable))
	for i, c := range checkTable {
		ids[i] = c.ID
	}
	return ids
}

// Checks returns the description of every check in stable display order.
func Checks() []CheckInfo {
	return slices.Clone(checkTable[:])
}

// Titles returns the display title of every check, keyed by id.
func Titles() map[string]string {
	titles := make(map[string]string, len(checkTable))
	for _, c := range checkTable {
		titles[c.ID] = c.Title
	}
	return titles
}

// LookupCheck returns the description of the check with the given id.
func LookupCheck(id string) (CheckInfo, bool) {
	for _, c := range checkTable {
		if c.ID == id {
			return c, true
		}
	}
	return CheckInfo{}, false
}

// checkOrder returns the display position of id, or len(checkTable) when
// unknown, so sorting puts unknown ids last.
func checkOrder(id string) int {
	for i, c := range checkTable {
		if c.ID == id {
			return i
		}
	}
	return len(checkTable)
}

// inProfile reports whether the check belongs to the profile, before
// --only/--skip are applied. The proxy check belongs to every profile when a
// proxy is configured; profile "all" includes it even without one (it then
// comes back skipped, saying no proxy was given). The static-address checks
// likewise belong to every profile when the device has a static address, and
// to "all" in any case.
func inProfile(c CheckInfo, p Profile, proxySet, static bool) bool {
	switch {
	case c.ID == CheckProxy:
		return proxySet || p == ProfileAll
	case c.StaticOnly:
		return static || p == ProfileAll
	case c.Legacy:
		return p == ProfileLegacy || p == ProfileAll
	default:
		return true
	}
}

// SelectedChecks returns, in display order, the ids of the checks the
// configuration runs: those of the profile, narrowed by Only (when not empty;
// Only may also name checks outside the profile, e.g. --only http with the
// current profile) and minus Skip. Checks not selected are absent from the
// report.
func SelectedChecks(cfg Config) []string {
	var ids []string
	for _, c := range checkTable {
		selected := inProfile(c, cfg.Profile, cfg.Proxy != "", cfg.Device.Static())
		if len(cfg.Only) > 0 {
			selected = slices.Contains(cfg.Only, c.ID)
		}
		if slices.Contains(cfg.Skip, c.ID) {
			selected = false
		}
		if selected {
			ids = append(ids, c.ID)
		}
	}
	return ids
}
