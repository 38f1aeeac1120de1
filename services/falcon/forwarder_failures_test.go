package main_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/testenv"
)

func filepathTemp() (string, error) { return os.MkdirTemp("", "falcon-bin-") }

const secret = "test-secret"

// stack is a broker, a legacy-sim and the flags to run a forwarder against
// them, each its own process.
type stack struct {
	t         *testing.T
	falcon    string
	forwarder string
	be        *backend
	legacy    string
	legacyP   *proc
	out       string
}

func newStack(t *testing.T, legacyFlags ...string) *stack {
	t.Helper()
	be := startKafka(t)
	s := &stack{t: t, falcon: binaries.falcon, forwarder: binaries.forwarder, be: be,
		out: filepath.Join(t.TempDir(), "received.jsonl")}
	s.startLegacy(legacyFlags...)
	return s
}

// startLegacy (re)starts the legacy-sim on a new address, recording to the
// same file.
func (s *stack) startLegacy(flags ...string) *proc {
	s.t.Helper()
	if s.legacyP != nil {
		s.legacyP.kill()
	}
	s.legacy = testenv.FreeAddr(s.t)
	p := startProc(s.t, s.falcon, append([]string{"legacy-sim", "--addr", s.legacy, "--out", s.out, "--hmac-secret", secret}, flags...)...)
	waitListening(s.t, s.legacy)
	s.legacyP = p
	return p
}

func (s *stack) forwarderArgs(extra ...string) []string {
	return s.be.forwarderArgs(append([]string{"--legacy-url", "http://" + s.legacy + "/events",
		"--hmac-secret", secret, "--backoff-base", "20ms", "--backoff-max", "500ms", "--breaker-open-for", "1s", "--log-level", "warn"}, extra...)...)
}

func (s *stack) startForwarder(extra ...string) *proc {
	s.t.Helper()
	httpAddr := testenv.FreeAddr(s.t)
	p := startProc(s.t, s.forwarder, s.forwarderArgs(append([]string{"--http-addr", httpAddr}, extra...)...)...)
	waitReady(s.t, httpAddr)
	return p
}

func (s *stack) produce(events []domain.Event) {
	s.t.Helper()
	testenv.CreateTopic(s.t, s.be.kafka, s.be.topic, 4)
	testenv.Produce(s.t, s.be.kafka, s.be.topic, 4, events)
}

// expect waits until the legacy side recorded want (event ids, in order per
// thread) and checks nothing else arrived, nothing twice, nothing out of
// order.
func (s *stack) expect(want []domain.Event, within time.Duration) {
	s.t.Helper()
	testenv.Eventually(s.t, within, fmt.Sprintf("%d deliveries", len(want)), func() bool { return len(readLegacy(s.t, s.out)) >= len(want) })
	got := readLegacy(s.t, s.out)
	if len(got) != len(want) {
		s.t.Fatalf("legacy recorded %d deliveries, want %d", len(got), len(want))
	}
	wantOrder := map[string][]string{}
	for _, e := range want {
		wantOrder[e.ThreadID] = append(wantOrder[e.ThreadID], e.ID)
	}
	gotOrder := map[string][]string{}
	for _, d := range got {
		gotOrder[d.ThreadID] = append(gotOrder[d.ThreadID], d.EventID)
	}
	for tid, ids := range wantOrder {
		if strings.Join(gotOrder[tid], ",") != strings.Join(ids, ",") {
			s.t.Fatalf("thread %s: legacy got %v, want %v", tid, gotOrder[tid], ids)
		}
	}
}

func threads(t *testing.T, n, events int) []domain.Event {
	h := testenv.NewHistory(t)
	for i := 0; i < n; i++ {
		id := ulid.Make().String()
		h.Do(id, "alice", domain.CreateThread{Title: fmt.Sprint("t", i), MemberIDs: []string{"bob"}})
		for v := 1; v < events; v++ {
			h.Do(id, "bob", domain.PostMessage{Body: fmt.Sprint("m", v)})
		}
	}
	return h.Events
}

