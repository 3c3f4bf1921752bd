package server

import (
	"cmp"
	"context"
	"errors"
	"math/bits"
	"slices"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/readings"
	"github.com/smart-impulse/smartx/internal/store"
)

// This file turns a device's stored segments back into one stream of readings in key order
// (rawKey: time, channel, file...), and optionally into aggregates per bucket, for a rowSink.
// Segments arrive ordered by their first time; a k-way merge over the segments that overlap
// interleaves their channels and files. Memory is the overlapping segments (about one file's
// channels), whatever the range.

// scanDevice is the device being scanned and its channel table. Channels are identified across
// files by name, unit and resolution; slot numbers them in order of first appearance.
type scanDevice struct {
	id, serial string
	loc        *time.Location // the site's time zone, for daily buckets
	// first and last are the times of the device's first and last readings (Unix ms), when it
	// recorded any.
	first, last int64
	recorded    bool
	slots       []readings.Channel
	slotIndex   []int // channel index at the slot's first appearance: the order of aggregate rows
	slotOf      map[readings.Channel]int
	// version counts changes of slots, so a sink knows when to prepare its labels again.
	version int
}

func (d *scanDevice) slot(sg *openedSegment) int {
	ch := readings.Channel{Name: sg.Name, Unit: sg.Unit, Resolution: sg.Resolution}
	if i, ok := d.slotOf[ch]; ok {
		return i
	}
	d.slotOf[ch] = len(d.slots)
	d.slots = append(d.slots, ch)
	d.slotIndex = append(d.slotIndex, sg.ChannelIndex)
	d.version++
	return len(d.slots) - 1
}

// aggregate summarises one channel over one bucket. The sum has 128 bits: no series of int64
// values can overflow it.
type aggregate struct {
	count    int64
	sumHi    int64
	sumLo    uint64
	min, max int64
}

func (a *aggregate) add(v int64) {
	if a.count == 0 {
		a.min, a.max = v, v
	} else {
		a.min, a.max = min(a.min, v), max(a.max, v)
	}
	a.count++
	var carry uint64
	a.sumLo, carry = bits.Add64(a.sumLo, uint64(v), 0)
	a.sumHi += int64(carry) + v>>63
}

// mean returns the mean in steps of the resolution.
func (a *aggregate) mean() float64 {
	return (float64(a.sumHi)*(1<<64) + float64(a.sumLo)) / float64(a.count)
}

// rowSink receives the rows of a readings query, in order. An error stops the scan and is
// returned by it (errPageFull ends a JSON page).
type rowSink interface {
	raw(d *scanDevice, slot int, key rawKey, value int64) error
	aggregate(d *scanDevice, slot int, bucket int64, nth int, a *aggregate) error
}

// errPageFull stops a scan once a JSON page has its rows and one more exists.
var errPageFull = errors.New("page full")

// segCursor walks the decoded readings of one segment.
type segCursor struct {
	times, values []int64
	pos           int
	file          uint64
	channel, part int
	slot          int
}

func (c *segCursor) less(o *segCursor) bool {
	a, b := c.times[c.pos], o.times[o.pos]
	switch {
	case a != b:
		return a < b
	case c.channel != o.channel:
		return c.channel < o.channel
	case c.file != o.file:
		return c.file < o.file
	}
	return c.part < o.part
}

// scanner runs one query over a device's segments.
type scanner struct {
	q         *readingsQuery
	sink      rowSink
	svc       *Service
	accountID string
	tags      [][]byte          // the query's channels, as the store finds them
	labels    map[string]string // interned channel names and units
	dev       *scanDevice
	minTime   int64 // the device's readings before this were returned by the previous page

	heap []*segCursor
	free []*segCursor

	// Raw cursor: readings up to this key were returned by the previous page.
	skipRaw  bool
	afterRaw rawKey

	// Aggregation state: the current bucket, its per-slot aggregates and the slots it touched.
	bucketStart, bucketEnd int64
	haveBucket             bool
	aggs                   []aggregate
	active                 []int
	skipBucket             int64 // rows of this bucket were returned by the previous page
	skipRows               int
}

