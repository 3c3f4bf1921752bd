package preflight

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// maxSiteFileSize bounds the site file; real ones are a few hundred bytes.
const maxSiteFileSize = 1 << 20

// SiteFile holds the settings of a site file. A nil field (or nil list) was
// absent from the file, so Apply leaves the configuration's value alone:
// precedence is defaults < site file < flags.
// Each field mirrors the Config field of the same name (site-file key in
// parentheses).
type SiteFile struct {
	Host            *string        // host
	ExpectIP        *string        // expect-ip
	HTTPSPort       *int           // https-port
	HTTPPort        *int           // http-port
	PingTarget      *string        // ping-target
	NTPServer       *string        // ntp-server
	DNSServer       *string        // dns-server
	Proxy           *string        // proxy
	CAFile          *string        // ca-file
	DeviceRootsOnly *bool          // device-roots-only
	ExpectIssuer    *string        // expect-issuer
	Timeout         *time.Duration // timeout, e.g. 3s
	Count           *int           // count
	Only            []string       // only: list or comma-separated string
	Skip            []string       // skip: list or comma-separated string
	Strict          *bool          // strict
	Site            *string        // site
	Serial          *string        // serial
	Installer       *string        // installer
	Profile         *Profile       // profile
}

// SiteFileKeys returns the keys a site file may hold, which are also the
// flag names.
func SiteFileKeys() []string {
	return []string{"host", "expect-ip", "https-port", "http-port", "ping-target", "ntp-server", "dns-server",
		"proxy", "ca-file", "device-roots-only", "expect-issuer", "timeout", "count", "only", "skip",
		"strict", "site", "serial", "installer", "profile"}
}

// ErrSiteFile is wrapped by every SiteFileError.
var ErrSiteFile = errors.New("invalid site file")

// SiteFileError is a problem at a line of the site file (line 0 when it
// concerns the whole file).
type SiteFileError struct {
	// Line is the 1-based line of the problem, 0 for the whole file.
	Line int
	// Key is the setting concerned, if any.
	Key string
	// Problem says what is wrong and what is expected.
	Problem string
}

// Error implements error.
func (e *SiteFileError) Error() string {
	var b strings.Builder
	b.WriteString("site file")
	if e.Line > 0 {
		fmt.Fprintf(&b, " line %d", e.Line)
	}
	if e.Key != "" {
		fmt.Fprintf(&b, ": %s", e.Key)
	}
	b.WriteString(": ")
	b.WriteString(e.Problem)
	return b.String()
}

// Unwrap lets errors.Is find ErrSiteFile.
func (e *SiteFileError) Unwrap() error { return ErrSiteFile }

// ParseSiteFile parses a YAML site file holding the CLI settings under their
// kebab-case names (host, expect-ip, timeout: 3s, only: [dns, tls]...).
// It is strict: an unknown or repeated key, a value of the wrong type, or a
// second YAML document is an error naming the key and its line. Values are
// checked by Config.Validate after Apply.
func ParseSiteFile(data []byte) (SiteFile, error) {
	var sf SiteFile
	if len(data) > maxSiteFileSize {
		return sf, &SiteFileError{Problem: fmt.Sprintf("larger than %d bytes", maxSiteFileSize)}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return sf, nil
		}
		return sf, &SiteFileError{Problem: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return sf, &SiteFileError{Line: extra.Line, Problem: "holds more than one YAML document (remove the --- separator)"}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return sf, nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return sf, nil
	}
	if root.Kind != yaml.MappingNode {
		return sf, &SiteFileError{Line: root.Line, Problem: "want a mapping of settings (key: value lines)"}
	}
	seen := make(map[string]int)
	for i := 0; i+1 < len(root.Content); i += 2 {
		keyNode, value := root.Content[i], root.Content[i+1]
		if keyNode.Kind != yaml.ScalarNode {
			return sf, &SiteFileError{Line: keyNode.Line, Problem: "keys must be plain names"}
		}
		key := keyNode.Value
		if first, dup := seen[key]; dup {
			return sf, &SiteFileError{Line: keyNode.Line, Key: key, Problem: fmt.Sprintf("repeated (first at line %d)", first)}
		}
		seen[key] = keyNode.Line
		if value.Kind == yaml.AliasNode {
			if value.Alias == nil {
				return sf, &SiteFileError{Line: value.Line, Key: key, Problem: "unresolved alias"}
			}
			value = value.Alias
		}
		if err := sf.set(key, value); err != nil {
			return sf, err
		}
	}
	return sf, nil
}

