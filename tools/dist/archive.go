package main

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"time"
)

// entry is one file of an archive: from a path on disk or from data.
type entry struct {
	name string // inside the archive's top folder, with / separators
	path string
	data []byte
	mode fs.FileMode
}

func (e entry) open() (io.ReadCloser, int64, error) {
	if e.path == "" {
		return io.NopCloser(strings.NewReader(string(e.data))), int64(len(e.data)), nil
	}
	f, err := os.Open(e.path)
	if err != nil {
		return nil, 0, err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, info.Size(), nil
}

// sorted returns the entries by name: the same inputs give the same archive bytes.
func sorted(entries []entry) []entry {
	out := slices.Clone(entries)
	slices.SortFunc(out, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	return out
}

// writeTarGz packs entries under top/ in a gzip'd tar, with fixed times and owners.
func writeTarGz(file, top string, entries []entry, mtime time.Time) error {
	return writeAtomically(file, func(w io.Writer) error {
		gz, err := gzip.NewWriterLevel(w, gzip.BestCompression)
		if err != nil {
			return err
		}
		gz.ModTime = mtime
		tw := tar.NewWriter(gz)
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: top + "/", Mode: 0o755, ModTime: mtime, Format: tar.FormatPAX}); err != nil {
			return err
		}
		dirs := map[string]bool{}
		for _, e := range sorted(entries) {
			if dir := path.Dir(e.name); dir != "." && !dirs[dir] {
				for _, d := range parents(dir) {
					if !dirs[d] {
						dirs[d] = true
						if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: top + "/" + d + "/", Mode: 0o755, ModTime: mtime, Format: tar.FormatPAX}); err != nil {
							return err
						}
					}
				}
			}
			rc, size, err := e.open()
			if err != nil {
				return err
			}
			err = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: top + "/" + e.name, Mode: int64(e.mode), Size: size, ModTime: mtime, Format: tar.FormatPAX})
			if err == nil {
				_, err = io.Copy(tw, rc)
			}
			rc.Close()
			if err != nil {
				return err
			}
		}
		if err := tw.Close(); err != nil {
			return err
		}
		return gz.Close()
	})
}

// parents returns a/b/c as a, a/b, a/b/c.
func parents(dir string) []string {
	var out []string
	parts := strings.Split(dir, "/")
	for i := range parts {
		out = append(out, strings.Join(parts[:i+1], "/"))
	}
	return out
}

// writeZip packs entries under top/ in a zip, for Windows.
func writeZip(file, top string, entries []entry, mtime time.Time) error {
	return writeAtomically(file, func(w io.Writer) error {
		zw := zip.NewWriter(w)
		for _, e := range sorted(entries) {
			h := &zip.FileHeader{Name: top + "/" + e.name, Method: zip.Deflate, Modified: mtime}
			h.SetMode(e.mode)
			fw, err := zw.CreateHeader(h)
			if err != nil {
				return err
			}
			rc, _, err := e.open()
			if err != nil {
				return err
			}
			_, err = io.Copy(fw, rc)
			rc.Close()
			if err != nil {
				return err
			}
		}
		return zw.Close()
	})
}

// writeAtomically writes file through a temporary file renamed at the end.
func writeAtomically(file string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(path.Dir(strings.ReplaceAll(file, "\\", "/")), ".dist-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil { // CreateTemp's 0600 is for secrets; a release is public
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}
