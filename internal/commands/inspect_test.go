package commands

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/smart-impulse/smartx/internal/aescodec"
	"github.com/smart-impulse/smartx/internal/datafiles"
	"github.com/smart-impulse/smartx/internal/ui"
)

var vectors = filepath.Join("..", "aescodec", "testdata", "vectors")

const vectorKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

func TestRenderInspectionGolden(t *testing.T) {
	key, err := aescodec.ParseKey(vectorKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		golden string
		file   string
		keys   aescodec.KeyLookup
	}{
		{"inspect-header.golden", "many-chunks.sxd", nil},
		{"inspect-verified.golden", "many-chunks.sxd", aescodec.StaticKey(key)},
		{"inspect-truncated.golden", "truncated-mid-chunk.sxd", aescodec.StaticKey(key)},
		{"inspect-not-a-data-file.golden", "bad-magic.sxd", aescodec.StaticKey(key)},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			files, err := datafiles.Find([]string{filepath.Join(vectors, tt.file)})
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			in := datafiles.Inspect(files[0], tt.keys)
			in.Path = tt.file // stable across checkouts
			if err := renderInspection(&buf, ui.NewStyles(&buf, false), in, tt.keys != nil); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.golden, buf.Bytes())
		})
	}
}
