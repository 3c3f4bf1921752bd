package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/smart-impulse/smartx/internal/aescodec"
	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/auth"
	"github.com/smart-impulse/smartx/internal/store"
)

// ErrInvalidDeviceCredential is an upload credential that is malformed, unknown, replaced, or
// of a decommissioned device; the cases are one error so a guess learns nothing.
var ErrInvalidDeviceCredential = errors.New("the device credential is not valid")

// Sizes of a device credential: sxd_ + device id (20) + _ + 43 characters of base64url for
// 256 random bits.
const (
	credentialSecretBytes = 32
	deviceIDLen           = len(api.PrefixDevice) + 16
	credentialLen         = len(api.DeviceCredentialPrefix) + deviceIDLen + 1 + 43
	maxCachedDevices      = 100_000
)

// deviceKeyPurpose binds a sealed device key to its device and key id: a sealed key copied to
// another device's row, or under another key id, does not open.
func deviceKeyPurpose(deviceID string, keyID uint32) string {
	return "device-key/" + deviceID + "/" + strconv.FormatUint(uint64(keyID), 10)
}

// newCredential draws a device's upload credential and returns it with the salt and hash the
// store keeps.
func newCredential(deviceID string, rand io.Reader) (secret string, salt, hash []byte, err error) {
	raw := make([]byte, credentialSecretBytes+16)
	if _, err := io.ReadFull(rand, raw); err != nil {
		return "", nil, nil, fmt.Errorf("draw device credential: %w", err)
	}
	secret = api.DeviceCredentialPrefix + deviceID + "_" + base64.RawURLEncoding.EncodeToString(raw[:credentialSecretBytes])
	salt = raw[credentialSecretBytes:]
	return secret, salt, auth.HashSecret(salt, secret), nil
}

// credentialDevice returns the device id inside a credential, or false when it cannot be one.
func credentialDevice(secret string) (string, bool) {
	rest, ok := strings.CutPrefix(secret, api.DeviceCredentialPrefix)
	if !ok || len(secret) != credentialLen || rest[deviceIDLen] != '_' {
		return "", false
	}
	id := rest[:deviceIDLen]
	if !store.ValidID(id, api.PrefixDevice) {
		return "", false
	}
	if _, err := base64.RawURLEncoding.DecodeString(rest[deviceIDLen+1:]); err != nil {
		return "", false
	}
	return id, true
}

// uploader is a device authenticated by its credential, as the ingest routes see it. It caches
// the device's unwrapped keys; it is shared by concurrent requests of the device.
type uploader struct {
	id        string
	accountID string
	siteID    string
	serial    string

	mu   sync.Mutex
	keys map[uint32][]byte
}

// deviceAuth verifies upload credentials. Like token verification it is on the hot path of
// every upload, so a verified credential (known by its SHA-256) is cached until the store's
// revocation epoch moves: a new credential, a decommissioning or an account deletion, by this
// process or another one, advances it in the same transaction.
type deviceAuth struct {
	st   store.Store
	keys *auth.Keyring
	open func(context.Context, store.Device) (Device, error)

	mu     sync.Mutex
	epoch  int64
	byHash map[[sha256.Size]byte]*uploader
}

func newDeviceAuth(st store.Store, keys *auth.Keyring, open func(context.Context, store.Device) (Device, error)) *deviceAuth {
	return &deviceAuth{st: st, keys: keys, open: open, epoch: -1, byHash: map[[sha256.Size]byte]*uploader{}}
}

// invalidate drops every cached credential.
func (a *deviceAuth) invalidate() {
	a.mu.Lock()
	clear(a.byHash)
	a.epoch = -1
	a.mu.Unlock()
}

// verify checks a presented credential and returns its device.
func (a *deviceAuth) verify(ctx context.Context, secret string) (*uploader, error) {
	id, ok := credentialDevice(secret)
	if !ok {
		return nil, ErrInvalidDeviceCredential
	}
	epoch, err := a.st.RevocationEpoch(ctx)
	if err != nil {
		return nil, fmt.Errorf("verify device credential: %w", err)
	}
	digest := sha256.Sum256([]byte(secret))
	a.mu.Lock()
	if epoch != a.epoch {
		clear(a.byHash)
		a.epoch = epoch
	}
	u, hit := a.byHash[digest]
	a.mu.Unlock()
	if hit {
		return u, nil
	}
	sd, err := a.st.DeviceByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrInvalidDeviceCredential
	}
	if err != nil {
		return nil, fmt.Errorf("verify device credential: %w", err)
	}
	if subtle.ConstantTimeCompare(auth.HashSecret(sd.CredentialSalt, secret), sd.CredentialHash) != 1 || sd.Decommissioned() {
		return nil, ErrInvalidDeviceCredential
	}
	d, err := a.open(ctx, sd)
	if err != nil {
		return nil, fmt.Errorf("verify device credential: %w", err)
	}
	u = &uploader{id: d.ID, accountID: d.AccountID, siteID: d.SiteID, serial: d.Serial, keys: map[uint32][]byte{}}
	a.mu.Lock()
	if a.epoch == epoch { // a record read while the epoch moved is used once, not cached
		if len(a.byHash) >= maxCachedDevices {
			clear(a.byHash)
		}
		a.byHash[digest] = u
	}
	a.mu.Unlock()
	return u, nil
}

// key returns the device's key keyID, loading the device's keys again when it is not cached (a
// rotation made it since), or an error wrapping aescodec.ErrKeyNotFound.
func (a *deviceAuth) key(ctx context.Context, u *uploader, keyID uint32) ([]byte, error) {
	u.mu.Lock()
	k, ok := u.keys[keyID]
	u.mu.Unlock()
	if ok {
		return k, nil
	}
	sealed, err := a.st.DeviceKeys(ctx, u.accountID, u.id)
	if err != nil {
		return nil, fmt.Errorf("keys of device %s: %w", u.id, err)
	}
	keys := make(map[uint32][]byte, len(sealed))
	for _, sk := range sealed {
		plain, err := a.keys.OpenForAccount(ctx, u.accountID, deviceKeyPurpose(u.id, sk.KeyID), sk.SealedKey)
		if err != nil {
			return nil, fmt.Errorf("unseal key %d of device %s: %w", sk.KeyID, u.id, err)
		}
		keys[sk.KeyID] = plain
	}
	u.mu.Lock()
	u.keys = keys
	u.mu.Unlock()
	if k, ok := keys[keyID]; ok {
		return k, nil
	}
	ids := make([]string, 0, len(sealed))
	for _, sk := range sealed {
		ids = append(ids, strconv.FormatUint(uint64(sk.KeyID), 10))
	}
	return nil, fmt.Errorf("%w: key id %d is not one of the device's keys (%s)", aescodec.ErrKeyNotFound, keyID, strings.Join(ids, ", "))
}

// uploaderKeys is the aescodec.KeyLookup of one upload: the file must be the device's.
type uploaderKeys struct {
	ctx context.Context
	a   *deviceAuth
	u   *uploader
}

// errSerialMismatch is a file whose header names another device.
var errSerialMismatch = errors.New("the file was written by another device")

// DeviceKey implements aescodec.KeyLookup.
func (k uploaderKeys) DeviceKey(serial string, keyID uint32) ([]byte, error) {
	if serial != k.u.serial {
		return nil, errSerialMismatch
	}
	return k.a.key(k.ctx, k.u, keyID)
}
