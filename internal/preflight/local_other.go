//go:build !linux

package preflight

// defaultGateway is not read on this OS without running external tools;
// the report then says "unknown", which is enough to go on.
func defaultGateway(string) (gateway, iface string) { return "", "" }
