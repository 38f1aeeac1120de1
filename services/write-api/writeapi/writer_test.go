package writeapi

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/eventlog"
	"github.com/falcon-chat/falcon/libs/snowflake"
)

// memPartition is one partition of an event log in memory, shared by the
// writers that take it in turn: each Load makes a new epoch, and a handle
// of an older epoch is fenced, as a transactional id is on Kafka.
type memPartition struct {
	mu     sync.Mutex
	epoch  int
	events []domain.Event
	// snaps is the snapshots partition: snapshots and checkpoints, as a
	// writer writes them on Kafka; checkpoint is the last checkpoint's
	// events offset, and readCost the cost of the snapshots the last Load
	// read (as the writer's policy counts them).
	snaps      []memSnapRecord
	checkpoint int64
	readCost   int
	// unread are the threads a checkpoint left before where it says to
	// read from: a new owner loading then would not find them.
	unread []string
	// beforeAppend, if set, runs before each append (outside the lock): to
	// hold a transaction open or fail it.
	beforeAppend func(events []domain.Event) error
	appends      [][]domain.Event
	snapshotted  []snapshotCall
	loads        int
	// beforeSnapshots, if set, runs before each part of a snapshot is
	// written (outside the lock): to fail it or act meanwhile.
	beforeSnapshots func(part eventlog.SnapshotPart) error
	// ops are the appends ("append") and snapshot parts ("part") in order.
	ops []string
}

// snapshotCall is one part of a snapshot written.
type snapshotCall struct {
	threads int
	eventlog.SnapshotPart
}

// memSnapRecord is a record of the snapshots partition: a thread's
// snapshot or a checkpoint.
type memSnapRecord struct {
	snap       domain.Snapshot
	checkpoint *eventlog.Checkpoint
}

func newMemPartition() *memPartition { return &memPartition{} }

// log returns a new handle, as a new writer's producer would be.
func (p *memPartition) log() *memLog { return &memLog{p: p} }

type memLog struct {
	p     *memPartition
	epoch int
}

func (l *memLog) Load(context.Context) (eventlog.Loaded, error) {
	l.p.mu.Lock()
	defer l.p.mu.Unlock()
	l.p.epoch++
	l.epoch = l.p.epoch
	l.p.loads++
	// As eventlog.TxnLog reads Kafka: the last checkpoint, then the latest
	// snapshot of each thread from where it says.
	out := eventlog.Loaded{End: int64(len(l.p.events)), SnapshotsEnd: int64(len(l.p.snaps))}
	var last eventlog.Checkpoint
	for _, r := range l.p.snaps {
		if r.checkpoint != nil {
			last = *r.checkpoint
		}
	}
	latest := map[string]int{}
	l.p.readCost = 0
	for _, r := range l.p.snaps[last.FullFrom:] {
		if r.checkpoint != nil {
			continue
		}
		l.p.readCost += snapshotThreadCost + len(r.snap.Messages)
		if i, ok := latest[r.snap.ID]; ok {
			out.Snapshots[i] = r.snap
		} else {
			latest[r.snap.ID] = len(out.Snapshots)
			out.Snapshots = append(out.Snapshots, r.snap)
		}
	}
	out.From = last.NextOffset
	return out, nil
}

func (l *memLog) Replay(_ context.Context, from, end int64, fn func(domain.Event), _ func(int64, error)) error {
	l.p.mu.Lock()
	events := append([]domain.Event(nil), l.p.events[from:end]...)
	l.p.mu.Unlock()
	for _, e := range events {
		fn(e)
	}
	return nil
}

func (l *memLog) fenced() error {
	if l.epoch != l.p.epoch {
		return fmt.Errorf("%w: epoch %d, the partition is at %d", eventlog.ErrFenced, l.epoch, l.p.epoch)
	}
	return nil
}

