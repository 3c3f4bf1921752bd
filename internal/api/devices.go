package api

import (
	"encoding/json"
	"time"
)

// Paths of the sites, devices, ingest and readings routes. Routes on one resource append
// "/{id}" and, for devices, the action ("/{id}/key", "/{id}/status"...).
const (
	PathSites        = "/v1/sites"
	PathDevices      = "/v1/devices"
	PathIngest       = "/v1/ingest"
	PathIngestLosses = "/v1/ingest/losses"
	PathReadings     = "/v1/readings"
)

// Media types besides JSON.
const (
	// OctetStreamContentType is the body of POST /v1/ingest: a data file as the device wrote it.
	OctetStreamContentType = "application/octet-stream"
	// CSVContentType is the streamed CSV export of GET /v1/readings.
	CSVContentType = "text/csv"
	// NDJSONContentType is the streamed newline-delimited JSON export of GET /v1/readings.
	NDJSONContentType = "application/x-ndjson"
)

// DeviceCredentialPrefix starts every device upload credential: "sxd_<device id>_<secret>".
// The device id inside lets the server find the device without a search; the secret is 256
// random bits. Like API tokens, the server keeps only a salted SHA-256 of the credential.
const DeviceCredentialPrefix = "sxd_"

// Limits of the sites and devices API.
const (
	MaxSiteNameBytes    = 200
	MaxSiteAddressBytes = 500
	MaxSerialBytes      = 64 // the data file format's limit
	// MaxUploadBytes is the largest data file POST /v1/ingest accepts (413 beyond).
	MaxUploadBytes = 32 << 20
	// MaxLossesPerReport bounds the losses of one POST /v1/ingest/losses.
	MaxLossesPerReport = 1000
	// DefaultReadingsLimit and MaxReadingsLimit bound a JSON page of GET /v1/readings.
	DefaultReadingsLimit = 1000
	MaxReadingsLimit     = 10000
	// DefaultReadingsSpan is how far back `from` goes when a readings query omits it.
	DefaultReadingsSpan = 24 * time.Hour
	// MaxStatusGaps bounds each gap list of a device status (the most recent are kept; the
	// totals count them all).
	MaxStatusGaps = 1000
)

// Site is a building where devices are installed. Its time zone places the daily buckets of
// the readings API.
type Site struct {
	ID      string `json:"id"`
	Name    string `json:"name"` // unique within the account
	Address string `json:"address"`
	// TimeZone is an IANA time zone name such as "Europe/Paris"; "UTC" by default.
	TimeZone  string    `json:"time_zone"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// CreateSiteRequest is the body of POST /v1/sites.
type CreateSiteRequest struct {
	Name     string `json:"name"`
	Address  string `json:"address,omitempty"`
	TimeZone string `json:"time_zone,omitempty"` // default "UTC"
}

// UpdateSiteRequest is the body of PATCH /v1/sites/{id}; absent fields keep their value.
type UpdateSiteRequest struct {
	Name     *string `json:"name,omitempty"`
	Address  *string `json:"address,omitempty"`
	TimeZone *string `json:"time_zone,omitempty"`
}

// SiteList is the body of GET /v1/sites, ordered by name.
type SiteList struct {
	Sites []Site `json:"sites"`
}

// NetworkMode says how a device gets its address.
type NetworkMode string

// The network modes.
const (
	NetworkDHCP   NetworkMode = "dhcp"
	NetworkStatic NetworkMode = "static"
)

// NetworkSettings are a device's network settings as provisioned. The server checks their
// shape (each field parses as what it claims to be); whether they work on site is what
// `smartx preflight` checks.
type NetworkSettings struct {
	Mode NetworkMode `json:"mode"`
	// Address is the static address with its prefix length, such as "192.0.2.10/24" (static
	// mode only).
	Address string `json:"address,omitempty"`
	// Gateway is the default gateway's IP address (static mode only).
	Gateway string `json:"gateway,omitempty"`
	// DNS lists name servers' IP addresses (at most 4).
	DNS []string `json:"dns,omitempty"`
	// Proxy is an http:// or https:// proxy URL the device must use, if any.
	Proxy string `json:"proxy,omitempty"`
	// NTP is the time server's host name or IP address, if not the default.
	NTP string `json:"ntp,omitempty"`
}

// Device is a Smart X meter registered to a site.
type Device struct {
	ID     string `json:"id"`
	SiteID string `json:"site_id"`
	// Serial is the serial printed on the device and written in its data files, e.g.
	// "SX-00042"; unique among the account's devices in service.
	Serial  string          `json:"serial"`
	Network NetworkSettings `json:"network"`
	// CurrentKeyID is the id of the key the device encrypts new files with.
	CurrentKeyID     uint32     `json:"current_key_id"`
	CreatedAt        time.Time  `json:"created_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
	Decommissioned   bool       `json:"decommissioned"`
	DecommissionedAt *time.Time `json:"decommissioned_at,omitempty"`
	// LastContactAt is the device's last upload (accepted or not) or loss report.
	LastContactAt *time.Time `json:"last_contact_at,omitempty"`
}

