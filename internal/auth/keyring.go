package auth

import (
	"context"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/store"
)

// Associated data binding each wrapped key to its owner: a data key wrapped for one account does
// not open as another's, and a token key does not open under another id, user or account.
const (
	adDataKey      = "smartx/data-key/v1/"
	adTokenKey     = "smartx/token-key/v2/"
	adAccountData  = "smartx/account-data/v1/"
	adPlatformData = "smartx/platform-data/v1/"
	adMasterCheck  = "smartx/master-key-check/v1"
)

// HKDF labels of the keys derived rather than stored: blind indexes per account (from its data
// key) and for the platform (from the master key), and the platform's own sealing key.
const (
	infoAccountIndex  = "smartx/index/v1/"
	infoPlatformIndex = "smartx/platform-index/v1/"
	infoPlatformData  = "smartx/platform-data/v1"
)

// IndexSize is the length of a blind index: 128 bits of HMAC-SHA-256, so two values never
// share one in practice, and nothing about a value can be read from it without the key.
const IndexSize = 16

// MasterCheckMetaKey is the meta entry holding a value sealed under the master key, so a server
// started with the wrong master key stops at once instead of failing on every request.
const MasterCheckMetaKey = "master_key_check"

// ErrWrongMasterKey means the master key does not open what this database was sealed with.
var ErrWrongMasterKey = errors.New("the master key does not match this database: start with the master key it was created with")

// KeyStore is what the keyring reads and writes: accounts (for their wrapped data keys), token
// keys, and the master key check.
type KeyStore interface {
	store.AccountStore
	store.TokenKeyStore
	store.MetaStore
}

// Keyring holds the envelope hierarchy: the master key wraps each account's data key, which
// seals the account's data (SealForAccount) and wraps its users' token keys; keyed blind indexes
// are derived from the data key (per account) or the master key (the platform's, for e-mails).
// Unwrapped keys are cached in memory so a token verification costs no decryption of keys.
type Keyring struct {
	master Key
	st     KeyStore
	rand   io.Reader
	now    func() time.Time

	platformAEAD  cipher.AEAD
	platformIndex sync.Map // purpose -> []byte HMAC key derived from the master key

	mu        sync.RWMutex
	accounts  map[string]*accountKeys   // account id -> its unwrapped keys
	tokenKeys map[string]cachedTokenKey // key id -> key
	current   map[string]string         // account id + "/" + user id -> id of the user's newest token key
}

// accountKeys are an account's data key and what is derived from it.
type accountKeys struct {
	data  Key
	aead  cipher.AEAD
	index sync.Map // purpose -> []byte HMAC key
}

type cachedTokenKey struct {
	accountID string
	userID    string
	key       Key
}

// NewKeyring returns a keyring over st with the given master key.
func NewKeyring(master Key, st KeyStore, rand io.Reader, now func() time.Time) *Keyring {
	aead, err := newGCM(deriveKey(master, infoPlatformData))
	if err != nil {
		panic(err) // a 32-byte key always makes an AES-GCM
	}
	return &Keyring{master: master, st: st, rand: rand, now: now, platformAEAD: aead,
		accounts: map[string]*accountKeys{}, tokenKeys: map[string]cachedTokenKey{}, current: map[string]string{}}
}

// deriveKey derives a 256-bit key from k for one purpose (HKDF-SHA-256).
func deriveKey(k Key, info string) Key {
	b, err := hkdf.Key(sha256.New, k[:], nil, info, KeySize)
	if err != nil {
		panic(err) // only for lengths HKDF cannot produce
	}
	return Key(b)
}

// blindIndex returns the first IndexSize bytes of HMAC-SHA-256(key, value).
func blindIndex(key []byte, value string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(value))
	return m.Sum(nil)[:IndexSize]
}

// indexKey returns the HMAC key of purpose from cache, deriving it from root on first use.
func indexKey(cache *sync.Map, root Key, info string) []byte {
	if v, ok := cache.Load(info); ok {
		return v.([]byte)
	}
	k := deriveKey(root, info)
	cache.Store(info, k[:])
	return k[:]
}

// CheckMaster verifies the master key against the database, recording a check value on first
// use; it returns ErrWrongMasterKey when the database was sealed under another key.
func (k *Keyring) CheckMaster(ctx context.Context) error {
	probe, err := Seal(k.master, []byte("smartx"), []byte(adMasterCheck), k.rand)
	if err != nil {
		return err
	}
	stored, err := k.st.SetMetaIfAbsent(ctx, MasterCheckMetaKey, probe)
	if err != nil {
		return fmt.Errorf("check master key: %w", err)
	}
	if _, err := Open(k.master, stored, []byte(adMasterCheck)); err != nil {
		return ErrWrongMasterKey
	}
	return nil
}