// scanReadings streams the query's rows of each device into sink. Devices come in the order
// given; a query's cursor starts at its device.
func (s *Service) scanReadings(ctx context.Context, accountID string, q *readingsQuery, devs []*scanDevice, sink rowSink) error {
	tags, err := s.channelTags(ctx, accountID, q.channels)
	if err != nil {
		return err
	}
	sc := &scanner{q: q, sink: sink, svc: s, accountID: accountID, tags: tags, labels: map[string]string{}}
	started := q.cursor == nil
	for _, d := range devs {
		if !started {
			if d.id != q.cursor.deviceID {
				continue
			}
			started = true
		}
		if err := sc.device(ctx, d); err != nil {
			return err
		}
	}
	if !started {
		return store.ErrInvalidCursor // its device is gone
	}
	return nil
}

// device scans one device.
func (sc *scanner) device(ctx context.Context, d *scanDevice) error {
	q := sc.q
	sc.dev, sc.haveBucket, sc.skipRaw, sc.skipRows = d, false, false, 0
	from := q.fromMs
	if c := q.cursor; c != nil && c.deviceID == d.id {
		if q.interval == api.IntervalRaw {
			sc.skipRaw, sc.afterRaw = true, c.raw
			from = max(from, c.raw.time)
		} else {
			sc.skipBucket, sc.skipRows = c.bucket, c.rows
			from = max(from, c.bucket)
		}
		q.cursor = nil // later devices start from the beginning
	}
	if from >= q.toMs {
		return nil
	}
	sc.minTime = from
	err := sc.svc.st.ScanSegments(ctx, store.SegmentQuery{AccountID: sc.accountID, DeviceID: d.id, From: from, To: q.toMs, ChannelTags: sc.tags},
		func(stored *store.Segment) error {
			sg, err := sc.svc.openSegment(ctx, sc.accountID, d.id, stored, sc.labels)
			if err != nil {
				return err
			}
			// Segments come by first time: every reading before this one's first is final.
			if err := sc.drain(sg.TMin); err != nil {
				return err
			}
			return sc.push(&sg)
		})
	if err == nil {
		err = sc.drain(q.toMs)
	}
	if err == nil && sc.haveBucket {
		err = sc.flushBucket()
	}
	sc.free = append(sc.free, sc.heap...) // a stopped scan leaves cursors behind
	sc.heap = sc.heap[:0]
	return err
}

// push decodes a segment into a cursor on the heap.
func (sc *scanner) push(sg *openedSegment) error {
	var c *segCursor
	if n := len(sc.free); n > 0 {
		c, sc.free = sc.free[n-1], sc.free[:n-1]
	} else {
		c = &segCursor{}
	}
	var err error
	c.times, c.values, err = store.DecodeSegment(sg.Data, sg.TMin, sg.Count, c.times[:0], c.values[:0])
	if err != nil {
		return err
	}
	c.pos, c.file, c.channel, c.part, c.slot = 0, sg.FileSequence, sg.ChannelIndex, sg.Part, sc.dev.slot(sg)
	if len(c.times) == 0 {
		sc.free = append(sc.free, c)
		return nil
	}
	sc.heap = append(sc.heap, c)
	sc.up(len(sc.heap) - 1)
	return nil
}

