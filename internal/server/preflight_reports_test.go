package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/preflight"
	"github.com/smart-impulse/smartx/internal/store"
)

// preflightDoc is a run as `smartx preflight -o json` writes it: checks that pass but failing,
// made at generated.
func preflightDoc(serial string, generated time.Time, failing ...string) preflight.Report {
	r := preflight.Report{SchemaVersion: preflight.SchemaVersion, Site: "Plant", Serial: serial, Installer: "Ondine Varlet, 06 98 76 54 32",
		Generated: generated, Run: preflight.RunInfo{SmartxVersion: "1.5.0", Hostname: "laptop-zq81", OS: "linux/amd64"},
		Targets: preflight.Targets{Host: "platform.test", HTTPSPort: 443, Profile: preflight.ProfileCurrent},
		Local:   preflight.LocalNetwork{Interface: "eth0", SourceIP: "192.0.2.177", Gateway: "192.0.2.1", ResolverSource: "system"}}
	for _, id := range []string{"dns", "tcp-https", "tls", "ntp"} {
		res := preflight.Result{ID: id, Title: strings.ToUpper(id), Status: preflight.StatusOK, Summary: id + " answered", DurationMS: 1.5}
		if slices.Contains(failing, id) {
			res.Status, res.Summary, res.Hint = preflight.StatusFail, id+" blocked", "ask IT to open "+id
			r.Counts.Fail++
		} else {
			r.Counts.OK++
		}
		r.Results = append(r.Results, res)
	}
	return r
}

// sitePath is the path of a site's sub-resource.
func sitePath(siteID, suffix string) string { return api.PathSites + "/" + siteID + suffix }

func TestPreflightUpload(t *testing.T) {
	ts := newTestServer(t)
	acc := ts.account("Acme")
	owner := ts.person(acc, "own@example.com", api.RoleOwner)
	installer := ts.person(acc, "ines@example.com", api.RoleInstaller)
	analyst := ts.person(acc, "ana@example.com", api.RoleAnalyst)
	support := ts.person(acc, "sam@example.com", api.RoleSupport)
	plant := ts.site(owner.session, "Plant", "")
	depot := ts.site(owner.session, "Depot", "")
	upload := sitePath(plant.ID, api.SitePreflightSuffix)
	doc := preflightDoc("SX-00042", ts.clock.Now().Add(-time.Hour), "tcp-https")

	// An installer sends the run: it is kept with who sent it and from where.
	resp, body := ts.do("POST", upload, installer.session, doc)
	run := decode[api.PreflightRun](t, resp, body, http.StatusCreated)
	if !strings.HasPrefix(run.ID, api.PrefixPreflightRun) || run.SiteID != plant.ID || run.Duplicate ||
		run.UploadedBy != (api.PreflightUploader{UserID: installer.user.ID, Email: "ines@example.com"}) ||
		run.SourceIP != "127.0.0.1" || run.LocalIP != "192.0.2.177" || run.Hostname != "laptop-zq81" || run.Serial != "SX-00042" ||
		!run.GeneratedAt.Equal(doc.Generated) || !run.UploadedAt.Equal(ts.clock.Now()) || !run.Failed ||
		run.Counts != (api.PreflightCounts{OK: 3, Fail: 1}) || len(run.Checks) != 4 {
		t.Fatalf("kept run %+v", run)
	}
	if c := run.Checks[1]; c.ID != "tcp-https" || c.Status != "fail" || c.Hint != "ask IT to open tcp-https" || run.Checks[0].Hint != "" {
		t.Fatalf("checks %+v", run.Checks)
	}
	// The same run again is the run kept before: a retry after a lost answer stores nothing.
	resp, body = ts.do("POST", upload, owner.session, doc)
	if again := decode[api.PreflightRun](t, resp, body, http.StatusOK); again.ID != run.ID || !again.Duplicate || again.UploadedBy.UserID != installer.user.ID {
		t.Fatalf("the run sent again: %+v", again)
	}
	// To another site it is another run.
	resp, body = ts.do("POST", sitePath(depot.ID, api.SitePreflightSuffix), owner.session, doc)
	decode[api.PreflightRun](t, resp, body, http.StatusCreated)

	// Who may send runs: devices:write, which installers hold and analysts and support do not.
	for _, p := range []person{analyst, support} {
		resp, body = ts.do("POST", upload, p.session, doc)
		if pr := problem(t, resp, body, api.CodeInsufficientScope); pr.Scope != api.ScopeDevicesWrite {
			t.Fatalf("%s sending a run: %+v", p.user.Email, pr)
		}
	}
	// A token restricted to the depot cannot send to the plant; another account sees no plant.
	resp, body = ts.do("POST", api.PathTokens, installer.session, api.CreateTokenRequest{Name: "depot only",
		Scopes: []api.Scope{api.ScopeDevicesWrite}, Sites: []string{depot.ID}})
	depotOnly := decode[api.CreateTokenResponse](t, resp, body, http.StatusCreated)
	resp, body = ts.do("POST", upload, depotOnly.Secret, doc)
	problem(t, resp, body, api.CodeSiteForbidden)
	resp, body = ts.do("POST", sitePath(depot.ID, api.SitePreflightSuffix), depotOnly.Secret, preflightDoc("", ts.clock.Now()))
	decode[api.PreflightRun](t, resp, body, http.StatusCreated)
	stranger := ts.person(ts.account("Other"), "other@example.com", api.RoleOwner)
	resp, body = ts.do("POST", upload, stranger.session, doc)
	problem(t, resp, body, api.CodeNotFound)
	resp, body = ts.do("POST", sitePath("sit_nonenonenonenone", api.SitePreflightSuffix), owner.session, doc)
	problem(t, resp, body, api.CodeNotFound)

	// A document kept on a laptop by an earlier smartx is read as it is.
	kept, err := os.ReadFile("../preflight/testdata/run-v1.json")
	mustf(t, err, "read a kept run")
	resp, body = ts.send("POST", upload, owner.session, api.JSONContentType, "", bytes.NewReader(kept))
	if r := decode[api.PreflightRun](t, resp, body, http.StatusCreated); r.Site != "Lyon warehouse <B2>" || r.LocalIP != "192.168.10.23" {
		t.Fatalf("a kept run: %+v", r)
	}
}

