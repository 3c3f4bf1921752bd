package auth

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// PasswordParams are the argon2id cost parameters. They are written into every hash (PHC
// format), so raising them later only affects new hashes and rehash-on-login.
type PasswordParams struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultPasswordParams meet OWASP's Password Storage Cheat Sheet recommendation for argon2id
// (m=19456 KiB, t=2, p=1), with a 128-bit salt and a 256-bit hash. Lowering them is only for
// tests, where argon2 under the race detector would otherwise dominate the run time.
var DefaultPasswordParams = PasswordParams{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Bounds on parameters read back from a stored hash, so a corrupt or hostile value cannot make
// a login allocate gigabytes or spin for minutes.
const (
	maxMemoryKiB = 1 << 21 // 2 GiB
	maxTime      = 64
	minSaltLen   = 8
	maxSaltLen   = 64
	minKeyLen    = 16
	maxKeyLen    = 64
)

// ErrInvalidHash means a stored password hash is not an argon2id PHC string this code accepts.
var ErrInvalidHash = errors.New("invalid password hash")

// PasswordHasher hashes and verifies passwords with argon2id. It bounds how many hashes run at
// once, because each one holds Params.Memory KiB: a burst of logins must queue, not exhaust RAM.
type PasswordHasher struct {
	params PasswordParams
	rand   io.Reader
	slots  chan struct{}
	dummy  string // hash of a random password, verified for unknown users
}

// NewPasswordHasher returns a hasher with the given parameters, salts drawn from rand, and at
// most concurrency hashes at a time (at least one).
func NewPasswordHasher(params PasswordParams, rand io.Reader, concurrency int) (*PasswordHasher, error) {
	if err := params.validate(); err != nil {
		return nil, err
	}
	h := &PasswordHasher{params: params, rand: rand, slots: make(chan struct{}, max(concurrency, 1))}
	var secret [32]byte
	if _, err := io.ReadFull(rand, secret[:]); err != nil {
		return nil, fmt.Errorf("password hasher: %w", err)
	}
	dummy, err := h.hash(secret[:])
	if err != nil {
		return nil, err
	}
	h.dummy = dummy
	return h, nil
}

// Params returns the parameters new hashes use.
func (h *PasswordHasher) Params() PasswordParams { return h.params }

// Hash returns the PHC string of password with a fresh random salt.
func (h *PasswordHasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return h.hash([]byte(password))
}

func (h *PasswordHasher) hash(password []byte) (string, error) {
	salt := make([]byte, h.params.SaltLen)
	if _, err := io.ReadFull(h.rand, salt); err != nil {
		return "", fmt.Errorf("hash password: draw salt: %w", err)
	}
	sum := argon2.IDKey(password, salt, h.params.Time, h.params.Memory, h.params.Threads, h.params.KeyLen)
	return encodePHC(h.params, salt, sum), nil
}

// Verify reports whether password matches encoded, in constant time, and whether encoded
// should be replaced by a new hash because its parameters are below the current ones.
func (h *PasswordHasher) Verify(ctx context.Context, password, encoded string) (ok, rehash bool, err error) {
	p, salt, want, err := ParsePHC(encoded)
	if err != nil {
		return false, false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	defer h.release()
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	ok = subtle.ConstantTimeCompare(got, want) == 1
	return ok, ok && p.weakerThan(h.params, len(salt), len(want)), nil
}

// VerifyDummy spends the time of a real verification and always fails. Logins for an unknown
// e-mail call it, so the response time does not reveal which e-mails have accounts.
func (h *PasswordHasher) VerifyDummy(ctx context.Context, password string) error {
	_, _, err := h.Verify(ctx, password, h.dummy)
	return err
}

func (h *PasswordHasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait to hash password: %w", ctx.Err())
	}
}

func (h *PasswordHasher) release() { <-h.slots }

func (p PasswordParams) validate() error {
	switch {
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemoryKiB:
		return fmt.Errorf("argon2 memory %d KiB out of range", p.Memory)
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("argon2 time %d out of range 1..%d", p.Time, maxTime)
	case p.Threads < 1:
		return errors.New("argon2 needs at least one thread")
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("argon2 salt length %d out of range %d..%d", p.SaltLen, minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("argon2 key length %d out of range %d..%d", p.KeyLen, minKeyLen, maxKeyLen)
	}
	return nil
}

// weakerThan reports whether a stored hash's parameters fall short of current in any way
// that matters for cracking cost.
func (p PasswordParams) weakerThan(current PasswordParams, saltLen, keyLen int) bool {
	return p.Memory < current.Memory || p.Time < current.Time ||
		saltLen < int(current.SaltLen) || keyLen < int(current.KeyLen)
}

// phcEncoding is the PHC string format's base64: standard alphabet, no padding.
var phcEncoding = base64.RawStdEncoding

func encodePHC(p PasswordParams, salt, sum []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, phcEncoding.EncodeToString(salt), phcEncoding.EncodeToString(sum))
}

// ParsePHC parses "$argon2id$v=19$m=M,t=T,p=P$salt$hash" and returns its parameters (SaltLen and
// KeyLen set from the decoded lengths), salt and hash. Anything else is ErrInvalidHash.
func ParsePHC(s string) (PasswordParams, []byte, []byte, error) {
	fail := func(why string) (PasswordParams, []byte, []byte, error) {
		return PasswordParams{}, nil, nil, fmt.Errorf("%w: %s", ErrInvalidHash, why)
	}
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return fail("not a PHC string")
	}
	if parts[1] != "argon2id" {
		return fail("algorithm is not argon2id")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return fail("unsupported argon2 version")
	}
	var p PasswordParams
	fields := strings.Split(parts[3], ",")
	if len(fields) != 3 {
		return fail("parameters must be m, t and p")
	}
	for i, name := range []string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(fields[i], name+"=")
		if !ok {
			return fail("parameters must be m, t and p in that order")
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return fail("parameter " + name + " is not a number")
		}
		switch name {
		case "m":
			p.Memory = uint32(n)
		case "t":
			p.Time = uint32(n)
		case "p":
			if n > 255 {
				return fail("parallelism out of range")
			}
			p.Threads = uint8(n)
		}
	}
	salt, err := phcEncoding.DecodeString(parts[4])
	if err != nil {
		return fail("salt is not base64")
	}
	sum, err := phcEncoding.DecodeString(parts[5])
	if err != nil {
		return fail("hash is not base64")
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(sum))
	if err := p.validate(); err != nil {
		return fail(err.Error())
	}
	return p, salt, sum, nil
}

// generatedAlphabet avoids look-alikes (0/o, 1/l) so a generated password can be read aloud.
const generatedAlphabet = "abcdefghijkmnpqrstuvwxyz23456789"

// GeneratePassword returns a random password of five groups of five characters separated by
// hyphens (125 bits), for operators who do not bring their own.
func GeneratePassword(rand io.Reader) (string, error) {
	var b strings.Builder
	buf := make([]byte, 25)
	if _, err := io.ReadFull(rand, buf); err != nil {
		return "", fmt.Errorf("generate password: %w", err)
	}
	for i, c := range buf {
		if i > 0 && i%5 == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(generatedAlphabet[int(c)%len(generatedAlphabet)]) // 256 is a multiple of 32: no bias
	}
	return b.String(), nil
}
