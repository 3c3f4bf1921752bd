package main

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"debug/buildinfo"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

var built = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func fakeInfo() *buildinfo.BuildInfo {
	return &buildinfo.BuildInfo{GoVersion: "go1.26.8", Path: "github.com/smart-impulse/smartx/cmd/smartx",
		Main: debug.Module{Path: "github.com/smart-impulse/smartx", Version: "(devel)"},
		Deps: []*debug.Module{
			{Path: "github.com/spf13/cobra", Version: "v1.10.2", Sum: "h1:abc="},
			{Path: "example.com/old", Version: "v1.0.0", Replace: &debug.Module{Path: "example.com/new", Version: "v1.1.0", Sum: "h1:def="}},
		},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "f8bb6d0"}, {Key: "GOAMD64", Value: "v1"}},
	}
}

func TestCycloneDXFromTheModuleList(t *testing.T) {
	out, err := cycloneDX(fakeInfo(), "v1.2.0", "linux", "amd64", built)
	if err != nil {
		t.Fatal(err)
	}
	var bom cdxBOM
	if err := json.Unmarshal(out, &bom); err != nil {
		t.Fatal(err)
	}
	if bom.BOMFormat != "CycloneDX" || bom.SpecVersion != "1.5" || !strings.HasPrefix(bom.SerialNumber, "urn:uuid:") {
		t.Fatalf("header %+v", bom)
	}
	if got := bom.Metadata.Component.PURL; got != "pkg:golang/github.com/smart-impulse/smartx@v1.2.0" {
		t.Errorf("main purl %s", got)
	}
	if len(bom.Components) != 2 || bom.Components[0].PURL != "pkg:golang/github.com/spf13/cobra@v1.10.2" ||
		bom.Components[1].PURL != "pkg:golang/example.com/new@v1.1.0" {
		t.Fatalf("components %+v", bom.Components)
	}
	if len(bom.Dependencies) != 3 || len(bom.Dependencies[0].DependsOn) != 2 {
		t.Fatalf("dependencies %+v", bom.Dependencies)
	}
	if !strings.Contains(string(out), `"go.build.vcs.revision"`) || strings.Contains(string(out), "GOAMD64") {
		t.Errorf("build settings: %s", out)
	}
	again, _ := cycloneDX(fakeInfo(), "v1.2.0", "linux", "amd64", built)
	if string(again) != string(out) {
		t.Error("the same binary gave two different SBOMs")
	}
}

func TestArchivesHoldTheFilesUnderOneFolder(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "smartx")
	if err := os.WriteFile(bin, []byte("binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	entries := []entry{{name: "smartx", path: bin, mode: 0o755}, {name: "README.md", data: []byte("# smartx"), mode: 0o644},
		{name: "man/man1/smartx.1", data: []byte(".TH"), mode: 0o644}}

	tgz := filepath.Join(dir, "a.tar.gz")
	if err := writeTarGz(tgz, "smartx_v1_linux_amd64", entries, built); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(tgz)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	files := map[string]int64{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !h.ModTime.Equal(built) {
			t.Errorf("%s: time %v, want the build's", h.Name, h.ModTime)
		}
		files[h.Name] = h.Mode
	}
	if files["smartx_v1_linux_amd64/smartx"] != 0o755 || files["smartx_v1_linux_amd64/README.md"] != 0o644 ||
		files["smartx_v1_linux_amd64/man/man1/"] == 0 {
		t.Fatalf("tar entries %v", files)
	}

	zf := filepath.Join(dir, "a.zip")
	if err := writeZip(zf, "smartx_v1_windows_amd64", entries, built); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(zf)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	if strings.Join(names, " ") != "smartx_v1_windows_amd64/README.md smartx_v1_windows_amd64/man/man1/smartx.1 smartx_v1_windows_amd64/smartx" {
		t.Fatalf("zip entries %v", names)
	}
	if info, err := os.Stat(zf); err != nil || info.Mode().Perm() != 0o644 {
		t.Fatalf("archive mode %v, %v", info.Mode(), err)
	}
}

func TestChecksumsReadBySha256sum(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.tar.gz")
	if err := os.WriteFile(a, []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeChecksums(dir, []string{a}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
	want := "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  a.tar.gz\n"
	if string(got) != want {
		t.Fatalf("SHA256SUMS = %q, want %q", got, want)
	}
}

func TestEscapeModulePath(t *testing.T) {
	if got := escapeModulePath("github.com/BurntSushi/toml"); got != "github.com/!burnt!sushi/toml" {
		t.Fatalf("escape = %s", got)
	}
}
