package stream_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/eventlog"
	"github.com/falcon-chat/falcon/libs/pebblestore"
	"github.com/falcon-chat/falcon/libs/readmodel"
	"github.com/falcon-chat/falcon/libs/testenv"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
	"github.com/falcon-chat/falcon/services/read-api/stream"
)

// logTopic is an events topic of the test, with the read model the updater
// would make of it.
type logTopic struct {
	t          *testing.T
	brokers    string
	topic      string
	partitions int32
	proj       *readmodel.Projector
	reader     *readmodel.Reader
}

func newLog(t *testing.T, partitions int32) *logTopic {
	t.Helper()
	brokers := testenv.Kafka(t)
	topic := testenv.Name(t, "events")
	testenv.CreateTopic(t, brokers, topic, partitions)
	store, err := pebblestore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return &logTopic{t: t, brokers: brokers, topic: topic, partitions: partitions,
		proj: readmodel.NewProjector(store), reader: readmodel.NewReader(store)}
}

// write appends events to the log and projects them, as write-api and
// read-model-updater would.
func (l *logTopic) write(events []domain.Event) {
	l.t.Helper()
	testenv.Produce(l.t, l.brokers, l.topic, l.partitions, events)
	if _, err := l.proj.Apply(context.Background(), events); err != nil {
		l.t.Fatal(err)
	}
}

// hub starts a hub on the log and waits until it is ready; it stops at the
// test's end.
func (l *logTopic) hub(cfg stream.Config) *stream.Hub {
	l.t.Helper()
	src := l.source()
	l.t.Cleanup(src.Close) // after the hub stops: cleanups run last first
	h := l.hubOn(cfg, src)
	testenv.Eventually(l.t, 20*time.Second, "the hub ready", func() bool { return h.Ready() == nil })
	return h
}

func (l *logTopic) source() *stream.Kafka {
	return stream.NewKafka(eventlog.Config{Brokers: []string{l.brokers}, Topic: l.topic}, "stream-test")
}

// hubOn starts a hub reading src; it stops at the test's end.
func (l *logTopic) hubOn(cfg stream.Config, src stream.Source) *stream.Hub {
	l.t.Helper()
	h := stream.NewHub(cfg, src, l.reader.Thread, testenv.Logger(l.t), prometheus.NewRegistry())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	l.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			l.t.Error(err)
		}
	})
	return h
}

// start is the cursor before every event of a topic of n partitions.
func start(account string, n int32) string { return make(stream.Cursor, n).Encode(account) }

func subscribe(t *testing.T, h *stream.Hub, account, cursor string) *stream.Subscription {
	t.Helper()
	s, err := h.Subscribe(account, cursor)
	if err != nil {
		t.Fatalf("subscribe %s: %v", account, err)
	}
	t.Cleanup(s.Close)
	return s
}

// receive takes n events from s.
func receive(t *testing.T, s *stream.Subscription, n int) []*falconv1.AccountEvent {
	t.Helper()
	var out []*falconv1.AccountEvent
	deadline := time.Now().Add(20 * time.Second)
	for len(out) < n {
		if time.Now().After(deadline) {
			t.Fatalf("received %d events of %d: %v", len(out), n, names(out))
		}
		ev, err := s.Next(context.Background(), 100*time.Millisecond)
		if err != nil {
			t.Fatalf("after %d events: %v", len(out), err)
		}
		if !ev.IsZero() {
			out = append(out, decoded(t, ev))
		}
	}
	return out
}

// quiet checks that s receives nothing more for a while.
func quiet(t *testing.T, s *stream.Subscription) {
	t.Helper()
	if ev, err := s.Next(context.Background(), 300*time.Millisecond); !ev.IsZero() || err != nil {
		t.Fatalf("want nothing more, got %v %v", names([]*falconv1.AccountEvent{decoded(t, ev)}), err)
	}
}

// decoded is ev as a client decodes it.
func decoded(t *testing.T, ev stream.Event) *falconv1.AccountEvent {
	t.Helper()
	if ev.IsZero() {
		return nil
	}
	pe, err := ev.Proto()
	if err != nil {
		t.Fatal(err)
	}
	if pe.Cursor != ev.Cursor() {
		t.Fatalf("the encoded cursor is %q, the event's %q", pe.Cursor, ev.Cursor())
	}
	return pe
}

func names(evs []*falconv1.AccountEvent) []string {
	var out []string
	for _, e := range evs {
		if e == nil {
			continue
		}
		out = append(out, fmt.Sprintf("%s:%s@%d", e.ThreadId[len(e.ThreadId)-4:], e.Type, e.Version))
	}
	return out
}

