package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/aescodec"
	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/datafiles/datafilestest"
	"github.com/smart-impulse/smartx/internal/readings"
	"github.com/smart-impulse/smartx/internal/store"
	"github.com/smart-impulse/smartx/internal/store/sqlite"
)

var genStart = time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC)

func TestIngestStoresEachFileOnce(t *testing.T) {
	ts := newTestServer(t)
	owner := ts.person(ts.account("Acme"), "own@example.com", api.RoleOwner)
	site := ts.site(owner.session, "Plant", "")
	p := ts.provision(owner.session, site.ID, "SX-00042")
	g := testGenerator(t, genStart, time.Minute, 3*time.Hour, false)
	files := deviceFiles(t, p, g, time.Hour)

	resp, body := ts.upload(p.Credential, files[0].Data)
	got := decode[api.IngestResponse](t, resp, body, http.StatusCreated)
	if got != (api.IngestResponse{DeviceID: p.Device.ID, Sequence: 1, Readings: 420}) {
		t.Fatalf("first upload: %+v", got)
	}
	resp, body = ts.upload(p.Credential, files[0].Data)
	if got := decode[api.IngestResponse](t, resp, body, http.StatusOK); !got.Duplicate || got.Readings != 420 || got.Sequence != 1 {
		t.Fatalf("same file again: %+v", got)
	}
	// The same readings encrypted again (another salt) are another file with a used sequence.
	again := deviceFiles(t, p, g, time.Hour)
	if bytes.Equal(again[0].Data, files[0].Data) {
		t.Fatal("two encryptions gave the same bytes")
	}
	resp, body = ts.upload(p.Credential, again[0].Data)
	problem(t, resp, body, api.CodeSequenceConflict)
	// A damaged copy of a stored file is refused as damaged, not as a conflict.
	resp, body = ts.upload(p.Credential, files[0].Data[:len(files[0].Data)-7])
	if pr := problem(t, resp, body, api.CodeFileRejected); pr.Reason != api.RejectTruncated {
		t.Fatalf("damaged copy: %+v", pr)
	}

	ts.uploadAll(p.Credential, files[1:])
	resp, body = ts.get(readingsPath("device", p.Device.ID, "from", rfc3339(g.Start()), "to", rfc3339(g.End()), "format", "csv"), owner.session, "")
	if resp.StatusCode != 200 || strings.Count(string(body), "\n") != 1+3*420 {
		t.Fatalf("export after duplicates: %d, %d lines", resp.StatusCode, strings.Count(string(body), "\n"))
	}

	// The audit log names the device of device requests.
	ts.srv.FlushAudit(context.Background())
	page, err := ts.svc.st.ListAudit(context.Background(), store.AuditFilter{AccountID: owner.user.AccountID, DeviceID: p.Device.ID, Limit: 1000})
	mustf(t, err, "list audit")
	codes := map[string]int{}
	for _, e := range page.Entries {
		if e.Route != "POST "+api.PathIngest || e.UserID != "" || e.TokenID != "" {
			t.Fatalf("audit entry %+v", e)
		}
		codes[e.ErrorCode]++
	}
	if codes[""] != 4 || codes["sequence_conflict"] != 1 || codes["file_rejected"] != 1 {
		t.Fatalf("audit of uploads by error code: %v", codes)
	}
}

// vectorReason maps the damage names of vectors.json to reject reasons.
func vectorReason(expect string) api.RejectReason {
	if expect == "not_data_file" {
		return api.RejectNotADataFile
	}
	return api.RejectReason(expect)
}

