package preflight

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// SchemaVersion is the version of the JSON contract of Report and Result. It
// changes only when a field is removed or changes meaning.
const SchemaVersion = 1

// Status is the outcome of one check, serialised as a flat string.
type Status string

// The statuses a check can produce.
const (
	// StatusOK means the device will get through.
	StatusOK Status = "ok"
	// StatusWarn means the device will probably work but something deserves
	// attention (stale IP rule, transparent proxy, laptop clock...).
	StatusWarn Status = "warn"
	// StatusFail means the device will not work until the network is changed.
	StatusFail Status = "fail"
	// StatusSkip means the check was not run; Reason says why.
	StatusSkip Status = "skip"
	// StatusError means the check could not run (bad local setup,
	// interrupted); it says nothing about the site's network.
	StatusError Status = "error"
)

// passes reports whether a dependent check may run after this status.
func (s Status) passes() bool { return s == StatusOK || s == StatusWarn }

// severity orders statuses for "worst of" decisions.
func (s Status) severity() int {
	switch s {
	case StatusOK:
		return 0
	case StatusSkip:
		return 1
	case StatusWarn:
		return 2
	case StatusError:
		return 3
	case StatusFail:
		return 4
	default:
		return 5
	}
}

// Result is the outcome of one check. It is the unit of the JSON contract:
// the CLI prints one per line in NDJSON mode, and the report embeds them.
type Result struct {
	// ID is the stable check id, e.g. "dns".
	ID string `json:"id"`
	// Title is the display title, e.g. "DNS resolution".
	Title string `json:"title"`
	// Group clusters checks for display, e.g. "Reachability".
	Group string `json:"group"`
	// Status is one of ok, warn, fail, skip, error.
	Status Status `json:"status"`
	// Summary says in one line what was seen.
	Summary string `json:"summary"`
	// Hint tells the installer, in one line, what to do (non-ok only).
	Hint string `json:"hint,omitempty"`
	// Rule is the exact firewall rule (or exemption) to request from IT.
	Rule string `json:"rule,omitempty"`
	// Reason explains a skip or an error.
	Reason string `json:"reason,omitempty"`
	// Note is an informational remark that asks nothing of anyone (this
	// laptop's proxy variables, a fallback that worked); it may accompany any
	// status, an ok one included, and is never shown as a problem.
	Note string `json:"note,omitempty"`
	// Fault is "laptop" (FaultLaptop) when the check could not run because
	// of this laptop itself (its firewall, routes or network stack): nothing
	// reached the site's network, so IT has nothing to do. Empty otherwise.
	Fault string `json:"fault,omitempty"`
	// Duration is how long the check ran; DurationMS is its JSON form.
	Duration time.Duration `json:"-"`
	// DurationMS is Duration in milliseconds.
	DurationMS float64 `json:"duration_ms"`
	// Metrics are measured numbers; keys carry their unit (rtt_avg_ms,
	// loss_percent, offset_ms, stratum...).
	Metrics map[string]float64 `json:"metrics,omitempty"`
	// Evidence is what was observed: addresses, resolver, TLS version,
	// cipher, issuer, chain... Secrets are never stored here.
	Evidence map[string]string `json:"evidence,omitempty"`
}

// setMetric records a metric, creating the map on first use.
func (r *Result) setMetric(key string, v float64) {
	if r.Metrics == nil {
		r.Metrics = make(map[string]float64)
	}
	r.Metrics[key] = v
}

// setEvidence records a piece of evidence, ignoring empty values.
func (r *Result) setEvidence(key, v string) {
	if v == "" {
		return
	}
	if r.Evidence == nil {
		r.Evidence = make(map[string]string)
	}
	r.Evidence[key] = v
}

// ms converts a duration to milliseconds with microsecond resolution, the
// unit of every *_ms metric.
func ms(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}

// Counts holds how many results ended in each status.
type Counts struct {
	// OK counts ok results.
	OK int `json:"ok"`
	// Warn counts warn results.
	Warn int `json:"warn"`
	// Fail counts fail results.
	Fail int `json:"fail"`
	// Skip counts skip results.
	Skip int `json:"skip"`
	// Error counts error results (including interrupted checks).
	Error int `json:"error"`
}

func (c *Counts) add(s Status) {
	switch s {
	case StatusOK:
		c.OK++
	case StatusWarn:
		c.Warn++
	case StatusFail:
		c.Fail++
	case StatusSkip:
		c.Skip++
	case StatusError:
		c.Error++
	}
}

// Targets records what the run tested, as configured (the proxy with its
// credentials redacted).
type Targets struct {
	// Host is the platform name tested.
	Host string `json:"host"`
	// ExpectIP is the address the firewall rules use, if given.
	ExpectIP string `json:"expect_ip,omitempty"`
	// HTTPSPort is the platform's HTTPS port.
	HTTPSPort int `json:"https_port"`
	// HTTPPort is the platform's legacy HTTP port.
	HTTPPort int `json:"http_port"`
	// PingTarget is the ICMP echo target.
	PingTarget string `json:"ping_target"`
	// NTPServer is the NTP server as configured.
	NTPServer string `json:"ntp_server"`
	// DNSServer is the DNS server used; empty means the system resolver.
	DNSServer string `json:"dns_server,omitempty"`
	// Proxy is the proxy URL with credentials redacted.
	Proxy string `json:"proxy,omitempty"`
	// CAFile is the extra trust bundle, if any.
	CAFile string `json:"ca_file,omitempty"`
	// DeviceRootsOnly is true when the device trusts only CAFile.
	DeviceRootsOnly bool `json:"device_roots_only,omitempty"`
	// ExpectIssuer is the expected certificate issuer, if given.
	ExpectIssuer string `json:"expect_issuer,omitempty"`
	// Profile is current, legacy or all.
	Profile Profile `json:"profile"`
	// TimeoutMS is the per-check timeout in milliseconds.
	TimeoutMS float64 `json:"timeout_ms"`
	// Count is the number of ICMP echo requests.
	Count int `json:"count"`
	// HealthPath is the platform endpoint the health GETs ask.
	HealthPath string `json:"health_path"`
}

