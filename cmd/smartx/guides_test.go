package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

var update = flag.Bool("update", false, "rewrite the captured blocks of docs/*.md from this run of testdata/guides")

// The guides show real outputs. A fenced block of docs/*.md that follows the line
//
//	<!-- captured: NAME -->
//
// holds what the `capture NAME` commands of the scripts in testdata/guides printed: each
// command line after "$ ", then its stdout and stderr as a terminal shows them. TestGuides runs
// those scripts against loopback servers and compares every marked block with its capture;
// `go test ./cmd/smartx -run TestGuides -update` rewrites the blocks from a fresh run. What
// changes from run to run (ids, secrets, ports, times of the run, durations) is masked on both
// sides before comparing (guideNoise), so a block must say everything else exactly; -update
// leaves a block alone when it differs only by those.

// guidesDir holds the guides whose marked blocks TestGuides checks.
const guidesDir = "../../docs"

// TestGuides runs testdata/guides/*.txtar and checks the captured blocks of the guides.
func TestGuides(t *testing.T) {
	captures := t.TempDir()
	t.Run("scripts", func(t *testing.T) {
		cmds := scriptCommands()
		cmds["capture"] = captureCmd
		testscript.Run(t, testscript.Params{
			Dir: filepath.Join("testdata", "guides"),
			Setup: func(env *testscript.Env) error {
				if err := setupPlatform(env); err != nil {
					return err
				}
				env.Setenv("GUIDE_CAPTURES", captures)
				return nil
			},
			Cmds:      cmds,
			Condition: scriptCondition,
		})
	})
	if t.Failed() {
		return // a script failed: its captures are incomplete
	}
	checkGuides(t, captures, *update)
}

// captureNameRE is what a capture may be called.
var captureNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// captureCmd runs a shell command line and appends it and its output to the capture NAME:
// capture [-needs TOOL] [-expand VAR,...] NAME 'COMMAND LINE'. With !, the command must fail.
// The line is shown as written, but for the variables of -expand, shown with their values
// (an id the run made, say). It runs in
// sh with the script's environment and folder, after $CAPTURE_PRELUDE (shell functions the
// guide defines once, not shown again); stdout and stderr are captured together, in the order
// they were written. The script's folder is shown as a relative path, and secrets as their
// first 16 characters and "...", as the guides show them. Without TOOL on this machine, the
// capture is marked skipped instead (its blocks are not checked here).
func captureCmd(ts *testscript.TestScript, neg bool, args []string) {
	const usage = "usage: capture [-needs TOOL] [-expand VAR,...] NAME 'COMMAND LINE' (NAME in lower case, digits and dashes)"
	var needs string
	var expand []string
	for len(args) > 2 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "-needs":
			needs = args[1]
		case "-expand":
			expand = strings.Split(args[1], ",")
		default:
			ts.Fatalf("%s", usage)
		}
		args = args[2:]
	}
	if len(args) != 2 || !captureNameRE.MatchString(args[0]) {
		ts.Fatalf("%s", usage)
	}
	name, line := args[0], args[1]
	shown := line
	for _, v := range expand {
		shown = strings.ReplaceAll(shown, "$"+v, ts.Getenv(v))
	}
	shown = strings.ReplaceAll(shown, ts.Getenv("WORK")+string(filepath.Separator), "")
	dir := ts.Getenv("GUIDE_CAPTURES")
	if needs != "" {
		if _, err := exec.LookPath(needs); err != nil {
			ts.Check(os.WriteFile(filepath.Join(dir, name+".skipped"), []byte(needs+"\n"), 0o644))
			return
		}
	}
	script := "{ " + line + "\n} 2>&1"
	if p := ts.Getenv("CAPTURE_PRELUDE"); p != "" {
		script = p + "\n" + script
	}
	err := ts.Exec("sh", "-c", script)
	out := ts.ReadFile("stdout")
	switch {
	case err != nil && !neg:
		ts.Fatalf("capture %s: %s: %v\n%s", name, line, err, out)
	case err == nil && neg:
		ts.Fatalf("capture %s: %s succeeded, want a failure\n%s", name, line, out)
	}
	out = strings.ReplaceAll(out, ts.Getenv("WORK")+string(filepath.Separator), "")
	out = secretRE.ReplaceAllStringFunc(out, func(s string) string { return s[:min(len(s), 16)] + "..." })
	if out != "" && !strings.HasSuffix(out, "\n") {
		out += "\n"
	}
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	ts.Check(err)
	_, err = fmt.Fprintf(f, "$ %s\n%s", shown, out)
	ts.Check(err)
	ts.Check(f.Close())
}

// secretRE matches the secrets smartx prints (API tokens, sessions, device credentials, login
// challenges), which are long and never the same twice.
var secretRE = regexp.MustCompile(`\bsx[tsdc]_[A-Za-z0-9_.~-]{13,}`)

// guideNoise is what differs between two runs of the same commands, each with its mask.
var guideNoise = []struct {
	re   *regexp.Regexp
	mask string
}{
	{secretRE, "<secret>"},
	{regexp.MustCompile(`\b(acc|usr|tok|sit|dev|req|pfr)_[a-z0-9]{16}\b`), "${1}_<id>"},
	{regexp.MustCompile(`\b(127\.0\.0\.1|localhost|\[::1\]):\d+\b`), "${1}:<port>"},
	{regexp.MustCompile(`\b(port|--https-port) \d{4,5}\b`), "${1} <port>"}, // ephemeral ports; 53, 80, 123, 443 stay
	{regexp.MustCompile(`smartx-dev-\d+`), "smartx-dev-<n>"},
	{regexp.MustCompile(`\b[a-z0-9]{5}(-[a-z0-9]{5}){4}\b`), "<password>"}, // generated passwords
	{regexp.MustCompile(`\b\d+(\.\d+)? ?(ns|µs|us|ms|s)\b`), "<duration>"},
	{regexp.MustCompile(`\(\d+[smhd]( \d+[smhd])* ago\)|\(in \d+[smhd]( \d+[smhd])*\)`), "(<when>)"},
}

