package ui

import (
	"runtime"
	"strings"
)

// UTF8 reports whether the terminal can show characters beyond ASCII (block elements for QR
// codes). On Unix the locale says so; on Windows the console's code page decides, which the
// console code checks, so this answers no there and callers draw in ASCII.
func (s *IOStreams) UTF8() bool {
	if runtime.GOOS == "windows" {
		return false
	}
	for _, k := range []string{"LC_ALL", "LC_CTYPE", "LANG"} {
		if v := s.getenv(k); v != "" {
			v = strings.ToUpper(v)
			return strings.Contains(v, "UTF-8") || strings.Contains(v, "UTF8")
		}
	}
	return false
}
