package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Sentinel errors of sites and devices.
var (
	// ErrSiteNotEmpty: a site cannot be deleted while devices in service are attached to it
	// (SiteNotEmptyError says how many).
	ErrSiteNotEmpty = errors.New("site has devices in service")
	// ErrDecommissioned: the device was decommissioned; it cannot upload or change any more.
	ErrDecommissioned = errors.New("device decommissioned")
)

// SiteNotEmptyError is the ErrSiteNotEmpty of one site.
type SiteNotEmptyError struct {
	Devices int
}

// Error implements error.
func (e *SiteNotEmptyError) Error() string {
	return fmt.Sprintf("the site still has %d device(s) in service", e.Devices)
}

// Is makes errors.Is(err, ErrSiteNotEmpty) true.
func (e *SiteNotEmptyError) Is(target error) bool { return target == ErrSiteNotEmpty }

// Site is a building of an account. Its name, address and time zone are sealed together
// (Sealed); NameIndex, the name's keyed blind index, is unique within the account.
type Site struct {
	ID        string
	AccountID string
	NameIndex []byte
	Sealed    []byte
	CreatedAt time.Time
	UpdatedAt time.Time
}

// SiteFilter selects sites of one account.
type SiteFilter struct {
	AccountID string
	NameIndex []byte   // the exact name's index; nil for any
	IDs       []string // nil for any site; non-nil restricts to these (a token's site restriction)
}

// Device is a meter of a site. Its serial and network settings are sealed together (Sealed);
// SerialIndex, the serial's keyed blind index, names one device in service per account. The
// upload credential is kept as a salted SHA-256 only. A decommissioned device keeps its row,
// files and readings, but can no longer upload.
type Device struct {
	ID               string
	AccountID        string
	SiteID           string
	SerialIndex      []byte
	Sealed           []byte
	CredentialSalt   []byte
	CredentialHash   []byte
	CreatedAt        time.Time
	UpdatedAt        time.Time
	DecommissionedAt time.Time // zero: in service
	Stats            DeviceStats
}

// Decommissioned reports whether the device was taken out of service.
func (d Device) Decommissioned() bool { return !d.DecommissionedAt.IsZero() }

// DeviceStats are running totals a store keeps up to date as files arrive, so a device's
// status costs no scan of its readings. Times of readings are Unix milliseconds.
type DeviceStats struct {
	LastContactAt time.Time // last upload (accepted or refused) or loss report
	LastUploadAt  time.Time // last accepted file
	// The last refused upload: when, its problem code and reject reason.
	LastRejectAt     time.Time
	LastRejectCode   string
	LastRejectReason string
	Files            int64
	Readings         int64
	LastSequence     uint64 // valid when Files > 0
	FirstReading     int64  // valid when Readings > 0
	LastReading      int64  // valid when Readings > 0
	CurrentKeyID     uint32 // the highest key id
}

// DeviceFilter selects devices of one account.
type DeviceFilter struct {
	AccountID   string
	SiteID      string   // "" for any site
	SerialIndex []byte   // the exact serial's index; nil for any
	SiteIDs     []string // nil for any site; non-nil restricts to these sites
	// IncludeDecommissioned lists decommissioned devices too.
	IncludeDecommissioned bool
}

// DeviceReplacement is what changes when a device's hardware is swapped (ReplaceDevice).
type DeviceReplacement struct {
	SerialIndex    []byte
	Sealed         []byte
	CredentialSalt []byte
	CredentialHash []byte
	Key            DeviceKey
	At             time.Time
}

// DeviceKey is one version of a device's data file key, sealed under the account's data key.
// Key ids start at 1 and grow by one at each rotation; every version is kept, so old files stay
// readable.
type DeviceKey struct {
	DeviceID  string
	KeyID     uint32
	SealedKey []byte
	CreatedAt time.Time
}

