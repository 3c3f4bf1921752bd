package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The checked-in reference (docs/commands) is what the command tree generates: a command,
// flag or help text changed without `make docs` fails here.
func TestReferenceIsUpToDate(t *testing.T) {
	dir := t.TempDir()
	if err := writeMarkdown(dir); err != nil {
		t.Fatal(err)
	}
	checkedIn := filepath.Join("..", "..", "docs", "commands")
	want, _ := filepath.Glob(filepath.Join(dir, "*.md"))
	have, _ := filepath.Glob(filepath.Join(checkedIn, "*.md"))
	names := func(paths []string) []string {
		out := make([]string, len(paths))
		for i, p := range paths {
			out[i] = filepath.Base(p)
		}
		return out
	}
	if !slices.Equal(names(want), names(have)) {
		t.Fatalf("docs/commands has pages %v, the command tree %v: run `make docs`", names(have), names(want))
	}
	for _, p := range want {
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		old, err := os.ReadFile(filepath.Join(checkedIn, filepath.Base(p)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, old) {
			t.Errorf("docs/commands/%s is out of date: run `make docs`", filepath.Base(p))
		}
	}
}

func TestManPages(t *testing.T) {
	dir := t.TempDir()
	if err := writeMan(dir); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, "smartx-audit.1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".TH \"SMARTX\" \"1\"", "smartx-audit - List or follow", "EXAMPLE"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("smartx-audit.1 lacks %q", want)
		}
	}
}