// perThread is each thread's events as type@version, in the order received.
func perThread(evs []*falconv1.AccountEvent) map[string][]string {
	out := map[string][]string{}
	for _, e := range evs {
		out[e.ThreadId] = append(out[e.ThreadId], fmt.Sprintf("%s@%d", e.Type, e.Version))
	}
	return out
}

// membershipStory: carol joins, posts, is removed, is added again, reads
// (her marker is pushed to her alone); dave has a thread of his own.
func membershipStory(t *testing.T) (events []domain.Event, t1, t2 string) {
	h := testenv.NewHistory(t)
	t1, t2 = ulid.Make().String(), ulid.Make().String()
	h.Do(t1, "alice", domain.CreateThread{Title: "one", MemberIDs: []string{"bob"}}) // 1
	h.Do(t1, "alice", domain.PostMessage{Body: "hello"})                             // 2
	h.Do(t1, "alice", domain.AddMembers{AccountIDs: []string{"carol"}})              // 3
	h.Do(t1, "carol", domain.PostMessage{Body: "hi"})                                // 4
	h.Do(t1, "alice", domain.RemoveMembers{AccountIDs: []string{"carol"}})           // 5
	h.Do(t1, "alice", domain.PostMessage{Body: "carol cannot see this"})             // 6
	h.Do(t1, "alice", domain.AddMembers{AccountIDs: []string{"carol"}})              // 7
	last := h.Do(t1, "bob", domain.PostMessage{Body: "welcome back"})                // 8
	h.Do(t1, "carol", domain.MarkRead{MessageID: last.MessageID})                    // 9
	h.Do(t2, "dave", domain.CreateThread{Title: "two"})                              // 1
	h.Do(t2, "dave", domain.PostMessage{Body: "alone"})                              // 2
	return h.Events, t1, t2
}

var storyWant = map[string]map[int][]string{ // account -> thread (1, 2) -> events
	"alice": {1: {"ThreadCreated@1", "MessagePosted@2", "MembersAdded@3", "MessagePosted@4", "MembersRemoved@5", "MessagePosted@6", "MembersAdded@7", "MessagePosted@8"}},
	"bob":   {1: {"ThreadCreated@1", "MessagePosted@2", "MembersAdded@3", "MessagePosted@4", "MembersRemoved@5", "MessagePosted@6", "MembersAdded@7", "MessagePosted@8"}},
	"carol": {1: {"MembersAdded@3", "MessagePosted@4", "MembersRemoved@5", "MembersAdded@7", "MessagePosted@8", "ReadMarkerMoved@9"}},
	"dave":  {2: {"ThreadCreated@1", "MessagePosted@2"}},
	"erin":  {},
}

func checkStory(t *testing.T, account string, got []*falconv1.AccountEvent, t1, t2 string) {
	t.Helper()
	want := map[string][]string{}
	for n, evs := range storyWant[account] {
		want[map[int]string{1: t1, 2: t2}[n]] = evs
	}
	if g := perThread(got); !equalMaps(g, want) {
		t.Errorf("%s received %v; want %v", account, g, want)
	}
}