// Gap is a period without readings, in Unix milliseconds: From is the last reading before it,
// To the first after it.
type Gap struct {
	From, To int64
}

// DataFile is the record of a data file a device uploaded: which file (sequence and SHA-256 of
// its bytes), what it held and when it arrived. Times of readings are Unix milliseconds.
// Sequences are at most math.MaxInt64 (the server refuses larger ones).
type DataFile struct {
	DeviceID     string
	Sequence     uint64
	SHA256       []byte
	Size         int64
	KeyID        uint32
	Readings     int64
	FirstReading int64 // valid when Readings > 0
	LastReading  int64 // valid when Readings > 0
	// Interval is the sampling interval of the file's schema (0: irregular).
	Interval time.Duration
	// Gaps are the periods inside the file longer than twice Interval without a reading.
	Gaps       []Gap
	CreatedAt  time.Time // as the file's header says
	ReceivedAt time.Time
}

// SegmentSink receives the segments of a file being stored. Add copies what it needs: the
// caller may reuse the segment's slices at once.
type SegmentSink interface {
	Add(sg *Segment) error
}

// Contact is a request of a device that is not an accepted file: a refused upload (RejectCode
// set) or a repeated one.
type Contact struct {
	At           time.Time
	RejectCode   string // "" for a contact that was not a refusal
	RejectReason string
}

// Loss is a run of files a device reports it dropped. A loss is identified by its device and
// first sequence: a second report of the same first sequence is the same loss.
type Loss struct {
	DeviceID      string
	FirstSequence uint64
	LastSequence  uint64
	From, To      time.Time
	Files         int64
	Reason        string
	ReportedAt    time.Time
}

// SegmentQuery selects the stored readings of one device of an account: From inclusive, To
// exclusive (Unix ms), and channels by their tags (none: every channel).
type SegmentQuery struct {
	AccountID   string
	DeviceID    string
	From, To    int64
	ChannelTags [][]byte
}

// Segment holds readings of one channel of one file: a channel's readings are cut into several
// parts when they are many, so memory stays bounded whatever the file's size, and Part numbers
// them from 0 in time order. TMin and TMax are its first and last reading's times (Unix ms) and
// Count its number of readings; ChannelTag is the channel's keyed blind index, for queries by
// channel. Sealed holds the channel's name, unit and resolution and the readings encoded by
// AppendSegment, sealed by the server. Segments are delivered ordered by (TMin, FileSequence,
// ChannelIndex, Part); Sealed and ChannelTag are valid only during the callback that receives
// them.
type Segment struct {
	FileSequence uint64
	ChannelIndex int
	Part         int
	ChannelTag   []byte
	TMin, TMax   int64
	Count        int
	Sealed       []byte
}

// SiteStore keeps sites.
type SiteStore interface {
	// CreateSite fails with ErrConflict when the account has a site of that name.
	CreateSite(ctx context.Context, s Site) error
	Site(ctx context.Context, accountID, id string) (Site, error)
	// ListSites returns the selected sites ordered by creation, then id (the server, which can
	// read their names, orders them by name).
	ListSites(ctx context.Context, f SiteFilter) ([]Site, error)
	// UpdateSite replaces the name index, sealed values and update time of a site of the account;
	// ErrConflict when another site of the account has the name index.
	UpdateSite(ctx context.Context, s Site) error
	// DeleteSite deletes a site and, in the same transaction, its decommissioned devices with
	// their files and readings, and its preflight runs. It fails with a *SiteNotEmptyError
	// while devices in service remain.
	DeleteSite(ctx context.Context, accountID, id string) error
}

