package aescodec

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/readings"
)

var update = flag.Bool("update", false, "rewrite golden files and test vectors")

const vectorDir = "testdata/vectors"

// vector is one entry of testdata/vectors/vectors.json.
type vector struct {
	File   string `json:"file"`
	Key    string `json:"key"`
	Expect string `json:"expect"`
	Note   string `json:"note"`

	// Good files: what an independent decoder must find.
	Serial         string `json:"serial,omitempty"`
	KeyID          *int64 `json:"key_id,omitempty"`
	Chunks         *int64 `json:"chunks,omitempty"`
	PayloadBytes   *int64 `json:"payload_bytes,omitempty"`
	PayloadSHA256  string `json:"payload_sha256,omitempty"`
	Readings       *int64 `json:"readings,omitempty"`
	ReadingsSHA256 string `json:"readings_sha256,omitempty"`
	CSV            string `json:"csv,omitempty"`

	// Damaged files: where the damage is found (see TruncatedError,
	// ChunkError, TrailingDataError).
	Chunk  *int64 `json:"chunk,omitempty"`
	Offset *int64 `json:"offset,omitempty"`
}

func ptr(v int64) *int64 { return &v }

// errorName maps an error to its name in vectors.json (and in
// docs/file-format.md).
func errorName(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrNotDataFile):
		return "not_data_file"
	case errors.Is(err, ErrUnsupportedVersion):
		return "unsupported_version"
	case errors.Is(err, ErrHeaderMalformed):
		return "header_malformed"
	case errors.Is(err, ErrWrongKey):
		return "wrong_key"
	case errors.Is(err, ErrHeaderTampered):
		return "header_tampered"
	case errors.Is(err, ErrChunkCorrupt):
		return "chunk_corrupt"
	case errors.Is(err, ErrTruncated):
		return "truncated"
	case errors.Is(err, ErrTrailingData):
		return "trailing_data"
	case errors.Is(err, ErrPayloadMalformed):
		return "payload_malformed"
	default:
		return "other: " + err.Error()
	}
}

