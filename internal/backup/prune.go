package backup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Policy is a retention rule: how many of the most recent hours, days, weeks (ISO weeks) and
// months that have backups keep one each (their newest). The newest backup is always kept.
// Periods are in UTC.
type Policy struct {
	Last, Hourly, Daily, Weekly, Monthly int
}

// ParsePolicy parses a rule like "daily=7,weekly=4"; the keys are last, hourly, daily, weekly
// and monthly.
func ParsePolicy(s string) (Policy, error) {
	var p Policy
	if strings.TrimSpace(s) == "" {
		return p, errors.New("empty retention rule: want for example daily=7,weekly=4")
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 0 {
			return Policy{}, fmt.Errorf("retention rule %q: want period=count pairs such as daily=7,weekly=4", s)
		}
		if seen[k] {
			return Policy{}, fmt.Errorf("retention rule %q: %s given twice", s, k)
		}
		seen[k] = true
		switch k {
		case "last":
			p.Last = n
		case "hourly":
			p.Hourly = n
		case "daily":
			p.Daily = n
		case "weekly":
			p.Weekly = n
		case "monthly":
			p.Monthly = n
		default:
			return Policy{}, fmt.Errorf("retention rule %q: unknown period %q (want last, hourly, daily, weekly or monthly)", s, k)
		}
	}
	return p, nil
}

// String formats the policy as ParsePolicy reads it.
func (p Policy) String() string {
	var parts []string
	for _, kv := range []struct {
		k string
		v int
	}{{"last", p.Last}, {"hourly", p.Hourly}, {"daily", p.Daily}, {"weekly", p.Weekly}, {"monthly", p.Monthly}} {
		if kv.v > 0 {
			parts = append(parts, kv.k+"="+strconv.Itoa(kv.v))
		}
	}
	return strings.Join(parts, ",")
}

// Plan splits backups into those the policy keeps and those it removes, each oldest first.
// It is a pure function of the backups' times.
func Plan(backups []Manifest, p Policy) (keep, remove []Manifest) {
	sorted := slices.Clone(backups)
	sortByTime(sorted)
	slices.Reverse(sorted) // newest first
	kept := make([]bool, len(sorted))
	if len(sorted) > 0 {
		kept[0] = true
	}
	for i := 0; i < len(sorted) && i < p.Last; i++ {
		kept[i] = true
	}
	for _, rule := range []struct {
		count  int
		period func(time.Time) string
	}{
		{p.Hourly, func(t time.Time) string { return t.Format("2006-01-02T15") }},
		{p.Daily, func(t time.Time) string { return t.Format("2006-01-02") }},
		{p.Weekly, func(t time.Time) string { y, w := t.ISOWeek(); return fmt.Sprintf("%d-W%02d", y, w) }},
		{p.Monthly, func(t time.Time) string { return t.Format("2006-01") }},
	} {
		seen := map[string]bool{}
		for i, m := range sorted {
			if len(seen) == rule.count {
				break
			}
			key := rule.period(m.CreatedAt.UTC())
			if !seen[key] { // the newest backup of its period
				seen[key] = true
				kept[i] = true
			}
		}
	}
	for i := len(sorted) - 1; i >= 0; i-- {
		if kept[i] {
			keep = append(keep, sorted[i])
		} else {
			remove = append(remove, sorted[i])
		}
	}
	return keep, remove
}

// Prune removes the backups of dir that the policy does not keep (file and manifest) and
// returns them.
func Prune(dir string, p Policy) ([]Manifest, error) {
	all, err := List(dir)
	if err != nil {
		return nil, err
	}
	_, remove := Plan(all, p)
	for i, m := range remove {
		path := filepath.Join(dir, m.File)
		// The backup file first: a manifest without its file is skipped by List.
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return remove[:i], fmt.Errorf("prune %s: %w", path, err)
		}
		if err := os.Remove(ManifestPath(path)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return remove[:i], fmt.Errorf("prune %s: %w", path, err)
		}
	}
	return remove, nil
}

func sortByTime(ms []Manifest) {
	slices.SortStableFunc(ms, func(a, b Manifest) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.File, b.File)
	})
}
