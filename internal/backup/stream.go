package backup

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// The encrypted backup file (docs/operator.md, "Backups"):
//
//	header  "SMARTXBK" | version (1 byte, 1) | key id (8 bytes) | salt (32 bytes) | chunk size (4 bytes, big endian)
//	body    AES-256-GCM chunks of chunk size plaintext bytes (the last one shorter, possibly
//	        empty), each followed by its 16-byte tag
//
// The file key is HKDF-SHA-256(backup key, salt, "smartx backup v1"), so no two files share
// one. Chunk i is sealed with the nonce i (11 bytes, big endian) || last-chunk flag (1 byte)
// and the whole header as additional data, as in age's STREAM: a truncated, reordered,
// extended or altered file fails to open, and so does one whose header was changed. The key
// id names the backup key without revealing it, so a wrong key is reported as such.
const (
	magic         = "SMARTXBK"
	formatVersion = 1
	keyIDSize     = 8
	saltSize      = 32
	headerSize    = len(magic) + 1 + keyIDSize + saltSize + 4
	chunkSize     = 64 << 10
	tagSize       = 16
	nonceSize     = 12
	maxChunkSize  = 16 << 20
	fileKeyInfo   = "smartx backup v1"
	backupKeyInfo = "smartx backup key v1"
	keyIDDomain   = "smartx backup key id v1"
)

// KeySize is the size of a backup key.
const KeySize = 32

// Errors of reading a backup; they wrap into the messages a user sees.
var (
	// ErrNotBackup: the file does not start like a smartx backup.
	ErrNotBackup = errors.New("not a smartx backup")
	// ErrWrongKey: the backup was made with another key.
	ErrWrongKey = errors.New("wrong backup key")
	// ErrCorrupt: the file was truncated, extended or altered after it was written.
	ErrCorrupt = errors.New("backup is corrupt or was altered")
)

// DeriveKey derives the backup key from the server's master key, so that backups need no key
// of their own: whoever holds the master key can restore them, and nobody else.
func DeriveKey(masterKey []byte) ([]byte, error) {
	if len(masterKey) != 32 {
		return nil, fmt.Errorf("derive backup key: the master key must be 32 bytes, got %d", len(masterKey))
	}
	return hkdf.Key(sha256.New, masterKey, nil, backupKeyInfo, KeySize)
}

// KeyID returns the public identifier of a backup key (16 hex characters).
func KeyID(key []byte) string {
	h := sha256.New()
	h.Write([]byte(keyIDDomain))
	h.Write(key)
	return hex.EncodeToString(h.Sum(nil)[:keyIDSize])
}

func checkKey(key []byte) error {
	if len(key) != KeySize {
		return fmt.Errorf("a backup key must be %d bytes, got %d", KeySize, len(key))
	}
	return nil
}

// newAEAD returns the file's cipher for this header.
func newAEAD(key, salt []byte) (cipher.AEAD, error) {
	fileKey, err := hkdf.Key(sha256.New, key, salt, fileKeyInfo, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(fileKey)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func nonce(dst *[nonceSize]byte, counter uint64, last bool) {
	*dst = [nonceSize]byte{}
	binary.BigEndian.PutUint64(dst[3:11], counter)
	if last {
		dst[11] = 1
	}
}

// encryptWriter encrypts what is written to it into w; Close writes the last chunk.
type encryptWriter struct {
	w       io.Writer
	aead    cipher.AEAD
	header  []byte
	buf     []byte // plaintext of the current chunk, then its ciphertext
	counter uint64
	nonce   [nonceSize]byte
	err     error
}

// newEncryptWriter writes the header to w and returns the writer of the body.
func newEncryptWriter(w io.Writer, key []byte) (*encryptWriter, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	header := make([]byte, 0, headerSize)
	header = append(header, magic...)
	header = append(header, formatVersion)
	id, _ := hex.DecodeString(KeyID(key))
	header = append(header, id...)
	salt := make([]byte, saltSize)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	header = append(header, salt...)
	header = binary.BigEndian.AppendUint32(header, chunkSize)
	aead, err := newAEAD(key, salt)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(header); err != nil {
		return nil, err
	}
	return &encryptWriter{w: w, aead: aead, header: header, buf: make([]byte, 0, chunkSize+tagSize)}, nil
}

// Write implements io.Writer.
func (e *encryptWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n := 0
	for len(p) > 0 {
		if len(e.buf) == chunkSize {
			// A full chunk is sealed only once more data shows it is not the last.
			if e.err = e.seal(false); e.err != nil {
				return n, e.err
			}
		}
		k := min(len(p), chunkSize-len(e.buf))
		e.buf = append(e.buf, p[:k]...)
		p, n = p[k:], n+k
	}
	return n, nil
}

func (e *encryptWriter) seal(last bool) error {
	nonce(&e.nonce, e.counter, last)
	e.counter++
	out := e.aead.Seal(e.buf[:0], e.nonce[:], e.buf, e.header)
	_, err := e.w.Write(out)
	e.buf = e.buf[:0]
	return err
}

// Close seals the last chunk; it does not close the underlying writer.
func (e *encryptWriter) Close() error {
	if e.err != nil {
		return e.err
	}
	e.err = e.seal(true)
	if e.err == nil {
		e.err = errors.New("backup writer closed")
		return nil
	}
	return e.err
}

// header is a parsed backup header.
type header struct {
	raw       []byte
	keyID     string
	salt      []byte
	chunkSize int
}

func readHeader(r io.Reader) (header, error) {
	raw := make([]byte, headerSize)
	if _, err := io.ReadFull(r, raw); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return header{}, fmt.Errorf("%w: shorter than a backup header", ErrNotBackup)
		}
		return header{}, err
	}
	if string(raw[:len(magic)]) != magic {
		return header{}, ErrNotBackup
	}
	if v := raw[len(magic)]; v != formatVersion {
		return header{}, fmt.Errorf("backup format version %d is not supported by this smartx (it reads version %d): upgrade smartx", v, formatVersion)
	}
	off := len(magic) + 1
	h := header{raw: raw, keyID: hex.EncodeToString(raw[off : off+keyIDSize]), salt: raw[off+keyIDSize : off+keyIDSize+saltSize]}
	h.chunkSize = int(binary.BigEndian.Uint32(raw[off+keyIDSize+saltSize:]))
	if h.chunkSize == 0 || h.chunkSize > maxChunkSize {
		return header{}, fmt.Errorf("%w: chunk size %d in the header", ErrCorrupt, h.chunkSize)
	}
	return h, nil
}