// TestIngestRejectsEveryDamageClass replays the data file format's test vectors (serial
// SX-00042, key id 3, key 000102...1f) against a device given that key.
func TestIngestRejectsEveryDamageClass(t *testing.T) {
	var logs lockedBuffer
	ts := newTestServer(t, withLogger(&logs))
	owner := ts.person(ts.account("Vectors"), "own@example.com", api.RoleOwner)
	site := ts.site(owner.session, "Lab", "")
	p := ts.provision(owner.session, site.ID, "SX-00042")
	vectorKey, _ := hex.DecodeString("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
	mustf(t, ts.svc.importDeviceKey(context.Background(), owner.user.AccountID, p.Device.ID, 3, vectorKey), "import key")

	raw, err := os.ReadFile("../aescodec/testdata/vectors/vectors.json")
	mustf(t, err, "read vectors")
	var vectors []struct {
		File, Key, Expect string
	}
	mustf(t, json.Unmarshal(raw, &vectors), "parse vectors")
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("../aescodec/testdata/vectors", name))
		mustf(t, err, "read %s", name)
		return b
	}
	damaged := map[api.RejectReason]bool{}
	for _, v := range vectors {
		if v.Expect == "ok" || v.Key != hex.EncodeToString(vectorKey) {
			continue
		}
		t.Run(v.File, func(t *testing.T) {
			resp, body := ts.upload(p.Credential, read(v.File))
			pr := problem(t, resp, body, api.CodeFileRejected)
			if pr.Reason != vectorReason(v.Expect) || pr.Detail == "" {
				t.Fatalf("%s: reason %q (%s), want %s", v.File, pr.Reason, pr.Detail, v.Expect)
			}
			damaged[pr.Reason] = true
		})
	}
	for _, reason := range api.AllRejectReasons {
		if !damaged[reason] {
			t.Errorf("no vector exercised reason %s", reason)
		}
	}
	if !strings.Contains(logs.String(), "level=ERROR msg=\"data file rejected\"") {
		t.Error("rejections are not logged as errors")
	}

	// The intact vectors ingest; those sharing a sequence with one already stored conflict.
	used := map[uint64]bool{}
	for _, v := range vectors {
		if v.Expect != "ok" {
			continue
		}
		data := read(v.File)
		h, err := aescodec.ReadHeader(bytes.NewReader(data))
		mustf(t, err, "header of %s", v.File)
		resp, body := ts.upload(p.Credential, data)
		if used[h.Sequence] {
			problem(t, resp, body, api.CodeSequenceConflict)
			continue
		}
		used[h.Sequence] = true
		decode[api.IngestResponse](t, resp, body, http.StatusCreated)
	}
	// Damage still wins over a conflict once sequence 18 is taken.
	resp, body := ts.upload(p.Credential, read("chunk-corrupt.sxd"))
	if pr := problem(t, resp, body, api.CodeFileRejected); pr.Reason != api.RejectChunkCorrupt {
		t.Fatalf("a corrupt file with a used sequence: %+v", pr)
	}

	resp, body = ts.do("GET", api.PathDevices+"/"+p.Device.ID+"/status", owner.session, nil)
	st := decode[api.DeviceStatus](t, resp, body, http.StatusOK)
	if st.LastRejection == nil || st.LastRejection.Code != api.CodeFileRejected || st.LastRejection.Reason != api.RejectChunkCorrupt ||
		st.LastContactAt == nil {
		t.Fatalf("status after a rejection: %+v", st)
	}
}