func TestPreflightUploadValidation(t *testing.T) {
	ts := newTestServer(t)
	owner := ts.person(ts.account("Acme"), "own@example.com", api.RoleOwner)
	upload := sitePath(ts.site(owner.session, "Plant", "").ID, api.SitePreflightSuffix)
	now := ts.clock.Now()
	edit := func(change func(*preflight.Report)) preflight.Report {
		r := preflightDoc("SX-1", now, "ntp")
		change(&r)
		return r
	}
	raw := func(change func(map[string]any)) []byte {
		b, _ := json.Marshal(preflightDoc("SX-1", now))
		var m map[string]any
		mustf(t, json.Unmarshal(b, &m), "decode")
		change(m)
		b, _ = json.Marshal(m)
		return b
	}
	tests := []struct {
		name  string
		body  any
		code  api.Code
		field string
	}{
		{"no schema version", edit(func(r *preflight.Report) { r.SchemaVersion = 0 }), api.CodeValidationFailed, "schema_version"},
		{"a newer schema", edit(func(r *preflight.Report) { r.SchemaVersion = 2 }), api.CodeValidationFailed, "schema_version"},
		{"no time", edit(func(r *preflight.Report) { r.Generated = time.Time{} }), api.CodeValidationFailed, "generated"},
		{"from the future", edit(func(r *preflight.Report) { r.Generated = now.Add(25 * time.Hour) }), api.CodeValidationFailed, "generated"},
		{"no check", edit(func(r *preflight.Report) { r.Results, r.Counts = nil, preflight.Counts{} }), api.CodeValidationFailed, "results"},
		{"an unknown status", edit(func(r *preflight.Report) { r.Results[0].Status = "great" }), api.CodeValidationFailed, "results[0].status"},
		{"a check without id", edit(func(r *preflight.Report) { r.Results[2].ID = "" }), api.CodeValidationFailed, "results[2].id"},
		{"counts that lie", edit(func(r *preflight.Report) { r.Counts.Fail = 0 }), api.CodeValidationFailed, "counts"},
		{"terminal escapes", edit(func(r *preflight.Report) { r.Results[1].Summary = "ok\x1b[2J" }), api.CodeValidationFailed, "results[1].summary"},
		{"a control character in the installer", edit(func(r *preflight.Report) { r.Installer = "a\nb" }), api.CodeValidationFailed, "installer"},
		{"an unknown field", raw(func(m map[string]any) { m["sitename"] = "x" }), api.CodeValidationFailed, "sitename"},
		{"a wrong type", raw(func(m map[string]any) { m["counts"] = "many" }), api.CodeValidationFailed, "counts"},
		{"not an object", []byte(`[1, 2]`), api.CodeValidationFailed, ""},
		{"two documents", []byte(`{"schema_version":1} {}`), api.CodeValidationFailed, "body"},
		{"over 1 MiB", raw(func(m map[string]any) { m["installer"] = strings.Repeat("x", api.MaxPreflightRunBytes) }), api.CodePayloadTooLarge, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := ts.do("POST", upload, owner.session, tt.body)
			p := problem(t, resp, body, tt.code)
			if tt.field != "" && (len(p.Errors) != 1 || p.Errors[0].Field != tt.field) {
				t.Fatalf("problem %+v, want field %s", p, tt.field)
			}
		})
	}
	resp, body := ts.send("POST", upload, owner.session, "text/plain", "", strings.NewReader("{}"))
	problem(t, resp, body, api.CodeUnsupportedMediaType)
	list, err := ts.svc.st.ListPreflightRuns(context.Background(), store.PreflightFilter{AccountID: owner.user.AccountID,
		SiteID: strings.Split(upload, "/")[3]})
	if err != nil || len(list) != 0 {
		t.Fatalf("refused documents were kept: %d, %v", len(list), err)
	}
}

