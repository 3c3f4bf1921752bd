package aescodec

import "fmt"

// Layout is how the body of an intact file of a given size is cut into chunks, computed from
// the header alone: what `smartx inspect` can say without the key.
type Layout struct {
	// Chunks is the number of chunks.
	Chunks int64
	// PayloadBytes is the plaintext size of all chunks together.
	PayloadBytes int64
}

// LayoutForSize returns the layout an intact file of fileSize bytes with header h has. It
// returns an error when no whole number of chunks fits: the file is truncated or padded (only
// decrypting it says which chunk is damaged).
func (h *Header) LayoutForSize(fileSize int64) (Layout, error) {
	body := fileSize - int64(h.Size)
	full := int64(FrameSize + h.ChunkSize + TagSize)
	if h.ChunkSize <= 0 || body < FrameSize+TagSize {
		return Layout{}, fmt.Errorf("%d bytes after the header cannot hold a chunk: the file is truncated", max(body, 0))
	}
	// Every chunk but the last is full; the last holds 0 to ChunkSize bytes.
	chunks := (body + full - 1) / full
	last := body - (chunks-1)*full - FrameSize - TagSize
	if last < 0 {
		return Layout{}, fmt.Errorf("the body (%d bytes) does not end on a chunk boundary: the file is truncated or has extra bytes", body)
	}
	return Layout{Chunks: chunks, PayloadBytes: (chunks-1)*int64(h.ChunkSize) + last}, nil
}