// NewDataKey draws a data key for a new account and returns it wrapped under the master key,
// ready for store.Account.DataKey. The key is usable at once (SealForAccount), before the
// account is stored: its own name is sealed under it.
func (k *Keyring) NewDataKey(accountID string) ([]byte, error) {
	dk, err := NewKey(k.rand)
	if err != nil {
		return nil, err
	}
	wrapped, err := Seal(k.master, dk[:], []byte(adDataKey+accountID), k.rand)
	if err != nil {
		return nil, err
	}
	ak := &accountKeys{data: dk}
	if ak.aead, err = newGCM(dk); err != nil {
		return nil, err
	}
	k.mu.Lock()
	k.accounts[accountID] = ak
	k.mu.Unlock()
	return wrapped, nil
}

// account returns the account's unwrapped keys, from the cache or unwrapped from the store.
func (k *Keyring) account(ctx context.Context, accountID string) (*accountKeys, error) {
	k.mu.RLock()
	ak, ok := k.accounts[accountID]
	k.mu.RUnlock()
	if ok {
		return ak, nil
	}
	acc, err := k.st.Account(ctx, accountID)
	if err != nil {
		return nil, fmt.Errorf("data key of %s: %w", accountID, err)
	}
	plain, err := Open(k.master, acc.DataKey, []byte(adDataKey+accountID))
	if err != nil || len(plain) != KeySize {
		return nil, fmt.Errorf("unwrap data key of %s: %w", accountID, ErrDecrypt)
	}
	ak = &accountKeys{data: Key(plain)}
	if ak.aead, err = newGCM(ak.data); err != nil {
		return nil, err
	}
	k.mu.Lock()
	k.accounts[accountID] = ak
	k.mu.Unlock()
	return ak, nil
}

// DataKey returns the account's unwrapped data key.
func (k *Keyring) DataKey(ctx context.Context, accountID string) (Key, error) {
	ak, err := k.account(ctx, accountID)
	if err != nil {
		return Key{}, err
	}
	return ak.data, nil
}

// SealForAccount encrypts a value of the account (a device key, a name, readings) under its
// data key. purpose and the account id are bound as associated data, so the value opens only
// for the same purpose in the same account.
func (k *Keyring) SealForAccount(ctx context.Context, accountID, purpose string, plaintext []byte) ([]byte, error) {
	ak, err := k.account(ctx, accountID)
	if err != nil {
		return nil, err
	}
	return sealWith(ak.aead, plaintext, []byte(adAccountData+accountID+"/"+purpose), k.rand)
}

// OpenForAccount decrypts what SealForAccount produced.
func (k *Keyring) OpenForAccount(ctx context.Context, accountID, purpose string, sealed []byte) ([]byte, error) {
	ak, err := k.account(ctx, accountID)
	if err != nil {
		return nil, err
	}
	return openWith(ak.aead, sealed, []byte(adAccountData+accountID+"/"+purpose))
}

// IndexForAccount returns the keyed blind index of value for purpose in the account: equal
// values of one account and purpose have equal indexes, and nothing else can be told from
// them without the account's data key.
func (k *Keyring) IndexForAccount(ctx context.Context, accountID, purpose, value string) ([]byte, error) {
	ak, err := k.account(ctx, accountID)
	if err != nil {
		return nil, err
	}
	return blindIndex(indexKey(&ak.index, ak.data, infoAccountIndex+purpose), value), nil
}

// PlatformIndex returns the keyed blind index of value for purpose across the platform (an
// e-mail, which must be found before its account is known), under a key derived from the master
// key.
func (k *Keyring) PlatformIndex(purpose, value string) []byte {
	return blindIndex(indexKey(&k.platformIndex, k.master, infoPlatformIndex+purpose), value)
}

// SealForPlatform encrypts a value that belongs to no account (the source address of an
// unauthenticated request) under a key derived from the master key, bound to purpose.
func (k *Keyring) SealForPlatform(purpose string, plaintext []byte) ([]byte, error) {
	return sealWith(k.platformAEAD, plaintext, []byte(adPlatformData+purpose), k.rand)
}

// OpenForPlatform decrypts what SealForPlatform produced.
func (k *Keyring) OpenForPlatform(purpose string, sealed []byte) ([]byte, error) {
	return openWith(k.platformAEAD, sealed, []byte(adPlatformData+purpose))
}

// userKey is the cache key of a user's current token key.
func userKey(accountID, userID string) string { return accountID + "/" + userID }

