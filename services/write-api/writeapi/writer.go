package writeapi

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/eventlog"
	"github.com/falcon-chat/falcon/libs/snowflake"
)

// PartitionLog is one partition of the event log as its single writer uses
// it: loading fences any earlier writer; each append is one transaction.
// eventlog.TxnLog is the one on Kafka; the writer's tests use one in memory.
type PartitionLog interface {
	// Load fences earlier writers and says what to start from: the latest
	// thread snapshots and the range of events after them.
	Load(ctx context.Context) (eventlog.Loaded, error)
	// Replay calls fn for every committed event from offset from up to end,
	// in order; skip gets what cannot be decoded.
	Replay(ctx context.Context, from, end int64, fn func(domain.Event), skip func(offset int64, err error)) error
	// Append commits events in one transaction, each with the trace of its
	// request, and says where it ended and when its commit began. An error
	// wrapping eventlog.ErrFenced means a newer writer took over; any error
	// means nothing was committed.
	Append(ctx context.Context, events []eventlog.Outgoing) (eventlog.Appended, error)
	// WriteSnapshots commits thread snapshots, a part of a round; the last
	// part adds the checkpoint that makes the round count. It says where
	// the snapshots partition ends after them.
	WriteSnapshots(ctx context.Context, snaps []domain.Snapshot, part eventlog.SnapshotPart) (int64, error)
	// Close releases the log's producer.
	Close() error
}

// ErrLostOwnership means another replica took the partition over: the
// command was not applied here, and a retry reaches the new owner.
var ErrLostOwnership = errors.New("this replica no longer owns the thread's partition")

// ErrNotCommitted means the transaction failed for another reason; nothing
// was appended and a retry with the same request id is safe.
var ErrNotCommitted = errors.New("the events could not be committed to Kafka")

type request struct {
	// abandoned says whether the caller gave up (its context's Err): such a
	// command is answered without being decided.
	abandoned func() error
	threadID  string
	cmd       domain.Command
	meta      domain.Meta
	// trace is the request's span: the event's record carries it.
	trace trace.SpanContext
	reply chan reply
}

type reply struct {
	result domain.Result
	err    error
	// appended says the command's events are in the batch's transaction;
	// committed is when its commit began.
	appended  bool
	committed time.Time
}

// writerConfig is what a writer takes from write-api's configuration.
type writerConfig struct {
	// MaxBatch is the most commands committed in one transaction.
	MaxBatch int
	// SnapshotEvery is how many events pass between snapshots; 0: none.
	SnapshotEvery int
	// SnapshotPartMessages bounds a part of a snapshot round (0:
	// snapshotPartMessages).
	SnapshotPartMessages int
}

// writer owns one partition: the only goroutine that decides and appends for
// its threads. Commands are applied in arrival order and committed in groups.
type writer struct {
	partition int32
	cfg       writerConfig
	log       *zap.Logger
	plog      PartitionLog
	metrics   *metrics
	in        chan request
	ready     atomic.Bool
	// done closes when the writer has stopped; lost says it stopped because
	// it was fenced.
	done    chan struct{}
	lost    atomic.Bool
	threads map[string]*domain.Thread
	// numbers makes the numeric ids of new threads and messages; after a
	// load it continues after the greatest its threads carry.
	numbers *snowflake.Generator
	// next is the events offset after the last event known.
	next int64
	snap snapshotPolicy
}

func newWriter(p int32, cfg writerConfig, log *zap.Logger, plog PartitionLog, m *metrics) *writer {
	return &writer{
		partition: p, cfg: cfg, plog: plog, metrics: m,
		log:  log.With(zap.Int32("partition", p)),
		in:   make(chan request, 4*cfg.MaxBatch),
		done: make(chan struct{}),
		snap: snapshotPolicy{every: cfg.SnapshotEvery},
	}
}

// run loads the partition, then serves commands until ctx ends or the
// writer is fenced. Queued commands are answered before it returns.
func (w *writer) run(ctx context.Context) {
	defer func() {
		w.ready.Store(false)
		_ = w.plog.Close()
		close(w.done)
		w.drain()
	}()
	for {
		if err := w.load(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, ErrLostOwnership) {
				w.lost.Store(true)
				return
			}
			w.log.Error("loading partition failed; retrying", zap.Error(err))
			if eventlog.Sleep(ctx, time.Second) != nil {
				return
			}
			continue
		}
		err := w.serve(ctx)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, ErrLostOwnership) {
			w.metrics.fenced.Inc()
			w.log.Warn("fenced by a newer owner; dropping the partition's state")
			w.lost.Store(true)
			return
		}
		w.log.Error("transaction failed; reloading the partition", zap.Error(err))
	}
}

