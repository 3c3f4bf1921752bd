package server

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/smart-impulse/smartx/internal/store"
)

// This file is where customer data is sealed on its way to the store and opened on its way
// back (docs/security.md, "Customer data sealed at rest"). Each value is sealed under its
// account's data key with its kind and row bound as associated data, so a sealed value copied
// to another row or account does not open; values the store must find or keep unique get a
// keyed blind index beside them. The service works with the types below: the store's record
// and its values in clear.

// Purposes of sealed values and blind indexes (auth.Keyring binds the account id too).
const (
	indexEmail    = "email"     // platform-wide: logins look the user up before the account is known
	indexSiteName = "site-name" // per account
	indexSerial   = "serial"    // per account
	indexChannel  = "channel"   // per account
)

func accountNamePurpose() string            { return "account-name" }
func userEmailPurpose(userID string) string { return "user-email/" + userID }
func userTOTPPurpose(userID string) string  { return "user-totp/" + userID }
func sitePurpose(siteID string) string      { return "site/" + siteID }
func devicePurpose(deviceID string) string  { return "device/" + deviceID }
func auditSourcePurpose(requestID string) string {
	return "audit-source/" + requestID
}

// segmentPurpose binds a sealed segment to its device, file, channel and part: segments cannot
// be swapped between files or devices without failing to open.
func segmentPurpose(deviceID string, seq uint64, channel, part int) string {
	return "segment/" + deviceID + "/" + strconv.FormatUint(seq, 10) + "/" + strconv.Itoa(channel) + "/" + strconv.Itoa(part)
}

// Account is an account with its name in clear.
type Account struct {
	store.Account
	Name string
}

// User is a user with their e-mail in clear.
type User struct {
	store.User
	Email string
}

// Site is a site with its name, address and time zone in clear.
type Site struct {
	store.Site
	Name     string
	Address  string
	TimeZone string
}

// Device is a device with its serial and network settings (JSON) in clear.
type Device struct {
	store.Device
	Serial  string
	Network []byte
}

// sealedSite is the clear form of store.Site.Sealed.
type sealedSite struct {
	Name     string `json:"name"`
	Address  string `json:"address,omitempty"`
	TimeZone string `json:"time_zone"`
}

// sealedDevice is the clear form of store.Device.Sealed.
type sealedDevice struct {
	Serial  string          `json:"serial"`
	Network json.RawMessage `json:"network"`
}

// errUnreadable wraps a value that does not open: the database was damaged or sealed under
// another master key, which CheckMaster refuses at start, so this is never a user's mistake.
func errUnreadable(what string, err error) error {
	return fmt.Errorf("%s does not open: %w", what, err)
}

func (s *Service) sealJSON(ctx context.Context, accountID, purpose string, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return s.keys.SealForAccount(ctx, accountID, purpose, b)
}

