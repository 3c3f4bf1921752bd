package device

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
	"sync"
	"time"

	"github.com/smart-impulse/smartx/internal/aescodec"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/errtext"
)

// The spool directory holds:
//
//	state.json          the durable state: next sequence number, where simulated time
//	                    resumes, the file being placed, the losses not yet reported
//	SERIAL-000042.sxd   data files waiting for upload, one per period
//	rejected/           files the platform refused (never retried, never deleted)
//	spool.lock          held (flock) while a simulator uses the spool
//	.tmp-*              a file being written; removed at start (a crash's leftover)
//
// A file is placed in four durable steps: (1) the data file is written to a temporary name and
// fsynced; (2) the state is saved with the next sequence number and the file marked in flight;
// (3) the file is renamed into place and the directory fsynced; (4) the state is saved again,
// the in-flight mark cleared, with the files dropped to keep the spool under its cap recorded
// as losses, and only then are those files deleted and the new file shown to the uploader.
// So after a crash at any point: a sequence number whose file may have been seen is never
// reused (it was saved before the file appeared); a file marked in flight that is not in the
// spool was never visible, hence never uploaded, so its period is generated again under the
// same sequence number (a new one would leave a gap the platform reports as a missing file,
// though no reading is missing); a recorded
// loss whose files still exist finishes its deletion. Deleting an uploaded file is not
// synced: if a crash undoes it, the file is sent again and the platform answers "duplicate".

const (
	stateFileName   = "state.json"
	lockFileName    = "spool.lock"
	rejectedDirName = "rejected"
	dataFileExt     = ".sxd"
	stateVersion    = 1
)

// Spool errors.
var (
	// ErrSpoolInUse: another simulator holds the spool directory.
	ErrSpoolInUse = errors.New("spool directory in use by another simulator")
	// ErrSpoolMismatch: the spool was created for another device or with other settings.
	ErrSpoolMismatch = errors.New("spool directory belongs to another simulation")
)

// Loss is a run of consecutive files dropped from a full spool, kept in the spool's state until
// the platform acknowledged its report: the wire type itself, so what is kept is what is sent.
type Loss = api.Loss

// spoolState is state.json.
type spoolState struct {
	Version         int          `json:"state_version"`
	Serial          string       `json:"serial"`
	KeyID           uint32       `json:"key_id"`
	Seed            uint64       `json:"seed"`
	Origin          time.Time    `json:"origin"` // start of the first period ever: the generator's start
	IntervalMS      int64        `json:"interval_ms"`
	PeriodMS        int64        `json:"period_ms"`
	NextSequence    uint64       `json:"next_sequence"`
	NextPeriodStart time.Time    `json:"next_period_start"`
	InFlight        *placingFile `json:"in_flight,omitempty"`
	Losses          []Loss       `json:"losses,omitempty"` // not yet acknowledged by the platform
}

