// Package datafiles works on sets of device data files as support engineers receive them: it
// finds the files under folders, orders them by device and sequence, inspects them, and decodes
// them with filters into a readings export. It knows nothing of terminals.
package datafiles

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/smart-impulse/smartx/internal/aescodec"
)

// Extension is the file extension devices give their data files; folders are searched for it.
const Extension = ".sxd"

// File is one data file found on disk, with its header when it could be read.
type File struct {
	// Path is where the file is.
	Path string
	// Size is its size in bytes.
	Size int64
	// Header is the plaintext header (valid when Err is nil).
	Header aescodec.Header
	// Err says why the header could not be read (not a data file, truncated, unsupported...).
	Err error
}

// Find returns the data files named by paths: files are taken as given, folders are searched
// recursively for *.sxd files. The result is ordered by device serial, then file sequence, then
// path, so a device's files decode in the order they were written; files whose header cannot
// be read come last, with their error. A path that does not exist is an error.
func Find(paths []string) ([]File, error) {
	var files []File
	seen := map[string]bool{}
	add := func(path string, size int64) {
		if seen[path] {
			return
		}
		seen[path] = true
		files = append(files, readHeader(path, size))
	}
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, unwrapPathError(err))
		}
		if !info.IsDir() {
			add(p, info.Size())
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !strings.EqualFold(filepath.Ext(path), Extension) {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			if info.Mode().IsRegular() {
				add(path, info.Size())
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("search %s: %w", p, err)
		}
	}
	slices.SortStableFunc(files, func(a, b File) int {
		if (a.Err == nil) != (b.Err == nil) {
			if a.Err == nil {
				return -1
			}
			return 1
		}
		return cmp.Or(
			cmp.Compare(a.Header.Serial, b.Header.Serial),
			cmp.Compare(a.Header.Sequence, b.Header.Sequence),
			cmp.Compare(a.Path, b.Path),
		)
	})
	return files, nil
}

func readHeader(path string, size int64) File {
	f := File{Path: path, Size: size}
	fh, err := os.Open(path)
	if err != nil {
		f.Err = unwrapPathError(err)
		return f
	}
	defer fh.Close()
	f.Header, f.Err = aescodec.ReadHeader(fh)
	return f
}

// unwrapPathError drops the "open PATH:" prefix the caller already prints.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// open returns a reader of the file's contents.
func open(f File) (io.ReadCloser, error) {
	fh, err := os.Open(f.Path)
	if err != nil {
		return nil, unwrapPathError(err)
	}
	return fh, nil
}