func TestIngestChecksTheDeviceAndItsCredential(t *testing.T) {
	ts := newTestServer(t)
	owner := ts.person(ts.account("Acme"), "own@example.com", api.RoleOwner)
	site := ts.site(owner.session, "Plant", "")
	p := ts.provision(owner.session, site.ID, "SX-00042")
	neighbour := ts.provision(owner.session, site.ID, "SX-00043")
	g := testGenerator(t, genStart, time.Minute, 4*time.Hour, false)
	files := deviceFiles(t, p, g, time.Hour)
	key, _ := hex.DecodeString(p.Key.Key)

	// A file of another device, even with a key that opens it, is not this device's.
	theirs := deviceFiles(t, neighbour, g, time.Hour)
	resp, body := ts.upload(p.Credential, theirs[0].Data)
	problem(t, resp, body, api.CodeSerialMismatch)
	resp, body = ts.upload(p.Credential, encryptFile(t, "SX-00043", key, 1, 9, g.Schema(), slicesOf(g, 0, 60)))
	problem(t, resp, body, api.CodeSerialMismatch)
	// The device's serial under another key, or under a key id it does not have.
	other := make([]byte, 32)
	rand.Read(other)
	for name, data := range map[string][]byte{
		"wrong key":      encryptFile(t, "SX-00042", other, 1, 9, g.Schema(), slicesOf(g, 0, 60)),
		"unknown key id": encryptFile(t, "SX-00042", key, 99, 9, g.Schema(), slicesOf(g, 0, 60)),
	} {
		resp, body := ts.upload(p.Credential, data)
		if pr := problem(t, resp, body, api.CodeFileRejected); pr.Reason != api.RejectWrongKey {
			t.Fatalf("%s: %+v", name, pr)
		}
	}

	// Credentials.
	forged := p.Credential[:len(p.Credential)-4] + "AAAA"
	for name, cred := range map[string]string{
		"absent": "", "garbage": "sxd_nonsense", "a user token": owner.session, "wrong secret": forged,
		"another device's id": strings.Replace(p.Credential, p.Device.ID, neighbour.Device.ID, 1),
	} {
		resp, body := ts.upload(cred, files[0].Data)
		if pr := problem(t, resp, body, api.CodeUnauthenticated); !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("%s: %+v without WWW-Authenticate", name, pr)
		}
	}
	// User tokens do not reach the device routes, nor credentials the user routes.
	resp, body = ts.do("GET", api.PathWhoAmI, p.Credential, nil)
	problem(t, resp, body, api.CodeUnauthenticated)

	ts.uploadAll(p.Credential, files[:1])
	resp, body = ts.do("POST", api.PathDevices+"/"+p.Device.ID+"/credential", owner.session, nil)
	fresh := decode[api.DeviceCredential](t, resp, body, http.StatusOK).Credential
	resp, body = ts.upload(p.Credential, files[1].Data)
	problem(t, resp, body, api.CodeUnauthenticated) // replaced: at once
	ts.uploadAll(fresh, files[1:2])

	// A rotated key: new files use it, files under the old key still ingest.
	resp, body = ts.do("POST", api.PathDevices+"/"+p.Device.ID+"/rotate-key", owner.session, nil)
	rotated := decode[api.RotatedKey](t, resp, body, http.StatusOK)
	newKey, _ := hex.DecodeString(rotated.Key.Key)
	withNew, err := datafilestest.Files(datafilestest.Device{Serial: "SX-00042", Key: newKey, KeyID: rotated.Key.KeyID, Generator: g, Period: time.Hour, FirstSequence: 100})
	mustf(t, err, "files under the new key")
	ts.uploadAll(fresh, withNew[:1])
	ts.uploadAll(fresh, files[2:3]) // written before the rotation reached the device

	// Media type and size.
	req := httptest.NewRequest("POST", api.PathIngest, strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+fresh)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	ts.srv.Handler().ServeHTTP(rec, req)
	problem(t, rec.Result(), rec.Body.Bytes(), api.CodeUnsupportedMediaType)
	for name, body := range map[string]io.Reader{
		"announced": io.LimitReader(zeros{}, 10),
		"streamed":  io.LimitReader(zeros{}, api.MaxUploadBytes+1),
	} {
		req := httptest.NewRequest("POST", api.PathIngest, body)
		req.Header.Set("Authorization", "Bearer "+fresh)
		req.ContentLength = -1
		if name == "announced" {
			req.ContentLength = api.MaxUploadBytes + 1
		}
		rec := httptest.NewRecorder()
		ts.srv.Handler().ServeHTTP(rec, req)
		problem(t, rec.Result(), rec.Body.Bytes(), api.CodePayloadTooLarge)
	}
	if left, _ := filepath.Glob(filepath.Join(ts.svc.uploadDir, uploadPattern)); len(left) != 0 {
		t.Fatalf("uploads left behind: %v", left)
	}

	// Decommissioned: the credential stops working.
	resp, body = ts.do("DELETE", api.PathDevices+"/"+p.Device.ID, owner.session, nil)
	decode[api.Device](t, resp, body, http.StatusOK)
	resp, body = ts.upload(fresh, files[3].Data)
	problem(t, resp, body, api.CodeUnauthenticated)
	// Its readings stay readable.
	resp, body = ts.get(readingsPath("device", p.Device.ID, "from", rfc3339(g.Start()), "to", rfc3339(g.End()), "format", "csv"), owner.session, "")
	if resp.StatusCode != 200 || strings.Count(string(body), "\n") != 1+4*420 {
		t.Fatalf("readings of a decommissioned device: %d, %d lines", resp.StatusCode, strings.Count(string(body), "\n"))
	}
}

// zeros is an endless source of zero bytes.
type zeros struct{}

func (zeros) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

// slicesOf returns the generator's readings of samples [first, last).
func slicesOf(g *readings.Generator, first, last int) []readings.Reading {
	var out []readings.Reading
	step := g.Schema().Interval.Milliseconds()
	for r := range g.Range(g.Start()+int64(first)*step, g.Start()+int64(last)*step) {
		out = append(out, r)
	}
	return out
}

