//go:build windows

package secretfile

import (
	"strings"
	"testing"
)

// Windows has no file modes: nothing may claim one there.
func TestProtectionClaimsNoModeOnWindows(t *testing.T) {
	if strings.Contains(Protection(), "0600") || strings.Contains(FixHint(`C:\x`), "chmod") {
		t.Fatalf("Protection %q / FixHint %q claim a Unix mode on Windows", Protection(), FixHint(`C:\x`))
	}
}