func (s *Service) openJSON(ctx context.Context, accountID, purpose string, sealed []byte, v any) error {
	b, err := s.keys.OpenForAccount(ctx, accountID, purpose, sealed)
	if err != nil {
		return errUnreadable(purpose, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return errUnreadable(purpose, err)
	}
	return nil
}

// emailIndex is the blind index users are found by at login.
func (s *Service) emailIndex(email string) []byte {
	return s.keys.PlatformIndex(indexEmail, strings.ToLower(email))
}

func (s *Service) openAccount(ctx context.Context, a store.Account) (Account, error) {
	name, err := s.keys.OpenForAccount(ctx, a.ID, accountNamePurpose(), a.SealedName)
	if err != nil {
		return Account{}, errUnreadable("name of account "+a.ID, err)
	}
	return Account{Account: a, Name: string(name)}, nil
}

func (s *Service) account(ctx context.Context, id string) (Account, error) {
	a, err := s.st.Account(ctx, id)
	if err != nil {
		return Account{}, err
	}
	return s.openAccount(ctx, a)
}

// sealUser fills the store fields of u from its e-mail.
func (s *Service) sealUser(ctx context.Context, u User) (User, error) {
	var err error
	u.EmailIndex = s.emailIndex(u.Email)
	u.SealedEmail, err = s.keys.SealForAccount(ctx, u.AccountID, userEmailPurpose(u.ID), []byte(u.Email))
	return u, err
}

func (s *Service) openUser(ctx context.Context, u store.User) (User, error) {
	email, err := s.keys.OpenForAccount(ctx, u.AccountID, userEmailPurpose(u.ID), u.SealedEmail)
	if err != nil {
		return User{}, errUnreadable("e-mail of user "+u.ID, err)
	}
	return User{User: u, Email: string(email)}, nil
}

func (s *Service) user(ctx context.Context, accountID, id string) (User, error) {
	u, err := s.st.User(ctx, accountID, id)
	if err != nil {
		return User{}, err
	}
	return s.openUser(ctx, u)
}

// userByEmail finds a user by e-mail, in any account.
func (s *Service) userByEmail(ctx context.Context, email string) (User, error) {
	u, err := s.st.UserByEmail(ctx, s.emailIndex(email))
	if err != nil {
		return User{}, err
	}
	return s.openUser(ctx, u)
}

// openAll opens a list of records.
func openAll[S, T any](ctx context.Context, in []S, open func(context.Context, S) (T, error)) ([]T, error) {
	out := make([]T, 0, len(in))
	for _, v := range in {
		o, err := open(ctx, v)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// sealSite fills the store fields of site from its values.
func (s *Service) sealSite(ctx context.Context, site Site) (Site, error) {
	var err error
	if site.NameIndex, err = s.keys.IndexForAccount(ctx, site.AccountID, indexSiteName, site.Name); err != nil {
		return Site{}, err
	}
	site.Sealed, err = s.sealJSON(ctx, site.AccountID, sitePurpose(site.ID), sealedSite{Name: site.Name, Address: site.Address, TimeZone: site.TimeZone})
	return site, err
}

func (s *Service) openSite(ctx context.Context, st store.Site) (Site, error) {
	var v sealedSite
	if err := s.openJSON(ctx, st.AccountID, sitePurpose(st.ID), st.Sealed, &v); err != nil {
		return Site{}, err
	}
	return Site{Site: st, Name: v.Name, Address: v.Address, TimeZone: v.TimeZone}, nil
}

// listSites lists sites by name (then id), which only the service can read.
func (s *Service) listSites(ctx context.Context, f store.SiteFilter) ([]Site, error) {
	list, err := s.st.ListSites(ctx, f)
	if err != nil {
		return nil, err
	}
	sites, err := openAll(ctx, list, s.openSite)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(sites, func(a, b Site) int { return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.ID, b.ID)) })
	return sites, nil
}

// sealDevice fills the store fields of d from its serial and network settings.
func (s *Service) sealDevice(ctx context.Context, d Device) (Device, error) {
	var err error
	if d.SerialIndex, err = s.keys.IndexForAccount(ctx, d.AccountID, indexSerial, d.Serial); err != nil {
		return Device{}, err
	}
	d.Sealed, err = s.sealJSON(ctx, d.AccountID, devicePurpose(d.ID), sealedDevice{Serial: d.Serial, Network: d.Network})
	return d, err
}

func (s *Service) openDevice(ctx context.Context, sd store.Device) (Device, error) {
	var v sealedDevice
	if err := s.openJSON(ctx, sd.AccountID, devicePurpose(sd.ID), sd.Sealed, &v); err != nil {
		return Device{}, err
	}
	return Device{Device: sd, Serial: v.Serial, Network: v.Network}, nil
}

// listDevices lists devices by serial (then id), which only the service can read.
func (s *Service) listDevices(ctx context.Context, f store.DeviceFilter) ([]Device, error) {
	list, err := s.st.ListDevices(ctx, f)
	if err != nil {
		return nil, err
	}
	devs, err := openAll(ctx, list, s.openDevice)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(devs, func(a, b Device) int { return cmp.Or(strings.Compare(a.Serial, b.Serial), strings.Compare(a.ID, b.ID)) })
	return devs, nil
}

// serialIndex is the blind index a device is found by its serial with.
func (s *Service) serialIndex(ctx context.Context, accountID, serial string) ([]byte, error) {
	return s.keys.IndexForAccount(ctx, accountID, indexSerial, serial)
}

// channelTags returns the blind indexes of channel names, for a query by channel.
func (s *Service) channelTags(ctx context.Context, accountID string, names []string) ([][]byte, error) {
	var tags [][]byte
	for _, n := range names {
		tag, err := s.keys.IndexForAccount(ctx, accountID, indexChannel, n)
		if err != nil {
			return nil, err
		}
		tags = append(tags, tag)
	}
	return tags, nil
}

// openedSegment is a stored segment opened: its channel and its readings' encoding.
type openedSegment struct {
	FileSequence uint64
	ChannelIndex int
	Part         int
	Name         string
	Unit         string
	Resolution   int
	TMin, TMax   int64
	Count        int
	Data         []byte // AppendSegment's encoding
}

// errCorruptSealedSegment is a segment that opened but does not hold a channel and readings.
var errCorruptSealedSegment = errors.New("sealed segment is malformed")

// appendSegmentPlain appends the clear form of a segment: the channel's name and unit (each a
// uvarint length and the bytes), its resolution (a zigzag varint), then the readings as
// store.AppendSegment encodes them.
func appendSegmentPlain(dst []byte, name, unit string, resolution int, times, values []int64) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(name)))
	dst = append(dst, name...)
	dst = binary.AppendUvarint(dst, uint64(len(unit)))
	dst = append(dst, unit...)
	dst = binary.AppendVarint(dst, int64(resolution))
	return store.AppendSegment(dst, times, values)
}

