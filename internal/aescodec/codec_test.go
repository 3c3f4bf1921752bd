package aescodec

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/smart-impulse/smartx/internal/readings"
)

var (
	testKey  = mustKey("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
	otherKey = mustKey("1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100")
	created  = time.Date(2025, 3, 3, 10, 0, 0, 0, time.UTC)
)

func mustKey(s string) []byte {
	k, err := ParseKey(s)
	if err != nil {
		panic(err)
	}
	return k
}

// seededRand is a reproducible byte stream (SHA-256 in counter mode) for
// salts of test files.
type seededRand struct {
	seed    string
	counter uint64
	pending []byte
}

func (s *seededRand) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(s.pending) == 0 {
			sum := sha256.Sum256(fmt.Appendf(nil, "%s/%d", s.seed, s.counter))
			s.counter++
			s.pending = sum[:]
		}
		k := copy(p[n:], s.pending)
		s.pending = s.pending[k:]
		n += k
	}
	return n, nil
}

func testHeader(schema readings.Schema) Header {
	return Header{Serial: "SX-00042", KeyID: 3, Sequence: 17, Created: created, Schema: schema}
}

func generator(t testing.TB, cfg readings.GeneratorConfig) *readings.Generator {
	t.Helper()
	g, err := readings.NewGenerator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// writeFile encrypts rs into a data file with a salt derived from seed.
func writeFile(t testing.TB, h Header, rs []readings.Reading, seed string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, testKey, h, WithRand(&seededRand{seed: seed}))
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	for _, r := range rs {
		if err := w.Write(r); err != nil {
			t.Fatalf("Write(%+v): %v", r, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return buf.Bytes()
}

// readFile decodes a whole file and returns its header, readings and the
// error that ended it (nil at a clean end).
func readFile(r io.Reader, keys KeyLookup) (Header, []readings.Reading, error) {
	rd, err := NewReader(r, keys)
	if err != nil {
		return Header{}, nil, err
	}
	var out []readings.Reading
	for {
		x, err := rd.Next()
		if err == io.EOF {
			return rd.Header(), out, nil
		}
		if err != nil {
			return rd.Header(), out, err
		}
		out = append(out, x)
	}
}

func TestRoundTrip(t *testing.T) {
	g := generator(t, readings.GeneratorConfig{Seed: 3, Duration: 12 * time.Hour, Gaps: true})
	all := slices.Collect(g.All())
	tests := []struct {
		name      string
		chunkSize int
		readings  []readings.Reading
	}{
		{"no reading", 0, nil},
		{"one reading", 0, all[:1]},
		{"half a day in one chunk", 0, all},
		{"half a day in 1 KiB chunks", MinChunkSize, all},
		{"half a day in 1 MiB chunks", MaxChunkSize, all},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := testHeader(g.Schema())
			h.ChunkSize = tt.chunkSize
			file := writeFile(t, h, tt.readings, tt.name)
			for _, src := range []struct {
				name string
				r    io.Reader
			}{
				{"whole", bytes.NewReader(file)},
				{"one byte at a time", iotest.OneByteReader(bytes.NewReader(file))},
				{"half reads", iotest.HalfReader(bytes.NewReader(file))},
			} {
				hdr, got, err := readFile(src.r, StaticKey(testKey))
				if err != nil {
					t.Fatalf("%s: %v", src.name, err)
				}
				if !slices.Equal(got, tt.readings) {
					t.Fatalf("%s: got %d readings, want %d", src.name, len(got), len(tt.readings))
				}
				if hdr.Serial != "SX-00042" || hdr.KeyID != 3 || hdr.Sequence != 17 || !hdr.Created.Equal(created) {
					t.Fatalf("%s: header %+v", src.name, hdr)
				}
			}
		})
	}
}

func TestHeaderFields(t *testing.T) {
	schema := readings.Schema{
		Channels: []readings.Channel{{Name: "main", Unit: "W"}, {Name: "tension é", Unit: "V", Resolution: -1}, {Name: "gas", Unit: "m³", Resolution: -3}},
		Interval: 10 * time.Second,
	}
	h := testHeader(schema)
	h.ChunkSize = 4096
	h.Start = time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)
	h.Extensions = []Extension{{Type: 0x42, Data: []byte("future field")}, {Type: 7}}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, testKey, h, WithRand(&seededRand{seed: "fields"}))
	if err != nil {
		t.Fatal(err)
	}
	if buf.Len() == 0 {
		t.Fatal("a known Start should write the header at once")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := ReadHeader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	want := w.Header()
	if want.Size != got.Size || got.Size != buf.Len()-FrameSize-TagSize {
		t.Errorf("header size %d, writer says %d, file has %d bytes", got.Size, want.Size, buf.Len())
	}
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Errorf("ReadHeader = %+v\nwant %+v", got, want)
	}
	if !got.CheckKey(testKey) || got.CheckKey(otherKey) {
		t.Error("CheckKey does not recognise the key")
	}
}