func (l *memLog) Append(_ context.Context, outgoing []eventlog.Outgoing) (eventlog.Appended, error) {
	events := make([]domain.Event, len(outgoing))
	for i, o := range outgoing {
		events[i] = o.Event
	}
	if hook := l.p.beforeAppend; hook != nil {
		if err := hook(events); err != nil {
			return eventlog.Appended{}, err
		}
	}
	l.p.mu.Lock()
	defer l.p.mu.Unlock()
	committing := time.Now()
	if err := l.fenced(); err != nil {
		return eventlog.Appended{}, err
	}
	l.p.events = append(l.p.events, events...)
	l.p.appends = append(l.p.appends, events)
	l.p.ops = append(l.p.ops, "append")
	return eventlog.Appended{Next: int64(len(l.p.events)), Committing: committing}, nil
}

// WriteSnapshots appends the snapshots and, for a round's last part, its
// checkpoint, as eventlog.TxnLog does on Kafka.
func (l *memLog) WriteSnapshots(_ context.Context, snaps []domain.Snapshot, part eventlog.SnapshotPart) (int64, error) {
	if hook := l.p.beforeSnapshots; hook != nil {
		if err := hook(part); err != nil {
			return 0, err
		}
	}
	l.p.mu.Lock()
	defer l.p.mu.Unlock()
	if err := l.fenced(); err != nil {
		return 0, err
	}
	for _, s := range snaps {
		l.p.snaps = append(l.p.snaps, memSnapRecord{snap: s})
	}
	if part.Last {
		l.p.checkpoint = part.Next
		l.p.snaps = append(l.p.snaps, memSnapRecord{checkpoint: &eventlog.Checkpoint{NextOffset: part.Next, FullFrom: part.FullFrom}})
		latest := map[string]int{}
		for i, r := range l.p.snaps {
			if r.checkpoint == nil {
				latest[r.snap.ID] = i
			}
		}
		for id, i := range latest {
			if int64(i) < part.FullFrom {
				l.p.unread = append(l.p.unread, id)
			}
		}
	}
	l.p.snapshotted = append(l.p.snapshotted, snapshotCall{threads: len(snaps), SnapshotPart: part})
	l.p.ops = append(l.p.ops, "part")
	return int64(len(l.p.snaps)), nil
}

func (l *memLog) Close() error { return nil }

// testWriter is a running writer; stop ends it (and is done at cleanup).
type testWriter struct {
	*writer
	stop func()
}

// startWriter runs a writer on a handle of p until the test ends.
func startWriter(t *testing.T, p *memPartition, cfg writerConfig) testWriter {
	t.Helper()
	w := newWriter(0, cfg, zap.NewNop(), p.log(), newMetrics(prometheus.NewRegistry()))
	ctx, cancel := context.WithCancel(context.Background())
	go w.run(ctx)
	stop := func() {
		cancel()
		<-w.done
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(5 * time.Second)
	for !w.ready.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the writer did not load")
		}
		time.Sleep(time.Millisecond)
	}
	return testWriter{w, stop}
}

func do(w testWriter, thread, actor, requestID string, cmd domain.Command) (domain.Result, error) {
	o, err := w.submit(context.Background(), request{threadID: thread, cmd: cmd, meta: domain.Meta{ActorID: actor, RequestID: requestID}})
	return o.Result, err
}

// versionsOf checks the partition's events: each thread's versions run 1,
// 2, 3... and each request id appears once.
func versionsOf(t *testing.T, p *memPartition) map[string]uint64 {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	last := map[string]uint64{}
	seen := map[string]bool{}
	for _, e := range p.events {
		if e.Version != last[e.ThreadID]+1 {
			t.Fatalf("thread %s: version %d after %d", e.ThreadID, e.Version, last[e.ThreadID])
		}
		last[e.ThreadID] = e.Version
		if seen[e.RequestID] {
			t.Fatalf("request %s appended twice", e.RequestID)
		}
		seen[e.RequestID] = true
	}
	return last
}

