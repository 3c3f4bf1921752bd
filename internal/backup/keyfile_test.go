package backup

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestReadKeyFile(t *testing.T) {
	dir := t.TempDir()
	good := strings.Repeat("ab", KeySize)
	tests := []struct {
		name, content string
		mode          os.FileMode
		err           string
	}{
		{"hex with a newline", good + "\n", 0o600, ""},
		{"too short", "abcd", 0o600, "want 64 hexadecimal characters"},
		{"not hex", strings.Repeat("zz", KeySize), 0o600, "want 64 hexadecimal characters"},
		{"readable by others", good, 0o644, "chmod 600"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.mode != 0o600 && runtime.GOOS == "windows" {
				t.Skip("file modes do not apply on Windows")
			}
			p := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-"))
			if err := os.WriteFile(p, []byte(tt.content), tt.mode); err != nil {
				t.Fatal(err)
			}
			os.Chmod(p, tt.mode) // whatever the umask
			key, err := ReadKeyFile(p)
			if tt.err == "" {
				if err != nil || len(key) != KeySize {
					t.Fatalf("ReadKeyFile: %d bytes, %v", len(key), err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("ReadKeyFile: %v, want an error with %q", err, tt.err)
			}
		})
	}
	if _, err := ReadKeyFile(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("a missing key file was accepted")
	}
}
