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

// snapshotSpan bounds what a new owner reads of the snapshots partition:
// from the oldest round that still holds a thread's latest snapshot to the
// end, at most snapshotSpan times the latest snapshots' size (and a round).
// A round that would pass it also rewrites the threads whose latest
// snapshots are in the oldest rounds, so the snapshots of threads that do
// not change are rewritten at a rate set by the garbage the changing ones
// leave, not at every round, and their cost does not grow with the history
// (a partition after a migration holds millions of idle messages).
const snapshotSpan = 2

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
// `every` events, the threads changed since the last round and, when the
// span a new owner would read passes snapshotSpan times what it needs,
// those whose latest snapshots are in the oldest rounds; the first round
// after a load, all of them. A round is written in parts, one between
// batches of commands. Sizes are costs: snapshotThreadCost plus the
// thread's indexed messages.
type snapshotPolicy struct {
	every int
	// dirty are the threads changed since the last round began, since
	// counts the events since.
	dirty map[string]bool
	since int
	// round is the round being written, nil between rounds.
	round *snapshotRound
	// written are the rounds written since the load that a new owner
	// reads, oldest first; latest says which of them holds each thread's
	// latest snapshot, and at what cost.
	written []*writtenRound
	latest  map[string]snapshotAt
	// live and span are the costs of the latest snapshots and of every
	// snapshot in written.
	live, span int
	// number is the next written round's; end is where the snapshots
	// partition ended after the last part, where a round begins.
	number int
	end    int64
}

// snapshotAt is where a thread's latest snapshot is: its round, its cost.
type snapshotAt struct{ round, cost int }

// writtenRound is a round whose checkpoint was written.
type writtenRound struct {
	number int
	// from is at or before its first record in the snapshots partition.
	from int64
	ids  []string
	// live is the cost of its snapshots that are still their threads'
	// latest, cost that of all of them.
	live, cost int
}

// snapshotRound is a snapshot being written, part by part.
type snapshotRound struct {
	complete bool
	// ids are the round's threads, those from at on not written yet;
	// moved counts those taken from old rounds rather than changed.
	ids   []string
	at    int
	moved int
	// next is the events offset when the round began: its checkpoint's,
	// since each thread is snapshotted at some point after it; from is
	// where in the snapshots partition it began.
	next  int64
	from  int64
	parts int
	// done are the threads written so far.
	done []snapshotted
}

// snapshotted is a thread written in a round, and its cost.
type snapshotted struct {
	id   string
	cost int
}

// reset starts over after a load: the snapshots partition ended at end.
func (p *snapshotPolicy) reset(end int64) {
	*p = snapshotPolicy{every: p.every, dirty: map[string]bool{}, latest: map[string]snapshotAt{}, end: end}
}

// changed records an event of thread id.
func (p *snapshotPolicy) changed(id string) {
	p.dirty[id] = true
	p.since++
}

// cost is what a thread's snapshot weighs in the policy's sums.
func cost(t *domain.Thread) int { return snapshotThreadCost + t.IndexedMessages() }

// begin starts a round if one is due. Threads that change from now on are
// the next round's.
func (p *snapshotPolicy) begin(threads map[string]*domain.Thread, next int64) {
	if p.round != nil || p.every <= 0 || p.since < p.every || len(p.dirty) == 0 {
		return
	}
	r := &snapshotRound{complete: len(p.written) == 0, next: next, from: p.end}
	if r.complete {
		r.ids = make([]string, 0, len(threads))
		for id := range threads {
			r.ids = append(r.ids, id)
		}
	} else {
		r.ids = make([]string, 0, len(p.dirty))
		live, span := p.live, p.span
		for id := range p.dirty {
			r.ids = append(r.ids, id)
			c := 0
			if t := threads[id]; t != nil {
				c = cost(t)
			}
			live += c - p.latest[id].cost
			span += c
		}
		// Rewrite the oldest rounds' latest snapshots until a new owner
		// would read at most snapshotSpan times what it needs.
		for _, w := range p.written {
			if span <= snapshotSpan*live {
				break
			}
			span -= w.cost
			for _, id := range w.ids {
				if at, ok := p.latest[id]; ok && at.round == w.number && !p.dirty[id] {
					r.ids = append(r.ids, id)
					r.moved++
					span += at.cost
				}
			}
		}
	}
	p.round, p.dirty, p.since = r, map[string]bool{}, 0
}

