// Package backup takes online, consistent, encrypted backups of the server's database, checks
// them and restores them, and prunes old ones by a retention rule.
//
// A backup is two files side by side in a directory: the encrypted database copy
// (smartx-<kind>-<time>.sxbk) and its manifest (the same name + ".json"), which says when and
// from what it was taken and holds the SHA-256 and size of the encrypted file. The copy is a
// SQLite database made by VACUUM INTO, or a pg_dump archive in custom format; it is encrypted
// as it is written (AES-256-GCM in 64 KiB chunks, see stream.go) under a backup key the caller
// gives: derived from the master key (DeriveKey) or kept in a file of its own. A PostgreSQL
// dump never touches the disk in clear; a SQLite copy does, for the time it is encrypted, in a
// private temporary directory beside the backups.
//
// The package knows nothing of commands or flags; internal/commands calls Take, Verify,
// Restore and Prune.
package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Database kinds.
const (
	KindSQLite   = "sqlite"
	KindPostgres = "postgres"
)

// Extension is the extension of an encrypted backup file; its manifest adds ".json".
const Extension = ".sxbk"

// ManifestFormat names the manifest's format and version.
const ManifestFormat = "smartx-backup/1"

// Manifest describes one backup; it is written beside the encrypted file as JSON.
type Manifest struct {
	Format        string    `json:"format"`
	File          string    `json:"file"` // the encrypted file's name, in the manifest's directory
	CreatedAt     time.Time `json:"created_at"`
	Database      string    `json:"database"` // KindSQLite or KindPostgres
	SchemaVersion int       `json:"schema_version"`
	SmartxVersion string    `json:"smartx_version"`
	// Dump is the format of the decrypted content: "sqlite3" (a database file) or
	// "pg_dump-custom" (a pg_dump archive, for pg_restore).
	Dump     string `json:"dump"`
	Size     int64  `json:"size"`   // of the encrypted file, in bytes
	SHA256   string `json:"sha256"` // of the encrypted file, hex
	KeyID    string `json:"key_id"` // KeyID of the backup key
	Duration int64  `json:"duration_ms"`
}

// Source is a database to back up.
type Source interface {
	// Kind returns KindSQLite or KindPostgres.
	Kind() string
	// SchemaVersion returns the database's schema version.
	SchemaVersion(ctx context.Context) (int, error)
	// dump writes a consistent copy of the database to w; tmp is a private directory for
	// whatever it needs on disk.
	dump(ctx context.Context, w io.Writer, tmp string) (format string, err error)
}

// Options of Take.
type Options struct {
	// Dir receives the backup and its manifest; it is created (0700) if missing.
	Dir string
	// Key is the 32-byte backup key.
	Key []byte
	// SmartxVersion is recorded in the manifest.
	SmartxVersion string
	// Now is the clock; nil for time.Now.
	Now func() time.Time
}

