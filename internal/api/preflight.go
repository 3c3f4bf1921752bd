package api

import "time"

// Routes of the preflight runs installers send to a site and of the site's status, under
// PathSites + "/{id}".
const (
	// SitePreflightSuffix follows a site's path: POST /v1/sites/{id}/preflight sends a run.
	SitePreflightSuffix = "/preflight"
	// SiteStatusSuffix follows a site's path: GET /v1/sites/{id}/status.
	SiteStatusSuffix = "/status"
)

// PrefixPreflightRun starts the id of a preflight run kept by the platform.
const PrefixPreflightRun = "pfr_"

// Limits of the preflight and site status routes.
const (
	// MaxPreflightRunBytes bounds the document POST /v1/sites/{id}/preflight accepts (413
	// beyond): the size the installer's laptop keeps a run at.
	MaxPreflightRunBytes = 1 << 20
	// MaxPreflightChecks bounds the results of one run.
	MaxPreflightChecks = 64
	// PreflightSchemaVersion is the version of the preflight document (`smartx preflight -o
	// json`) this API reads.
	PreflightSchemaVersion = 1
	// SiteStatusSilentAfter is how long a device in service may go without contacting the
	// platform before its site's status asks for attention. A Smart X sends its files every
	// few minutes, so two hours of silence is an outage, not a slow link.
	SiteStatusSilentAfter = 2 * time.Hour
	// SiteStatusRecent is the window of a site's status: spool losses reported and
	// communication gaps that ended within it ask for attention; older ones are history.
	SiteStatusRecent = 7 * 24 * time.Hour
	// SiteStatusPreflightRuns bounds the runs a site's status reads to find the latest of
	// each device.
	SiteStatusPreflightRuns = 100
)

// PreflightCounts tallies a run's checks by status, as the document's counts do.
type PreflightCounts struct {
	OK    int `json:"ok"`
	Warn  int `json:"warn"`
	Fail  int `json:"fail"`
	Skip  int `json:"skip"`
	Error int `json:"error"`
}

// PreflightCheck is one check of a run: its id and title, its status (ok, warn, fail, skip
// or error), what was seen and, when it did not pass, what to do and the firewall rule to ask
// IT for.
type PreflightCheck struct {
	ID      string `json:"id"`
	Title   string `json:"title,omitempty"`
	Status  string `json:"status"`
	Summary string `json:"summary,omitempty"`
	Hint    string `json:"hint,omitempty"`
	Rule    string `json:"rule,omitempty"`
}

// PreflightUploader is the user whose token sent a run.
type PreflightUploader struct {
	UserID string `json:"user_id"`
	// Email is empty when the user was deleted since.
	Email string `json:"email,omitempty"`
}

// PreflightRun is a preflight run kept by the platform for a site: when and where it ran, who
// sent it from which network, and how each check went. The answer of POST
// /v1/sites/{id}/preflight, and the runs of a site's status.
type PreflightRun struct {
	ID     string `json:"id"`
	SiteID string `json:"site_id"`
	// GeneratedAt is when the checks ran, by the laptop's clock.
	GeneratedAt time.Time `json:"generated_at"`
	// UploadedAt is when the platform received the run.
	UploadedAt time.Time         `json:"uploaded_at"`
	UploadedBy PreflightUploader `json:"uploaded_by"`
	// SourceIP is the address the upload came from, as the server saw the connection: the
	// site's public address when the run was sent from the site.
	SourceIP string `json:"source_ip"`
	// LocalIP is the laptop's address on the site's network, from the document.
	LocalIP string `json:"local_ip,omitempty"`
	// Hostname and SmartxVersion say which laptop and which smartx ran the checks.
	Hostname      string `json:"hostname,omitempty"`
	SmartxVersion string `json:"smartx_version,omitempty"`
	// Site is the site name the document was written for; Serial and Installer are the
	// document's, when given.
	Site      string `json:"site,omitempty"`
	Serial    string `json:"serial,omitempty"`
	Installer string `json:"installer,omitempty"`
	// Host is the platform the checks tested.
	Host   string          `json:"host"`
	Counts PreflightCounts `json:"counts"`
	// Failed is true when a check failed or could not run (fail or error).
	Failed      bool             `json:"failed"`
	Interrupted bool             `json:"interrupted,omitempty"`
	Checks      []PreflightCheck `json:"checks"`
	// Duplicate is true in the answer of an upload when the platform already kept this very
	// run for the site: nothing was stored again.
	Duplicate bool `json:"duplicate,omitempty"`
}