// set decodes one setting.
func (sf *SiteFile) set(key string, v *yaml.Node) error {
	var err error
	switch key {
	case "host":
		sf.Host, err = yamlString(key, v)
	case "expect-ip":
		sf.ExpectIP, err = yamlString(key, v)
	case "https-port":
		sf.HTTPSPort, err = yamlInt(key, v)
	case "http-port":
		sf.HTTPPort, err = yamlInt(key, v)
	case "ping-target":
		sf.PingTarget, err = yamlString(key, v)
	case "ntp-server":
		sf.NTPServer, err = yamlString(key, v)
	case "dns-server":
		sf.DNSServer, err = yamlString(key, v)
	case "proxy":
		sf.Proxy, err = yamlString(key, v)
	case "ca-file":
		sf.CAFile, err = yamlString(key, v)
	case "device-roots-only":
		sf.DeviceRootsOnly, err = yamlBool(key, v)
	case "expect-issuer":
		sf.ExpectIssuer, err = yamlString(key, v)
	case "timeout":
		sf.Timeout, err = yamlDuration(key, v)
	case "count":
		sf.Count, err = yamlInt(key, v)
	case "only":
		sf.Only, err = yamlList(key, v)
	case "skip":
		sf.Skip, err = yamlList(key, v)
	case "strict":
		sf.Strict, err = yamlBool(key, v)
	case "site":
		sf.Site, err = yamlString(key, v)
	case "serial":
		sf.Serial, err = yamlString(key, v)
	case "installer":
		sf.Installer, err = yamlString(key, v)
	case "profile":
		var s *string
		if s, err = yamlString(key, v); err == nil {
			p := Profile(*s)
			sf.Profile = &p
		}
	default:
		return &SiteFileError{Line: v.Line, Key: key, Problem: "unknown key; valid keys: " + strings.Join(SiteFileKeys(), ", ")}
	}
	return err
}

// kindText names a node's type for error messages.
func kindText(v *yaml.Node) string {
	switch v.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.ScalarNode:
		switch v.Tag {
		case "!!null":
			return "nothing"
		case "!!bool":
			return "a boolean"
		case "!!int":
			return "an integer"
		case "!!float":
			return "a number"
		}
		return fmt.Sprintf("%q", v.Value)
	}
	return "something else"
}

func wrongType(key string, v *yaml.Node, want string) error {
	return &SiteFileError{Line: v.Line, Key: key, Problem: "want " + want + ", got " + kindText(v)}
}

// yamlString accepts a string scalar; numbers are taken as written (a site
// named 2024 is still a name).
func yamlString(key string, v *yaml.Node) (*string, error) {
	if v.Kind != yaml.ScalarNode || (v.Tag != "!!str" && v.Tag != "!!int" && v.Tag != "!!float") {
		return nil, wrongType(key, v, "a string")
	}
	s := v.Value
	return &s, nil
}

func yamlInt(key string, v *yaml.Node) (*int, error) {
	if v.Kind != yaml.ScalarNode || v.Tag != "!!int" {
		return nil, wrongType(key, v, "an integer")
	}
	var n int
	if err := v.Decode(&n); err != nil {
		return nil, &SiteFileError{Line: v.Line, Key: key, Problem: "integer out of range"}
	}
	return &n, nil
}