// fullFrom is where a new owner reads the snapshots partition from once
// the round under way is written, with its last part's threads: the oldest
// round still holding a latest snapshot that the round does not replace,
// or the round itself.
func (p *snapshotPolicy) fullFrom(last []snapshotted) int64 {
	r := p.round
	replaced := map[int]int{}
	for _, part := range [][]snapshotted{r.done, last} {
		for _, s := range part {
			if at, ok := p.latest[s.id]; ok {
				replaced[at.round] += at.cost
			}
		}
	}
	for _, w := range p.written {
		if w.live > replaced[w.number] {
			return w.from
		}
	}
	return r.from
}

// wrote records a part written: its threads, and where the snapshots
// partition ends after it.
func (p *snapshotPolicy) wrote(part []snapshotted, end int64) {
	r := p.round
	r.done = append(r.done, part...)
	r.parts++
	p.end = max(p.end, end)
}

// ended records the end of the round: written, its threads' latest
// snapshots are its own and the rounds that no longer hold any are not
// read again; or failed, when none of its parts counts (no checkpoint names
// them): its changed threads are the next round's again, tried after
// another `every` events.
func (p *snapshotPolicy) ended(ok bool) {
	r := p.round
	p.round = nil
	if !ok {
		for _, id := range r.ids {
			p.dirty[id] = true
		}
		p.since = 0
		return
	}
	w := &writtenRound{number: p.number, from: r.from, ids: make([]string, len(r.done))}
	p.number++
	for i, s := range r.done {
		if at, ok := p.latest[s.id]; ok {
			p.written[at.round-p.written[0].number].live -= at.cost
			p.live -= at.cost
		}
		p.latest[s.id] = snapshotAt{round: w.number, cost: s.cost}
		w.ids[i] = s.id
		w.live += s.cost
	}
	w.cost = w.live
	p.live += w.live
	p.span += w.cost
	p.written = append(p.written, w)
	for len(p.written) > 1 && p.written[0].live == 0 {
		p.span -= p.written[0].cost
		p.written = p.written[1:]
	}
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
	var (
		snaps   []domain.Snapshot
		written []snapshotted
	)
	n := 0
	for ; r.at < len(r.ids) && n < budget; r.at++ {
		if t := w.threads[r.ids[r.at]]; t != nil {
			c := cost(t)
			snaps, written = append(snaps, t.Snapshot()), append(written, snapshotted{id: r.ids[r.at], cost: c})
			n += c
		}
	}
	part := eventlog.SnapshotPart{Last: r.at == len(r.ids), Next: r.next}
	if part.Last {
		part.FullFrom = w.snap.fullFrom(written)
	}
	end, err := w.plog.WriteSnapshots(ctx, snaps, part)
	if err != nil {
		w.snap.ended(false)
		if errors.Is(err, eventlog.ErrFenced) {
			return fmt.Errorf("%w (%v)", ErrLostOwnership, err)
		}
		return err
	}
	w.snap.wrote(written, end)
	w.metrics.snapshots.Add(float64(len(snaps)))
	kind := snapshotChanged
	if r.complete {
		kind = snapshotComplete
	}
	w.metrics.snapshotSeconds.WithLabelValues(kind).Observe(time.Since(start).Seconds())
	if part.Last {
		w.snap.ended(true)
		w.metrics.snapshotsMoved.Add(float64(r.moved))
		w.log.Debug("snapshot written", zap.Int("threads", len(r.ids)), zap.Int("moved", r.moved), zap.Int("parts", r.parts),
			zap.Bool("complete", r.complete), zap.Int64("checkpoint", r.next), zap.Int64("read_from", part.FullFrom))
	}
	return nil
}