// The runs are customer data: what the laptop saw of the site's network is sealed like
// everything else, and they are kept as long as the audit log's errors.
func TestPreflightRunsAreSealedAndPurged(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	owner := ts.person(ts.account("Acme"), "own@example.com", api.RoleOwner)
	site := ts.site(owner.session, "Plant", "")
	doc := preflightDoc("SX-QWZ-4471", ts.clock.Now(), "tls")
	doc.Site = "Entrepôt Vauquelin-Sud"
	resp, body := ts.do("POST", sitePath(site.ID, api.SitePreflightSuffix), owner.session, doc)
	decode[api.PreflightRun](t, resp, body, http.StatusCreated)

	raw := ts.storedBytes(t)
	for name, v := range map[string]string{"installer": "Ondine Varlet", "hostname": "laptop-zq81", "laptop address": "192.0.2.177",
		"site label": "Vauquelin-Sud", "serial": "SX-QWZ-4471", "client address": "127.0.0.1", "summary": "tls blocked"} {
		if bytes.Contains(raw, []byte(v)) {
			t.Errorf("the database holds the run's %s in clear", name)
		}
	}

	reader := ts.rootToken(owner, api.ScopeDevicesRead).Token // outlives the retention, unlike a session
	status := func() api.SiteStatus {
		resp, body := ts.do("GET", sitePath(site.ID, api.SiteStatusSuffix), reader, nil)
		return decode[api.SiteStatus](t, resp, body, http.StatusOK)
	}
	if st := status(); len(st.Preflight) != 1 || st.Preflight[0].Installer != "Ondine Varlet, 06 98 76 54 32" {
		t.Fatalf("status before the purge: %+v", st.Preflight)
	}
	ts.clock.Advance(DefaultAuditErrorRetention - time.Minute)
	mustf(t, ts.srv.Purge(ctx), "purge")
	if st := status(); len(st.Preflight) != 1 {
		t.Fatal("a run was purged before the retention ended")
	}
	ts.clock.Advance(2 * time.Minute)
	mustf(t, ts.srv.Purge(ctx), "purge")
	if st := status(); len(st.Preflight) != 0 {
		t.Fatalf("a run outlived the retention: %+v", st.Preflight)
	}
}

