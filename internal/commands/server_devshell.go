package commands

import (
	"fmt"
	"regexp"
	"strings"
)

// devShell is the shell `smartx server --dev` prints its environment variables for. The
// --dev-env-file keeps its own documented KEY=value format whatever the shell.
type devShell int

const (
	shellPOSIX devShell = iota
	shellPowerShell
	shellCmd
)

// String names the shell for people.
func (s devShell) String() string {
	switch s {
	case shellPowerShell:
		return "PowerShell"
	case shellCmd:
		return "cmd.exe"
	}
	return "POSIX shell"
}

// detectDevShell picks the shell `smartx server --dev` most likely runs in, and says why
// (empty on Unix, where there is no doubt). Windows offers no reliable way to ask, so the
// environment each shell leaves tells:
//   - SHELL or MSYSTEM: Git Bash, MSYS2 or Cygwin, a POSIX shell;
//   - PSModulePath listing a folder of the user's profile: PowerShell adds the user's
//     modules folder when it starts; cmd.exe passes on the machine-wide value only;
//   - PROMPT without that: cmd.exe, which defines PROMPT;
//   - otherwise PowerShell, Windows' default shell.
func detectDevShell(goos string, getenv func(string) string) (devShell, string) {
	if goos != "windows" {
		return shellPOSIX, ""
	}
	if getenv("MSYSTEM") != "" || getenv("SHELL") != "" {
		return shellPOSIX, "SHELL or MSYSTEM is set: Git Bash, MSYS2 or Cygwin"
	}
	if profile := strings.ToLower(strings.TrimRight(getenv("USERPROFILE"), `\`)); profile != "" {
		for _, dir := range strings.Split(getenv("PSModulePath"), ";") {
			if strings.HasPrefix(strings.ToLower(dir), profile+`\`) {
				return shellPowerShell, "PSModulePath lists your own modules folder, which PowerShell adds"
			}
		}
	}
	if getenv("PROMPT") != "" {
		return shellCmd, "PROMPT is set and PSModulePath lists no folder of yours"
	}
	return shellPowerShell, "assumed: Windows' default shell"
}

// devEnvBlock renders the lines that set vars in shell; a value the shell cannot take safely
// (cmd.exe and a double quote or a percent sign) gets a line saying so instead.
func devEnvBlock(shell devShell, vars [][2]string) []string {
	switch shell {
	case shellPowerShell:
		lines := make([]string, 0, len(vars))
		for _, kv := range vars {
			lines = append(lines, fmt.Sprintf("$env:%s = %s", kv[0], powerShellQuote(kv[1])))
		}
		return lines
	case shellCmd:
		lines := make([]string, 0, len(vars))
		for _, kv := range vars {
			if strings.ContainsAny(kv[1], "\"%\r\n") {
				lines = append(lines, fmt.Sprintf("rem %s cannot be set safely in cmd.exe: use PowerShell or --dev-env-file", kv[0]))
				continue
			}
			// The quotes around the whole assignment keep & | < > ^ literal.
			lines = append(lines, fmt.Sprintf(`set "%s=%s"`, kv[0], kv[1]))
		}
		return lines
	}
	var b strings.Builder
	b.WriteString("export")
	for _, kv := range vars {
		fmt.Fprintf(&b, " %s=%s", kv[0], serverShellQuote(kv[1]))
	}
	return []string{b.String()}
}

// powerShellQuote makes s a PowerShell verbatim string: single quotes, inside which nothing
// expands. PowerShell also takes the typographic single quotes as quotes, so each is doubled
// like the ASCII one.
func powerShellQuote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		switch r {
		case '\'', '\u2018', '\u2019', '\u201a', '\u201b':
			b.WriteRune(r)
		}
		b.WriteRune(r)
	}
	b.WriteByte('\'')
	return b.String()
}

var serverShellSafe = regexp.MustCompile(`^[A-Za-z0-9_./:@%+=,-]+$`)

// serverShellQuote quotes s for a POSIX shell when it needs it.
func serverShellQuote(s string) string {
	if serverShellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
