package eventlog_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/eventlog"
	"github.com/falcon-chat/falcon/libs/testenv"
)

// TestSnapshotRoundsInParts: a new owner reads the latest snapshot of each
// thread from where the last checkpoint says (a round under way included,
// nothing before it) and that checkpoint, which only a round's last part
// writes. The writer names where to read from with the ends WriteSnapshots
// and Load give.
func TestSnapshotRoundsInParts(t *testing.T) {
	brokers := testenv.Kafka(t)
	topic := testenv.Name(t, "snaps")
	testenv.CreateTopic(t, brokers, topic, 1)
	testenv.CreateTopic(t, brokers, eventlog.SnapshotsTopic(topic), 1)
	kafka := eventlog.Config{Brokers: []string{brokers}, Topic: topic}
	client, err := kafka.Client("test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	ctx := testenv.Context(t, 60*time.Second)
	id := testenv.Name(t, "writer")
	open := func() *eventlog.TxnLog {
		t.Helper()
		l := eventlog.NewTxnLog(eventlog.TxnLogConfig{Kafka: kafka, TransactionalID: id, TxnTimeout: 10 * time.Second,
			MaxBatch: 100, Snapshots: true}, client)
		t.Cleanup(func() { _ = l.Close() })
		return l
	}
	// Events for the checkpoints to point into (a checkpoint past the end
	// of the partition is not believed).
	first := open()
	if _, err := first.Load(ctx); err != nil {
		t.Fatal(err)
	}
	events := make([]eventlog.Outgoing, 10)
	for i := range events {
		events[i].Event = domain.Event{ID: fmt.Sprintf("e%d", i), ThreadID: "x", Version: uint64(i + 1), OccurredAt: time.Now(),
			ActorID: "alice", Payload: domain.MembersAdded{AccountIDs: []string{"bob"}}}
	}
	if _, err := first.Append(ctx, events); err != nil {
		t.Fatal(err)
	}
	snap := func(id string, version uint64) domain.Snapshot { return domain.Snapshot{ID: id, Version: version} }
	type part struct {
		snaps []domain.Snapshot
		last  bool
		next  int64
	}
	// rounds[i] is where the i-th round began: the end before its first
	// part.
	var rounds []int64
	for _, c := range []struct {
		name   string
		parts  []part
		from   int               // the round a new owner reads from
		want   []domain.Snapshot // by id
		wantAt int64
	}{
		{"a round in three parts", []part{
			{[]domain.Snapshot{snap("a", 1)}, false, 0},
			{[]domain.Snapshot{snap("b", 1)}, false, 0},
			{[]domain.Snapshot{snap("c", 1)}, true, 5},
		}, 0, []domain.Snapshot{snap("a", 1), snap("b", 1), snap("c", 1)}, 5},
		{"then a round of what changed, and one under way", []part{
			{[]domain.Snapshot{snap("a", 2)}, true, 7},
			{[]domain.Snapshot{snap("b", 3)}, false, 0},
		}, 0, []domain.Snapshot{snap("a", 2), snap("b", 3), snap("c", 1)}, 7},
		{"a round of other threads read from its beginning: nothing older is read", []part{
			{[]domain.Snapshot{snap("d", 1)}, false, 0},
			{[]domain.Snapshot{snap("e", 1)}, true, 9},
		}, 3, []domain.Snapshot{snap("d", 1), snap("e", 1)}, 9},
	} {
		l := open()
		loaded, err := l.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		end := loaded.SnapshotsEnd
		for i, p := range c.parts {
			if i == 0 || c.parts[i-1].last {
				rounds = append(rounds, end)
			}
			var err error
			end, err = l.WriteSnapshots(ctx, p.snaps, eventlog.SnapshotPart{Last: p.last, Next: p.next, FullFrom: rounds[c.from]})
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
		}
		// Whatever part came last, the last record is the checkpoint in
		// force: a new owner looks for it among the last records only.
		var last eventlog.Record
		end, err = client.GetOffset(eventlog.SnapshotsTopic(topic), 0, sarama.OffsetNewest)
		if err != nil {
			t.Fatal(err)
		}
		if err := eventlog.ReadCommitted(ctx, client, eventlog.SnapshotsTopic(topic), 0, 0, end, func(r eventlog.Record) error {
			last = r
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if cp, err := eventlog.DecodeCheckpoint(last.Value); string(last.Key) != eventlog.CheckpointKey || err != nil || cp.NextOffset != c.wantAt {
			t.Errorf("%s: the last record is %q %v (%+v), want the checkpoint at %d", c.name, last.Key, err, cp, c.wantAt)
		}
		loaded, err = open().Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(loaded.Snapshots, func(a, b domain.Snapshot) int { return cmpString(a.ID, b.ID) })
		var got []domain.Snapshot
		for _, s := range loaded.Snapshots {
			got = append(got, domain.Snapshot{ID: s.ID, Version: s.Version})
		}
		if !slices.EqualFunc(got, c.want, func(a, b domain.Snapshot) bool { return a.ID == b.ID && a.Version == b.Version }) ||
			loaded.From != c.wantAt || loaded.SnapshotsErr != nil {
			t.Errorf("%s: a new owner loads %+v from %d (%v); want %+v from %d", c.name, got, loaded.From, loaded.SnapshotsErr, c.want, c.wantAt)
		}
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