func equalMaps(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

func wantCount(account string) int {
	n := 0
	for _, evs := range storyWant[account] {
		n += len(evs)
	}
	return n
}

// TestEachAccountSeesItsThreadsFromJoinToRemoval: an account receives the
// events of a thread from the one that adds it up to the one that removes
// it, nothing of threads it is not in; whether it was subscribed while
// they happened or resumes from before them.
func TestEachAccountSeesItsThreadsFromJoinToRemoval(t *testing.T) {
	events, t1, t2 := membershipStory(t)
	accounts := []string{"alice", "bob", "carol", "dave", "erin"}

	t.Run("live", func(t *testing.T) {
		l := newLog(t, 3)
		h := l.hub(stream.Config{})
		subs := map[string]*stream.Subscription{}
		for _, a := range accounts {
			subs[a] = subscribe(t, h, a, "")
		}
		l.write(events)
		for _, a := range accounts {
			checkStory(t, a, receive(t, subs[a], wantCount(a)), t1, t2)
			quiet(t, subs[a])
		}
	})
	t.Run("resumed from before the events", func(t *testing.T) {
		l := newLog(t, 3)
		h := l.hub(stream.Config{})
		l.write(events)
		for _, a := range accounts {
			s := subscribe(t, h, a, start(a, 3))
			checkStory(t, a, receive(t, s, wantCount(a)), t1, t2)
			quiet(t, s)
		}
	})
	t.Run("started after the events, with only the last of them kept", func(t *testing.T) {
		// One partition: offsets 0-8 are the first thread's, 9-10 the
		// second's. Keeping 7, the replica never saw the first thread's
		// first four versions: who may see versions 5 to 9 comes from the
		// read model's membership history.
		l := newLog(t, 1)
		l.write(events)
		h := l.hub(stream.Config{Retain: 7})
		if _, err := h.Subscribe("carol", stream.Cursor{stream.Position(3, 0)}.Encode("carol")); status.Code(err) != codes.OutOfRange {
			t.Fatalf("a cursor before the kept events: %v, want OutOfRange", err)
		}
		from := stream.Cursor{stream.Position(4, 0)}
		for a, want := range map[string][]string{
			"alice": {"MembersRemoved@5", "MessagePosted@6", "MembersAdded@7", "MessagePosted@8"},
			"carol": {"MembersRemoved@5", "MembersAdded@7", "MessagePosted@8", "ReadMarkerMoved@9"},
		} {
			s := subscribe(t, h, a, from.Encode(a))
			if got := perThread(receive(t, s, len(want)))[t1]; !slices.Equal(got, want) {
				t.Errorf("%s received %v of the first thread; want %v", a, got, want)
			}
			quiet(t, s)
		}
		s := subscribe(t, h, "dave", from.Encode("dave"))
		checkStory(t, "dave", receive(t, s, 2), t1, t2)
	})
}

// TestResumingAfterAnyEventGivesTheRestExactlyOnce: the cursor of every
// event resumes right after it, on the same replica or a new one; also in
// the middle of a record holding a run of imported events.
func TestResumingAfterAnyEventGivesTheRestExactlyOnce(t *testing.T) {
	t.Run("a record per event", func(t *testing.T) { testResumingAfterAnyEvent(t, false) })
	t.Run("a record per thread's imported run", func(t *testing.T) { testResumingAfterAnyEvent(t, true) })
}

// threadsOfAliceAndBob are n threads alice creates with bob, each with
// posts messages of bob; marked imported or not.
func threadsOfAliceAndBob(t *testing.T, n, posts int, imported bool) []domain.Event {
	h := testenv.NewHistory(t)
	for i := range n {
		id := ulid.Make().String()
		h.Do(id, "alice", domain.CreateThread{Title: fmt.Sprint(i), MemberIDs: []string{"bob"}})
		for j := range posts {
			h.Do(id, "bob", domain.PostMessage{Body: fmt.Sprint(j)})
		}
	}
	for i := range h.Events {
		h.Events[i].Imported = imported
	}
	return h.Events
}

func testResumingAfterAnyEvent(t *testing.T, imported bool) {
	l := newLog(t, 4)
	events := threadsOfAliceAndBob(t, 4, 12, imported)
	l.write(events)
	hub := l.hub(stream.Config{})
	all := receive(t, subscribe(t, hub, "alice", start("alice", 4)), len(events))
	other := l.hub(stream.Config{})
	for k := 0; k < len(all); k += 7 {
		on := map[bool]*stream.Hub{true: hub, false: other}[k%2 == 0]
		s := subscribe(t, on, "alice", all[k].Cursor)
		rest := receive(t, s, len(all)-k-1)
		quiet(t, s)
		if !equalMaps(perThread(rest), perThread(all[k+1:])) {
			t.Fatalf("resumed after event %d: %v; want %v", k, names(rest), names(all[k+1:]))
		}
	}
}

// TestASlowSubscriberIsCutOffWithACursorAndLosesNothing: a subscriber that
// does not read falls its buffer behind and is ended with
// ResourceExhausted and a cursor; the others are not held up, and resuming
// gives it every event once; also when it is cut off in the middle of a
// record holding a run of imported events.
func TestASlowSubscriberIsCutOffWithACursorAndLosesNothing(t *testing.T) {
	t.Run("a record per event", func(t *testing.T) { testSlowSubscriber(t, false) })
	t.Run("a record per thread's imported run", func(t *testing.T) { testSlowSubscriber(t, true) })
}

func testSlowSubscriber(t *testing.T, imported bool) {
	l := newLog(t, 2)
	hub := l.hub(stream.Config{Buffer: 12})
	slow := subscribe(t, hub, "alice", "")
	fast := subscribe(t, hub, "bob", "")
	h := testenv.NewHistory(t)
	id := ulid.Make().String()
	h.Do(id, "alice", domain.CreateThread{Title: "busy", MemberIDs: []string{"bob"}})
	for j := range 29 {
		h.Do(id, "bob", domain.PostMessage{Body: fmt.Sprint(j)})
	}
	for i := range h.Events {
		h.Events[i].Imported = imported
	}
	// In bursts the fast one's buffer holds, more than the slow one's.
	for i := 0; i < len(h.Events); i += 10 {
		burst := h.Events[i:min(i+10, len(h.Events))]
		l.write(burst)
		receive(t, fast, len(burst))
	}

	var got []*falconv1.AccountEvent
	var err error
	for err == nil {
		var ev stream.Event
		if ev, err = slow.Next(context.Background(), 5*time.Second); !ev.IsZero() {
			got = append(got, decoded(t, ev))
		} else if err == nil {
			t.Fatal("the slow subscriber was not cut off")
		}
	}
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("the slow subscriber ended with %v, want ResourceExhausted", err)
	}
	cursor := cursorOf(t, err)
	resumed := subscribe(t, hub, "alice", cursor)
	got = append(got, receive(t, resumed, len(h.Events)-len(got))...)
	quiet(t, resumed)
	var versions []uint64
	for _, e := range got {
		versions = append(versions, e.Version)
	}
	for i, v := range versions {
		if v != uint64(i+1) {
			t.Fatalf("versions received across the cut: %v", versions)
		}
	}
}

