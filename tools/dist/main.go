// Command dist builds the smartx release: for each platform a pure-Go binary, packed with the
// README, the project's and its dependencies' licence texts and the man pages into a tar.gz
// (a zip for Windows); beside each archive a software bill of materials (CycloneDX 1.5 JSON)
// made from the module list the Go linker wrote into that very binary; and SHA256SUMS over
// everything. Nothing is fetched: licences come from the module cache the build used.
//
//	go run ./tools/dist -version v1.2.0 -ldflags "-s -w -X ..." -man build/man -out dist
//
// The binary for the machine's own platform is run (`smartx version`) to check it reports the
// version it was built with.
package main

import (
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// options are the flags of a release build.
type options struct {
	version, ldflags, out, man, pkg, root string
	platforms                             []string
	date                                  time.Time
}

func main() {
	var o options
	var platforms, date string
	flag.StringVar(&o.version, "version", "dev", "the release version, as the binaries report it")
	flag.StringVar(&o.ldflags, "ldflags", "-s -w", "linker flags (the Makefile's, with the version)")
	flag.StringVar(&platforms, "platforms", "linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64", "GOOS/GOARCH pairs, space-separated")
	flag.StringVar(&date, "date", "", "build time, RFC 3339: archive entries and the SBOM carry it (default: now)")
	flag.StringVar(&o.out, "out", "dist", "folder of the archives, SBOMs and SHA256SUMS")
	flag.StringVar(&o.man, "man", "", "folder of the man pages to ship (make docs writes build/man)")
	flag.StringVar(&o.pkg, "pkg", "./cmd/smartx", "the main package")
	flag.StringVar(&o.root, "root", ".", "the repository root (README, LICENSE...)")
	flag.Parse()
	o.platforms = strings.Fields(platforms)
	o.date = time.Now().UTC().Truncate(time.Second)
	if date != "" {
		t, err := time.Parse(time.RFC3339, date)
		if err != nil {
			fatal(fmt.Errorf("-date %q: %w", date, err))
		}
		o.date = t.UTC()
	}
	if err := run(o); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "dist:", err)
	os.Exit(1)
}

func run(o options) error {
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	stage, err := os.MkdirTemp(o.out, ".stage-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	var made []string
	for _, p := range o.platforms {
		goos, goarch, ok := strings.Cut(p, "/")
		if !ok {
			return fmt.Errorf("platform %q: use GOOS/GOARCH", p)
		}
		files, err := release(o, stage, goos, goarch)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		made = append(made, files...)
	}
	return writeChecksums(o.out, made)
}

// release builds, checks and packs one platform; it returns the files written to o.out.
func release(o options, stage, goos, goarch string) ([]string, error) {
	name := fmt.Sprintf("smartx_%s_%s_%s", o.version, goos, goarch)
	exe := "smartx"
	if goos == "windows" {
		exe += ".exe"
	}
	bin := filepath.Join(stage, name, exe)
	fmt.Fprintf(os.Stderr, "build %s\n", name)
	build := exec.Command("go", "build", "-trimpath", "-ldflags", o.ldflags, "-o", bin, o.pkg)
	build.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("go build: %w", err)
	}
	if goos == runtime.GOOS && goarch == runtime.GOARCH {
		if err := checkVersion(bin, o.version); err != nil {
			return nil, err
		}
	}
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		return nil, fmt.Errorf("read the module list from the binary: %w", err)
	}
	sbom, err := cycloneDX(info, o.version, goos, goarch, o.date)
	if err != nil {
		return nil, err
	}
	entries := []entry{{name: exe, path: bin, mode: 0o755}, {name: "sbom.cdx.json", data: sbom, mode: 0o644}}
	for _, doc := range projectFiles(o.root) {
		entries = append(entries, entry{name: filepath.Base(doc), path: doc, mode: 0o644})
	}
	entries = append(entries, entry{name: "THIRD_PARTY_LICENSES.txt", data: thirdPartyLicences(info), mode: 0o644})
	if o.man != "" {
		pages, _ := filepath.Glob(filepath.Join(o.man, "*.1"))
		for _, p := range pages {
			entries = append(entries, entry{name: "man/man1/" + filepath.Base(p), path: p, mode: 0o644})
		}
	}
	archive := filepath.Join(o.out, name+".tar.gz")
	pack := writeTarGz
	if goos == "windows" {
		archive, pack = filepath.Join(o.out, name+".zip"), writeZip
	}
	if err := pack(archive, name, entries, o.date); err != nil {
		return nil, fmt.Errorf("pack %s: %w", archive, err)
	}
	sbomFile := filepath.Join(o.out, name+".cdx.json")
	if err := os.WriteFile(sbomFile, sbom, 0o644); err != nil {
		return nil, err
	}
	return []string{archive, sbomFile}, nil
}