func TestForwarderSurvivesAFailingLegacySystem(t *testing.T) {
	if testing.Short() {
		t.Skip("runs processes")
	}
	cases := []struct {
		name        string
		legacyFlags []string
		events      []domain.Event
		within      time.Duration
	}{
		{"down for 10s then back", []string{"--down-after", "0s", "--down-for", "10s"}, threads(t, 8, 25), 60 * time.Second},
		{"30% random 5xx", []string{"--fail-rate", "0.3", "--fail-status", "500"}, threads(t, 8, 25), 60 * time.Second},
		{"2s latency spikes", []string{"--latency", "2s", "--latency-rate", "0.03"}, threads(t, 8, 25), 60 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := newStack(t, c.legacyFlags...)
			s.produce(c.events)
			start := time.Now()
			s.startForwarder()
			s.expect(c.events, c.within)
			t.Logf("%d events delivered in %s", len(c.events), time.Since(start).Round(100*time.Millisecond))
		})
	}
}

func TestForwarderKilledMidStream(t *testing.T) {
	if testing.Short() {
		t.Skip("runs processes")
	}
	// 600 events through 2 lanes per partition at 40 ms each take about 3 s:
	// the kill at a third comes well before the end.
	s := newStack(t, "--latency", "40ms")
	events := threads(t, 12, 50)
	s.produce(events)
	f := s.startForwarder("--workers", "2")
	testenv.Eventually(t, 60*time.Second, "a third delivered", func() bool { return len(readLegacy(t, s.out)) >= len(events)/3 })
	f.kill()
	if n := len(readLegacy(t, s.out)); n >= len(events) {
		t.Fatalf("all %d events were delivered before the kill; the test proves nothing", n)
	}
	s.startForwarder()
	s.expect(events, 60*time.Second)
}

func TestPoisonEventIsDeadLetteredThenReplayed(t *testing.T) {
	if testing.Short() {
		t.Skip("runs processes")
	}
	s := newStack(t, "--reject-types", "MessageEdited")
	h := testenv.NewHistory(t)
	poisoned, clean := ulid.Make().String(), ulid.Make().String()
	h.Do(poisoned, "alice", domain.CreateThread{Title: "poisoned"})
	m := h.Do(poisoned, "alice", domain.PostMessage{Body: "one"})
	h.Do(poisoned, "alice", domain.EditMessage{MessageID: m.MessageID, Body: "one, edited"})
	h.Do(poisoned, "alice", domain.PostMessage{Body: "two"})
	h.Do(clean, "alice", domain.CreateThread{Title: "clean"})
	for i := 0; i < 5; i++ {
		h.Do(clean, "alice", domain.PostMessage{Body: fmt.Sprint(i)})
	}
	s.produce(h.Events)
	f := s.startForwarder()

	var flowing []domain.Event
	for _, e := range h.Events {
		if e.ThreadID == clean || e.Version <= 2 {
			flowing = append(flowing, e)
		}
	}
	// The clean thread and the poisoned thread up to the poison arrive; the
	// poison and what follows it in its thread are held back.
	s.expect(flowing, 30*time.Second)
	time.Sleep(500 * time.Millisecond)
	if n := len(readLegacy(t, s.out)); n != len(flowing) {
		t.Fatalf("%d deliveries, want %d: the held events leaked", n, len(flowing))
	}

	// The legacy side is fixed (it comes back on a new address, so the
	// forwarder restarts too); replay-dlq delivers the held events in order.
	// The forwarder stops once it has committed every offset: one killed
	// before its commit holds the thread's events again when it comes back,
	// and those need a second replay-dlq (TestForwarderKilledMidStream
	// covers kills).
	testenv.WaitCommitted(t, s.be.kafka, s.be.topic+"_forwarder", s.be.topic, 30*time.Second)
	s.startLegacy()
	f.kill()
	s.startForwarder()
	out, err := exec.Command(s.forwarder, append([]string{"replay-dlq"}, s.forwarderArgs()...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("replay-dlq: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "2 dead letters delivered; released") {
		t.Fatalf("replay-dlq said:\n%s", out)
	}
	// Released: the thread's next event flows again.
	h.Do(poisoned, "alice", domain.PostMessage{Body: "three"})
	s.produce(h.Events[len(h.Events)-1:])
	s.expect(h.Events, 30*time.Second)
}