func (sc *scanner) up(i int) {
	h := sc.heap
	for i > 0 {
		p := (i - 1) / 2
		if !h[i].less(h[p]) {
			return
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (sc *scanner) down(i int) {
	h := sc.heap
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h[r].less(h[l]) {
			m = r
		}
		if !h[m].less(h[i]) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// drain emits, in key order, the readings of the heap's segments before limit.
func (sc *scanner) drain(limit int64) error {
	q := sc.q
	for len(sc.heap) > 0 {
		c := sc.heap[0]
		t := c.times[c.pos]
		if t >= limit {
			return nil
		}
		if t >= sc.minTime && t < q.toMs {
			if err := sc.emit(c, t, c.values[c.pos]); err != nil {
				return err
			}
		}
		c.pos++
		if c.pos == len(c.times) {
			last := len(sc.heap) - 1
			sc.heap[0] = sc.heap[last]
			sc.heap = sc.heap[:last]
			sc.free = append(sc.free, c)
		}
		if len(sc.heap) > 1 {
			sc.down(0)
		}
	}
	return nil
}

// emit hands one reading to the sink, or to the current bucket.
func (sc *scanner) emit(c *segCursor, t, v int64) error {
	if sc.q.interval == api.IntervalRaw {
		key := rawKey{time: t, channel: c.channel, file: c.file, part: c.part, index: c.pos}
		if sc.skipRaw {
			if !sc.afterRaw.less(key) {
				return nil
			}
			sc.skipRaw = false
		}
		return sc.sink.raw(sc.dev, c.slot, key, v)
	}
	if !sc.haveBucket || t >= sc.bucketEnd {
		if sc.haveBucket {
			if err := sc.flushBucket(); err != nil {
				return err
			}
		}
		sc.bucketStart, sc.bucketEnd = sc.bucketOf(t)
		sc.haveBucket = true
	}
	if len(sc.aggs) <= c.slot {
		sc.aggs = append(sc.aggs, make([]aggregate, c.slot+1-len(sc.aggs))...)
	}
	a := &sc.aggs[c.slot]
	if a.count == 0 {
		sc.active = append(sc.active, c.slot)
	}
	a.add(v)
	return nil
}

// flushBucket emits the current bucket's rows, ordered by channel index then name.
func (sc *scanner) flushBucket() error {
	d := sc.dev
	slices.SortFunc(sc.active, func(a, b int) int {
		return cmp.Or(cmp.Compare(d.slotIndex[a], d.slotIndex[b]), cmp.Compare(d.slots[a].Name, d.slots[b].Name),
			cmp.Compare(d.slots[a].Unit, d.slots[b].Unit), cmp.Compare(d.slots[a].Resolution, d.slots[b].Resolution))
	})
	skip := 0
	if sc.skipRows > 0 && sc.bucketStart == sc.skipBucket {
		skip = sc.skipRows
	}
	sc.skipRows = 0
	var err error
	for nth, slot := range sc.active {
		if err == nil && nth >= skip {
			err = sc.sink.aggregate(d, slot, sc.bucketStart, nth+1, &sc.aggs[slot])
		}
		sc.aggs[slot] = aggregate{}
	}
	sc.active = sc.active[:0]
	sc.haveBucket = false
	return err
}

// bucketOf returns the bucket holding t: aligned to UTC for fixed intervals, local midnight to
// local midnight in the site's zone for days (23 or 25 hours around a DST change).
func (sc *scanner) bucketOf(t int64) (start, end int64) {
	if step := sc.q.bucketMs(); step > 0 {
		start = t - ((t%step)+step)%step
		return start, start + step
	}
	loc := sc.dev.loc
	local := time.UnixMilli(t).In(loc)
	y, m, dd := local.Date()
	start = time.Date(y, m, dd, 0, 0, 0, 0, loc).UnixMilli()
	end = time.Date(y, m, dd+1, 0, 0, 0, 0, loc).UnixMilli()
	// Where midnight itself is skipped by a DST change, time.Date may place it on either side
	// of the change; step a day to keep t inside its bucket.
	for i := 0; t >= end && i < 3; i++ {
		dd++
		start, end = end, time.Date(y, m, dd+1, 0, 0, 0, 0, loc).UnixMilli()
	}
	for i := 0; t < start && i < 3; i++ {
		dd--
		start, end = time.Date(y, m, dd, 0, 0, 0, 0, loc).UnixMilli(), start
	}
	return start, end
}
