package commands

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/client"
)

// channelProbeRows is the size of the first page that tells which channels exist: a 7-channel
// device has all of them in its first few timestamps.
const channelProbeRows = 1000

// queryChannels returns the channels with readings in q's range and whether that is all of
// them: the first JSON page of the query (no channel filter) names them, unless the range
// holds more than that page. Completion and the --channel check share it.
func queryChannels(ctx context.Context, c *client.Client, q client.ReadingsQuery) (names []string, complete bool, err error) {
	q.Channels, q.Interval, q.Limit = nil, api.IntervalRaw, channelProbeRows
	for page, err := range c.ReadingsPages(ctx, q) {
		if err != nil {
			return nil, false, err
		}
		for _, r := range page.Readings {
			if !slices.Contains(names, r.Channel) {
				names = append(names, r.Channel)
			}
		}
		return names, page.NextCursor == "", nil
	}
	return names, true, nil
}

// checkChannels refuses a --channel that names no channel of the device or site in the range,
// saying which exist, before anything is written: a typo would otherwise give an empty export.
// The first page usually settles it; when it does not (a long range, a site of devices with
// different channels), the daily aggregates of the channels not seen yet do, which the
// server computes from those channels only.
func checkChannels(ctx context.Context, c *client.Client, q client.ReadingsQuery, whose string) error {
	if len(q.Channels) == 0 {
		return nil
	}
	known, complete, err := queryChannels(ctx, c, q)
	if err != nil || len(known) == 0 {
		return err // no readings at all in the range: nothing to check against
	}
	var missing []string
	for _, ch := range q.Channels {
		if !slices.Contains(known, ch) {
			missing = append(missing, ch)
		}
	}
	if len(missing) > 0 && !complete {
		probe := q
		probe.Channels, probe.Interval, probe.Limit = missing, api.IntervalDay, api.MaxReadingsLimit
		for page, err := range c.ReadingsPages(ctx, probe) {
			if err != nil {
				return err
			}
			for _, r := range page.Aggregates {
				missing = slices.DeleteFunc(missing, func(ch string) bool { return ch == r.Channel })
				if !slices.Contains(known, r.Channel) {
					known = append(known, r.Channel)
				}
			}
			if len(missing) == 0 {
				break
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	noun := "channel"
	if len(missing) > 1 {
		noun = "channels"
	}
	return usageErrorf("--channel: %s has no %s %s from %s to %s: it has %s", whose, noun, quoteList(missing),
		q.From.UTC().Format(time.RFC3339), q.To.UTC().Format(time.RFC3339), strings.Join(known, ", "))
}

// quoteList writes "a", "b".
func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