func yamlBool(key string, v *yaml.Node) (*bool, error) {
	if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" {
		return nil, wrongType(key, v, "true or false")
	}
	var b bool
	if err := v.Decode(&b); err != nil {
		return nil, wrongType(key, v, "true or false")
	}
	return &b, nil
}

func yamlDuration(key string, v *yaml.Node) (*time.Duration, error) {
	if v.Kind == yaml.ScalarNode && (v.Tag == "!!int" || v.Tag == "!!float") {
		return nil, &SiteFileError{Line: v.Line, Key: key, Problem: "want a duration with a unit, e.g. 3s or 1500ms, got " + v.Value}
	}
	if v.Kind != yaml.ScalarNode || v.Tag != "!!str" {
		return nil, wrongType(key, v, "a duration such as 3s")
	}
	d, err := time.ParseDuration(v.Value)
	if err != nil {
		return nil, &SiteFileError{Line: v.Line, Key: key, Problem: fmt.Sprintf("want a duration such as 3s, got %q", v.Value)}
	}
	return &d, nil
}

// yamlList accepts a list of names or one comma-separated string, like the
// flags do. An empty list is kept as empty (not nil), so it overrides.
func yamlList(key string, v *yaml.Node) ([]string, error) {
	switch {
	case v.Kind == yaml.SequenceNode:
		out := make([]string, 0, len(v.Content))
		for _, item := range v.Content {
			if item.Kind != yaml.ScalarNode || item.Tag != "!!str" {
				return nil, wrongType(key, item, "a check id")
			}
			out = append(out, strings.TrimSpace(item.Value))
		}
		return out, nil
	case v.Kind == yaml.ScalarNode && v.Tag == "!!str":
		out := []string{}
		for part := range strings.SplitSeq(v.Value, ",") {
			if p := strings.TrimSpace(part); p != "" {
				out = append(out, p)
			}
		}
		return out, nil
	}
	return nil, wrongType(key, v, "a list of check ids")
}

// Apply copies the settings present in the file into cfg, leaving the
// others alone. Call it after filling defaults and before applying flags.
// A relative ca-file is kept as written; the caller resolves it against the
// site file's directory if it wants to.
func (sf SiteFile) Apply(cfg *Config) {
	setString := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	setInt := func(dst *int, src *int) {
		if src != nil {
			*dst = *src
		}
	}
	setBool := func(dst *bool, src *bool) {
		if src != nil {
			*dst = *src
		}
	}
	setString(&cfg.Host, sf.Host)
	setString(&cfg.ExpectIP, sf.ExpectIP)
	setInt(&cfg.HTTPSPort, sf.HTTPSPort)
	setInt(&cfg.HTTPPort, sf.HTTPPort)
	setString(&cfg.PingTarget, sf.PingTarget)
	setString(&cfg.NTPServer, sf.NTPServer)
	setString(&cfg.DNSServer, sf.DNSServer)
	setString(&cfg.Proxy, sf.Proxy)
	setString(&cfg.CAFile, sf.CAFile)
	setBool(&cfg.DeviceRootsOnly, sf.DeviceRootsOnly)
	setString(&cfg.ExpectIssuer, sf.ExpectIssuer)
	if sf.Timeout != nil {
		cfg.Timeout = *sf.Timeout
	}
	setInt(&cfg.Count, sf.Count)
	if sf.Only != nil {
		cfg.Only = slices.Clone(sf.Only)
	}
	if sf.Skip != nil {
		cfg.Skip = slices.Clone(sf.Skip)
	}
	setBool(&cfg.Strict, sf.Strict)
	setString(&cfg.Site, sf.Site)
	setString(&cfg.Serial, sf.Serial)
	setString(&cfg.Installer, sf.Installer)
	if sf.Profile != nil {
		cfg.Profile = *sf.Profile
	}
}
