// Package timeexpr parses the time expressions users type for --from and --to: RFC 3339 times,
// dates, and times relative to now such as -7d.
package timeexpr

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrSyntax is wrapped by every parse error.
var ErrSyntax = errors.New("invalid time")

// Help describes the accepted forms, for flag usage and error messages.
const Help = `RFC 3339 (2026-11-20T08:00:00Z), a date (2026-11-20), a local date and time (2026-11-20T08:00), "now", "today", "yesterday", or relative to now (-7d, -12h, -30m, -2w)`

// Parse reads s relative to now. Dates and times without a zone are taken in loc (UTC when nil).
func Parse(s string, now time.Time, loc *time.Location) (time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	in := strings.TrimSpace(s)
	switch strings.ToLower(in) {
	case "":
		return time.Time{}, fmt.Errorf("%w: empty: use %s", ErrSyntax, Help)
	case "now":
		return now, nil
	case "today":
		return midnight(now.In(loc)), nil
	case "yesterday":
		return midnight(now.In(loc)).AddDate(0, 0, -1), nil
	}
	if in[0] == '-' || in[0] == '+' {
		d, err := parseRelative(in)
		if err != nil {
			return time.Time{}, err
		}
		return now.Add(d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, in); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, in, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w %q: use %s", ErrSyntax, s, Help)
}

func midnight(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}

// ErrDuration is wrapped by every ParseDuration error.
var ErrDuration = errors.New("invalid duration")

// ParseDuration reads an unsigned amount with a unit, as users write lengths of time on the
// command line: s, m, h, d (24 h) or w (7 d), several terms allowed (1d12h, 90m, 30d).
func ParseDuration(s string) (time.Duration, error) {
	in := strings.TrimSpace(s)
	if in == "" || in[0] == '-' || in[0] == '+' {
		return 0, fmt.Errorf("%w %q: write an amount and a unit (s, m, h, d, w), e.g. 30d or 1h30m", ErrDuration, s)
	}
	d, err := parseRelative("+" + in)
	if err != nil {
		return 0, fmt.Errorf("%w %q: write an amount and a unit (s, m, h, d, w), e.g. 30d or 1h30m", ErrDuration, s)
	}
	return d, nil
}

// parseRelative reads a signed count with a unit: s, m, h, d (24 h) or w (7 d). Several terms
// may follow each other (-1d12h).
func parseRelative(s string) (time.Duration, error) {
	sign := time.Duration(1)
	if s[0] == '-' {
		sign = -1
	}
	rest := s[1:]
	if rest == "" {
		return 0, fmt.Errorf("%w %q: a sign needs an amount, e.g. -7d", ErrSyntax, s)
	}
	var total time.Duration
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 || i == len(rest) {
			return 0, fmt.Errorf("%w %q: write an amount and a unit (s, m, h, d, w), e.g. -7d", ErrSyntax, s)
		}
		n, err := strconv.ParseInt(rest[:i], 10, 64)
		if err != nil || n > 1e6 {
			return 0, fmt.Errorf("%w %q: amount out of range", ErrSyntax, s)
		}
		var unit time.Duration
		switch rest[i] {
		case 's':
			unit = time.Second
		case 'm':
			unit = time.Minute
		case 'h':
			unit = time.Hour
		case 'd':
			unit = 24 * time.Hour
		case 'w':
			unit = 7 * 24 * time.Hour
		default:
			return 0, fmt.Errorf("%w %q: unknown unit %q: use s, m, h, d or w", ErrSyntax, s, rest[i])
		}
		total += time.Duration(n) * unit
		if total > 100*365*24*time.Hour {
			return 0, fmt.Errorf("%w %q: more than a century away", ErrSyntax, s)
		}
		rest = rest[i+1:]
	}
	return sign * total, nil
}
