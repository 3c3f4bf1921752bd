package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/store"
)

// Associated data binding each wrapped key to its owner: a data key wrapped for one account does
// not open as another's, and a token key does not open under another id or account.
const (
	adDataKey     = "smartx/data-key/v1/"
	adTokenKey    = "smartx/token-key/v1/"
	adAccountData = "smartx/account-data/v1/"
	adMasterCheck = "smartx/master-key-check/v1"
)

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
// wraps the account's token keys (and, later, device keys and upload credentials). Unwrapped
// keys are cached in memory so a token verification costs no decryption of keys.
type Keyring struct {
	master Key
	st     KeyStore
	rand   io.Reader
	now    func() time.Time

	mu        sync.RWMutex
	dataKeys  map[string]Key            // account id -> data key
	tokenKeys map[string]cachedTokenKey // key id -> key
	current   map[string]string         // account id -> id of its newest token key
}

type cachedTokenKey struct {
	accountID string
	key       Key
}

// NewKeyring returns a keyring over st with the given master key.
func NewKeyring(master Key, st KeyStore, rand io.Reader, now func() time.Time) *Keyring {
	return &Keyring{master: master, st: st, rand: rand, now: now,
		dataKeys: map[string]Key{}, tokenKeys: map[string]cachedTokenKey{}, current: map[string]string{}}
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
// ready for store.Account.DataKey.
func (k *Keyring) NewDataKey(accountID string) ([]byte, error) {
	dk, err := NewKey(k.rand)
	if err != nil {
		return nil, err
	}
	return Seal(k.master, dk[:], []byte(adDataKey+accountID), k.rand)
}

// DataKey returns the account's unwrapped data key.
func (k *Keyring) DataKey(ctx context.Context, accountID string) (Key, error) {
	k.mu.RLock()
	dk, ok := k.dataKeys[accountID]
	k.mu.RUnlock()
	if ok {
		return dk, nil
	}
	acc, err := k.st.Account(ctx, accountID)
	if err != nil {
		return Key{}, fmt.Errorf("data key of %s: %w", accountID, err)
	}
	plain, err := Open(k.master, acc.DataKey, []byte(adDataKey+accountID))
	if err != nil || len(plain) != KeySize {
		return Key{}, fmt.Errorf("unwrap data key of %s: %w", accountID, ErrDecrypt)
	}
	copy(dk[:], plain)
	k.mu.Lock()
	k.dataKeys[accountID] = dk
	k.mu.Unlock()
	return dk, nil
}

// SealForAccount encrypts a secret of the account (a device key, an upload credential) under its
// data key. purpose and the account id are bound as associated data, so the value opens only
// for the same purpose in the same account.
func (k *Keyring) SealForAccount(ctx context.Context, accountID, purpose string, plaintext []byte) ([]byte, error) {
	dk, err := k.DataKey(ctx, accountID)
	if err != nil {
		return nil, err
	}
	return Seal(dk, plaintext, []byte(adAccountData+accountID+"/"+purpose), k.rand)
}

// OpenForAccount decrypts what SealForAccount produced.
func (k *Keyring) OpenForAccount(ctx context.Context, accountID, purpose string, sealed []byte) ([]byte, error) {
	dk, err := k.DataKey(ctx, accountID)
	if err != nil {
		return nil, err
	}
	return Open(dk, sealed, []byte(adAccountData+accountID+"/"+purpose))
}

// CurrentTokenKey returns the id and key that new tokens of the account are encrypted with,
// creating the account's first token key if it has none.
func (k *Keyring) CurrentTokenKey(ctx context.Context, accountID string) (string, Key, error) {
	k.mu.RLock()
	kid, ok := k.current[accountID]
	ck := k.tokenKeys[kid]
	k.mu.RUnlock()
	if ok {
		return kid, ck.key, nil
	}
	tk, err := k.st.LatestTokenKey(ctx, accountID)
	if errors.Is(err, store.ErrNotFound) {
		kid, err = k.RotateTokenKey(ctx, accountID)
		if errors.Is(err, store.ErrConflict) { // created concurrently: use that one
			tk, err = k.st.LatestTokenKey(ctx, accountID)
		} else if err == nil {
			tk, err = k.st.TokenKey(ctx, kid)
		}
	}
	if err != nil {
		return "", Key{}, fmt.Errorf("token key of %s: %w", accountID, err)
	}
	key, err := k.unwrapTokenKey(ctx, tk)
	if err != nil {
		return "", Key{}, err
	}
	k.mu.Lock()
	k.current[accountID] = tk.ID
	k.mu.Unlock()
	return tk.ID, key, nil
}

// RotateTokenKey creates the account's next token key version and makes it current. Tokens
// encrypted under older versions keep verifying until they expire.
func (k *Keyring) RotateTokenKey(ctx context.Context, accountID string) (string, error) {
	version := 1
	latest, err := k.st.LatestTokenKey(ctx, accountID)
	switch {
	case err == nil:
		version = latest.Version + 1
	case !errors.Is(err, store.ErrNotFound):
		return "", fmt.Errorf("rotate token key of %s: %w", accountID, err)
	}
	dk, err := k.DataKey(ctx, accountID)
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
	wrapped, err := Seal(dk, key[:], []byte(adTokenKey+accountID+"/"+id), k.rand)
	if err != nil {
		return "", err
	}
	tk := store.TokenKey{ID: id, AccountID: accountID, Version: version, WrappedKey: wrapped, CreatedAt: k.now().UTC()}
	if err := k.st.CreateTokenKey(ctx, tk); err != nil {
		return "", fmt.Errorf("rotate token key of %s: %w", accountID, err)
	}
	k.mu.Lock()
	k.tokenKeys[id] = cachedTokenKey{accountID: accountID, key: key}
	k.current[accountID] = id
	k.mu.Unlock()
	return id, nil
}

// TokenKey returns the account and key a key id names, or ErrTokenUnknownKey.
func (k *Keyring) TokenKey(ctx context.Context, kid string) (string, Key, error) {
	k.mu.RLock()
	ck, ok := k.tokenKeys[kid]
	k.mu.RUnlock()
	if ok {
		return ck.accountID, ck.key, nil
	}
	tk, err := k.st.TokenKey(ctx, kid)
	if errors.Is(err, store.ErrNotFound) {
		return "", Key{}, ErrTokenUnknownKey
	}
	if err != nil {
		return "", Key{}, fmt.Errorf("token key %s: %w", kid, err)
	}
	key, err := k.unwrapTokenKey(ctx, tk)
	if err != nil {
		return "", Key{}, err
	}
	return tk.AccountID, key, nil
}

func (k *Keyring) unwrapTokenKey(ctx context.Context, tk store.TokenKey) (Key, error) {
	dk, err := k.DataKey(ctx, tk.AccountID)
	if err != nil {
		return Key{}, err
	}
	plain, err := Open(dk, tk.WrappedKey, []byte(adTokenKey+tk.AccountID+"/"+tk.ID))
	if err != nil || len(plain) != KeySize {
		return Key{}, fmt.Errorf("unwrap token key %s: %w", tk.ID, ErrDecrypt)
	}
	var key Key
	copy(key[:], plain)
	k.mu.Lock()
	k.tokenKeys[tk.ID] = cachedTokenKey{accountID: tk.AccountID, key: key}
	k.mu.Unlock()
	return key, nil
}

// Forget drops every cached key, so a deleted account's keys leave memory too; they are
// reloaded from the store as needed.
func (k *Keyring) Forget() {
	k.mu.Lock()
	defer k.mu.Unlock()
	clear(k.dataKeys)
	clear(k.tokenKeys)
	clear(k.current)
}
