package server

import (
	"context"
	"log/slog"
	"sync"

	"github.com/smart-impulse/smartx/internal/store"
)

// maxPendingAudit is how many entries may wait in memory. Past it, the request that adds one
// writes the batch itself: the log slows requests down rather than lose entries or grow.
const maxPendingAudit = 8192

// auditBuffer batches audit entries so a request costs an append, not a transaction; the
// server flushes it every AuditFlushEvery and at shutdown.
type auditBuffer struct {
	st  store.AuditStore
	log *slog.Logger

	mu      sync.Mutex
	pending []store.AuditEntry
	writeMu sync.Mutex // one batch at a time, in order
}

func newAuditBuffer(st store.AuditStore, log *slog.Logger) *auditBuffer {
	return &auditBuffer{st: st, log: log}
}

func (a *auditBuffer) add(e store.AuditEntry) {
	a.mu.Lock()
	a.pending = append(a.pending, e)
	full := len(a.pending) >= maxPendingAudit
	a.mu.Unlock()
	if full {
		if err := a.flush(context.Background()); err != nil {
			a.log.Error("audit log write failed", "err", err)
		}
	}
}

// flush writes every pending entry. On failure the entries are put back to be retried.
func (a *auditBuffer) flush(ctx context.Context) error {
	a.writeMu.Lock()
	defer a.writeMu.Unlock()
	a.mu.Lock()
	batch := a.pending
	a.pending = nil
	a.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	if err := a.st.AppendAudit(ctx, batch); err != nil {
		a.mu.Lock()
		if len(a.pending)+len(batch) <= 4*maxPendingAudit {
			a.pending = append(batch, a.pending...)
		}
		a.mu.Unlock()
		return err
	}
	return nil
}
