package server

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/smart-impulse/smartx/internal/api"
)

func TestSites(t *testing.T) {
	ts := newTestServer(t)
	acc := ts.account("Acme")
	owner := ts.person(acc, "own@example.com", api.RoleOwner)
	analyst := ts.person(acc, "ana@example.com", api.RoleAnalyst)

	resp, body := ts.do("POST", api.PathSites, owner.session, api.CreateSiteRequest{Name: " Paris HQ ", Address: "1 rue de Rivoli", TimeZone: "Europe/Paris"})
	paris := decode[api.Site](t, resp, body, http.StatusCreated)
	if paris.Name != "Paris HQ" || paris.TimeZone != "Europe/Paris" || !strings.HasPrefix(paris.ID, api.PrefixSite) ||
		resp.Header.Get("Location") != api.PathSites+"/"+paris.ID {
		t.Fatalf("created site %+v (Location %q)", paris, resp.Header.Get("Location"))
	}
	lyon := ts.site(owner.session, "Lyon", "")
	if lyon.TimeZone != "UTC" {
		t.Fatalf("default time zone %q, want UTC", lyon.TimeZone)
	}

	bad := []struct {
		name  string
		req   api.CreateSiteRequest
		code  api.Code
		field string
	}{
		{"duplicate name", api.CreateSiteRequest{Name: "Lyon"}, api.CodeConflict, ""},
		{"empty name", api.CreateSiteRequest{Name: "  "}, api.CodeValidationFailed, "name"},
		{"unknown zone", api.CreateSiteRequest{Name: "X", TimeZone: "Mars/Olympus"}, api.CodeValidationFailed, "time_zone"},
		{"Local is no zone", api.CreateSiteRequest{Name: "X", TimeZone: "Local"}, api.CodeValidationFailed, "time_zone"},
		{"a path is no zone", api.CreateSiteRequest{Name: "X", TimeZone: "../../etc/passwd"}, api.CodeValidationFailed, "time_zone"},
		{"control characters", api.CreateSiteRequest{Name: "X", Address: "a\x1b[2Jb"}, api.CodeValidationFailed, "address"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := ts.do("POST", api.PathSites, owner.session, tt.req)
			p := problem(t, resp, body, tt.code)
			if tt.field != "" && (len(p.Errors) != 1 || p.Errors[0].Field != tt.field) {
				t.Fatalf("problem %+v, want field %s", p, tt.field)
			}
		})
	}

	resp, body = ts.do("POST", api.PathSites, analyst.session, api.CreateSiteRequest{Name: "Nope"})
	if p := problem(t, resp, body, api.CodeInsufficientScope); p.Scope != api.ScopeDevicesWrite {
		t.Fatalf("analyst creating a site: %+v", p)
	}
	// Reading sites needs any valid token.
	resp, body = ts.do("GET", api.PathSites, analyst.session, nil)
	list := decode[api.SiteList](t, resp, body, http.StatusOK)
	if len(list.Sites) != 2 || list.Sites[0].ID != lyon.ID || list.Sites[1].ID != paris.ID {
		t.Fatalf("sites by name: %+v", list)
	}
	resp, body = ts.do("GET", api.PathSites+"?name=Paris%20HQ", analyst.session, nil)
	if l := decode[api.SiteList](t, resp, body, http.StatusOK); len(l.Sites) != 1 || l.Sites[0].ID != paris.ID {
		t.Fatalf("?name= resolved %+v", l)
	}
	resp, body = ts.do("GET", api.PathSites+"?name=paris", analyst.session, nil)
	if l := decode[api.SiteList](t, resp, body, http.StatusOK); len(l.Sites) != 0 {
		t.Fatalf("?name= is an exact match, got %+v", l)
	}

	resp, body = ts.do("PATCH", api.PathSites+"/"+lyon.ID, owner.session, map[string]string{"name": "Lyon Part-Dieu", "time_zone": "Europe/Paris"})
	if got := decode[api.Site](t, resp, body, http.StatusOK); got.Name != "Lyon Part-Dieu" || got.TimeZone != "Europe/Paris" || got.Address != "" {
		t.Fatalf("patched %+v", got)
	}
	resp, body = ts.do("PATCH", api.PathSites+"/"+lyon.ID, owner.session, map[string]string{"name": "Paris HQ"})
	problem(t, resp, body, api.CodeConflict)

	// Another account sees nothing.
	other := ts.person(ts.account("Other"), "other@example.com", api.RoleOwner)
	for _, method := range []string{"GET", "DELETE"} {
		resp, body := ts.do(method, api.PathSites+"/"+paris.ID, other.session, nil)
		problem(t, resp, body, api.CodeNotFound)
	}

	// A token restricted to Paris sees Paris only, and cannot create sites.
	resp, body = ts.do("POST", api.PathTokens, owner.session, api.CreateTokenRequest{Name: "paris",
		Scopes: []api.Scope{api.ScopeDevicesRead, api.ScopeDevicesWrite, api.ScopeReadingsRead}, Sites: []string{paris.ID}})
	parisOnly := decode[api.CreateTokenResponse](t, resp, body, http.StatusCreated)
	resp, body = ts.do("GET", api.PathSites, parisOnly.Secret, nil)
	if l := decode[api.SiteList](t, resp, body, http.StatusOK); len(l.Sites) != 1 || l.Sites[0].ID != paris.ID {
		t.Fatalf("restricted token lists %+v", l)
	}
	resp, body = ts.do("GET", api.PathSites+"/"+lyon.ID, parisOnly.Secret, nil)
	problem(t, resp, body, api.CodeSiteForbidden)
	resp, body = ts.do("DELETE", api.PathSites+"/"+lyon.ID, parisOnly.Secret, nil)
	problem(t, resp, body, api.CodeSiteForbidden)
	resp, body = ts.do("POST", api.PathSites, parisOnly.Secret, api.CreateSiteRequest{Name: "Elsewhere"})
	problem(t, resp, body, api.CodeSiteForbidden)

	// A site with devices in service cannot go; once they are decommissioned it can.
	d1 := ts.provision(owner.session, lyon.ID, "SX-1")
	ts.provision(owner.session, lyon.ID, "SX-2")
	resp, body = ts.do("DELETE", api.PathSites+"/"+lyon.ID, owner.session, nil)
	if p := problem(t, resp, body, api.CodeSiteNotEmpty); !strings.Contains(p.Detail, "2 device") {
		t.Fatalf("site_not_empty does not say how many: %q", p.Detail)
	}
	resp, body = ts.do("GET", api.PathDevices+"?site="+lyon.ID, owner.session, nil)
	for _, d := range decode[api.DeviceList](t, resp, body, http.StatusOK).Devices {
		resp, body := ts.do("DELETE", api.PathDevices+"/"+d.ID, owner.session, nil)
		decode[api.Device](t, resp, body, http.StatusOK)
	}
	resp, _ = ts.do("DELETE", api.PathSites+"/"+lyon.ID, owner.session, nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete of an emptied site: %d", resp.StatusCode)
	}
	resp, body = ts.do("GET", api.PathDevices+"/"+d1.Device.ID, owner.session, nil)
	problem(t, resp, body, api.CodeNotFound) // its decommissioned devices went with it
}

