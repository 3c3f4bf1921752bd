package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/store"
)

// Cache bounds: a verifier remembers at most maxCachedTokens token records (then starts over),
// and writes a token's last-use time at most once per lastUsedResolution.
const (
	maxCachedTokens    = 100_000
	lastUsedResolution = time.Minute
)

// TokenService issues, verifies and revokes tokens. Verification is the hot path of every
// request: it decrypts the token with a cached key and checks the token's record in a cache
// that the store's revocation epoch invalidates, so a revocation by this process or another
// one sharing the database takes effect on the very next request.
type TokenService struct {
	keys *Keyring
	st   store.TokenStore
	rand io.Reader
	now  func() time.Time

	mu       sync.Mutex
	epoch    int64
	records  map[string]store.Token // token id -> record, revoked ones included
	verified map[[sha256.Size]byte]verifiedToken
	lastUsed map[string]time.Time // token id -> last use not yet written
}

// verifiedToken remembers that a secret (known by its SHA-256) decrypted to these claims under
// this key, so the JWE is parsed and decrypted once per token, not once per request. A secret's
// claims cannot change; revocation and expiry are checked on every request all the same.
type verifiedToken struct {
	claims Claims
	keyID  string
}

// NewTokenService returns a token service over the keyring and token store.
func NewTokenService(keys *Keyring, st store.TokenStore, rand io.Reader, now func() time.Time) *TokenService {
	return &TokenService{keys: keys, st: st, rand: rand, now: now,
		epoch: -1, records: map[string]store.Token{}, verified: map[[sha256.Size]byte]verifiedToken{},
		lastUsed: map[string]time.Time{}}
}

// IssueRequest describes a token to mint. Validation of scopes, sites and expiry against the
// caller's rights and its parent is the caller's job; Issue only records and encrypts.
type IssueRequest struct {
	AccountID string
	UserID    string
	// ParentID is the token the new one is minted with ("" for a root token): it is revoked
	// with its parent.
	ParentID  string
	Kind      api.TokenKind
	Name      string
	Scopes    []api.Scope
	Sites     []string
	ExpiresAt time.Time
}

// TokenNamePurpose is what a token's name is sealed for (SealForAccount).
func TokenNamePurpose(tokenID string) string { return "token-name/" + tokenID }

// Issue mints a token and returns its record and its secret, which exists nowhere else: the
// store keeps a salted hash.
func (s *TokenService) Issue(ctx context.Context, req IssueRequest) (store.Token, string, error) {
	kid, key, err := s.keys.CurrentTokenKey(ctx, req.AccountID, req.UserID)
	if err != nil {
		return store.Token{}, "", err
	}
	id, err := store.NewID(api.PrefixToken, s.rand)
	if err != nil {
		return store.Token{}, "", err
	}
	now := s.now().UTC().Truncate(time.Second)
	exp := req.ExpiresAt.UTC().Truncate(time.Second)
	claims := Claims{ID: id, Kind: req.Kind, Account: req.AccountID, User: req.UserID,
		Scopes: api.SortScopes(slices.Clone(req.Scopes)), Sites: slices.Clone(req.Sites),
		IssuedAt: now.Unix(), ExpiresAt: exp.Unix()}
	secret, err := EncodeToken(claims, kid, key)
	if err != nil {
		return store.Token{}, "", err
	}
	salt := make([]byte, 16)
	if _, err := io.ReadFull(s.rand, salt); err != nil {
		return store.Token{}, "", fmt.Errorf("issue token: draw salt: %w", err)
	}
	name, err := s.keys.SealForAccount(ctx, req.AccountID, TokenNamePurpose(id), []byte(req.Name))
	if err != nil {
		return store.Token{}, "", err
	}
	t := store.Token{ID: id, AccountID: req.AccountID, UserID: req.UserID, ParentID: req.ParentID, Kind: req.Kind, SealedName: name,
		Scopes: claims.Scopes, Sites: claims.Sites, SecretSalt: salt, SecretHash: HashSecret(salt, secret),
		KeyID: kid, CreatedAt: now, ExpiresAt: exp}
	if t.Sites == nil {
		t.Sites = []string{}
	}
	if err := s.st.CreateToken(ctx, t); err != nil {
		return store.Token{}, "", fmt.Errorf("issue token: %w", err)
	}
	return t, secret, nil
}