// TestIngestLargeFile sends a week in one file: the upload goes through a temporary file and
// each channel is stored in several segments; every reading must come back.
func TestIngestLargeFile(t *testing.T) {
	ts := newTestServer(t)
	owner := ts.person(ts.account("Acme"), "own@example.com", api.RoleOwner)
	site := ts.site(owner.session, "Plant", "")
	p := ts.provision(owner.session, site.ID, "SX-00042")
	g := testGenerator(t, genStart, time.Minute, 7*24*time.Hour, false)
	files := deviceFiles(t, p, g, 7*24*time.Hour)
	if len(files) != 1 || len(files[0].Data) <= memoryUploadBytes {
		t.Fatalf("want one file over %d bytes, got %d files", memoryUploadBytes, len(files))
	}
	ts.uploadAll(p.Credential, files)
	resp, body := ts.get(readingsPath("device", p.Device.ID, "from", rfc3339(g.Start()), "to", rfc3339(g.End()), "format", "csv"), owner.session, "")
	if resp.StatusCode != 200 {
		t.Fatalf("export: %d %s", resp.StatusCode, body)
	}
	if want := expectedCSV(t, g, "SX-00042", g.Start(), g.End(), nil); !bytes.Equal(body, want) {
		t.Fatalf("a week in one file came back different (%d bytes, want %d)", len(body), len(want))
	}
}

