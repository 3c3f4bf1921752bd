package server

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/store"
)

// timePtr returns a pointer to t in UTC, nil for the zero time.
func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func msTime(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func msPtr(ms int64) *time.Time {
	t := msTime(ms)
	return &t
}

// fileSpan is what the status needs of a file record.
type fileSpan struct {
	seq         uint64
	readings    int64
	first, last int64
	interval    int64 // ms
	gaps        []store.Gap
}

// DeviceStatus reports what arrived from a device and what did not: the monitoring of
// communication losses. Sequence gaps are missing file numbers between received ones; time gaps
// are periods over twice the sampling interval without a reading, inside a file or between
// files; reported losses are the files the device says it dropped.
func (s *Service) DeviceStatus(ctx context.Context, caller store.Token, id string) (api.DeviceStatus, error) {
	d, err := s.Device(ctx, caller, id)
	if err != nil {
		return api.DeviceStatus{}, err
	}
	return s.deviceStatus(ctx, d)
}

// deviceStatus is DeviceStatus of a device the caller may see.
func (s *Service) deviceStatus(ctx context.Context, d Device) (api.DeviceStatus, error) {
	var files []fileSpan
	err := s.st.ListDataFiles(ctx, d.AccountID, d.ID, func(f store.DataFile) error {
		files = append(files, fileSpan{seq: f.Sequence, readings: f.Readings, first: f.FirstReading, last: f.LastReading,
			interval: f.Interval.Milliseconds(), gaps: f.Gaps})
		return nil
	})
	if err != nil {
		return api.DeviceStatus{}, err
	}
	losses, err := s.st.ListLosses(ctx, d.AccountID, d.ID)
	if err != nil {
		return api.DeviceStatus{}, err
	}
	st := d.Stats
	out := api.DeviceStatus{DeviceID: d.ID, Serial: d.Serial, SiteID: d.SiteID, Decommissioned: d.Decommissioned(),
		LastContactAt: timePtr(st.LastContactAt), LastUploadAt: timePtr(st.LastUploadAt),
		FilesReceived: st.Files, ReadingsReceived: st.Readings,
		SequenceGaps: []api.SequenceGap{}, TimeGaps: []api.TimeGap{}, ReportedLosses: make([]api.Loss, len(losses))}
	if !st.LastRejectAt.IsZero() {
		out.LastRejection = &api.Rejection{At: st.LastRejectAt.UTC(), Code: api.Code(st.LastRejectCode), Reason: api.RejectReason(st.LastRejectReason)}
	}
	if st.Files > 0 {
		seq := st.LastSequence
		out.LastSequence = &seq
	}
	if st.Readings > 0 {
		out.FirstReadingAt, out.LastReadingAt = msPtr(st.FirstReading), msPtr(st.LastReading)
	}
	for i, l := range losses {
		out.ReportedLosses[i] = lossInfo(l)
	}

	// Sequence gaps, files in sequence order.
	covered := mergeLosses(losses)
	for i := 1; i < len(files); i++ {
		prev, next := files[i-1], files[i]
		if next.seq <= prev.seq+1 {
			continue
		}
		g := api.SequenceGap{FirstSequence: prev.seq + 1, LastSequence: next.seq - 1, Files: next.seq - prev.seq - 1}
		if prev.readings > 0 {
			g.From = msPtr(prev.last)
		}
		if next.readings > 0 {
			g.To = msPtr(next.first)
		}
		g.Reported = coveredBy(covered, g.FirstSequence, g.LastSequence)
		out.MissingFiles += int64(g.Files)
		out.SequenceGaps = append(out.SequenceGaps, g)
	}
	out.SequenceGapsTotal = len(out.SequenceGaps)
	out.SequenceGaps = lastN(out.SequenceGaps, api.MaxStatusGaps)

	// Time gaps: inside files, then between files in time order. Files may overlap (a clock
	// set back): the end so far is the latest reading of the files before.
	var gaps []api.TimeGap
	for _, f := range files {
		for _, g := range f.gaps {
			gaps = append(gaps, timeGap(g.From, g.To, api.GapInsideFile, f.seq))
		}
	}
	withReadings := slices.DeleteFunc(slices.Clone(files), func(f fileSpan) bool { return f.readings == 0 })
	slices.SortStableFunc(withReadings, func(a, b fileSpan) int { return cmp.Or(cmp.Compare(a.first, b.first), cmp.Compare(a.seq, b.seq)) })
	end := int64(math.MinInt64)
	var interval int64
	for i, f := range withReadings {
		if f.interval > 0 {
			interval = f.interval
		}
		if i > 0 && interval > 0 && f.first-end > 2*interval {
			gaps = append(gaps, timeGap(end, f.first, api.GapBetweenFiles, f.seq))
		}
		end = max(end, f.last)
	}
	slices.SortStableFunc(gaps, func(a, b api.TimeGap) int { return a.From.Compare(b.From) })
	out.TimeGapsTotal = len(gaps)
	if gaps != nil {
		out.TimeGaps = lastN(gaps, api.MaxStatusGaps)
	}
	return out, nil
}

func timeGap(from, to int64, where string, seq uint64) api.TimeGap {
	return api.TimeGap{From: msTime(from), To: msTime(to), Seconds: float64(to-from) / 1000, Where: where, Sequence: seq}
}

// lastN keeps the n most recent (last) entries.
func lastN[T any](s []T, n int) []T {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

func lossInfo(l store.Loss) api.Loss {
	return api.Loss{FirstSequence: l.FirstSequence, LastSequence: l.LastSequence, From: l.From.UTC(), To: l.To.UTC(),
		Files: l.Files, Reason: l.Reason, ReportedAt: timePtr(l.ReportedAt)}
}

// seqRange is an inclusive range of sequence numbers.
type seqRange struct{ first, last uint64 }

// mergeLosses turns reported losses into disjoint ranges of sequence numbers, in order.
func mergeLosses(losses []store.Loss) []seqRange {
	var out []seqRange
	for _, l := range losses { // ordered by first sequence
		if n := len(out); n > 0 && l.FirstSequence <= out[n-1].last+1 {
			out[n-1].last = max(out[n-1].last, l.LastSequence)
			continue
		}
		out = append(out, seqRange{l.FirstSequence, l.LastSequence})
	}
	return out
}

// coveredBy reports whether reported losses account for every sequence of [first, last].
func coveredBy(ranges []seqRange, first, last uint64) bool {
	for _, r := range ranges {
		if r.first <= first && last <= r.last {
			return true
		}
	}
	return false
}

// lossReasonPattern is what a device may give as a loss reason: a short identifier.
var lossReasonPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// ReportLosses records files a device dropped from its spool without sending them. A loss is
// identified by its first sequence: reporting it again changes nothing.
func (s *Service) ReportLosses(ctx context.Context, u *uploader, req api.LossReport) (recorded, duplicates int, err error) {
	if len(req.Losses) == 0 {
		return 0, 0, invalid("losses", "must list at least one loss")
	}
	if len(req.Losses) > api.MaxLossesPerReport {
		return 0, 0, invalid("losses", "at most %d losses per report", api.MaxLossesPerReport)
	}
	losses := make([]store.Loss, len(req.Losses))
	for i, l := range req.Losses {
		field := func(name string) string { return fmt.Sprintf("losses[%d].%s", i, name) }
		switch {
		case l.FirstSequence > math.MaxInt64 || l.LastSequence > math.MaxInt64:
			return 0, 0, invalid(field("last_sequence"), "must be at most %d", int64(math.MaxInt64))
		case l.LastSequence < l.FirstSequence:
			return 0, 0, invalid(field("last_sequence"), "must not be below first_sequence")
		case l.Files < 1 || uint64(l.Files) > l.LastSequence-l.FirstSequence+1:
			return 0, 0, invalid(field("files"), "must be from 1 to the number of sequences in the range")
		case l.From.IsZero() || l.To.IsZero() || l.To.Before(l.From):
			return 0, 0, invalid(field("to"), "from and to must be set, to not before from")
		case !lossReasonPattern.MatchString(l.Reason):
			return 0, 0, invalid(field("reason"), "must be a short identifier such as %s", api.LossReasonSpoolFull)
		}
		losses[i] = store.Loss{DeviceID: u.id, FirstSequence: l.FirstSequence, LastSequence: l.LastSequence,
			From: l.From.UTC().Truncate(time.Microsecond), To: l.To.UTC().Truncate(time.Microsecond), Files: l.Files, Reason: l.Reason}
	}
	n, err := s.st.ReportLosses(ctx, u.accountID, u.id, losses, s.nowUTC())
	if err != nil {
		return 0, 0, err
	}
	if n > 0 {
		s.log.Warn("device reported lost files", "account", u.accountID, "device", u.id, "serial", u.serial, "losses", n)
	}
	return n, len(losses) - n, nil
}