// Verify checks a presented secret and returns the token's record. It fails with
// ErrTokenMalformed, ErrTokenUnknownKey, ErrTokenInvalid (tampered, another server's, or a
// secret whose hash does not match the record), ErrTokenExpired or ErrTokenRevoked, or with a
// wrapped store error when the database cannot be read.
func (s *TokenService) Verify(ctx context.Context, secret string) (store.Token, error) {
	if len(secret) > maxTokenLength {
		return store.Token{}, fmt.Errorf("%w: longer than %d bytes", ErrTokenMalformed, maxTokenLength)
	}
	epoch, err := s.st.RevocationEpoch(ctx)
	if err != nil {
		return store.Token{}, fmt.Errorf("verify token: %w", err)
	}
	s.syncEpoch(epoch)
	digest := sha256.Sum256([]byte(secret))
	s.mu.Lock()
	vt, known := s.verified[digest]
	s.mu.Unlock()
	if !known {
		if vt, err = s.decrypt(ctx, secret); err != nil {
			return store.Token{}, err
		}
	}
	now := s.now()
	if !now.Before(vt.claims.Expiry()) {
		return store.Token{}, ErrTokenExpired
	}
	rec, err := s.record(ctx, vt.claims.ID, epoch)
	if err != nil {
		return store.Token{}, err
	}
	if subtle.ConstantTimeCompare(HashSecret(rec.SecretSalt, secret), rec.SecretHash) != 1 ||
		rec.AccountID != vt.claims.Account || rec.UserID != vt.claims.User || rec.Kind != vt.claims.Kind || rec.KeyID != vt.keyID {
		return store.Token{}, fmt.Errorf("%w: does not match the issued token", ErrTokenInvalid)
	}
	if rec.Revoked() {
		return store.Token{}, ErrTokenRevoked
	}
	if !now.Before(rec.ExpiresAt) {
		return store.Token{}, ErrTokenExpired
	}
	if !known {
		s.mu.Lock()
		if s.epoch == epoch {
			if len(s.verified) >= maxCachedTokens {
				clear(s.verified)
			}
			s.verified[digest] = vt
		}
		s.mu.Unlock()
	}
	s.noteUse(rec.ID, now)
	return rec, nil
}

// decrypt parses a secret and decrypts its claims with the key its header names, which must
// belong to the account the claims name.
func (s *TokenService) decrypt(ctx context.Context, secret string) (verifiedToken, error) {
	parsed, err := ParseToken(secret)
	if err != nil {
		return verifiedToken{}, err
	}
	keyAccount, keyUser, key, err := s.keys.TokenKey(ctx, parsed.KeyID())
	if err != nil {
		return verifiedToken{}, err
	}
	claims, err := parsed.Decrypt(key)
	if err != nil {
		return verifiedToken{}, err
	}
	if claims.Account != keyAccount || claims.User != keyUser {
		return verifiedToken{}, fmt.Errorf("%w: account or user does not match the key", ErrTokenInvalid)
	}
	return verifiedToken{claims: claims, keyID: parsed.KeyID()}, nil
}

// syncEpoch drops every cached record and key when the store's revocation epoch moved.
func (s *TokenService) syncEpoch(epoch int64) {
	s.mu.Lock()
	changed := epoch != s.epoch
	if changed {
		clear(s.records)
		clear(s.verified)
		s.epoch = epoch
	}
	s.mu.Unlock()
	if changed {
		s.keys.Forget()
	}
}

// record returns a token's record from the cache or the store. A record loaded while the epoch
// moved is returned but not cached, so a concurrent revocation can never be hidden.
func (s *TokenService) record(ctx context.Context, id string, epoch int64) (store.Token, error) {
	s.mu.Lock()
	rec, ok := s.records[id]
	s.mu.Unlock()
	if ok {
		return rec, nil
	}
	rec, err := s.st.Token(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Token{}, fmt.Errorf("%w: no such token", ErrTokenInvalid)
	}
	if err != nil {
		return store.Token{}, fmt.Errorf("verify token: %w", err)
	}
	s.mu.Lock()
	if s.epoch == epoch {
		if len(s.records) >= maxCachedTokens {
			clear(s.records)
		}
		s.records[id] = rec
	}
	s.mu.Unlock()
	return rec, nil
}

func (s *TokenService) noteUse(id string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.records[id]
	if now.Sub(rec.LastUsedAt) < lastUsedResolution {
		return
	}
	rec.LastUsedAt = now.UTC()
	if rec.ID != "" {
		s.records[id] = rec
	}
	s.lastUsed[id] = now.UTC()
}

// FlushLastUsed writes the pending last-use times to the store.
func (s *TokenService) FlushLastUsed(ctx context.Context) error {
	s.mu.Lock()
	pending := s.lastUsed
	s.lastUsed = map[string]time.Time{}
	s.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	if err := s.st.TouchTokens(ctx, pending); err != nil {
		return fmt.Errorf("record token use: %w", err)
	}
	return nil
}

// Revoke revokes a token of the account and every token minted from it; the next request
// presenting any of them fails. It returns how many tokens it revoked.
func (s *TokenService) Revoke(ctx context.Context, accountID, id string) (int, error) {
	n, err := s.st.RevokeToken(ctx, accountID, id, s.now().UTC())
	if err != nil {
		return 0, err
	}
	s.Invalidate()
	return n, nil
}

// RevokeUserTokens revokes a user's unrevoked tokens of a kind ("" for every kind).
func (s *TokenService) RevokeUserTokens(ctx context.Context, accountID, userID string, kind api.TokenKind) (int, error) {
	n, err := s.st.RevokeUserTokens(ctx, accountID, userID, kind, s.now().UTC())
	if err != nil {
		return 0, err
	}
	s.Invalidate()
	return n, nil
}

// Invalidate drops the cached token records and keys. The store's epoch would make the next
// verification do the same; doing it at once keeps this process exact even without it.
func (s *TokenService) Invalidate() {
	s.mu.Lock()
	clear(s.records)
	clear(s.verified)
	s.epoch = -1
	s.mu.Unlock()
	s.keys.Forget()
}