// CreateDeviceRequest is the body of POST /v1/devices.
type CreateDeviceRequest struct {
	Serial string `json:"serial"`
	SiteID string `json:"site_id"`
	// Network defaults to {"mode": "dhcp"}.
	Network *NetworkSettings `json:"network,omitempty"`
}

// DeviceList is the body of GET /v1/devices, ordered by serial.
type DeviceList struct {
	Devices []Device `json:"devices"`
}

// DeviceKey is one of a device's AES-256 data file keys, as 64 hexadecimal characters.
type DeviceKey struct {
	KeyID     uint32    `json:"key_id"`
	Key       string    `json:"key"`
	CreatedAt time.Time `json:"created_at"`
	// Current marks the key new files are written with (the highest key id).
	Current bool `json:"current"`
}

// ProvisionedDevice is the answer of POST /v1/devices: the device, its first key (key id 1)
// and its upload credential. The credential is shown this once; the key can be fetched again
// with scope devices:keys.
type ProvisionedDevice struct {
	Device     Device    `json:"device"`
	Key        DeviceKey `json:"key"`
	Credential string    `json:"credential"`
	// FirstSequence, after a replacement, is the sequence number the new unit's first file
	// must carry: the numbers before it are the old unit's files, kept in the history.
	FirstSequence uint64 `json:"first_sequence,omitempty"`
}

// ReplaceDeviceRequest is the body of POST /v1/devices/{id}/replace: the serial of the unit
// that takes the device's place (same site, same history).
type ReplaceDeviceRequest struct {
	Serial string `json:"serial"`
}

// DeviceCredential is the answer of POST /v1/devices/{id}/credential: a new upload credential,
// shown this once, which replaces the previous one at once.
type DeviceCredential struct {
	DeviceID   string    `json:"device_id"`
	Credential string    `json:"credential"`
	CreatedAt  time.Time `json:"created_at"`
}

// DeviceKeys is the answer of GET /v1/devices/{id}/key: every key the device has had, oldest
// first, so files written under an old key can still be decoded.
type DeviceKeys struct {
	DeviceID string      `json:"device_id"`
	Serial   string      `json:"serial"`
	Keys     []DeviceKey `json:"keys"`
}

// RotatedKey is the answer of POST /v1/devices/{id}/rotate-key: the new current key, shown
// with its id; older keys stay valid for ingest and decoding.
type RotatedKey struct {
	DeviceID string    `json:"device_id"`
	Key      DeviceKey `json:"key"`
}

// IngestResponse is the answer of POST /v1/ingest, sent only once the file and its readings
// are committed: the device may delete its copy then. Duplicate is true when the same file
// (same bytes) had been stored before; nothing was stored again.
type IngestResponse struct {
	DeviceID  string `json:"device_id"`
	Sequence  uint64 `json:"sequence"`
	Readings  int64  `json:"readings"`
	Duplicate bool   `json:"duplicate"`
}

// RejectReason names the damage class of a data file the server refused (Problem.Reason with
// CodeFileRejected). The device should not send such a file again: it will be refused again.
type RejectReason string

