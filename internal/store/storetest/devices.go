package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/store"
)

func newSite(f fixture, name string) store.Site {
	return store.Site{ID: newID(api.PrefixSite), AccountID: f.acc.ID, NameIndex: index(name), Sealed: sealed(name + "|1 rue de la Paix|Europe/Paris"),
		CreatedAt: base, UpdatedAt: base}
}

func newDevice(site store.Site, serial string) (store.Device, store.DeviceKey) {
	d := store.Device{ID: newID(api.PrefixDevice), AccountID: site.AccountID, SiteID: site.ID, SerialIndex: index(serial),
		Sealed: sealed(serial + `|{"mode":"dhcp"}`), CredentialSalt: []byte("salt"), CredentialHash: []byte("hash"), CreatedAt: base, UpdatedAt: base}
	return d, store.DeviceKey{DeviceID: d.ID, KeyID: 1, SealedKey: []byte("sealed-1"), CreatedAt: base}
}

func mustSite(t testing.TB, s store.Store, f fixture, name string) store.Site {
	t.Helper()
	site := newSite(f, name)
	must(t, s.CreateSite(context.Background(), site))
	return site
}

func mustDevice(t testing.TB, s store.Store, site store.Site, serial string) store.Device {
	t.Helper()
	d, k := newDevice(site, serial)
	must(t, s.CreateDevice(context.Background(), d, k))
	return d
}

func siteIDs(sites []store.Site) []string {
	return idsOf(sites, func(s store.Site) string { return s.ID })
}

// idsOf lists the ids of rows, in order; nil for none.
func idsOf[T any](rows []T, id func(T) string) []string {
	var out []string
	for _, r := range rows {
		out = append(out, id(r))
	}
	return out
}

func testSites(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := seed(t, s, "sites@example.com")
	other := seed(t, s, "other-sites@example.com")
	b := mustSite(t, s, f, "B building")
	a := mustSite(t, s, f, "A building")
	wantErr(t, s.CreateSite(ctx, newSite(f, "A building")), store.ErrConflict)
	theirs := mustSite(t, s, other, "A building") // names are unique per account only

	got, err := s.Site(ctx, f.acc.ID, a.ID)
	must(t, err)
	if got.ID != a.ID || got.AccountID != a.AccountID || !bytes.Equal(got.NameIndex, a.NameIndex) || !bytes.Equal(got.Sealed, a.Sealed) ||
		!got.CreatedAt.Equal(a.CreatedAt) || !got.UpdatedAt.Equal(a.UpdatedAt) {
		t.Fatalf("Site = %+v, want %+v", got, a)
	}
	_, err = s.Site(ctx, f.acc.ID, theirs.ID)
	wantErr(t, err, store.ErrNotFound)

	tests := []struct {
		name   string
		filter store.SiteFilter
		want   []string
	}{
		{"all, by creation", store.SiteFilter{AccountID: f.acc.ID}, sortedByCreation(b, a)},
		{"exact name", store.SiteFilter{AccountID: f.acc.ID, NameIndex: index("B building")}, []string{b.ID}},
		{"name of another account's site", store.SiteFilter{AccountID: other.acc.ID, NameIndex: index("B building")}, nil},
		{"restricted", store.SiteFilter{AccountID: f.acc.ID, IDs: []string{b.ID, theirs.ID}}, []string{b.ID}},
		{"restricted to nothing", store.SiteFilter{AccountID: f.acc.ID, IDs: []string{}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, err := s.ListSites(ctx, tt.filter)
			must(t, err)
			if got := siteIDs(list); !slices.Equal(got, tt.want) {
				t.Fatalf("ListSites = %v, want %v", got, tt.want)
			}
		})
	}

	renamed := a
	renamed.NameIndex, renamed.Sealed, renamed.UpdatedAt = index("B building"), sealed("B building||UTC"), base.Add(time.Hour)
	wantErr(t, s.UpdateSite(ctx, renamed), store.ErrConflict)
	renamed.NameIndex, renamed.Sealed = index("C building"), sealed("C building||UTC")
	must(t, s.UpdateSite(ctx, renamed))
	got, _ = s.Site(ctx, f.acc.ID, a.ID)
	if !bytes.Equal(got.NameIndex, index("C building")) || !bytes.Equal(got.Sealed, renamed.Sealed) || !got.UpdatedAt.Equal(base.Add(time.Hour)) ||
		!got.CreatedAt.Equal(base) {
		t.Fatalf("after UpdateSite: %+v", got)
	}
	stranger := renamed
	stranger.AccountID = other.acc.ID
	wantErr(t, s.UpdateSite(ctx, stranger), store.ErrNotFound)

	// A site with a device in service cannot be deleted; once it is decommissioned, the site
	// goes and takes the decommissioned device and its files with it.
	d1 := mustDevice(t, s, b, "SX-1")
	d2 := mustDevice(t, s, b, "SX-2")
	err = s.DeleteSite(ctx, f.acc.ID, b.ID)
	var sne *store.SiteNotEmptyError
	if !errors.As(err, &sne) || sne.Devices != 2 || !errors.Is(err, store.ErrSiteNotEmpty) {
		t.Fatalf("DeleteSite of a site with 2 devices: %v", err)
	}
	must(t, storeFile(s, f.acc.ID, fileOf(d1, 1, base), channelsAt(base.UnixMilli(), 3)))
	must(t, s.DecommissionDevice(ctx, f.acc.ID, d1.ID, base))
	must(t, s.DecommissionDevice(ctx, f.acc.ID, d2.ID, base))
	wantErr(t, s.DeleteSite(ctx, other.acc.ID, b.ID), store.ErrNotFound)
	must(t, s.DeleteSite(ctx, f.acc.ID, b.ID))
	_, err = s.Device(ctx, f.acc.ID, d1.ID)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.DataFile(ctx, f.acc.ID, d1.ID, 1)
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, s.DeleteSite(ctx, f.acc.ID, b.ID), store.ErrNotFound)
}

