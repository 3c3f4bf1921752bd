package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/store"
)

// ingestReadTimeout replaces the server's read timeout for an upload: a month of files on a
// slow cellular link may take longer than a minute to arrive.
const ingestReadTimeout = 10 * time.Minute

func siteInfo(s Site) api.Site {
	return api.Site{ID: s.ID, Name: s.Name, Address: s.Address, TimeZone: s.TimeZone, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
}

func deviceInfo(d Device) api.Device {
	out := api.Device{ID: d.ID, SiteID: d.SiteID, Serial: d.Serial, CurrentKeyID: d.Stats.CurrentKeyID, CreatedAt: d.CreatedAt,
		UpdatedAt: d.UpdatedAt, Decommissioned: d.Decommissioned(), DecommissionedAt: timePtr(d.DecommissionedAt),
		LastContactAt: timePtr(d.Stats.LastContactAt)}
	if err := json.Unmarshal(d.Network, &out.Network); err != nil {
		out.Network = api.NetworkSettings{} // stored by CreateDevice from this very type: cannot happen
	}
	return out
}

func (s *Server) handleCreateSite(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	var req api.CreateSiteRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	site, err := s.svc.CreateSite(r.Context(), caller, req)
	if err != nil {
		return err
	}
	w.Header().Set("Location", api.PathSites+"/"+site.ID)
	writeJSON(w, http.StatusCreated, siteInfo(site))
	return nil
}

func (s *Server) handleListSites(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	q := r.URL.Query()
	if err := onlyParams(q, "name"); err != nil {
		return err
	}
	sites, err := s.svc.Sites(r.Context(), caller, q.Get("name"))
	if err != nil {
		return err
	}
	out := api.SiteList{Sites: make([]api.Site, len(sites))}
	for i, site := range sites {
		out.Sites[i] = siteInfo(site)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleGetSite(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	site, err := s.svc.Site(r.Context(), caller, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, siteInfo(site))
	return nil
}

func (s *Server) handleUpdateSite(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	var req api.UpdateSiteRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	site, err := s.svc.UpdateSite(r.Context(), caller, r.PathValue("id"), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, siteInfo(site))
	return nil
}

func (s *Server) handleDeleteSite(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	if err := s.svc.DeleteSite(r.Context(), caller, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleCreateDevice(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	var req api.CreateDeviceRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	p, err := s.svc.CreateDevice(r.Context(), caller, req)
	if err != nil {
		return err
	}
	w.Header().Set("Location", api.PathDevices+"/"+p.Device.ID)
	writeJSON(w, http.StatusCreated, provisioned(p))
	return nil
}

func provisioned(p ProvisionedDevice) api.ProvisionedDevice {
	return api.ProvisionedDevice{Device: deviceInfo(p.Device),
		Key:        api.DeviceKey{KeyID: p.KeyID, Key: hexKey(p.Key), CreatedAt: p.Device.UpdatedAt, Current: true},
		Credential: p.Credential, FirstSequence: p.FirstSequence}
}

func (s *Server) handleReplaceDevice(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	var req api.ReplaceDeviceRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	p, err := s.svc.ReplaceDevice(r.Context(), caller, r.PathValue("id"), req.Serial)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, provisioned(p))
	return nil
}

func (s *Server) handleListDevices(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	q := r.URL.Query()
	var checks fieldChecks
	checks.add(onlyParams(q, "site", "serial", "state"))
	withDecommissioned := false
	switch q.Get("state") {
	case "", "in_service":
	case "all":
		withDecommissioned = true
	default:
		checks.add(invalid("state", "must be in_service or all"))
	}
	site := q.Get("site")
	if site != "" && !store.ValidID(site, api.PrefixSite) {
		checks.add(invalid("site", "must be a site id (%s...)", api.PrefixSite))
	}
	if !checks.ok() {
		return checks.err()
	}
	devs, err := s.svc.Devices(r.Context(), caller, site, q.Get("serial"), withDecommissioned)
	if err != nil {
		return err
	}
	out := api.DeviceList{Devices: make([]api.Device, len(devs))}
	for i, d := range devs {
		out.Devices[i] = deviceInfo(d)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleGetDevice(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	d, err := s.svc.Device(r.Context(), caller, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, deviceInfo(d))
	return nil
}

func (s *Server) handleDecommissionDevice(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	d, err := s.svc.DecommissionDevice(r.Context(), caller, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, deviceInfo(d))
	return nil
}

func (s *Server) handleNewCredential(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	id := r.PathValue("id")
	secret, at, err := s.svc.NewDeviceCredential(r.Context(), caller, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.DeviceCredential{DeviceID: id, Credential: secret, CreatedAt: at})
	return nil
}

func (s *Server) handleDeviceKeys(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	d, keys, err := s.svc.DeviceKeys(r.Context(), caller, r.PathValue("id"))
	if err != nil {
		return err
	}
	out := api.DeviceKeys{DeviceID: d.ID, Serial: d.Serial, Keys: make([]api.DeviceKey, len(keys))}
	for i, k := range keys {
		out.Keys[i] = api.DeviceKey{KeyID: k.KeyID, Key: hexKey(k.Key), CreatedAt: k.CreatedAt, Current: i == len(keys)-1}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleRotateKey(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	id := r.PathValue("id")
	k, err := s.svc.RotateDeviceKey(r.Context(), caller, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.RotatedKey{DeviceID: id, Key: api.DeviceKey{KeyID: k.KeyID, Key: hexKey(k.Key), CreatedAt: k.CreatedAt, Current: true}})
	return nil
}

func (s *Server) handleDeviceStatus(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	st, err := s.svc.DeviceStatus(r.Context(), caller, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// handleIngest receives one data file from a device. The answer comes only after the file and
// its readings are committed.
func (s *Server) handleIngest(w http.ResponseWriter, r *http.Request, u *uploader) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != api.OctetStreamContentType {
			return newProblemError(api.CodeUnsupportedMediaType, "send the data file as application/octet-stream, exactly as the device wrote it")
		}
	}
	if r.ContentLength > api.MaxUploadBytes {
		return &http.MaxBytesError{Limit: api.MaxUploadBytes}
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(ingestReadTimeout)) // unsupported: keep the default
	res, err := s.svc.Ingest(r.Context(), u, http.MaxBytesReader(w, r.Body, api.MaxUploadBytes))
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if res.Duplicate {
		status = http.StatusOK
	}
	writeJSON(w, status, api.IngestResponse{DeviceID: res.DeviceID, Sequence: res.Sequence, Readings: res.Readings, Duplicate: res.Duplicate})
	return nil
}

func (s *Server) handleReportLosses(w http.ResponseWriter, r *http.Request, u *uploader) error {
	var req api.LossReport
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	recorded, dups, err := s.svc.ReportLosses(r.Context(), u, req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.LossReportResponse{DeviceID: u.id, Recorded: recorded, Duplicates: dups})
	return nil
}

// handleReadings answers GET /v1/readings: a JSON page, or the whole range streamed as CSV or
// NDJSON.
func (s *Server) handleReadings(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	w.Header().Set("Vary", "Accept")
	q, err := parseReadingsQuery(r.URL.Query(), r.Header.Get("Accept"), s.now())
	if err != nil {
		return err
	}
	devs, err := s.svc.readingsDevices(r.Context(), caller, q)
	if err != nil {
		return err
	}
	if err := s.svc.checkChannels(r.Context(), caller.AccountID, q, devs); err != nil {
		return err
	}
	if q.streamed() {
		return s.streamReadings(w, r, caller, q, devs)
	}
	var buf bytes.Buffer
	if err := s.svc.readingsPage(r.Context(), caller, q, devs, &buf); err != nil {
		if errors.Is(err, store.ErrInvalidCursor) {
			return invalid("cursor", "not a cursor from this query")
		}
		return err
	}
	w.Header().Set("Content-Type", api.JSONContentType)
	w.WriteHeader(http.StatusOK)
	_, _ = buf.WriteTo(w) // the client went away: nothing left to tell it
	return nil
}
