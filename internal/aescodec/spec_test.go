package aescodec

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSpecWorkedExample keeps docs/file-format.md honest: its worked example
// must show the bytes and derived values of the committed example vector.
func TestSpecWorkedExample(t *testing.T) {
	spec, err := os.ReadFile(filepath.Join("..", "..", "docs", "file-format.md"))
	if err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(filepath.Join(vectorDir, "example.sxd"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := ReadHeader(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	payloadKey, macKey, err := fileKeys(testKey, h.Salt)
	if err != nil {
		t.Fatal(err)
	}
	check := keyCheck(testKey, h.KeyID)
	want := map[string]string{
		"hex dump":       strings.TrimSuffix(hex.Dump(file), "\n"),
		"device key":     hex.EncodeToString(testKey),
		"salt":           hex.EncodeToString(h.Salt[:]),
		"key check":      hex.EncodeToString(check[:]),
		"payload key":    hex.EncodeToString(payloadKey),
		"header MAC key": hex.EncodeToString(macKey),
		"header MAC":     hex.EncodeToString(file[h.Size-MACSize : h.Size]),
	}
	for what, text := range want {
		if !bytes.Contains(spec, []byte(text)) {
			t.Errorf("docs/file-format.md does not show the example's %s:\n%s", what, text)
		}
	}
	// The labels in the document are the ones the code uses.
	for _, label := range []string{keyCheckLabel, payloadKeyInfo, headerKeyInfo, "53 58 44 41 54 41 0d 0a"} {
		if !bytes.Contains(spec, []byte(label)) {
			t.Errorf("docs/file-format.md does not mention %q", label)
		}
	}
}