// SiteDevice is one device in service of a site, as its site's status sums it up.
type SiteDevice struct {
	DeviceID string `json:"device_id"`
	Serial   string `json:"serial"`
	// LastContactAt is the last upload, accepted or refused, or loss report; absent: never.
	LastContactAt *time.Time `json:"last_contact_at,omitempty"`
	LastUploadAt  *time.Time `json:"last_upload_at,omitempty"`
	LastReadingAt *time.Time `json:"last_reading_at,omitempty"`
	// LastRejection is the last refused upload, if any.
	LastRejection *Rejection `json:"last_rejection,omitempty"`
	FilesReceived int64      `json:"files_received"`
	// MissingFiles counts the file numbers never received between received ones;
	// UnreportedMissingFiles those no loss report of the device explains.
	MissingFiles           int64 `json:"missing_files"`
	UnreportedMissingFiles int64 `json:"unreported_missing_files"`
	// LostFiles counts the files the device reported dropping from its full spool, and
	// RecentLosses / RecentLostFiles the losses reported within the status's window.
	LostFiles       int64 `json:"lost_files"`
	RecentLosses    int   `json:"recent_losses"`
	RecentLostFiles int64 `json:"recent_lost_files"`
	// TimeGaps counts the periods without readings (device status's time gaps); RecentGaps and
	// RecentGapSeconds those that ended within the window and their total length.
	TimeGaps         int     `json:"time_gaps"`
	RecentGaps       int     `json:"recent_gaps"`
	RecentGapSeconds float64 `json:"recent_gap_seconds"`
	// LastGap is the most recent period without readings, if any.
	LastGap *TimeGap `json:"last_gap,omitempty"`
}

// AttentionKind names what in a site's status needs someone's attention.
type AttentionKind string

// What a site's status flags (docs/support.md says why each one counts).
const (
	AttentionPreflightFailed AttentionKind = "preflight_failed"  // the latest run for a device (or for none) has failed checks
	AttentionNeverSeen       AttentionKind = "device_never_seen" // a device in service never contacted the platform
	AttentionSilent          AttentionKind = "device_silent"     // no contact for more than SiteStatusSilentAfter
	AttentionUploadRefused   AttentionKind = "upload_refused"    // the device's last upload was refused, after its last accepted one
	AttentionFilesMissing    AttentionKind = "files_missing"     // files never received that no loss report explains
	AttentionSpoolLoss       AttentionKind = "spool_loss"        // files dropped from a full spool, reported within the window
	AttentionGap             AttentionKind = "communication_gap" // a period without readings that ended within the window
)

// AllAttentionKinds lists every kind, for documentation and tests.
var AllAttentionKinds = []AttentionKind{AttentionPreflightFailed, AttentionNeverSeen, AttentionSilent, AttentionUploadRefused,
	AttentionFilesMissing, AttentionSpoolLoss, AttentionGap}

// Attention is one thing of a site that needs someone's attention, said in one line.
type Attention struct {
	Kind AttentionKind `json:"kind"`
	// DeviceID and Serial name the device concerned, if any; PreflightRunID the run.
	DeviceID       string `json:"device_id,omitempty"`
	Serial         string `json:"serial,omitempty"`
	PreflightRunID string `json:"preflight_run_id,omitempty"`
	Detail         string `json:"detail"`
}

// SiteStatus is the answer of GET /v1/sites/{id}/status: what support looks at when a
// customer calls. Ages and windows count from At, the server's time of the answer.
type SiteStatus struct {
	Site Site      `json:"site"`
	At   time.Time `json:"at"`
	// SilentAfterSeconds and RecentSeconds are the thresholds the attention list used.
	SilentAfterSeconds int64 `json:"silent_after_seconds"`
	RecentSeconds      int64 `json:"recent_seconds"`
	// Preflight holds the latest run kept for each device serial (and for runs made for no
	// device), newest first.
	Preflight []PreflightRun `json:"preflight"`
	// Devices are the site's devices in service, by serial.
	Devices []SiteDevice `json:"devices"`
	// Attention lists what needs attention; empty when all is well.
	Attention []Attention `json:"attention"`
}
