package commands

import (
	"bytes"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/ui"
)

// sampleSiteStatus is a site with one of each thing support looks for; times are fixed so the
// rendering is stable.
func sampleSiteStatus() api.SiteStatus {
	at := time.Date(2026, 5, 1, 14, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) *time.Time { t := at.Add(-d); return &t }
	return api.SiteStatus{
		Site: api.Site{ID: "sit_hemvxrcdx6rirj2w", Name: "Lyon warehouse", TimeZone: "Europe/Paris"},
		At:   at, SilentAfterSeconds: 7200, RecentSeconds: 7 * 86400,
		Preflight: []api.PreflightRun{
			{ID: "pfr_a", GeneratedAt: *ago(26 * time.Hour), UploadedBy: api.PreflightUploader{UserID: "usr_1", Email: "ines@example.com"},
				SourceIP: "203.0.113.7", LocalIP: "192.168.10.23", Serial: "SX-00042", Counts: api.PreflightCounts{OK: 6, Warn: 1, Fail: 1},
				Failed: true, Checks: []api.PreflightCheck{
					{ID: "dns", Status: "ok", Summary: "smartx.smart-impulse.com -> 178.33.106.9"},
					{ID: "tcp-https", Status: "fail", Summary: "connection to 178.33.106.9:443 refused",
						Hint: "a firewall rejects the connection: ask IT for the rule below",
						Rule: "allow TCP from <device> to 178.33.106.9 (smartx.smart-impulse.com) port 443"},
					{ID: "ntp", Status: "warn", Summary: "offset 2.1 s", Hint: "check the laptop's clock"},
				}},
			{ID: "pfr_b", GeneratedAt: *ago(50 * time.Hour), UploadedBy: api.PreflightUploader{UserID: "usr_2"}, SourceIP: "203.0.113.7",
				Counts: api.PreflightCounts{OK: 8}},
		},
		Devices: []api.SiteDevice{
			{DeviceID: "dev_1", Serial: "SX-00042", LastContactAt: ago(5 * time.Hour), FilesReceived: 120, MissingFiles: 14,
				UnreportedMissingFiles: 1, LostFiles: 13, RecentLosses: 1, RecentLostFiles: 13, TimeGaps: 2, RecentGaps: 1, RecentGapSeconds: 39600},
			{DeviceID: "dev_2", Serial: "SX-00043", LastContactAt: ago(3 * time.Minute), FilesReceived: 7,
				LastRejection: &api.Rejection{At: *ago(3 * time.Minute), Code: api.CodeFileRejected, Reason: api.RejectWrongKey}},
			{DeviceID: "dev_3", Serial: "SX-00044"},
		},
		Attention: []api.Attention{
			{Kind: api.AttentionPreflightFailed, Serial: "SX-00042", Detail: "the latest preflight for SX-00042 (run 2026-04-30 12:00 UTC, sent by ines@example.com) has 1 check that failed or could not run: tcp-https"},
			{Kind: api.AttentionSilent, Serial: "SX-00042", Detail: "SX-00042 has been silent for 5h (more than 2h)"},
			{Kind: api.AttentionSpoolLoss, Serial: "SX-00042", Detail: "SX-00042 reported dropping 13 files from its full spool in the last 7 days"},
		},
	}
}

func TestRenderSiteStatusGolden(t *testing.T) {
	tests := []struct {
		name   string
		status api.SiteStatus
		color  bool
	}{
		{"site-status.golden", sampleSiteStatus(), false},
		{"site-status-color.golden", sampleSiteStatus(), true},
		{"site-status-empty.golden", api.SiteStatus{Site: api.Site{ID: "sit_new", Name: "New site"}, At: time.Date(2026, 5, 1, 14, 0, 0, 0, time.UTC),
			RecentSeconds: 7 * 86400}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := renderSiteStatus(&buf, ui.NewStyles(&buf, tt.color), tt.status, 0); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name, buf.Bytes())
		})
	}
}
