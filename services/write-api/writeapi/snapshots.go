package writeapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/eventlog"
)

// completeEvery is how many snapshots pass between complete sets (every
// thread of the partition, so that a new owner reads nothing older).
const completeEvery = 8

// snapshotPolicy decides when a writer snapshots and which threads: every
// `every` events, the threads changed since the last snapshot; the first
// after a load and every completeEvery-th, all of them.
type snapshotPolicy struct {
	every int
	// dirty are the threads changed since the last snapshot, since counts
	// the events since, taken the snapshots since the load.
	dirty map[string]bool
	since int
	taken int
}

func (p *snapshotPolicy) reset() {
	p.dirty, p.since, p.taken = map[string]bool{}, 0, 0
}

// changed records an event of thread id.
func (p *snapshotPolicy) changed(id string) {
	p.dirty[id] = true
	p.since++
}

// due says whether a snapshot is due, and whether it must be complete.
func (p *snapshotPolicy) due() (due, complete bool) {
	if p.every <= 0 || p.since < p.every || len(p.dirty) == 0 {
		return false, false
	}
	return true, p.taken%completeEvery == 0
}

// done records a written snapshot; a failed one is tried again after
// another `every` events.
func (p *snapshotPolicy) done(ok bool) {
	p.since = 0
	if ok {
		p.dirty = map[string]bool{}
		p.taken++
	}
}

// The kinds of snapshot, as falcon_write_snapshot_duration_seconds labels them.
const (
	snapshotChanged  = "changed"
	snapshotComplete = "complete"
)

// snapshot writes the snapshot the policy calls for, if any.
func (w *writer) snapshot(ctx context.Context) error {
	due, complete := w.snap.due()
	if !due {
		return nil
	}
	ids := w.snap.dirty
	if complete {
		ids = make(map[string]bool, len(w.threads))
		for id := range w.threads {
			ids[id] = true
		}
	}
	start := time.Now()
	snaps := make([]domain.Snapshot, 0, len(ids))
	for id := range ids {
		if t := w.threads[id]; t != nil {
			snaps = append(snaps, t.Snapshot())
		}
	}
	err := w.plog.WriteSnapshots(ctx, snaps, w.next, complete)
	w.snap.done(err == nil)
	if err != nil {
		if errors.Is(err, eventlog.ErrFenced) {
			return fmt.Errorf("%w (%v)", ErrLostOwnership, err)
		}
		return err
	}
	w.metrics.snapshots.Add(float64(len(snaps)))
	kind := snapshotChanged
	if complete {
		kind = snapshotComplete
	}
	w.metrics.snapshotSeconds.WithLabelValues(kind).Observe(time.Since(start).Seconds())
	w.log.Debug("snapshot written", zap.Int("threads", len(snaps)), zap.Bool("complete", complete), zap.Int64("checkpoint", w.next))
	return nil
}
