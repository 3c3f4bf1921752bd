package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/datafiles/datafilestest"
)

// benchMonth is a month of one-minute readings of the generator's 7-channel building, one file
// per hour, as a device uploads its spool after an outage: 720 files, 302,400 readings.
func benchMonth(b *testing.B, serial string, key []byte, keyID uint32) []datafilestest.File {
	b.Helper()
	g := testGenerator(b, genStart, time.Minute, 30*24*time.Hour, false)
	files, err := datafilestest.Files(datafilestest.Device{Serial: serial, Key: key, KeyID: keyID, Generator: g, Period: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	return files
}

// benchDevice registers a device with the serial and gives it key keyID, so files encrypted
// once serve every iteration; the previous device of that serial is decommissioned first.
func (ts *testServer) benchDevice(b *testing.B, owner person, siteID, serial string, keyID uint32, key []byte, previous string) api.ProvisionedDevice {
	b.Helper()
	if previous != "" {
		if resp, _ := ts.do("DELETE", api.PathDevices+"/"+previous, owner.session, nil); resp.StatusCode != 200 {
			b.Fatalf("decommission: %d", resp.StatusCode)
		}
	}
	p := ts.provision(owner.session, siteID, serial)
	if err := ts.svc.importDeviceKey(context.Background(), owner.user.AccountID, p.Device.ID, keyID, key); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkIngest uploads a month of already encrypted files into SQLite: "handler" calls the
// server's HTTP handler directly, one file after the other as one device does; "https" sends
// them over loopback HTTPS (HTTP/2, TLS 1.3) from 4 devices at once. Each iteration is a month
// of one device (4 devices for https); readings/s counts stored readings.
func BenchmarkIngest(b *testing.B) {
	key := bytes.Repeat([]byte{7}, 32)
	b.Run("handler", func(b *testing.B) {
		ts := newTestServer(b, withAPILimits(APILimits{})) // one device at full speed: far above its rate limit
		owner := ts.person(ts.account("Bench"), "own@example.com", api.RoleOwner)
		site := ts.site(owner.session, "Plant", "")
		files := benchMonth(b, "SX-BENCH", key, 2)
		h := ts.srv.Handler()
		var stored int64
		prev := ""
		b.ResetTimer()
		for b.Loop() {
			b.StopTimer()
			p := ts.benchDevice(b, owner, site.ID, "SX-BENCH", 2, key, prev)
			prev = p.Device.ID
			b.StartTimer()
			for _, f := range files {
				req, _ := http.NewRequest("POST", api.PathIngest, bytes.NewReader(f.Data))
				req.RemoteAddr = "127.0.0.1:1234"
				req.Header.Set("Content-Type", api.OctetStreamContentType)
				req.Header.Set("Authorization", "Bearer "+p.Credential)
				w := &discardWriter{h: http.Header{}}
				h.ServeHTTP(w, req)
				if w.status != http.StatusCreated {
					b.Fatalf("upload of file %d: status %d", f.Sequence, w.status)
				}
				stored += int64(f.Readings)
			}
		}
		b.ReportMetric(float64(stored)/b.Elapsed().Seconds(), "readings/s")
	})
	b.Run("https", func(b *testing.B) {
		const devices = 4
		// Four devices emptying a month of spool at full speed from one address are a load
		// test: the API's rate limits would slow them down, as they should in production.
		ts := newTestServer(b, withAPILimits(APILimits{}))
		owner := ts.person(ts.account("Bench"), "own@example.com", api.RoleOwner)
		site := ts.site(owner.session, "Plant", "")
		var months [devices][]datafilestest.File
		for i := range devices {
			months[i] = benchMonth(b, fmt.Sprintf("SX-BENCH-%d", i), key, 2)
		}
		var stored atomic.Int64
		var prev [devices]string
		b.ResetTimer()
		for b.Loop() {
			b.StopTimer()
			var creds [devices]string
			for i := range devices {
				p := ts.benchDevice(b, owner, site.ID, fmt.Sprintf("SX-BENCH-%d", i), 2, key, prev[i])
				prev[i], creds[i] = p.Device.ID, p.Credential
			}
			b.StartTimer()
			var wg sync.WaitGroup
			for i := range devices {
				wg.Go(func() {
					for _, f := range months[i] {
						req, _ := http.NewRequest("POST", ts.url+api.PathIngest, bytes.NewReader(f.Data))
						req.Header.Set("Content-Type", api.OctetStreamContentType)
						req.Header.Set("Authorization", "Bearer "+creds[i])
						resp, err := ts.client.Do(req)
						if err != nil {
							b.Error(err)
							return
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != http.StatusCreated {
							b.Errorf("upload of file %d: status %d", f.Sequence, resp.StatusCode)
							return
						}
						stored.Add(int64(f.Readings))
					}
				})
			}
			wg.Wait()
		}
		b.ReportMetric(float64(stored.Load())/b.Elapsed().Seconds(), "readings/s")
	})
}

// BenchmarkExportCSV streams a month of one device's readings (302,400) as CSV over loopback
// HTTPS and reads the whole response, as an analyst's script does.
func BenchmarkExportCSV(b *testing.B) {
	ts := newTestServer(b)
	owner := ts.person(ts.account("Bench"), "own@example.com", api.RoleOwner)
	site := ts.site(owner.session, "Plant", "")
	key := bytes.Repeat([]byte{7}, 32)
	p := ts.benchDevice(b, owner, site.ID, "SX-BENCH", 2, key, "")
	files := benchMonth(b, "SX-BENCH", key, 2)
	var total int64
	for _, f := range files {
		resp, body := ts.upload(p.Credential, f.Data)
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("upload: %d %s", resp.StatusCode, body)
		}
		total += int64(f.Readings)
	}
	url := ts.url + readingsPath("device", p.Device.ID, "from", rfc3339(files[0].From), "to", rfc3339(files[len(files)-1].To), "format", "csv")
	var exported, bytesRead int64
	b.ResetTimer()
	for b.Loop() {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+owner.session)
		resp, err := ts.client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		lines, n, err := countLines(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || lines != total+1 {
			b.Fatalf("export: status %d, %d lines (want %d), %v", resp.StatusCode, lines, total+1, err)
		}
		exported += lines - 1
		bytesRead += n
	}
	b.ReportMetric(float64(exported)/b.Elapsed().Seconds(), "readings/s")
	b.ReportMetric(float64(bytesRead)/b.Elapsed().Seconds()/1e6, "MB/s")
}

// countLines reads r to its end and counts its lines.
func countLines(r io.Reader) (lines, n int64, err error) {
	buf := make([]byte, 256<<10)
	for {
		k, err := r.Read(buf)
		n += int64(k)
		lines += int64(bytes.Count(buf[:k], []byte{'\n'}))
		if err == io.EOF {
			return lines, n, nil
		}
		if err != nil {
			return lines, n, err
		}
	}
}
