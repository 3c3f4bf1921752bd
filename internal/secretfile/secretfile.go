// Package secretfile is the one way smartx writes and reads the small files that hold secrets
// (provisioning bundles, the token fallback in the configuration file, the dev server's env
// file, device and master keys, passwords): access for the current user only on every OS, and
// tolerant reading of what editors add around a secret (a byte-order mark, CRLF, spaces).
//
// What "for the current user only" means differs by OS: mode 0600 on Unix, an access list on
// Windows, where file modes do nothing. Protection says which, so messages never claim on one
// OS what only the other does.
package secretfile

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"unicode/utf16"
)

// Restrict limits f, a file this process just created and has not written secrets to yet, to
// the current user: mode 0600 on Unix; on Windows an access list that grants the current user
// alone, with inheritance from the folder turned off.
func Restrict(f *os.File) error { return restrict(f) }

// Protection says, for messages, what Restrict does on this OS: "mode 0600 (only you can read
// it)" on Unix, "an access list that lets only your Windows user read it" on Windows.
func Protection() string { return protection }

// ErrNoAccessControl is matched by CheckFolder's error when the folder's file system cannot
// restrict who reads a file (FAT or exFAT on Windows: USB sticks, SD cards).
var ErrNoAccessControl = errors.New("this file system cannot restrict who reads a file")

// CheckFolder tells, before anything is done that cannot be undone, whether secret files can
// be restricted in dir; its error wraps ErrNoAccessControl when they cannot.
func CheckFolder(dir string) error { return checkFolder(dir) }

// Exposed reports whether the file at path can be read by other users than its owner (and, on
// Windows, the system and administrators, who can read everything anyway).
func Exposed(path string) (bool, error) { return exposed(path) }

// FixHint is the command that restricts path to its owner on this OS, for warnings.
func FixHint(path string) string { return fixHint(path) }

// The byte-order marks editors write at the start of text files (Notepad's "UTF-8 with BOM",
// "Unicode" and "Unicode big endian").
var (
	bomUTF8    = []byte{0xEF, 0xBB, 0xBF}
	bomUTF16LE = []byte{0xFF, 0xFE}
	bomUTF16BE = []byte{0xFE, 0xFF}
)

// Text returns the secret a text file or standard input holds: a UTF-16 file (with its
// byte-order mark) is decoded, a UTF-8 byte-order mark is dropped, and surrounding whitespace
// (spaces, tabs, CR and LF) is trimmed. Secrets never start or end with whitespace on purpose;
// editors and shells add it.
func Text(data []byte) string {
	switch {
	case bytes.HasPrefix(data, bomUTF16LE):
		data = decodeUTF16(data[2:], func(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 })
	case bytes.HasPrefix(data, bomUTF16BE):
		data = decodeUTF16(data[2:], func(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) })
	}
	data = bytes.TrimPrefix(data, bomUTF8)
	return strings.TrimSpace(string(data))
}

// decodeUTF16 turns UTF-16 code units into UTF-8; an odd trailing byte is dropped.
func decodeUTF16(b []byte, unit func([]byte) uint16) []byte {
	units := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		units = append(units, unit(b[i:i+2]))
	}
	return []byte(string(utf16.Decode(units)))
}

// ReadText reads the file at path and returns its secret as Text does.
func ReadText(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return Text(data), nil
}
