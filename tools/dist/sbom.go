package main

import (
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"time"
)

// The CycloneDX 1.5 JSON document, only the parts a Go binary's module list fills.
// https://cyclonedx.org/docs/1.5/json/
type cdxBOM struct {
	BOMFormat    string          `json:"bomFormat"`
	SpecVersion  string          `json:"specVersion"`
	SerialNumber string          `json:"serialNumber"`
	Version      int             `json:"version"`
	Metadata     cdxMetadata     `json:"metadata"`
	Components   []cdxComponent  `json:"components"`
	Dependencies []cdxDependency `json:"dependencies"`
}

type cdxMetadata struct {
	Timestamp string       `json:"timestamp"`
	Tools     cdxTools     `json:"tools"`
	Component cdxComponent `json:"component"`
}

type cdxTools struct {
	Components []cdxComponent `json:"components"`
}

type cdxComponent struct {
	Type       string        `json:"type"`
	BOMRef     string        `json:"bom-ref,omitempty"`
	Name       string        `json:"name"`
	Version    string        `json:"version,omitempty"`
	PURL       string        `json:"purl,omitempty"`
	Properties []cdxProperty `json:"properties,omitempty"`
}

type cdxProperty struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type cdxDependency struct {
	Ref       string   `json:"ref"`
	DependsOn []string `json:"dependsOn"`
}

// purl is a Go module's package URL (https://github.com/package-url/purl-spec).
func purl(path, version string) string { return "pkg:golang/" + path + "@" + version }

// cycloneDX describes the binary whose module list info is: the main module as the
// component, each module linked in (replacements applied) as a library it depends on, with its
// go.sum hash, and the Go toolchain and build settings as properties. The serial number is
// derived from the content, so the same binary gives the same document.
func cycloneDX(info *buildinfo.BuildInfo, version, goos, goarch string, built time.Time) ([]byte, error) {
	main := cdxComponent{Type: "application", BOMRef: purl(info.Main.Path, version), Name: "smartx", Version: version,
		PURL:       purl(info.Main.Path, version),
		Properties: []cdxProperty{{"go.version", info.GoVersion}, {"GOOS", goos}, {"GOARCH", goarch}, {"go.path", info.Path}}}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision", "vcs.time", "vcs.modified", "CGO_ENABLED", "-trimpath":
			main.Properties = append(main.Properties, cdxProperty{"go.build." + s.Key, s.Value})
		}
	}
	bom := cdxBOM{BOMFormat: "CycloneDX", SpecVersion: "1.5", Version: 1,
		Metadata: cdxMetadata{Timestamp: built.UTC().Format(time.RFC3339),
			Tools:     cdxTools{Components: []cdxComponent{{Type: "application", Name: "smartx tools/dist"}}},
			Component: main},
		Components: []cdxComponent{}}
	root := cdxDependency{Ref: main.BOMRef, DependsOn: []string{}}
	for _, d := range info.Deps {
		path, ver, sum := d.Path, d.Version, d.Sum
		if d.Replace != nil {
			path, ver, sum = d.Replace.Path, d.Replace.Version, d.Replace.Sum
		}
		c := cdxComponent{Type: "library", BOMRef: purl(path, ver), Name: path, Version: ver, PURL: purl(path, ver)}
		if sum != "" {
			c.Properties = append(c.Properties, cdxProperty{"go.sum", sum})
		}
		if d.Replace != nil {
			c.Properties = append(c.Properties, cdxProperty{"go.replaces", d.Path + "@" + d.Version})
		}
		bom.Components = append(bom.Components, c)
		root.DependsOn = append(root.DependsOn, c.BOMRef)
		bom.Dependencies = append(bom.Dependencies, cdxDependency{Ref: c.BOMRef, DependsOn: []string{}})
	}
	bom.Dependencies = append([]cdxDependency{root}, bom.Dependencies...)
	body, err := json.Marshal(bom)
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(body)
	h[6] = h[6]&0x0f | 0x50 // a name-based (version 5 style) UUID from the content
	h[8] = h[8]&0x3f | 0x80
	bom.SerialNumber = fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
	out, err := json.MarshalIndent(bom, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}