// LocalNetwork is what the laptop running the checks looks like on the
// network: "what was actually tested, from where".
type LocalNetwork struct {
	// Interface is the name of the interface the OS picks toward the
	// platform ("unknown" when it cannot be told).
	Interface string `json:"interface"`
	// SourceIP is the address the OS picks toward the platform.
	SourceIP string `json:"source_ip"`
	// Gateway is the default gateway ("unknown" when it cannot be told).
	Gateway string `json:"gateway"`
	// GatewayError says why Gateway is "unknown".
	GatewayError string `json:"gateway_error,omitempty"`
	// Resolvers are the DNS servers names were resolved through.
	Resolvers []string `json:"resolvers"`
	// ResolverSource says where Resolvers come from: "dns-server",
	// "/etc/resolv.conf" or "system".
	ResolverSource string `json:"resolver_source"`
	// ProxyEnv holds this laptop's proxy environment variables, with
	// credentials redacted. It is informational: the checks never use it.
	ProxyEnv map[string]string `json:"proxy_env,omitempty"`

	// sourceErr is why the OS gave no source address toward sourceTarget.
	sourceErr    error
	sourceTarget string
}

// Report is the outcome of a run: schema version, site, time, what was
// tested, from where, and one Result per selected check in display order.
type Report struct {
	// SchemaVersion is SchemaVersion (1).
	SchemaVersion int `json:"schema_version"`
	// Site is the site name given for the report.
	Site string `json:"site,omitempty"`
	// Serial is the serial of the device the checks were for, when given.
	Serial string `json:"serial,omitempty"`
	// Installer names who ran the checks and how to reach them, when given.
	Installer string `json:"installer,omitempty"`
	// Generated is when the report was made (from the injected clock).
	Generated time.Time `json:"generated"`
	// Run says from which laptop and with which smartx the checks ran; the
	// caller fills it in (Run leaves it empty).
	Run RunInfo `json:"run"`
	// Device describes the device whose own settings were used (--bundle).
	Device *DeviceInfo `json:"device,omitempty"`
	// Targets is what was tested, as configured.
	Targets Targets `json:"targets"`
	// Local is where it was tested from.
	Local LocalNetwork `json:"local"`
	// Flows are the flows the device needs for the profile.
	Flows []Flow `json:"flows"`
	// Results holds one result per selected check, in display order.
	Results []Result `json:"results"`
	// Counts tallies Results by status.
	Counts Counts `json:"counts"`
	// Duration is the wall time of the run.
	Duration time.Duration `json:"-"`
	// DurationMS is Duration in milliseconds.
	DurationMS float64 `json:"duration_ms"`
	// Interrupted is true when the context was cancelled before every
	// check finished.
	Interrupted bool `json:"interrupted,omitempty"`
}

// Failed reports whether the run should make the command fail: any fail or
// error result, and with strict also any warn. Skips never fail a run.
func (r Report) Failed(strict bool) bool {
	if r.Counts.Fail > 0 || r.Counts.Error > 0 {
		return true
	}
	return strict && r.Counts.Warn > 0
}

// ErrReportVersion is returned by ParseReport for a document of a newer schema.
var ErrReportVersion = errors.New("preflight result written by a newer smartx")

// ParseReport reads a run's JSON document (the -o json output, also what the history
// keeps) back into a Report, durations included, so it can be shown and rendered again.
func ParseReport(data []byte) (Report, error) {
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return Report{}, fmt.Errorf("not a preflight result document: %w", err)
	}
	switch {
	case r.SchemaVersion == 0:
		return Report{}, errors.New("not a preflight result document: no schema_version")
	case r.SchemaVersion > SchemaVersion:
		return Report{}, fmt.Errorf("%w (schema %d, this smartx reads %d): upgrade smartx", ErrReportVersion, r.SchemaVersion, SchemaVersion)
	}
	r.Duration = msDuration(r.DurationMS)
	for i := range r.Results {
		r.Results[i].Duration = msDuration(r.Results[i].DurationMS)
	}
	return r, nil
}

func msDuration(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

// Result returns the result of the check with the given id, if it ran.
func (r Report) Result(id string) (Result, bool) {
	for _, res := range r.Results {
		if res.ID == id {
			return res, true
		}
	}
	return Result{}, false
}

// RunInfo says where a run was made, so a stored or sent run still says it.
type RunInfo struct {
	// SmartxVersion is the version of smartx that ran the checks.
	SmartxVersion string `json:"smartx_version,omitempty"`
	// Hostname is the laptop's host name.
	Hostname string `json:"hostname,omitempty"`
	// OS is the laptop's platform, e.g. linux/amd64.
	OS string `json:"os,omitempty"`
}

// EventKind tells a started event from a finished one.
type EventKind string

// Event kinds.
const (
	EventStarted  EventKind = "started"
	EventFinished EventKind = "finished"
)

// Event is sent to Run's callback when a check starts and when it finishes
// (Result is set on finished events only).
type Event struct {
	// Kind is started or finished.
	Kind EventKind `json:"event"`
	// ID is the check's id.
	ID string `json:"id"`
	// Title is the check's display title.
	Title string `json:"title"`
	// Time is when the event happened (from the injected clock).
	Time time.Time `json:"time"`
	// Result is the check's outcome, on finished events only.
	Result *Result `json:"result,omitempty"`
}
