package forwarder

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/legacysim"
	"github.com/falcon-chat/falcon/libs/testenv"
	"github.com/falcon-chat/falcon/libs/tracing"
)

func TestBackoffIsCappedWithFullJitter(t *testing.T) {
	b := backoff{base: 100 * time.Millisecond, max: time.Second}
	for attempt := 1; attempt <= 40; attempt++ {
		ceiling := min(b.base<<min(attempt-1, 30), b.max)
		for i := 0; i < 50; i++ {
			if d := b.delay(attempt); d < 0 || d > ceiling {
				t.Fatalf("attempt %d: delay %s outside [0, %s]", attempt, d, ceiling)
			}
		}
	}
}

// flaky fails some deliveries before the stand-in sees them: 503s, and
// connections dropped without an answer.
type flaky struct {
	next  http.Handler
	calls atomic.Int64
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch n := f.calls.Add(1); {
	case n%5 == 0:
		http.Error(w, "legacy overloaded", http.StatusServiceUnavailable)
	case n%7 == 0:
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	default:
		f.next.ServeHTTP(w, r)
	}
}

// startLegacy serves the legacy stand-in, wrapped by wrap, until the test
// ends; it records what it accepts in the file out.
func startLegacy(t *testing.T, wrap func(http.Handler) http.Handler) (out string, legacy *httptest.Server) {
	t.Helper()
	out = filepath.Join(t.TempDir(), "received.jsonl")
	sim, err := legacysim.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	legacy = httptest.NewServer(wrap(sim))
	t.Cleanup(func() {
		legacy.Close()
		_ = sim.Close()
	})
	return out, legacy
}

func startForwarder(t *testing.T, brokers, topic, url string) (stop func()) {
	t.Helper()
	var cfg Config
	cfg.RegisterFlags(flagSet())
	cfg.Kafka.Brokers = []string{brokers}
	cfg.Kafka.Topic = topic
	cfg.Group = topic + "_forwarder"
	cfg.LegacyURL = url
	cfg.BackoffBase, cfg.BackoffMax = 5*time.Millisecond, 50*time.Millisecond
	f, err := New(cfg, testenv.Logger(t), prometheus.NewRegistry(), tracing.Off().Provider)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("forwarder: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func TestDeliversEveryEventOnceInOrderThroughFailuresAndRestarts(t *testing.T) {
	brokers, topic := testenv.Kafka(t), testenv.Name(t, "events")
	out, legacy := startLegacy(t, func(sim http.Handler) http.Handler { return &flaky{next: sim} })

	events := testenv.ProduceThreads(t, brokers, topic, 4, 6, 40)
	stop := startForwarder(t, brokers, topic, legacy.URL)
	// Stop it part-way and start another: what the first delivered but did
	// not commit is delivered again and deduplicated by the legacy side.
	testenv.Eventually(t, 30*time.Second, "some deliveries", func() bool { return len(readDeliveries(t, out)) >= 60 })
	stop()
	startForwarder(t, brokers, topic, legacy.URL)
	testenv.Eventually(t, 60*time.Second, "every delivery", func() bool { return len(readDeliveries(t, out)) >= len(events) })

	got := readDeliveries(t, out)
	if len(got) != len(events) {
		t.Fatalf("legacy recorded %d deliveries, want %d", len(got), len(events))
	}
	next := map[string]float64{}
	for _, d := range got {
		tid := d["threadId"].(string)
		if v := d["version"].(float64); v != next[tid]+1 {
			t.Fatalf("thread %s: version %v delivered after %v", tid, v, next[tid])
		}
		next[tid]++
		for _, field := range []string{"eventId", "eventType", "threadId", "version", "occurredAt", "actorId"} {
			if _, ok := d[field]; !ok {
				t.Fatalf("delivery lacks %s: %v", field, d)
			}
		}
	}
}

func readDeliveries(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	// The last line may be in the middle of being written: only lines
	// with their newline count.
	lines := bytes.Split(b, []byte("\n"))
	var out []map[string]any
	for _, line := range lines[:len(lines)-1] {
		var d map[string]any
		if err := json.Unmarshal(line, &d); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		out = append(out, d)
	}
	return out
}

// TestImportedEventsAreNotSentBack: events imported from the legacy system
// (it has them; write-api writes them as one record of the run) are not
// delivered to it; the ones made in Falcon after them are.
func TestImportedEventsAreNotSentBack(t *testing.T) {
	brokers, topic := testenv.Kafka(t), testenv.Name(t, "events")
	out, legacy := startLegacy(t, func(sim http.Handler) http.Handler { return sim })

	h := testenv.NewHistory(t)
	imported, made := ulid.Make().String(), ulid.Make().String()
	h.Do(imported, "alice", domain.CreateThread{Title: "from the legacy system"})
	h.Do(imported, "alice", domain.PostMessage{Body: "old"})
	for i := range h.Events {
		h.Events[i].Imported = true
	}
	h.Do(made, "alice", domain.CreateThread{Title: "made in Falcon"})
	h.Do(made, "alice", domain.PostMessage{Body: "new"})
	// One partition: once the events made in Falcon are delivered, the
	// imported ones before them have been read.
	testenv.CreateTopic(t, brokers, topic, 1)
	testenv.Produce(t, brokers, topic, 1, h.Events)
	startForwarder(t, brokers, topic, legacy.URL)
	testenv.Eventually(t, 30*time.Second, "the events made in Falcon", func() bool { return len(readDeliveries(t, out)) >= 2 })
	for _, d := range readDeliveries(t, out) {
		if d["threadId"] != made {
			t.Errorf("delivered %v, an event of the imported thread", d)
		}
	}
}
