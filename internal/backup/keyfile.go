package backup

import (
	"encoding/hex"
	"fmt"

	"github.com/smart-impulse/smartx/internal/secretfile"
)

// ReadKeyFile reads a backup key file: 64 hexadecimal characters (32 bytes), as
// `openssl rand -hex 32` or an editor writes them. A file other users can read (its mode on
// Unix, its access list on Windows) is refused, since whoever reads it can open every backup
// made with it.
func ReadKeyFile(path string) ([]byte, error) {
	open, err := secretfile.Exposed(path)
	if err != nil {
		return nil, fmt.Errorf("backup key file: %w", err)
	}
	if open {
		return nil, fmt.Errorf("backup key file %s is readable by other users: run `%s`", path, secretfile.FixHint(path))
	}
	text, err := secretfile.ReadText(path)
	if err != nil {
		return nil, fmt.Errorf("backup key file: %w", err)
	}
	key, err := hex.DecodeString(text)
	if err != nil || len(key) != KeySize {
		return nil, fmt.Errorf("backup key file %s: want %d hexadecimal characters (make one with: openssl rand -hex %d > %s)", path, 2*KeySize, KeySize, path)
	}
	return key, nil
}
