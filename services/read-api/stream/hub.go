// Package stream pushes thread events to the accounts that may see them:
// each read-api replica follows the event log, keeps the recent events of
// each partition for subscribers that resume, and fans every event out in
// memory to the subscribers of the accounts that were members of its
// thread at its version.
package stream

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/eventlog"
)

// Hub follows the event log and fans its events out to subscriptions.
type Hub struct {
	cfg  Config
	log  *zap.Logger
	src  Source
	read ThreadReader
	m    *metrics

	parts    atomic.Pointer[[]*partition]
	caughtUp atomic.Int32
	// unreachable is why the log could not be read at start, if so.
	unreachable atomic.Pointer[error]
	stopping    chan struct{}
	stopOnce    sync.Once

	mu        sync.RWMutex
	byAccount map[string]map[*Subscription]struct{}
	count     int
}

// item is one event as the partition keeps it: rendered once, with the
// accounts that may see it.
type item struct {
	pos     int64     // of the event in its partition: see position
	members []string  // sorted
	wire    []byte    // the AccountEvent without its cursor, encoded
	at      time.Time // when the event occurred, for the push delay
}

// input is what the follower hands a partition's dispatcher: a record, or
// the offset reading has reached.
type input struct {
	rec     eventlog.Record
	reached int64 // -1 for a record
}

// partition is one partition's retained events and subscribers.
type partition struct {
	id     int32
	in     chan input
	target int64 // the position of the newest record at start: caught up once there
	done   atomic.Bool

	mu    sync.Mutex
	ring  []*item // the newest up to Retain, oldest first, circular from head
	head  int
	start int64 // the oldest position a cursor may stand at
	// next is the position before which every event has been dispatched.
	next atomic.Int64
}

// NewHub returns a hub reading src, loading the membership of threads it
// meets mid-history through read.
func NewHub(cfg Config, src Source, read ThreadReader, log *zap.Logger, reg prometheus.Registerer) *Hub {
	h := &Hub{cfg: cfg.orDefaults(), log: log.With(zap.String("component", "stream")), src: src, read: read,
		stopping: make(chan struct{}), byAccount: map[string]map[*Subscription]struct{}{}}
	h.m = newMetrics(reg, h)
	return h
}

// Ready is nil once every partition has been read up to where it stood at
// start: a cursor of another replica can then be resumed here.
func (h *Hub) Ready() error {
	parts := h.parts.Load()
	if e := h.unreachable.Load(); parts == nil && e != nil {
		return fmt.Errorf("the event stream cannot read the event log: %w", *e)
	}
	if parts == nil || int(h.caughtUp.Load()) < len(*parts) {
		return errors.New("the event stream is reading the recent events")
	}
	return nil
}

// Heartbeat is the longest a stream may stay silent.
func (h *Hub) Heartbeat() time.Duration { return h.cfg.Heartbeat }

// EndStreams ends every subscription with its cursor, and refuses new
// ones: the first step of a shutdown, so that the servers can drain.
func (h *Hub) EndStreams() { h.stopOnce.Do(func() { close(h.stopping) }) }

// Run follows the log until ctx ends.
func (h *Hub) Run(ctx context.Context) error {
	defer h.EndStreams()
	var oldest, next map[int32]int64
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		var err error
		if oldest, next, err = h.src.Bounds(ctx); err == nil {
			break
		}
		if h.unreachable.Swap(&err) == nil {
			h.log.Warn("the event log does not answer; the stream waits for it", zap.Error(err))
		}
		if err := eventlog.Sleep(ctx, wait); err != nil {
			return nil
		}
	}
	parts := make([]*partition, len(next))
	from := make(map[int32]int64, len(next))
	for id, n := range next {
		if int(id) >= len(parts) {
			return fmt.Errorf("the events topic's partitions are not numbered 0..%d", len(parts)-1)
		}
		f, err := h.startOf(ctx, id, oldest[id], n)
		if err != nil {
			return nil // ctx ended
		}
		p := &partition{id: id, in: make(chan input, 1024), target: position(n, 0), start: position(f, 0),
			ring: make([]*item, 0, min(h.cfg.Retain, 1024))}
		p.next.Store(position(f, 0))
		parts[id], from[id] = p, f
	}
	h.parts.Store(&parts)
	g, gctx := errgroup.WithContext(ctx)
	for _, p := range parts {
		if p.target <= p.start {
			p.done.Store(true)
			h.caughtUp.Add(1)
		}
		g.Go(func() error { return h.dispatch(gctx, p) })
	}
	g.Go(func() error { return h.src.Follow(gctx, from, follower{h: h, parts: parts, ctx: gctx}) })
	if err := g.Wait(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("event stream: %w", err)
	}
	return nil
}

