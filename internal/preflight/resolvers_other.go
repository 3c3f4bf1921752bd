//go:build !unix

package preflight

// systemResolvers cannot list the system's DNS servers on this OS without
// OS-specific APIs; the report says "system resolver".
func systemResolvers(string) ([]string, string) { return nil, "system" }