// A site's runs go with the site, an account's with the account, whatever the store.
func TestPreflightRunsGoWithTheirSite(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	doomed, kept := ts.account("Doomed"), ts.account("Kept")
	db := ts.openRaw(t)
	count := func(column, value string) int {
		var n int
		mustf(t, db.QueryRowContext(ctx, "SELECT COUNT(*) FROM preflight_runs WHERE "+column+" = $1", value).Scan(&n), "count")
		return n
	}
	var sites []api.Site
	for _, acc := range []Account{doomed, kept} {
		owner := ts.person(acc, "own-"+acc.Name+"@example.com", api.RoleOwner)
		for _, name := range []string{"Plant", "Depot"} {
			site := ts.site(owner.session, name, "")
			resp, body := ts.do("POST", sitePath(site.ID, api.SitePreflightSuffix), owner.session, preflightDoc("SX-1", ts.clock.Now()))
			decode[api.PreflightRun](t, resp, body, http.StatusCreated)
			sites = append(sites, site)
		}
		if acc.ID == doomed.ID {
			resp, _ := ts.do("DELETE", api.PathSites+"/"+sites[0].ID, owner.session, nil)
			if resp.StatusCode != http.StatusNoContent {
				t.Fatalf("delete site: %d", resp.StatusCode)
			}
		}
	}
	if count("site_id", sites[0].ID) != 0 || count("site_id", sites[1].ID) != 1 {
		t.Fatal("the deleted site's runs stayed, or the other site's went")
	}
	mustf(t, ts.svc.DeleteAccount(ctx, doomed.ID), "delete account")
	if count("account_id", doomed.ID) != 0 || count("account_id", kept.ID) != 2 {
		t.Fatal("the deleted account's runs stayed, or the other account's went")
	}
}

