package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/store"
)

// SiteStatus is what support looks at when a customer calls, in one answer: the latest
// preflight run of each device (and of runs made for no device), each device in service with
// its last contact, missing files, spool losses and communication gaps, and the list of what
// needs attention (api.AttentionKind; docs/support.md says why each one counts).
func (s *Service) SiteStatus(ctx context.Context, caller store.Token, siteID string) (api.SiteStatus, error) {
	site, err := s.Site(ctx, caller, siteID)
	if err != nil {
		return api.SiteStatus{}, err
	}
	now := s.nowUTC()
	out := api.SiteStatus{Site: siteInfo(site), At: now, SilentAfterSeconds: int64(api.SiteStatusSilentAfter / time.Second),
		RecentSeconds: int64(api.SiteStatusRecent / time.Second), Devices: []api.SiteDevice{}, Attention: []api.Attention{}}
	if out.Preflight, err = s.latestPreflightRuns(ctx, caller.AccountID, siteID); err != nil {
		return api.SiteStatus{}, err
	}
	for _, run := range out.Preflight {
		if run.Failed {
			out.Attention = append(out.Attention, preflightAttention(run))
		}
	}
	devs, err := s.listDevices(ctx, store.DeviceFilter{AccountID: caller.AccountID, SiteID: siteID})
	if err != nil {
		return api.SiteStatus{}, err
	}
	for _, d := range devs {
		st, err := s.deviceStatus(ctx, d)
		if err != nil {
			return api.SiteStatus{}, err
		}
		sd := siteDevice(st, now)
		out.Devices = append(out.Devices, sd)
		out.Attention = append(out.Attention, deviceAttention(sd, d.CreatedAt, now)...)
	}
	return out, nil
}

// siteDevice sums a device's status up for its site's status, counting what happened since
// the window of SiteStatusRecent began.
func siteDevice(st api.DeviceStatus, now time.Time) api.SiteDevice {
	since := now.Add(-api.SiteStatusRecent)
	sd := api.SiteDevice{DeviceID: st.DeviceID, Serial: st.Serial, LastContactAt: st.LastContactAt, LastUploadAt: st.LastUploadAt,
		LastReadingAt: st.LastReadingAt, LastRejection: st.LastRejection, FilesReceived: st.FilesReceived, MissingFiles: st.MissingFiles,
		TimeGaps: st.TimeGapsTotal}
	for _, g := range st.SequenceGaps {
		if !g.Reported {
			sd.UnreportedMissingFiles += int64(g.Files)
		}
	}
	if st.SequenceGapsTotal > len(st.SequenceGaps) { // older runs, not listed: assume none is explained
		var listed int64
		for _, g := range st.SequenceGaps {
			listed += int64(g.Files)
		}
		sd.UnreportedMissingFiles += st.MissingFiles - listed
	}
	for _, l := range st.ReportedLosses {
		sd.LostFiles += l.Files
		if l.ReportedAt != nil && !l.ReportedAt.Before(since) {
			sd.RecentLosses++
			sd.RecentLostFiles += l.Files
		}
	}
	for _, g := range st.TimeGaps {
		if !g.To.Before(since) {
			sd.RecentGaps++
			sd.RecentGapSeconds += g.Seconds
		}
	}
	if n := len(st.TimeGaps); n > 0 {
		last := st.TimeGaps[n-1]
		sd.LastGap = &last
	}
	return sd
}

// preflightAttention is the attention a failed run asks for. It says when the run was made
// rather than how long ago: the table beside it gives the age.
func preflightAttention(run api.PreflightRun) api.Attention {
	var failing []string
	for _, c := range run.Checks {
		if c.Status == "fail" || c.Status == "error" {
			failing = append(failing, c.ID)
		}
	}
	of := "the site's latest preflight"
	if run.Serial != "" {
		of = "the latest preflight for " + run.Serial
	}
	by := run.UploadedBy.Email
	if by == "" {
		by = run.UploadedBy.UserID
	}
	return api.Attention{Kind: api.AttentionPreflightFailed, Serial: run.Serial, PreflightRunID: run.ID,
		Detail: fmt.Sprintf("%s (run %s UTC, sent by %s) has %s that failed or could not run: %s", of,
			run.GeneratedAt.UTC().Format("2006-01-02 15:04"), by, plural(len(failing), "check"), strings.Join(failing, ", "))}
}

// deviceAttention lists what a device of the site needs attention for.
func deviceAttention(d api.SiteDevice, registered, now time.Time) []api.Attention {
	var out []api.Attention
	add := func(kind api.AttentionKind, format string, args ...any) {
		out = append(out, api.Attention{Kind: kind, DeviceID: d.DeviceID, Serial: d.Serial, Detail: d.Serial + " " + fmt.Sprintf(format, args...)})
	}
	switch {
	case d.LastContactAt == nil && now.Sub(registered) > api.SiteStatusSilentAfter:
		add(api.AttentionNeverSeen, "has never contacted the platform (registered %s ago): check it is powered and connected, and run smartx preflight on its network",
			ago(now.Sub(registered)))
	case d.LastContactAt != nil && now.Sub(*d.LastContactAt) > api.SiteStatusSilentAfter:
		add(api.AttentionSilent, "has been silent for %s (more than %s)", ago(now.Sub(*d.LastContactAt)), ago(api.SiteStatusSilentAfter))
	}
	if r := d.LastRejection; r != nil && (d.LastUploadAt == nil || r.At.After(*d.LastUploadAt)) {
		why := string(r.Code)
		if r.Reason != "" {
			why += " " + string(r.Reason)
		}
		add(api.AttentionUploadRefused, "had its last upload refused %s ago (%s), and none accepted since", ago(now.Sub(r.At)), why)
	}
	if d.UnreportedMissingFiles > 0 {
		add(api.AttentionFilesMissing, "has %s the platform never received that the device did not report dropping",
			plural(d.UnreportedMissingFiles, "file"))
	}
	if d.RecentLosses > 0 {
		add(api.AttentionSpoolLoss, "reported dropping %s from its full spool in the last %s", plural(d.RecentLostFiles, "file"), ago(api.SiteStatusRecent))
	}
	if d.RecentGaps > 0 {
		add(api.AttentionGap, "has %s without readings that ended in the last %s (%s in all)", plural(d.RecentGaps, "period"),
			ago(api.SiteStatusRecent), ago(time.Duration(d.RecentGapSeconds*float64(time.Second))))
	}
	return out
}

// ago says a duration coarsely, as support reads it: "40m", "5h10m", "3 days".
func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "less than a minute"
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		h, m := int(d.Hours()), int(d.Minutes())%60
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%dm", h, m)
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

// plural says "1 file", "2 files".
func plural[N int | int64](n N, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func (s *Server) handleSiteStatus(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	st, err := s.svc.SiteStatus(r.Context(), caller, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}