// load takes the partition: fences any previous owner, restores the
// threads from their snapshots and replays the events after them.
func (w *writer) load(ctx context.Context) error {
	w.ready.Store(false)
	start := time.Now()
	l, err := w.plog.Load(ctx)
	if err != nil {
		if errors.Is(err, eventlog.ErrFenced) {
			return fmt.Errorf("%w (%v)", ErrLostOwnership, err)
		}
		return err
	}
	w.threads = map[string]*domain.Thread{}
	w.snap.reset(l.SnapshotsEnd)
	from := l.From
	if l.SnapshotsErr != nil {
		w.log.Warn("snapshots unusable; replaying the whole partition", zap.Error(l.SnapshotsErr))
		w.metrics.snapshotFallbacks.Inc()
		from = 0
	}
	for _, s := range l.Snapshots {
		t, err := domain.Restore(s)
		if err != nil {
			w.log.Warn("a snapshot does not restore; replaying the whole partition", zap.String("thread", s.ID), zap.Error(err))
			w.metrics.snapshotFallbacks.Inc()
			w.threads, from = map[string]*domain.Thread{}, 0
			break
		}
		w.threads[s.ID] = t
	}
	events := 0
	err = w.plog.Replay(ctx, from, l.End, func(e domain.Event) {
		t := w.threads[e.ThreadID]
		if t == nil {
			t = domain.NewThread(e.ThreadID)
			w.threads[e.ThreadID] = t
		}
		if err := t.Apply(e); err != nil {
			w.log.Error("skipping an event that does not follow its thread", zap.String("event", e.ID), zap.Error(err))
		}
		// Replayed past the checkpoint: not in a snapshot yet.
		w.snap.changed(e.ThreadID)
		events++
	}, func(offset int64, err error) {
		w.log.Error("skipping an undecodable record", zap.Int64("offset", offset), zap.Error(err))
	})
	if err != nil {
		return err
	}
	numbers, err := snowflake.New(w.partition)
	if err != nil {
		return fmt.Errorf("numeric ids: %w", err)
	}
	for _, t := range w.threads {
		numbers.Observe(t.LastNumber())
	}
	w.numbers = numbers
	w.next = l.End
	w.ready.Store(true)
	w.metrics.replayed.Add(float64(events))
	w.metrics.takeoverSeconds.Observe(time.Since(start).Seconds())
	w.log.Info("partition loaded", zap.Int("threads", len(w.threads)), zap.Int("events", events),
		zap.Int64("from_offset", from), zap.Int64("end_offset", l.End), zap.Duration("took", time.Since(start)))
	return nil
}

// serve applies commands until ctx ends or a transaction fails.
func (w *writer) serve(ctx context.Context) error {
	batch := make([]request, 0, w.cfg.MaxBatch)
	for {
		batch = batch[:0]
		if w.snap.round != nil && len(w.in) == 0 && ctx.Err() == nil {
			// A snapshot under way and no command waiting: its next part.
			if err := w.snapshotPart(ctx); err != nil {
				return err
			}
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case r := <-w.in:
			batch = append(batch, r)
		}
	more:
		for len(batch) < w.cfg.MaxBatch {
			select {
			case r := <-w.in:
				batch = append(batch, r)
			default:
				break more
			}
		}
		if err := w.commit(ctx, batch); err != nil {
			return err
		}
		if err := w.snapshotPart(ctx); err != nil {
			return err
		}
	}
}

// snapshotPart writes the next part of a snapshot, if one is due or under
// way. Only a lost partition stops the writer: a snapshot that fails is
// tried again later.
func (w *writer) snapshotPart(ctx context.Context) error {
	err := w.snapshot(ctx)
	if err == nil || errors.Is(err, ErrLostOwnership) {
		return err
	}
	w.log.Warn("snapshot failed; trying again later", zap.Error(err))
	return nil
}