// Take backs up src into opts.Dir and returns the manifest it wrote. The backup is written
// under a temporary name and renamed when complete, manifest last, so a backup that failed
// half way leaves nothing that List would take for a backup.
func Take(ctx context.Context, src Source, opts Options) (Manifest, error) {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	if err := checkKey(opts.Key); err != nil {
		return Manifest{}, fmt.Errorf("back up: %w", err)
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return Manifest{}, fmt.Errorf("back up: %w", err)
	}
	start := now().UTC().Truncate(time.Millisecond) // as the file's name says it
	version, err := src.SchemaVersion(ctx)
	if err != nil {
		return Manifest{}, fmt.Errorf("back up: read the schema version: %w", err)
	}
	m := Manifest{Format: ManifestFormat, CreatedAt: start, Database: src.Kind(), SchemaVersion: version,
		SmartxVersion: opts.SmartxVersion, KeyID: KeyID(opts.Key)}
	// smartx-sqlite-20261202T101500123Z.sxbk: sorts by time, one dot.
	m.File = fmt.Sprintf("smartx-%s-%s%03dZ%s", m.Database, start.Format("20060102T150405"), start.Nanosecond()/1e6, Extension)
	final := filepath.Join(opts.Dir, m.File)
	if _, err := os.Stat(final); err == nil {
		return Manifest{}, fmt.Errorf("back up: %s already exists", final)
	}

	tmp, err := os.MkdirTemp(opts.Dir, ".smartx-backup-")
	if err != nil {
		return Manifest{}, fmt.Errorf("back up: %w", err)
	}
	defer os.RemoveAll(tmp)
	partial := filepath.Join(tmp, m.File)
	f, err := os.OpenFile(partial, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return Manifest{}, fmt.Errorf("back up: %w", err)
	}
	defer f.Close()
	sum := sha256.New()
	counted := &countWriter{w: io.MultiWriter(f, sum)}
	enc, err := newEncryptWriter(counted, opts.Key)
	if err != nil {
		return Manifest{}, fmt.Errorf("back up: %w", err)
	}
	if m.Dump, err = src.dump(ctx, enc, tmp); err != nil {
		return Manifest{}, fmt.Errorf("back up the %s database: %w", m.Database, err)
	}
	if err := enc.Close(); err != nil {
		return Manifest{}, fmt.Errorf("back up: write %s: %w", partial, err)
	}
	if err := f.Sync(); err != nil {
		return Manifest{}, fmt.Errorf("back up: write %s: %w", partial, err)
	}
	if err := f.Close(); err != nil {
		return Manifest{}, fmt.Errorf("back up: write %s: %w", partial, err)
	}
	m.Size, m.SHA256 = counted.n, hex.EncodeToString(sum.Sum(nil))
	m.Duration = now().Sub(start).Milliseconds()
	if err := os.Rename(partial, final); err != nil {
		return Manifest{}, fmt.Errorf("back up: %w", err)
	}
	if err := writeManifest(opts.Dir, m); err != nil {
		os.Remove(final)
		return Manifest{}, err
	}
	return m, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ManifestPath returns the path of the manifest of a backup file.
func ManifestPath(backupFile string) string { return backupFile + ".json" }

func writeManifest(dir string, m Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	path := ManifestPath(filepath.Join(dir, m.File))
	tmp, err := os.CreateTemp(dir, ".smartx-manifest-*")
	if err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write manifest %s: %w", path, err)
	}
	return nil
}

// ReadManifest reads the manifest of a backup file (the file's path, or its manifest's).
func ReadManifest(path string) (Manifest, error) {
	path = strings.TrimSuffix(path, ".json")
	b, err := os.ReadFile(ManifestPath(path))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return Manifest{}, fmt.Errorf("no manifest beside %s (want %s): was the backup copied without it?", path, ManifestPath(path))
		}
		return Manifest{}, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return Manifest{}, fmt.Errorf("manifest %s: %w", ManifestPath(path), err)
	}
	if m.Format != ManifestFormat {
		return Manifest{}, fmt.Errorf("manifest %s: format %q, this smartx reads %q", ManifestPath(path), m.Format, ManifestFormat)
	}
	if m.File != filepath.Base(path) {
		return Manifest{}, fmt.Errorf("manifest %s describes %s, not %s", ManifestPath(path), m.File, filepath.Base(path))
	}
	return m, nil
}

// List returns the manifests of the backups in dir, oldest first. A manifest whose backup
// file is missing is skipped.
func List(dir string) ([]Manifest, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "smartx-*"+Extension+".json"))
	if err != nil {
		return nil, err
	}
	var out []Manifest
	for _, p := range matches {
		m, err := ReadManifest(p)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(filepath.Join(dir, m.File)); err != nil {
			continue
		}
		out = append(out, m)
	}
	sortByTime(out)
	return out, nil
}

// open opens a backup file for reading its plaintext: it checks the manifest's size, hashes
// what it reads, and checks the hash at the end (Close).
type opened struct {
	m    Manifest
	f    *os.File
	sum  hash.Hash
	read int64
	dec  *decryptReader
}

func openBackup(path string, key []byte) (*opened, error) {
	m, err := ReadManifest(path)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if fi.Size() != m.Size {
		f.Close()
		return nil, fmt.Errorf("%w: %s is %d bytes, its manifest says %d (truncated or replaced)", ErrCorrupt, path, fi.Size(), m.Size)
	}
	o := &opened{m: m, f: f, sum: sha256.New()}
	dec, err := newDecryptReader(io.TeeReader(f, o.sum), key)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	o.dec = dec
	return o, nil
}

// Read reads plaintext.
func (o *opened) Read(p []byte) (int, error) {
	n, err := o.dec.Read(p)
	o.read += int64(n)
	return n, err
}

// finish reads to the end (authenticating every chunk), checks the checksum and closes.
func (o *opened) finish() error {
	defer o.f.Close()
	if _, err := io.Copy(io.Discard, o.dec); err != nil {
		return err
	}
	if got := hex.EncodeToString(o.sum.Sum(nil)); got != o.m.SHA256 {
		return fmt.Errorf("%w: SHA-256 %s, its manifest says %s", ErrCorrupt, got, o.m.SHA256)
	}
	return nil
}
