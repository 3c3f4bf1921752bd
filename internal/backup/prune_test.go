package backup

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParsePolicy(t *testing.T) {
	tests := []struct {
		in   string
		want Policy
		err  string
	}{
		{"daily=7,weekly=4", Policy{Daily: 7, Weekly: 4}, ""},
		{" last=2, hourly=24 ,monthly=12", Policy{Last: 2, Hourly: 24, Monthly: 12}, ""},
		{"daily=0", Policy{}, ""},
		{"", Policy{}, "empty retention rule"},
		{"daily", Policy{}, "period=count"},
		{"daily=-1", Policy{}, "period=count"},
		{"daily=x", Policy{}, "period=count"},
		{"yearly=2", Policy{}, `unknown period "yearly"`},
		{"daily=7,daily=3", Policy{}, "daily given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePolicy(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParsePolicy(%q) = %+v, %v; want an error with %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParsePolicy(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
			if again, _ := ParsePolicy(got.String()); got.String() != "" && again != got {
				t.Fatalf("String() %q does not parse back", got.String())
			}
		})
	}
}

// backupsAt makes manifests at the given times (RFC 3339, UTC).
func backupsAt(times ...string) []Manifest {
	var out []Manifest
	for _, s := range times {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			panic(err)
		}
		out = append(out, Manifest{File: s, CreatedAt: tm})
	}
	return out
}

func names(ms []Manifest) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m.File)
	}
	return out
}

func TestPlan(t *testing.T) {
	// Two a day at 02:00 and 14:00 from Monday 2026-11-02 to Wednesday 2026-12-02.
	var daily []string
	for d := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC); !d.After(time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)); d = d.AddDate(0, 0, 1) {
		daily = append(daily, d.Add(2*time.Hour).Format(time.RFC3339), d.Add(14*time.Hour).Format(time.RFC3339))
	}
	tests := []struct {
		name    string
		backups []Manifest
		policy  Policy
		keep    []string
	}{
		{"nothing to prune", nil, Policy{Daily: 7}, []string{}},
		{"the newest is always kept", backupsAt("2026-12-01T10:00:00Z", "2026-12-02T10:00:00Z"), Policy{}, []string{"2026-12-02T10:00:00Z"}},
		{"last keeps the newest n", backupsAt("2026-12-01T10:00:00Z", "2026-12-01T11:00:00Z", "2026-12-01T12:00:00Z"), Policy{Last: 2},
			[]string{"2026-12-01T11:00:00Z", "2026-12-01T12:00:00Z"}},
		{"daily keeps each day's newest", backupsAt(daily...), Policy{Daily: 3},
			[]string{"2026-11-30T14:00:00Z", "2026-12-01T14:00:00Z", "2026-12-02T14:00:00Z"}},
		{"weekly keeps each ISO week's newest", backupsAt(daily...), Policy{Weekly: 3},
			// Weeks 47 (ends Sunday 22nd), 48 (29th), 49 (Wednesday 2nd, the newest).
			[]string{"2026-11-22T14:00:00Z", "2026-11-29T14:00:00Z", "2026-12-02T14:00:00Z"}},
		{"daily and weekly together", backupsAt(daily...), Policy{Daily: 2, Weekly: 2},
			[]string{"2026-11-29T14:00:00Z", "2026-12-01T14:00:00Z", "2026-12-02T14:00:00Z"}},
		{"monthly", backupsAt(daily...), Policy{Monthly: 5}, []string{"2026-11-30T14:00:00Z", "2026-12-02T14:00:00Z"}},
		{"hourly counts hours that have backups, not clock hours", backupsAt("2026-12-01T01:10:00Z", "2026-12-01T01:50:00Z", "2026-12-01T05:00:00Z"),
			Policy{Hourly: 2}, []string{"2026-12-01T01:50:00Z", "2026-12-01T05:00:00Z"}},
		{"periods are UTC", []Manifest{{File: "late", CreatedAt: time.Date(2026, 12, 1, 23, 30, 0, 0, time.FixedZone("", -2*3600))},
			{File: "early", CreatedAt: time.Date(2026, 12, 2, 0, 30, 0, 0, time.UTC)}}, Policy{Daily: 1}, []string{"late"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keep, remove := Plan(tt.backups, tt.policy)
			if got := names(keep); !slices.Equal(got, tt.keep) {
				t.Fatalf("kept %v, want %v", got, tt.keep)
			}
			if len(keep)+len(remove) != len(tt.backups) {
				t.Fatalf("kept %d and removed %d of %d", len(keep), len(remove), len(tt.backups))
			}
		})
	}
}

func TestPrune(t *testing.T) {
	dir := t.TempDir()
	for _, m := range backupsAt("2026-11-30T02:00:00Z", "2026-12-01T02:00:00Z", "2026-12-01T14:00:00Z", "2026-12-02T02:00:00Z") {
		m.Format, m.File = ManifestFormat, "smartx-sqlite-"+m.CreatedAt.Format("20060102T150405")+"000Z"+Extension
		if err := os.WriteFile(filepath.Join(dir, m.File), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := writeManifest(dir, m); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := Prune(dir, Policy{Daily: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(removed); !slices.Equal(got, []string{"smartx-sqlite-20261130T020000000Z.sxbk", "smartx-sqlite-20261201T020000000Z.sxbk"}) {
		t.Fatalf("removed %v", got)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(left) != 4 { // two backups and their manifests
		t.Fatalf("left %v", left)
	}
}