// The damage classes, after internal/aescodec's errors (docs/file-format.md section 8).
const (
	RejectWrongKey           RejectReason = "wrong_key"           // not encrypted with one of the device's keys
	RejectTruncated          RejectReason = "truncated"           // the file ends before its final chunk
	RejectChunkCorrupt       RejectReason = "chunk_corrupt"       // a chunk failed authentication or is badly framed
	RejectHeaderTampered     RejectReason = "header_tampered"     // the header failed authentication
	RejectHeaderMalformed    RejectReason = "header_malformed"    // the header cannot be parsed
	RejectNotADataFile       RejectReason = "not_a_data_file"     // no Smart X magic
	RejectUnsupportedVersion RejectReason = "unsupported_version" // a format version this server cannot read
	RejectTrailingData       RejectReason = "trailing_data"       // bytes follow the final chunk
	RejectPayloadMalformed   RejectReason = "payload_malformed"   // authenticated but undecodable records
)

// AllRejectReasons lists every reason, for documentation and tests.
var AllRejectReasons = []RejectReason{RejectWrongKey, RejectTruncated, RejectChunkCorrupt, RejectHeaderTampered,
	RejectHeaderMalformed, RejectNotADataFile, RejectUnsupportedVersion, RejectTrailingData, RejectPayloadMalformed}

// LossReasonSpoolFull is the reason a device gives for files it dropped because its spool
// (about a month of files) was full.
const LossReasonSpoolFull = "spool_full"

// Loss is a run of files a device dropped without sending them, as it reports it.
type Loss struct {
	FirstSequence uint64    `json:"first_sequence"`
	LastSequence  uint64    `json:"last_sequence"`
	From          time.Time `json:"from"`
	To            time.Time `json:"to"`
	Files         int64     `json:"files"`
	Reason        string    `json:"reason"`
	// ReportedAt is set by the server (ignored in a report).
	ReportedAt *time.Time `json:"reported_at,omitempty"`
}

// LossReport is the body of POST /v1/ingest/losses. A loss is identified by its
// first_sequence: reporting it again changes nothing, unless the report extends it (a higher
// last_sequence, as when a device whose acknowledgement was lost grew the record since).
type LossReport struct {
	Losses []Loss `json:"losses"`
}

// LossReportResponse is the answer of POST /v1/ingest/losses.
type LossReportResponse struct {
	DeviceID   string `json:"device_id"`
	Recorded   int    `json:"recorded"`   // new losses
	Duplicates int    `json:"duplicates"` // losses already reported
}

// DeviceStatus is the answer of GET /v1/devices/{id}/status: what arrived from the device and
// what did not. Gaps are the platform's monitoring of communication losses.
type DeviceStatus struct {
	DeviceID       string `json:"device_id"`
	Serial         string `json:"serial"`
	SiteID         string `json:"site_id"`
	Decommissioned bool   `json:"decommissioned"`
	// LastContactAt is the last upload, accepted or refused, or loss report.
	LastContactAt *time.Time `json:"last_contact_at,omitempty"`
	// LastUploadAt is the last accepted upload.
	LastUploadAt *time.Time `json:"last_upload_at,omitempty"`
	// LastRejection is the last refused upload, if any.
	LastRejection *Rejection `json:"last_rejection,omitempty"`
	// LastSequence is the highest file sequence received.
	LastSequence     *uint64    `json:"last_sequence,omitempty"`
	FilesReceived    int64      `json:"files_received"`
	ReadingsReceived int64      `json:"readings_received"`
	FirstReadingAt   *time.Time `json:"first_reading_at,omitempty"`
	LastReadingAt    *time.Time `json:"last_reading_at,omitempty"`
	// MissingFiles counts the sequence numbers missing between the first and last received.
	MissingFiles int64 `json:"missing_files"`
	// SequenceGaps are runs of missing sequence numbers, oldest first (the most recent
	// MaxStatusGaps; SequenceGapsTotal counts them all).
	SequenceGaps      []SequenceGap `json:"sequence_gaps"`
	SequenceGapsTotal int           `json:"sequence_gaps_total"`
	// TimeGaps are periods over twice the sampling interval without a reading, inside a file
	// or between consecutive files, oldest first (the most recent MaxStatusGaps).
	TimeGaps      []TimeGap `json:"time_gaps"`
	TimeGapsTotal int       `json:"time_gaps_total"`
	// ReportedLosses are the spool losses the device reported, oldest first.
	ReportedLosses []Loss `json:"reported_losses"`
}