func testDevices(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := seed(t, s, "devices@example.com")
	other := seed(t, s, "other-devices@example.com")
	north, south := mustSite(t, s, f, "North"), mustSite(t, s, f, "South")
	theirSite := mustSite(t, s, other, "Theirs")

	d2 := mustDevice(t, s, north, "SX-00002")
	d1 := mustDevice(t, s, south, "SX-00001")
	dup, dupKey := newDevice(north, "SX-00001")
	wantErr(t, s.CreateDevice(ctx, dup, dupKey), store.ErrConflict) // serial in service
	foreign, foreignKey := newDevice(theirSite, "SX-00009")
	foreign.AccountID = f.acc.ID // another account's site
	wantErr(t, s.CreateDevice(ctx, foreign, foreignKey), store.ErrNotFound)
	mustDevice(t, s, theirSite, "SX-00001") // serials are unique per account only

	got, err := s.Device(ctx, f.acc.ID, d1.ID)
	must(t, err)
	if !bytes.Equal(got.SerialIndex, index("SX-00001")) || got.SiteID != south.ID || !bytes.Equal(got.Sealed, d1.Sealed) || string(got.CredentialHash) != "hash" ||
		got.Decommissioned() || got.Stats.CurrentKeyID != 1 || got.Stats.Files != 0 || !got.CreatedAt.Equal(base) {
		t.Fatalf("Device = %+v", got)
	}
	_, err = s.Device(ctx, other.acc.ID, d1.ID)
	wantErr(t, err, store.ErrNotFound)
	byID, err := s.DeviceByID(ctx, d1.ID)
	must(t, err)
	if byID.AccountID != f.acc.ID {
		t.Fatalf("DeviceByID = %+v", byID)
	}

	// Credentials: replacing one moves the revocation epoch.
	epoch, _ := s.RevocationEpoch(ctx)
	must(t, s.SetDeviceCredential(ctx, f.acc.ID, d1.ID, []byte("salt2"), []byte("hash2"), base.Add(time.Minute)))
	got, _ = s.Device(ctx, f.acc.ID, d1.ID)
	after, _ := s.RevocationEpoch(ctx)
	if string(got.CredentialHash) != "hash2" || string(got.CredentialSalt) != "salt2" || after == epoch {
		t.Fatalf("after SetDeviceCredential: %+v, epoch %d -> %d", got, epoch, after)
	}
	wantErr(t, s.SetDeviceCredential(ctx, other.acc.ID, d1.ID, nil, nil, base), store.ErrNotFound)

	// Keys.
	must(t, s.CreateDeviceKey(ctx, f.acc.ID, store.DeviceKey{DeviceID: d1.ID, KeyID: 2, SealedKey: []byte("sealed-2"), CreatedAt: base}))
	wantErr(t, s.CreateDeviceKey(ctx, f.acc.ID, store.DeviceKey{DeviceID: d1.ID, KeyID: 2, SealedKey: []byte("x"), CreatedAt: base}), store.ErrConflict)
	wantErr(t, s.CreateDeviceKey(ctx, other.acc.ID, store.DeviceKey{DeviceID: d1.ID, KeyID: 3, SealedKey: []byte("x"), CreatedAt: base}), store.ErrNotFound)
	keys, err := s.DeviceKeys(ctx, f.acc.ID, d1.ID)
	must(t, err)
	if len(keys) != 2 || keys[0].KeyID != 1 || keys[1].KeyID != 2 || string(keys[1].SealedKey) != "sealed-2" {
		t.Fatalf("DeviceKeys = %+v", keys)
	}
	_, err = s.DeviceKeys(ctx, other.acc.ID, d1.ID)
	wantErr(t, err, store.ErrNotFound)
	got, _ = s.Device(ctx, f.acc.ID, d1.ID)
	if got.Stats.CurrentKeyID != 2 {
		t.Fatalf("current key id %d, want 2", got.Stats.CurrentKeyID)
	}

	must(t, s.RecordContact(ctx, f.acc.ID, d1.ID, store.Contact{At: base.Add(2 * time.Minute), RejectCode: "file_rejected", RejectReason: "truncated"}))
	got, _ = s.Device(ctx, f.acc.ID, d1.ID)
	if st := got.Stats; !st.LastRejectAt.Equal(base.Add(2*time.Minute)) || !st.LastContactAt.Equal(st.LastRejectAt) ||
		st.LastRejectCode != "file_rejected" || st.LastRejectReason != "truncated" || !st.LastUploadAt.IsZero() {
		t.Fatalf("after a refusal: %+v", st)
	}
	must(t, s.RecordContact(ctx, f.acc.ID, d1.ID, store.Contact{At: base.Add(3 * time.Minute)}))
	must(t, s.RecordContact(ctx, f.acc.ID, d1.ID, store.Contact{At: base.Add(time.Minute)})) // never goes back
	got, _ = s.Device(ctx, f.acc.ID, d1.ID)
	if st := got.Stats; !st.LastContactAt.Equal(base.Add(3*time.Minute)) || st.LastRejectCode != "file_rejected" {
		t.Fatalf("after a contact: %+v", st)
	}
	wantErr(t, s.RecordContact(ctx, other.acc.ID, d1.ID, store.Contact{At: base}), store.ErrNotFound)

	// Replacing the hardware keeps the device, changes its serial, credential and current key,
	// and moves the epoch; the old unit's serial is free again.
	epoch, _ = s.RevocationEpoch(ctx)
	swap := store.DeviceReplacement{SerialIndex: index("SX-00003"), Sealed: sealed(`SX-00003|{"mode":"dhcp"}`), CredentialSalt: []byte("salt3"),
		CredentialHash: []byte("hash3"), Key: store.DeviceKey{DeviceID: d2.ID, KeyID: 2, SealedKey: []byte("sealed-2"), CreatedAt: base}, At: base.Add(time.Minute)}
	must(t, s.ReplaceDevice(ctx, f.acc.ID, d2.ID, swap))
	got, _ = s.Device(ctx, f.acc.ID, d2.ID)
	after, _ = s.RevocationEpoch(ctx)
	if !bytes.Equal(got.SerialIndex, swap.SerialIndex) || !bytes.Equal(got.Sealed, swap.Sealed) || string(got.CredentialHash) != "hash3" ||
		got.Stats.CurrentKeyID != 2 || got.SiteID != north.ID || !got.UpdatedAt.Equal(swap.At) || after == epoch {
		t.Fatalf("after ReplaceDevice: %+v, epoch %d -> %d", got, epoch, after)
	}
	wantErr(t, s.ReplaceDevice(ctx, f.acc.ID, d2.ID, swap), store.ErrConflict) // key id 2 exists
	taken := swap
	taken.SerialIndex, taken.Key.KeyID = index("SX-00001"), 3 // d1's serial, in service
	wantErr(t, s.ReplaceDevice(ctx, f.acc.ID, d2.ID, taken), store.ErrConflict)
	wantErr(t, s.ReplaceDevice(ctx, other.acc.ID, d2.ID, taken), store.ErrNotFound)
	spare := mustDevice(t, s, north, "SX-00002") // the old serial is free

	// Decommissioning frees the serial, keeps the row, and refuses changes.
	must(t, s.DecommissionDevice(ctx, f.acc.ID, d1.ID, base.Add(time.Hour)))
	must(t, s.DecommissionDevice(ctx, f.acc.ID, d1.ID, base.Add(2*time.Hour))) // keeps the first time
	wantErr(t, s.DecommissionDevice(ctx, other.acc.ID, d2.ID, base), store.ErrNotFound)
	got, _ = s.Device(ctx, f.acc.ID, d1.ID)
	if !got.DecommissionedAt.Equal(base.Add(time.Hour)) {
		t.Fatalf("DecommissionedAt = %v", got.DecommissionedAt)
	}
	wantErr(t, s.SetDeviceCredential(ctx, f.acc.ID, d1.ID, nil, nil, base), store.ErrDecommissioned)
	wantErr(t, s.CreateDeviceKey(ctx, f.acc.ID, store.DeviceKey{DeviceID: d1.ID, KeyID: 3, SealedKey: []byte("x"), CreatedAt: base}), store.ErrDecommissioned)
	retired := swap
	retired.SerialIndex, retired.Key.DeviceID, retired.Key.KeyID = index("SX-00004"), d1.ID, 9
	wantErr(t, s.ReplaceDevice(ctx, f.acc.ID, d1.ID, retired), store.ErrDecommissioned)
	again := mustDevice(t, s, north, "SX-00001")

	list := func(f store.DeviceFilter) []string {
		t.Helper()
		ds, err := s.ListDevices(ctx, f)
		must(t, err)
		var ids []string
		for _, d := range ds {
			ids = append(ids, d.ID)
		}
		return ids
	}
	tests := []struct {
		name   string
		filter store.DeviceFilter
		want   []string
	}{
		{"in service, by creation", store.DeviceFilter{AccountID: f.acc.ID}, []string{d2.ID, spare.ID, again.ID}},
		{"with decommissioned", store.DeviceFilter{AccountID: f.acc.ID, IncludeDecommissioned: true}, []string{d2.ID, d1.ID, spare.ID, again.ID}},
		{"site", store.DeviceFilter{AccountID: f.acc.ID, SiteID: north.ID}, []string{d2.ID, spare.ID, again.ID}},
		{"serial", store.DeviceFilter{AccountID: f.acc.ID, SerialIndex: index("SX-00003")}, []string{d2.ID}},
		{"restricted sites", store.DeviceFilter{AccountID: f.acc.ID, SiteIDs: []string{south.ID}, IncludeDecommissioned: true}, []string{d1.ID}},
		{"restricted to nothing", store.DeviceFilter{AccountID: f.acc.ID, SiteIDs: []string{}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := list(tt.filter); !slices.Equal(got, tt.want) {
				t.Fatalf("ListDevices = %v, want %v", got, tt.want)
			}
		})
	}
}

