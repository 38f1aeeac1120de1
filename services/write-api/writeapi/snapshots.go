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

// snapshotPartMessages bounds a part of a snapshot round by the indexed
// messages of its threads, each thread counting snapshotThreadCost more:
// ~3 MB encoded, some milliseconds of the writer's time, and at most
// 10,000 threads (a new owner looks for the last checkpoint among the
// snapshots partition's last 20,000 records). A complete round after a
// migration holds every thread of the partition, tens of MB, and the
// writer takes no command while it writes a part.
const (
	snapshotPartMessages = 50000
	snapshotThreadCost   = 5
)

// snapshotPolicy decides when a writer snapshots and which threads: every
// `every` events, the threads changed since the last snapshot; the first
// after a load and every completeEvery-th, all of them. A snapshot is
// written as a round of parts, one between batches of commands.
type snapshotPolicy struct {
	every int
	// dirty are the threads changed since the last round began, since
	// counts the events since, taken the rounds written since the load.
	dirty map[string]bool
	since int
	taken int
	// round is the round being written, nil between rounds.
	round *snapshotRound
}

// snapshotRound is a snapshot being written, part by part.
type snapshotRound struct {
	complete bool
	// ids are the round's threads, those from at on not written yet.
	ids []string
	at  int
	// from is the events offset when the round began: its checkpoint's,
	// since each thread is snapshotted at some point after it.
	from  int64
	parts int
}

func (p *snapshotPolicy) reset() {
	p.dirty, p.since, p.taken, p.round = map[string]bool{}, 0, 0, nil
}

// changed records an event of thread id.
func (p *snapshotPolicy) changed(id string) {
	p.dirty[id] = true
	p.since++
}

// begin starts a round if one is due: of the threads changed since the
// last, or of all of them. Threads that change from now on are the next
// round's.
func (p *snapshotPolicy) begin(threads map[string]*domain.Thread, next int64) {
	if p.round != nil || p.every <= 0 || p.since < p.every || len(p.dirty) == 0 {
		return
	}
	r := &snapshotRound{complete: p.taken%completeEvery == 0, from: next}
	if r.complete {
		r.ids = make([]string, 0, len(threads))
		for id := range threads {
			r.ids = append(r.ids, id)
		}
	} else {
		r.ids = make([]string, 0, len(p.dirty))
		for id := range p.dirty {
			r.ids = append(r.ids, id)
		}
	}
	p.round, p.dirty, p.since = r, map[string]bool{}, 0
}

// ended records the end of the round: written, or failed, when none of its
// parts counts (no checkpoint names them): its threads are the next
// round's again, tried after another `every` events.
func (p *snapshotPolicy) ended(ok bool) {
	if ok {
		p.taken++
	} else {
		for _, id := range p.round.ids {
			p.dirty[id] = true
		}
		p.since = 0
	}
	p.round = nil
}

// The kinds of snapshot, as falcon_write_snapshot_duration_seconds labels them.
const (
	snapshotChanged  = "changed"
	snapshotComplete = "complete"
)

// snapshot writes the next part of the round due or under way, if any.
func (w *writer) snapshot(ctx context.Context) error {
	w.snap.begin(w.threads, w.next)
	r := w.snap.round
	if r == nil {
		return nil
	}
	budget := w.cfg.SnapshotPartMessages
	if budget <= 0 {
		budget = snapshotPartMessages
	}
	start := time.Now()
	var snaps []domain.Snapshot
	n := 0
	for ; r.at < len(r.ids) && n < budget; r.at++ {
		if t := w.threads[r.ids[r.at]]; t != nil {
			snaps = append(snaps, t.Snapshot())
			n += snapshotThreadCost + t.IndexedMessages()
		}
	}
	part := eventlog.SnapshotPart{Complete: r.complete, First: r.parts == 0, Last: r.at == len(r.ids), Next: r.from}
	r.parts++
	err := w.plog.WriteSnapshots(ctx, snaps, part)
	if err != nil {
		w.snap.ended(false)
		if errors.Is(err, eventlog.ErrFenced) {
			return fmt.Errorf("%w (%v)", ErrLostOwnership, err)
		}
		return err
	}
	w.metrics.snapshots.Add(float64(len(snaps)))
	kind := snapshotChanged
	if r.complete {
		kind = snapshotComplete
	}
	w.metrics.snapshotSeconds.WithLabelValues(kind).Observe(time.Since(start).Seconds())
	if part.Last {
		w.snap.ended(true)
		w.log.Debug("snapshot written", zap.Int("threads", len(r.ids)), zap.Int("parts", r.parts), zap.Bool("complete", r.complete),
			zap.Int64("checkpoint", r.from))
	}
	return nil
}
