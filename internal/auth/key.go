package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/smart-impulse/smartx/internal/secretfile"
)

// KeySize is the size of every symmetric key: AES-256.
const KeySize = 32

// ErrDecrypt means sealed data did not open: the wrong key, the wrong associated data (a value
// moved to another account), or tampering. The cases are deliberately indistinguishable.
var ErrDecrypt = errors.New("decrypt: wrong key or tampered data")

// Key is a 256-bit symmetric key. It prints as "[redacted]" through fmt and slog, so it cannot
// reach a log by accident.
type Key [KeySize]byte

// NewKey draws a key from r (crypto/rand.Reader in production).
func NewKey(r io.Reader) (Key, error) {
	var k Key
	if _, err := io.ReadFull(r, k[:]); err != nil {
		return Key{}, fmt.Errorf("generate key: %w", err)
	}
	return k, nil
}

// ParseKeyHex parses a key written as 64 hexadecimal characters; what editors add around it (a
// byte-order mark, CRLF, spaces) is ignored (secretfile.Text).
func ParseKeyHex(s string) (Key, error) {
	s = secretfile.Text([]byte(s))
	if len(s) != 2*KeySize {
		return Key{}, fmt.Errorf("key must be %d hexadecimal characters, got %d", 2*KeySize, len(s))
	}
	var k Key
	if _, err := hex.Decode(k[:], []byte(s)); err != nil {
		return Key{}, fmt.Errorf("key is not hexadecimal: %w", err)
	}
	return k, nil
}

// Hex returns the key as 64 hexadecimal characters, for writing a key file.
func (k Key) Hex() string { return hex.EncodeToString(k[:]) }

// String redacts the key.
func (k Key) String() string { return "[redacted]" }

// GoString redacts the key from %#v.
func (k Key) GoString() string { return "[redacted]" }

// LogValue redacts the key from slog.
func (k Key) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// sealVersion is the first byte of sealed data, so the format can change later.
const sealVersion = 1

// Seal encrypts plaintext with AES-256-GCM under key, binding associatedData (which is not
// stored: the caller must present it again to open). The result is version, nonce, ciphertext.
func Seal(key Key, plaintext, associatedData []byte, rand io.Reader) ([]byte, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	return sealWith(aead, plaintext, associatedData, rand)
}

// Open decrypts what Seal produced with the same key and associated data, or returns ErrDecrypt.
func Open(key Key, sealed, associatedData []byte) ([]byte, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	return openWith(aead, sealed, associatedData)
}

// sealWith is Seal with a ready AEAD (the keyring keeps one per account: the hot paths seal
// and open without setting up AES each time).
func sealWith(aead cipher.AEAD, plaintext, associatedData []byte, rand io.Reader) ([]byte, error) {
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(plaintext)+aead.Overhead())
	out[0] = sealVersion
	if _, err := io.ReadFull(rand, out[1:]); err != nil {
		return nil, fmt.Errorf("seal: draw nonce: %w", err)
	}
	return aead.Seal(out, out[1:], plaintext, associatedData), nil
}

// openWith is Open with a ready AEAD.
func openWith(aead cipher.AEAD, sealed, associatedData []byte) ([]byte, error) {
	if len(sealed) < 1+aead.NonceSize()+aead.Overhead() || sealed[0] != sealVersion {
		return nil, ErrDecrypt
	}
	nonce, ct := sealed[1:1+aead.NonceSize()], sealed[1+aead.NonceSize():]
	plain, err := aead.Open(nil, nonce, ct, associatedData)
	if err != nil {
		return nil, ErrDecrypt
	}
	return plain, nil
}

func newGCM(key Key) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	return cipher.NewGCM(block)
}

// ReadKeyFile reads a key file (64 hexadecimal characters, as Notepad or any editor saves them).
// It reports whether the file is readable by others than its owner (its mode on Unix, its
// access list on Windows), which the caller refuses.
func ReadKeyFile(path string) (key Key, tooOpen bool, err error) {
	if _, err := os.Stat(path); err != nil {
		return Key{}, false, fmt.Errorf("read master key: %w", err)
	}
	if tooOpen, err = secretfile.Exposed(path); err != nil {
		return Key{}, false, fmt.Errorf("read master key: %w", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Key{}, false, fmt.Errorf("read master key: %w", err)
	}
	k, err := ParseKeyHex(string(b))
	if err != nil {
		return Key{}, false, fmt.Errorf("read master key %s: %w", path, err)
	}
	return k, tooOpen, nil
}

// WriteKeyFile writes key to a new file readable by its owner only; it never overwrites.
func WriteKeyFile(path string, key Key) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	if err := secretfile.Restrict(f); err != nil { // the mode is already right on Unix; the access list on Windows
		f.Close()
		return fmt.Errorf("write key file: %w", err)
	}
	if _, err := f.WriteString(key.Hex() + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("write key file %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write key file %s: %w", path, err)
	}
	return f.Close()
}