// expectedCSV is what `smartx decode --format csv` prints for the generator's readings in
// [from, to) of the named channels (nil: all).
func expectedCSV(t testing.TB, g *readings.Generator, serial string, from, to int64, channels []string) []byte {
	t.Helper()
	var buf bytes.Buffer
	exp, err := readings.NewExporter(&buf, readings.ExportCSV, readings.ExportOptions{})
	mustf(t, err, "exporter")
	schema := g.Schema().Channels
	for r := range g.Range(from, to) {
		if channels != nil && !containsString(channels, schema[r.Channel].Name) {
			continue
		}
		mustf(t, exp.Write(serial, schema[r.Channel], r), "write")
	}
	mustf(t, exp.Close(), "close")
	return buf.Bytes()
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestLossReportsAndDeviceStatus(t *testing.T) {
	ts := newTestServer(t)
	owner := ts.person(ts.account("Acme"), "own@example.com", api.RoleOwner)
	analyst := ts.person(ts.account("Other"), "ana@example.com", api.RoleOwner)
	site := ts.site(owner.session, "Plant", "")
	p := ts.provision(owner.session, site.ID, "SX-00042")
	// Six hours of ten-minute readings in hourly files; files 3 and 4 never arrive (the device
	// reports them lost), and file 6 has a hole inside it.
	g := testGenerator(t, genStart, 10*time.Minute, 6*time.Hour, false)
	files := deviceFiles(t, p, g, time.Hour)
	key, _ := hex.DecodeString(p.Key.Key)
	holed := append(slicesOf(g, 30, 32), slicesOf(g, 34, 36)...) // 20 minutes without readings
	files[5].Data = encryptFile(t, "SX-00042", key, 1, 6, g.Schema(), holed)
	ts.uploadAll(p.Credential, files[:2])
	resp, body := ts.upload(p.Credential, files[4].Data)
	decode[api.IngestResponse](t, resp, body, http.StatusCreated)
	resp, body = ts.upload(p.Credential, files[5].Data)
	decode[api.IngestResponse](t, resp, body, http.StatusCreated)

	report := api.LossReport{Losses: []api.Loss{{FirstSequence: 3, LastSequence: 4, From: time.UnixMilli(files[2].From).UTC(),
		To: time.UnixMilli(files[3].To).UTC(), Files: 2, Reason: api.LossReasonSpoolFull}}}
	lossReq := func(cred string, v any) (*http.Response, []byte) {
		req, _ := http.NewRequest("POST", ts.url+api.PathIngestLosses, bytes.NewReader(mustJSON(v)))
		req.Header.Set("Authorization", "Bearer "+cred)
		req.Header.Set("Content-Type", "application/json")
		resp, err := ts.client.Do(req)
		mustf(t, err, "report losses")
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, body = lossReq(p.Credential, report)
	if got := decode[api.LossReportResponse](t, resp, body, http.StatusOK); got.Recorded != 1 || got.Duplicates != 0 {
		t.Fatalf("first report: %+v", got)
	}
	resp, body = lossReq(p.Credential, report)
	if got := decode[api.LossReportResponse](t, resp, body, http.StatusOK); got.Recorded != 0 || got.Duplicates != 1 {
		t.Fatalf("same report again: %+v", got)
	}
	for name, bad := range map[string]api.Loss{
		"reversed":      {FirstSequence: 5, LastSequence: 4, From: genStart, To: genStart, Files: 1, Reason: "spool_full"},
		"too many":      {FirstSequence: 5, LastSequence: 5, From: genStart, To: genStart, Files: 2, Reason: "spool_full"},
		"no period":     {FirstSequence: 5, LastSequence: 5, Files: 1, Reason: "spool_full"},
		"odd reason":    {FirstSequence: 5, LastSequence: 5, From: genStart, To: genStart, Files: 1, Reason: "Spool Full!"},
		"huge sequence": {FirstSequence: 1 << 63, LastSequence: 1 << 63, From: genStart, To: genStart, Files: 1, Reason: "spool_full"},
	} {
		resp, body := lossReq(p.Credential, api.LossReport{Losses: []api.Loss{bad}})
		if pr := problem(t, resp, body, api.CodeValidationFailed); len(pr.Errors) != 1 {
			t.Fatalf("%s: %+v", name, pr)
		}
	}
	resp, body = lossReq(owner.session, report)
	problem(t, resp, body, api.CodeUnauthenticated)

	resp, body = ts.do("GET", api.PathDevices+"/"+p.Device.ID+"/status", owner.session, nil)
	st := decode[api.DeviceStatus](t, resp, body, http.StatusOK)
	if st.FilesReceived != 4 || st.ReadingsReceived != int64(4*6*7-2*7) || st.LastSequence == nil || *st.LastSequence != 6 ||
		st.LastUploadAt == nil || st.LastContactAt == nil || st.LastRejection != nil || st.MissingFiles != 2 ||
		!st.FirstReadingAt.Equal(time.UnixMilli(g.Start())) || !st.LastReadingAt.Equal(time.UnixMilli(holed[len(holed)-1].Time)) {
		t.Fatalf("status totals: %+v", st)
	}
	if len(st.SequenceGaps) != 1 || st.SequenceGapsTotal != 1 {
		t.Fatalf("sequence gaps %+v", st.SequenceGaps)
	}
	sg := st.SequenceGaps[0]
	if sg.FirstSequence != 3 || sg.LastSequence != 4 || sg.Files != 2 || !sg.Reported ||
		!sg.From.Equal(time.UnixMilli(files[1].To-600_000)) || !sg.To.Equal(time.UnixMilli(files[4].From)) {
		t.Fatalf("sequence gap %+v", sg)
	}
	if len(st.ReportedLosses) != 1 || st.ReportedLosses[0].Reason != "spool_full" || st.ReportedLosses[0].Files != 2 || st.ReportedLosses[0].ReportedAt == nil {
		t.Fatalf("reported losses %+v", st.ReportedLosses)
	}
	// Time gaps: the two missing hours between files 2 and 5, and the hole inside file 6.
	if st.TimeGapsTotal != 2 || len(st.TimeGaps) != 2 {
		t.Fatalf("time gaps %+v", st.TimeGaps)
	}
	between, inside := st.TimeGaps[0], st.TimeGaps[1]
	if between.Where != api.GapBetweenFiles || between.Sequence != 5 || !between.From.Equal(*sg.From) || !between.To.Equal(*sg.To) ||
		between.Seconds != float64(files[4].From-(files[1].To-600_000))/1000 {
		t.Fatalf("gap between files %+v", between)
	}
	if inside.Where != api.GapInsideFile || inside.Sequence != 6 || !inside.From.Equal(time.UnixMilli(holed[13].Time)) ||
		!inside.To.Equal(time.UnixMilli(holed[14].Time)) || inside.Seconds != 1800 {
		t.Fatalf("gap inside a file %+v", inside)
	}
	resp, body = ts.do("GET", api.PathDevices+"/"+p.Device.ID+"/status", analyst.session, nil)
	problem(t, resp, body, api.CodeNotFound)
}

// TestAccountDeletionRemovesDevicesAndReadings checks the database itself: no row of the
// deleted account's sites, devices, keys, files, segments or losses is left.
func TestAccountDeletionRemovesDevicesAndReadings(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	doomed, kept := ts.account("Doomed"), ts.account("Kept")
	var doomedDevice, keptDevice string
	for _, acc := range []Account{doomed, kept} {
		owner := ts.person(acc, "own-"+acc.Name+"@example.com", api.RoleOwner)
		site := ts.site(owner.session, "Plant", "")
		p := ts.provision(owner.session, site.ID, "SX-00042")
		g := testGenerator(t, genStart, time.Minute, 2*time.Hour, false)
		ts.uploadAll(p.Credential, deviceFiles(t, p, g, time.Hour))
		resp, _ := ts.do("POST", api.PathDevices+"/"+p.Device.ID+"/rotate-key", owner.session, nil)
		if resp.StatusCode != 200 {
			t.Fatal("rotate")
		}
		u, err := ts.svc.devices.verify(ctx, p.Credential)
		mustf(t, err, "verify")
		_, _, err = ts.svc.ReportLosses(ctx, u, api.LossReport{Losses: []api.Loss{{FirstSequence: 3, LastSequence: 3, From: genStart, To: genStart, Files: 1, Reason: "spool_full"}}})
		mustf(t, err, "report")
		if acc.ID == doomed.ID {
			doomedDevice = p.Device.ID
		} else {
			keptDevice = p.Device.ID
		}
	}
	db := ts.openRaw(t)
	rows := func(device, account string) map[string]int {
		out := map[string]int{}
		for table, column := range map[string]string{
			"sites": "account_id", "devices": "account_id", "device_keys": "device_id",
			"data_files": "device_id", "segments": "device_id", "device_losses": "device_id",
		} {
			arg := device
			if column == "account_id" {
				arg = account
			}
			var n int
			mustf(t, db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table+" WHERE "+column+" = $1", arg).Scan(&n), "count %s", table)
			out[table] = n
		}
		return out
	}
	before := rows(doomedDevice, doomed.ID)
	if before["segments"] != 14 || before["data_files"] != 2 || before["device_keys"] != 2 || before["device_losses"] != 1 {
		t.Fatalf("rows before deletion: %v", before)
	}
	mustf(t, ts.svc.DeleteAccount(ctx, doomed.ID), "delete account")
	for table, n := range rows(doomedDevice, doomed.ID) {
		if n != 0 {
			t.Errorf("%d rows of %s survived their account", n, table)
		}
	}
	for table, n := range rows(keptDevice, kept.ID) {
		if n != before[table] {
			t.Errorf("the other account has %d rows of %s, want %d", n, table, before[table])
		}
	}
}

// TestAcknowledgedUploadsSurviveACrash copies the database and its WAL as a killed process
// leaves them (no checkpoint, no close: only what commits wrote to the files) and opens the
// copy: every upload the server acknowledged is there with its readings.
func TestAcknowledgedUploadsSurviveACrash(t *testing.T) {
	// SQLite's files, whatever the run's store: PostgreSQL's commits are durable by its own design.
	ts := newTestServer(t, onSQLite())
	ctx := context.Background()
	owner := ts.person(ts.account("Acme"), "own@example.com", api.RoleOwner)
	site := ts.site(owner.session, "Plant", "")
	p := ts.provision(owner.session, site.ID, "SX-00042")
	g := testGenerator(t, genStart, time.Minute, 5*time.Hour, false)
	files := deviceFiles(t, p, g, time.Hour)
	ts.uploadAll(p.Credential, files)

	crashed := t.TempDir()
	for _, suffix := range []string{"", "-wal"} {
		data, err := os.ReadFile(filepath.Join(ts.dir, DatabaseFile+suffix))
		mustf(t, err, "read %s%s", DatabaseFile, suffix)
		if suffix == "-wal" && len(data) == 0 {
			t.Fatal("the WAL is empty: the commits are already in the main file and the test proves nothing")
		}
		mustf(t, os.WriteFile(filepath.Join(crashed, DatabaseFile+suffix), data, 0o600), "copy")
	}
	st, err := sqlite.Open(ctx, filepath.Join(crashed, DatabaseFile))
	mustf(t, err, "open the crashed copy")
	defer st.Close()
	var stored int
	mustf(t, st.ListDataFiles(ctx, owner.user.AccountID, p.Device.ID, func(store.DataFile) error { stored++; return nil }), "list files")
	var readingsBack int
	mustf(t, st.ScanSegments(ctx, store.SegmentQuery{AccountID: owner.user.AccountID, DeviceID: p.Device.ID, From: g.Start(), To: g.End()},
		func(sg *store.Segment) error { readingsBack += sg.Count; return nil }), "scan")
	if stored != len(files) || readingsBack != 5*420 {
		t.Fatalf("after the crash: %d files and %d readings, want %d and %d", stored, readingsBack, len(files), 5*420)
	}
}
