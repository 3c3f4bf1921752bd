package store

import (
	"encoding/binary"
	"errors"
)

// EncodeGaps packs a data file's gaps as varint pairs (from, to - from), the form both stores
// keep them in; nil for none.
func EncodeGaps(gaps []Gap) []byte {
	if len(gaps) == 0 {
		return nil
	}
	var b []byte
	for _, g := range gaps {
		b = binary.AppendVarint(b, g.From)
		b = binary.AppendVarint(b, g.To-g.From)
	}
	return b
}

// DecodeGaps reverses EncodeGaps.
func DecodeGaps(b []byte) ([]Gap, error) {
	var out []Gap
	for len(b) > 0 {
		from, n := binary.Varint(b)
		if n <= 0 {
			return nil, errors.New("corrupt gap list")
		}
		b = b[n:]
		length, n := binary.Varint(b)
		if n <= 0 {
			return nil, errors.New("corrupt gap list")
		}
		b = b[n:]
		out = append(out, Gap{From: from, To: from + length})
	}
	return out, nil
}
