package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/preflight"
	"github.com/smart-impulse/smartx/internal/store"
)

// Preflight runs are what an installer saw of a site's network (`smartx preflight --upload`),
// kept for support like the audit log's errors: customer data, sealed under the account's
// data key with the address the upload came from, and purged after the audit error
// retention (Server.Purge).

// indexPreflightRun is the purpose of the blind index that keeps one copy of a run per site.
const indexPreflightRun = "preflight-run"

func preflightPurpose(runID string) string { return "preflight/" + runID }

// maxPreflightText bounds each text of a run the API hands back (site, serial, summaries...).
const maxPreflightText = 4096

// preflightClockSkew is how far ahead of the server's clock a run may say it ran: a laptop's
// clock is often a little off, never by a day.
const preflightClockSkew = 24 * time.Hour

// sealedPreflight is the clear form of store.PreflightRun.Sealed.
type sealedPreflight struct {
	// Source is the address the upload came from, as the server saw the connection.
	Source string `json:"source"`
	// Report is the run's document, as the server decoded and encoded it again.
	Report json.RawMessage `json:"report"`
}

// checkPreflightReport says what is wrong with an uploaded document, field by field, in the
// terms of the document's JSON (docs/preflight.md, "Output for scripts").
func checkPreflightReport(r *preflight.Report, now time.Time) error {
	switch {
	case r.SchemaVersion < 1:
		return invalid("schema_version", "is missing: send the document smartx preflight -o json writes")
	case r.SchemaVersion > api.PreflightSchemaVersion:
		return invalid("schema_version", "%d is newer than this server reads (%d): upgrade the server", r.SchemaVersion, api.PreflightSchemaVersion)
	case r.Generated.IsZero():
		return invalid("generated", "is missing: when the checks ran")
	case r.Generated.After(now.Add(preflightClockSkew)):
		return invalid("generated", "is more than a day ahead of the server's clock: check the laptop's clock and run the checks again")
	case len(r.Results) == 0:
		return invalid("results", "must hold at least one check")
	case len(r.Results) > api.MaxPreflightChecks:
		return invalid("results", "at most %d checks", api.MaxPreflightChecks)
	}
	texts := []struct{ field, value string }{
		{"site", r.Site}, {"serial", r.Serial}, {"installer", r.Installer}, {"run.hostname", r.Run.Hostname},
		{"run.smartx_version", r.Run.SmartxVersion}, {"targets.host", r.Targets.Host}, {"local.source_ip", r.Local.SourceIP},
	}
	var counts preflight.Counts
	for i, res := range r.Results {
		field := func(name string) string { return fmt.Sprintf("results[%d].%s", i, name) }
		if res.ID == "" {
			return invalid(field("id"), "is missing")
		}
		switch res.Status {
		case preflight.StatusOK:
			counts.OK++
		case preflight.StatusWarn:
			counts.Warn++
		case preflight.StatusFail:
			counts.Fail++
		case preflight.StatusSkip:
			counts.Skip++
		case preflight.StatusError:
			counts.Error++
		default:
			return invalid(field("status"), "must be ok, warn, fail, skip or error")
		}
		texts = append(texts, struct{ field, value string }{field("id"), res.ID}, struct{ field, value string }{field("title"), res.Title},
			struct{ field, value string }{field("summary"), res.Summary}, struct{ field, value string }{field("hint"), res.Hint},
			struct{ field, value string }{field("reason"), res.Reason}, struct{ field, value string }{field("rule"), res.Rule})
	}
	for _, t := range texts {
		if err := checkOptionalText(t.field, t.value, maxPreflightText); err != nil {
			return err
		}
	}
	if counts != r.Counts {
		return invalid("counts", "do not match the results: send the document as smartx wrote it")
	}
	return nil
}

// UploadPreflightRun keeps a preflight run for a site of the caller's account, with who sent
// it (the token's user) and from where (source, the address of the connection). The same run
// sent again is not kept twice: the answer is the run kept before, and created is false.
func (s *Service) UploadPreflightRun(ctx context.Context, caller store.Token, siteID string, report preflight.Report, source string) (
	run api.PreflightRun, created bool, err error) {
	if _, err := s.Site(ctx, caller, siteID); err != nil {
		return api.PreflightRun{}, false, err
	}
	if err := checkPreflightReport(&report, s.now()); err != nil {
		return api.PreflightRun{}, false, err
	}
	doc, err := json.Marshal(report)
	if err != nil {
		return api.PreflightRun{}, false, err
	}
	index, err := s.keys.IndexForAccount(ctx, caller.AccountID, indexPreflightRun, string(doc))
	if err != nil {
		return api.PreflightRun{}, false, err
	}
	if run, ok, err := s.keptPreflightRun(ctx, caller.AccountID, siteID, index); err != nil || ok {
		return run, false, err
	}
	id, err := s.newID(api.PrefixPreflightRun)
	if err != nil {
		return api.PreflightRun{}, false, err
	}
	sealed, err := s.sealJSON(ctx, caller.AccountID, preflightPurpose(id), sealedPreflight{Source: source, Report: doc})
	if err != nil {
		return api.PreflightRun{}, false, err
	}
	stored := store.PreflightRun{ID: id, AccountID: caller.AccountID, SiteID: siteID, UserID: caller.UserID, TokenID: caller.ID,
		RunIndex: index, GeneratedAt: report.Generated.UTC().Truncate(time.Microsecond), UploadedAt: s.nowUTC(), Size: int64(len(doc)),
		Sealed: sealed}
	if err := s.st.CreatePreflightRun(ctx, stored); err != nil {
		if errors.Is(err, store.ErrConflict) { // the same run, sent twice at once: the other one kept it
			if run, ok, kerr := s.keptPreflightRun(ctx, caller.AccountID, siteID, index); kerr != nil || ok {
				return run, false, kerr
			}
		}
		return api.PreflightRun{}, false, err
	}
	s.log.Info("preflight run kept", "account", caller.AccountID, "site", siteID, "run", id, "user", caller.UserID, "token", caller.ID,
		"failed", report.Failed(false))
	run, err = s.preflightRunInfo(ctx, stored, preflightUsers{})
	return run, true, err
}