// CurrentTokenKey returns the id and key that new tokens of the user are encrypted with,
// creating the user's first token key if they have none.
func (k *Keyring) CurrentTokenKey(ctx context.Context, accountID, userID string) (string, Key, error) {
	k.mu.RLock()
	kid, ok := k.current[userKey(accountID, userID)]
	ck := k.tokenKeys[kid]
	k.mu.RUnlock()
	if ok {
		return kid, ck.key, nil
	}
	tk, err := k.st.LatestTokenKey(ctx, accountID, userID)
	if errors.Is(err, store.ErrNotFound) {
		kid, err = k.RotateTokenKey(ctx, accountID, userID)
		if errors.Is(err, store.ErrConflict) { // created concurrently: use that one
			tk, err = k.st.LatestTokenKey(ctx, accountID, userID)
		} else if err == nil {
			tk, err = k.st.TokenKey(ctx, kid)
		}
	}
	if err != nil {
		return "", Key{}, fmt.Errorf("token key of %s: %w", userID, err)
	}
	key, err := k.unwrapTokenKey(ctx, tk)
	if err != nil {
		return "", Key{}, err
	}
	k.mu.Lock()
	k.current[userKey(accountID, userID)] = tk.ID
	k.mu.Unlock()
	return tk.ID, key, nil
}

// tokenKeyAD binds a wrapped token key to its account, user and id.
func tokenKeyAD(accountID, userID, id string) []byte {
	return []byte(adTokenKey + accountID + "/" + userID + "/" + id)
}

// RotateTokenKey creates the user's next token key version and makes it current. Tokens
// encrypted under older versions keep verifying until they expire.
func (k *Keyring) RotateTokenKey(ctx context.Context, accountID, userID string) (string, error) {
	version := 1
	latest, err := k.st.LatestTokenKey(ctx, accountID, userID)
	switch {
	case err == nil:
		version = latest.Version + 1
	case !errors.Is(err, store.ErrNotFound):
		return "", fmt.Errorf("rotate token key of %s: %w", userID, err)
	}
	ak, err := k.account(ctx, accountID)
	if err != nil {
		return "", err
	}
	id, err := store.NewID(api.PrefixTokenKey, k.rand)
	if err != nil {
		return "", err
	}
	key, err := NewKey(k.rand)
	if err != nil {
		return "", err
	}
	wrapped, err := sealWith(ak.aead, key[:], tokenKeyAD(accountID, userID, id), k.rand)
	if err != nil {
		return "", err
	}
	tk := store.TokenKey{ID: id, AccountID: accountID, UserID: userID, Version: version, WrappedKey: wrapped, CreatedAt: k.now().UTC()}
	if err := k.st.CreateTokenKey(ctx, tk); err != nil {
		return "", fmt.Errorf("rotate token key of %s: %w", userID, err)
	}
	k.mu.Lock()
	k.tokenKeys[id] = cachedTokenKey{accountID: accountID, userID: userID, key: key}
	k.current[userKey(accountID, userID)] = id
	k.mu.Unlock()
	return id, nil
}

// TokenKey returns the account, user and key a key id names, or ErrTokenUnknownKey.
func (k *Keyring) TokenKey(ctx context.Context, kid string) (accountID, userID string, key Key, err error) {
	k.mu.RLock()
	ck, ok := k.tokenKeys[kid]
	k.mu.RUnlock()
	if ok {
		return ck.accountID, ck.userID, ck.key, nil
	}
	tk, err := k.st.TokenKey(ctx, kid)
	if errors.Is(err, store.ErrNotFound) {
		return "", "", Key{}, ErrTokenUnknownKey
	}
	if err != nil {
		return "", "", Key{}, fmt.Errorf("token key %s: %w", kid, err)
	}
	if key, err = k.unwrapTokenKey(ctx, tk); err != nil {
		return "", "", Key{}, err
	}
	return tk.AccountID, tk.UserID, key, nil
}

func (k *Keyring) unwrapTokenKey(ctx context.Context, tk store.TokenKey) (Key, error) {
	ak, err := k.account(ctx, tk.AccountID)
	if err != nil {
		return Key{}, err
	}
	plain, err := openWith(ak.aead, tk.WrappedKey, tokenKeyAD(tk.AccountID, tk.UserID, tk.ID))
	if err != nil || len(plain) != KeySize {
		return Key{}, fmt.Errorf("unwrap token key %s: %w", tk.ID, ErrDecrypt)
	}
	key := Key(plain)
	k.mu.Lock()
	k.tokenKeys[tk.ID] = cachedTokenKey{accountID: tk.AccountID, userID: tk.UserID, key: key}
	k.mu.Unlock()
	return key, nil
}

// Forget drops every cached key, so a deleted account's or user's keys leave memory too; they
// are reloaded from the store as needed.
func (k *Keyring) Forget() {
	k.mu.Lock()
	defer k.mu.Unlock()
	clear(k.accounts)
	clear(k.tokenKeys)
	clear(k.current)
}