// runTimeRE matches dates and times, which are masked when they belong to the run (recent or in
// the future: creation times, expiries, last contacts) and kept when they belong to the
// guides' data, which is in the past.
var runTimeRE = regexp.MustCompile(`\b\d{4}-\d\d-\d\d([T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)?)?\b`)

// maskGuideNoise masks what changes from run to run and collapses blanks, which tables widen or
// narrow with what they hold.
func maskGuideNoise(text string, now time.Time) string {
	for _, n := range guideNoise {
		text = n.re.ReplaceAllString(text, n.mask)
	}
	recent := now.Add(-72 * time.Hour)
	text = runTimeRE.ReplaceAllStringFunc(text, func(s string) string {
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
			if t, err := time.Parse(layout, s); err == nil {
				if t.After(recent) {
					return "<time>"
				}
				return s
			}
		}
		return s
	})
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.Join(lines, "\n")
}

// guideBlock is a captured block of a guide: the lines between its fences, without the fences'
// indentation.
type guideBlock struct {
	name       string
	line       int // of the opening fence, 1-based
	start, end int // the body is lines[start:end]
	indent     string
	body       string
}

var captureMarkerRE = regexp.MustCompile(`^(\s*)<!-- captured: ([a-z0-9-]+) -->\s*$`)

// guideBlocks finds the captured blocks of a guide.
func guideBlocks(lines []string) ([]guideBlock, error) {
	var out []guideBlock
	for i := 0; i < len(lines); i++ {
		m := captureMarkerRE.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		if i+1 >= len(lines) || !strings.HasPrefix(strings.TrimSpace(lines[i+1]), "```") {
			return nil, fmt.Errorf("line %d: the capture marker of %s is not followed by a fenced block", i+1, m[2])
		}
		indent := lines[i+1][:len(lines[i+1])-len(strings.TrimLeft(lines[i+1], " "))]
		b := guideBlock{name: m[2], line: i + 2, start: i + 2, indent: indent}
		j := i + 2
		for ; j < len(lines) && strings.TrimSpace(lines[j]) != "```"; j++ {
		}
		if j == len(lines) {
			return nil, fmt.Errorf("line %d: the block of %s is not closed", i+2, m[2])
		}
		b.end = j
		var body []string
		for _, l := range lines[b.start:b.end] {
			body = append(body, strings.TrimPrefix(l, indent))
		}
		b.body = strings.Join(body, "\n") + "\n"
		if b.start == b.end {
			b.body = ""
		}
		out = append(out, b)
		i = j
	}
	return out, nil
}

// checkGuides compares every captured block of the guides with its capture, or rewrites it.
func checkGuides(t *testing.T, captures string, rewrite bool) {
	guides, err := filepath.Glob(filepath.Join(guidesDir, "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	used := map[string]bool{}
	for _, guide := range guides {
		raw, err := os.ReadFile(guide)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(raw), "\n")
		blocks, err := guideBlocks(lines)
		if err != nil {
			t.Errorf("%s: %v", guide, err)
			continue
		}
		for k := len(blocks) - 1; k >= 0; k-- { // from the end, so rewriting keeps earlier line numbers
			b := blocks[k]
			used[b.name] = true
			where := fmt.Sprintf("%s:%d", filepath.Base(guide), b.line)
			if skipped, err := os.ReadFile(filepath.Join(captures, b.name+".skipped")); err == nil {
				t.Logf("%s: capture %s not checked: it needs %s, which this machine lacks", where, b.name, strings.TrimSpace(string(skipped)))
				continue
			}
			capture, err := os.ReadFile(filepath.Join(captures, b.name))
			if err != nil {
				t.Errorf("%s: no capture %s: add `capture %s '...'` to a script of testdata/guides", where, b.name, b.name)
				continue
			}
			same := maskGuideNoise(b.body, now) == maskGuideNoise(string(capture), now)
			if rewrite && !same { // a block that only differs by noise stays: no churn of ids and times
				var body []string
				for _, l := range strings.Split(strings.TrimSuffix(string(capture), "\n"), "\n") {
					if l != "" {
						l = b.indent + l
					}
					body = append(body, l)
				}
				lines = slices.Concat(lines[:b.start], body, lines[b.end:])
				continue
			}
			if !rewrite && !same {
				got, want := maskGuideNoise(b.body, now), maskGuideNoise(string(capture), now)
				t.Errorf("%s: the block differs from what the commands print now (run go test ./cmd/smartx -run TestGuides -update):\n%s",
					where, lineDiff(got, want))
			}
		}
		if rewrite {
			if out := strings.Join(lines, "\n"); out != string(raw) {
				if err := os.WriteFile(guide, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("rewrote the captured blocks of %s", guide)
			}
		}
	}
	entries, err := os.ReadDir(captures)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if name := strings.TrimSuffix(e.Name(), ".skipped"); !used[name] {
			t.Errorf("capture %s is shown in no guide: add <!-- captured: %s --> before a block, or drop it from testdata/guides", name, name)
		}
	}
}

// lineDiff shows the first lines where two masked texts differ.
func lineDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	var b bytes.Buffer
	shown := 0
	for i := 0; i < max(len(g), len(w)) && shown < 6; i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			fmt.Fprintf(&b, "  line %d\n    guide: %q\n    run:   %q\n", i+1, gl, wl)
			shown++
		}
	}
	return b.String()
}
