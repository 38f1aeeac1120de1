package updater

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/falcon-chat/falcon/libs/readstore"
)

// groupSync makes the batches of all the partitions durable together, then
// marks their offsets. A batch is readable as soon as it is applied; one
// store sync every interval covers every batch applied before it, where a
// durable write per batch cost an fsync each (on Pebble, 200 a second at
// 2,000 messages/s, as much CPU as applying them). An offset is marked, and
// so committed, only once what it covers is durable: a crash of the machine
// loses no event, it re-applies the unmarked ones (idempotent by version).
type groupSync struct {
	sync     func(context.Context) error // nil: every write is durable already
	interval time.Duration
	log      *zap.Logger

	mu      sync.Mutex
	pending []func() // marks waiting for the next sync
	// round serialises syncs, so that a mark taken by one runs only after
	// a sync that began after it was registered.
	round sync.Mutex
}

func newGroupSync(store readstore.Store, interval time.Duration, log *zap.Logger) *groupSync {
	g := &groupSync{interval: interval, log: log}
	if c, ok := store.(readstore.GroupCommitter); ok {
		g.sync = c.Sync
	}
	return g
}

// after runs mark once everything applied before the call is durable: at
// once for a store whose writes are durable when applied, else after the
// next sync.
func (g *groupSync) after(mark func()) {
	if g.sync == nil {
		mark()
		return
	}
	g.mu.Lock()
	g.pending = append(g.pending, mark)
	g.mu.Unlock()
}

// run syncs every interval while marks wait, until ctx ends. A failed sync
// keeps its marks for the next one.
func (g *groupSync) run(ctx context.Context) {
	if g.sync == nil {
		return
	}
	t := time.NewTicker(g.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := g.now(ctx); err != nil && ctx.Err() == nil {
				g.log.Warn("read store sync failed; offsets stay unmarked until one succeeds", zap.Error(err))
			}
		}
	}
}

// now syncs at once if marks wait, and runs them: for a partition handed
// over or a process stopping, whose offsets must be marked before its
// session commits them.
func (g *groupSync) now(ctx context.Context) error {
	if g.sync == nil {
		return nil
	}
	g.round.Lock()
	defer g.round.Unlock()
	g.mu.Lock()
	marks := g.pending
	g.pending = nil
	g.mu.Unlock()
	if len(marks) == 0 {
		return nil
	}
	if err := g.sync(ctx); err != nil {
		g.mu.Lock()
		g.pending = append(marks, g.pending...)
		g.mu.Unlock()
		return err
	}
	for _, mark := range marks {
		mark()
	}
	return nil
}