// checkVersion runs `smartx version` and checks the binary reports the release's version.
func checkVersion(bin, version string) error {
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s version: %w: %s", bin, err, out)
	}
	if !strings.Contains(string(out), version) {
		return fmt.Errorf("%s version reports %q, not %s: check the -ldflags", bin, strings.TrimSpace(string(out)), version)
	}
	fmt.Fprintf(os.Stderr, "  %s", out)
	return nil
}

// projectFiles are the README and the licence-like files at the repository's root.
func projectFiles(root string) []string {
	var out []string
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		upper := strings.ToUpper(e.Name())
		if e.Type().IsRegular() && (upper == "README.MD" || isLicenceName(upper)) {
			out = append(out, filepath.Join(root, e.Name()))
		}
	}
	return out
}

func isLicenceName(upper string) bool {
	for _, prefix := range []string{"LICENSE", "LICENCE", "COPYING", "NOTICE"} {
		if strings.HasPrefix(upper, prefix) {
			return true
		}
	}
	return false
}

// thirdPartyLicences gathers the licence texts of every module linked into the binary, from the
// module cache the build used.
func thirdPartyLicences(info *buildinfo.BuildInfo) []byte {
	cache := goEnv("GOMODCACHE")
	var b bytes.Buffer
	fmt.Fprintf(&b, "smartx is built with %s and the modules below; each one's licence follows.\n", info.GoVersion)
	for _, d := range info.Deps {
		path, version := d.Path, d.Version
		if d.Replace != nil {
			path, version = d.Replace.Path, d.Replace.Version
		}
		fmt.Fprintf(&b, "\n%s\n%s %s\n%s\n", strings.Repeat("=", 72), path, version, strings.Repeat("=", 72))
		dir := filepath.Join(cache, escapeModulePath(path)+"@"+version)
		files, _ := os.ReadDir(dir)
		found := false
		for _, f := range files {
			if f.Type().IsRegular() && isLicenceName(strings.ToUpper(f.Name())) {
				if text, err := os.ReadFile(filepath.Join(dir, f.Name())); err == nil {
					fmt.Fprintf(&b, "-- %s --\n%s\n", f.Name(), bytes.TrimSpace(text))
					found = true
				}
			}
		}
		if !found {
			b.WriteString("(no licence file found in the module cache: see the module's source)\n")
		}
	}
	return b.Bytes()
}

// escapeModulePath is the module cache's case encoding: an upper-case letter becomes ! and the
// letter in lower case (golang.org/x/mod/module.EscapePath).
func escapeModulePath(path string) string {
	var b strings.Builder
	for _, r := range path {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func goEnv(name string) string {
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// writeChecksums writes SHA256SUMS in the format sha256sum -c reads.
func writeChecksums(dir string, files []string) error {
	slices.Sort(files)
	var b strings.Builder
	for _, f := range files {
		sum, err := fileSHA256(f)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s  %s\n", sum, filepath.Base(f))
	}
	if len(files) == 0 {
		return errors.New("nothing was built")
	}
	return os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(b.String()), 0o644)
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
