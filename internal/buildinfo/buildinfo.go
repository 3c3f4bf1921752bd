// Package buildinfo reports the version, commit and build date of the smartx binary.
//
// The Makefile injects the values with -ldflags "-X"; a plain `go build` falls back to
// what the Go toolchain recorded, so a binary never claims a version it does not have.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Set by the linker: -X github.com/smart-impulse/smartx/internal/buildinfo.version=v1.2.3
var (
	version = ""
	commit  = ""
	date    = ""
)

// Version returns the release version, "dev" for an untagged build.
func Version() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "dev"
}

// Commit returns the source commit the binary was built from, "unknown" when not recorded.
func Commit() string {
	if commit != "" {
		return commit
	}
	if v := setting("vcs.revision"); v != "" {
		return v
	}
	return "unknown"
}

// Date returns the build time in RFC 3339, "unknown" when not recorded.
func Date() string {
	if date != "" {
		return date
	}
	if v := setting("vcs.time"); v != "" {
		return v
	}
	return "unknown"
}

// Platform returns the operating system and architecture the binary runs on, e.g. "linux/amd64".
func Platform() string { return runtime.GOOS + "/" + runtime.GOARCH }

// UserAgent returns the User-Agent header smartx sends to the platform.
func UserAgent() string { return "smartx/" + Version() + " (" + Platform() + ")" }

func setting(key string) string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, s := range info.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}