func TestSiteStatus(t *testing.T) {
	ts := newTestServer(t)
	acc := ts.account("Acme")
	owner := ts.person(acc, "own@example.com", api.RoleOwner)
	support := ts.person(acc, "sam@example.com", api.RoleSupport)
	site := ts.site(owner.session, "Plant", "")
	now := ts.clock.Now()
	g := testGenerator(t, now.Add(-5*time.Hour), time.Minute, 5*time.Hour, false)

	// SX-OK sends everything; SX-GAP misses its third file; SX-LOST too, but reports it
	// dropped; SX-BAD's latest file is refused; SX-NEW never calls.
	devices := map[string]api.ProvisionedDevice{}
	for _, serial := range []string{"SX-OK", "SX-GAP", "SX-LOST", "SX-BAD", "SX-NEW"} {
		devices[serial] = ts.provision(owner.session, site.ID, serial)
	}
	ts.uploadAll(devices["SX-OK"].Credential, deviceFiles(t, devices["SX-OK"], g, time.Hour))
	for _, serial := range []string{"SX-GAP", "SX-LOST"} {
		files := deviceFiles(t, devices[serial], g, time.Hour)
		ts.uploadAll(devices[serial].Credential, slices.Delete(files, 2, 3))
	}
	u, err := ts.svc.devices.verify(context.Background(), devices["SX-LOST"].Credential)
	mustf(t, err, "verify")
	_, _, err = ts.svc.ReportLosses(context.Background(), u, api.LossReport{Losses: []api.Loss{{FirstSequence: 3, LastSequence: 3,
		From: now.Add(-3 * time.Hour), To: now.Add(-2 * time.Hour), Files: 1, Reason: api.LossReasonSpoolFull}}})
	mustf(t, err, "report the loss")
	bad := devices["SX-BAD"]
	ts.uploadAll(bad.Credential, deviceFiles(t, bad, g, time.Hour)[:1])
	ts.clock.Advance(time.Minute) // the refusal comes after the accepted upload
	now = ts.clock.Now()
	wrongKey := make([]byte, 32)
	rand.Read(wrongKey)
	second := slices.Collect(g.Range(g.Start()+3600_000, g.Start()+7200_000))
	resp, body := ts.upload(bad.Credential, encryptFile(t, "SX-BAD", wrongKey, 1, 2, g.Schema(), second))
	problem(t, resp, body, api.CodeFileRejected)

	// Runs: SX-OK's first failed, its second passed; the site's run for no device failed.
	for _, doc := range []preflight.Report{preflightDoc("SX-OK", now.Add(-3*time.Hour), "tcp-https"), preflightDoc("SX-OK", now.Add(-2*time.Hour)),
		preflightDoc("", now.Add(-time.Hour), "ntp", "tls")} {
		resp, body := ts.do("POST", sitePath(site.ID, api.SitePreflightSuffix), owner.session, doc)
		decode[api.PreflightRun](t, resp, body, http.StatusCreated)
	}

	supportToken := ts.rootToken(support, api.ScopeDevicesRead).Token // outlives a session
	status := func() api.SiteStatus {
		t.Helper()
		resp, body := ts.do("GET", sitePath(site.ID, api.SiteStatusSuffix), supportToken, nil)
		return decode[api.SiteStatus](t, resp, body, http.StatusOK)
	}
	type flag struct {
		kind   api.AttentionKind
		serial string
	}
	flags := func(st api.SiteStatus) []flag {
		var out []flag
		for _, a := range st.Attention {
			if a.Detail == "" {
				t.Errorf("attention %+v says nothing", a)
			}
			out = append(out, flag{a.Kind, a.Serial})
		}
		return out
	}
	st := status()
	if st.Site.ID != site.ID || !st.At.Equal(now) || st.SilentAfterSeconds != 7200 || st.RecentSeconds != 7*86400 {
		t.Fatalf("status header %+v", st)
	}
	if len(st.Preflight) != 2 || st.Preflight[0].Serial != "" || st.Preflight[1].Serial != "SX-OK" || st.Preflight[1].Failed {
		t.Fatalf("latest runs: %+v", st.Preflight)
	}
	want := []flag{{api.AttentionPreflightFailed, ""}, {api.AttentionUploadRefused, "SX-BAD"},
		{api.AttentionFilesMissing, "SX-GAP"}, {api.AttentionGap, "SX-GAP"}, {api.AttentionSpoolLoss, "SX-LOST"}, {api.AttentionGap, "SX-LOST"}}
	if got := flags(st); !slices.Equal(got, want) {
		t.Fatalf("attention %v, want %v\n%+v", got, want, st.Attention)
	}
	if !strings.Contains(st.Attention[0].Detail, "2 checks that failed or could not run: tls, ntp") {
		t.Errorf("preflight attention: %q", st.Attention[0].Detail)
	}
	serials := []string{}
	byS := map[string]api.SiteDevice{}
	for _, d := range st.Devices {
		serials = append(serials, d.Serial)
		byS[d.Serial] = d
	}
	if !slices.Equal(serials, []string{"SX-BAD", "SX-GAP", "SX-LOST", "SX-NEW", "SX-OK"}) {
		t.Fatalf("devices %v", serials)
	}
	if d := byS["SX-GAP"]; d.MissingFiles != 1 || d.UnreportedMissingFiles != 1 || d.RecentGaps != 1 || d.RecentGapSeconds < 3600 || d.LastGap == nil {
		t.Errorf("SX-GAP: %+v", d)
	}
	if d := byS["SX-LOST"]; d.UnreportedMissingFiles != 0 || d.LostFiles != 1 || d.RecentLosses != 1 || d.RecentLostFiles != 1 {
		t.Errorf("SX-LOST: %+v", d)
	}
	if d := byS["SX-NEW"]; d.LastContactAt != nil || d.FilesReceived != 0 {
		t.Errorf("SX-NEW: %+v", d)
	}

	// A token restricted to another site gets 403; another account 404; analysts may look.
	other := ts.site(owner.session, "Other", "")
	resp, body = ts.do("POST", api.PathTokens, owner.session, api.CreateTokenRequest{Name: "other", Scopes: []api.Scope{api.ScopeDevicesRead},
		Sites: []string{other.ID}})
	otherOnly := decode[api.CreateTokenResponse](t, resp, body, http.StatusCreated)
	resp, body = ts.do("GET", sitePath(site.ID, api.SiteStatusSuffix), otherOnly.Secret, nil)
	problem(t, resp, body, api.CodeSiteForbidden)
	resp, body = ts.do("GET", sitePath(other.ID, api.SiteStatusSuffix), otherOnly.Secret, nil)
	if st := decode[api.SiteStatus](t, resp, body, http.StatusOK); len(st.Devices) != 0 || len(st.Attention) != 0 || st.Preflight == nil {
		t.Errorf("an empty site: %+v", st)
	}
	stranger := ts.person(ts.account("Other"), "other@example.com", api.RoleOwner)
	resp, body = ts.do("GET", sitePath(site.ID, api.SiteStatusSuffix), stranger.session, nil)
	problem(t, resp, body, api.CodeNotFound)
	analyst := ts.person(acc, "ana@example.com", api.RoleAnalyst)
	resp, body = ts.do("GET", sitePath(site.ID, api.SiteStatusSuffix), analyst.session, nil)
	decode[api.SiteStatus](t, resp, body, http.StatusOK)

	// Three hours later every device is silent, and the new one overdue; a week later the
	// losses and gaps are history.
	ts.clock.Advance(3 * time.Hour)
	later := flags(status())
	silent := slices.DeleteFunc(slices.Clone(later), func(f flag) bool { return f.kind != api.AttentionSilent })
	if len(silent) != 4 || !slices.Contains(later, flag{api.AttentionNeverSeen, "SX-NEW"}) {
		t.Errorf("3 hours later: %v", later)
	}
	ts.clock.Advance(7 * 24 * time.Hour)
	for _, f := range flags(status()) {
		if f.kind == api.AttentionSpoolLoss || f.kind == api.AttentionGap {
			t.Errorf("a week later, still %v", f)
		}
	}
}

