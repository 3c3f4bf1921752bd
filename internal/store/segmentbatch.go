package store

// SegmentBatch is a batch of segments copied out of a query, for a store's ScanSegments: the
// store reads a batch, finishes its query, then hands the segments to the caller's callback,
// so a slow consumer never holds a query open, and memory is one batch whatever the range.
// The zero value is empty and ready.
type SegmentBatch struct {
	segments []Segment
	offsets  []int // where each segment's tag and sealed bytes start in arena
	arena    []byte
}

// Reset empties the batch, keeping its memory.
func (b *SegmentBatch) Reset() {
	b.segments, b.offsets, b.arena = b.segments[:0], b.offsets[:0], b.arena[:0]
}

// Add copies a segment and its channel tag and sealed bytes (which may be the driver's
// buffers, valid only until the next row) into the batch.
func (b *SegmentBatch) Add(sg Segment, tag, sealed []byte) {
	b.offsets = append(b.offsets, len(b.arena))
	b.arena = append(b.arena, tag...)
	b.offsets = append(b.offsets, len(b.arena))
	b.arena = append(b.arena, sealed...)
	b.segments = append(b.segments, sg)
}

// Len returns the number of segments in the batch.
func (b *SegmentBatch) Len() int { return len(b.segments) }

// Bytes returns the size of the tags and sealed bytes in the batch.
func (b *SegmentBatch) Bytes() int { return len(b.arena) }

// Last returns the last segment added; the batch must not be empty.
func (b *SegmentBatch) Last() Segment { return b.segments[len(b.segments)-1] }

// Deliver calls fn with each segment in order, its ChannelTag and Sealed pointing into the
// batch, and stops at fn's first error.
func (b *SegmentBatch) Deliver(fn func(*Segment) error) error {
	for i := range b.segments {
		tagAt, sealedAt, end := b.offsets[2*i], b.offsets[2*i+1], len(b.arena)
		if 2*i+2 < len(b.offsets) {
			end = b.offsets[2*i+2]
		}
		sg := &b.segments[i]
		sg.ChannelTag = b.arena[tagAt:sealedAt:sealedAt]
		sg.Sealed = b.arena[sealedAt:end:end]
		if err := fn(sg); err != nil {
			return err
		}
	}
	return nil
}
