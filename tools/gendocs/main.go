// Command gendocs writes smartx's command reference from the command tree itself: a markdown
// page per command (docs/commands, checked in, so the reference is read on the forge) and a
// man page per command (section 1, in a build folder, shipped in the release archives).
//
//	go run ./tools/gendocs -md docs/commands -man build/man
//
// The markdown is compared with the checked-in pages by this package's test, which fails when
// a command changed without `make docs`.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/smart-impulse/smartx/internal/buildinfo"
	"github.com/smart-impulse/smartx/internal/commands"
	"github.com/smart-impulse/smartx/internal/ui"
)

func main() {
	md := flag.String("md", "", "write the markdown reference into this folder")
	man := flag.String("man", "", "write the man pages into this folder")
	flag.Parse()
	if *md == "" && *man == "" {
		fmt.Fprintln(os.Stderr, "gendocs: give -md DIR, -man DIR or both")
		os.Exit(2)
	}
	if *md != "" {
		if err := writeMarkdown(*md); err != nil {
			fmt.Fprintln(os.Stderr, "gendocs:", err)
			os.Exit(1)
		}
	}
	if *man != "" {
		if err := writeMan(*man); err != nil {
			fmt.Fprintln(os.Stderr, "gendocs:", err)
			os.Exit(1)
		}
	}
}

// tree is the command tree as users see it, with cobra's own completion and help commands.
func tree() *cobra.Command {
	io, _, _, _ := ui.Test()
	root := commands.NewRootCmd(commands.NewFactory(io))
	root.InitDefaultCompletionCmd()
	root.InitDefaultHelpCmd()
	root.DisableAutoGenTag = true // no date: the pages change only when the commands do
	return root
}

// writeMarkdown replaces the markdown pages in dir (a removed command loses its page).
func writeMarkdown(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, err := filepath.Glob(filepath.Join(dir, "smartx*.md"))
	if err != nil {
		return err
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	prepend := func(string) string { return "" }
	link := func(name string) string { return name }
	if err := doc.GenMarkdownTreeCustom(tree(), dir, prepend, link); err != nil {
		return err
	}
	return writeIndex(dir)
}

// writeIndex writes README.md: every command with its one-line summary.
func writeIndex(dir string) error {
	var b strings.Builder
	b.WriteString("# smartx command reference\n\n")
	b.WriteString("Generated from the command tree by `make docs` (tools/gendocs): do not edit by hand.\n")
	b.WriteString("`smartx COMMAND --help` prints the same; `man smartx` once the release archive's man pages are installed.\n\n")
	b.WriteString("| command | what it does |\n|---|---|\n")
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if !c.IsAvailableCommand() && c.HasParent() {
			return
		}
		name := strings.ReplaceAll(c.CommandPath(), " ", "_") + ".md"
		fmt.Fprintf(&b, "| [`%s`](%s) | %s |\n", c.CommandPath(), name, c.Short)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(tree())
	return os.WriteFile(filepath.Join(dir, "README.md"), []byte(b.String()), 0o644)
}

// writeMan writes a man page per command into dir.
func writeMan(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	header := &doc.GenManHeader{Title: "SMARTX", Section: "1", Source: "smartx " + buildinfo.Version(), Manual: "smartx manual"}
	return doc.GenManTree(tree(), header, dir)
}