// A run's sender shows by e-mail while the user exists, and by id once deleted; the run stays.
func TestPreflightRunOutlivesItsSender(t *testing.T) {
	ts := newTestServer(t)
	acc := ts.account("Acme")
	owner := ts.person(acc, "own@example.com", api.RoleOwner)
	installer := ts.person(acc, "ines@example.com", api.RoleInstaller)
	site := ts.site(owner.session, "Plant", "")
	resp, body := ts.do("POST", sitePath(site.ID, api.SitePreflightSuffix), installer.session, preflightDoc("", ts.clock.Now(), "dns"))
	decode[api.PreflightRun](t, resp, body, http.StatusCreated)
	resp, _ = ts.do("DELETE", api.PathUsers+"/"+installer.user.ID, owner.session, nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete user: %d", resp.StatusCode)
	}
	resp, body = ts.do("GET", sitePath(site.ID, api.SiteStatusSuffix), owner.session, nil)
	st := decode[api.SiteStatus](t, resp, body, http.StatusOK)
	if len(st.Preflight) != 1 || st.Preflight[0].UploadedBy != (api.PreflightUploader{UserID: installer.user.ID}) ||
		len(st.Attention) != 1 || !strings.Contains(st.Attention[0].Detail, "sent by "+installer.user.ID) {
		t.Fatalf("after the sender's deletion: %+v", st)
	}
}

func TestAttentionKindsAreDocumented(t *testing.T) {
	raw, err := os.ReadFile("../../docs/api/openapi.yaml")
	mustf(t, err, "read openapi.yaml")
	for _, k := range api.AllAttentionKinds {
		if !bytes.Contains(raw, []byte(k)) {
			t.Errorf("attention kind %s is not in openapi.yaml", k)
		}
	}
}

