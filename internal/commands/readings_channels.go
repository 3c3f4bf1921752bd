package commands

import (
	"context"
	"errors"
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
		found, err := aggregatedChannels(ctx, c, q, missing)
		if unknownChannel(err) && len(missing) > 1 {
			// The server refuses a query naming a channel its devices never recorded: ask
			// for each channel alone to learn which.
			found, err = nil, nil
			for _, ch := range missing {
				one, oneErr := aggregatedChannels(ctx, c, q, []string{ch})
				if oneErr != nil && !unknownChannel(oneErr) {
					return oneErr
				}
				found = append(found, one...)
			}
		}
		if err != nil && !unknownChannel(err) {
			return err
		}
		for _, ch := range found {
			missing = slices.DeleteFunc(missing, func(m string) bool { return m == ch })
			if !slices.Contains(known, ch) {
				known = append(known, ch)
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

// aggregatedChannels returns which of channels have readings in q's range, from their daily
// aggregates, which the server computes from those channels only.
func aggregatedChannels(ctx context.Context, c *client.Client, q client.ReadingsQuery, channels []string) ([]string, error) {
	probe := q
	probe.Channels, probe.Interval, probe.Limit = channels, api.IntervalDay, api.MaxReadingsLimit
	var found []string
	for page, err := range c.ReadingsPages(ctx, probe) {
		if err != nil {
			return found, err
		}
		for _, r := range page.Aggregates {
			if !slices.Contains(found, r.Channel) {
				found = append(found, r.Channel)
			}
		}
		if len(found) == len(channels) {
			break
		}
	}
	return found, nil
}

// unknownChannel reports whether the server refused a query for a channel that none of its
// devices ever recorded (422 on the channel parameter).
func unknownChannel(err error) bool {
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Code() != api.CodeValidationFailed {
		return false
	}
	return slices.ContainsFunc(ce.Problem.Errors, func(fe api.FieldError) bool { return fe.Field == "channel" })
}

// quoteList writes "a", "b".
func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
