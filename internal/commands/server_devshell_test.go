package commands

import (
	"strings"
	"testing"
)

func TestDetectDevShell(t *testing.T) {
	const machine = `C:\Program Files\WindowsPowerShell\Modules;C:\WINDOWS\system32\WindowsPowerShell\v1.0\Modules`
	tests := []struct {
		name    string
		goos    string
		env     map[string]string
		want    devShell
		whyPart string
	}{
		{"linux", "linux", map[string]string{"PSModulePath": machine}, shellPOSIX, ""},
		{"macOS", "darwin", nil, shellPOSIX, ""},
		{"windows powershell 5", "windows", map[string]string{"USERPROFILE": `C:\Users\Ana`,
			"PSModulePath": `C:\Users\Ana\Documents\WindowsPowerShell\Modules;` + machine}, shellPowerShell, "PSModulePath"},
		{"pwsh 7, documents in OneDrive, other case", "windows", map[string]string{"USERPROFILE": `C:\Users\Ana\`,
			"PSModulePath": `c:\users\ana\OneDrive\Documents\PowerShell\Modules;C:\Program Files\PowerShell\Modules`}, shellPowerShell, "PSModulePath"},
		{"cmd.exe", "windows", map[string]string{"USERPROFILE": `C:\Users\Ana`, "PSModulePath": machine, "PROMPT": "$P$G"}, shellCmd, "PROMPT"},
		{"powershell started from cmd keeps PROMPT", "windows", map[string]string{"USERPROFILE": `C:\Users\Ana`, "PROMPT": "$P$G",
			"PSModulePath": `C:\Users\Ana\Documents\WindowsPowerShell\Modules;` + machine}, shellPowerShell, "PSModulePath"},
		{"git bash", "windows", map[string]string{"MSYSTEM": "MINGW64", "PROMPT": "$P$G"}, shellPOSIX, "Git Bash"},
		{"nothing to go on", "windows", map[string]string{"PSModulePath": machine}, shellPowerShell, "assumed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why := detectDevShell(tt.goos, func(k string) string { return tt.env[k] })
			if got != tt.want || !strings.Contains(why, tt.whyPart) || (tt.whyPart == "") != (why == "") {
				t.Errorf("detectDevShell = %s, %q; want %s and a reason containing %q", got, why, tt.want, tt.whyPart)
			}
		})
	}
}

func TestDevEnvBlock(t *testing.T) {
	vars := [][2]string{
		{"SMARTX_SERVER", "https://127.0.0.1:8443"},
		{"SMARTX_CA_FILE", `C:\Users\Ana O'Neil\AppData\Local\Temp\smartx-dev\tls\ca.pem`},
		{"SMARTX_TOKEN", "sxt_abc.def-ghi"},
	}
	tests := []struct {
		shell devShell
		want  []string
	}{
		{shellPOSIX, []string{`export SMARTX_SERVER=https://127.0.0.1:8443 SMARTX_CA_FILE='C:\Users\Ana O'\''Neil\AppData\Local\Temp\smartx-dev\tls\ca.pem' SMARTX_TOKEN=sxt_abc.def-ghi`}},
		{shellPowerShell, []string{
			`$env:SMARTX_SERVER = 'https://127.0.0.1:8443'`,
			`$env:SMARTX_CA_FILE = 'C:\Users\Ana O''Neil\AppData\Local\Temp\smartx-dev\tls\ca.pem'`,
			`$env:SMARTX_TOKEN = 'sxt_abc.def-ghi'`,
		}},
		{shellCmd, []string{
			`set "SMARTX_SERVER=https://127.0.0.1:8443"`,
			`set "SMARTX_CA_FILE=C:\Users\Ana O'Neil\AppData\Local\Temp\smartx-dev\tls\ca.pem"`,
			`set "SMARTX_TOKEN=sxt_abc.def-ghi"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.shell.String(), func(t *testing.T) {
			got := devEnvBlock(tt.shell, vars)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("devEnvBlock(%s) =\n%s\nwant\n%s", tt.shell, strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestShellQuoting(t *testing.T) {
	for in, want := range map[string]string{
		"plain":     "'plain'",
		"it's":      "'it''s'",
		"it\u2019s": "'it\u2019\u2019s'", // PowerShell closes a string on typographic quotes too
		"$env:HOME": "'$env:HOME'",       // nothing expands in single quotes
		"a `n b":    "'a `n b'",
		"":          "''",
	} {
		if got := powerShellQuote(in); got != want {
			t.Errorf("powerShellQuote(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"https://x:1/p": "https://x:1/p",
		"a b":           "'a b'",
		"it's":          `'it'\''s'`,
		"$HOME":         `'$HOME'`,
	} {
		if got := serverShellQuote(in); got != want {
			t.Errorf("serverShellQuote(%q) = %q, want %q", in, got, want)
		}
	}
	// cmd.exe cannot take a double quote or a percent sign safely: said, not printed wrong.
	got := devEnvBlock(shellCmd, [][2]string{{"SMARTX_TOKEN", `a"b`}, {"X", "100%"}})
	for _, line := range got {
		if !strings.HasPrefix(line, "rem ") {
			t.Errorf("cmd.exe line %q: want a rem line saying it cannot be set", line)
		}
	}
}