// sortedByCreation orders sites as ListSites does: by creation time, then id.
func sortedByCreation(sites ...store.Site) []string {
	slices.SortFunc(sites, func(a, b store.Site) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return siteIDs(sites)
}

// channel is one channel's readings of a test file. The store sees them as a segment whose
// "sealed" bytes are, in these tests, the channel's name, a NUL and the readings' encoding:
// the store must keep them as it got them.
type channel struct {
	index, part   int
	name          string
	times, values []int64
}

func (c channel) segment() *store.Segment {
	data := append([]byte(c.name+"\x00"), store.AppendSegment(nil, c.times, c.values)...)
	return &store.Segment{ChannelIndex: c.index, Part: c.part, ChannelTag: index(c.name), TMin: c.times[0], TMax: c.times[len(c.times)-1],
		Count: len(c.times), Sealed: data}
}

// channelsAt makes a file's two channels of n one-minute readings from start (ms).
func channelsAt(start int64, n int) []channel {
	cs := []channel{{index: 0, name: "main"}, {index: 1, name: "voltage"}}
	for i := range n {
		t := start + int64(i)*60_000
		cs[0].times, cs[0].values = append(cs[0].times, t), append(cs[0].values, int64(1000+i))
		cs[1].times, cs[1].values = append(cs[1].times, t), append(cs[1].values, int64(2300-i))
	}
	return cs
}

// storeFile stores a file whose decoding yields channels.
func storeFile(s store.Store, accountID string, f store.DataFile, channels []channel) error {
	return s.StoreFile(context.Background(), accountID, f.DeviceID, f.Sequence, func(sink store.SegmentSink) (store.DataFile, error) {
		for _, c := range channels {
			if err := sink.Add(c.segment()); err != nil {
				return store.DataFile{}, err
			}
		}
		return f, nil
	})
}

func fileOf(d store.Device, seq uint64, start time.Time) store.DataFile {
	return store.DataFile{DeviceID: d.ID, Sequence: seq, SHA256: []byte(fmt.Sprintf("sha-%d", seq)), Size: 100, KeyID: 1,
		Readings: 6, FirstReading: start.UnixMilli(), LastReading: start.UnixMilli() + 120_000, Interval: time.Minute,
		CreatedAt: start, ReceivedAt: start.Add(time.Hour)}
}

func testFiles(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := seed(t, s, "files@example.com")
	other := seed(t, s, "other-files@example.com")
	site := mustSite(t, s, f, "Plant")
	d := mustDevice(t, s, site, "SX-1")

	f2 := fileOf(d, 2, base.Add(time.Hour))
	f2.Gaps = []store.Gap{{From: f2.FirstReading, To: f2.FirstReading + 600_000}, {From: -5, To: 7}}
	must(t, storeFile(s, f.acc.ID, f2, channelsAt(f2.FirstReading, 3)))
	f1 := fileOf(d, 1, base)
	must(t, storeFile(s, f.acc.ID, f1, channelsAt(f1.FirstReading, 3)))
	empty := fileOf(d, 5, base.Add(3*time.Hour))
	empty.Readings = 0
	must(t, storeFile(s, f.acc.ID, empty, nil))

	again := f1
	again.SHA256 = []byte("another file")
	wantErr(t, storeFile(s, f.acc.ID, again, channelsAt(f1.FirstReading, 3)), store.ErrConflict)
	wantErr(t, storeFile(s, other.acc.ID, fileOf(d, 9, base), nil), store.ErrNotFound)
	err := s.StoreFile(ctx, f.acc.ID, d.ID, 1, func(sink store.SegmentSink) (store.DataFile, error) {
		for _, c := range channelsAt(f1.FirstReading, 3) {
			if err := sink.Add(c.segment()); err != nil {
				return store.DataFile{}, err
			}
		}
		return f1, nil
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a used sequence: %v; want ErrConflict", err)
	}
	// A failed decode stores nothing, even the segments it added, and its error comes back as is.
	damaged := errors.New("chunk 3 is corrupt")
	err = s.StoreFile(ctx, f.acc.ID, d.ID, 3, func(sink store.SegmentSink) (store.DataFile, error) {
		for _, c := range channelsAt(f1.FirstReading, 3) {
			must(t, sink.Add(c.segment()))
		}
		return store.DataFile{}, damaged
	})
	if err != damaged {
		t.Fatalf("StoreFile returned %v, want the decode error itself", err)
	}
	_, err = s.DataFile(ctx, f.acc.ID, d.ID, 3)
	wantErr(t, err, store.ErrNotFound)

	got, err := s.DataFile(ctx, f.acc.ID, d.ID, 2)
	must(t, err)
	if string(got.SHA256) != "sha-2" || got.Readings != 6 || got.FirstReading != f2.FirstReading || got.LastReading != f2.LastReading ||
		got.Interval != time.Minute || !slices.Equal(got.Gaps, f2.Gaps) || !got.ReceivedAt.Equal(f2.ReceivedAt) || got.KeyID != 1 || got.Size != 100 {
		t.Fatalf("DataFile = %+v", got)
	}
	_, err = s.DataFile(ctx, other.acc.ID, d.ID, 2)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.DataFile(ctx, f.acc.ID, d.ID, 3)
	wantErr(t, err, store.ErrNotFound)

	var seqs []uint64
	must(t, s.ListDataFiles(ctx, f.acc.ID, d.ID, func(df store.DataFile) error { seqs = append(seqs, df.Sequence); return nil }))
	if !slices.Equal(seqs, []uint64{1, 2, 5}) {
		t.Fatalf("ListDataFiles = %v", seqs)
	}
	wantErr(t, s.ListDataFiles(ctx, other.acc.ID, d.ID, func(store.DataFile) error { return nil }), store.ErrNotFound)

	dev, _ := s.Device(ctx, f.acc.ID, d.ID)
	if st := dev.Stats; st.Files != 3 || st.Readings != 12 || st.LastSequence != 5 || st.FirstReading != f1.FirstReading ||
		st.LastReading != f2.LastReading || !st.LastUploadAt.Equal(empty.ReceivedAt) || !st.LastContactAt.Equal(empty.ReceivedAt) {
		t.Fatalf("stats after 3 files: %+v", st)
	}

	// Losses: idempotent by first sequence, and a contact.
	losses := []store.Loss{
		{FirstSequence: 3, LastSequence: 4, From: base, To: base.Add(time.Hour), Files: 2, Reason: "spool_full"},
		{FirstSequence: 10, LastSequence: 10, From: base, To: base, Files: 1, Reason: "spool_full"},
	}
	n, err := s.ReportLosses(ctx, f.acc.ID, d.ID, losses, base.Add(5*time.Hour))
	must(t, err)
	if n != 2 {
		t.Fatalf("ReportLosses recorded %d, want 2", n)
	}
	n, err = s.ReportLosses(ctx, f.acc.ID, d.ID, losses[:1], base.Add(6*time.Hour))
	must(t, err)
	if n != 0 {
		t.Fatalf("a repeated loss was recorded again (%d)", n)
	}
	_, err = s.ReportLosses(ctx, other.acc.ID, d.ID, losses, base)
	wantErr(t, err, store.ErrNotFound)
	// A device whose acknowledgement was lost may have grown the record before sending it
	// again: the extension is kept, a shorter copy changes nothing.
	grown := losses[1]
	grown.LastSequence, grown.To, grown.Files = grown.LastSequence+1, grown.To.Add(time.Hour), grown.Files+1
	if n, err = s.ReportLosses(ctx, f.acc.ID, d.ID, []store.Loss{grown}, base.Add(6*time.Hour)); err != nil || n != 1 {
		t.Fatalf("an extended loss: recorded %d, %v", n, err)
	}
	if n, err = s.ReportLosses(ctx, f.acc.ID, d.ID, losses[1:], base.Add(6*time.Hour)); err != nil || n != 0 {
		t.Fatalf("a shorter copy of a loss: recorded %d, %v", n, err)
	}
	got2, err := s.ListLosses(ctx, f.acc.ID, d.ID)
	must(t, err)
	if len(got2) != 2 || got2[0].FirstSequence != 3 || got2[0].LastSequence != 4 || got2[0].Files != 2 || got2[0].Reason != "spool_full" ||
		!got2[0].From.Equal(base) || !got2[0].To.Equal(base.Add(time.Hour)) || !got2[0].ReportedAt.Equal(base.Add(5*time.Hour)) {
		t.Fatalf("ListLosses = %+v", got2)
	}
	if got2[1].LastSequence != grown.LastSequence || got2[1].Files != grown.Files || !got2[1].To.Equal(grown.To) {
		t.Fatalf("the extended loss is %+v, want %+v", got2[1], grown)
	}
	dev, _ = s.Device(ctx, f.acc.ID, d.ID)
	if !dev.Stats.LastContactAt.Equal(base.Add(6 * time.Hour)) {
		t.Fatalf("a loss report is not a contact: %v", dev.Stats.LastContactAt)
	}

	must(t, s.DecommissionDevice(ctx, f.acc.ID, d.ID, base))
	wantErr(t, storeFile(s, f.acc.ID, fileOf(d, 7, base), nil), store.ErrDecommissioned)
}

// scanned is what ScanSegments delivered, decoded.
type scanned struct {
	seq     uint64
	channel string
	times   []int64
	values  []int64
}

func scanAll(t *testing.T, s store.Store, q store.SegmentQuery) []scanned {
	t.Helper()
	var out []scanned
	var prev *store.Segment
	err := s.ScanSegments(context.Background(), q, func(sg *store.Segment) error {
		if prev != nil && (sg.TMin < prev.TMin || sg.TMin == prev.TMin && (sg.FileSequence < prev.FileSequence ||
			sg.FileSequence == prev.FileSequence && sg.ChannelIndex <= prev.ChannelIndex)) {
			t.Fatalf("segments out of order: %+v after %+v", sg, prev)
		}
		cp := *sg
		prev = &cp
		name, data, ok := bytes.Cut(sg.Sealed, []byte{0})
		if !ok || !bytes.Equal(sg.ChannelTag, index(string(name))) {
			t.Fatalf("segment came back as tag %q, data %q", sg.ChannelTag, sg.Sealed)
		}
		times, values, err := store.DecodeSegment(data, sg.TMin, sg.Count, nil, nil)
		if err != nil {
			return err
		}
		if times[0] != sg.TMin || times[len(times)-1] != sg.TMax {
			t.Fatalf("segment bounds %d..%d, readings %d..%d", sg.TMin, sg.TMax, times[0], times[len(times)-1])
		}
		out = append(out, scanned{seq: sg.FileSequence, channel: string(name), times: times, values: values})
		return nil
	})
	must(t, err)
	return out
}

func testSegments(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := seed(t, s, "segments@example.com")
	other := seed(t, s, "other-segments@example.com")
	site := mustSite(t, s, f, "Plant")
	d := mustDevice(t, s, site, "SX-1")
	quiet := mustDevice(t, s, site, "SX-2")
	t0 := base.Truncate(time.Hour).UnixMilli()
	// 600 files of 3 readings per channel, 3 minutes each: more segments than one batch.
	const files = 600
	for i := range files {
		start := t0 + int64(i)*180_000
		df := fileOf(d, uint64(i+1), time.UnixMilli(start))
		must(t, storeFile(s, f.acc.ID, df, channelsAt(start, 3)))
	}
	all := scanAll(t, s, store.SegmentQuery{AccountID: f.acc.ID, DeviceID: d.ID, From: t0, To: t0 + files*180_000})
	if len(all) != 2*files {
		t.Fatalf("full range: %d segments, want %d", len(all), 2*files)
	}
	for i, sg := range all {
		want := channelsAt(t0+int64(i/2)*180_000, 3)[i%2]
		if sg.seq != uint64(i/2+1) || sg.channel != want.name || !slices.Equal(sg.times, want.times) || !slices.Equal(sg.values, want.values) {
			t.Fatalf("segment %d = %+v, want file %d %+v", i, sg, i/2+1, want)
		}
	}
	tests := []struct {
		name  string
		q     store.SegmentQuery
		files []uint64 // file sequences expected, each with its channels
		chans []string
	}{
		{"a segment that starts before from", store.SegmentQuery{From: t0 + 180_000 + 60_000, To: t0 + 360_000}, []uint64{2}, []string{"main", "voltage"}},
		{"to is exclusive", store.SegmentQuery{From: t0, To: t0 + 180_000}, []uint64{1}, []string{"main", "voltage"}},
		{"one channel", store.SegmentQuery{From: t0, To: t0 + 360_000, ChannelTags: [][]byte{index("voltage")}}, []uint64{1, 2}, []string{"voltage"}},
		{"in a hole between files", store.SegmentQuery{From: t0 + 120_001, To: t0 + 180_000}, nil, nil},
		{"empty range", store.SegmentQuery{From: t0 + 500, To: t0 + 500}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.q
			q.AccountID, q.DeviceID = f.acc.ID, d.ID
			got := scanAll(t, s, q)
			var want []string
			for _, seq := range tt.files {
				for _, c := range tt.chans {
					want = append(want, fmt.Sprintf("%d/%s", seq, c))
				}
			}
			var have []string
			for _, sg := range got {
				have = append(have, fmt.Sprintf("%d/%s", sg.seq, sg.channel))
			}
			if !slices.Equal(have, want) {
				t.Fatalf("segments %v, want %v", have, want)
			}
		})
	}
	if got := scanAll(t, s, store.SegmentQuery{AccountID: f.acc.ID, DeviceID: quiet.ID, From: t0, To: t0 + 1e9}); len(got) != 0 {
		t.Fatalf("a device without files has %d segments", len(got))
	}
	// A channel cut into parts, even at equal times, comes back part by part.
	parts := []channel{
		{index: 0, part: 0, name: "main", times: []int64{10, 20, 20}, values: []int64{1, 2, 3}},
		{index: 0, part: 1, name: "main", times: []int64{20, 30}, values: []int64{4, 5}},
	}
	split := fileOf(quiet, 1, time.UnixMilli(10))
	must(t, storeFile(s, f.acc.ID, split, parts))
	got := scanAll(t, s, store.SegmentQuery{AccountID: f.acc.ID, DeviceID: quiet.ID, From: 0, To: 100})
	if len(got) != 2 || !slices.Equal(got[0].values, []int64{1, 2, 3}) || !slices.Equal(got[1].values, []int64{4, 5}) {
		t.Fatalf("parts came back as %+v", got)
	}
	err := s.ScanSegments(ctx, store.SegmentQuery{AccountID: other.acc.ID, DeviceID: d.ID, From: t0, To: t0 + 1e9}, func(*store.Segment) error { return nil })
	wantErr(t, err, store.ErrNotFound)
	stop := errors.New("stop")
	err = s.ScanSegments(ctx, store.SegmentQuery{AccountID: f.acc.ID, DeviceID: d.ID, From: t0, To: t0 + 1e9}, func(*store.Segment) error { return stop })
	if !errors.Is(err, stop) {
		t.Fatalf("the callback's error was not returned: %v", err)
	}
}

func testDeleteAccountDevices(t *testing.T, s store.Store) {
	ctx := context.Background()
	doomed := seed(t, s, "doomed-devices@example.com")
	kept := seed(t, s, "kept-devices@example.com")
	var doomedDev, keptDev store.Device
	for i, fx := range []fixture{doomed, kept} {
		site := mustSite(t, s, fx, "Site")
		d := mustDevice(t, s, site, "SX-1")
		must(t, storeFile(s, fx.acc.ID, fileOf(d, 1, base), channelsAt(base.UnixMilli(), 3)))
		_, err := s.ReportLosses(ctx, fx.acc.ID, d.ID, []store.Loss{{FirstSequence: 2, LastSequence: 2, Files: 1, Reason: "spool_full"}}, base)
		must(t, err)
		if i == 0 {
			doomedDev = d
		} else {
			keptDev = d
		}
	}
	must(t, s.DeleteAccount(ctx, doomed.acc.ID))
	_, err := s.DeviceByID(ctx, doomedDev.ID)
	wantErr(t, err, store.ErrNotFound)
	sites, err := s.ListSites(ctx, store.SiteFilter{AccountID: doomed.acc.ID})
	must(t, err)
	if len(sites) != 0 {
		t.Fatalf("%d sites survived their account", len(sites))
	}
	if got := scanAll(t, s, store.SegmentQuery{AccountID: kept.acc.ID, DeviceID: keptDev.ID, From: 0, To: base.UnixMilli() + 1e9}); len(got) != 2 {
		t.Fatalf("the other account kept %d segments, want 2", len(got))
	}
	if losses, err := s.ListLosses(ctx, kept.acc.ID, keptDev.ID); err != nil || len(losses) != 1 {
		t.Fatalf("the other account's losses: %v, %v", losses, err)
	}
}
