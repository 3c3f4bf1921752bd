package history

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/preflight"
)

func run(n int, site string) preflight.Report {
	r := preflight.Report{
		SchemaVersion: preflight.SchemaVersion,
		Site:          site,
		Serial:        "SX-00042",
		Generated:     time.Date(2026, 3, 24, 14, 0, n, 0, time.UTC),
		Run:           preflight.RunInfo{SmartxVersion: "1.4.0", Hostname: "laptop", OS: "linux/amd64"},
		Targets:       preflight.Targets{Host: "platform.test", HTTPSPort: 443},
		Local:         preflight.LocalNetwork{SourceIP: "192.0.2.23"},
		Results: []preflight.Result{{ID: "tcp-https", Title: "TCP", Group: "Reachability", Status: preflight.StatusFail,
			Summary: "connection refused", Duration: 1500 * time.Microsecond, DurationMS: 1.5}},
		Counts:     preflight.Counts{Fail: 1},
		Duration:   2 * time.Millisecond,
		DurationMS: 2,
	}
	return r
}

func TestSaveListLoad(t *testing.T) {
	s := Store{Dir: filepath.Join(t.TempDir(), "history")}
	if _, err := s.List(); err != nil {
		t.Fatalf("List of a store never written: %v", err)
	}
	if _, _, err := s.Latest(); !errors.Is(err, ErrEmpty) {
		t.Errorf("Latest of an empty store = %v, want ErrEmpty", err)
	}
	for i := 1; i <= 3; i++ {
		e, err := s.Save(run(i, "Site "+string(rune('A'+i-1))))
		if err != nil {
			t.Fatal(err)
		}
		if e.ID != i || !e.Failed || e.Serial != "SX-00042" || e.Hostname != "laptop" || e.SourceIP != "192.0.2.23" || e.Bytes == 0 {
			t.Errorf("entry %d = %+v", i, e)
		}
	}
	list, err := s.List()
	if err != nil || len(list) != 3 || list[0].ID != 3 || list[2].ID != 1 || list[0].Site != "Site C" {
		t.Fatalf("List = %+v, %v; want 3, 2, 1", list, err)
	}
	r, err := s.Load(2)
	if err != nil || r.Site != "Site B" || r.Results[0].Duration != 1500*time.Microsecond || r.Duration != 2*time.Millisecond {
		t.Errorf("Load(2) = %+v, %v", r, err)
	}
	if _, err := s.Load(9); !errors.Is(err, ErrNotFound) {
		t.Errorf("Load(9) = %v, want ErrNotFound", err)
	}
	if r, id, err := s.Latest(); err != nil || id != 3 || r.Site != "Site C" {
		t.Errorf("Latest = %d %q %v", id, r.Site, err)
	}
	if runtime.GOOS != "windows" {
		info, err := os.Stat(s.Dir)
		if err != nil || info.Mode().Perm() != 0o700 {
			t.Errorf("history folder mode = %v, %v; want 0700", info.Mode().Perm(), err)
		}
	}
}

func TestBoundedByCount(t *testing.T) {
	s := Store{Dir: t.TempDir(), MaxRuns: 3}
	for i := 1; i <= 5; i++ {
		if _, err := s.Save(run(i, "x")); err != nil {
			t.Fatal(err)
		}
	}
	list, _ := s.List()
	if len(list) != 3 || list[0].ID != 5 || list[2].ID != 3 {
		t.Errorf("kept %+v, want runs 5, 4, 3", list)
	}
	// Ids keep growing after old runs are dropped.
	if e, _ := s.Save(run(6, "x")); e.ID != 6 {
		t.Errorf("next id = %d, want 6", e.ID)
	}
}

func TestBoundedBySize(t *testing.T) {
	dir := t.TempDir()
	one, err := (Store{Dir: filepath.Join(dir, "probe")}).Save(run(1, "x"))
	if err != nil {
		t.Fatal(err)
	}
	s := Store{Dir: dir, MaxBytes: 2*one.Bytes + one.Bytes/2}
	for i := 1; i <= 4; i++ {
		if _, err := s.Save(run(i, "x")); err != nil {
			t.Fatal(err)
		}
	}
	list, _ := s.List()
	if len(list) != 2 || list[0].ID != 4 {
		t.Errorf("kept %+v, want the 2 newest", list)
	}
	// A bound smaller than one run still keeps the run just made.
	tiny := Store{Dir: t.TempDir(), MaxBytes: 10}
	for i := 1; i <= 2; i++ {
		if _, err := tiny.Save(run(i, "x")); err != nil {
			t.Fatal(err)
		}
	}
	if list, _ := tiny.List(); len(list) != 1 || list[0].ID != 2 {
		t.Errorf("tiny store kept %+v, want run 2 alone", list)
	}
}

func TestUnreadableFilesAreLeftOut(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	if _, err := s.Save(run(1, "good")); err != nil {
		t.Fatal(err)
	}
	// A run being written (reserved, still empty), a damaged one, one from a newer smartx,
	// and files that are not runs.
	for name, content := range map[string]string{
		"run-000002.json": "",
		"run-000003.json": "{not json",
		"run-000004.json": `{"schema_version": 99}`,
		"notes.txt":       "hello",
		"run-abc.json":    "{}",
	} {
		if err := os.WriteFile(filepath.Join(s.Dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.List()
	if err != nil || len(list) != 1 || list[0].Site != "good" {
		t.Errorf("List = %+v, %v", list, err)
	}
	if _, id, err := s.Latest(); err != nil || id != 1 {
		t.Errorf("Latest = %d, %v; want run 1", id, err)
	}
	if _, err := s.Load(4); err == nil || !strings.Contains(err.Error(), "upgrade smartx") {
		t.Errorf("Load of a newer run = %v", err)
	}
	// The next run takes an id after every file present.
	if e, err := s.Save(run(5, "next")); err != nil || e.ID != 5 {
		t.Errorf("Save after damaged files = %+v, %v", e, err)
	}
}