// canonicalReadings is the text the readings_sha256 of a vector hashes and
// its csv file holds: one "time_ms,channel_index,value" line per reading.
func canonicalReadings(rs []readings.Reading) []byte {
	var b []byte
	for _, r := range rs {
		b = fmt.Appendf(b, "%d,%d,%d\n", r.Time, r.Channel, r.Value)
	}
	return b
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// exampleSchema and exampleReadings make the worked example of
// docs/file-format.md.
func exampleSchema() readings.Schema {
	return readings.Schema{
		Channels: []readings.Channel{{Name: "main", Unit: "W"}, {Name: "voltage", Unit: "V", Resolution: -1}},
		Interval: time.Minute,
	}
}

func exampleReadings() []readings.Reading {
	t0 := created.UnixMilli()
	return []readings.Reading{
		{Time: t0, Channel: 0, Value: 12500},
		{Time: t0, Channel: 1, Value: 2301},
		{Time: t0 + 60_000, Channel: 0, Value: 12680},
		{Time: t0 + 60_000, Channel: 1, Value: 2298},
	}
}

func exampleHeader() Header {
	h := testHeader(exampleSchema())
	h.Sequence = 1
	h.Start = created
	return h
}

// exactPayload returns generated readings (with a few padding readings on
// the voltage channel) whose records take exactly size bytes from base g.Start().
func exactPayload(t testing.TB, g *readings.Generator, size int) []readings.Reading {
	t.Helper()
	enc := readings.NewRecordEncoder(io.Discard, len(g.Schema().Channels), g.Start())
	var rs []readings.Reading
	var scratch []byte
	used := 0
	lastVoltage := int64(0)
	for r := range g.All() {
		rec, err := enc.AppendRecord(scratch[:0], r)
		if err != nil {
			t.Fatal(err)
		}
		// Stop while at least 6 bytes remain: any such rest is a sum of
		// 3- and 4-byte padding records.
		if size-used-len(rec) < 6 {
			break
		}
		used += len(rec)
		rs = append(rs, r)
		if r.Channel == readings.GenVoltage {
			lastVoltage = r.Value
		}
	}
	rest := size - used
	last := rs[len(rs)-1].Time
	var fours int
	switch rest % 3 {
	case 1:
		fours = 1
	case 2:
		fours = 2
	}
	// A 3-byte record: time delta 0, channel, value delta ±1 (zigzag 1 or
	// 2); a 4-byte one: value delta +64 (zigzag 128) then -65 (129).
	up := true
	for i := 0; i < fours; i++ {
		if up {
			lastVoltage += 64
		} else {
			lastVoltage -= 65
		}
		up = !up
		rs = append(rs, readings.Reading{Time: last, Channel: readings.GenVoltage, Value: lastVoltage})
	}
	for range (rest - 4*fours) / 3 {
		lastVoltage++
		rs = append(rs, readings.Reading{Time: last, Channel: readings.GenVoltage, Value: lastVoltage})
	}
	if got := len(encodeRecords(t, len(g.Schema().Channels), g.Start(), rs)); got != size {
		t.Fatalf("padded payload has %d bytes, want %d", got, size)
	}
	return rs
}

func encodeRecords(t testing.TB, channels int, base int64, rs []readings.Reading) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := readings.NewRecordEncoder(&buf, channels, base)
	for _, r := range rs {
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// craftedChunk is one chunk of a hand-made file: its plaintext, the flag its
// nonce uses and the flag its frame shows (a correct writer sets both alike).
type craftedChunk struct {
	plain      []byte
	sealFinal  bool
	frameFinal bool
}

// craftFile builds a file chunk by chunk, for damage a Writer cannot make.
// h must carry its salt, chunk size and start.
func craftFile(t testing.TB, h Header, key []byte, chunks []craftedChunk) []byte {
	t.Helper()
	h.KeyCheck = keyCheck(key, h.KeyID)
	payloadKey, macKey, err := fileKeys(key, h.Salt)
	if err != nil {
		t.Fatal(err)
	}
	fields, err := h.appendFields(nil)
	if err != nil {
		t.Fatal(err)
	}
	aad := append(fields, headerMAC(macKey, fields)...)
	block, err := aes.NewCipher(payloadKey)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	out := bytes.Clone(aad)
	for i, c := range chunks {
		frame := uint32(len(c.plain))
		if c.frameFinal {
			frame |= finalFlag
		}
		out = binary.BigEndian.AppendUint32(out, frame)
		nonce := chunkNonce(uint64(i), c.sealFinal)
		out = aead.Seal(out, nonce[:], c.plain, aad)
	}
	return out
}

// splitChunks cuts a payload into chunks the way the Writer does.
func splitChunks(payload []byte, size int) []craftedChunk {
	var out []craftedChunk
	for len(payload) > size {
		out = append(out, craftedChunk{plain: payload[:size]})
		payload = payload[size:]
	}
	return append(out, craftedChunk{plain: payload, sealFinal: true, frameFinal: true})
}

// span is the byte range of one chunk (frame, ciphertext, tag) in a file.
type span struct{ start, end int }

// chunkSpans locates the chunks of an intact file.
func chunkSpans(t testing.TB, file []byte) (headerSize int, spans []span) {
	t.Helper()
	h, err := ReadHeader(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	off := h.Size
	for off < len(file) {
		v := binary.BigEndian.Uint32(file[off:])
		end := off + FrameSize + int(v&^finalFlag) + TagSize
		spans = append(spans, span{off, end})
		off = end
		if v&finalFlag != 0 {
			break
		}
	}
	return h.Size, spans
}

// spliceChunks rebuilds file with the chunks in the given order.
func spliceChunks(t testing.TB, file []byte, order ...int) []byte {
	t.Helper()
	size, spans := chunkSpans(t, file)
	out := bytes.Clone(file[:size])
	for _, i := range order {
		out = append(out, file[spans[i].start:spans[i].end]...)
	}
	return out
}

func flip(file []byte, at int, mask byte) []byte {
	out := bytes.Clone(file)
	out[at] ^= mask
	return out
}

// vectorFile is a generated vector: its spec and bytes (nil when the spec
// reuses another vector's file).
type vectorFile struct {
	spec  vector
	bytes []byte
	csv   []byte
}

// buildVectors makes every test vector from scratch, deterministically.
func buildVectors(t testing.TB) []vectorFile {
	t.Helper()
	keyHex := hex.EncodeToString(testKey)
	var out []vectorFile
	good := func(name, note string, h Header, rs []readings.Reading, withCSV bool) []byte {
		file := writeFile(t, h, rs, name)
		hdr, err := ReadHeader(bytes.NewReader(file))
		if err != nil {
			t.Fatal(err)
		}
		payload := encodeRecords(t, len(h.Schema.Channels), hdr.Start.UnixMilli(), rs)
		_, spans := chunkSpans(t, file)
		text := canonicalReadings(rs)
		v := vector{
			File: name, Key: keyHex, Expect: "ok", Note: note,
			Serial: hdr.Serial, KeyID: ptr(int64(hdr.KeyID)), Chunks: ptr(int64(len(spans))),
			PayloadBytes: ptr(int64(len(payload))), PayloadSHA256: sha256Hex(payload),
			Readings: ptr(int64(len(rs))), ReadingsSHA256: sha256Hex(text),
		}
		vf := vectorFile{spec: v, bytes: file}
		if withCSV {
			vf.spec.CSV = name[:len(name)-len(filepath.Ext(name))] + ".csv"
			vf.csv = append([]byte{}, text...)
		}
		out = append(out, vf)
		return file
	}
	bad := func(name, expect, note string, file []byte, chunk, offset *int64) {
		out = append(out, vectorFile{
			spec:  vector{File: name, Key: keyHex, Expect: expect, Note: note, Chunk: chunk, Offset: offset},
			bytes: file,
		})
	}

	// Good files.
	example := good("example.sxd", "the worked example of docs/file-format.md: 2 channels, 4 readings, one final chunk",
		exampleHeader(), exampleReadings(), true)
	good("empty.sxd", "no reading: the payload is empty, the only chunk is an empty final chunk", exampleHeader(), nil, true)
	g3h := generator(t, readings.GeneratorConfig{Seed: 1, Start: created, Duration: 3 * time.Hour})
	good("one-chunk.sxd", "3 hours of a generated load curve (7 channels, 1 min), default 64 KiB chunks: one short final chunk",
		testHeader(g3h.Schema()), slices.Collect(g3h.All()), false)
	gGaps := generator(t, readings.GeneratorConfig{Seed: 3, Start: created, Duration: 3 * time.Hour, Gaps: true})
	small := testHeader(gGaps.Schema())
	small.Sequence = 18
	small.ChunkSize = MinChunkSize
	base := good("many-chunks.sxd", "3 hours with an offline gap in 1 KiB chunks: several full chunks and a short final chunk; the damaged vectors are made from it",
		small, slices.Collect(gGaps.All()), false)
	gDay := generator(t, readings.GeneratorConfig{Seed: 3, Start: created, Duration: 24 * time.Hour})
	exact := testHeader(gDay.Schema())
	exact.Start = time.UnixMilli(gDay.Start()).UTC()
	good("exact-chunk.sxd", "payload of exactly 65536 bytes: one full-size chunk that is the final chunk (no empty chunk follows)",
		exact, exactPayload(t, gDay, DefaultChunkSize), false)
	two := testHeader(gDay.Schema())
	two.Start = time.UnixMilli(gDay.Start()).UTC()
	two.ChunkSize = MinChunkSize
	good("two-full-chunks.sxd", "payload of exactly 2048 bytes in 1 KiB chunks: a full non-final chunk then a full final chunk",
		two, exactPayload(t, gDay, 2*MinChunkSize), false)
	withExt := exampleHeader()
	withExt.Extensions = []Extension{{Type: 0x42, Data: []byte("unknown to v1 readers")}}
	good("extension.sxd", "the example readings with an unknown header extension (type 0x42), which readers skip", withExt, exampleReadings(), true)

	// Header damage.
	hsize, spans := chunkSpans(t, base)
	last := len(spans) - 1
	out = append(out, vectorFile{spec: vector{File: "many-chunks.sxd", Key: hex.EncodeToString(otherKey), Expect: "wrong_key",
		Note: "an intact file with another device's key: the key check fails before any chunk is read"}})
	bad("bad-magic.sxd", "not_data_file", "first byte of the magic changed", flip(base, 0, 0x20), nil, nil)
	bad("unsupported-version.sxd", "unsupported_version", "version byte set to 2", flip(base, len(Magic), 0x03), nil, nil)
	serialLen := int(base[prefixSize])
	afterSerial := prefixSize + 1 + serialLen
	bad("key-id-changed.sxd", "wrong_key", "key id changed from 3 to 2: the key check covers the key id, so this reads as a wrong key",
		flip(base, afterSerial+3, 0x01), nil, nil)
	bad("header-tampered.sxd", "header_tampered", "sequence number changed: the key check passes, the header MAC does not",
		flip(base, afterSerial+4+7, 0x01), nil, nil)
	chunkSizeAt := afterSerial + 4 + 8 + 8 + 8 + 4
	hostile := bytes.Clone(base)
	binary.BigEndian.PutUint32(hostile[chunkSizeAt:], 1<<30)
	bad("header-malformed.sxd", "header_malformed", "chunk size field set to 1 GiB (above the 1 MiB limit): rejected before any allocation",
		hostile, nil, nil)
	bad("truncated-header.sxd", "truncated", "only the first 60 bytes: the file ends inside the header", base[:60], ptr(-1), ptr(60))
	bad("empty-file.sxd", "truncated", "a zero-byte file (an interrupted copy)", []byte{}, ptr(-1), ptr(0))
	gOther := writeFile(t, small, slices.Collect(gGaps.All()), "many-chunks.sxd, another copy")
	swapped := append(bytes.Clone(gOther[:hsize]), base[hsize:]...)
	bad("header-swapped.sxd", "chunk_corrupt", "the intact header of another file of the same device (other salt) before these chunks: chunk 0 fails",
		swapped, ptr(0), ptr(int64(hsize)))

	// Chunk damage.
	bad("chunk-corrupt.sxd", "chunk_corrupt", "one ciphertext bit flipped in chunk 2",
		flip(base, spans[2].start+FrameSize+100, 0x04), ptr(2), ptr(int64(spans[2].start)))
	bad("final-chunk-corrupt.sxd", "chunk_corrupt", "one bit of the final chunk's tag flipped",
		flip(base, spans[last].end-1, 0x80), ptr(int64(last)), ptr(int64(spans[last].start)))
	order := make([]int, len(spans))
	for i := range order {
		order[i] = i
	}
	reordered := slices.Clone(order)
	reordered[1], reordered[2] = reordered[2], reordered[1]
	bad("chunks-reordered.sxd", "chunk_corrupt", "chunks 1 and 2 swapped", spliceChunks(t, base, reordered...),
		ptr(1), ptr(int64(spans[1].start)))
	bad("chunk-dropped.sxd", "chunk_corrupt", "chunk 1 removed", spliceChunks(t, base, slices.Delete(slices.Clone(order), 1, 2)...),
		ptr(1), ptr(int64(spans[1].start)))
	bad("chunk-duplicated.sxd", "chunk_corrupt", "chunk 1 repeated", spliceChunks(t, base, slices.Insert(slices.Clone(order), 1, 1)...),
		ptr(2), ptr(int64(spans[2].start)))
	forged := bytes.Clone(base)
	forged[spans[1].start] |= 0x80
	bad("final-flag-forged.sxd", "chunk_corrupt", "the frame of chunk 1 claims it is final: it is opened with the final nonce and fails",
		forged, ptr(1), ptr(int64(spans[1].start)))
	cleared := bytes.Clone(base)
	cleared[spans[last].start] &^= 0x80
	bad("final-flag-cleared.sxd", "chunk_corrupt", "the final flag of the last (short) frame cleared: a non-final chunk must be full",
		cleared, ptr(int64(last)), ptr(int64(spans[last].start)))
	huge := bytes.Clone(base)
	binary.BigEndian.PutUint32(huge[spans[1].start:], 0x7fffffff)
	bad("frame-length-hostile.sxd", "chunk_corrupt", "the frame of chunk 1 announces 2 GiB: rejected without allocating",
		huge, ptr(1), ptr(int64(spans[1].start)))

	// Truncation and extra data.
	bad("truncated-boundary.sxd", "truncated", "the final chunk removed: the file ends exactly after a non-final chunk",
		base[:spans[last].start], ptr(int64(last)), ptr(int64(spans[last].start)))
	mid := spans[2].start + 500
	bad("truncated-mid-chunk.sxd", "truncated", "cut 500 bytes into chunk 2", base[:mid], ptr(2), ptr(int64(mid)))
	bad("truncated-final-chunk.sxd", "truncated", "cut 10 bytes before the end, inside the final chunk's tag",
		base[:len(base)-10], ptr(int64(last)), ptr(int64(len(base)-10)))
	bad("trailing-data.sxd", "trailing_data", "4 zero bytes appended after the final chunk",
		append(bytes.Clone(base), 0, 0, 0, 0), nil, ptr(int64(len(base))))
	bad("files-concatenated.sxd", "trailing_data", "example.sxd appended to this file",
		append(bytes.Clone(base), example...), nil, ptr(int64(len(base))))

	// Hand-made files a correct writer never produces.
	crafted := exampleHeader()
	crafted.ChunkSize = MinChunkSize
	crafted.Sequence = 99
	if _, err := io.ReadFull(&seededRand{seed: "crafted"}, crafted.Salt[:]); err != nil {
		t.Fatal(err)
	}
	gCraft := generator(t, readings.GeneratorConfig{Seed: 4, Start: created, Duration: 3 * time.Hour})
	craftHeader := testHeader(gCraft.Schema())
	craftHeader.Start = created
	craftHeader.ChunkSize = MinChunkSize
	craftHeader.Sequence = 100
	copy(craftHeader.Salt[:], crafted.Salt[:])
	payload3 := encodeRecords(t, 7, created.UnixMilli(), exactPayload(t, gCraft, 3*MinChunkSize))
	noFinal := splitChunks(payload3, MinChunkSize)
	noFinal[2] = craftedChunk{plain: noFinal[2].plain} // sealed and framed as non-final
	bad("final-flag-missing.sxd", "truncated", "three full chunks, none marked final (a writer that stopped before Close): the final chunk is missing",
		craftFile(t, craftHeader, testKey, noFinal), ptr(3), nil)
	payload1 := encodeRecords(t, 7, created.UnixMilli(), exactPayload(t, gCraft, MinChunkSize))
	emptyLast := []craftedChunk{{plain: payload1}, {sealFinal: true, frameFinal: true}}
	bad("empty-final-chunk.sxd", "chunk_corrupt", "a full chunk followed by an empty final chunk: an empty final chunk is only allowed as chunk 0",
		craftFile(t, craftHeader, testKey, emptyLast), ptr(1), nil)
	badChannel := []byte{0x00, 0x00, 0x02, 0x00, 0x09, 0x02} // second record names channel 9 of 2
	bad("payload-bad-channel.sxd", "payload_malformed", "an authentic payload whose second record names channel 9 of 2 (a faulty writer)",
		craftFile(t, crafted, testKey, splitChunks(badChannel, MinChunkSize)), nil, nil)
	cut := []byte{0x00, 0x00, 0x02, 0x00, 0x01}
	bad("payload-cut-record.sxd", "payload_malformed", "an authentic payload that ends inside a record (a faulty writer)",
		craftFile(t, crafted, testKey, splitChunks(cut, MinChunkSize)), nil, nil)
	nonMinimal := []byte{0x80, 0x00, 0x00, 0x02}
	bad("payload-non-minimal-varint.sxd", "payload_malformed", "an authentic payload with a non-minimal varint (0x80 0x00) (a faulty writer)",
		craftFile(t, crafted, testKey, splitChunks(nonMinimal, MinChunkSize)), nil, nil)

	// Two problems in one file: the rule of section 7 ("Which problem is reported") picks one.
	cutHostile := bytes.Clone(hostile[:chunkSizeAt+10])
	bad("two-truncated-header-malformed.sxd", "truncated",
		"two problems: a hostile chunk size and the file cut inside the header; the whole header is read before any field is checked",
		cutHostile, ptr(-1), ptr(int64(len(cutHostile))))
	// chunk0 is a full 1 KiB chunk of good records (2 channels) ending with the bytes given.
	chunk0 := func(tail ...byte) []byte {
		var b []byte
		for len(b)+len(tail) < MinChunkSize-2 && (MinChunkSize-len(tail)-len(b))%3 != 0 {
			b = append(b, 0x80, 0x01, 0x00, 0x00) // dt 128, channel 0, dv 0
		}
		for len(b)+len(tail) < MinChunkSize {
			b = append(b, 0x00, 0x00, 0x00) // dt 0, channel 0, dv 0
		}
		return append(b, tail...)
	}
	corruptChunk1 := func(chunks []craftedChunk) []byte {
		file := craftFile(t, crafted, testKey, chunks)
		return flip(file, len(file)-TagSize-1, 0x01)
	}
	hsCrafted, _ := chunkSpans(t, craftFile(t, crafted, testKey, splitChunks(nil, MinChunkSize)))
	chunk1At := int64(hsCrafted + FrameSize + MinChunkSize + TagSize)
	recordFirst := chunk0(0x00, 0x09, 0x00) // channel 9 of 2, whole in chunk 0
	bad("two-record-then-chunk-corrupt.sxd", "payload_malformed",
		"two problems: chunk 0 ends with a record naming channel 9 of 2, chunk 1 is corrupt; the record is whole in a verified chunk, so it is reported",
		corruptChunk1([]craftedChunk{{plain: recordFirst}, {plain: []byte{0, 0, 0}, sealFinal: true, frameFinal: true}}), nil, nil)
	bad("two-record-then-trailing-data.sxd", "payload_malformed",
		"two problems: the final chunk holds a record naming channel 9 of 2, and 4 bytes follow the final chunk",
		append(craftFile(t, crafted, testKey, splitChunks(badChannel, MinChunkSize)), 0, 0, 0, 0), nil, nil)
	bad("two-cut-record-then-trailing-data.sxd", "trailing_data",
		"two problems: the payload ends inside a record, and 4 bytes follow the final chunk; the record needs bytes after the final chunk, so the trailing data is reported",
		append(craftFile(t, crafted, testKey, splitChunks(cut, MinChunkSize)), 0, 0, 0, 0), nil, nil)
	rangeAcross := chunk0(0x00, 0x09) // dt 0, channel 9 of 2; its value delta is in chunk 1
	bad("two-range-error-into-chunk-corrupt.sxd", "chunk_corrupt",
		"two problems: a record naming channel 9 of 2 starts at the end of chunk 0 and ends in chunk 1, which is corrupt; a range error needs the whole record, so chunk 1 is reported",
		corruptChunk1([]craftedChunk{{plain: rangeAcross}, {plain: []byte{0x00}, sealFinal: true, frameFinal: true}}), ptr(1), ptr(chunk1At))
	varintAcross := chunk0(0x80, 0x00) // a non-minimal time delta; the rest of the record is in chunk 1
	bad("two-varint-error-into-chunk-corrupt.sxd", "payload_malformed",
		"two problems: a non-minimal varint (0x80 0x00) ends chunk 0, the rest of its record is in chunk 1, which is corrupt; the varint is wrong by its own bytes, so it is reported",
		corruptChunk1([]craftedChunk{{plain: varintAcross}, {plain: []byte{0x00, 0x00}, sealFinal: true, frameFinal: true}}), nil, nil)
	return out
}

func TestVectors(t *testing.T) {
	built := buildVectors(t)
	if *update {
		writeVectors(t, built)
	}
	raw, err := os.ReadFile(filepath.Join(vectorDir, "vectors.json"))
	if err != nil {
		t.Fatalf("%v (run go test -run TestVectors -update to create the vectors)", err)
	}
	var specs []vector
	if err := json.Unmarshal(raw, &specs); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, v := range specs {
		seen[v.Expect] = true
		t.Run(v.File+"/"+v.Expect, func(t *testing.T) { checkVector(t, v) })
	}
	for _, name := range []string{"ok", "not_data_file", "unsupported_version", "header_malformed", "wrong_key",
		"header_tampered", "chunk_corrupt", "truncated", "trailing_data", "payload_malformed"} {
		if !seen[name] {
			t.Errorf("no vector expects %s", name)
		}
	}
}

// checkVector decodes a committed vector and compares it with its spec.
func checkVector(t *testing.T, v vector) {
	file, err := os.ReadFile(filepath.Join(vectorDir, v.File))
	if err != nil {
		t.Fatal(err)
	}
	key, err := ParseKey(v.Key)
	if err != nil {
		t.Fatal(err)
	}
	_, got, err := readFile(bytes.NewReader(file), StaticKey(key))
	if name := errorName(err); name != v.Expect {
		t.Fatalf("decoding gives %s (%v), want %s", name, err, v.Expect)
	}
	if err != nil {
		if msg := err.Error(); bytes.ContainsAny([]byte(msg), "\n") || msg[0] < 'a' || msg[0] > 'z' {
			t.Errorf("error message %q is not one lower-case line", msg)
		}
		checkLocation(t, err, v)
		return
	}
	text := canonicalReadings(got)
	if int64(len(got)) != *v.Readings || sha256Hex(text) != v.ReadingsSHA256 {
		t.Errorf("%d readings (sha256 %s), want %d (%s)", len(got), sha256Hex(text), *v.Readings, v.ReadingsSHA256)
	}
	rd, err := NewReader(bytes.NewReader(file), StaticKey(key))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := io.ReadAll(rd.Payload())
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(payload)) != *v.PayloadBytes || sha256Hex(payload) != v.PayloadSHA256 || rd.Chunks() != *v.Chunks {
		t.Errorf("payload %d bytes in %d chunks (sha256 %s), want %d in %d (%s)",
			len(payload), rd.Chunks(), sha256Hex(payload), *v.PayloadBytes, *v.Chunks, v.PayloadSHA256)
	}
	if v.CSV != "" {
		csv, err := os.ReadFile(filepath.Join(vectorDir, v.CSV))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(csv, text) {
			t.Errorf("%s differs from the decoded readings", v.CSV)
		}
	}
}

func checkLocation(t *testing.T, err error, v vector) {
	var chunk, offset *int64
	var ce *ChunkError
	var te *TruncatedError
	var de *TrailingDataError
	switch {
	case errors.As(err, &ce):
		chunk, offset = &ce.Index, &ce.Offset
	case errors.As(err, &te):
		chunk, offset = &te.Chunk, &te.Offset
	case errors.As(err, &de):
		offset = &de.Offset
	}
	if v.Chunk != nil && (chunk == nil || *chunk != *v.Chunk) {
		t.Errorf("error %v is not located at chunk %d", err, *v.Chunk)
	}
	if v.Offset != nil && (offset == nil || *offset != *v.Offset) {
		t.Errorf("error %v is not located at byte %d", err, *v.Offset)
	}
}

func TestVectorsAreReproducible(t *testing.T) {
	// The committed vectors are exactly what the code makes today: a
	// format change cannot slip in without -update.
	for _, vf := range buildVectors(t) {
		if vf.bytes == nil {
			continue
		}
		committed, err := os.ReadFile(filepath.Join(vectorDir, vf.spec.File))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(committed, vf.bytes) {
			t.Errorf("%s differs from what the code writes now; rerun with -update if the change is deliberate", vf.spec.File)
		}
	}
}

func writeVectors(t *testing.T, built []vectorFile) {
	t.Helper()
	old, _ := filepath.Glob(filepath.Join(vectorDir, "*"))
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(vectorDir, 0o755); err != nil {
		t.Fatal(err)
	}
	specs := make([]vector, 0, len(built))
	for _, vf := range built {
		specs = append(specs, vf.spec)
		if vf.bytes != nil {
			if err := os.WriteFile(filepath.Join(vectorDir, vf.spec.File), vf.bytes, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if vf.csv != nil {
			if err := os.WriteFile(filepath.Join(vectorDir, vf.spec.CSV), vf.csv, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	js, err := json.MarshalIndent(specs, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vectorDir, "vectors.json"), append(js, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}
