package aescodec

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"io"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/readings"
)

// benchData is one month of one-minute readings (a typical device file):
// the file, its plaintext payload and its reading count.
type benchData struct {
	file, payload []byte
	readings      int
	schema        readings.Schema
}

func newBenchData(b *testing.B) benchData {
	b.Helper()
	g := generator(b, readings.GeneratorConfig{Seed: 1, Start: created, Duration: 30 * 24 * time.Hour, Gaps: true})
	rs := slices.Collect(g.All())
	file := writeFile(b, testHeader(g.Schema()), rs, "bench")
	rd, err := NewReader(bytes.NewReader(file), StaticKey(testKey))
	if err != nil {
		b.Fatal(err)
	}
	payload, err := io.ReadAll(rd.Payload())
	if err != nil {
		b.Fatal(err)
	}
	return benchData{file: file, payload: payload, readings: len(rs), schema: g.Schema()}
}

// BenchmarkRawGCM is the ceiling: AES-256-GCM alone over the same payload in
// 64 KiB chunks, no framing, no I/O.
func BenchmarkRawGCM(b *testing.B) {
	d := newBenchData(b)
	block, err := aes.NewCipher(make([]byte, 32))
	if err != nil {
		b.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		b.Fatal(err)
	}
	aad := d.file[:200]
	var chunks [][]byte
	for p := d.payload; len(p) > 0; {
		n := min(len(p), DefaultChunkSize)
		chunks = append(chunks, p[:n])
		p = p[n:]
	}
	buf := make([]byte, DefaultChunkSize+TagSize)
	b.Run("seal", func(b *testing.B) {
		b.SetBytes(int64(len(d.payload)))
		for b.Loop() {
			for i, c := range chunks {
				nonce := chunkNonce(uint64(i), i == len(chunks)-1)
				aead.Seal(buf[:0], nonce[:], c, aad)
			}
		}
	})
	sealed := make([][]byte, len(chunks))
	for i, c := range chunks {
		nonce := chunkNonce(uint64(i), i == len(chunks)-1)
		sealed[i] = aead.Seal(nil, nonce[:], c, aad)
	}
	b.Run("open", func(b *testing.B) {
		b.SetBytes(int64(len(d.payload)))
		for b.Loop() {
			for i, c := range sealed {
				nonce := chunkNonce(uint64(i), i == len(sealed)-1)
				if _, err := aead.Open(buf[:0], nonce[:], c, aad); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// BenchmarkDecryptVerify reads a whole file from memory, as the platform
// ingests files: header checks, key derivation, reading each chunk into the
// Reader's reused buffer and opening it in place. Compare with
// BenchmarkRawGCM/open.
func BenchmarkDecryptVerify(b *testing.B) {
	d := newBenchData(b)
	b.SetBytes(int64(len(d.payload)))
	src := bytes.NewReader(d.file)
	rd := &Reader{}
	for b.Loop() {
		src.Reset(d.file)
		if err := rd.Reset(src, StaticKey(testKey)); err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, rd.Payload()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeCSV is what `smartx decode` does: decrypt, decode the
// records and format "time_ms,channel,value" lines.
func BenchmarkDecodeCSV(b *testing.B) {
	d := newBenchData(b)
	b.SetBytes(int64(len(d.file)))
	src := bytes.NewReader(d.file)
	line := make([]byte, 0, 64<<10)
	for b.Loop() {
		src.Reset(d.file)
		rd, err := NewReader(src, StaticKey(testKey))
		if err != nil {
			b.Fatal(err)
		}
		channels := rd.Header().Schema.Channels
		for {
			r, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			c := &channels[r.Channel]
			line = strconv.AppendInt(line, r.Time, 10)
			line = append(line, ',')
			line = append(line, c.Name...)
			line = append(line, ',')
			line = readings.AppendValue(line, r.Value, c.Resolution)
			line = append(line, '\n')
			if len(line) > 60<<10 {
				io.Discard.Write(line)
				line = line[:0]
			}
		}
		io.Discard.Write(line)
		line = line[:0]
	}
	b.ReportMetric(float64(d.readings)*float64(b.N)/b.Elapsed().Seconds(), "readings/s")
}

// BenchmarkEncrypt is the device side: readings in, encrypted file out.
func BenchmarkEncrypt(b *testing.B) {
	g := generator(b, readings.GeneratorConfig{Seed: 1, Start: created, Duration: 30 * 24 * time.Hour})
	rs := slices.Collect(g.All())
	h := testHeader(g.Schema())
	var out bytes.Buffer
	for b.Loop() {
		out.Reset()
		w, err := NewWriter(&out, testKey, h)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range rs {
			if err := w.Write(r); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(out.Len()))
	b.ReportMetric(float64(len(rs))*float64(b.N)/b.Elapsed().Seconds(), "readings/s")
}
