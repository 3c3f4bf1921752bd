package server

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/smart-impulse/smartx/internal/store"
)

// maxPendingAudit is how many entries may wait in memory. Past it, the request that adds one
// writes the batch itself: the log slows requests down rather than lose entries or grow.
const maxPendingAudit = 8192

// Requests that present no valid credential (health checks, login steps, bad tokens, scanners,
// floods refused with 429) come from anyone, so they must not grow the database without bound.
// In each minute the first foldFirst of them are written one row each; after that, repeats are
// counted, one row per account (a login step of a known user is filed in its account), source
// address, route, status and error (at most foldAddresses of those), and everything beyond in
// one last row: at most foldFirst + foldAddresses + 1 rows a minute, whatever the flood.
// Requests with a token or a device credential are rows of their own, bounded by the per-token
// rate limits.
const (
	foldWindow    = time.Minute
	foldFirst     = 60
	foldAddresses = 60
)

// auditRecord is an entry waiting to be written, with its source address still in clear: it is
// sealed when the batch is written, off the request's path.
type auditRecord struct {
	entry  store.AuditEntry
	source string
}

// foldKey identifies repeated requests without a credential.
type foldKey struct {
	account, source, route, code string
	status                       int
}

// otherSources is the source of the row that counts failures past foldAddresses addresses.
const otherSources = "(other addresses)"

// auditBuffer batches audit entries so a request costs an append, not a transaction; the
// server flushes it every AuditFlushEvery and at shutdown.
type auditBuffer struct {
	svc *Service
	log *slog.Logger
	now func() time.Time

	mu      sync.Mutex
	pending []auditRecord
	// The current minute's folding of unauthenticated failures.
	windowStart time.Time
	individual  int
	folded      map[foldKey]*auditRecord
	writeMu     sync.Mutex // one batch at a time, in order
}

func newAuditBuffer(svc *Service, log *slog.Logger, now func() time.Time) *auditBuffer {
	return &auditBuffer{svc: svc, log: log, now: now, folded: map[foldKey]*auditRecord{}}
}

func (a *auditBuffer) add(r auditRecord) {
	a.mu.Lock()
	if r.entry.TokenID == "" && r.entry.DeviceID == "" && !a.admit(r) {
		a.mu.Unlock()
		return
	}
	a.pending = append(a.pending, r)
	full := len(a.pending) >= maxPendingAudit
	a.mu.Unlock()
	if full {
		if err := a.flush(context.Background()); err != nil {
			a.log.Error("audit log write failed", "err", err)
		}
	}
}

// admit decides, under a.mu, whether a request without a credential gets its own row;
// otherwise it is counted in a folded row of the minute.
func (a *auditBuffer) admit(r auditRecord) bool {
	now := a.now()
	if now.Sub(a.windowStart) >= foldWindow {
		a.closeWindow()
		a.windowStart = now
	}
	if a.individual < foldFirst {
		a.individual++
		return true
	}
	key := foldKey{account: r.entry.AccountID, source: r.source, route: r.entry.Route, code: r.entry.ErrorCode, status: r.entry.Status}
	if _, ok := a.folded[key]; !ok && len(a.folded) >= foldAddresses {
		key = foldKey{source: otherSources}
	}
	if f, ok := a.folded[key]; ok {
		f.entry.Count++
		return false
	}
	f := r
	if key.source == otherSources {
		f.source, f.entry.AccountID, f.entry.UserID, f.entry.Route, f.entry.ErrorCode = otherSources, "", "", "*", "many"
	}
	a.folded[key] = &f
	return false
}

// closeWindow moves the minute's folded rows to the pending batch, under a.mu.
func (a *auditBuffer) closeWindow() {
	for _, f := range a.folded {
		a.pending = append(a.pending, *f)
	}
	clear(a.folded)
	a.individual = 0
}

// flush writes every pending entry (and the folded rows of a minute that has ended), sealing
// their source addresses. On failure the entries are put back to be retried.
func (a *auditBuffer) flush(ctx context.Context) error {
	a.writeMu.Lock()
	defer a.writeMu.Unlock()
	a.mu.Lock()
	if len(a.folded) > 0 && a.now().Sub(a.windowStart) >= foldWindow {
		a.closeWindow()
	}
	batch := a.pending
	a.pending = nil
	a.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	entries := make([]store.AuditEntry, 0, len(batch))
	for _, r := range batch {
		e := r.entry
		var err error
		if e.SealedSource, err = a.svc.sealSource(ctx, e.AccountID, e.RequestID, r.source); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				continue // the account was deleted while the entry waited: its log went with it
			}
			a.restore(batch)
			return err
		}
		entries = append(entries, e)
	}
	if err := a.svc.st.AppendAudit(ctx, entries); err != nil {
		a.restore(batch)
		return err
	}
	return nil
}

// closeAll ends the current minute (at shutdown): its folded rows are written by the next
// flush.
func (a *auditBuffer) closeAll() {
	a.mu.Lock()
	a.closeWindow()
	a.mu.Unlock()
}

// restore puts a batch that could not be written back in front of the pending entries.
func (a *auditBuffer) restore(batch []auditRecord) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.pending)+len(batch) <= 4*maxPendingAudit {
		a.pending = append(batch, a.pending...)
	}
}