// placingFile is the file between steps (2) and (4) of a placement.
type placingFile struct {
	Sequence uint64    `json:"sequence"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
}

// spoolFile is a data file waiting in the spool.
type spoolFile struct {
	Sequence uint64
	From, To time.Time
	Name     string
}

// spoolSettings are what a simulator asks of its spool; zero values take the spool's own (or
// the defaults for a new spool).
type spoolSettings struct {
	serial   string
	keyID    uint32
	seed     uint64 // 0: the spool's, else DefaultSeed(serial)
	interval time.Duration
	period   time.Duration
	start    time.Time // origin of a new spool
	maxFiles int
	firstSeq uint64 // the first file's sequence number in a new spool; 0: 1
}

// recovery says what opening the spool repaired, for the Resumed event.
type recovery struct {
	resumed       bool // the spool had a state
	tempRemoved   int  // leftover temporary files deleted
	rewound       bool // the file in flight was lost: its period is generated again
	dropFinished  int  // files of recorded losses deleted
	corruptMoved  int  // unreadable files moved to rejected/
	sequenceAhead bool // a file was ahead of the saved sequence (state restored from a backup?)
}

// spool is the directory of spooled files and the durable state. Its methods are safe for
// concurrent use by the generation loop and the uploader.
type spool struct {
	dir, rejectedDir string
	lock             *os.File
	maxFiles         int

	mu            sync.Mutex
	st            spoolState
	files         []spoolFile // by sequence
	inFlight      uint64      // sequence being uploaded, 0 for none (sequences start at 1)
	lossesSending int         // leading records of st.Losses being reported right now
}

// openSpool locks dir, removes temporary leftovers, loads or creates the state and repairs what
// a crash may have left half done.
func openSpool(dir string, set spoolSettings) (*spool, recovery, error) {
	var rec recovery
	s := &spool{dir: dir, rejectedDir: filepath.Join(dir, rejectedDirName), maxFiles: set.maxFiles}
	for _, d := range []string{dir, s.rejectedDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, rec, fmt.Errorf("create spool directory: %w", err)
		}
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockFileName), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, rec, fmt.Errorf("lock spool directory: %w", err)
	}
	if err := lockFile(lock); err != nil {
		lock.Close()
		if errors.Is(err, ErrSpoolInUse) {
			return nil, rec, fmt.Errorf("%w: %s: stop the other simulator or use another --spool", ErrSpoolInUse, dir)
		}
		return nil, rec, fmt.Errorf("lock spool directory %s: %w", dir, err)
	}
	s.lock = lock
	if err := s.recover(set, &rec); err != nil {
		s.close()
		return nil, rec, err
	}
	return s, rec, nil
}

func (s *spool) close() {
	if s.lock != nil {
		s.lock.Close() // releases the flock
		s.lock = nil
	}
}

func (s *spool) recover(set spoolSettings, rec *recovery) error {
	for _, d := range []string{s.dir, s.rejectedDir} {
		n, err := removeTempFiles(d)
		rec.tempRemoved += n
		if err != nil {
			return err
		}
	}
	data, err := os.ReadFile(filepath.Join(s.dir, stateFileName))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.st = newSpoolState(set)
	case err != nil:
		return fmt.Errorf("read spool state: %w", err)
	default:
		rec.resumed = true
		if err := s.loadState(data, set); err != nil {
			return err
		}
	}
	names, err := s.dataFileNames(set.serial)
	if err != nil {
		return err
	}
	if !rec.resumed && len(names) > 0 {
		return fmt.Errorf("%w: %s holds data files but no %s: use an empty directory for a new simulation", ErrSpoolMismatch, s.dir, stateFileName)
	}
	if err := s.scan(names, rec); err != nil {
		return err
	}
	if f := s.st.InFlight; f != nil {
		if !slices.ContainsFunc(s.files, func(sf spoolFile) bool { return sf.Sequence == f.Sequence }) {
			// Steps (2)-(3) were interrupted: the file never appeared, so nobody has its
			// readings nor saw its number. Generate its period again under that number.
			if f.From.Before(s.st.NextPeriodStart) {
				s.st.NextPeriodStart = f.From
			}
			if f.Sequence < s.st.NextSequence {
				s.st.NextSequence = f.Sequence
			}
			rec.rewound = true
		}
		s.st.InFlight = nil
	}
	_, err = s.dropOverCapLocked()
	return err
}

func newSpoolState(set spoolSettings) spoolState {
	seed := set.seed
	if seed == 0 {
		seed = DefaultSeed(set.serial)
	}
	interval := cmpOr(set.interval, DefaultInterval)
	period := cmpOr(set.period, DefaultFilePeriod)
	return spoolState{
		Version: stateVersion, Serial: set.serial, KeyID: set.keyID, Seed: seed,
		Origin: set.start.UTC(), IntervalMS: interval.Milliseconds(), PeriodMS: period.Milliseconds(),
		NextSequence: max(1, set.firstSeq), NextPeriodStart: set.start.UTC(),
	}
}

func (s *spool) loadState(data []byte, set spoolSettings) error {
	var st spoolState
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("spool state %s is damaged (%s): move the spool directory aside and start a new one", filepath.Join(s.dir, stateFileName), errtext.Of(err))
	}
	mismatch := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrSpoolMismatch, s.dir, fmt.Sprintf(format, args...))
	}
	switch {
	case st.Version != stateVersion:
		return mismatch("state version %d is not %d: it was written by another smartx version", st.Version, stateVersion)
	case st.Serial != set.serial:
		return mismatch("it holds the files of %s, the bundle is for %s: use another --spool", st.Serial, set.serial)
	case set.seed != 0 && set.seed != st.Seed:
		return mismatch("it was started with seed %d, not %d: drop the seed option or use another --spool", st.Seed, set.seed)
	case set.interval != 0 && set.interval.Milliseconds() != st.IntervalMS:
		return mismatch("it samples every %v, not %v: drop the interval option or use another --spool", time.Duration(st.IntervalMS)*time.Millisecond, set.interval)
	case set.period != 0 && set.period.Milliseconds() != st.PeriodMS:
		return mismatch("it writes a file every %v, not %v: drop the period option or use another --spool", time.Duration(st.PeriodMS)*time.Millisecond, set.period)
	case st.NextSequence == 0 || st.IntervalMS <= 0 || st.PeriodMS <= 0 || st.Origin.IsZero() || st.NextPeriodStart.Before(st.Origin):
		return fmt.Errorf("spool state %s is inconsistent: move the spool directory aside and start a new one", filepath.Join(s.dir, stateFileName))
	}
	st.KeyID = set.keyID // a new bundle may carry a rotated key: new files use it
	s.st = st
	return nil
}

// scan indexes the data files, finishing interrupted drops and setting aside unreadable files.
func (s *spool) scan(names []string, rec *recovery) error {
	period := s.period()
	for _, name := range names {
		seq := sequenceOfName(name)
		if s.inRecordedLoss(seq) {
			if err := os.Remove(filepath.Join(s.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("finish dropping %s: %w", name, err)
			}
			rec.dropFinished++
			continue
		}
		h, err := readHeaderOf(filepath.Join(s.dir, name))
		if err != nil || h.Sequence != seq || h.Serial != s.st.Serial {
			if err := s.moveToRejected(name); err != nil {
				return err
			}
			rec.corruptMoved++
			continue
		}
		s.files = append(s.files, spoolFile{Sequence: seq, From: h.Start, To: h.Start.Add(period), Name: name})
		if seq >= s.st.NextSequence {
			s.st.NextSequence = seq + 1
			rec.sequenceAhead = true
		}
	}
	slices.SortFunc(s.files, func(a, b spoolFile) int { return cmpUint(a.Sequence, b.Sequence) })
	return nil
}

func readHeaderOf(path string) (aescodec.Header, error) {
	f, err := os.Open(path)
	if err != nil {
		return aescodec.Header{}, err
	}
	defer f.Close()
	return aescodec.ReadHeader(f)
}

func (s *spool) inRecordedLoss(seq uint64) bool {
	for _, l := range s.st.Losses {
		if seq >= l.FirstSequence && seq <= l.LastSequence {
			return true
		}
	}
	return false
}

// dataFileNames lists the data files of serial in the spool, in no particular order.
func (s *spool) dataFileNames(serial string) ([]string, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("read spool directory: %w", err)
	}
	prefix := fileSerial(serial) + "-"
	var names []string
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasSuffix(name, dataFileExt) {
			continue
		}
		if !strings.HasPrefix(name, prefix) {
			return nil, fmt.Errorf("%w: %s holds %s, a file of another device: use another --spool", ErrSpoolMismatch, s.dir, name)
		}
		if sequenceOfName(name) == 0 {
			continue
		}
		names = append(names, name)
	}
	return names, nil
}

// fileName is the spool name of a data file: SERIAL-000042.sxd, with characters that are not
// safe in file names replaced.
func fileName(serial string, seq uint64) string {
	return fmt.Sprintf("%s-%06d%s", fileSerial(serial), seq, dataFileExt)
}

func fileSerial(serial string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, serial)
}

// sequenceOfName returns the sequence in a data file name, 0 when it has none.
func sequenceOfName(name string) uint64 {
	base := strings.TrimSuffix(name, dataFileExt)
	i := strings.LastIndexByte(base, '-')
	if i < 0 {
		return 0
	}
	n, err := strconv.ParseUint(base[i+1:], 10, 64)
	if err != nil {
		return 0
	}
	return n
}

func removeTempFiles(dir string) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("read spool directory: %w", err)
	}
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempPrefix) && e.Type().IsRegular() {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return n, fmt.Errorf("remove leftover temporary file: %w", err)
			}
			n++
		}
	}
	return n, nil
}

func (s *spool) period() time.Duration   { return time.Duration(s.st.PeriodMS) * time.Millisecond }
func (s *spool) interval() time.Duration { return time.Duration(s.st.IntervalMS) * time.Millisecond }

// snapshot returns a copy of the durable state.
func (s *spool) snapshot() spoolState {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.Losses = slices.Clone(st.Losses)
	return st
}

// counts returns the files waiting and the loss records not yet reported.
func (s *spool) counts() (files, losses int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.files), len(s.st.Losses)
}

// saveLocked writes state.json durably; s.mu is held.
func (s *spool) saveLocked() error {
	data, err := json.MarshalIndent(&s.st, "", "  ")
	if err != nil {
		return fmt.Errorf("save spool state: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(s.dir, stateFileName), append(data, '\n')); err != nil {
		return fmt.Errorf("save spool state: %w", err)
	}
	return nil
}

// createTemp opens a temporary file in the spool for the data file of seq.
func (s *spool) createTemp(seq uint64) (*os.File, error) {
	f, err := os.CreateTemp(s.dir, tempPrefix+fileName(s.st.Serial, seq)+"-*")
	if err != nil {
		return nil, fmt.Errorf("create data file: %w", err)
	}
	return f, nil
}

// place makes the fsynced temporary file tmp the data file f (steps 2 to 4) and returns the
// files dropped to stay under the cap.
func (s *spool) place(tmp string, f spoolFile) ([]Loss, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.NextSequence = f.Sequence + 1
	s.st.NextPeriodStart = f.To
	s.st.InFlight = &placingFile{Sequence: f.Sequence, From: f.From, To: f.To}
	if err := s.saveLocked(); err != nil {
		os.Remove(tmp)
		return nil, err
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, f.Name)); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("place data file %s: %w", f.Name, err)
	}
	if err := syncDir(s.dir); err != nil {
		return nil, err
	}
	s.st.InFlight = nil
	s.files = append(s.files, f)
	return s.dropOverCapLocked()
}

// dropOverCapLocked drops the oldest files beyond the cap (never the one being uploaded),
// records the loss, saves the state (always: it is step 4 of a placement) and only then
// deletes the files. It returns one Loss per dropped file. s.mu is held.
func (s *spool) dropOverCapLocked() ([]Loss, error) {
	var victims []spoolFile
	excess := len(s.files) - s.maxFiles
	for _, f := range s.files {
		if excess <= 0 {
			break
		}
		if f.Sequence == s.inFlight {
			continue
		}
		victims = append(victims, f)
		excess--
	}
	var dropped []Loss
	for _, f := range victims {
		s.recordLossLocked(f)
		dropped = append(dropped, Loss{FirstSequence: f.Sequence, LastSequence: f.Sequence, From: f.From, To: f.To, Files: 1, Reason: api.LossReasonSpoolFull})
	}
	if err := s.saveLocked(); err != nil {
		return nil, err
	}
	for _, f := range victims {
		if err := os.Remove(filepath.Join(s.dir, f.Name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return dropped, fmt.Errorf("drop %s from the full spool: %w", f.Name, err)
		}
		s.files = slices.DeleteFunc(s.files, func(x spoolFile) bool { return x.Sequence == f.Sequence })
	}
	return dropped, nil
}

// recordLossLocked adds f to the last loss record when it directly follows it and that record
// is not being reported right now, else starts a new record.
func (s *spool) recordLossLocked(f spoolFile) {
	if n := len(s.st.Losses); n > s.lossesSending {
		last := &s.st.Losses[n-1]
		if f.Sequence == last.LastSequence+1 && f.From.Equal(last.To) {
			last.LastSequence, last.To = f.Sequence, f.To
			last.Files++
			return
		}
	}
	s.st.Losses = append(s.st.Losses, Loss{
		FirstSequence: f.Sequence, LastSequence: f.Sequence, From: f.From.UTC(), To: f.To.UTC(), Files: 1, Reason: api.LossReasonSpoolFull,
	})
}

// next returns the oldest file and marks it in flight; false when the spool is empty.
func (s *spool) next() (spoolFile, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.files) == 0 {
		return spoolFile{}, false
	}
	s.inFlight = s.files[0].Sequence
	return s.files[0], true
}

// release clears the in-flight mark after a failed upload.
func (s *spool) release() {
	s.mu.Lock()
	s.inFlight = 0
	s.mu.Unlock()
}

// acknowledged deletes a file the platform has.
func (s *spool) acknowledged(f spoolFile) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inFlight = 0
	s.files = slices.DeleteFunc(s.files, func(x spoolFile) bool { return x.Sequence == f.Sequence })
	if err := os.Remove(filepath.Join(s.dir, f.Name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete uploaded file %s: %w", f.Name, err)
	}
	return nil
}

// reject moves a file the platform refused to rejected/.
func (s *spool) reject(f spoolFile) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inFlight = 0
	s.files = slices.DeleteFunc(s.files, func(x spoolFile) bool { return x.Sequence == f.Sequence })
	return s.moveToRejected(f.Name)
}

// forget removes a file that disappeared from the spool behind our back.
func (s *spool) forget(f spoolFile) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inFlight = 0
	s.files = slices.DeleteFunc(s.files, func(x spoolFile) bool { return x.Sequence == f.Sequence })
}

func (s *spool) moveToRejected(name string) error {
	if err := os.Rename(filepath.Join(s.dir, name), filepath.Join(s.rejectedDir, name)); err != nil {
		return fmt.Errorf("move %s to %s: %w", name, s.rejectedDir, err)
	}
	if err := syncDir(s.rejectedDir); err != nil {
		return err
	}
	return syncDir(s.dir)
}

// lossesToSend returns the loss records to report and marks them being sent.
func (s *spool) lossesToSend() []Loss {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lossesSending = len(s.st.Losses)
	return slices.Clone(s.st.Losses)
}

// lossesSent ends a report of the first n records: acknowledged ones leave the state.
func (s *spool) lossesSent(n int, acknowledged bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lossesSending = 0
	if !acknowledged || n == 0 {
		return nil
	}
	s.st.Losses = slices.Delete(s.st.Losses, 0, min(n, len(s.st.Losses)))
	return s.saveLocked()
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpOr[T comparable](v, fallback T) T {
	var zero T
	if v == zero {
		return fallback
	}
	return v
}