func TestWriterAnswersEachCommandWithItsCommittedVersion(t *testing.T) {
	p := newMemPartition()
	w := startWriter(t, p, writerConfig{MaxBatch: 16})
	threads := []string{ulid.Make().String(), ulid.Make().String()}
	for _, id := range threads {
		if _, err := do(w, id, "alice", id, domain.CreateThread{Title: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	answers := make(chan domain.Result, 100)
	for c := 0; c < 10; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 10; n++ {
				res, err := do(w, threads[(c+n)%2], "alice", ulid.Make().String(), domain.PostMessage{Body: "m"})
				if err != nil {
					t.Error(err)
					return
				}
				answers <- res
			}
		}()
	}
	wg.Wait()
	close(answers)
	last := versionsOf(t, p)
	if last[threads[0]]+last[threads[1]] != 102 {
		t.Fatalf("versions %v: want 51 each", last)
	}
	got := map[uint64]int{}
	for a := range answers {
		got[a.Version]++
	}
	for v := uint64(2); v <= 51; v++ {
		if got[v] != 2 {
			t.Fatalf("version %d answered %d times, want once per thread", v, got[v])
		}
	}
}

func TestWriterCommitsWhatQueuedInOneTransaction(t *testing.T) {
	p := newMemPartition()
	w := startWriter(t, p, writerConfig{MaxBatch: 4})
	tid := ulid.Make().String()
	if _, err := do(w, tid, "alice", tid, domain.CreateThread{Title: "t"}); err != nil {
		t.Fatal(err)
	}
	// Hold the next transaction open until ten more commands queued.
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	p.beforeAppend = func([]domain.Event) error {
		once.Do(func() { close(held); <-release })
		return nil
	}
	post := func(wg *sync.WaitGroup) {
		defer wg.Done()
		if _, err := do(w, tid, "alice", ulid.Make().String(), domain.PostMessage{Body: "m"}); err != nil {
			t.Error(err)
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go post(&wg)
	<-held
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go post(&wg)
	}
	for len(w.in) < 10 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	p.mu.Lock()
	sizes := []int{}
	for _, a := range p.appends[1:] {
		sizes = append(sizes, len(a))
	}
	p.mu.Unlock()
	// The held transaction carried one post; the ten queued went in
	// groups of at most MaxBatch.
	if fmt.Sprint(sizes) != "[1 4 4 2]" {
		t.Fatalf("transactions of %v posts, want [1 4 4 2]", sizes)
	}
	versionsOf(t, p)
}

func TestWriterReloadsAfterAFailedCommit(t *testing.T) {
	p := newMemPartition()
	w := startWriter(t, p, writerConfig{MaxBatch: 8})
	tid := ulid.Make().String()
	if _, err := do(w, tid, "alice", tid, domain.CreateThread{Title: "t"}); err != nil {
		t.Fatal(err)
	}
	failed := false
	p.beforeAppend = func([]domain.Event) error {
		if !failed {
			failed = true
			return errors.New("broker unavailable")
		}
		return nil
	}
	req := ulid.Make().String()
	if _, err := do(w, tid, "alice", req, domain.PostMessage{Body: "lost"}); !errors.Is(err, ErrNotCommitted) {
		t.Fatalf("post during a failed commit: %v, want ErrNotCommitted", err)
	}
	// The writer reloads from the log (the failed post is not in it) and
	// the retry with the same request id is applied, once.
	res, err := do(w, tid, "alice", req, domain.PostMessage{Body: "lost"})
	if err != nil || res.Version != 2 {
		t.Fatalf("retry: %+v, %v; want version 2", res, err)
	}
	if again, err := do(w, tid, "alice", req, domain.PostMessage{Body: "lost"}); err != nil || !again.Replayed ||
		again.Version != res.Version || again.MessageID != res.MessageID {
		t.Fatalf("second retry: %+v, %v; want the first answer %+v", again, err, res)
	}
	if last := versionsOf(t, p); last[tid] != 2 {
		t.Fatalf("the log has version %d, want 2", last[tid])
	}
	if p.loads != 2 {
		t.Fatalf("the partition was loaded %d times, want 2", p.loads)
	}
}

func TestFencedWriterStopsAndItsSuccessorCarriesOn(t *testing.T) {
	p := newMemPartition()
	old := startWriter(t, p, writerConfig{MaxBatch: 8})
	tid := ulid.Make().String()
	if _, err := do(old, tid, "alice", tid, domain.CreateThread{Title: "t"}); err != nil {
		t.Fatal(err)
	}
	successor := startWriter(t, p, writerConfig{MaxBatch: 8})
	if _, err := do(old, tid, "alice", ulid.Make().String(), domain.PostMessage{Body: "zombie"}); !errors.Is(err, ErrLostOwnership) {
		t.Fatalf("a post to the fenced writer: %v, want ErrLostOwnership", err)
	}
	select {
	case <-old.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the fenced writer did not stop")
	}
	if !old.lost.Load() {
		t.Fatal("the fenced writer does not say it lost the partition")
	}
	res, err := do(successor, tid, "alice", ulid.Make().String(), domain.PostMessage{Body: "next"})
	if err != nil || res.Version != 2 {
		t.Fatalf("post to the successor: %+v, %v; want version 2", res, err)
	}
	versionsOf(t, p)
}

// TestWriterSnapshotsChangedThreadsAndMovesIdleOnesForward: the first round
// after a load holds every thread, the next ones the threads changed since;
// idle threads are rewritten only once the snapshots a new owner would
// read pass snapshotSpan times the latest ones, so that what it reads stays
// bounded however long one thread keeps changing, while rewriting them
// costs less than writing the changed ones; and a successor restores every
// thread from there.
func TestWriterSnapshotsChangedThreadsAndMovesIdleOnesForward(t *testing.T) {
	p := newMemPartition()
	w := startWriter(t, p, writerConfig{MaxBatch: 1, SnapshotEvery: 3})
	threads := make([]string, 4)
	versions := make([]uint64, len(threads))
	post := func(i int) {
		t.Helper()
		res, err := do(w, threads[i], "alice", ulid.Make().String(), domain.PostMessage{Body: "m"})
		if err != nil {
			t.Fatal(err)
		}
		versions[i] = res.Version
	}
	for i := range threads {
		threads[i] = ulid.Make().String()
		if _, err := do(w, threads[i], "alice", threads[i], domain.CreateThread{Title: "t"}); err != nil {
			t.Fatal(err)
		}
		versions[i] = 1
	}
	p.mu.Lock()
	first := slices.Clone(p.snapshotted)
	p.mu.Unlock()
	if len(first) != 1 || first[0].threads != 3 {
		t.Fatalf("rounds after 4 creates: %+v, want one of the 3 threads then (the first since the load)", first)
	}
	// Idle threads with some history, then one thread that keeps changing.
	for i := 1; i < len(threads); i++ {
		for range 30 {
			post(i)
		}
	}
	for range 600 {
		post(0)
	}

	// Each snapshot either follows a change of its thread or moves an
	// unchanged one forward.
	p.mu.Lock()
	var changed, moved int
	last := map[string]uint64{}
	for _, r := range p.snaps {
		if r.checkpoint != nil {
			continue
		}
		c := snapshotThreadCost + len(r.snap.Messages)
		if v, ok := last[r.snap.ID]; ok && v == r.snap.Version {
			moved += c
		} else {
			changed += c
		}
		last[r.snap.ID] = r.snap.Version
	}
	unread := p.unread
	p.mu.Unlock()
	t.Logf("snapshots written: %d of changed threads, %d of idle ones moved forward (costs)", changed, moved)
	if len(unread) > 0 {
		t.Fatalf("%d times a checkpoint left a thread's latest snapshot before where a new owner reads (first: thread %s)", len(unread), unread[0])
	}
	if moved == 0 || moved > changed {
		t.Fatalf("idle threads moved at a cost of %d against %d for the changed ones; want some, less", moved, changed)
	}

	// A successor restores the snapshots and replays only what followed,
	// reading at most snapshotSpan times the latest snapshots and a round.
	successor := startWriter(t, p, writerConfig{MaxBatch: 1, SnapshotEvery: 3})
	p.mu.Lock()
	events, checkpoint, read, live := len(p.events), p.checkpoint, p.readCost, 0
	p.mu.Unlock()
	for _, s := range successor.threads {
		live += cost(s)
	}
	if n := events - int(checkpoint); n >= 3 {
		t.Fatalf("%d events after the last checkpoint, want fewer than SnapshotEvery", n)
	}
	if round := cost(successor.threads[threads[0]]); read > snapshotSpan*live+round {
		t.Fatalf("the successor read snapshots of cost %d for threads of cost %d", read, live)
	}
	w = successor
	for i := range threads {
		want := versions[i] + 1
		if post(i); versions[i] != want {
			t.Fatalf("thread %d after the takeover: version %d, want %d", i, versions[i], want)
		}
	}
	versionsOf(t, p)
}

// TestWriterWritesASnapshotInPartsBetweenCommands: a round of snapshots is
// written a part at a time, and a command that arrives meanwhile is
// committed before the round's next part, not after the whole round.
func TestWriterWritesASnapshotInPartsBetweenCommands(t *testing.T) {
	p := newMemPartition()
	cfg := writerConfig{MaxBatch: 1, SnapshotEvery: 4, SnapshotPartMessages: 1} // a thread a part
	w := startWriter(t, p, cfg)
	threads := make([]string, 4)
	posted := make(chan error, 1)
	var parts atomic.Int32
	p.beforeSnapshots = func(eventlog.SnapshotPart) error {
		if parts.Add(1) != 1 {
			return nil
		}
		// A client posts while the first part is written: it waits in the
		// writer's queue for the part to end.
		go func() {
			_, err := do(w, threads[0], "alice", ulid.Make().String(), domain.PostMessage{Body: "meanwhile"})
			posted <- err
		}()
		for len(w.in) == 0 {
			time.Sleep(time.Millisecond)
		}
		return nil
	}
	for i := range threads {
		threads[i] = ulid.Make().String()
		if _, err := do(w, threads[i], "alice", threads[i], domain.CreateThread{Title: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-posted; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the round's last part", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.snapshotted) == 4
	})
	p.mu.Lock()
	calls, ops, checkpoint := p.snapshotted, strings.Join(p.ops, " "), p.checkpoint
	p.mu.Unlock()
	for i, c := range calls {
		want := snapshotCall{threads: 1, SnapshotPart: eventlog.SnapshotPart{Last: i == 3, Next: 4}}
		if c != want {
			t.Errorf("part %d: %+v, want %+v", i, c, want)
		}
	}
	// The post was committed right after the first part.
	if want := "append append append append part append part part part"; ops != want {
		t.Errorf("appends and parts in the order %q, want %q", ops, want)
	}
	// The checkpoint is where the round began: the post after it is
	// replayed by a successor, onto its thread's snapshot or not.
	if checkpoint != 4 {
		t.Errorf("checkpoint at %d, want 4", checkpoint)
	}
	successor := startWriter(t, p, cfg)
	if res, err := do(successor, threads[0], "alice", ulid.Make().String(), domain.PostMessage{Body: "m"}); err != nil || res.Version != 3 {
		t.Fatalf("post after the takeover: %+v, %v; want version 3", res, err)
	}
	versionsOf(t, p)
}

// TestASnapshotRoundThatFailsIsWrittenAgain: a round that fails in its
// middle has no checkpoint, so none of its parts counts: its threads are
// snapshotted again in the next round, whatever that round's own changes,
// and a successor after it replays only what followed.
func TestASnapshotRoundThatFailsIsWrittenAgain(t *testing.T) {
	p := newMemPartition()
	cfg := writerConfig{MaxBatch: 1, SnapshotEvery: 4, SnapshotPartMessages: 1}
	w := startWriter(t, p, cfg)
	var failed atomic.Bool
	p.beforeSnapshots = func(part eventlog.SnapshotPart) error {
		p.mu.Lock()
		n := len(p.snapshotted)
		p.mu.Unlock()
		// The second round's third part.
		if n == 6 && failed.CompareAndSwap(false, true) {
			return errors.New("the broker went away")
		}
		return nil
	}
	parts := func() []snapshotCall {
		p.mu.Lock()
		defer p.mu.Unlock()
		return slices.Clone(p.snapshotted)
	}
	post := func(w testWriter, thread string) domain.Result {
		t.Helper()
		res, err := do(w, thread, "alice", ulid.Make().String(), domain.PostMessage{Body: "m"})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	threads := make([]string, 4)
	for i := range threads {
		threads[i] = ulid.Make().String()
		if _, err := do(w, threads[i], "alice", threads[i], domain.CreateThread{Title: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the first round", func() bool { return len(parts()) == 4 })
	// A post to each thread: the second round, of the four changed, fails
	// after two of its parts.
	for _, id := range threads {
		post(w, id)
	}
	waitFor(t, "the failed part", failed.Load)
	// Four more events, all of the first thread: the third round holds
	// the four threads of the failed one.
	for range 4 {
		post(w, threads[0])
	}
	waitFor(t, "the third round", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.checkpoint == 12
	})
	third := parts()[6:]
	if len(third) != 4 || !third[3].Last {
		t.Fatalf("the third round was written in %+v; want 4 parts of one thread", third)
	}
	successor := startWriter(t, p, cfg)
	for i, id := range threads {
		want := uint64(3)
		if i == 0 {
			want = 7
		}
		if res := post(successor, id); res.Version != want {
			t.Fatalf("thread %d after the takeover: version %d, want %d", i, res.Version, want)
		}
	}
	versionsOf(t, p)
}

// waitFor polls cond until it holds, for at most 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 5 s", what)
		}
	}
}

// TestCommandsToUnknownThreadsLeaveNoState: a command naming a thread that
// does not exist is refused and leaves nothing in memory; only a create
// makes state.
func TestCommandsToUnknownThreadsLeaveNoState(t *testing.T) {
	p := newMemPartition()
	w := startWriter(t, p, writerConfig{MaxBatch: 8})
	for i := 0; i < 100; i++ {
		_, err := do(w, ulid.Make().String(), "mallory", ulid.Make().String(), domain.PostMessage{Body: "x"})
		var de *domain.Error
		if !errors.As(err, &de) || de.Kind != domain.NotFound {
			t.Fatalf("post to an unknown thread: %v, want NotFound", err)
		}
	}
	tid := ulid.Make().String()
	if _, err := do(w, tid, "alice", tid, domain.CreateThread{Title: "t"}); err != nil {
		t.Fatal(err)
	}
	w.stop()
	if n := len(w.threads); n != 1 {
		t.Fatalf("the writer holds %d threads, want 1", n)
	}
}

// TestNumericIDsIncreaseAcrossATakeover: every thread and message gets a
// numeric id of the partition, answered to the client and carried by its
// event; the successor of a fenced writer, loading snapshots and the events
// after them, continues after the last id.
func TestNumericIDsIncreaseAcrossATakeover(t *testing.T) {
	p := newMemPartition()
	old := startWriter(t, p, writerConfig{MaxBatch: 8, SnapshotEvery: 10})
	tid := ulid.Make().String()
	created, err := do(old, tid, "alice", tid, domain.CreateThread{Title: "t"})
	if err != nil {
		t.Fatal(err)
	}
	answered := []uint64{created.Number}
	post := func(w testWriter) {
		t.Helper()
		res, err := do(w, tid, "alice", ulid.Make().String(), domain.PostMessage{Body: "m"})
		if err != nil {
			t.Fatal(err)
		}
		answered = append(answered, res.Number)
	}
	for i := 0; i < 25; i++ {
		post(old)
	}
	successor := startWriter(t, p, writerConfig{MaxBatch: 8, SnapshotEvery: 10})
	for i := 0; i < 5; i++ {
		post(successor)
	}
	var carried []uint64
	p.mu.Lock()
	for _, e := range p.events {
		switch pl := e.Payload.(type) {
		case domain.ThreadCreated:
			carried = append(carried, pl.Number)
		case domain.MessagePosted:
			carried = append(carried, pl.Number)
		}
	}
	p.mu.Unlock()
	if !slices.Equal(carried, answered) {
		t.Fatalf("the events carry %v, the answers said %v", carried, answered)
	}
	for i, n := range answered {
		if snowflake.IsLegacy(n) || snowflake.Partition(n) != 0 || i > 0 && n <= answered[i-1] {
			t.Fatalf("id %d (%d of %v) is not a new id of partition 0 after the one before", n, i, answered)
		}
	}
}
