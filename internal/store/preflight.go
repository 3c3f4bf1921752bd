package store

import (
	"context"
	"time"
)

// PreflightRun is a preflight run an installer sent to a site: the result document of
// `smartx preflight` with the address the upload came from, sealed together under the
// account's data key (Sealed). RunIndex, a keyed blind index of the document, is unique per
// site, so the same run sent twice is kept once. UserID and TokenID say who sent it; like the
// audit log's, they are kept when the user or token is deleted.
type PreflightRun struct {
	ID          string
	AccountID   string
	SiteID      string
	UserID      string
	TokenID     string
	RunIndex    []byte
	GeneratedAt time.Time // when the checks ran, by the laptop's clock
	UploadedAt  time.Time // when the platform received it: the retention counts from here
	Size        int64     // bytes of the document
	Sealed      []byte
}

// PreflightFilter selects the runs of one site of an account.
type PreflightFilter struct {
	AccountID string
	SiteID    string
	RunIndex  []byte // the exact run's index; nil for any
	Limit     int    // at most this many; 0 for every run
}

// PreflightStore keeps the preflight runs sent to sites.
type PreflightStore interface {
	// CreatePreflightRun stores a run. ErrNotFound when the site is not one of the account's;
	// ErrConflict when the site has a run with the same index.
	CreatePreflightRun(ctx context.Context, r PreflightRun) error
	// ListPreflightRuns returns the selected runs, the most recent first (by GeneratedAt, then
	// UploadedAt, then id).
	ListPreflightRuns(ctx context.Context, f PreflightFilter) ([]PreflightRun, error)
	// PurgePreflightRuns deletes the runs uploaded before t and returns how many it deleted.
	// Like PurgeAudit, when several processes share the database one purges at a time.
	PurgePreflightRuns(ctx context.Context, before time.Time) (int64, error)
}
