//go:build unix

package preflight

import "os"

// systemResolvers reads the nameservers of /etc/resolv.conf (or path).
func systemResolvers(path string) ([]string, string) {
	if path == "" {
		path = "/etc/resolv.conf"
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "system"
	}
	return parseResolvConf(data), path
}
