package backup

import (
	"encoding/hex"
	"fmt"
	"os"
	"strings"
)

// ReadKeyFile reads a backup key file: 64 hexadecimal characters (32 bytes), as
// `openssl rand -hex 32` writes them. A file other users can read is refused (Unix), since
// whoever reads it can open every backup made with it.
func ReadKeyFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("backup key file: %w", err)
	}
	if err := checkKeyFileMode(path, fi); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("backup key file: %w", err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != KeySize {
		return nil, fmt.Errorf("backup key file %s: want %d hexadecimal characters (make one with: openssl rand -hex %d > %s)", path, 2*KeySize, KeySize, path)
	}
	return key, nil
}