// lockedBuffer is a log destination tests read while the server writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func withLogger(w *lockedBuffer) testOption {
	return func(sc *ServiceConfig, c *Config) {
		log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
		sc.Logger, c.Logger = log, log
	}
}

func TestDevices(t *testing.T) {
	var logs lockedBuffer
	ts := newTestServer(t, withLogger(&logs))
	acc := ts.account("Acme")
	owner := ts.person(acc, "own@example.com", api.RoleOwner)
	installer := ts.person(acc, "inst@example.com", api.RoleInstaller)
	support := ts.person(acc, "sup@example.com", api.RoleSupport)
	analyst := ts.person(acc, "ana@example.com", api.RoleAnalyst)
	north := ts.site(owner.session, "North", "Europe/Paris")
	south := ts.site(owner.session, "South", "")

	resp, body := ts.do("POST", api.PathDevices, installer.session, api.CreateDeviceRequest{Serial: "SX-00042", SiteID: north.ID,
		Network: &api.NetworkSettings{Mode: api.NetworkStatic, Address: "192.0.2.10/24", Gateway: "192.0.2.1", DNS: []string{"192.0.2.53"},
			Proxy: "http://proxy.example.com:3128", NTP: "ntp.example.com"}})
	p := decode[api.ProvisionedDevice](t, resp, body, http.StatusCreated)
	d := p.Device
	if d.Serial != "SX-00042" || d.SiteID != north.ID || d.CurrentKeyID != 1 || d.Decommissioned || d.Network.Address != "192.0.2.10/24" ||
		p.Key.KeyID != 1 || len(p.Key.Key) != 64 || !p.Key.Current || !strings.HasPrefix(p.Credential, api.DeviceCredentialPrefix+d.ID+"_") {
		t.Fatalf("provisioned %+v", p)
	}
	other := ts.provision(owner.session, south.ID, "SX-00007")
	if other.Device.Network.Mode != api.NetworkDHCP {
		t.Fatalf("default network %+v", other.Device.Network)
	}

	bad := []struct {
		name  string
		req   api.CreateDeviceRequest
		code  api.Code
		field string
	}{
		{"serial in service", api.CreateDeviceRequest{Serial: "SX-00042", SiteID: south.ID}, api.CodeConflict, ""},
		{"serial with a space", api.CreateDeviceRequest{Serial: "SX 1", SiteID: south.ID}, api.CodeValidationFailed, "serial"},
		{"serial too long", api.CreateDeviceRequest{Serial: strings.Repeat("X", 65), SiteID: south.ID}, api.CodeValidationFailed, "serial"},
		{"no site", api.CreateDeviceRequest{Serial: "SX-9"}, api.CodeValidationFailed, "site_id"},
		{"unknown site", api.CreateDeviceRequest{Serial: "SX-9", SiteID: "sit_aaaaaaaaaaaaaaaa"}, api.CodeValidationFailed, "site_id"},
		{"bad mode", api.CreateDeviceRequest{Serial: "SX-9", SiteID: south.ID, Network: &api.NetworkSettings{Mode: "ppp"}}, api.CodeValidationFailed, "network.mode"},
		{"static without prefix", api.CreateDeviceRequest{Serial: "SX-9", SiteID: south.ID, Network: &api.NetworkSettings{Mode: api.NetworkStatic, Address: "192.0.2.10"}}, api.CodeValidationFailed, "network.address"},
		{"dhcp with address", api.CreateDeviceRequest{Serial: "SX-9", SiteID: south.ID, Network: &api.NetworkSettings{Mode: api.NetworkDHCP, Address: "192.0.2.10/24"}}, api.CodeValidationFailed, "network.mode"},
		{"bad dns", api.CreateDeviceRequest{Serial: "SX-9", SiteID: south.ID, Network: &api.NetworkSettings{Mode: api.NetworkDHCP, DNS: []string{"dns.example.com"}}}, api.CodeValidationFailed, "network.dns[0]"},
		{"bad proxy", api.CreateDeviceRequest{Serial: "SX-9", SiteID: south.ID, Network: &api.NetworkSettings{Mode: api.NetworkDHCP, Proxy: "socks5://p:1080"}}, api.CodeValidationFailed, "network.proxy"},
		{"bad ntp", api.CreateDeviceRequest{Serial: "SX-9", SiteID: south.ID, Network: &api.NetworkSettings{Mode: api.NetworkDHCP, NTP: "ntp server"}}, api.CodeValidationFailed, "network.ntp"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := ts.do("POST", api.PathDevices, owner.session, tt.req)
			p := problem(t, resp, body, tt.code)
			if tt.field != "" && (len(p.Errors) != 1 || p.Errors[0].Field != tt.field) {
				t.Fatalf("problem %+v, want field %s", p, tt.field)
			}
		})
	}
	resp, body = ts.do("POST", api.PathDevices, owner.session, `{"serial":"SX-9","site_id":"`+south.ID+`","network":{"mode":"dhcp","vlan":4}}`)
	problem(t, resp, body, api.CodeValidationFailed) // unknown network field

	// Listing and resolving a serial.
	resp, body = ts.do("GET", api.PathDevices+"?serial=SX-00042", analyst.session, nil)
	if l := decode[api.DeviceList](t, resp, body, http.StatusOK); len(l.Devices) != 1 || l.Devices[0].ID != d.ID {
		t.Fatalf("?serial= resolved %+v", l)
	}
	resp, body = ts.do("GET", api.PathDevices+"?site="+south.ID, analyst.session, nil)
	if l := decode[api.DeviceList](t, resp, body, http.StatusOK); len(l.Devices) != 1 || l.Devices[0].ID != other.Device.ID {
		t.Fatalf("?site= listed %+v", l)
	}

	// Keys: support engineers may fetch them, analysts may not; each fetch is logged at WARN.
	resp, body = ts.do("GET", api.PathDevices+"/"+d.ID+"/key", analyst.session, nil)
	if p := problem(t, resp, body, api.CodeInsufficientScope); p.Scope != api.ScopeDevicesKeys {
		t.Fatalf("analyst fetching a key: %+v", p)
	}
	resp, body = ts.do("GET", api.PathDevices+"/"+d.ID+"/key", support.session, nil)
	keys := decode[api.DeviceKeys](t, resp, body, http.StatusOK)
	if len(keys.Keys) != 1 || keys.Keys[0].Key != p.Key.Key || !keys.Keys[0].Current || keys.Serial != "SX-00042" {
		t.Fatalf("keys %+v, want the provisioned one", keys)
	}
	if log := logs.String(); !strings.Contains(log, "level=WARN msg=\"device keys fetched\"") || !strings.Contains(log, "user="+support.user.ID) ||
		strings.Contains(log, p.Key.Key) {
		t.Fatalf("key fetch not logged at WARN with who, or the key logged:\n%s", log)
	}
	resp, body = ts.do("POST", api.PathDevices+"/"+d.ID+"/rotate-key", support.session, nil)
	rotated := decode[api.RotatedKey](t, resp, body, http.StatusOK)
	if rotated.Key.KeyID != 2 || rotated.Key.Key == p.Key.Key || !rotated.Key.Current {
		t.Fatalf("rotated %+v", rotated)
	}
	resp, body = ts.do("GET", api.PathDevices+"/"+d.ID+"/key", support.session, nil)
	keys = decode[api.DeviceKeys](t, resp, body, http.StatusOK)
	if len(keys.Keys) != 2 || keys.Keys[0].Current || !keys.Keys[1].Current || keys.Keys[1].Key != rotated.Key.Key {
		t.Fatalf("keys after rotation %+v", keys)
	}
	resp, body = ts.do("GET", api.PathDevices+"/"+d.ID, analyst.session, nil)
	if got := decode[api.Device](t, resp, body, http.StatusOK); got.CurrentKeyID != 2 {
		t.Fatalf("current key id %d after rotation", got.CurrentKeyID)
	}

	// A restricted token: its sites' devices only.
	resp, body = ts.do("POST", api.PathTokens, owner.session, api.CreateTokenRequest{Name: "south",
		Scopes: []api.Scope{api.ScopeDevicesRead, api.ScopeDevicesWrite, api.ScopeDevicesKeys}, Sites: []string{south.ID}})
	southOnly := decode[api.CreateTokenResponse](t, resp, body, http.StatusCreated)
	resp, body = ts.do("GET", api.PathDevices, southOnly.Secret, nil)
	if l := decode[api.DeviceList](t, resp, body, http.StatusOK); len(l.Devices) != 1 || l.Devices[0].ID != other.Device.ID {
		t.Fatalf("restricted listing %+v", l)
	}
	// Another site's device is not there for it (by id as by serial), as if it did not exist.
	for _, path := range []string{"", "/key", "/status"} {
		resp, body := ts.do("GET", api.PathDevices+"/"+d.ID+path, southOnly.Secret, nil)
		problem(t, resp, body, api.CodeNotFound)
	}
	resp, body = ts.do("GET", api.PathDevices+"?serial="+url.QueryEscape(d.Serial), southOnly.Secret, nil)
	if l := decode[api.DeviceList](t, resp, body, http.StatusOK); len(l.Devices) != 0 {
		t.Fatalf("restricted token finds another site's serial: %+v", l)
	}
	resp, body = ts.do("POST", api.PathDevices, southOnly.Secret, api.CreateDeviceRequest{Serial: "SX-77", SiteID: north.ID})
	problem(t, resp, body, api.CodeSiteForbidden)

	// A new credential replaces the old one at once.
	resp, body = ts.do("POST", api.PathDevices+"/"+d.ID+"/credential", installer.session, nil)
	cred := decode[api.DeviceCredential](t, resp, body, http.StatusOK)
	if cred.Credential == p.Credential || !strings.HasPrefix(cred.Credential, api.DeviceCredentialPrefix+d.ID+"_") {
		t.Fatalf("new credential %q", cred.Credential)
	}

	// Decommissioning keeps the record, frees the serial and freezes the device.
	resp, body = ts.do("DELETE", api.PathDevices+"/"+d.ID, installer.session, nil)
	if got := decode[api.Device](t, resp, body, http.StatusOK); !got.Decommissioned || got.DecommissionedAt == nil {
		t.Fatalf("decommissioned %+v", got)
	}
	for _, path := range []string{"/credential", "/rotate-key"} {
		resp, body := ts.do("POST", api.PathDevices+"/"+d.ID+path, owner.session, nil)
		problem(t, resp, body, api.CodeDeviceDecommissioned)
	}
	again := ts.provision(owner.session, north.ID, "SX-00042")
	resp, body = ts.do("GET", api.PathDevices+"?serial=SX-00042", owner.session, nil)
	if l := decode[api.DeviceList](t, resp, body, http.StatusOK); len(l.Devices) != 1 || l.Devices[0].ID != again.Device.ID {
		t.Fatalf("serial resolves to %+v, want the device in service", l)
	}
	resp, body = ts.do("GET", api.PathDevices+"?serial=SX-00042&state=all", owner.session, nil)
	if l := decode[api.DeviceList](t, resp, body, http.StatusOK); len(l.Devices) != 2 {
		t.Fatalf("state=all lists %d devices", len(l.Devices))
	}
	resp, body = ts.do("GET", api.PathDevices+"?state=gone", owner.session, nil)
	problem(t, resp, body, api.CodeValidationFailed)

	// Other accounts see nothing.
	stranger := ts.person(ts.account("Other"), "x@example.com", api.RoleOwner)
	for _, path := range []string{"", "/key", "/status"} {
		resp, body := ts.do("GET", api.PathDevices+"/"+other.Device.ID+path, stranger.session, nil)
		problem(t, resp, body, api.CodeNotFound)
	}
	resp, body = ts.do("GET", api.PathDevices, stranger.session, nil)
	if l := decode[api.DeviceList](t, resp, body, http.StatusOK); len(l.Devices) != 0 {
		t.Fatalf("another account lists %+v", l)
	}
	if !slices.ContainsFunc(api.AllCodes, func(c api.Code) bool { return c == api.CodeDeviceDecommissioned }) {
		t.Fatal("device_decommissioned is not among the codes")
	}
}