// decryptReader reads the plaintext of a backup, authenticating each chunk before returning
// any of it; the end of the plaintext (io.EOF) is only reported after the last chunk opened.
type decryptReader struct {
	r       *bufio.Reader
	aead    cipher.AEAD
	h       header
	buf     []byte
	out     []byte // opened, not yet read
	counter uint64
	nonce   [nonceSize]byte
	done    bool
	err     error
}

// newDecryptReader reads the header from r and checks the key.
func newDecryptReader(r io.Reader, key []byte) (*decryptReader, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	h, err := readHeader(r)
	if err != nil {
		return nil, err
	}
	if id := KeyID(key); id != h.keyID {
		return nil, fmt.Errorf("%w: the backup was made with key id %s, the key given has id %s", ErrWrongKey, h.keyID, id)
	}
	aead, err := newAEAD(key, h.salt)
	if err != nil {
		return nil, err
	}
	return &decryptReader{r: bufio.NewReaderSize(r, h.chunkSize+tagSize+1), aead: aead, h: h, buf: make([]byte, h.chunkSize+tagSize)}, nil
}

// Read implements io.Reader.
func (d *decryptReader) Read(p []byte) (int, error) {
	for len(d.out) == 0 {
		if d.err != nil {
			return 0, d.err
		}
		if d.done {
			return 0, io.EOF
		}
		d.err = d.next()
	}
	n := copy(p, d.out)
	d.out = d.out[n:]
	return n, nil
}

// next opens the next chunk.
func (d *decryptReader) next() error {
	n, err := io.ReadFull(d.r, d.buf)
	last := false
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		last = true // a short chunk is the last one
	case err != nil:
		return err
	default:
		// A full chunk is the last one when nothing follows it.
		if _, perr := d.r.Peek(1); errors.Is(perr, io.EOF) {
			last = true
		} else if perr != nil {
			return perr
		}
	}
	if n < tagSize {
		return fmt.Errorf("%w: the file ends inside chunk %d (truncated)", ErrCorrupt, d.counter)
	}
	nonce(&d.nonce, d.counter, last)
	out, oerr := d.aead.Open(d.buf[:0], d.nonce[:], d.buf[:n], d.h.raw)
	if oerr != nil {
		if !last {
			return fmt.Errorf("%w: chunk %d does not authenticate", ErrCorrupt, d.counter)
		}
		// It may be a chunk that was not the last before the file was cut after it.
		nonce(&d.nonce, d.counter, false)
		if _, err := d.aead.Open(nil, d.nonce[:], d.buf[:n], d.h.raw); err == nil {
			return fmt.Errorf("%w: the file ends after chunk %d, which is not the last (truncated)", ErrCorrupt, d.counter)
		}
		return fmt.Errorf("%w: chunk %d does not authenticate", ErrCorrupt, d.counter)
	}
	d.counter++
	d.out, d.done = out, last
	return nil
}
