package aescodec

import (
	"errors"
	"fmt"
)

// Sentinel errors: every error the Reader returns for a damaged or foreign
// file matches exactly one of them with errors.Is; the typed errors below
// carry the details (errors.As).
var (
	// ErrNotDataFile: the file does not start with Magic.
	ErrNotDataFile = errors.New("not a smartx data file")
	// ErrUnsupportedVersion: the format version is not Version.
	ErrUnsupportedVersion = errors.New("unsupported data file version")
	// ErrHeaderMalformed: the header cannot be parsed or a field is out of
	// range.
	ErrHeaderMalformed = errors.New("malformed data file header")
	// ErrWrongKey: the key check of the header does not match the device
	// key (decided before any chunk is tried).
	ErrWrongKey = errors.New("wrong key")
	// ErrKeyNotFound is what KeyLookup implementations return when they
	// have no key for a device and key id.
	ErrKeyNotFound = errors.New("no key for this device and key id")
	// ErrHeaderTampered: the key is right but the header MAC does not match.
	ErrHeaderTampered = errors.New("data file header failed authentication")
	// ErrChunkCorrupt: a chunk failed authentication or has an invalid
	// frame (this includes reordered, dropped and duplicated chunks).
	ErrChunkCorrupt = errors.New("corrupt chunk")
	// ErrTruncated: the file ends before its final chunk.
	ErrTruncated = errors.New("data file truncated")
	// ErrTrailingData: bytes follow the final chunk.
	ErrTrailingData = errors.New("trailing data after the final chunk")
	// ErrPayloadMalformed: the authenticated payload holds an undecodable
	// record, which only a faulty writer can produce.
	ErrPayloadMalformed = errors.New("malformed payload")
)

const getFreshCopy = "get a fresh copy of the file from the device"

// NotDataFileError reports a file that does not start with Magic.
type NotDataFileError struct {
	// Prefix holds the first bytes of the file (at most len(Magic)).
	Prefix []byte
}

// Error implements error.
func (e *NotDataFileError) Error() string {
	return fmt.Sprintf("not a smartx data file (it starts with %q, data files start with %q): check that the right file was given", e.Prefix, Magic)
}

// Is makes errors.Is(err, ErrNotDataFile) true.
func (e *NotDataFileError) Is(target error) bool { return target == ErrNotDataFile }

// UnsupportedVersionError reports a format version this package cannot read.
type UnsupportedVersionError struct {
	Version int
}

// Error implements error.
func (e *UnsupportedVersionError) Error() string {
	return fmt.Sprintf("data file format version %d is not supported (this smartx reads version %d): upgrade smartx", e.Version, Version)
}

// Is makes errors.Is(err, ErrUnsupportedVersion) true.
func (e *UnsupportedVersionError) Is(target error) bool { return target == ErrUnsupportedVersion }

// HeaderError reports a header that cannot be parsed.
type HeaderError struct {
	// Offset is the file offset of the faulty field.
	Offset int
	Reason string
}

// Error implements error.
func (e *HeaderError) Error() string {
	return fmt.Sprintf("malformed data file header at byte %d: %s: the file is damaged, %s", e.Offset, e.Reason, getFreshCopy)
}

// Is makes errors.Is(err, ErrHeaderMalformed) true.
func (e *HeaderError) Is(target error) bool { return target == ErrHeaderMalformed }

// KeyError reports that no usable key was found for the file: Err is
// ErrWrongKey when the key check failed, or the KeyLookup's error.
type KeyError struct {
	Serial string
	KeyID  uint32
	Err    error
}

// Error implements error.
func (e *KeyError) Error() string {
	if errors.Is(e.Err, ErrWrongKey) {
		return fmt.Sprintf("wrong key for %s: the file uses key id %d; decode it with key id %d of that device", e.Serial, e.KeyID, e.KeyID)
	}
	return fmt.Sprintf("no key for %s key id %d: %v", e.Serial, e.KeyID, e.Err)
}

// Unwrap returns the cause.
func (e *KeyError) Unwrap() error { return e.Err }

// ChunkError reports a chunk that failed authentication or is badly framed.
type ChunkError struct {
	// Index is the chunk number from 0.
	Index int64
	// Offset is the file offset of the chunk's frame.
	Offset int64
	Reason string
}

// Error implements error.
func (e *ChunkError) Error() string {
	return fmt.Sprintf("chunk %d (byte %d) is corrupt: %s; the file was damaged or modified, %s", e.Index, e.Offset, e.Reason, getFreshCopy)
}

// Is makes errors.Is(err, ErrChunkCorrupt) true.
func (e *ChunkError) Is(target error) bool { return target == ErrChunkCorrupt }

// TruncatedError reports a file that ends before its final chunk.
type TruncatedError struct {
	// Chunk is the index of the first missing or incomplete chunk, or -1
	// when the header itself is incomplete.
	Chunk int64
	// Offset is the file size: where the data stops.
	Offset int64
	// Inside is true when the file stops inside the header or a chunk,
	// false when it stops exactly at a chunk boundary.
	Inside bool
}

// Error implements error.
func (e *TruncatedError) Error() string {
	const advice = "the copy is incomplete; copy the file again from the device"
	switch {
	case e.Chunk < 0 && e.Offset == 0:
		return "file is empty: " + advice
	case e.Chunk < 0:
		return fmt.Sprintf("file truncated inside the header (byte %d): %s", e.Offset, advice)
	case e.Inside:
		return fmt.Sprintf("file truncated inside chunk %d (byte %d): %s", e.Chunk, e.Offset, advice)
	case e.Chunk == 0:
		return fmt.Sprintf("file truncated after the header (byte %d): %s", e.Offset, advice)
	default:
		return fmt.Sprintf("file truncated after chunk %d (byte %d): %s", e.Chunk-1, e.Offset, advice)
	}
}

// Is makes errors.Is(err, ErrTruncated) true.
func (e *TruncatedError) Is(target error) bool { return target == ErrTruncated }

// TrailingDataError reports bytes after the final chunk.
type TrailingDataError struct {
	// Offset is the file offset of the first extra byte.
	Offset int64
}

// Error implements error.
func (e *TrailingDataError) Error() string {
	return fmt.Sprintf("unexpected data after the final chunk (byte %d): the file was appended to or joined with another; %s", e.Offset, getFreshCopy)
}

// Is makes errors.Is(err, ErrTrailingData) true.
func (e *TrailingDataError) Is(target error) bool { return target == ErrTrailingData }

// PayloadError reports an undecodable record in an authenticated payload;
// Err is the *readings.RecordError.
type PayloadError struct {
	Err error
}

// Error implements error.
func (e *PayloadError) Error() string {
	return fmt.Sprintf("malformed payload: %v: the device that wrote this file has a faulty writer; report it with the file", e.Err)
}

// Is makes errors.Is(err, ErrPayloadMalformed) true.
func (e *PayloadError) Is(target error) bool { return target == ErrPayloadMalformed }

// Unwrap returns the record error.
func (e *PayloadError) Unwrap() error { return e.Err }