func cursorOf(t *testing.T, err error) string {
	t.Helper()
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.Metadata["cursor"] != "" {
			return info.Metadata["cursor"]
		}
	}
	t.Fatalf("%v carries no cursor", err)
	return ""
}

// TestShutdownEndsStreamsWithTheirCursors: EndStreams ends every stream
// with Unavailable and its cursor; another replica resumes it.
func TestShutdownEndsStreamsWithTheirCursors(t *testing.T) {
	l := newLog(t, 2)
	events, t1, t2 := membershipStory(t)
	l.write(events[:4])
	first := l.hub(stream.Config{})
	s := subscribe(t, first, "carol", start("carol", 2))
	got := receive(t, s, 2)
	first.EndStreams()
	_, err := s.Next(context.Background(), time.Second)
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("after EndStreams: %v, want Unavailable", err)
	}
	if _, err := first.Subscribe("carol", ""); status.Code(err) != codes.Unavailable {
		t.Fatalf("subscribing to a replica shutting down: %v, want Unavailable", err)
	}
	l.write(events[4:])
	second := l.hub(stream.Config{})
	got = append(got, receive(t, subscribe(t, second, "carol", cursorOf(t, err)), wantCount("carol")-2)...)
	checkStory(t, "carol", got, t1, t2)
}

func TestBadCursorsAndCaps(t *testing.T) {
	l := newLog(t, 2)
	hub := l.hub(stream.Config{PerAccount: 2, MaxSubscribers: 3})
	good := start("alice", 2)
	edited := []byte(good)
	edited[3] ^= 1
	for _, c := range []struct {
		name, cursor string
		code         codes.Code
	}{
		{"not base64", "%%%", codes.InvalidArgument},
		{"another account's", start("bob", 2), codes.InvalidArgument},
		{"edited", string(edited), codes.InvalidArgument},
		{"truncated", good[:len(good)-3], codes.InvalidArgument},
		{"too long", string(make([]byte, stream.MaxCursorLen+1)), codes.InvalidArgument},
		{"of another topic", start("alice", 5), codes.OutOfRange},
	} {
		if _, err := hub.Subscribe("alice", c.cursor); status.Code(err) != c.code {
			t.Errorf("%s cursor: %v, want %v", c.name, err, c.code)
		} else if len(status.Convert(err).Message()) > 300 {
			t.Errorf("%s cursor: the message echoes too much: %q", c.name, status.Convert(err).Message())
		}
	}
	subscribe(t, hub, "alice", good)
	subscribe(t, hub, "alice", "")
	if _, err := hub.Subscribe("alice", ""); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("a third stream of one account: %v, want ResourceExhausted", err)
	}
	b := subscribe(t, hub, "bob", "")
	if _, err := hub.Subscribe("carol", ""); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("a fourth stream of the replica: %v, want ResourceExhausted", err)
	}
	b.Close()
	subscribe(t, hub, "carol", "")
}