// commit decides every command of the batch in order, appends the events in
// one transaction and answers only once it committed.
//
// Each event is applied to its thread as soon as it is decided, before the
// transaction: the next command of the batch must see it (a post after a
// create, a second request with the same id). If the transaction fails, the
// in-memory state is ahead of the log; the writer stops serving and reloads
// the partition from the log (run), so no command is ever decided against
// state that was not committed.
func (w *writer) commit(ctx context.Context, batch []request) error {
	replies := make([]reply, len(batch))
	events := make([]eventlog.Outgoing, 0, maxEvents(batch))
	for i, r := range batch {
		if err := r.abandoned(); err != nil {
			replies[i].err = err
			continue
		}
		t := w.threads[r.threadID]
		if t == nil {
			t = domain.NewThread(r.threadID)
		}
		if imp, ok := r.cmd.(domain.Import); ok {
			imported, res, err := t.Import(imp, domain.ImportMeta{ActorID: r.meta.ActorID, CorrelationID: r.meta.CorrelationID,
				NewEventID: func() string { return ulid.Make().String() }})
			replies[i] = reply{result: domain.Result{Version: res.Version, Import: &res}, err: err, appended: len(imported) > 0}
			// Events applied before an error are appended too: the log
			// stays what the thread in memory folded.
			if len(imported) > 0 {
				w.threads[r.threadID] = t
				for _, e := range imported {
					events = append(events, eventlog.Outgoing{Event: e, Trace: r.trace})
				}
			}
			continue
		}
		r.meta.Now = time.Now().UTC()
		r.meta.EventID = ulid.Make().String()
		r.meta.NewMessageID = ulid.Make().String()
		r.meta.NewNumber = w.numbers.Next(r.meta.Now)
		e, res, err := t.Decide(r.cmd, r.meta)
		replies[i] = reply{result: res, err: err}
		if err != nil || e == nil {
			continue
		}
		if err := t.Apply(*e); err != nil {
			// Our own event does not fold: a bug, not the client's.
			replies[i] = reply{err: fmt.Errorf("event for %s: %w", r.cmd.Name(), err)}
			continue
		}
		w.threads[r.threadID] = t
		events = append(events, eventlog.Outgoing{Event: *e, Trace: r.trace})
		replies[i].appended = true
	}
	if len(events) > 0 {
		start := time.Now()
		appended, err := w.plog.Append(ctx, events)
		if err != nil {
			if errors.Is(err, eventlog.ErrFenced) {
				err = fmt.Errorf("%w (%v)", ErrLostOwnership, err)
			} else {
				err = fmt.Errorf("%w: %v", ErrNotCommitted, err)
			}
			for i := range batch {
				batch[i].reply <- reply{err: err}
			}
			return err
		}
		for i := range replies {
			if replies[i].appended {
				replies[i].committed = appended.Committing
			}
		}
		w.metrics.commitSeconds.Observe(time.Since(start).Seconds())
		w.metrics.batchSize.Observe(float64(len(events)))
		for _, e := range events {
			w.snap.changed(e.Event.ThreadID)
		}
		w.next = appended.Next
	}
	for i := range batch {
		batch[i].reply <- replies[i]
	}
	return nil
}

// maxEvents bounds the events a batch makes: one a command, an import's
// bound for an import (a bulk migration's batch is of thousands of events,
// and the slice would otherwise grow by copies).
func maxEvents(batch []request) int {
	n := 0
	for _, r := range batch {
		if imp, ok := r.cmd.(domain.Import); ok {
			n += imp.MaxEvents()
		} else {
			n++
		}
	}
	return n
}

// submit hands a command to the writer and waits for its answer.
func (w *writer) submit(ctx context.Context, r request) (Outcome, error) {
	r.abandoned = ctx.Err
	r.trace = trace.SpanContextFromContext(ctx)
	r.reply = make(chan reply, 1)
	select {
	case w.in <- r:
	case <-w.done:
		return Outcome{}, ErrLostOwnership
	case <-ctx.Done():
		return Outcome{}, ctx.Err()
	}
	select {
	case rep := <-r.reply:
		return rep.outcome()
	case <-w.done:
		// The writer may have answered just before it stopped.
		select {
		case rep := <-r.reply:
			return rep.outcome()
		default:
			return Outcome{}, ErrLostOwnership
		}
	case <-ctx.Done():
		// The command may still commit; a retry with its request id gets
		// the answer.
		return Outcome{}, ctx.Err()
	}
}

func (r reply) outcome() (Outcome, error) {
	return Outcome{Result: r.result, Committed: r.committed}, r.err
}

// drain answers every queued command once the writer stops.
func (w *writer) drain() {
	for {
		select {
		case r := <-w.in:
			r.reply <- reply{err: ErrLostOwnership}
		default:
			return
		}
	}
}