// DeviceStore keeps devices, their keys and their credentials.
type DeviceStore interface {
	// CreateDevice stores a device and its first key in one transaction. ErrConflict: another
	// device in service of the account has the serial; ErrNotFound: no such site.
	CreateDevice(ctx context.Context, d Device, first DeviceKey) error
	Device(ctx context.Context, accountID, id string) (Device, error)
	// DeviceByID returns a device whatever its account: the credential verifier checks the
	// account through the credential itself.
	DeviceByID(ctx context.Context, id string) (Device, error)
	// ListDevices returns the selected devices ordered by creation, then id.
	ListDevices(ctx context.Context, f DeviceFilter) ([]Device, error)
	// SetDeviceCredential replaces the device's credential hash and advances the revocation
	// epoch, so the old credential stops working at once. ErrDecommissioned for a
	// decommissioned device.
	SetDeviceCredential(ctx context.Context, accountID, id string, salt, hash []byte, at time.Time) error
	// DecommissionDevice marks the device out of service (a no-op when it already is) and
	// advances the revocation epoch.
	DecommissionDevice(ctx context.Context, accountID, id string, at time.Time) error
	// ReplaceDevice swaps the hardware behind a device in service, in one transaction: the new
	// unit's serial (index and sealed values), a new upload credential and a new key; the
	// device keeps its id, site, files, readings and older keys, and the revocation epoch
	// advances so the old unit's credential stops working. ErrConflict when another device in
	// service of the account has the serial or the key id exists; ErrDecommissioned for a
	// decommissioned device.
	ReplaceDevice(ctx context.Context, accountID, id string, r DeviceReplacement) error
	// CreateDeviceKey adds a key version; ErrConflict when the key id exists.
	CreateDeviceKey(ctx context.Context, accountID string, k DeviceKey) error
	// DeviceKeys returns every key of the device, by key id.
	DeviceKeys(ctx context.Context, accountID, deviceID string) ([]DeviceKey, error)
	// RecordContact notes a request of the device that stored no file in its stats: its last
	// contact, and its last refusal when c.RejectCode is set.
	RecordContact(ctx context.Context, accountID, deviceID string, c Contact) error
}

// FileStore keeps the records of uploaded data files and the losses devices report.
type FileStore interface {
	// DataFile returns the record of the device's file with that sequence.
	DataFile(ctx context.Context, accountID, deviceID string, sequence uint64) (DataFile, error)
	// StoreFile stores a data file of the device in one transaction, and nothing unless the
	// device is in service (else ErrDecommissioned or ErrNotFound) and has no file with that
	// sequence (else ErrConflict). A store may find those before or after decode runs (the
	// PostgreSQL store decodes a file that fits in one batch first, to store it in one round
	// trip): a caller that wants to spare the decoding of a file seen before looks it up first.
	// decode streams the file's readings into the sink and returns the file's record; the
	// record and the device's new stats are then stored and the transaction committed. An
	// error from decode rolls everything back and is returned unchanged. decode may run inside
	// the write transaction: it must read from memory or a local file, never from a client.
	StoreFile(ctx context.Context, accountID, deviceID string, sequence uint64, decode func(SegmentSink) (DataFile, error)) error
	// ListDataFiles calls fn with each file record of the device, by sequence.
	ListDataFiles(ctx context.Context, accountID, deviceID string, fn func(DataFile) error) error
	// ReportLosses records losses (by first sequence: one already recorded is ignored unless
	// the report extends it to a higher last sequence), notes the contact, and returns how many
	// were new or extended.
	ReportLosses(ctx context.Context, accountID, deviceID string, losses []Loss, at time.Time) (int, error)
	// ListLosses returns the device's reported losses by first sequence.
	ListLosses(ctx context.Context, accountID, deviceID string) ([]Loss, error)
}

// ReadingStore reads stored readings back.
type ReadingStore interface {
	// ScanSegments calls fn with every segment of the device that may hold readings of the
	// query (TMax >= From and TMin < To), in (TMin, FileSequence, ChannelIndex, Part) order; the
	// caller filters readings to the exact range. Memory stays constant however many
	// segments match, and no read transaction outlives a batch.
	ScanSegments(ctx context.Context, q SegmentQuery, fn func(*Segment) error) error
}
