package backup

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"testing"
)

var testKey = bytes.Repeat([]byte{7}, KeySize)

func encrypt(t testing.TB, key, plain []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := newEncryptWriter(&buf, key)
	if err != nil {
		t.Fatal(err)
	}
	// Odd-sized writes, so chunks are filled across calls.
	for len(plain) > 0 {
		n := min(len(plain), 10007)
		if _, err := w.Write(plain[:n]); err != nil {
			t.Fatal(err)
		}
		plain = plain[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func decrypt(key, file []byte) ([]byte, error) {
	r, err := newDecryptReader(bytes.NewReader(file), key)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func TestStreamRoundTrip(t *testing.T) {
	for _, size := range []int{0, 1, chunkSize - 1, chunkSize, chunkSize + 1, 3 * chunkSize, 3*chunkSize + 12345} {
		plain := make([]byte, size)
		rand.Read(plain)
		file := encrypt(t, testKey, plain)
		if want := headerSize + size + (max(size-1, 0)/chunkSize+1)*tagSize; len(file) != want {
			t.Errorf("%d bytes: file of %d bytes, want %d", size, len(file), want)
		}
		got, err := decrypt(testKey, file)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("%d bytes: round trip gave %d bytes, %v", size, len(got), err)
		}
	}
}

func TestStreamRefusesDamage(t *testing.T) {
	plain := make([]byte, 2*chunkSize+100)
	rand.Read(plain)
	file := encrypt(t, testKey, plain)
	fullChunk := chunkSize + tagSize
	otherKey := bytes.Repeat([]byte{8}, KeySize)
	tests := []struct {
		name string
		file []byte
		key  []byte
		want error
	}{
		{"a flipped bit in a chunk", flip(file, headerSize+fullChunk+5), testKey, ErrCorrupt},
		{"a flipped bit in the header's salt", flip(file, len(magic)+1+keyIDSize+3), testKey, ErrCorrupt},
		{"cut after a whole chunk", file[:headerSize+fullChunk], testKey, ErrCorrupt},
		{"cut inside a chunk", file[:headerSize+fullChunk+100], testKey, ErrCorrupt},
		{"cut inside the tag of the first chunk", file[:headerSize+10], testKey, ErrCorrupt},
		{"data after the last chunk", append(append([]byte{}, file...), 0), testKey, ErrCorrupt},
		{"chunks swapped", swap(file, headerSize, fullChunk), testKey, ErrCorrupt},
		{"another key", file, otherKey, ErrWrongKey},
		{"not a backup", []byte("SQLite format 3\x00 and more bytes than a header, yes, many more bytes"), testKey, ErrNotBackup},
		{"empty", nil, testKey, ErrNotBackup},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decrypt(tt.key, tt.file)
			if !errors.Is(err, tt.want) {
				t.Fatalf("decrypt: %d bytes, error %v; want %v", len(got), err, tt.want)
			}
		})
	}
}

func flip(b []byte, at int) []byte {
	c := append([]byte{}, b...)
	c[at] ^= 1
	return c
}

// swap exchanges the first two chunks after off, each of size n.
func swap(b []byte, off, n int) []byte {
	c := append([]byte{}, b...)
	copy(c[off:off+n], b[off+n:off+2*n])
	copy(c[off+n:off+2*n], b[off:off+n])
	return c
}

func TestKeys(t *testing.T) {
	master := bytes.Repeat([]byte{1}, 32)
	k1, err := DeriveKey(master)
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := DeriveKey(master)
	if !bytes.Equal(k1, k2) || bytes.Equal(k1, master) || len(k1) != KeySize {
		t.Fatal("the backup key is not a stable derivation distinct from the master key")
	}
	if _, err := DeriveKey([]byte("short")); err == nil {
		t.Fatal("a short master key was accepted")
	}
	if KeyID(k1) == KeyID(master) || len(KeyID(k1)) != 16 {
		t.Fatalf("key ids %s, %s", KeyID(k1), KeyID(master))
	}
	if _, err := newEncryptWriter(io.Discard, []byte("short")); err == nil {
		t.Fatal("a short backup key was accepted")
	}
}

// FuzzDecrypt feeds arbitrary files to the reader: it must fail cleanly, never panic nor
// allocate without bound, and never return plaintext that was not authenticated.
func FuzzDecrypt(f *testing.F) {
	f.Add(encrypt(f, testKey, []byte("hello")))
	f.Add(encrypt(f, testKey, nil))
	f.Add(encrypt(f, testKey, bytes.Repeat([]byte("x"), chunkSize+1)))
	f.Fuzz(func(t *testing.T, file []byte) {
		r, err := newDecryptReader(bytes.NewReader(file), testKey)
		if err != nil {
			return
		}
		io.Copy(io.Discard, r)
	})
}