func TestWriterDefaults(t *testing.T) {
	g := generator(t, readings.GeneratorConfig{Seed: 1, Duration: time.Hour})
	clock := func() time.Time { return time.Date(2025, 6, 1, 12, 0, 0, 123_456_789, time.UTC) }
	h := Header{Serial: "SX-1", Schema: g.Schema()}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, testKey, h, WithClock(clock), WithRand(&seededRand{seed: "defaults"}))
	if err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Error("the header should wait for the first reading when Start is zero")
	}
	first := readings.Reading{Time: g.Start() + 500, Channel: 0, Value: 1}
	if err := w.Write(first); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := w.Header()
	if got.ChunkSize != DefaultChunkSize || got.Created != time.Date(2025, 6, 1, 12, 0, 0, 123_000_000, time.UTC) || got.Start.UnixMilli() != first.Time {
		t.Errorf("defaults: chunk size %d created %v start %v", got.ChunkSize, got.Created, got.Start)
	}
	// Without any reading the base time is the creation time.
	buf.Reset()
	w, err = NewWriter(&buf, testKey, h, WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !w.Header().Start.Equal(w.Header().Created) {
		t.Errorf("empty file start %v, want the creation time %v", w.Header().Start, w.Header().Created)
	}
	if err := w.Write(first); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestWriterIsDeterministicWithFixedRandomness(t *testing.T) {
	g := generator(t, readings.GeneratorConfig{Seed: 1, Duration: time.Hour})
	rs := slices.Collect(g.All())
	a := writeFile(t, testHeader(g.Schema()), rs, "same")
	b := writeFile(t, testHeader(g.Schema()), rs, "same")
	c := writeFile(t, testHeader(g.Schema()), rs, "other")
	if !bytes.Equal(a, b) {
		t.Error("same salt gives different files")
	}
	if bytes.Equal(a[200:], c[200:]) {
		t.Error("different salts give the same ciphertext")
	}
}

func TestWriterRejects(t *testing.T) {
	schema := readings.Schema{Channels: []readings.Channel{{Name: "main", Unit: "W"}}, Interval: time.Minute}
	tests := []struct {
		name   string
		key    []byte
		header func(*Header)
	}{
		{"short key", testKey[:16], nil},
		{"empty serial", testKey, func(h *Header) { h.Serial = "" }},
		{"serial with a space", testKey, func(h *Header) { h.Serial = "SX 42" }},
		{"long serial", testKey, func(h *Header) { h.Serial = strings.Repeat("S", MaxSerialLen+1) }},
		{"no channel", testKey, func(h *Header) { h.Schema = readings.Schema{} }},
		{"chunk size too small", testKey, func(h *Header) { h.ChunkSize = MinChunkSize - 1 }},
		{"chunk size too large", testKey, func(h *Header) { h.ChunkSize = MaxChunkSize + 1 }},
		{"extension too large", testKey, func(h *Header) { h.Extensions = []Extension{{Data: make([]byte, 70_000)}} }},
		{"header too large", testKey, func(h *Header) {
			h.Extensions = []Extension{{Data: make([]byte, 40_000)}, {Data: make([]byte, 40_000)}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := testHeader(schema)
			h.Start = created
			if tt.header != nil {
				tt.header(&h)
			}
			var buf bytes.Buffer
			if _, err := NewWriter(&buf, tt.key, h); err == nil {
				t.Fatal("NewWriter accepted it")
			}
			if buf.Len() != 0 {
				t.Fatal("a rejected writer wrote bytes")
			}
		})
	}
}

func TestWriterRejectsBadReadings(t *testing.T) {
	schema := readings.Schema{Channels: []readings.Channel{{Name: "main", Unit: "W"}}, Interval: time.Minute}
	h := testHeader(schema)
	h.Start = created
	var buf bytes.Buffer
	w, err := NewWriter(&buf, testKey, h)
	if err != nil {
		t.Fatal(err)
	}
	at := created.UnixMilli()
	if err := w.Write(readings.Reading{Time: at - 1}); !errors.Is(err, readings.ErrOutOfOrder) {
		t.Errorf("reading before Start: %v, want ErrOutOfOrder", err)
	}
	if err := w.Write(readings.Reading{Time: at, Channel: 1}); !errors.Is(err, readings.ErrUnknownChannel) {
		t.Errorf("unknown channel: %v, want ErrUnknownChannel", err)
	}
	if err := w.Write(readings.Reading{Time: at, Value: 5}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_, got, err := readFile(bytes.NewReader(buf.Bytes()), StaticKey(testKey))
	if err != nil || len(got) != 1 {
		t.Fatalf("after rejected readings the file holds %v, %v", got, err)
	}
}

type failingWriter struct{ after int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.after < len(p) {
		return 0, errors.New("disk full")
	}
	f.after -= len(p)
	return len(p), nil
}

func TestWriterIOErrorIsFinal(t *testing.T) {
	g := generator(t, readings.GeneratorConfig{Seed: 1, Duration: 6 * time.Hour})
	h := testHeader(g.Schema())
	h.ChunkSize = MinChunkSize
	w, err := NewWriter(&failingWriter{after: 1000}, testKey, h)
	if err != nil {
		t.Fatal(err)
	}
	var writeErr error
	for r := range g.All() {
		if writeErr = w.Write(r); writeErr != nil {
			break
		}
	}
	if writeErr == nil || !strings.Contains(writeErr.Error(), "disk full") {
		t.Fatalf("Write = %v, want the disk error", writeErr)
	}
	if err := w.Write(readings.Reading{Time: g.End()}); err != writeErr {
		t.Errorf("next Write = %v, want the same error", err)
	}
	if err := w.Close(); err != writeErr {
		t.Errorf("Close = %v, want the same error", err)
	}
}

type keyMap map[string][]byte

func (m keyMap) DeviceKey(serial string, keyID uint32) ([]byte, error) {
	if k, ok := m[fmt.Sprintf("%s/%d", serial, keyID)]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("%w: %s key id %d is not provisioned", ErrKeyNotFound, serial, keyID)
}

func TestKeyErrors(t *testing.T) {
	g := generator(t, readings.GeneratorConfig{Seed: 1, Duration: time.Hour})
	file := writeFile(t, testHeader(g.Schema()), slices.Collect(g.All()), "keys")
	tests := []struct {
		name  string
		keys  KeyLookup
		wrong bool  // errors.Is(err, ErrWrongKey)
		cause error // also matched, when set
	}{
		{"wrong key", StaticKey(otherKey), true, nil},
		{"key of another key id", keyMap{"SX-00042/3": otherKey}, true, nil},
		{"unknown device", keyMap{"SX-00043/3": testKey}, false, ErrKeyNotFound},
		{"no key lookup", nil, false, ErrKeyNotFound},
		{"short static key", StaticKey(testKey[:31]), false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewReader(bytes.NewReader(file), tt.keys)
			var ke *KeyError
			if !errors.As(err, &ke) || ke.Serial != "SX-00042" || ke.KeyID != 3 {
				t.Fatalf("NewReader = %v, want a *KeyError for SX-00042 key id 3", err)
			}
			if errors.Is(err, ErrWrongKey) != tt.wrong {
				t.Fatalf("errors.Is(%v, ErrWrongKey) = %v, want %v", err, !tt.wrong, tt.wrong)
			}
			if tt.cause != nil && !errors.Is(err, tt.cause) {
				t.Fatalf("NewReader = %v, want %v", err, tt.cause)
			}
		})
	}
	if _, err := NewReader(bytes.NewReader(file), keyMap{"SX-00042/3": testKey}); err != nil {
		t.Fatalf("with the right key from a lookup: %v", err)
	}
	_, err := NewReader(bytes.NewReader(file), StaticKey(otherKey))
	if want := "wrong key for SX-00042: the file uses key id 3"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("message %q does not start with %q", err, want)
	}
}

func TestPayloadStream(t *testing.T) {
	g := generator(t, readings.GeneratorConfig{Seed: 2, Duration: 6 * time.Hour})
	rs := slices.Collect(g.All())
	h := testHeader(g.Schema())
	h.ChunkSize = MinChunkSize
	file := writeFile(t, h, rs, "payload")
	var want bytes.Buffer
	enc := readings.NewRecordEncoder(&want, 7, rs[0].Time)
	for _, r := range rs {
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
	}
	for _, via := range []string{"Read", "WriteTo"} {
		t.Run(via, func(t *testing.T) {
			rd, err := NewReader(bytes.NewReader(file), StaticKey(testKey))
			if err != nil {
				t.Fatal(err)
			}
			var got []byte
			if via == "Read" {
				got, err = io.ReadAll(iotest.OneByteReader(rd.Payload()))
			} else {
				var buf bytes.Buffer
				_, err = rd.Payload().(io.WriterTo).WriteTo(&buf)
				got = buf.Bytes()
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("payload %d bytes differs from the %d encoded bytes", len(got), want.Len())
			}
			if n := (len(got) + MinChunkSize - 1) / MinChunkSize; rd.Chunks() != int64(n) {
				t.Errorf("Chunks() = %d, want %d", rd.Chunks(), n)
			}
		})
	}
}

func TestAllIterator(t *testing.T) {
	g := generator(t, readings.GeneratorConfig{Seed: 2, Duration: time.Hour})
	rs := slices.Collect(g.All())
	file := writeFile(t, testHeader(g.Schema()), rs, "iter")
	rd, err := NewReader(bytes.NewReader(file), StaticKey(testKey))
	if err != nil {
		t.Fatal(err)
	}
	var got []readings.Reading
	for r, err := range rd.All() {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if !slices.Equal(got, rs) {
		t.Fatalf("All gave %d readings, want %d", len(got), len(rs))
	}
	// An error is yielded once, then iteration stops.
	rd, err = NewReader(bytes.NewReader(file[:len(file)-10]), StaticKey(testKey))
	if err != nil {
		t.Fatal(err)
	}
	var errs []error
	for _, err := range rd.All() {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) != 1 || !errors.Is(errs[0], ErrTruncated) {
		t.Fatalf("errors %v, want one ErrTruncated", errs)
	}
}

func TestReadHeaderReadsOnlyTheHeader(t *testing.T) {
	g := generator(t, readings.GeneratorConfig{Seed: 2, Duration: time.Hour})
	file := writeFile(t, testHeader(g.Schema()), slices.Collect(g.All()), "only")
	r := bytes.NewReader(file)
	h, err := ReadHeader(r)
	if err != nil {
		t.Fatal(err)
	}
	if rest := r.Len(); rest != len(file)-h.Size {
		t.Errorf("ReadHeader left %d bytes, want %d", rest, len(file)-h.Size)
	}
}

type errorReader struct {
	data []byte
	err  error
}

func (e *errorReader) Read(p []byte) (int, error) {
	if len(e.data) == 0 {
		return 0, e.err
	}
	n := copy(p, e.data)
	e.data = e.data[n:]
	return n, nil
}

func TestReaderPassesIOErrorsThrough(t *testing.T) {
	g := generator(t, readings.GeneratorConfig{Seed: 2, Duration: 6 * time.Hour})
	h := testHeader(g.Schema())
	h.ChunkSize = MinChunkSize
	file := writeFile(t, h, slices.Collect(g.All()), "io")
	boom := errors.New("usb stick unplugged")
	for _, cut := range []int{5, 100, 3000} {
		t.Run(fmt.Sprintf("failing at byte %d", cut), func(t *testing.T) {
			_, _, err := readFile(&errorReader{data: file[:cut], err: boom}, StaticKey(testKey))
			if !errors.Is(err, boom) {
				t.Fatalf("got %v, want the read error", err)
			}
			if errors.Is(err, ErrTruncated) || errors.Is(err, ErrChunkCorrupt) {
				t.Fatalf("a read error is reported as damage: %v", err)
			}
		})
	}
}

func TestReaderReset(t *testing.T) {
	g := generator(t, readings.GeneratorConfig{Seed: 5, Duration: 2 * time.Hour})
	rs := slices.Collect(g.All())
	big := writeFile(t, testHeader(g.Schema()), rs, "reset big")
	small := writeFile(t, exampleHeader(), exampleReadings(), "reset small")
	rd := &Reader{}
	for i, step := range []struct {
		file []byte
		want []readings.Reading
		err  error
	}{
		{big, rs, nil},
		{small[:100], nil, ErrTruncated},
		{small, exampleReadings(), nil},
		{big[:len(big)-1], rs, ErrTruncated},
		{big, rs, nil},
	} {
		// Stop the previous file half-way so buffered state must be dropped.
		if err := rd.Reset(bytes.NewReader(step.file), StaticKey(testKey)); err != nil {
			if !errors.Is(err, step.err) {
				t.Fatalf("step %d: Reset = %v, want %v", i, err, step.err)
			}
			if _, err := rd.Next(); !errors.Is(err, step.err) {
				t.Fatalf("step %d: Next after a failed Reset = %v, want %v", i, err, step.err)
			}
			continue
		}
		var got []readings.Reading
		var err error
		for {
			var r readings.Reading
			if r, err = rd.Next(); err != nil {
				break
			}
			got = append(got, r)
		}
		if step.err == nil && err != io.EOF || step.err != nil && !errors.Is(err, step.err) {
			t.Fatalf("step %d: ended with %v, want %v", i, err, step.err)
		}
		if step.err == nil && !slices.Equal(got, step.want) {
			t.Fatalf("step %d: %d readings, want %d", i, len(got), len(step.want))
		}
	}
}

// TestExtensionAreaLeftovers: the extensions fill their area exactly. One or two bytes left at
// its end are too few for an extension's type and length, and an extension whose length runs
// past the area is cut: both are header_malformed (docs/file-format.md, section 3).
func TestExtensionAreaLeftovers(t *testing.T) {
	h := exampleHeader()
	h.ChunkSize = DefaultChunkSize
	fields, err := h.appendFields(nil)
	if err != nil {
		t.Fatal(err)
	}
	extLenAt := len(fields) - SaltSize - KeyCheckSize - 2
	for _, area := range [][]byte{{0x42}, {0x42, 0x00}, {0x42, 0x00, 0x01}, {0x42, 0x00, 0x00, 0x07}} {
		hdr := binary.BigEndian.AppendUint16(bytes.Clone(fields[:extLenAt]), uint16(len(area)))
		hdr = append(hdr, area...)
		hdr = append(hdr, fields[extLenAt+2:]...)
		hdr = append(hdr, make([]byte, MACSize)...)
		binary.BigEndian.PutUint16(hdr[len(Magic)+1:], uint16(len(hdr)))
		_, err := ReadHeader(bytes.NewReader(hdr))
		var he *HeaderError
		if !errors.Is(err, ErrHeaderMalformed) || !errors.As(err, &he) || he.Offset != extLenAt {
			t.Errorf("extension area % x: %v, want header_malformed at byte %d", area, err, extLenAt)
		}
	}
}
