package aescodec

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// addVectorSeeds seeds a fuzz target with every committed vector file.
func addVectorSeeds(f *testing.F) {
	files, err := filepath.Glob(filepath.Join(vectorDir, "*.sxd"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no vector files to seed from: %v", err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// knownDamage reports whether err is one of the documented outcomes of a
// damaged file, as opposed to a bug.
func knownDamage(err error) bool {
	for _, target := range []error{ErrNotDataFile, ErrUnsupportedVersion, ErrHeaderMalformed, ErrWrongKey,
		ErrHeaderTampered, ErrChunkCorrupt, ErrTruncated, ErrTrailingData, ErrPayloadMalformed} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

func FuzzReadHeader(f *testing.F) {
	addVectorSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ReadHeader(bytes.NewReader(data))
		if err != nil {
			if !knownDamage(err) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if h.Size > len(data) || h.ChunkSize < MinChunkSize || h.ChunkSize > MaxChunkSize {
			t.Fatalf("accepted header: size %d of %d bytes, chunk size %d", h.Size, len(data), h.ChunkSize)
		}
		// Whatever parses re-encodes to the same bytes (up to the MAC):
		// every field is read and none is ignored.
		fields, err := h.appendFields(nil)
		if err != nil {
			t.Fatalf("a parsed header does not re-encode: %v", err)
		}
		if !bytes.Equal(fields, data[:h.Size-MACSize]) {
			t.Fatalf("re-encoded header differs:\n got % x\nwant % x", fields, data[:h.Size-MACSize])
		}
	})
}

func FuzzReader(f *testing.F) {
	addVectorSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		rd, err := NewReader(bytes.NewReader(data), StaticKey(testKey))
		if err != nil {
			if !knownDamage(err) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		channels := len(rd.Header().Schema.Channels)
		for {
			r, err := rd.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				if !knownDamage(err) {
					t.Fatalf("unexpected error kind: %v", err)
				}
				return
			}
			if r.Channel < 0 || r.Channel >= channels {
				t.Fatalf("reading of channel %d in a %d-channel file", r.Channel, channels)
			}
		}
	})
}