// keptPreflightRun returns the run of the site with this index, if it keeps one.
func (s *Service) keptPreflightRun(ctx context.Context, accountID, siteID string, index []byte) (api.PreflightRun, bool, error) {
	kept, err := s.st.ListPreflightRuns(ctx, store.PreflightFilter{AccountID: accountID, SiteID: siteID, RunIndex: index, Limit: 1})
	if err != nil || len(kept) == 0 {
		return api.PreflightRun{}, false, err
	}
	run, err := s.preflightRunInfo(ctx, kept[0], preflightUsers{})
	run.Duplicate = true
	return run, err == nil, err
}

// openPreflightRun opens a stored run: its document and the address it came from.
func (s *Service) openPreflightRun(ctx context.Context, r store.PreflightRun) (preflight.Report, string, error) {
	var v sealedPreflight
	if err := s.openJSON(ctx, r.AccountID, preflightPurpose(r.ID), r.Sealed, &v); err != nil {
		return preflight.Report{}, "", err
	}
	rep, err := preflight.ParseReport(v.Report)
	if err != nil {
		return preflight.Report{}, "", errUnreadable(preflightPurpose(r.ID), err)
	}
	return rep, v.Source, nil
}

// preflightUsers remembers the e-mails of the users who sent runs, so a list of runs reads
// each user once.
type preflightUsers map[string]string

func (u preflightUsers) email(ctx context.Context, s *Service, accountID, userID string) (string, error) {
	if e, ok := u[userID]; ok {
		return e, nil
	}
	user, err := s.user(ctx, accountID, userID)
	switch {
	case errors.Is(err, store.ErrNotFound): // deleted since: the run stays, its sender is an id
	case err != nil:
		return "", err
	}
	u[userID] = user.Email
	return user.Email, nil
}

// preflightRunInfo is the API's view of a stored run.
func (s *Service) preflightRunInfo(ctx context.Context, r store.PreflightRun, users preflightUsers) (api.PreflightRun, error) {
	rep, source, err := s.openPreflightRun(ctx, r)
	if err != nil {
		return api.PreflightRun{}, err
	}
	email, err := users.email(ctx, s, r.AccountID, r.UserID)
	if err != nil {
		return api.PreflightRun{}, err
	}
	c := rep.Counts
	out := api.PreflightRun{ID: r.ID, SiteID: r.SiteID, GeneratedAt: rep.Generated.UTC(), UploadedAt: r.UploadedAt.UTC(),
		UploadedBy: api.PreflightUploader{UserID: r.UserID, Email: email}, SourceIP: source, LocalIP: rep.Local.SourceIP,
		Hostname: rep.Run.Hostname, SmartxVersion: rep.Run.SmartxVersion, Site: rep.Site, Serial: rep.Serial, Installer: rep.Installer,
		Host: rep.Targets.Host, Counts: api.PreflightCounts{OK: c.OK, Warn: c.Warn, Fail: c.Fail, Skip: c.Skip, Error: c.Error},
		Failed: rep.Failed(false), Interrupted: rep.Interrupted, Checks: make([]api.PreflightCheck, len(rep.Results))}
	for i, res := range rep.Results {
		summary := res.Summary
		if summary == "" {
			summary = res.Reason
		}
		out.Checks[i] = api.PreflightCheck{ID: res.ID, Title: res.Title, Status: string(res.Status), Summary: summary}
		if res.Status != preflight.StatusOK {
			out.Checks[i].Hint, out.Checks[i].Rule = res.Hint, res.Rule
		}
	}
	return out, nil
}

// latestPreflightRuns returns the latest run kept for each device serial of a site (and for
// runs made for no device), newest first, among the site's most recent runs.
func (s *Service) latestPreflightRuns(ctx context.Context, accountID, siteID string) ([]api.PreflightRun, error) {
	kept, err := s.st.ListPreflightRuns(ctx, store.PreflightFilter{AccountID: accountID, SiteID: siteID, Limit: api.SiteStatusPreflightRuns})
	if err != nil {
		return nil, err
	}
	users := preflightUsers{}
	seen := map[string]bool{}
	out := []api.PreflightRun{}
	for _, r := range kept { // newest first
		run, err := s.preflightRunInfo(ctx, r, users)
		if err != nil {
			return nil, err
		}
		if seen[run.Serial] {
			continue
		}
		seen[run.Serial] = true
		out = append(out, run)
	}
	return out, nil
}

// handleUploadPreflight keeps a preflight run for a site: the body is the document `smartx
// preflight -o json` writes, decoded strictly (an unknown field is refused).
func (s *Server) handleUploadPreflight(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	r.Body = http.MaxBytesReader(w, r.Body, api.MaxPreflightRunBytes)
	var report preflight.Report
	if err := decodeJSON(w, r, &report); err != nil {
		return err
	}
	run, created, err := s.svc.UploadPreflightRun(r.Context(), caller, r.PathValue("id"), report, sourceIP(r))
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, run)
	return nil
}