// Rejection is a refused upload.
type Rejection struct {
	At     time.Time    `json:"at"`
	Code   Code         `json:"code"`
	Reason RejectReason `json:"reason,omitempty"`
}

// SequenceGap is a run of file sequence numbers the server never received, between two files
// it did. From and To are the last reading of the file before and the first reading of the
// file after: the period the missing files should have covered.
type SequenceGap struct {
	FirstSequence uint64     `json:"first_sequence"`
	LastSequence  uint64     `json:"last_sequence"`
	Files         uint64     `json:"files"`
	From          *time.Time `json:"from,omitempty"`
	To            *time.Time `json:"to,omitempty"`
	// Reported is true when a loss report of the device covers the whole run.
	Reported bool `json:"reported"`
}

// Where a time gap lies.
const (
	GapInsideFile   = "inside_file"
	GapBetweenFiles = "between_files"
)

// TimeGap is a period without readings longer than twice the device's sampling interval:
// From is the last reading before, To the first reading after.
type TimeGap struct {
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Seconds float64   `json:"seconds"`
	// Where is GapInsideFile or GapBetweenFiles.
	Where string `json:"where"`
	// Sequence is the file the gap is in, or the file after it (between files).
	Sequence uint64 `json:"sequence"`
}

// Interval is the resolution of a readings query: raw readings or aggregates per bucket.
type Interval string

// The intervals. Buckets of 1m, 10m and 1h are aligned to UTC; 1d buckets start at midnight in
// the site's time zone (23 or 25 hours long on daylight-saving days).
const (
	IntervalRaw       Interval = "raw"
	IntervalMinute    Interval = "1m"
	Interval10Minutes Interval = "10m"
	IntervalHour      Interval = "1h"
	IntervalDay       Interval = "1d"
)

// AllIntervals lists the intervals in increasing order.
var AllIntervals = []Interval{IntervalRaw, IntervalMinute, Interval10Minutes, IntervalHour, IntervalDay}

// ReadingsFormat is a representation of GET /v1/readings, chosen by the format parameter or
// the Accept header.
type ReadingsFormat string

// The formats: a JSON page, or the whole range streamed as CSV or NDJSON.
const (
	FormatJSON   ReadingsFormat = "json"
	FormatCSV    ReadingsFormat = "csv"
	FormatNDJSON ReadingsFormat = "ndjson"
)

// ReadingRow is one raw reading: the row of the CSV and NDJSON exports (the columns of
// `smartx decode`) and of a JSON page. Device is the device's serial; Value is the exact
// decimal text of the measurement in Unit.
type ReadingRow struct {
	Time    time.Time   `json:"time"`
	Device  string      `json:"device"`
	Channel string      `json:"channel"`
	Value   json.Number `json:"value"`
	Unit    string      `json:"unit"`
}

// AggregateRow summarises one channel of one device over one bucket starting at Time: the mean
// (three more decimals than the channel's resolution), the exact minimum and maximum, and the
// number of readings.
type AggregateRow struct {
	Time    time.Time   `json:"time"`
	Device  string      `json:"device"`
	Channel string      `json:"channel"`
	Mean    json.Number `json:"mean"`
	Min     json.Number `json:"min"`
	Max     json.Number `json:"max"`
	Count   int64       `json:"count"`
	Unit    string      `json:"unit"`
}

// ReadingsPage is a JSON page of GET /v1/readings: readings (interval raw) or aggregates
// (other intervals). NextCursor fetches the next page with the same query; it is "" on the
// last page.
type ReadingsPage struct {
	Interval   Interval       `json:"interval"`
	Readings   []ReadingRow   `json:"readings,omitempty"`
	Aggregates []AggregateRow `json:"aggregates,omitempty"`
	NextCursor string         `json:"next_cursor"`
}
