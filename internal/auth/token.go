package auth

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/smart-impulse/smartx/internal/api"
)

// Token verification failures. Every one maps to a 401; ErrTokenExpired and ErrTokenRevoked
// get their own problem codes so a client can tell the user what to do.
var (
	ErrTokenMalformed  = errors.New("token is malformed")
	ErrTokenUnknownKey = errors.New("token was encrypted with a key this server does not know")
	ErrTokenInvalid    = errors.New("token does not verify")
	ErrTokenExpired    = errors.New("token has expired")
	ErrTokenRevoked    = errors.New("token has been revoked")
)

// maxTokenLength bounds what the parser looks at: a real token is well under a kilobyte, and a
// huge header must not cost a JSON parse.
const maxTokenLength = 4096

// Claims are the contents of a token, encrypted in it so that neither its holder nor anyone who
// intercepts it learns the account, user, scopes or sites. Times are JWT NumericDates (seconds).
type Claims struct {
	ID        string        `json:"jti"`
	Kind      api.TokenKind `json:"knd"`
	Account   string        `json:"acc"`
	User      string        `json:"sub"`
	Scopes    []api.Scope   `json:"scp"`
	Sites     []string      `json:"sit,omitempty"`
	IssuedAt  int64         `json:"iat"`
	ExpiresAt int64         `json:"exp"`
}

// Expiry returns the expiry as a time.
func (c Claims) Expiry() time.Time { return time.Unix(c.ExpiresAt, 0).UTC() }

// tokenPrefix returns the secret's prefix for a kind of token.
func tokenPrefix(kind api.TokenKind) (string, error) {
	switch kind {
	case api.TokenKindAPI:
		return api.APITokenPrefix, nil
	case api.TokenKindSession:
		return api.SessionTokenPrefix, nil
	}
	return "", fmt.Errorf("unknown token kind %q", kind)
}

// EncodeToken encrypts claims into a token secret: the kind's prefix, then a JWE in compact
// serialization with alg "dir", enc "A256GCM" and kid naming the key.
func EncodeToken(c Claims, kid string, key Key) (string, error) {
	prefix, err := tokenPrefix(c.Kind)
	if err != nil {
		return "", err
	}
	enc, err := jose.NewEncrypter(jose.A256GCM,
		jose.Recipient{Algorithm: jose.DIRECT, Key: key[:], KeyID: kid},
		(&jose.EncrypterOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("token encrypter: %w", err)
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encode token claims: %w", err)
	}
	obj, err := enc.Encrypt(payload)
	if err != nil {
		return "", fmt.Errorf("encrypt token: %w", err)
	}
	compact, err := obj.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("serialize token: %w", err)
	}
	return prefix + compact, nil
}

// ParsedToken is a token whose envelope parsed; its claims are still encrypted.
type ParsedToken struct {
	kind  api.TokenKind
	keyID string
	jwe   *jose.JSONWebEncryption
}

// KeyID returns the id of the key the token claims to be encrypted with.
func (p *ParsedToken) KeyID() string { return p.keyID }

// Kind returns the kind its prefix announces; Decrypt checks the claims agree.
func (p *ParsedToken) Kind() api.TokenKind { return p.kind }

// allowedHeaders are the only JOSE header parameters a smartx token carries besides alg and kid;
// anything else (zip, crit, jku...) means it was not made by EncodeToken.
var allowedHeaders = map[jose.HeaderKey]bool{"enc": true, "typ": true}

// ParseToken checks a secret's prefix and JWE envelope: compact serialization, alg "dir",
// enc "A256GCM", a key id, no other header. It decrypts nothing.
func ParseToken(secret string) (*ParsedToken, error) {
	if len(secret) > maxTokenLength {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrTokenMalformed, maxTokenLength)
	}
	var kind api.TokenKind
	var compact string
	if rest, ok := strings.CutPrefix(secret, api.APITokenPrefix); ok {
		kind, compact = api.TokenKindAPI, rest
	} else if rest, ok := strings.CutPrefix(secret, api.SessionTokenPrefix); ok {
		kind, compact = api.TokenKindSession, rest
	} else {
		return nil, fmt.Errorf("%w: not a smartx token (no %s or %s prefix)", ErrTokenMalformed, api.APITokenPrefix, api.SessionTokenPrefix)
	}
	if strings.ContainsAny(compact, " \t\r\n{") {
		return nil, fmt.Errorf("%w: not a compact JWE", ErrTokenMalformed)
	}
	obj, err := jose.ParseEncryptedCompact(compact, []jose.KeyAlgorithm{jose.DIRECT}, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTokenMalformed, err)
	}
	if obj.Header.KeyID == "" {
		return nil, fmt.Errorf("%w: no key id", ErrTokenMalformed)
	}
	for k := range obj.Header.ExtraHeaders {
		if !allowedHeaders[k] {
			return nil, fmt.Errorf("%w: unexpected header %q", ErrTokenMalformed, k)
		}
	}
	return &ParsedToken{kind: kind, keyID: obj.Header.KeyID, jwe: obj}, nil
}

// Decrypt opens the token with key and checks its claims are complete and match its prefix.
// Expiry and revocation are the verifier's business.
func (p *ParsedToken) Decrypt(key Key) (Claims, error) {
	plain, err := p.jwe.Decrypt(key[:])
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %v", ErrTokenInvalid, err)
	}
	var c Claims
	if err := json.Unmarshal(plain, &c); err != nil {
		return Claims{}, fmt.Errorf("%w: claims: %v", ErrTokenInvalid, err)
	}
	if c.ID == "" || c.Account == "" || c.User == "" || c.ExpiresAt == 0 || c.Kind != p.kind {
		return Claims{}, fmt.Errorf("%w: incomplete claims", ErrTokenInvalid)
	}
	return c, nil
}

// HashSecret returns SHA-256(salt || secret), which with the salt is all the server stores of
// a token secret. A fast hash is right here: a secret carries a random 96-bit IV and 128-bit
// tag under a 256-bit key, nothing a guess could find, unlike a password; the salt makes equal
// hashes across rows impossible and precomputation useless.
func HashSecret(salt []byte, secret string) []byte {
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte(secret))
	return h.Sum(nil)
}
