package aescodec

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// KeyLookup finds the device key of a file from its header's serial and key
// id. Implementations return an error wrapping ErrKeyNotFound when they have
// none; a later provisioning bundle or the platform API can implement it.
type KeyLookup interface {
	DeviceKey(serial string, keyID uint32) ([]byte, error)
}

// StaticKey is a KeyLookup that returns the same key for every file (a
// support engineer decoding files of one device).
type StaticKey []byte

// DeviceKey implements KeyLookup.
func (k StaticKey) DeviceKey(string, uint32) ([]byte, error) {
	if len(k) != KeySize {
		return nil, fmt.Errorf("device key has %d bytes, want %d", len(k), KeySize)
	}
	return k, nil
}

// ParseKey decodes a device key written as 64 hexadecimal digits.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	key, err := hex.DecodeString(s)
	if err != nil || len(key) != KeySize {
		return nil, fmt.Errorf("device key must be %d hexadecimal digits (%d bytes), got %d characters", 2*KeySize, KeySize, len(s))
	}
	return key, nil
}