// startOf is the offset from which partition p is read at start, so that
// its last Retain events are kept: as many records back as hold them,
// counted before they are read for good (a record may hold a run of a
// thousand imported events, and rendering a migration's history at start
// only to drop it would keep the replica from being ready for minutes).
func (h *Hub) startOf(ctx context.Context, p int32, oldest, next int64) (int64, error) {
	start, events := next, 0
	for start > oldest && events < h.cfg.Retain {
		// Each record holds one event at least: no further back than needed.
		from := max(oldest, start-int64(h.cfg.Retain-events))
		counted, err := h.countEvents(ctx, p, from, start)
		if err != nil {
			return 0, err
		}
		for i := len(counted) - 1; i >= 0 && events < h.cfg.Retain; i-- {
			start, events = counted[i].offset, events+counted[i].events
		}
		if events < h.cfg.Retain {
			start = from // past aborted records and markers too
		}
	}
	return start, nil
}

// counted is a record's offset and how many events it holds.
type counted struct {
	offset int64
	events int
}

// countEvents counts the events of each of p's records from offset from up
// to end, trying again until ctx ends.
func (h *Hub) countEvents(ctx context.Context, p int32, from, end int64) ([]counted, error) {
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		var out []counted
		err := h.src.Read(ctx, p, from, end, func(r eventlog.Record) error {
			out = append(out, counted{r.Offset, eventlog.CountEvents(r.Value)})
			return nil
		})
		if err == nil {
			return out, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		h.log.Warn("reading the recent events failed; retrying", zap.Int32("partition", p), zap.Error(err))
		if err := eventlog.Sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

type follower struct {
	h     *Hub
	parts []*partition
	ctx   context.Context
}

func (f follower) Record(p int32, r eventlog.Record) error {
	return f.send(p, input{rec: r, reached: -1})
}

func (f follower) Reached(p int32, offset int64) error { return f.send(p, input{reached: offset}) }

func (f follower) send(p int32, in input) error {
	if int(p) >= len(f.parts) {
		return fmt.Errorf("partition %d appeared after the stream started; restart read-api to follow it", p)
	}
	select {
	case f.parts[p].in <- in:
		return nil
	case <-f.ctx.Done():
		return f.ctx.Err()
	}
}

// dispatch turns one partition's records into items, in order: it keeps
// them for resumes and hands each to the subscribers of its members.
func (h *Hub) dispatch(ctx context.Context, p *partition) error {
	mem := newMembership(h.read, h.log)
	for {
		var in input
		select {
		case <-ctx.Done():
			return nil
		case in = <-p.in:
		}
		if in.reached >= 0 {
			h.advance(p, position(in.reached, 0))
			continue
		}
		index := 0
		err := eventlog.DecodeEvents(in.rec.Value, func(e domain.Event, err error) error {
			defer func() { index++ }()
			if index >= 1<<indexBits {
				return errRunTooLong // write-api never writes one: positions would collide
			}
			if err != nil {
				h.m.undecodable.Inc()
				h.log.Error("an event of the log does not decode; subscribers will not see it",
					zap.Int32("partition", p.id), zap.Int64("offset", in.rec.Offset), zap.Int("index", index), zap.Error(err))
				return nil
			}
			return h.fanOut(ctx, p, mem, e, position(in.rec.Offset, index))
		})
		switch {
		case ctx.Err() != nil:
			return nil // ctx ended while the read model was behind
		case err != nil:
			h.m.undecodable.Inc()
			h.log.Error("a record of the log does not decode; subscribers will not see it",
				zap.Int32("partition", p.id), zap.Int64("offset", in.rec.Offset), zap.Error(err))
		}
		h.advance(p, position(in.rec.Offset+1, 0))
	}
}

var errRunTooLong = fmt.Errorf("the record holds more than %d events; the rest of it is skipped", 1<<indexBits)

// fanOut keeps e, at pos, and hands it to the subscribers of its members.
func (h *Hub) fanOut(ctx context.Context, p *partition, mem *membership, e domain.Event, pos int64) error {
	members, err := mem.membersAt(ctx, e)
	if err != nil {
		return err
	}
	members = audience(e, members)
	wire, err := render(e)
	if err != nil {
		h.log.Error("an event has no stream form", zap.Error(err))
		return nil
	}
	it := &item{pos: pos, members: members, wire: wire, at: e.OccurredAt}
	for _, s := range h.keep(p, it) {
		s.deliver(p.id, it)
	}
	// Imported events occurred in the legacy system, long before.
	if len(members) > 0 && !e.Imported {
		h.m.delay.Observe(time.Since(it.at).Seconds())
	}
	return nil
}

// keep adds it to p's retained events and returns the subscribers, joined
// to p, of the accounts that may see it. Under p's lock: a subscriber
// joining now finds it among the retained events or is handed it, never
// both, never neither.
func (h *Hub) keep(p *partition, it *item) []*Subscription {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.ring) < h.cfg.Retain {
		p.ring = append(p.ring, it)
	} else {
		old := p.ring[p.head]
		p.ring[p.head] = it
		p.head = (p.head + 1) % len(p.ring)
		p.start = old.pos + 1
	}
	var out []*Subscription
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, a := range it.members {
		for s := range h.byAccount[a] {
			if s.joined[p.id] {
				out = append(out, s)
			}
		}
	}
	return out
}

// advance moves p's position to next; the dispatcher's alone.
func (h *Hub) advance(p *partition, next int64) {
	if next <= p.next.Load() {
		return
	}
	p.next.Store(next)
	if !p.done.Load() && next >= p.target {
		p.done.Store(true)
		h.caughtUp.Add(1)
	}
}

// retained calls fn for p's retained events from the oldest, under p's lock.
func (p *partition) retained(fn func(*item)) {
	for i := range p.ring {
		fn(p.ring[(p.head+i)%len(p.ring)])
	}
}

func canSee(it *item, account string) bool {
	_, ok := slices.BinarySearch(it.members, account)
	return ok
}

// Subscribe starts a subscription of account after cursor (empty: from
// now). The errors are gRPC statuses: a bad cursor InvalidArgument, one
// older than the retained events OutOfRange, too many streams
// ResourceExhausted, a replica starting or stopping Unavailable.
func (h *Hub) Subscribe(account, cursor string) (*Subscription, error) {
	select {
	case <-h.stopping:
		return nil, status.Error(codes.Unavailable, "this read-api replica is shutting down; subscribe again (another replica will answer)")
	default:
	}
	if err := h.Ready(); err != nil {
		return nil, status.Errorf(codes.Unavailable, "%v; subscribe again in a moment", err)
	}
	parts := *h.parts.Load()
	var pos Cursor
	if cursor != "" {
		var err error
		if pos, err = DecodeCursor(account, cursor); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "cursor: %v; subscribe without a cursor after reloading through the queries", err)
		}
		if len(pos) != len(parts) {
			return nil, status.Errorf(codes.OutOfRange, "cursor: it is of a topic of %d partitions, this one has %d: reload through the queries, then subscribe without a cursor", len(pos), len(parts))
		}
	}
	s := &Subscription{h: h, account: account, q: newQueue(h.cfg.Buffer),
		pending: make([]atomic.Int64, len(parts)), joined: make([]bool, len(parts)), left: make([]int, len(parts)),
		pos: make(Cursor, len(parts)), end: make(chan struct{})}
	if err := h.add(s); err != nil {
		return nil, err
	}
	tooOld := false
	for _, p := range parts {
		p.mu.Lock()
		if pos == nil {
			s.pos[p.id] = p.next.Load()
		} else {
			s.pos[p.id] = pos[p.id]
			if pos[p.id] < p.start {
				tooOld = true
			}
			p.retained(func(it *item) {
				if it.pos >= pos[p.id] && canSee(it, account) {
					s.backlog = append(s.backlog, delivery{p: p.id, it: it})
					s.left[p.id]++
				}
			})
		}
		s.joined[p.id] = true
		p.mu.Unlock()
	}
	if tooOld {
		s.Close()
		return nil, status.Error(codes.OutOfRange, "cursor: it is older than the events this replica keeps; reload through the queries, then subscribe without a cursor")
	}
	return s, nil
}

func (h *Hub) add(s *Subscription) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.count >= h.cfg.MaxSubscribers {
		h.m.refused.WithLabelValues("replica").Inc()
		return status.Errorf(codes.ResourceExhausted, "this replica holds its most streams (%d); try again later", h.cfg.MaxSubscribers)
	}
	subs := h.byAccount[s.account]
	if len(subs) >= h.cfg.PerAccount {
		h.m.refused.WithLabelValues("account").Inc()
		return status.Errorf(codes.ResourceExhausted, "account %s already holds %d streams, the most allowed; close one first", s.account, h.cfg.PerAccount)
	}
	if subs == nil {
		subs = map[*Subscription]struct{}{}
		h.byAccount[s.account] = subs
	}
	subs[s] = struct{}{}
	h.count++
	return nil
}

func (h *Hub) remove(s *Subscription) {
	for _, p := range *h.parts.Load() {
		p.mu.Lock()
		s.joined[p.id] = false
		p.mu.Unlock()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if subs := h.byAccount[s.account]; subs != nil {
		if _, ok := subs[s]; ok {
			delete(subs, s)
			h.count--
		}
		if len(subs) == 0 {
			delete(h.byAccount, s.account)
		}
	}
}

func (h *Hub) subscribers() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.count
}