// FuzzPreflightReport feeds the upload's decoding and checks any body: never a panic, and a
// refusal is always a client's error; what passes encodes and reads back.
func FuzzPreflightReport(f *testing.F) {
	kept, err := os.ReadFile("../preflight/testdata/run-v1.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(kept)
	doc, _ := json.Marshal(preflightDoc("SX-1", time.Date(2026, 5, 1, 11, 0, 0, 0, time.UTC), "tls"))
	f.Add(doc)
	for _, seed := range []string{`{"schema_version":1}`, `{"schema_version":2,"results":[]}`, `{"results":[{"id":"a","status":"ok"}]}`, `{`} {
		f.Add([]byte(seed))
	}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		var r preflight.Report
		err := decodeJSONBody(http.MaxBytesReader(nil, io.NopCloser(bytes.NewReader(body)), api.MaxPreflightRunBytes), &r)
		if err == nil {
			err = checkPreflightReport(&r, now)
		}
		if err != nil {
			if p := problemFor(err).problem; p.Status < 400 || p.Status >= 500 {
				t.Fatalf("%v maps to status %d", err, p.Status)
			}
			return
		}
		out, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("an accepted document does not encode: %v", err)
		}
		if _, err := preflight.ParseReport(out); err != nil {
			t.Fatalf("an accepted document does not read back: %v", err)
		}
	})
}

// BenchmarkSiteStatus answers GET /v1/sites/{id}/status for a site of 10 devices with a month
// of hourly files each (7,200 file records, a missing file and a reported loss per device)
// and 5 preflight runs: what support waits for when a customer calls. Each iteration is one
// request through the server's handler.
func BenchmarkSiteStatus(b *testing.B) {
	ts := newTestServer(b, withAPILimits(APILimits{}))
	ctx := context.Background()
	owner := ts.person(ts.account("Bench"), "own@example.com", api.RoleOwner)
	site := ts.site(owner.session, "Plant", "")
	start := ts.clock.Now().Add(-30 * 24 * time.Hour)
	for d := range 10 {
		p := ts.provision(owner.session, site.ID, fmt.Sprintf("SX-%05d", d))
		for seq := uint64(1); seq <= 720; seq++ {
			if seq == 300 {
				continue // a file lost on the way
			}
			from := start.Add(time.Duration(seq-1) * time.Hour).UnixMilli()
			err := ts.svc.st.StoreFile(ctx, owner.user.AccountID, p.Device.ID, seq, func(store.SegmentSink) (store.DataFile, error) {
				return store.DataFile{DeviceID: p.Device.ID, Sequence: seq, SHA256: []byte{byte(seq)}, Size: 1000, KeyID: 1, Readings: 420,
					FirstReading: from, LastReading: from + 59*60_000, Interval: time.Minute, CreatedAt: ts.clock.Now(), ReceivedAt: ts.clock.Now()}, nil
			})
			mustf(b, err, "store file %d", seq)
		}
		_, err := ts.svc.st.ReportLosses(ctx, owner.user.AccountID, p.Device.ID, []store.Loss{{DeviceID: p.Device.ID, FirstSequence: 721,
			LastSequence: 730, From: ts.clock.Now(), To: ts.clock.Now(), Files: 10, Reason: api.LossReasonSpoolFull}}, ts.clock.Now())
		mustf(b, err, "report losses")
	}
	for i := range 5 {
		resp, body := ts.do("POST", sitePath(site.ID, api.SitePreflightSuffix), owner.session, preflightDoc(fmt.Sprintf("SX-%05d", i),
			ts.clock.Now().Add(-time.Duration(i)*time.Hour), "ntp"))
		decode[api.PreflightRun](b, resp, body, http.StatusCreated)
	}
	h := ts.srv.Handler()
	path := sitePath(site.ID, api.SiteStatusSuffix)
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Authorization", "Bearer "+owner.session)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}
