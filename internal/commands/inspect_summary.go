package commands

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/smart-impulse/smartx/internal/aescodec"
	"github.com/smart-impulse/smartx/internal/datafiles"
	"github.com/smart-impulse/smartx/internal/ui"
)

// fileSummary is one file of `smartx inspect --summary`, also its JSON shape.
type fileSummary struct {
	File     string     `json:"file"`
	Serial   string     `json:"serial,omitempty"`
	Sequence uint64     `json:"sequence,omitempty"`
	First    *time.Time `json:"first,omitempty"` // first reading (with a key) or the header's start
	Last     *time.Time `json:"last,omitempty"`
	Readings *int64     `json:"readings,omitempty"` // with a key only
	// Status is "intact", "not_verified" (no key given) or the damage class
	// (datafiles.Damage: truncated, wrong_key, no_key...).
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// summaryTotal is the last line: how many files, devices and readings, and how many of each
// status.
type summaryTotal struct {
	Files    int            `json:"files"`
	Devices  int            `json:"devices"`
	First    *time.Time     `json:"first,omitempty"`
	Last     *time.Time     `json:"last,omitempty"`
	Readings int64          `json:"readings"` // of the files that could be counted
	Statuses map[string]int `json:"statuses"`
	counted  bool
}

// Statuses of a summary line besides the damage classes.
const (
	statusIntact      = "intact"
	statusNotVerified = "not_verified"
)

func newFileSummary(in datafiles.Inspection, withKey bool) fileSummary {
	l := fileSummary{File: in.Path, Status: statusIntact}
	if err := firstErr(in.Err, in.LayoutErr); err != nil {
		l.Status, l.Error = datafiles.Damage(err), err.Error()
	} else if !withKey {
		l.Status = statusNotVerified
	}
	if in.File.Err != nil {
		return l
	}
	l.Serial, l.Sequence = in.Header.Serial, in.Header.Sequence
	if s := in.Summary; s != nil {
		n := s.Records
		l.Readings = &n
		if n > 0 {
			first, last := time.UnixMilli(s.First).UTC(), time.UnixMilli(s.Last).UTC()
			l.First, l.Last = &first, &last
		}
	} else {
		start := in.Header.Start.UTC()
		l.First = &start
	}
	return l
}

func summarise(lines []fileSummary) summaryTotal {
	t := summaryTotal{Files: len(lines), Statuses: map[string]int{}}
	devices := map[string]bool{}
	for _, l := range lines {
		t.Statuses[l.Status]++
		if l.Serial != "" {
			devices[l.Serial] = true
		}
		if l.Readings != nil {
			t.Readings += *l.Readings
			t.counted = true
		}
		if l.First != nil && (t.First == nil || l.First.Before(*t.First)) {
			t.First = l.First
		}
		end := l.Last
		if end == nil {
			end = l.First
		}
		if end != nil && (t.Last == nil || end.After(*t.Last)) {
			t.Last = end
		}
	}
	t.Devices = len(devices)
	return t
}

// periodText prints a period compactly: the end's date only when it differs from the start's.
func periodText(first, last *time.Time) string {
	switch {
	case first == nil:
		return "-"
	case last == nil:
		return "from " + first.Format("2006-01-02 15:04")
	case first.Format("2006-01-02") == last.Format("2006-01-02"):
		return first.Format("2006-01-02 15:04") + " → " + last.Format("15:04")
	}
	return first.Format("2006-01-02 15:04") + " → " + last.Format("2006-01-02 15:04")
}

func statusText(st *ui.Styles, status string) string {
	words := strings.ReplaceAll(status, "_", " ")
	switch status {
	case statusIntact:
		return st.OK(words)
	case statusNotVerified:
		return st.Muted(words)
	}
	return st.Fail(words)
}

// totalText is the summary's last line: "720 files of 3 devices, ..., 718 intact, 2 truncated".
func totalText(t summaryTotal) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s of %s", ui.Plural(t.Files, "file"), ui.Plural(t.Devices, "device"))
	if t.First != nil {
		fmt.Fprintf(&b, ", %s", periodText(t.First, t.Last))
	}
	if t.counted {
		fmt.Fprintf(&b, ", %s", ui.Plural(t.Readings, "reading"))
	}
	b.WriteString(":")
	statuses := slices.Sorted(maps.Keys(t.Statuses))
	slices.SortStableFunc(statuses, func(a, b string) int { // intact first, then the most frequent
		if (a == statusIntact) != (b == statusIntact) {
			if a == statusIntact {
				return -1
			}
			return 1
		}
		return t.Statuses[b] - t.Statuses[a]
	})
	for i, s := range statuses {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, " %d %s", t.Statuses[s], strings.ReplaceAll(s, "_", " "))
	}
	return b.String()
}

// runInspectSummary inspects every file and prints one line each and a total: a folder of a
// month of hourly files reads at a glance.
func runInspectSummary(f *Factory, files []datafiles.File, keys aescodec.KeyLookup, format ui.Format) error {
	progress := f.IO.NewProgress("inspect", "file", int64(len(files)))
	lines := make([]fileSummary, 0, len(files))
	failed := 0
	for _, file := range files {
		l := newFileSummary(datafiles.Inspect(file, keys), keys != nil)
		if l.Status != statusIntact && l.Status != statusNotVerified {
			failed++
		}
		lines = append(lines, l)
		progress.Add(1)
	}
	progress.Done()
	total := summarise(lines)
	if format == ui.FormatJSON {
		if err := ui.WriteJSON(f.IO.Out, struct {
			Files []fileSummary `json:"files"`
			Total summaryTotal  `json:"total"`
		}{lines, total}); err != nil {
			return err
		}
	} else {
		st := f.IO.Styles()
		tbl := f.IO.NewTable("serial", "seq", "period", "readings", "status", "file")
		tbl.KeepWhole(0, 1, 3)
		for _, l := range lines {
			readings := "-"
			if l.Readings != nil {
				readings = strconv.FormatInt(*l.Readings, 10)
			}
			serial, seq := l.Serial, strconv.FormatUint(l.Sequence, 10)
			if serial == "" {
				serial, seq = "?", "-"
			}
			tbl.Row(serial, seq, periodText(l.First, l.Last), readings, statusText(st, l.Status), l.File)
		}
		if err := tbl.Render(); err != nil {
			return err
		}
		if _, err := fmt.Fprintln(f.IO.Out, totalText(total)); err != nil {
			return err
		}
	}
	if keys == nil && format == ui.FormatTable {
		fmt.Fprintf(f.IO.ErrOut, "chunks were not verified: %s\n", datafiles.KeyHint)
	}
	if failed > 0 {
		return silentExit(exitFailure)
	}
	return nil
}
