package stream

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/readmodel"
)

// ThreadReader reads a thread's read model: where the stream learns the
// membership of a thread it has not followed from its creation.
type ThreadReader func(ctx context.Context, threadID string) (readmodel.Thread, bool, error)

// maxTracked bounds the threads one partition's membership keeps; past it
// the partition forgets them all and reloads those it meets again.
const maxTracked = 50_000

// membership knows, for the threads of one partition, who was a member at
// each version it dispatches. It is used by the partition's dispatcher
// only. A thread met first at version 1 is known from its events alone;
// one met later is loaded from the read model (its membership history)
// once the read model has reached the version before, then kept current
// from the events.
type membership struct {
	read    ThreadReader
	log     *zap.Logger
	threads map[string]*readmodel.Thread
	// current holds each thread's members at the last version dispatched:
	// most events change no membership and share the list (read only).
	current map[string]members
}

type members struct {
	version uint64
	ids     []string
	// changed says the event at version changed the membership: one
	// removed there sees that event, not the next.
	changed bool
}

func newMembership(read ThreadReader, log *zap.Logger) *membership {
	return &membership{read: read, log: log, threads: map[string]*readmodel.Thread{}, current: map[string]members{}}
}

// membersAt returns the accounts that may see e: the members at its
// version (one added sees its addition, one removed its removal).
func (m *membership) membersAt(ctx context.Context, e domain.Event) ([]string, error) {
	t := m.threads[e.ThreadID]
	if t == nil || t.Version+1 < e.Version {
		var err error
		if t, err = m.load(ctx, e); err != nil {
			return nil, err
		}
	}
	if t.Version+1 != e.Version {
		return t.History.MembersAt(e.Version), nil
	}
	changed := t.FoldMembership(e)
	t.Version = e.Version
	c, ok := m.current[e.ThreadID]
	if !ok || c.changed || len(changed) > 0 || c.version+1 != e.Version {
		c.ids = t.History.MembersAt(e.Version)
	}
	c.version, c.changed = e.Version, len(changed) > 0
	m.current[e.ThreadID] = c
	return c.ids, nil
}

// audience narrows the members who may see e to those it is for: a read
// marker is its account's own business, pushed to its other devices only.
func audience(e domain.Event, members []string) []string {
	if _, ok := e.Payload.(domain.ReadMarkerMoved); ok {
		if slices.Contains(members, e.ActorID) {
			return []string{e.ActorID}
		}
		return nil
	}
	return members
}

// load returns the thread as of at least the version before e, waiting for
// the read model to get there.
func (m *membership) load(ctx context.Context, e domain.Event) (*readmodel.Thread, error) {
	if e.Version == 1 {
		t := &readmodel.Thread{ID: e.ThreadID, History: readmodel.History{}}
		m.keep(t)
		return t, nil
	}
	wait, waited, warned := 5*time.Millisecond, time.Duration(0), false
	for {
		t, ok, err := m.read(ctx, e.ThreadID)
		if err == nil && ok && t.Version+1 >= e.Version {
			if len(t.History) == 0 {
				// Projected before histories were kept: the members now
				// stand for the members then.
				t.History = readmodel.History{}
				for _, a := range t.Members {
					t.History[a] = []readmodel.Span{{From: 1}}
				}
			}
			m.keep(&t)
			return &t, nil
		}
		if err != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if waited >= 10*time.Second && !warned {
			warned = true
			m.log.Warn("the read model is behind the event stream; the partition's events wait for it",
				zap.String("thread_id", e.ThreadID), zap.Uint64("version", e.Version), zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("membership of thread %s: %w", e.ThreadID, ctx.Err())
		case <-time.After(wait):
		}
		waited += wait
		wait = min(2*wait, 200*time.Millisecond)
	}
}

func (m *membership) keep(t *readmodel.Thread) {
	if len(m.threads) >= maxTracked {
		clear(m.threads)
		clear(m.current)
	}
	m.threads[t.ID] = t
}
