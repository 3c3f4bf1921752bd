package secretfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestText(t *testing.T) {
	const key = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	utf16le := []byte{0xFF, 0xFE}
	utf16be := []byte{0xFE, 0xFF}
	for _, c := range key + "\r\n" {
		utf16le = append(utf16le, byte(c), 0)
		utf16be = append(utf16be, 0, byte(c))
	}
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"plain", []byte(key), key},
		{"unix newline", []byte(key + "\n"), key},
		{"windows newline (CRLF)", []byte(key + "\r\n"), key},
		{"notepad utf-8 with BOM", []byte("\xEF\xBB\xBF" + key + "\r\n"), key},
		{"notepad unicode (utf-16 le)", utf16le, key},
		{"utf-16 big endian", utf16be, key},
		{"spaces and tabs around", []byte(" \t" + key + " \t\n\n"), key},
		{"inner spaces kept", []byte("correct horse battery staple\n"), "correct horse battery staple"},
		{"BOM only", []byte("\xEF\xBB\xBF"), ""},
		{"empty", nil, ""},
		{"odd utf-16 byte dropped", []byte{0xFF, 0xFE, 'a', 0, 'b'}, "a"},
		{"non-ascii password", []byte("\xEF\xBB\xBFmot de passe été\r\n"), "mot de passe été"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Text(tt.in); got != tt.want {
				t.Errorf("Text(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestReadText(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token.txt")
	if err := os.WriteFile(path, []byte("\xEF\xBB\xBFsxt_abc\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := ReadText(path)
	if err != nil || got != "sxt_abc" {
		t.Fatalf("ReadText = %q, %v", got, err)
	}
	if _, err := ReadText(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("ReadText of a missing file succeeded")
	}
}

// TestRestrict checks, on the OS the test runs on, that a restricted file is not exposed and
// that an ordinary new file is judged by the same rule.
func TestRestrict(t *testing.T) {
	dir := t.TempDir()
	if err := CheckFolder(dir); err != nil {
		t.Fatalf("CheckFolder(%s) = %v", dir, err)
	}
	f, err := os.CreateTemp(dir, "secret-*")
	if err != nil {
		t.Fatal(err)
	}
	if err := Restrict(f); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("sxt_secret"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	open, err := Exposed(f.Name())
	if err != nil || open {
		t.Fatalf("Exposed(restricted file) = %v, %v", open, err)
	}
	if data, err := os.ReadFile(f.Name()); err != nil || string(data) != "sxt_secret" {
		t.Fatalf("the owner cannot read the restricted file back: %q, %v", data, err)
	}
	if Protection() == "" || FixHint("x") == "" {
		t.Fatal("Protection or FixHint is empty")
	}
}