// parseSegmentPlain splits the clear form of a segment; labels interns names and units, which
// repeat in every file.
func parseSegmentPlain(b []byte, labels map[string]string) (name, unit string, resolution int, data []byte, err error) {
	str := func() (string, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return "", false
		}
		raw := b[k : k+int(n)]
		b = b[k+int(n):]
		if v, ok := labels[string(raw)]; ok {
			return v, true
		}
		v := string(raw)
		labels[v] = v
		return v, true
	}
	var ok1, ok2 bool
	name, ok1 = str()
	unit, ok2 = str()
	r, k := binary.Varint(b)
	if !ok1 || !ok2 || k <= 0 || r < -1<<31 || r > 1<<31-1 {
		return "", "", 0, nil, errCorruptSealedSegment
	}
	return name, unit, int(r), b[k:], nil
}

// segmentSealer is the store.SegmentSink decoding hands a file's readings to during ingest: it
// encodes, seals and tags each channel's part before the store sees it.
type segmentSealer struct {
	ctx       context.Context
	svc       *Service
	accountID string
	deviceID  string
	sequence  uint64
	inner     store.SegmentSink
	buf       []byte
	tags      map[string][]byte // channel name -> tag, for this file
}

// add implements readingsSink: it seals one channel's columns and passes the segment on.
func (k *segmentSealer) add(c *channelColumns) error {
	n := len(c.times)
	if n == 0 {
		return nil
	}
	if n != len(c.values) {
		return fmt.Errorf("segment of channel %d: %d times for %d values", c.index, n, len(c.values))
	}
	tag, ok := k.tags[c.name]
	if !ok {
		var err error
		if tag, err = k.svc.keys.IndexForAccount(k.ctx, k.accountID, indexChannel, c.name); err != nil {
			return err
		}
		k.tags[c.name] = tag
	}
	k.buf = appendSegmentPlain(k.buf[:0], c.name, c.unit, c.resolution, c.times, c.values)
	sealed, err := k.svc.keys.SealForAccount(k.ctx, k.accountID, segmentPurpose(k.deviceID, k.sequence, c.index, c.part), k.buf)
	if err != nil {
		return err
	}
	return k.inner.Add(&store.Segment{ChannelIndex: c.index, Part: c.part, ChannelTag: tag, TMin: c.times[0], TMax: c.times[n-1], Count: n, Sealed: sealed})
}

// openSegment opens a stored segment of a device.
func (s *Service) openSegment(ctx context.Context, accountID, deviceID string, sg *store.Segment, labels map[string]string) (openedSegment, error) {
	plain, err := s.keys.OpenForAccount(ctx, accountID, segmentPurpose(deviceID, sg.FileSequence, sg.ChannelIndex, sg.Part), sg.Sealed)
	if err != nil {
		return openedSegment{}, errUnreadable(fmt.Sprintf("readings of file %d of device %s", sg.FileSequence, deviceID), err)
	}
	name, unit, res, data, err := parseSegmentPlain(plain, labels)
	if err != nil {
		return openedSegment{}, fmt.Errorf("readings of file %d of device %s: %w", sg.FileSequence, deviceID, err)
	}
	return openedSegment{FileSequence: sg.FileSequence, ChannelIndex: sg.ChannelIndex, Part: sg.Part, Name: name, Unit: unit,
		Resolution: res, TMin: sg.TMin, TMax: sg.TMax, Count: sg.Count, Data: data}, nil
}

// sealSource seals the source address of an audit entry: under the account's data key, or the
// platform's key for a request nobody was authenticated for.
func (s *Service) sealSource(ctx context.Context, accountID, requestID, source string) ([]byte, error) {
	if accountID == "" {
		return s.keys.SealForPlatform(auditSourcePurpose(requestID), []byte(source))
	}
	return s.keys.SealForAccount(ctx, accountID, auditSourcePurpose(requestID), []byte(source))
}

// openSource opens what sealSource sealed.
func (s *Service) openSource(ctx context.Context, e store.AuditEntry) (string, error) {
	var b []byte
	var err error
	if e.AccountID == "" {
		b, err = s.keys.OpenForPlatform(auditSourcePurpose(e.RequestID), e.SealedSource)
	} else {
		b, err = s.keys.OpenForAccount(ctx, e.AccountID, auditSourcePurpose(e.RequestID), e.SealedSource)
	}
	if err != nil {
		return "", errUnreadable("source address of request "+e.RequestID, err)
	}
	return string(b), nil
}