func TestCursorRoundTrip(t *testing.T) {
	for _, c := range []stream.Cursor{{}, {0}, {1, 2, 3}, {1 << 40, 0, 7}} {
		got, err := stream.DecodeCursor("alice", c.Encode("alice"))
		if err != nil || !slices.Equal(got, c) {
			t.Errorf("%v: decoded %v, %v", c, got, err)
		}
		if _, err := stream.DecodeCursor("alice2", c.Encode("alice")); !errors.Is(err, stream.ErrBadCursor) {
			t.Errorf("%v decoded for another account: %v", c, err)
		}
	}
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add(stream.Cursor{1, 2}.Encode("alice"))
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := stream.DecodeCursor("alice", s)
		if err != nil {
			return
		}
		// A cursor of this version has one spelling; one of an older
		// version encodes anew to the same positions.
		again := c.Encode("alice")
		if c2, err := stream.DecodeCursor("alice", again); err != nil || !slices.Equal(c, c2) {
			t.Fatalf("%q decodes to %v, which encodes to %q, which decodes to %v, %v", s, c, again, c2, err)
		}
		if b, _ := base64.RawURLEncoding.DecodeString(s); b[0] == 2 && again != s {
			t.Fatalf("%q decodes to %v, which encodes to %q", s, c, again)
		}
	})
}

// TestAnIdleSubscribersCursorKeepsUp: events a subscriber may not see move
// its cursor on, so that an idle stream's cursor is still resumable after
// more events than the replica keeps.
func TestAnIdleSubscribersCursorKeepsUp(t *testing.T) {
	l := newLog(t, 1)
	hub := l.hub(stream.Config{Retain: 4})
	idle := subscribe(t, hub, "erin", "")
	bob := subscribe(t, hub, "bob", "")
	h := testenv.NewHistory(t)
	id := ulid.Make().String()
	h.Do(id, "bob", domain.CreateThread{Title: "not erin's"})
	for j := range 9 {
		h.Do(id, "bob", domain.PostMessage{Body: fmt.Sprint(j)})
	}
	l.write(h.Events)
	receive(t, bob, len(h.Events))
	var at stream.Cursor
	testenv.Eventually(t, 10*time.Second, "erin's cursor past bob's events", func() bool {
		var err error
		at, err = stream.DecodeCursor("erin", idle.Cursor())
		return err == nil && at[0] >= stream.Position(int64(len(h.Events)), 0)
	})
	resumed := subscribe(t, hub, "erin", idle.Cursor())
	quiet(t, resumed)
}

// followFrom is a source that remembers where the hub asked to follow from.
type followFrom struct {
	*stream.Kafka
	from chan map[int32]int64
}

func (f followFrom) Follow(ctx context.Context, from map[int32]int64, fl eventlog.Follower) error {
	f.from <- from
	return f.Kafka.Follow(ctx, from, fl)
}

// TestAReplicaStartingAfterAnImportReadsOnlyWhatItKeeps: a replica keeps
// the last Retain events of each partition; where records hold runs of
// imported events it reads back only the records that hold those, not
// Retain records (a migration's whole history), and cursors into the runs
// it keeps resume there.
func TestAReplicaStartingAfterAnImportReadsOnlyWhatItKeeps(t *testing.T) {
	l := newLog(t, 1)
	events := threadsOfAliceAndBob(t, 5, 29, true) // five records of 30 events each
	l.write(events)

	src := followFrom{Kafka: l.source(), from: make(chan map[int32]int64, 1)}
	t.Cleanup(src.Close)
	hub := l.hubOn(stream.Config{Retain: 40}, src)
	if from := <-src.from; from[0] != 3 {
		t.Fatalf("followed from offset %d, want 3 (the two records holding the last 40 events)", from[0])
	}
	testenv.Eventually(t, 20*time.Second, "the hub ready", func() bool { return hub.Ready() == nil })

	if _, err := hub.Subscribe("bob", stream.Cursor{stream.Position(3, 19)}.Encode("bob")); status.Code(err) != codes.OutOfRange {
		t.Fatalf("a cursor before the kept events: %v, want OutOfRange", err)
	}
	s := subscribe(t, hub, "bob", stream.Cursor{stream.Position(3, 20)}.Encode("bob"))
	got := receive(t, s, 40)
	quiet(t, s)
	want := events[len(events)-40:]
	for i, e := range got {
		if e.ThreadId != want[i].ThreadID || e.Version != want[i].Version {
			t.Fatalf("event %d received: %s@%d; want %s@%d", i, e.ThreadId, e.Version, want[i].ThreadID, want[i].Version)
		}
	}
}
