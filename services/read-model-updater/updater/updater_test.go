package updater_test

import (
	"context"
	"flag"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/pebblestore"
	"github.com/falcon-chat/falcon/libs/readmodel"
	"github.com/falcon-chat/falcon/libs/readstore"
	"github.com/falcon-chat/falcon/libs/testenv"
	"github.com/falcon-chat/falcon/libs/tracing"
	"github.com/falcon-chat/falcon/services/read-model-updater/updater"
)

func startUpdater(t *testing.T, brokers, topic string, store readstore.Store, flags ...string) (stop func()) {
	t.Helper()
	var cfg updater.Config
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	cfg.BatchSize = 16
	if err := fs.Parse(flags); err != nil {
		t.Fatal(err)
	}
	cfg.Kafka.Brokers = []string{brokers}
	cfg.Kafka.Topic = topic
	cfg.Group = topic + "_updater"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	u, err := updater.New(cfg, store, testenv.Logger(t), prometheus.NewRegistry(), tracing.Off().Provider)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("updater: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// TestRestartMidStreamMissesNothing stops the updater part-way through the
// topic and starts a new one on the same store: every thread ends at its
// last version with every message, none twice; with batches applied as
// soon as nothing waits (the default) and with batches lingering to fill.
// Also when the events are imported ones, a run of a thread's in a record.
func TestRestartMidStreamMissesNothing(t *testing.T) {
	for _, wait := range []string{"0", "5ms"} {
		t.Run("batch-wait="+wait, func(t *testing.T) { restartMidStream(t, false, "--batch-wait", wait) })
	}
	t.Run("imported runs", func(t *testing.T) { restartMidStream(t, true) })
}

func restartMidStream(t *testing.T, imported bool, flags ...string) {
	brokers, topic := testenv.Kafka(t), testenv.Name(t, "events")
	store, err := pebblestore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	testenv.CreateTopic(t, brokers, topic, 4)
	h := testenv.NewHistory(t)
	for i := range 8 {
		id := ulid.Make().String()
		h.Do(id, "alice", domain.CreateThread{Title: fmt.Sprint("thread ", i), MemberIDs: []string{"bob"}})
		for v := 1; v < 60; v++ {
			h.Do(id, "alice", domain.PostMessage{Body: fmt.Sprint("message ", v)})
		}
	}
	events := h.Events
	for i := range events {
		events[i].Imported = imported
	}
	testenv.Produce(t, brokers, topic, 4, events)
	reader := readmodel.NewReader(store)
	applied := func() uint64 {
		var sum uint64
		seen := map[string]bool{}
		for _, e := range events {
			if seen[e.ThreadID] {
				continue
			}
			seen[e.ThreadID] = true
			th, _, err := reader.Thread(context.Background(), e.ThreadID)
			if err != nil {
				t.Fatal(err)
			}
			sum += th.Version
		}
		return sum
	}
	stop := startUpdater(t, brokers, topic, store, flags...)
	testenv.Eventually(t, 30*time.Second, "part of the events applied", func() bool { return applied() >= 100 })
	stop()
	startUpdater(t, brokers, topic, store, flags...)
	testenv.Eventually(t, 30*time.Second, "every event applied", func() bool { return applied() == uint64(len(events)) })

	byThread := map[string]int{}
	for _, e := range events {
		byThread[e.ThreadID]++
	}
	for tid, n := range byThread {
		th, _, _ := reader.Thread(context.Background(), tid)
		msgs, err := reader.Messages(context.Background(), tid, "", false, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if th.Version != uint64(n) || len(msgs) != n-1 || th.MessageCount != uint64(n-1) {
			t.Fatalf("thread %s: version %d, %d messages listed, count %d; want %d, %d, %d",
				tid, th.Version, len(msgs), th.MessageCount, n, n-1, n-1)
		}
	}
	listed, err := reader.AccountThreads(context.Background(), "bob", nil, 100)
	if err != nil || len(listed) != len(byThread) {
		t.Fatalf("bob lists %d threads (%v), want %d", len(listed), err, len(byThread))
	}
}

// TestPauseIsAcknowledgedOnlyOnceNothingIsApplied: an updater that sees a
// rebuild's pause acknowledges it in its heartbeat, and applies nothing
// from then until the pause ends; a pointer it cannot read holds it too.
func TestPauseIsAcknowledgedOnlyOnceNothingIsApplied(t *testing.T) {
	brokers, topic := testenv.Kafka(t), testenv.Name(t, "events")
	store, err := pebblestore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ctx := context.Background()
	first := testenv.ProduceThreads(t, brokers, topic, 2, 2, 5)
	startUpdater(t, brokers, topic, store)
	reader := readmodel.NewReader(store)
	version := func(id string) uint64 {
		th, _, err := reader.Thread(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return th.Version
	}
	tid := first[0].ThreadID
	testenv.Eventually(t, 30*time.Second, "the first events applied", func() bool { return version(tid) == 5 })

	if err := readmodel.StoreState(ctx, store, readmodel.State{Paused: true, PauseID: "rebuild-1"}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "the pause acknowledged", func() bool {
		ups, err := readmodel.Updaters(ctx, store)
		return err == nil && len(ups) == 1 && ups[0].Ack == "rebuild-1"
	})
	h := testenv.NewHistory(t)
	h.Do("01JD0000000000000000000009", "alice", domain.CreateThread{Title: "during the pause"})
	testenv.Produce(t, brokers, topic, 2, h.Events)
	time.Sleep(2 * readmodel.PollInterval)
	if _, ok, _ := reader.Thread(ctx, "01JD0000000000000000000009"); ok {
		t.Fatal("an event was applied after the pause was acknowledged")
	}
	if err := readmodel.StoreState(ctx, store, readmodel.State{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "the held event applied after the pause", func() bool {
		_, ok, _ := reader.Thread(ctx, "01JD0000000000000000000009")
		return ok
	})
}

func TestConfigRefusesANegativeBatchWait(t *testing.T) {
	var cfg updater.Config
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	cfg.Kafka.Brokers = []string{"127.0.0.1:9092"}
	for _, c := range []struct {
		wait string
		ok   bool
	}{{"0", true}, {"5ms", true}, {"-1ms", false}} {
		if err := fs.Parse([]string{"--batch-wait", c.wait}); err != nil {
			t.Fatal(err)
		}
		if err := cfg.Validate(); (err == nil) != c.ok {
			t.Errorf("--batch-wait %s: Validate() = %v, want ok=%v", c.wait, err, c.ok)
		}
	}
}
