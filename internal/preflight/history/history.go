// Package history keeps the last preflight runs on the installer's laptop, so what the
// network looked like on the day can be shown and reported again later. Each run is kept as
// its JSON result document (preflight.Report, the -o json output, versioned by its
// schema_version), one file per run, in a folder bounded by count and by size: the oldest
// runs go first.
package history

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/smart-impulse/smartx/internal/preflight"
	"github.com/smart-impulse/smartx/internal/secretfile"
)

// Bounds of a store with no bounds of its own: a run is 5 to 20 KB.
const (
	DefaultMaxRuns  = 50
	DefaultMaxBytes = 5 << 20
	// MaxRunBytes bounds one run's document; a larger one is not kept.
	MaxRunBytes = 1 << 20
)

// ErrNotFound is returned by Load for an id the store does not hold.
var ErrNotFound = errors.New("no such run in the history")

// ErrEmpty is returned by Latest when the store holds no run.
var ErrEmpty = errors.New("no run in the history yet")

const (
	filePrefix = "run-"
	fileSuffix = ".json"
)

// Store is a folder of kept runs.
type Store struct {
	// Dir is the folder; it is created (owner-only) on the first Save.
	Dir string
	// MaxRuns and MaxBytes bound the folder; zero uses the defaults.
	MaxRuns  int
	MaxBytes int64
}

// Entry describes one kept run without its results.
type Entry struct {
	// ID numbers the run; ids only grow.
	ID int `json:"id"`
	// Generated is when the run was made.
	Generated time.Time `json:"generated"`
	// Site, Serial and Installer are the run's, when given.
	Site      string `json:"site,omitempty"`
	Serial    string `json:"serial,omitempty"`
	Installer string `json:"installer,omitempty"`
	// Hostname and SourceIP say from which laptop and address it ran.
	Hostname string `json:"hostname,omitempty"`
	SourceIP string `json:"source_ip,omitempty"`
	// Host is the platform tested.
	Host string `json:"host"`
	// Counts tallies the results; Failed is true when a check failed or could not run.
	Counts      preflight.Counts `json:"counts"`
	Failed      bool             `json:"failed"`
	Interrupted bool             `json:"interrupted,omitempty"`
	// Bytes is the size of the kept document.
	Bytes int64 `json:"bytes"`
}

func (s Store) maxRuns() int {
	if s.MaxRuns > 0 {
		return s.MaxRuns
	}
	return DefaultMaxRuns
}

func (s Store) maxBytes() int64 {
	if s.MaxBytes > 0 {
		return s.MaxBytes
	}
	return DefaultMaxBytes
}

func (s Store) path(id int) string {
	return filepath.Join(s.Dir, fmt.Sprintf("%s%06d%s", filePrefix, id, fileSuffix))
}

// ids returns the ids of the kept runs with their sizes, oldest first.
func (s Store) ids() ([]int, map[int]int64, error) {
	entries, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read the preflight history: %w", err)
	}
	var ids []int
	sizes := map[int]int64{}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasPrefix(name, filePrefix) || !strings.HasSuffix(name, fileSuffix) {
			continue
		}
		id, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(name, filePrefix), fileSuffix))
		if err != nil || id < 1 {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		ids = append(ids, id)
		sizes[id] = info.Size()
	}
	slices.Sort(ids)
	return ids, sizes, nil
}

// Save keeps a run and returns its entry, then drops the oldest runs beyond the bounds (never
// the one just kept).
func (s Store) Save(r preflight.Report) (Entry, error) {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return Entry{}, fmt.Errorf("keep the run: %w", err)
	}
	data = append(data, '\n')
	if len(data) > MaxRunBytes {
		return Entry{}, fmt.Errorf("keep the run: its document is %d bytes, more than the %d kept per run", len(data), MaxRunBytes)
	}
	// The runs say much of a site's network: owner-only, as the configuration beside them.
	if _, err := secretfile.PrivateDir(s.Dir); err != nil {
		return Entry{}, fmt.Errorf("keep the run: %w", err)
	}
	ids, _, err := s.ids()
	if err != nil {
		return Entry{}, err
	}
	next := 1
	if len(ids) > 0 {
		next = ids[len(ids)-1] + 1
	}
	// O_EXCL takes the id for this run alone: a concurrent run takes the next one. A crash
	// while writing leaves a damaged file, which List leaves out until it is pruned.
	for ; ; next++ {
		f, err := os.OpenFile(s.path(next), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return Entry{}, fmt.Errorf("keep the run: %w", err)
		}
		if err := writeAndClose(f, data); err != nil {
			os.Remove(f.Name())
			return Entry{}, fmt.Errorf("keep the run: %w", err)
		}
		break
	}
	if err := s.prune(next); err != nil {
		return Entry{}, err
	}
	return entryOf(next, r, int64(len(data))), nil
}

// writeAndClose writes data to f, syncs and closes it.
func writeAndClose(f *os.File, data []byte) error {
	_, err := f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// prune drops the oldest runs until the folder is within its bounds, keeping keep.
func (s Store) prune(keep int) error {
	ids, sizes, err := s.ids()
	if err != nil {
		return err
	}
	var total int64
	for _, id := range ids {
		total += sizes[id]
	}
	count := len(ids)
	for _, id := range ids {
		if count <= s.maxRuns() && total <= s.maxBytes() {
			break
		}
		if id == keep {
			continue
		}
		if err := os.Remove(s.path(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("drop an old run from the preflight history: %w", err)
		}
		total -= sizes[id]
		count--
	}
	return nil
}

// List returns the kept runs, newest first. A file that cannot be read as a run (being
// written, damaged by a crash) is left out.
func (s Store) List() ([]Entry, error) {
	ids, _, err := s.ids()
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, id := range slices.Backward(ids) {
		r, size, err := s.load(id)
		if err != nil {
			continue
		}
		out = append(out, entryOf(id, r, size))
	}
	return out, nil
}

// Load returns the run with the given id.
func (s Store) Load(id int) (preflight.Report, error) {
	r, _, err := s.load(id)
	return r, err
}

// Latest returns the newest complete run and its id.
func (s Store) Latest() (preflight.Report, int, error) {
	ids, _, err := s.ids()
	if err != nil {
		return preflight.Report{}, 0, err
	}
	for _, id := range slices.Backward(ids) {
		if r, _, err := s.load(id); err == nil {
			return r, id, nil
		}
	}
	return preflight.Report{}, 0, ErrEmpty
}

func (s Store) load(id int) (preflight.Report, int64, error) {
	data, err := os.ReadFile(s.path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return preflight.Report{}, 0, fmt.Errorf("run %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return preflight.Report{}, 0, fmt.Errorf("read run %d: %w", id, err)
	}
	r, err := preflight.ParseReport(data)
	if err != nil {
		return preflight.Report{}, 0, fmt.Errorf("run %d (%s): %w", id, s.path(id), err)
	}
	return r, int64(len(data)), nil
}

func entryOf(id int, r preflight.Report, size int64) Entry {
	return Entry{ID: id, Generated: r.Generated, Site: r.Site, Serial: r.Serial, Installer: r.Installer,
		Hostname: r.Run.Hostname, SourceIP: r.Local.SourceIP, Host: r.Targets.Host, Counts: r.Counts,
		Failed: r.Failed(false), Interrupted: r.Interrupted, Bytes: size}
}
